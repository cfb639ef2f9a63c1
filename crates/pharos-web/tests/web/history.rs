//! The cost of a render does not grow with history: closed days are read once, not on every
//! render. A real SQLite store, wrapped to count what the renderer asks of it.

use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use pharos_core::{Incident, MonitorId};
use pharos_engine::Engine;
use pharos_store::*;
use pharos_web::{PageCache, Renderer};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Delegates everything to the real store and notes each `daily_counts` call's start;
/// with a gate, reads of past days wait until it opens (a long history, read slowly).
struct Counting {
    inner: Arc<dyn Store>,
    daily_from: Mutex<Vec<DateTime<Utc>>>,
    past_days_gate: Option<Arc<tokio::sync::Semaphore>>,
}

#[async_trait]
impl Store for Counting {
    async fn load_engine_state(&self) -> StoreResult<EngineState> {
        self.inner.load_engine_state().await
    }
    async fn reserve_incident_ids(&self, count: u32) -> StoreResult<std::ops::Range<i64>> {
        self.inner.reserve_incident_ids(count).await
    }
    async fn commit(&self, batch: &Batch) -> StoreResult<()> {
        self.inner.commit(batch).await
    }
    async fn incidents(&self, query: IncidentQuery) -> StoreResult<Vec<Incident>> {
        self.inner.incidents(query).await
    }
    async fn incident(&self, id: i64) -> StoreResult<Option<Incident>> {
        self.inner.incident(id).await
    }
    async fn recent_results(
        &self,
        monitor: &MonitorId,
        limit: u32,
    ) -> StoreResult<Vec<ResultRecord>> {
        self.inner.recent_results(monitor, limit).await
    }
    async fn daily_counts(&self, from: DateTime<Utc>) -> StoreResult<Vec<DailyCounts>> {
        self.daily_from.lock().unwrap().push(from);
        let today = Utc::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        if let (Some(gate), true) = (&self.past_days_gate, from < today) {
            let _open = gate.acquire().await;
        }
        self.inner.daily_counts(from).await
    }
    async fn rollups(
        &self,
        resolution: Resolution,
        from: DateTime<Utc>,
    ) -> StoreResult<Vec<Rollup>> {
        self.inner.rollups(resolution, from).await
    }
    async fn due_messages(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMessage>> {
        self.inner.due_messages(now, limit).await
    }
    async fn next_due_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.inner.next_due_at().await
    }
    async fn expire_chain_steps(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        self.inner.expire_chain_steps(now).await
    }
    async fn record_attempt(
        &self,
        id: &str,
        attempt: DeliveryAttempt,
        next: NextStep,
    ) -> StoreResult<()> {
        self.inner.record_attempt(id, attempt, next).await
    }
    async fn recent_messages(
        &self,
        limit: u32,
    ) -> StoreResult<Vec<(OutboxMessage, Vec<DeliveryAttempt>)>> {
        self.inner.recent_messages(limit).await
    }
    async fn roll_up(&self, now: DateTime<Utc>) -> StoreResult<RollupReport> {
        self.inner.roll_up(now).await
    }
    async fn prune(&self, now: DateTime<Utc>, retention: &Retention) -> StoreResult<PruneReport> {
        self.inner.prune(now, retention).await
    }
    async fn agents(&self) -> StoreResult<Vec<pharos_store::AgentRecord>> {
        self.inner.agents().await
    }
    async fn create_agent(&self, name: &str, hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
        self.inner.create_agent(name, hash, now).await
    }
    async fn revoke_agent(&self, name: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        self.inner.revoke_agent(name, now).await
    }
    async fn latest_results(&self) -> StoreResult<Vec<ResultRecord>> {
        self.inner.latest_results().await
    }
    async fn claim_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> StoreResult<pharos_store::Lease> {
        self.inner.claim_lease(name, holder, ttl).await
    }
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        self.inner.release_lease(name, holder).await
    }
    async fn current_lease(&self, name: &str) -> StoreResult<Option<pharos_store::Lease>> {
        self.inner.current_lease(name).await
    }
    fn set_fence(&self, fence: Option<pharos_store::FenceToken>) {
        self.inner.set_fence(fence)
    }
    async fn postmortems(
        &self,
        since: DateTime<Utc>,
    ) -> StoreResult<std::collections::HashMap<i64, Postmortem>> {
        self.inner.postmortems(since).await
    }
    async fn save_subscriber(
        &self,
        subscriber: &SubscriberRecord,
    ) -> StoreResult<SubscriberRecord> {
        self.inner.save_subscriber(subscriber).await
    }
    async fn confirm_subscriber(
        &self,
        confirm_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SubscriberRecord>> {
        self.inner.confirm_subscriber(confirm_hash, now).await
    }
    async fn subscribers(&self) -> StoreResult<Vec<SubscriberRecord>> {
        self.inner.subscribers().await
    }
    async fn subscriber(&self, id: &str) -> StoreResult<Option<SubscriberRecord>> {
        self.inner.subscriber(id).await
    }
    async fn remove_subscriber(&self, id: &str) -> StoreResult<bool> {
        self.inner.remove_subscriber(id).await
    }
    async fn fan_out(&self, messages: &[OutboxMessage]) -> StoreResult<()> {
        self.inner.fan_out(messages).await
    }
    async fn server_key(&self, name: &str) -> StoreResult<String> {
        self.inner.server_key(name).await
    }
    async fn users(&self) -> StoreResult<Vec<UserRecord>> {
        self.inner.users().await
    }
    async fn user(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        self.inner.user(name).await
    }
    async fn create_user(&self, user: &UserRecord) -> StoreResult<()> {
        self.inner.create_user(user).await
    }
    async fn update_user(
        &self,
        name: &str,
        password_hash: &str,
        role: pharos_core::Role,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.inner.update_user(name, password_hash, role, now).await
    }
    async fn remove_user(&self, name: &str) -> StoreResult<bool> {
        self.inner.remove_user(name).await
    }
    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()> {
        self.inner.create_session(session).await
    }
    async fn session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(SessionRecord, UserRecord)>> {
        self.inner.session(token_hash, now).await
    }
    async fn delete_session(&self, token_hash: &str) -> StoreResult<bool> {
        self.inner.delete_session(token_hash).await
    }
    async fn create_api_token(&self, token: &ApiTokenRecord) -> StoreResult<()> {
        self.inner.create_api_token(token).await
    }
    async fn api_tokens(&self, user: Option<&str>) -> StoreResult<Vec<ApiTokenRecord>> {
        self.inner.api_tokens(user).await
    }
    async fn use_api_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(ApiTokenRecord, UserRecord)>> {
        self.inner.use_api_token(token_hash, now).await
    }
    async fn revoke_api_token(
        &self,
        id: &str,
        user: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.inner.revoke_api_token(id, user, now).await
    }
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<i64> {
        self.inner.record_audit(entry).await
    }
    async fn audit_log(&self, limit: u32, before: Option<i64>) -> StoreResult<Vec<AuditEntry>> {
        self.inner.audit_log(limit, before).await
    }
}

