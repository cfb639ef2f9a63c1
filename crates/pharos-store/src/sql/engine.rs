//! Engine state: loading it at start, and committing each engine step in one transaction.

use super::{incidents, outbox};
use super::{Conn, Pool};
use crate::codec::*;
use crate::{Batch, EngineState, ResultRecord, StoreResult};
use pharos_core::{ComponentId, ComponentStatus, MonitorHealth, MonitorId, Outcome};

pub(super) async fn load_engine_state(pool: &Pool) -> StoreResult<EngineState> {
    let mut state = EngineState::default();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT monitor_id, health FROM monitor_health")
            .fetch_all(pool)
            .await?;
    for (monitor, health) in rows {
        let health: MonitorHealth = serde_json::from_str(&health)
            .map_err(|error| corrupt("monitor_health", error.to_string()))?;
        state.monitor_health.insert(MonitorId::new(monitor), health);
    }
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT component_id, status, since FROM component_status")
            .fetch_all(pool)
            .await?;
    for (component, status, since) in rows {
        let status = ComponentStatus::parse(&status)
            .ok_or_else(|| corrupt("component_status", status.clone()))?;
        state
            .component_status
            .insert(ComponentId::new(component), (status, from_millis(since)));
    }
    state.open_incidents = incidents::open(pool).await?;
    state.maintenance = super::windows::scheduled(pool).await?;
    state.maintenance_notices = super::windows::notices(pool).await?;
    state.uptime_exclusions = super::exclusions::written(pool).await?;
    Ok(state)
}

const RESERVED_THROUGH: &str = "incident_ids_reserved_through";

/// Reserves `count` incident ids after every id ever reserved or used, in a transaction of
/// its own: an id handed out once is never handed out again, even if the incident that used
/// it was never saved.
pub(super) async fn reserve_incident_ids(
    pool: &Pool,
    fence: &crate::Fence,
    count: u32,
) -> StoreResult<std::ops::Range<i64>> {
    super::transaction::write(pool, async |tx| {
        super::leases::check(tx, fence).await?;
        let (reserved,): (Option<String>,) =
            sqlx::query_as("SELECT (SELECT value FROM meta WHERE key = $1)")
                .bind(RESERVED_THROUGH)
                .fetch_one(&mut *tx)
                .await?;
        let reserved: i64 = match reserved {
            Some(value) => value
                .parse()
                .map_err(|_| corrupt("meta", format!("{RESERVED_THROUGH} = {value}")))?,
            None => 0,
        };
        let (used,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM incidents")
            .fetch_one(&mut *tx)
            .await?;
        let start = reserved.max(used.unwrap_or(0)).saturating_add(1);
        let end = start.saturating_add(i64::from(count));
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(RESERVED_THROUGH)
        .bind((end - 1).to_string())
        .execute(&mut *tx)
        .await?;
        Ok(start..end)
    })
    .await
}

pub(super) async fn commit(pool: &Pool, fence: &crate::Fence, batch: &Batch) -> StoreResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    super::transaction::write(pool, async |tx| {
        super::leases::check(tx, fence).await?;
        write_batch(tx, batch).await
    })
    .await
}

/// Rows per multi-row INSERT: one statement (one hand-off to SQLite's thread) per this
/// many results, well under SQLite's limit on bound values.
const ROWS_PER_STATEMENT: usize = 200;

