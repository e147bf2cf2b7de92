//! The `cairn` command: a Redis-compatible server over a cairn store, and
//! tools to read, check, inspect and bulk-load stores that are not being
//! served.
//!
//! The library half exists so that tests (and other programs) can start a
//! server in-process: build a [`server::ServerConfig`], pick a
//! [`store::Store`] and call [`server::Server::bind`] then
//! [`server::Server::run`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod command;
pub mod disk;
pub mod exec;
pub mod glob;
pub mod metrics;
pub mod resp;
pub mod server;
pub mod stats;
pub mod store;
pub mod tools;
pub mod writer;

/// The Redis version whose commands and replies cairn follows, as INFO and
/// HELLO report it to clients that check.
pub const REDIS_VERSION: &str = "7.2.0";
