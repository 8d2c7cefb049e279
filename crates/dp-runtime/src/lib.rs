#![doc = include_str!("../README.md")]

pub mod cli;
pub mod client;
pub mod cpu;
pub mod executor;
pub mod health;
pub mod llm;
pub mod local;
pub mod memory_service;
pub mod metrics;
pub mod nodes;
pub mod poller;
pub mod redact;
pub mod telemetry;
pub mod tools;
pub mod validate;
