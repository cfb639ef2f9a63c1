//! The contract on PostgreSQL: a fresh database per test on the throwaway server of
//! `pg_server`.

use crate::contract::Database;
use crate::pg_server::fresh_database;

async fn fresh(test: &str) -> Option<Database> {
    let url = fresh_database(test)?;
    Some(Database {
        url: pharos_core::DatabaseUrl::new(url),
        _guard: Box::new(()),
    })
}

crate::contract_tests!(fresh);
