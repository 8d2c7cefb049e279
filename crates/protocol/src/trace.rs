//! W3C trace context, carried from the control plane through the queue into the data plane.

use serde::{Deserialize, Serialize};

/// The W3C Trace Context headers, so one trace spans CP → queue → DP → nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TraceContext {
    /// `00-<trace-id>-<parent-id>-<flags>`.
    pub traceparent: String,
    pub tracestate: Option<String>,
}
