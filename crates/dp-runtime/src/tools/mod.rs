//! Tools a `tool` node calls: each declares the permission scopes it needs and its risk.
//!
//! The `tool` node refuses a call whose scopes the org did not grant before the tool runs, and suspends a
//! call of `high` or `critical` risk for a human's approval.

pub mod finops;
pub mod http_request;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use manifest::Risk;
use serde_json::Value;

use crate::nodes::{NodeContext, NodeError};

/// A future a tool call returns.
pub type ToolFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, NodeError>> + Send + 'a>>;

/// A named operation with declared scopes and risk.
pub trait Tool: Send + Sync {
    /// The name manifests call it by (`billing.fetch`).
    fn name(&self) -> &str;
    /// Scopes an org must have granted for a call to run.
    fn scopes(&self) -> &[&str];
    fn risk(&self) -> Risk;
    fn call<'a>(&'a self, input: Value, ctx: &'a NodeContext) -> ToolFuture<'a>;
}

/// The tools this data plane offers, by name.
#[derive(Clone, Default)]
pub struct ToolRegistry {
    tools: BTreeMap<String, Arc<dyn Tool>>,
}

impl fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolRegistry")
            .field("tools", &self.names())
            .finish()
    }
}

impl ToolRegistry {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, tool: impl Tool + 'static) -> &mut Self {
        self.tools.insert(tool.name().to_owned(), Arc::new(tool));
        self
    }

    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.get(name)
    }

    #[must_use]
    pub fn names(&self) -> Vec<&str> {
        self.tools.keys().map(String::as_str).collect()
    }
}

/// Where the built-in tools may reach.
#[derive(Clone, Debug, Default)]
pub struct ToolsConfig {
    /// URL prefixes `http_request` may call (`https://api.example.com/`); empty allows none.
    pub http_allow: Vec<String>,
    /// Folder billing sources are read from (the FinOps tools); a source names a folder inside it.
    pub billing_root: Option<std::path::PathBuf>,
    /// Folder reports are written to and read from.
    pub reports_root: Option<std::path::PathBuf>,
}

/// The built-in tools: `http_request` and the FinOps example's tools.
#[must_use]
pub fn builtin_tools(config: &ToolsConfig) -> ToolRegistry {
    let mut registry = ToolRegistry::new();
    registry.register(http_request::HttpRequest::new(config.http_allow.clone()));
    finops::register(&mut registry, config);
    registry
}
