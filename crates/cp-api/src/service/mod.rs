//! Business rules, free of HTTP.

pub mod accounts;
pub mod audit;
pub mod sessions;
