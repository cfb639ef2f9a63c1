//! pharos storage: the `Store` trait the rest of pharos writes and reads through, and its
//! SQLite and PostgreSQL implementations (one body of SQL, `sql/`, compiled for each).
//! Only this crate contains SQL.

pub mod block;
mod codec;
pub mod migrate;
mod model;
pub mod operators;
pub mod postgres;
pub mod sqlite;
pub mod subscribers;

pub use model::*;
pub use operators::*;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use subscribers::*;

use pharos_core::{Backend, DatabaseUrl};
use std::sync::Arc;

/// Whether `open` may create a database that is not there yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// `serve`: create it (with its schema) when missing.
    CreateIfMissing,
    /// `export` and other readers: a missing database is an error, never an empty one.
    Existing,
}

/// Opens the store `url` calls for and brings its schema up to date.
pub async fn open(url: &DatabaseUrl, mode: OpenMode) -> StoreResult<Arc<dyn Store>> {
    match url.backend() {
        Backend::Sqlite => {
            let store = match mode {
                OpenMode::CreateIfMissing => SqliteStore::open(url.expose()).await?,
                OpenMode::Existing => SqliteStore::open_existing(url.expose()).await?,
            };
            Ok(Arc::new(store))
        }
        Backend::Postgres => Ok(Arc::new(PostgresStore::open(url.expose()).await?)),
    }
}

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pharos_core::{Incident, MonitorId, Role};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("there is no database at {0}")]
    Missing(String),
    #[error("the database did not confirm the commit; nothing of this write is acknowledged")]
    NotCommitted,
    #[error("corrupt stored value in {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// The request clashes with what is stored (a name already taken).
    #[error("{0}")]
    Conflict(String),
    /// This replica wrote under a lease it no longer holds: nothing was written.
    #[error("fenced: {0}")]
    Fenced(String),
}

impl StoreError {
    /// Whether trying again cannot help: the data breaks a rule of the schema (a second open
    /// incident for one component, an update of an unknown incident). Anything else (the
    /// disk, a lock, the database gone away) may pass on a later try.
    pub fn is_permanent(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(error)) => {
                !matches!(error.kind(), sqlx::error::ErrorKind::Other)
            }
            StoreError::Corrupt { .. } | StoreError::Conflict(_) | StoreError::Fenced(_) => true,
            _ => false,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A lease as the store says it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Whether the holder that asked holds it now.
    pub mine: bool,
    pub holder: String,
    /// Rises with every new holder.
    pub token: u64,
    pub expires_at: DateTime<Utc>,
}

/// A lease a store's writes are fenced by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FenceToken {
    pub lease: String,
    pub holder: String,
    pub token: u64,
}

/// The lease this replica writes under: once set, every engine write, delivery record and
/// housekeeping step checks in its transaction that it still holds it.
#[derive(Clone, Debug, Default)]
pub struct Fence(std::sync::Arc<std::sync::RwLock<Option<FenceToken>>>);

