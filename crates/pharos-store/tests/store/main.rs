//! The store against real databases: the contract every backend meets, run for each.

mod contract;
mod exclusions;
mod migrate;
mod pg_server;
mod postgres;
mod sqlite;
