//! The SQLite store: one file, WAL journal, full sync, migrations embedded in the binary.

// The SQL shared with the PostgreSQL store, compiled here against SQLite's types.
#[path = "../sql/agents.rs"]
mod agents;
#[path = "../sql/engine.rs"]
mod engine;
#[path = "../sql/exclusions.rs"]
mod exclusions;
#[path = "../sql/incidents.rs"]
mod incidents;
#[path = "../sql/leases.rs"]
mod leases;
#[path = "../sql/operators.rs"]
mod operators;
#[path = "../sql/outbox.rs"]
mod outbox;
#[path = "../sql/rollups.rs"]
mod rollups;
#[path = "../sql/sealing.rs"]
mod sealing;
#[path = "../sql/store_impl.rs"]
mod store_impl;
#[path = "../sql/subscribers.rs"]
mod subscribers;
#[path = "../sql/transaction.rs"]
mod transaction;
#[path = "../sql/windows.rs"]
mod windows;

type Db = sqlx::Sqlite;
type Pool = sqlx::SqlitePool;
type Conn = sqlx::SqliteConnection;
type Backend = SqliteStore;

/// Takes the write lock at once: a transaction never waits on a lock half-way through.
const BEGIN: &str = "BEGIN IMMEDIATE";

/// The database's clock in milliseconds since the epoch (leases are timed by it).
const NOW_MILLIS: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
/// SQLite's write transactions (BEGIN IMMEDIATE) already exclude each other: no row locks.
const LOCK_FOR_UPDATE: &str = "";
const LOCK_FOR_SHARE: &str = "";

/// A pending message is deliverable only when no earlier pending message (in the order they
/// were written) shares its channel and sequence key.
const IN_TURN: &str = "NOT EXISTS (SELECT 1 FROM outbox AS earlier WHERE earlier.state = 'pending'
      AND earlier.channel_id = outbox.channel_id AND earlier.sequence_key = outbox.sequence_key
      AND earlier.rowid < outbox.rowid)";

/// Coarser roll-ups from finer ones, in the database (see `rollups::roll_up_coarser`);
/// integer division, as core's `combine`.
const ROLL_UP_COARSER: &str =
    "INSERT INTO rollups (monitor_id, resolution, bucket, total, down, degraded,
            latency_min_us, latency_avg_us, latency_p95_us, latency_max_us)
     SELECT monitor_id, $1, bucket - (bucket % $2), SUM(total), SUM(down), SUM(degraded),
            MIN(latency_min_us), SUM(latency_avg_us * total) / SUM(total),
            MAX(latency_p95_us), MAX(latency_max_us)
     FROM rollups WHERE resolution = $3 AND bucket >= $4 AND bucket < $5
     GROUP BY monitor_id, bucket - (bucket % $2)
     HAVING SUM(total) > 0
     ON CONFLICT (resolution, bucket, monitor_id) DO UPDATE SET
        total = excluded.total, down = excluded.down, degraded = excluded.degraded,
        latency_min_us = excluded.latency_min_us, latency_avg_us = excluded.latency_avg_us,
        latency_p95_us = excluded.latency_p95_us, latency_max_us = excluded.latency_max_us";

use crate::*;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// The lease this replica's writes are made under, if any.
    pub(crate) fence: Fence,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `location`, a path or a `sqlite://` URL, and
    /// brings its schema up to date.
    pub async fn open(location: &str) -> StoreResult<Self> {
        Self::open_with(location, true).await
    }

    /// Opens the database at `location` only if it exists (for reading what `serve` wrote),
    /// and brings its schema up to date.
    pub async fn open_existing(location: &str) -> StoreResult<Self> {
        Self::open_with(location, false).await
    }

    async fn open_with(location: &str, create: bool) -> StoreResult<Self> {
        let options = if location.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(location)?
        } else {
            SqliteConnectOptions::new().filename(Path::new(location))
        };
        if !create && !options.get_filename().exists() {
            return Err(StoreError::Missing(
                options.get_filename().display().to_string(),
            ));
        }
        let options = options
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .after_release(transaction::release_check)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self {
            pool,
            fence: Fence::default(),
        })
    }
}
