//! Identifiers: UUIDv7 in newtypes, so a `RunId` is never passed where a `TaskId` is meant.
//!
//! UUIDv7 is time-ordered, which keeps B-tree indexes append-mostly and makes ids sort by creation time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered (UUIDv7) identifier.
            #[must_use]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    )*};
}

id_type!(
    /// An organisation (a tenant).
    OrgId,
    /// A user account.
    UserId,
    /// One version of an agent listing in the catalog.
    AgentVersionId,
    /// An install of an agent version for an org, served by one data plane credential.
    DeploymentId,
    /// One execution of an agent's workflow.
    RunId,
    /// One unit of queued work for a data plane (a run's first start, or its resumption).
    TaskId,
    /// A human decision a run waits for.
    ApprovalId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered_and_round_trip_as_plain_strings() {
        let first = RunId::new();
        let second = RunId::new();
        assert!(first < second, "UUIDv7 ids sort by creation time");
        let json = serde_json::to_string(&first).unwrap();
        assert_eq!(json, format!("\"{first}\""));
        assert_eq!(serde_json::from_str::<RunId>(&json).unwrap(), first);
        assert_eq!(first.to_string().parse::<RunId>().unwrap(), first);
        assert!("not-a-uuid".parse::<RunId>().is_err());
    }
}
