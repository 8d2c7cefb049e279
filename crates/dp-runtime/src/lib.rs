#![doc = include_str!("../README.md")]

pub mod cli;
pub mod nodes;
pub mod validate;
