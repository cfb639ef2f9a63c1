//! The durable outbox: enqueueing inside engine transactions, picking due messages, and
//! recording each delivery attempt.

use super::codec::*;
use crate::{DeliveryAttempt, MessageState, NextStep, OutboxMessage, StoreResult};
use chrono::{DateTime, Utc};
use pharos_core::EventKind;
use sqlx::{SqliteConnection, SqlitePool};
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
);

/// message id, at, duration, status code, error.
type AttemptRow = (String, i64, i64, Option<i64>, Option<String>);

const COLUMNS: &str =
    "id, channel_id, event, payload, created_at, next_attempt_at, give_up_at, attempts, state, delivered_at, last_error, sequence_key";

/// A pending message is deliverable only when no earlier pending message shares its channel
/// and sequence key.
const IN_TURN: &str = "NOT EXISTS (SELECT 1 FROM outbox AS earlier WHERE earlier.state = 'pending'
      AND earlier.channel_id = outbox.channel_id AND earlier.sequence_key = outbox.sequence_key
      AND earlier.rowid < outbox.rowid)";

pub(super) async fn enqueue(
    tx: &mut SqliteConnection,
    messages: &[OutboxMessage],
) -> StoreResult<()> {
    for message in messages {
        sqlx::query(
            "INSERT INTO outbox (id, channel_id, event, payload, created_at, next_attempt_at, give_up_at, attempts, state, sequence_key)
             VALUES (?, ?, ?, ?, ?, ?, ?, 0, 'pending', ?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&message.id)
        .bind(&message.channel_id)
        .bind(message.event.as_str())
        .bind(&message.payload)
        .bind(to_millis(message.created_at))
        .bind(to_millis(message.next_attempt_at))
        .bind(to_millis(message.give_up_at))
        .bind(message.sequence_key.as_deref())
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
    })
}

pub(super) async fn due(
    pool: &SqlitePool,
    now: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<OutboxMessage>> {
    let rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? AND {IN_TURN}
         ORDER BY next_attempt_at, created_at LIMIT ?"
    ))
    .bind(to_millis(now))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(decode).collect()
}

pub(super) async fn next_due_at(pool: &SqlitePool) -> StoreResult<Option<DateTime<Utc>>> {
    let (next,): (Option<i64>,) = sqlx::query_as(&format!(
        "SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending' AND {IN_TURN}"
    ))
    .fetch_one(pool)
    .await?;
    Ok(next.map(from_millis))
}

pub(super) async fn record_attempt(
    pool: &SqlitePool,
    message_id: &str,
    attempt: DeliveryAttempt,
    next: NextStep,
) -> StoreResult<()> {
    super::transaction::write(pool, async |tx| {
    sqlx::query("INSERT INTO delivery_attempts (message_id, at, duration_ms, status_code, error) VALUES (?, ?, ?, ?, ?)")
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
        "UPDATE outbox SET attempts = attempts + 1, state = ?, next_attempt_at = COALESCE(?, next_attempt_at),
                delivered_at = ?, last_error = ? WHERE id = ?",
    )
    .bind(state.as_str())
    .bind(next_attempt_at)
    .bind(delivered_at)
    .bind(attempt.error.as_deref())
    .bind(message_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
    })
    .await
}

pub(super) async fn recent(
    pool: &SqlitePool,
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
