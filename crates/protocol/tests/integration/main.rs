#![expect(clippy::unwrap_used, reason = "in tests a panic is the failure report")]

mod compatibility;
mod wire;
