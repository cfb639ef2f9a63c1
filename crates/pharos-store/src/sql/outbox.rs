//! The durable outbox: enqueueing inside engine transactions, picking due messages, and
//! recording each delivery attempt.

use super::{Conn, Pool};
use crate::codec::*;
use crate::{ChainLink, DeliveryAttempt, MessageState, NextStep, OutboxMessage, StoreResult};
use chrono::{DateTime, Utc};
use pharos_core::EventKind;
use std::collections::HashMap;

type MessageRow = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// message id, at, duration, status code, error.
type AttemptRow = (String, i64, i64, Option<i64>, Option<String>);

const COLUMNS: &str =
    "id, channel_id, event, payload, created_at, next_attempt_at, give_up_at, attempts, state, delivered_at, last_error, sequence_key, chain_id, chain_step, step_window_ms, step_deadline";

/// A pending message is deliverable only when no earlier pending message shares its channel
/// and sequence key (each backend orders messages as they were written in its own way).
use super::IN_TURN;

pub(super) async fn enqueue(tx: &mut Conn, messages: &[OutboxMessage]) -> StoreResult<()> {
    for message in messages {
        let chain = message.chain.as_ref();
        sqlx::query(
            "INSERT INTO outbox (id, channel_id, event, payload, created_at, next_attempt_at, give_up_at, attempts, state, sequence_key,
                                 last_error, chain_id, chain_step, step_window_ms, step_deadline)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&message.id)
        .bind(&message.channel_id)
        .bind(message.event.as_str())
        .bind(&message.payload)
        .bind(to_millis(message.created_at))
        .bind(to_millis(message.next_attempt_at))
        .bind(to_millis(message.give_up_at))
        .bind(message.state.as_str())
        .bind(message.sequence_key.as_deref())
        .bind(message.last_error.as_deref())
        .bind(chain.map(|link| link.id.as_str()))
        .bind(chain.map(|link| i64::from(link.step)))
        .bind(chain.map(|link| link.window.as_millis() as i64))
        .bind(chain.and_then(|link| link.deadline).map(to_millis))
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

fn decode(row: MessageRow) -> StoreResult<OutboxMessage> {
    let (
        id,
        channel_id,
        event,
        payload,
        created_at,
        next_attempt_at,
        give_up_at,
        attempts,
        state,
        delivered_at,
        last_error,
        sequence_key,
        chain_id,
        chain_step,
        step_window_ms,
        step_deadline,
    ) = row;
    Ok(OutboxMessage {
        id,
        channel_id,
        event: EventKind::parse(&event).ok_or_else(|| corrupt("outbox.event", event.clone()))?,
        payload,
        created_at: from_millis(created_at),
        next_attempt_at: from_millis(next_attempt_at),
        give_up_at: from_millis(give_up_at),
        attempts: attempts.max(0) as u32,
        state: MessageState::parse(&state).ok_or_else(|| corrupt("outbox.state", state.clone()))?,
        delivered_at: delivered_at.map(from_millis),
        last_error,
        sequence_key,
        chain: chain_id.map(|id| ChainLink {
            id,
            step: chain_step.unwrap_or(0).max(0) as u32,
            window: std::time::Duration::from_millis(step_window_ms.unwrap_or(0).max(0) as u64),
            deadline: step_deadline.map(from_millis),
        }),
    })
}

pub(super) async fn due(
    pool: &Pool,
    now: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<OutboxMessage>> {
    let rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1 AND {IN_TURN}
         ORDER BY next_attempt_at, created_at LIMIT $2"
    ))
    .bind(to_millis(now))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(decode).collect()
}

/// When the next pending message falls due, or the next chain step's try ends.
pub(super) async fn next_due_at(pool: &Pool) -> StoreResult<Option<DateTime<Utc>>> {
    let (next, deadline): (Option<i64>, Option<i64>) = sqlx::query_as(&format!(
        "SELECT (SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending' AND {IN_TURN}),
                (SELECT MIN(step_deadline) FROM outbox WHERE state = 'pending')"
    ))
    .fetch_one(pool)
    .await?;
    Ok(next.into_iter().chain(deadline).min().map(from_millis))
}