impl Fence {
    pub fn current(&self) -> Option<FenceToken> {
        self.0
            .read()
            .map(|fence| fence.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    pub fn set(&self, token: Option<FenceToken>) {
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = token;
    }
}

/// Everything pharos persists. One implementation per database backend.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// What the engine needs to resume exactly where it stopped.
    async fn load_engine_state(&self) -> StoreResult<EngineState>;

    /// Reserves the next `count` incident ids, durably, before any of them is used: ids may
    /// skip (those reserved by a run that ended), never repeat.
    async fn reserve_incident_ids(&self, count: u32) -> StoreResult<std::ops::Range<i64>>;

    /// Applies one engine step atomically: results, detector state, component statuses,
    /// incident changes and the notifications announcing them, all or nothing.
    async fn commit(&self, batch: &Batch) -> StoreResult<()>;

    async fn incidents(&self, query: IncidentQuery) -> StoreResult<Vec<Incident>>;

    async fn incident(&self, id: i64) -> StoreResult<Option<Incident>>;

    /// The latest results of one monitor, newest first.
    async fn recent_results(
        &self,
        monitor: &MonitorId,
        limit: u32,
    ) -> StoreResult<Vec<ResultRecord>>;

    /// Per-day result counts of every monitor since `from`.
    async fn daily_counts(&self, from: DateTime<Utc>) -> StoreResult<Vec<DailyCounts>>;

    /// Per-minute latency of every monitor since `from`, for response-time charts.
    async fn rollups(
        &self,
        resolution: Resolution,
        from: DateTime<Utc>,
    ) -> StoreResult<Vec<Rollup>>;

    /// Notifications due for delivery at `now`, oldest first.
    async fn due_messages(&self, now: DateTime<Utc>, limit: u32)
        -> StoreResult<Vec<OutboxMessage>>;

    /// When the next pending notification falls due, if any is pending.
    async fn next_due_at(&self) -> StoreResult<Option<DateTime<Utc>>>;

    /// Ends the tries of fallback-chain steps past their deadline without a delivery and
    /// releases the next step of each; returns how many steps ended.
    async fn expire_chain_steps(&self, now: DateTime<Utc>) -> StoreResult<usize>;

    /// Records one delivery attempt and what follows from it (for a chain step: a delivery
    /// skips the steps still held, giving up releases the next).
    async fn record_attempt(
        &self,
        message_id: &str,
        attempt: DeliveryAttempt,
        next: NextStep,
    ) -> StoreResult<()>;

    /// Recent notifications with their delivery attempts, newest first.
    async fn recent_messages(
        &self,
        limit: u32,
    ) -> StoreResult<Vec<(OutboxMessage, Vec<DeliveryAttempt>)>>;

    /// Aggregates raw results into per-minute, per-hour and per-day roll-ups up to `now`.
    async fn roll_up(&self, now: DateTime<Utc>) -> StoreResult<RollupReport>;

    /// Deletes what has outlived its retention, and sign-ups not confirmed while their link
    /// worked (`CONFIRMATION_WORKS_FOR`).
    async fn prune(&self, now: DateTime<Utc>, retention: &Retention) -> StoreResult<PruneReport>;

    /// Every probe agent, revoked ones included, by name.
    async fn agents(&self) -> StoreResult<Vec<AgentRecord>>;

    /// Adds an agent with the SHA-256 of its token; `Conflict` if one of that name is allowed.
    async fn create_agent(
        &self,
        name: &str,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Revokes an agent; false when no allowed agent has that name.
    async fn revoke_agent(&self, name: &str, now: DateTime<Utc>) -> StoreResult<bool>;

    /// The newest result of every monitor (and region series) in the open head of history.
    async fn latest_results(&self) -> StoreResult<Vec<ResultRecord>>;

    /// Takes the lease `name` for `holder` for `ttl` if it is free or expired, or renews it if
    /// `holder` has it (by the database's clock); says who holds it after.
    async fn claim_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> StoreResult<Lease>;

    /// Gives the lease up at once if `holder` has it.
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()>;

    /// Who holds the lease `name` (`mine` is always false here), if anyone ever did.
    async fn current_lease(&self, name: &str) -> StoreResult<Option<Lease>>;

    /// The lease this store's writes are fenced by, from now on (none: unfenced).
    fn set_fence(&self, fence: Option<FenceToken>);

    /// The postmortems of incidents that started at or after `since`, by incident id.
    async fn postmortems(
        &self,
        since: DateTime<Utc>,
    ) -> StoreResult<std::collections::HashMap<i64, Postmortem>>;

    /// Adds a subscriber, or updates the components and pending confirmation of the one of
    /// that kind and address; answers the subscriber as stored (its id may be an older one).
    async fn save_subscriber(&self, subscriber: &SubscriberRecord)
        -> StoreResult<SubscriberRecord>;

    /// Confirms the subscriber whose pending token has this SHA-256; none when none has.
    async fn confirm_subscriber(
        &self,
        confirm_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SubscriberRecord>>;

    /// Every subscriber, oldest first.
    async fn subscribers(&self) -> StoreResult<Vec<SubscriberRecord>>;

    /// One subscriber.
    async fn subscriber(&self, id: &str) -> StoreResult<Option<SubscriberRecord>>;

    /// Removes a subscriber; false when there was none.
    async fn remove_subscriber(&self, id: &str) -> StoreResult<bool>;

    /// Adds messages to the outbox, leaving any already there (by id) as they are; fenced.
    async fn fan_out(&self, messages: &[OutboxMessage]) -> StoreResult<()>;

    /// A random key of this installation by name, made the first time it is asked for.
    async fn server_key(&self, name: &str) -> StoreResult<String>;

    /// Every operator, by name.
    async fn users(&self) -> StoreResult<Vec<UserRecord>>;

    /// One operator.
    async fn user(&self, name: &str) -> StoreResult<Option<UserRecord>>;

    /// Adds an operator; `Conflict` if one of that name exists.
    async fn create_user(&self, user: &UserRecord) -> StoreResult<()>;

    /// Sets a user's password and role, and ends every session of theirs (a changed password
    /// or role takes effect at once); false when there is no such user.
    async fn update_user(
        &self,
        name: &str,
        password_hash: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Removes a user with their sessions and tokens; false when there is no such user.
    async fn remove_user(&self, name: &str) -> StoreResult<bool>;

    /// Starts a session (and forgets sessions that expired before `session.created_at`).
    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()>;

    /// The session with this cookie hash and its user, if it has not expired at `now`.
    async fn session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(SessionRecord, UserRecord)>>;

    /// Ends a session; false when there was none.
    async fn delete_session(&self, token_hash: &str) -> StoreResult<bool>;

    /// Adds an API token; `Conflict` if its id is taken.
    async fn create_api_token(&self, token: &ApiTokenRecord) -> StoreResult<()>;

    /// A user's tokens (every user's with `None`), revoked ones included, newest first.
    async fn api_tokens(&self, user: Option<&str>) -> StoreResult<Vec<ApiTokenRecord>>;

    /// The unrevoked token with this hash and its owner; records its use at `now` (at most
    /// once a minute).
    async fn use_api_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(ApiTokenRecord, UserRecord)>>;

    /// Revokes a token (of `user` only, when given); false when there was no such token.
    async fn revoke_api_token(
        &self,
        id: &str,
        user: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Appends to the audit log; answers the entry's id.
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<i64>;

    /// The newest entries of the audit log, older than `before` when given.
    async fn audit_log(&self, limit: u32, before: Option<i64>) -> StoreResult<Vec<AuditEntry>>;
}
