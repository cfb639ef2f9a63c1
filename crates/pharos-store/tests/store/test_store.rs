//! The store a test writes into: a SQLite file, or a PostgreSQL database of the throwaway
//! server (`pg_server.rs`, which the including test crate also has at its root) when
//! `PHAROS_TEST_BACKEND=postgres`, as `.ci/run` runs the suites a second time. Shared by the
//! engine's, the notifications' and the web's tests.

use pharos_store::{OpenMode, Store};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Which backend the tests store into.
pub(crate) const BACKEND_VARIABLE: &str = "PHAROS_TEST_BACKEND";

/// Opens the store of `path`: that SQLite file, or on PostgreSQL a database of its own made
/// the first time `path` is asked for (so opening it again, as after a restart, finds what
/// was written).
pub(crate) async fn open_store(path: &Path) -> Arc<dyn Store> {
    static DATABASES: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
    let location = match std::env::var(BACKEND_VARIABLE).as_deref() {
        Ok("postgres") => DATABASES
            .get_or_init(Mutex::default)
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_insert_with(|| {
                crate::pg_server::fresh_database("a test").unwrap_or_else(|| {
                    panic!("{BACKEND_VARIABLE}=postgres but PostgreSQL cannot run here")
                })
            })
            .clone(),
        _ => path.display().to_string(),
    };
    pharos_store::open(
        &pharos_core::DatabaseUrl::new(location),
        OpenMode::CreateIfMissing,
    )
    .await
    .unwrap()
}
