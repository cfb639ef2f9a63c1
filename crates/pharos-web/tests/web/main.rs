//! The router in process (`tower::ServiceExt::oneshot`): caching, compression, errors and the
//! admin API's refusals, over a real engine and store (SQLite, or PostgreSQL with `PHAROS_TEST_BACKEND=postgres`).

mod admin_ui;
mod export;
mod history;
#[path = "../../../pharos-store/tests/store/pg_server.rs"]
mod pg_server;
mod regression;
mod router;
mod support;
#[path = "../../../pharos-store/tests/store/test_store.rs"]
mod test_store;
