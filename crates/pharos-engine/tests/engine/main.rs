//! The engine: detection and incidents with a controlled clock, and the running scheduler
//! against real targets.

mod by_hand;
mod dependencies;
mod detection;
mod follower;
mod maintenance;
#[path = "../../../pharos-store/tests/store/pg_server.rs"]
mod pg_server;
mod providers;
mod regions;
mod regression;
mod running;
mod support;
#[path = "../../../pharos-store/tests/store/test_store.rs"]
mod test_store;
