//! Business rules, free of HTTP.

pub mod a2a;
pub mod accounts;
pub mod approvals;
pub mod audit;
pub mod browse;
pub mod bundle;
pub mod catalog;
pub mod installs;
pub mod keyset;
pub mod reviews;
pub mod runs;
pub mod sessions;
pub mod webhooks;
