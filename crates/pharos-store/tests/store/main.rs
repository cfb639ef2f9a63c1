//! The store against real databases: the contract every backend meets, run for each.

mod contract;
mod postgres;
mod sqlite;
