//! Probe agents: their tokens (as SHA-256), revocation, and how far their results are stored.

use super::{Conn, Pool};
use crate::codec::*;
use crate::{AgentProgress, AgentRecord, StoreError, StoreResult};
use chrono::{DateTime, Utc};

type AgentRow = (
    String,
    String,
    i64,
    Option<i64>,
    i64,
    Option<i64>,
    Option<String>,
);

pub(super) async fn list(pool: &Pool) -> StoreResult<Vec<AgentRecord>> {
    let rows: Vec<AgentRow> = sqlx::query_as(
        "SELECT name, token_hash, created_at, revoked_at, last_seq, last_seen_at, region FROM agents ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(name, token_hash, created_at, revoked_at, last_seq, last_seen_at, region)| {
                AgentRecord {
                    name,
                    token_hash,
                    created_at: from_millis(created_at),
                    revoked_at: revoked_at.map(from_millis),
                    last_seq: last_seq.max(0) as u64,
                    last_seen_at: last_seen_at.map(from_millis),
                    region,
                }
            },
        )
        .collect())
}

/// Adds an agent; an agent of that name that was revoked is replaced (its sequence starts
/// again), one still allowed is refused.
pub(super) async fn create(
    pool: &Pool,
    name: &str,
    token_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    super::transaction::write(pool, async |tx| {
        let existing: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT revoked_at FROM agents WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        match existing {
            Some((None,)) => {
                return Err(StoreError::Conflict(format!(
                    "agent `{name}` exists; revoke it first to give it a new token"
                )))
            }
            Some((Some(_),)) => {
                sqlx::query("DELETE FROM agents WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
            None => {}
        }
        sqlx::query("INSERT INTO agents (name, token_hash, created_at) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(token_hash)
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
        Ok(())
    })
    .await
}

/// Revokes an agent's token; false when no such agent is allowed.
pub(super) async fn revoke(pool: &Pool, name: &str, now: DateTime<Utc>) -> StoreResult<bool> {
    super::transaction::write(pool, async |tx| {
        let done =
            sqlx::query("UPDATE agents SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
                .bind(to_millis(now))
                .bind(name)
                .execute(&mut *tx)
                .await?;
        Ok(done.rows_affected() > 0)
    })
    .await
}

/// Records how far each agent's results are stored, in the batch's transaction.
pub(super) async fn write_progress(tx: &mut Conn, progress: &[AgentProgress]) -> StoreResult<()> {
    for agent in progress {
        sqlx::query(
            "UPDATE agents SET last_seq = CASE WHEN last_seq > $1 THEN last_seq ELSE $1 END,
                    last_seen_at = $2, region = $3
             WHERE name = $4",
        )
        .bind(agent.last_seq.min(i64::MAX as u64) as i64)
        .bind(to_millis(agent.seen_at))
        .bind(&agent.region)
        .bind(&agent.agent)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
