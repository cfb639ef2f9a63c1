//! The SQLite store: one file, WAL journal, full sync, migrations embedded in the binary.

mod codec;
mod engine;
mod incidents;
mod outbox;
mod rollups;
mod sealing;
mod transaction;

use crate::*;
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
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
        Ok(Self { pool })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn load_engine_state(&self) -> StoreResult<EngineState> {
        engine::load_engine_state(&self.pool).await
    }

    async fn reserve_incident_ids(&self, count: u32) -> StoreResult<std::ops::Range<i64>> {
        engine::reserve_incident_ids(&self.pool, count).await
    }

    async fn commit(&self, batch: &Batch) -> StoreResult<()> {
        engine::commit(&self.pool, batch).await
    }

    async fn incidents(&self, query: IncidentQuery) -> StoreResult<Vec<Incident>> {
        incidents::list(&self.pool, query).await
    }

    async fn incident(&self, id: i64) -> StoreResult<Option<Incident>> {
        incidents::one(&self.pool, id).await
    }

    async fn recent_results(
        &self,
        monitor: &MonitorId,
        limit: u32,
    ) -> StoreResult<Vec<ResultRecord>> {
        engine::recent_results(&self.pool, monitor, limit).await
    }

    async fn daily_counts(&self, from: DateTime<Utc>) -> StoreResult<Vec<DailyCounts>> {
        rollups::daily_counts(&self.pool, from).await
    }

    async fn rollups(
        &self,
        resolution: Resolution,
        from: DateTime<Utc>,
    ) -> StoreResult<Vec<Rollup>> {
        rollups::list(&self.pool, resolution, from).await
    }

    async fn due_messages(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMessage>> {
        outbox::due(&self.pool, now, limit).await
    }

    async fn next_due_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        outbox::next_due_at(&self.pool).await
    }

    async fn expire_chain_steps(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        outbox::expire_chain_steps(&self.pool, now).await
    }

    async fn record_attempt(
        &self,
        message_id: &str,
        attempt: DeliveryAttempt,
        next: NextStep,
    ) -> StoreResult<()> {
        outbox::record_attempt(&self.pool, message_id, attempt, next).await
    }

    async fn recent_messages(
        &self,
        limit: u32,
    ) -> StoreResult<Vec<(OutboxMessage, Vec<DeliveryAttempt>)>> {
        outbox::recent(&self.pool, limit).await
    }

    async fn roll_up(&self, now: DateTime<Utc>) -> StoreResult<RollupReport> {
        rollups::roll_up(&self.pool, now).await
    }

    async fn prune(&self, now: DateTime<Utc>, retention: &Retention) -> StoreResult<PruneReport> {
        rollups::prune(&self.pool, now, retention).await
    }
}