/// Ends the tries of chain steps past their deadline without a delivery, releasing the next
/// step of each chain; returns how many steps ended.
pub(super) async fn expire_chain_steps(
    pool: &Pool,
    fence: &crate::Fence,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    // The worker asks on every look at the outbox; most of the time nothing expired, and
    // that answer needs no write transaction.
    let (any,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE state = 'pending' AND step_deadline IS NOT NULL AND step_deadline <= $1)",
    )
    .bind(to_millis(now))
    .fetch_one(pool)
    .await?;
    if !any {
        return Ok(0);
    }
    super::transaction::write(pool, async |tx| {
        super::leases::check(tx, fence).await?;
        let expired: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT id, chain_id, step_window_ms FROM outbox
             WHERE state = 'pending' AND step_deadline IS NOT NULL AND step_deadline <= $1",
        )
        .bind(to_millis(now))
        .fetch_all(&mut *tx)
        .await?;
        for (id, chain_id, window) in &expired {
            let reason = format!(
                "not delivered within {}s; the next step of the chain takes over",
                window / 1000
            );
            sqlx::query("UPDATE outbox SET state = 'failed', last_error = $1 WHERE id = $2")
                .bind(reason)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            release_next_step(tx, chain_id, now).await?;
        }
        Ok(expired.len())
    })
    .await
}

/// Makes the first held step of a chain pending, its try starting now.
async fn release_next_step(tx: &mut Conn, chain_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query(
        "UPDATE outbox SET state = 'pending', next_attempt_at = $1, step_deadline = $1 + step_window_ms
         WHERE chain_id = $2 AND state = 'held'
           AND chain_step = (SELECT MIN(chain_step) FROM outbox WHERE chain_id = $2 AND state = 'held')",
    )
    .bind(to_millis(now))
    .bind(chain_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(super) async fn record_attempt(
    pool: &Pool,
    fence: &crate::Fence,
    message_id: &str,
    attempt: DeliveryAttempt,
    next: NextStep,
) -> StoreResult<()> {
    super::transaction::write(pool, async |tx| {
    super::leases::check(tx, fence).await?;
    sqlx::query("INSERT INTO delivery_attempts (message_id, at, duration_ms, status_code, error) VALUES ($1, $2, $3, $4, $5)")
        .bind(message_id)
        .bind(to_millis(attempt.at))
        .bind(attempt.duration.as_millis() as i64)
        .bind(attempt.status_code.map(i64::from))
        .bind(attempt.error.as_deref())
        .execute(&mut *tx)
        .await?;
    let (state, next_attempt_at, delivered_at) = match next {
        NextStep::Delivered => (MessageState::Delivered, None, Some(to_millis(attempt.at))),
        NextStep::RetryAt(at) => (MessageState::Pending, Some(to_millis(at)), None),
        NextStep::GiveUp => (MessageState::Failed, None, None),
    };
    sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, state = $1, next_attempt_at = COALESCE($2, next_attempt_at),
                delivered_at = $3, last_error = $4 WHERE id = $5",
    )
    .bind(state.as_str())
    .bind(next_attempt_at)
    .bind(delivered_at)
    .bind(attempt.error.as_deref())
    .bind(message_id)
    .execute(&mut *tx)
    .await?;
    let chain: Option<(Option<String>,)> =
        sqlx::query_as("SELECT chain_id FROM outbox WHERE id = $1")
            .bind(message_id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((Some(chain_id),)) = chain {
        match next {
            // The chain reached someone: the steps still waiting are not needed.
            NextStep::Delivered => {
                sqlx::query(
                    "UPDATE outbox SET state = 'skipped', last_error = 'an earlier step of the chain delivered'
                     WHERE chain_id = $1 AND state = 'held'",
                )
                .bind(&chain_id)
                .execute(&mut *tx)
                .await?;
            }
            NextStep::GiveUp => release_next_step(tx, &chain_id, attempt.at).await?,
            NextStep::RetryAt(_) => {}
        }
    }
    Ok(())
    })
    .await
}

pub(super) async fn recent(
    pool: &Pool,
    limit: u32,
) -> StoreResult<Vec<(OutboxMessage, Vec<DeliveryAttempt>)>> {
    let selected = format!("SELECT id FROM outbox ORDER BY created_at DESC, id LIMIT {limit}");
    let rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE id IN ({selected}) ORDER BY created_at DESC, id"
    ))
    .fetch_all(pool)
    .await?;
    let attempts: Vec<AttemptRow> = sqlx::query_as(&format!(
        "SELECT message_id, at, duration_ms, status_code, error FROM delivery_attempts WHERE message_id IN ({selected}) ORDER BY id"
    ))
    .fetch_all(pool)
    .await?;
    let mut by_message: HashMap<String, Vec<DeliveryAttempt>> = HashMap::new();
    for (message_id, at, duration_ms, status_code, error) in attempts {
        by_message
            .entry(message_id)
            .or_default()
            .push(DeliveryAttempt {
                at: from_millis(at),
                duration: std::time::Duration::from_millis(duration_ms.max(0) as u64),
                status_code: status_code.and_then(|code| u16::try_from(code).ok()),
                error,
            });
    }
    rows.into_iter()
        .map(|row| {
            let message = decode(row)?;
            let attempts = by_message.remove(&message.id).unwrap_or_default();
            Ok((message, attempts))
        })
        .collect()
}
