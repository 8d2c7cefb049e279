#![expect(clippy::unwrap_used, reason = "in tests a panic is the failure report")]

mod support;

mod a2a;
mod a2a_sdk;
mod accounts;
mod approvals;
mod audit;
mod billing;
mod bundle;
mod catalog;
mod health;
mod installs;
mod invoices;
mod limits;
mod metrics;
mod migrations;
mod openapi;
mod processes;
mod queue;
mod rate_limits;
mod roles;
mod schema;
mod sessions;
mod webhooks;
mod ws;