async fn write_batch(tx: &mut Conn, batch: &Batch) -> StoreResult<()> {
    for chunk in batch.results.chunks(ROWS_PER_STATEMENT) {
        let mut insert = sqlx::QueryBuilder::<super::Db>::new(
            "INSERT INTO results (monitor_id, at, status, latency_us, reason, phases, detail) ",
        );
        insert.push_values(chunk, |mut row, record| {
            row.push_bind(record.monitor.as_str())
                .push_bind(to_millis(record.at))
                .push_bind(status_code(record.outcome.status))
                .push_bind(micros(record.outcome.latency))
                .push_bind(record.outcome.reason.as_deref())
                .push_bind(encode_phases(&record.outcome.phases))
                .push_bind(record.outcome.detail.as_deref());
        });
        insert.build().execute(&mut *tx).await?;
    }
    let now = to_millis(chrono::Utc::now());
    // A monitor's state may appear more than once in a batch: the last one stands.
    let mut seen = std::collections::HashSet::new();
    let mut health = Vec::with_capacity(batch.health.len());
    for (monitor, state) in batch.health.iter().rev() {
        if !seen.insert(monitor.as_str()) {
            continue;
        }
        let encoded = serde_json::to_string(state)
            .map_err(|error| corrupt("monitor_health", error.to_string()))?;
        health.push((monitor.as_str(), encoded));
    }
    for chunk in health.chunks(ROWS_PER_STATEMENT) {
        let mut upsert = sqlx::QueryBuilder::<super::Db>::new(
            "INSERT INTO monitor_health (monitor_id, health, updated_at) ",
        );
        upsert.push_values(chunk, |mut row, (monitor, encoded)| {
            row.push_bind(*monitor)
                .push_bind(encoded.as_str())
                .push_bind(now);
        });
        upsert.push(
            " ON CONFLICT (monitor_id) DO UPDATE SET health = excluded.health, updated_at = excluded.updated_at",
        );
        upsert.build().execute(&mut *tx).await?;
    }
    for (component, status, since) in &batch.component_status {
        sqlx::query(
            "INSERT INTO component_status (component_id, status, since) VALUES ($1, $2, $3)
             ON CONFLICT (component_id) DO UPDATE SET status = excluded.status, since = excluded.since",
        )
        .bind(component.as_str())
        .bind(status.as_str())
        .bind(to_millis(*since))
        .execute(&mut *tx)
        .await?;
    }
    incidents::write(tx, batch).await?;
    super::windows::write(tx, &batch.maintenance).await?;
    super::windows::write_notices(tx, &batch.maintenance_notices, chrono::Utc::now()).await?;
    // After the batch's results, which a period may cover.
    super::exclusions::write(tx, &batch.uptime_exclusions).await?;
    outbox::enqueue(tx, &batch.outbox).await?;
    super::agents::write_progress(tx, &batch.agent_progress).await?;
    Ok(())
}

/// at, status, latency, reason, phases, detail.
type ResultRow = (
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A result row with its monitor.
type LatestRow = (
    String,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The newest result of every monitor (and region series) still in the open head: what a
/// replica that does not run the engine shows as each check's latest.
pub(super) async fn latest_results(pool: &Pool) -> StoreResult<Vec<ResultRecord>> {
    let rows: Vec<LatestRow> = sqlx::query_as(
        "SELECT r.monitor_id, r.at, r.status, r.latency_us, r.reason, r.phases, r.detail
             FROM results AS r
             JOIN (SELECT monitor_id, MAX(at) AS at FROM results GROUP BY monitor_id) AS newest
               ON newest.monitor_id = r.monitor_id AND newest.at = r.at",
    )
    .fetch_all(pool)
    .await?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .into_iter()
        .filter(|row| seen.insert(row.0.clone()))
        .map(
            |(monitor, at, status, latency, reason, phases, detail)| ResultRecord {
                monitor: MonitorId::new(monitor),
                at: from_millis(at),
                outcome: Outcome {
                    status: status_from_code(status),
                    latency: from_micros(latency),
                    phases: decode_phases(phases.as_deref().unwrap_or_default()),
                    reason,
                    detail,
                },
            },
        )
        .collect())
}

pub(super) async fn recent_results(
    pool: &Pool,
    monitor: &MonitorId,
    limit: u32,
) -> StoreResult<Vec<ResultRecord>> {
    let rows: Vec<ResultRow> = sqlx::query_as(
        "SELECT at, status, latency_us, reason, phases, detail FROM results WHERE monitor_id = $1 ORDER BY at DESC LIMIT $2",
    )
    .bind(monitor.as_str())
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    let mut records: Vec<ResultRecord> = rows
        .into_iter()
        .map(
            |(at, status, latency, reason, phases, detail)| ResultRecord {
                monitor: monitor.clone(),
                at: from_millis(at),
                outcome: Outcome {
                    status: status_from_code(status),
                    latency: from_micros(latency),
                    phases: decode_phases(phases.as_deref().unwrap_or_default()),
                    reason,
                    detail,
                },
            },
        )
        .collect();
    let wanted = limit as usize;
    if records.len() < wanted {
        let sealed = super::sealing::sealed_results(pool, monitor, wanted - records.len()).await?;
        records.extend(sealed);
        records.sort_by_key(|record| std::cmp::Reverse(record.at));
        records.truncate(wanted);
    }
    Ok(records)
}
