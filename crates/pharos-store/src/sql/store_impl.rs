//! The `Store` trait on a SQL backend: each method is one of the shared modules' functions
//! on the backend's pool.

use super::{agents, engine, incidents, leases, operators, outbox, rollups, subscribers, Backend};
use crate::*;
use async_trait::async_trait;
use pharos_core::Role;

#[async_trait]
impl Store for Backend {
    async fn load_engine_state(&self) -> StoreResult<EngineState> {
        engine::load_engine_state(&self.pool).await
    }

    async fn reserve_incident_ids(&self, count: u32) -> StoreResult<std::ops::Range<i64>> {
        engine::reserve_incident_ids(&self.pool, &self.fence, count).await
    }

    async fn commit(&self, batch: &Batch) -> StoreResult<()> {
        engine::commit(&self.pool, &self.fence, batch).await
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
        outbox::expire_chain_steps(&self.pool, &self.fence, now).await
    }

    async fn record_attempt(
        &self,
        message_id: &str,
        attempt: DeliveryAttempt,
        next: NextStep,
    ) -> StoreResult<()> {
        outbox::record_attempt(&self.pool, &self.fence, message_id, attempt, next).await
    }

    async fn recent_messages(
        &self,
        limit: u32,
    ) -> StoreResult<Vec<(OutboxMessage, Vec<DeliveryAttempt>)>> {
        outbox::recent(&self.pool, limit).await
    }

    async fn roll_up(&self, now: DateTime<Utc>) -> StoreResult<RollupReport> {
        self.still_leading().await?;
        rollups::roll_up(&self.pool, now).await
    }

    async fn prune(&self, now: DateTime<Utc>, retention: &Retention) -> StoreResult<PruneReport> {
        self.still_leading().await?;
        rollups::prune(&self.pool, now, retention).await
    }

    async fn agents(&self) -> StoreResult<Vec<AgentRecord>> {
        agents::list(&self.pool).await
    }

    async fn create_agent(
        &self,
        name: &str,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        agents::create(&self.pool, name, token_hash, now).await
    }

    async fn revoke_agent(&self, name: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        agents::revoke(&self.pool, name, now).await
    }

    async fn latest_results(&self) -> StoreResult<Vec<ResultRecord>> {
        engine::latest_results(&self.pool).await
    }

    async fn claim_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> StoreResult<Lease> {
        leases::claim(&self.pool, name, holder, ttl).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        leases::release(&self.pool, name, holder).await
    }

    async fn current_lease(&self, name: &str) -> StoreResult<Option<Lease>> {
        leases::current(&self.pool, name).await
    }

    fn set_fence(&self, fence: Option<FenceToken>) {
        self.fence.set(fence);
    }

    async fn postmortems(
        &self,
        since: DateTime<Utc>,
    ) -> StoreResult<std::collections::HashMap<i64, Postmortem>> {
        incidents::postmortems(&self.pool, since).await
    }

    async fn save_subscriber(
        &self,
        subscriber: &SubscriberRecord,
    ) -> StoreResult<SubscriberRecord> {
        subscribers::save(&self.pool, subscriber).await
    }

    async fn confirm_subscriber(
        &self,
        confirm_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SubscriberRecord>> {
        subscribers::confirm(&self.pool, confirm_hash, now).await
    }

    async fn subscribers(&self) -> StoreResult<Vec<SubscriberRecord>> {
        subscribers::list(&self.pool).await
    }

    async fn subscriber(&self, id: &str) -> StoreResult<Option<SubscriberRecord>> {
        subscribers::one(&self.pool, id).await
    }

    async fn remove_subscriber(&self, id: &str) -> StoreResult<bool> {
        subscribers::remove(&self.pool, id).await
    }

    async fn fan_out(&self, messages: &[OutboxMessage]) -> StoreResult<()> {
        subscribers::fan_out(&self.pool, &self.fence, messages).await
    }

    async fn server_key(&self, name: &str) -> StoreResult<String> {
        subscribers::server_key(&self.pool, name).await
    }

    async fn users(&self) -> StoreResult<Vec<UserRecord>> {
        operators::users(&self.pool).await
    }

    async fn user(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        operators::one_user(&self.pool, name).await
    }

    async fn create_user(&self, user: &UserRecord) -> StoreResult<()> {
        operators::create_user(&self.pool, user).await
    }

    async fn update_user(
        &self,
        name: &str,
        password_hash: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        operators::update_user(&self.pool, name, password_hash, role, now).await
    }

    async fn remove_user(&self, name: &str) -> StoreResult<bool> {
        operators::remove_user(&self.pool, name).await
    }

    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()> {
        operators::create_session(&self.pool, session).await
    }

    async fn session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(SessionRecord, UserRecord)>> {
        operators::session(&self.pool, token_hash, now).await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<bool> {
        operators::delete_session(&self.pool, token_hash).await
    }

    async fn create_api_token(&self, token: &ApiTokenRecord) -> StoreResult<()> {
        operators::create_api_token(&self.pool, token).await
    }

    async fn api_tokens(&self, user: Option<&str>) -> StoreResult<Vec<ApiTokenRecord>> {
        operators::api_tokens(&self.pool, user).await
    }

    async fn use_api_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(ApiTokenRecord, UserRecord)>> {
        operators::use_api_token(&self.pool, token_hash, now).await
    }

    async fn revoke_api_token(
        &self,
        id: &str,
        user: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        operators::revoke_api_token(&self.pool, id, user, now).await
    }

    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<i64> {
        operators::record_audit(&self.pool, entry).await
    }

    async fn audit_log(&self, limit: u32, before: Option<i64>) -> StoreResult<Vec<AuditEntry>> {
        operators::audit_log(&self.pool, limit, before).await
    }
}

impl Backend {
    /// Housekeeping (roll-ups, retention) is the lease holder's: checked before it starts.
    async fn still_leading(&self) -> StoreResult<()> {
        if self.fence.current().is_none() {
            return Ok(());
        }
        super::transaction::write(&self.pool, async |tx| leases::check(tx, &self.fence).await).await
    }
}
