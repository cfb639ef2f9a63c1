//! Subscribers, and the messages fanned out to them: kept outside the engine's state (anyone
//! may sign up on any replica), while the fan-out into the outbox is fenced like every
//! delivery record.

use super::{Conn, Pool};
use crate::codec::*;
use crate::{Fence, OutboxMessage, StoreResult, SubscriberKind, SubscriberRecord};
use chrono::{DateTime, Utc};
use pharos_core::ComponentId;

type SubscriberRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    Option<String>,
);

const COLUMNS: &str =
    "id, kind, address, components, secret, confirm_hash, created_at, confirmed_at, signed_up_from";

fn decode(row: SubscriberRow) -> StoreResult<SubscriberRecord> {
    let (id, kind, address, components, secret, confirm_hash, created_at, confirmed_at, from) = row;
    let kind =
        SubscriberKind::parse(&kind).ok_or_else(|| corrupt("subscribers.kind", kind.clone()))?;
    let components: Vec<String> = serde_json::from_str(&components)
        .map_err(|error| corrupt("subscribers.components", error.to_string()))?;
    Ok(SubscriberRecord {
        id,
        kind,
        address,
        components: components.into_iter().map(ComponentId::new).collect(),
        secret,
        confirm_hash,
        created_at: from_millis(created_at),
        confirmed_at: confirmed_at.map(from_millis),
        signed_up_from: from,
    })
}

async fn by_address(
    tx: &mut Conn,
    kind: SubscriberKind,
    address: &str,
) -> StoreResult<Option<SubscriberRecord>> {
    let row: Option<SubscriberRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM subscribers WHERE kind = $1 AND address = $2"
    ))
    .bind(kind.as_str())
    .bind(address)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(decode).transpose()
}

/// Adds a subscriber, or, for one of that kind and address already there, takes the new
/// components and confirmation token (keeping its id, secret and confirmation); answers the
/// subscriber as stored.
pub(super) async fn save(pool: &Pool, record: &SubscriberRecord) -> StoreResult<SubscriberRecord> {
    super::transaction::write(pool, async |tx| {
        let components: Vec<&str> = record.components.iter().map(ComponentId::as_str).collect();
        let components = serde_json::to_string(&components)
            .map_err(|error| corrupt("subscribers.components", error.to_string()))?;
        match by_address(tx, record.kind, &record.address).await? {
            Some(known) => {
                sqlx::query(
                    "UPDATE subscribers SET components = $1, confirm_hash = COALESCE($2, confirm_hash),
                     confirm_sent_at = CASE WHEN $2 IS NULL THEN confirm_sent_at ELSE $3 END WHERE id = $4",
                )
                .bind(&components)
                .bind(&record.confirm_hash)
                .bind(to_millis(record.created_at))
                .bind(&known.id)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(&format!(
                    "INSERT INTO subscribers ({COLUMNS}, confirm_sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                ))
                .bind(&record.id)
                .bind(record.kind.as_str())
                .bind(&record.address)
                .bind(&components)
                .bind(&record.secret)
                .bind(&record.confirm_hash)
                .bind(to_millis(record.created_at))
                .bind(record.confirmed_at.map(to_millis))
                .bind(&record.signed_up_from)
                .bind(record.confirm_hash.as_ref().map(|_| to_millis(record.created_at)))
                .execute(&mut *tx)
                .await?;
            }
        }
        by_address(tx, record.kind, &record.address)
            .await?
            .ok_or_else(|| corrupt("subscribers", "a subscriber just saved is not there".to_owned()))
    })
    .await
}

/// Confirms the subscriber whose pending token has this hash; none when no token matches or
/// the link is older than `CONFIRMATION_WORKS_FOR`.
pub(super) async fn confirm(
    pool: &Pool,
    confirm_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<SubscriberRecord>> {
    super::transaction::write(pool, async |tx| {
        let row: Option<SubscriberRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM subscribers WHERE confirm_hash = $1 AND confirm_sent_at >= $2"
        ))
        .bind(confirm_hash)
        .bind(to_millis(now - crate::CONFIRMATION_WORKS_FOR))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(found) = row.map(decode).transpose()? else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE subscribers SET confirm_hash = NULL, confirmed_at = COALESCE(confirmed_at, $1) WHERE id = $2",
        )
        .bind(to_millis(now))
        .bind(&found.id)
        .execute(&mut *tx)
        .await?;
        Ok(Some(SubscriberRecord {
            confirm_hash: None,
            confirmed_at: found.confirmed_at.or(Some(now)),
            ..found
        }))
    })
    .await
}

pub(super) async fn list(pool: &Pool) -> StoreResult<Vec<SubscriberRecord>> {
    let rows: Vec<SubscriberRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM subscribers ORDER BY created_at, id"
    ))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(decode).collect()
}

pub(super) async fn one(pool: &Pool, id: &str) -> StoreResult<Option<SubscriberRecord>> {
    let row: Option<SubscriberRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM subscribers WHERE id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?;
    row.map(decode).transpose()
}

pub(super) async fn remove(pool: &Pool, id: &str) -> StoreResult<bool> {
    super::transaction::write(pool, async |tx| {
        let removed = sqlx::query("DELETE FROM subscribers WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        Ok(removed.rows_affected() > 0)
    })
    .await
}

/// Adds messages to the outbox (one already there, by id, is left as it is), under the
/// lease this replica writes with.
pub(super) async fn fan_out(
    pool: &Pool,
    fence: &Fence,
    messages: &[OutboxMessage],
) -> StoreResult<()> {
    super::transaction::write(pool, async |tx| {
        super::leases::check(tx, fence).await?;
        super::outbox::enqueue(tx, messages).await
    })
    .await
}

/// A key of this installation by name (made at random the first time it is asked for), such
/// as the one unsubscribe links are signed with.
pub(super) async fn server_key(pool: &Pool, name: &str) -> StoreResult<String> {
    let key = format!("key:{name}");
    // Made once, then only read: no write transaction per delivery or request.
    let known: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = $1")
        .bind(&key)
        .fetch_optional(pool)
        .await?;
    if let Some((value,)) = known {
        return Ok(value);
    }
    super::transaction::write(pool, async |tx| {
        let known: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = $1")
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((value,)) = known {
            return Ok(value);
        }
        let value = random_key();
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2)")
            .bind(&key)
            .bind(&value)
            .execute(&mut *tx)
            .await?;
        Ok(value)
    })
    .await
}

fn random_key() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Forgets sign-ups whose confirmation link expired before `before` unconfirmed, and voids
/// expired links of confirmed subscribers; answers how many sign-ups were forgotten.
pub(super) async fn forget_unconfirmed(pool: &Pool, now: DateTime<Utc>) -> StoreResult<u64> {
    let expired = to_millis(now - crate::CONFIRMATION_WORKS_FOR);
    super::transaction::write(pool, async |tx| {
        let forgotten = sqlx::query(
            "DELETE FROM subscribers WHERE confirmed_at IS NULL AND COALESCE(confirm_sent_at, created_at) < $1",
        )
        .bind(expired)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE subscribers SET confirm_hash = NULL, confirm_sent_at = NULL WHERE confirm_hash IS NOT NULL AND confirm_sent_at < $1",
        )
        .bind(expired)
        .execute(&mut *tx)
        .await?;
        Ok(forgotten)
    })
    .await
}
