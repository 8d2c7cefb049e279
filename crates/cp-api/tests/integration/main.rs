#![expect(clippy::unwrap_used, reason = "in tests a panic is the failure report")]

mod support;

mod accounts;
mod health;
mod migrations;
mod schema;
