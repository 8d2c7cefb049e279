//! Data planes authenticate with their deployment's credential (`amd_…`), which reaches that deployment's
//! tasks and nothing else.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};

use super::api_key;
use crate::db::{self, Id};
use crate::error::Error;
use crate::http::AppState;

/// A data plane acting for one deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataPlaneCaller {
    pub deployment_id: Id,
    pub org_id: Id,
    /// The deployment's agent (an upgrade changes its version, never its agent).
    pub agent: Id,
}

impl FromRequest for DataPlaneCaller {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let credential = super::presented(request).map(str::to_owned);
        Box::pin(async move {
            let rejected = || {
                Error::Unauthenticated(
                    "send the deployment's data-plane credential as `Authorization: Bearer amd_…`".to_owned(),
                )
            };
            let credential = credential.ok_or_else(rejected)?;
            let (prefix, secret) = api_key::split(&credential, api_key::DATA_PLANE).ok_or_else(rejected)?;
            let state = state.ok_or_else(|| Error::Internal("application state missing".to_owned()))?;
            let mut pooled = state.pool.get().await?;
            let deployment = db::deployments::by_credential_prefix(&mut pooled.conn(), prefix)
                .await?
                .filter(|found| found.state != "uninstalled")
                .filter(|found| api_key::matches(secret, &found.credential_hash))
                .ok_or_else(rejected)?;
            Ok(Self {
                deployment_id: deployment.id,
                org_id: deployment.org_id,
                agent: deployment.agent,
            })
        })
    }
}
