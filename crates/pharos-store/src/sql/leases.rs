//! Leases between replicas: taking, renewing and giving one up, by the database's clock, and
//! the fence every write made under a lease passes inside its own transaction.

use super::{Conn, Pool, LOCK_FOR_SHARE, LOCK_FOR_UPDATE, NOW_MILLIS};
use crate::codec::*;
use crate::{Fence, Lease, StoreError, StoreResult};
use std::time::Duration;

/// Takes the lease `name` for `holder` if it is free or expired, renews it if `holder` has
/// it; says who holds it after.
pub(super) async fn claim(
    pool: &Pool,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> StoreResult<Lease> {
    let ttl = ttl.as_millis().min(i64::MAX as u128) as i64;
    super::transaction::write(pool, async |tx| {
        let now: i64 = sqlx::query_scalar(&format!("SELECT {NOW_MILLIS}"))
            .fetch_one(&mut *tx)
            .await?;
        let current: Option<(String, i64, i64)> = sqlx::query_as(&format!(
            "SELECT holder, token, expires_at FROM leases WHERE name = $1{LOCK_FOR_UPDATE}"
        ))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let (holder_now, token) = match current {
            None => {
                sqlx::query(
                    "INSERT INTO leases (name, holder, token, expires_at) VALUES ($1, $2, 1, $3)",
                )
                .bind(name)
                .bind(holder)
                .bind(now + ttl)
                .execute(&mut *tx)
                .await?;
                (holder.to_owned(), 1)
            }
            Some((current, token, expires_at)) if current == holder || expires_at <= now => {
                let token = if current == holder { token } else { token + 1 };
                sqlx::query(
                    "UPDATE leases SET holder = $1, token = $2, expires_at = $3 WHERE name = $4",
                )
                .bind(holder)
                .bind(token)
                .bind(now + ttl)
                .bind(name)
                .execute(&mut *tx)
                .await?;
                (holder.to_owned(), token)
            }
            Some((current, token, expires_at)) => {
                return Ok(Lease {
                    mine: false,
                    holder: current,
                    token: token as u64,
                    expires_at: from_millis(expires_at),
                })
            }
        };
        Ok(Lease {
            mine: true,
            holder: holder_now,
            token: token as u64,
            expires_at: from_millis(now + ttl),
        })
    })
    .await
}

/// Gives the lease up at once if `holder` has it (a clean stop hands over without waiting
/// for it to expire); its token stays, so the next holder's is higher.
pub(super) async fn release(pool: &Pool, name: &str, holder: &str) -> StoreResult<()> {
    super::transaction::write(pool, async |tx| {
        sqlx::query("UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&mut *tx)
            .await?;
        Ok(())
    })
    .await
}

/// Who holds the lease `name`, if anyone ever did.
pub(super) async fn current(pool: &Pool, name: &str) -> StoreResult<Option<Lease>> {
    let row: Option<(String, i64, i64)> =
        sqlx::query_as("SELECT holder, token, expires_at FROM leases WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(holder, token, expires_at)| Lease {
        mine: false,
        holder,
        token: token as u64,
        expires_at: from_millis(expires_at),
    }))
}

/// Inside a write transaction: fails with `Fenced` unless the fence's holder and token still
/// hold its lease. On PostgreSQL the row stays share-locked until the commit, so the lease
/// cannot change hands between this check and the write.
pub(super) async fn check(tx: &mut Conn, fence: &Fence) -> StoreResult<()> {
    let Some(fence) = fence.current() else {
        return Ok(());
    };
    let held: Option<(i64,)> = sqlx::query_as(&format!(
        "SELECT token FROM leases WHERE name = $1 AND holder = $2 AND token = $3 AND expires_at > {NOW_MILLIS}{LOCK_FOR_SHARE}"
    ))
    .bind(&fence.lease)
    .bind(&fence.holder)
    .bind(fence.token as i64)
    .fetch_optional(&mut *tx)
    .await?;
    match held {
        Some(_) => Ok(()),
        None => Err(StoreError::Fenced(format!(
            "this replica no longer holds the `{}` lease (token {})",
            fence.lease, fence.token
        ))),
    }
}
