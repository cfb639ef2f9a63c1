//! Notification channels against real receivers on 127.0.0.1.

mod channels;
mod fallback;
mod health;
mod order;
#[path = "../../../pharos-store/tests/store/pg_server.rs"]
mod pg_server;
mod regression;
mod service;
#[path = "../../../pharos-store/tests/store/test_store.rs"]
mod test_store;
mod worker;
