//! The contract on SQLite: a fresh database file per test.

use crate::contract::Database;

async fn fresh(_test: &str) -> Option<Database> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pharos.db");
    Some(Database {
        url: pharos_core::DatabaseUrl::new(path.display().to_string()),
        _guard: Box::new(dir),
    })
}

crate::contract_tests!(fresh);
