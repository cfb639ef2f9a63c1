//! The PostgreSQL store: the same tables and the same SQL as the SQLite store (the modules
//! under `sql/`, compiled here against PostgreSQL's types), its own migrations, a small pool.
//! Each engine step is one transaction, committed durably (`synchronous_commit` as the server
//! has it, on by default).

// Loading `sql/` a second time is the point: the same statements, type-checked against
// PostgreSQL's driver.
#![allow(clippy::duplicate_mod)]

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

use crate::*;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

type Db = sqlx::Postgres;
type Pool = sqlx::PgPool;
type Conn = sqlx::PgConnection;
type Backend = PostgresStore;

const BEGIN: &str = "BEGIN";

/// The database's clock in milliseconds since the epoch (leases are timed by it, so replicas'
/// own clocks do not matter).
const NOW_MILLIS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";
/// Row locks that keep a lease from changing hands while a transaction reads it.
const LOCK_FOR_UPDATE: &str = " FOR UPDATE";
const LOCK_FOR_SHARE: &str = " FOR SHARE";

/// A pending message is deliverable only when no earlier pending message (in the order they
/// were written) shares its channel and sequence key.
const IN_TURN: &str = "NOT EXISTS (SELECT 1 FROM outbox AS earlier WHERE earlier.state = 'pending'
      AND earlier.channel_id = outbox.channel_id AND earlier.sequence_key = outbox.sequence_key
      AND earlier.seq < outbox.seq)";

/// Coarser roll-ups from finer ones, in the database (see `rollups::roll_up_coarser`): sums
/// of BIGINT are NUMERIC here, so they are cast back, and `div` divides as integers do (as
/// core's `combine` does).
const ROLL_UP_COARSER: &str =
    "INSERT INTO rollups (monitor_id, resolution, bucket, total, down, degraded,
            latency_min_us, latency_avg_us, latency_p95_us, latency_max_us)
     SELECT monitor_id, $1, bucket - (bucket % $2), CAST(SUM(total) AS BIGINT),
            CAST(SUM(down) AS BIGINT), CAST(SUM(degraded) AS BIGINT),
            MIN(latency_min_us), CAST(div(SUM(latency_avg_us * total), SUM(total)) AS BIGINT),
            MAX(latency_p95_us), MAX(latency_max_us)
     FROM rollups WHERE resolution = $3 AND bucket >= $4 AND bucket < $5
     GROUP BY monitor_id, bucket - (bucket % $2)
     HAVING SUM(total) > 0
     ON CONFLICT (resolution, bucket, monitor_id) DO UPDATE SET
        total = excluded.total, down = excluded.down, degraded = excluded.degraded,
        latency_min_us = excluded.latency_min_us, latency_avg_us = excluded.latency_avg_us,
        latency_p95_us = excluded.latency_p95_us, latency_max_us = excluded.latency_max_us";

#[derive(Clone)]
pub struct PostgresStore {
    pub(crate) pool: Pool,
    /// The lease this replica's writes are made under, if any.
    pub(crate) fence: Fence,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`; the
    /// database must exist) and brings its schema up to date.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)?.application_name("pharos");
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .after_release(transaction::release_check)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self {
            pool,
            fence: Fence::default(),
        })
    }
}