const CONFIG: &str = "[[components]]\nid = \"svc\"\nname = \"Service\"\n\n[[monitors]]\nid = \"svc-tcp\"\ncomponent = \"svc\"\n\
     type = \"tcp\"\nhost = \"127.0.0.1\"\nport = 9\ninterval = \"1h\"\n";

/// A store holding thirty good days of one monitor (one result a day, rolled up), and an
/// engine on it that does not probe during the test.
async fn thirty_days(
    dir: &std::path::Path,
    past_days_gate: Option<Arc<tokio::sync::Semaphore>>,
) -> (
    Arc<pharos_config::Config>,
    Arc<Counting>,
    Engine,
    watch::Sender<bool>,
) {
    let config = Arc::new(pharos_config::parse("h.toml", CONFIG, &|_| None).unwrap());
    let inner = crate::test_store::open_store(&dir.join("h.db")).await;
    let now = Utc::now();
    for day in 1..=30 {
        let batch = Batch {
            results: vec![ResultRecord {
                monitor: MonitorId::new("svc-tcp"),
                at: now - ChronoDuration::days(day),
                outcome: pharos_core::Outcome::up(Duration::from_millis(2), vec![]),
            }],
            ..Batch::default()
        };
        inner.commit(&batch).await.unwrap();
    }
    inner.roll_up(now).await.unwrap();
    let store = Arc::new(Counting {
        inner,
        daily_from: Mutex::new(Vec::new()),
        past_days_gate,
    });
    let (engine, stop) = crate::support::idle_engine(&config, store.clone()).await;
    (config, store, engine, stop)
}

async fn front_page(pages: &PageCache, store: Arc<Counting>, engine: &Engine) -> String {
    let app = pharos_web::router(pharos_web::WebState::new(
        pages.clone(),
        store,
        None,
        engine.handle.clone(),
    ));
    let (_, _, body) = crate::support::call(
        &app,
        crate::support::peer(1),
        axum::http::Request::get("/")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    String::from_utf8(body).unwrap()
}

/// Before: every render re-read the day roll-ups of the last 90 days (450,000 rows for 5,000
/// monitors), so pharos got slower every day it ran.
#[tokio::test]
async fn renders_read_only_today_once_closed_days_are_known() {
    let dir = tempfile::tempdir().unwrap();
    let (config, store, engine, _stop) = thirty_days(dir.path(), None).await;
    let now = Utc::now();
    let pages = PageCache::default();
    let renderer = Renderer::new(config, store.clone(), engine.handle.clone(), pages.clone());
    renderer.render().await.unwrap();
    // Closed days are read in the background; the next renders use them.
    renderer.closed_days_read(0).await;
    for _ in 0..4 {
        renderer.render().await.unwrap();
    }
    let today = now.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let calls = store.daily_from.lock().unwrap().clone();
    let history_reads = calls.iter().filter(|from| **from < today).count();
    assert!(
        history_reads <= 1,
        "closed days were read {history_reads} times in 5 renders: {calls:?}"
    );
    assert_eq!(
        calls.iter().filter(|from| **from == today).count(),
        5,
        "today is read on every render"
    );
    let page = front_page(&pages, store.clone(), &engine).await;
    assert!(page.contains("100% uptime"), "thirty good days show");
}

/// Before: the first render, and so the first answer after a start, waited for every day
/// roll-up of the last 90 days (6.2 s on a 90-day-old install of 5,000 monitors).
#[tokio::test]
async fn the_page_is_served_before_past_days_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (config, store, engine, _stop) = thirty_days(dir.path(), Some(gate.clone())).await;
    let pages = PageCache::default();
    let renderer = Renderer::new(config, store.clone(), engine.handle.clone(), pages.clone());
    renderer.render().await.unwrap();
    let page = front_page(&pages, store.clone(), &engine).await;
    assert!(page.contains("Service"), "{page}");
    assert!(
        page.contains("reading history"),
        "no figure before the days are read: {page}"
    );
    assert!(!page.contains("% uptime"), "{page}");

    gate.add_permits(1);
    renderer.closed_days_read(0).await;
    renderer.render().await.unwrap();
    let page = front_page(&pages, store.clone(), &engine).await;
    assert!(page.contains("100% uptime"), "the days filled in: {page}");
}
