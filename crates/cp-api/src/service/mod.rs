//! Business rules, free of HTTP.

pub mod accounts;
