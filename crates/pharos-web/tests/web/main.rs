//! The router in process (`tower::ServiceExt::oneshot`): caching, compression, errors and the
//! admin API's refusals, over a real engine and SQLite store.

mod history;
mod regression;
mod router;
mod support;
