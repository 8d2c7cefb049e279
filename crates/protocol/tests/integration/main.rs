#![expect(clippy::unwrap_used, reason = "in tests a panic is the failure report")]

mod a2a;
mod compatibility;
mod wire;
