//! Sealing: moving history that can no longer change from rows into compact blocks (raw
//! results an hour a block, minute roll-ups an hour a block, hour roll-ups a day a block),
//! and reading blocks back where rows alone are not enough.

use super::Pool;
use crate::block::{self, BlockResult};
use crate::codec::*;
use crate::{Resolution, ResultRecord, Rollup, StoreResult};
use pharos_core::rollup::bucket_start;
use pharos_core::uptime::ResultCounts;
use pharos_core::{MonitorId, Outcome};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// monitor, at, status, latency, reason, phases, detail.
type RawRow = (
    String,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// monitor, bucket, total, down, degraded, latency min, avg, p95, max.
type RollupRow = (String, i64, i64, i64, i64, i64, i64, i64, i64);

/// A block as written: monitor, first and last time (or bucket), entries, bytes.
type Block = (String, i64, i64, i64, Vec<u8>);

/// Writes blocks with `insert` (an `INSERT INTO table (five columns) ` prefix), 200 a
/// statement.
async fn insert_blocks(tx: &mut super::Conn, insert: &str, blocks: &[Block]) -> StoreResult<()> {
    for chunk in blocks.chunks(200) {
        let mut statement = sqlx::QueryBuilder::<super::Db>::new(insert);
        statement.push_values(chunk, |mut row, (monitor, first, last, count, data)| {
            row.push_bind(monitor.as_str())
                .push_bind(*first)
                .push_bind(*last)
                .push_bind(*count)
                .push_bind(data.as_slice());
        });
        statement.build().execute(&mut *tx).await?;
    }
    Ok(())
}

/// Seals every whole hour of raw results before `before`, one hour per transaction.
pub(super) async fn seal_results(pool: &Pool, before: i64) -> StoreResult<()> {
    let before = bucket_start(before, HOUR_MS);
    loop {
        let (first,): (Option<i64>,) = sqlx::query_as("SELECT MIN(at) FROM results")
            .fetch_one(pool)
            .await?;
        let Some(first) = first.filter(|first| *first < before) else {
            return Ok(());
        };
        let start = bucket_start(first, HOUR_MS);
        let end = start + HOUR_MS;
        let rows: Vec<RawRow> = sqlx::query_as(
            "SELECT monitor_id, at, status, latency_us, reason, phases, detail FROM results
             WHERE at >= $1 AND at < $2 ORDER BY monitor_id, at",
        )
        .bind(start)
        .bind(end)
        .fetch_all(pool)
        .await?;
        let mut blocks: Vec<Block> = Vec::new();
        for group in rows.chunk_by(|left, right| left.0 == right.0) {
            let results: Vec<BlockResult> = group
                .iter()
                .map(
                    |(_, at, status, latency, reason, phases, detail)| BlockResult {
                        at: from_millis(*at),
                        outcome: Outcome {
                            status: status_from_code(*status),
                            latency: from_micros(*latency),
                            phases: decode_phases(phases.as_deref().unwrap_or_default()),
                            reason: reason.clone(),
                            detail: detail.clone(),
                        },
                    },
                )
                .collect();
            let (first_at, last_at) = (group[0].1, group[group.len() - 1].1);
            blocks.push((
                group[0].0.clone(),
                first_at,
                last_at,
                group.len() as i64,
                block::encode_results(&results),
            ));
        }
        super::transaction::write(pool, async |tx| {
            insert_blocks(
                tx,
                "INSERT INTO result_blocks (monitor_id, first_at, last_at, count, data) ",
                &blocks,
            )
            .await?;
            sqlx::query("DELETE FROM results WHERE at >= $1 AND at < $2")
                .bind(start)
                .bind(end)
                .execute(&mut *tx)
                .await?;
            Ok(())
        })
        .await?;
    }
}

/// Seals roll-ups of `resolution` (minute: an hour a block; hour: a day a block) whose
/// period ends by `before`, one period per transaction. Day roll-ups stay rows.
pub(super) async fn seal_rollups(
    pool: &Pool,
    resolution: Resolution,
    before: i64,
) -> StoreResult<()> {
    let (period, table) = match resolution {
        Resolution::Minute => (HOUR_MS, "minute_blocks"),
        Resolution::Hour => (DAY_MS, "hour_blocks"),
        Resolution::Day => return Ok(()),
    };
    let before = bucket_start(before, period);
    loop {
        let (first,): (Option<i64>,) =
            sqlx::query_as("SELECT MIN(bucket) FROM rollups WHERE resolution = $1")
                .bind(resolution.as_str())
                .fetch_one(pool)
                .await?;
        let Some(first) = first.filter(|first| *first < before) else {
            return Ok(());
        };
        let start = bucket_start(first, period);
        let end = start + period;
        let rows: Vec<RollupRow> = sqlx::query_as(
            "SELECT monitor_id, bucket, total, down, degraded, latency_min_us, latency_avg_us, latency_p95_us, latency_max_us
             FROM rollups WHERE resolution = $1 AND bucket >= $2 AND bucket < $3 ORDER BY monitor_id, bucket",
        )
        .bind(resolution.as_str())
        .bind(start)
        .bind(end)
        .fetch_all(pool)
        .await?;
        let mut blocks: Vec<Block> = Vec::new();
        for group in rows.chunk_by(|left, right| left.0 == right.0) {
            let monitor = MonitorId::new(group[0].0.clone());
            let rollups: Vec<Rollup> = group.iter().map(|row| rollup_of(&monitor, row)).collect();
            blocks.push((
                group[0].0.clone(),
                group[0].1,
                group[group.len() - 1].1,
                group.len() as i64,
                block::encode_rollups(&rollups),
            ));
        }
        super::transaction::write(pool, async |tx| {
            let insert = format!(
                "INSERT INTO {table} (monitor_id, first_bucket, last_bucket, count, data) "
            );
            insert_blocks(tx, &insert, &blocks).await?;
            sqlx::query(
                "DELETE FROM rollups WHERE resolution = $1 AND bucket >= $2 AND bucket < $3",
            )
            .bind(resolution.as_str())
            .bind(start)
            .bind(end)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
        .await?;
    }
}

pub(super) fn rollup_of(monitor: &MonitorId, row: &RollupRow) -> Rollup {
    let (_, bucket, total, down, degraded, min, avg, p95, max) = *row;
    Rollup {
        monitor: monitor.clone(),
        bucket: from_millis(bucket),
        counts: ResultCounts {
            total: total.max(0) as u64,
            down: down.max(0) as u64,
            degraded: degraded.max(0) as u64,
        },
        latency_min: from_micros(min),
        latency_avg: from_micros(avg),
        latency_p95: from_micros(p95),
        latency_max: from_micros(max),
    }
}

/// The newest sealed results of one monitor, newest first, at most `limit`.
pub(super) async fn sealed_results(
    pool: &Pool,
    monitor: &MonitorId,
    limit: usize,
) -> StoreResult<Vec<ResultRecord>> {
    const BLOCKS_PER_READ: i64 = 4;
    let mut found = Vec::new();
    let mut offset = 0;
    while found.len() < limit {
        let blocks: Vec<(Vec<u8>,)> = sqlx::query_as(
            "SELECT data FROM result_blocks WHERE monitor_id = $1 ORDER BY last_at DESC LIMIT $2 OFFSET $3",
        )
        .bind(monitor.as_str())
        .bind(BLOCKS_PER_READ)
        .bind(offset)
        .fetch_all(pool)
        .await?;
        if blocks.is_empty() {
            break;
        }
        offset += blocks.len() as i64;
        for (data,) in blocks {
            let results =
                block::decode_results(&data).map_err(|bad| corrupt("result_blocks", bad.0))?;
            found.extend(results.into_iter().map(|result| ResultRecord {
                monitor: monitor.clone(),
                at: result.at,
                outcome: result.outcome,
            }));
        }
    }
    found.sort_by_key(|record| std::cmp::Reverse(record.at));
    found.truncate(limit);
    Ok(found)
}

/// Sealed roll-ups of `resolution` with a bucket at or after `from`.
pub(super) async fn sealed_rollups(
    pool: &Pool,
    resolution: Resolution,
    from: i64,
) -> StoreResult<Vec<Rollup>> {
    let table = match resolution {
        Resolution::Minute => "minute_blocks",
        Resolution::Hour => "hour_blocks",
        Resolution::Day => return Ok(Vec::new()),
    };
    let blocks: Vec<(String, Vec<u8>)> = sqlx::query_as(&format!(
        "SELECT monitor_id, data FROM {table} WHERE last_bucket >= $1"
    ))
    .bind(from)
    .fetch_all(pool)
    .await?;
    let mut found = Vec::new();
    for (monitor, data) in blocks {
        let monitor = MonitorId::new(monitor);
        let rollups = block::decode_rollups(&monitor, &data)
            .map_err(|bad| corrupt("roll-up blocks", bad.0))?;
        found.extend(
            rollups
                .into_iter()
                .filter(|rollup| to_millis(rollup.bucket) >= from),
        );
    }
    Ok(found)
}

/// Deletes blocks whose newest entry is older than the cut-offs; returns how many results
/// and how many roll-ups they held.
pub(super) async fn prune(
    pool: &Pool,
    results_before: i64,
    minutes_before: i64,
    hours_before: i64,
) -> StoreResult<(u64, u64)> {
    super::transaction::write(pool, async |tx| {
        let (results,): (i64,) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM result_blocks WHERE last_at < $1",
        )
        .bind(results_before)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM result_blocks WHERE last_at < $1")
            .bind(results_before)
            .execute(&mut *tx)
            .await?;
        let mut rollups = 0i64;
        for (table, before) in [
            ("minute_blocks", minutes_before),
            ("hour_blocks", hours_before),
        ] {
            let (count,): (i64,) = sqlx::query_as(&format!(
                "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM {table} WHERE last_bucket < $1"
            ))
            .bind(before)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(&format!("DELETE FROM {table} WHERE last_bucket < $1"))
                .bind(before)
                .execute(&mut *tx)
                .await?;
            rollups += count;
        }
        Ok((results.max(0) as u64, rollups.max(0) as u64))
    })
    .await
}
