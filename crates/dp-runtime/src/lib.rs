#![doc = include_str!("../README.md")]

pub mod cli;
pub mod executor;
pub mod nodes;
pub mod tools;
pub mod validate;
