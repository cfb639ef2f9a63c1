//! Write transactions that never outlive a failure: each runs on a connection of its own,
//! is rolled back explicitly when any statement or the commit fails, and the connection is
//! discarded rather than returned to the pool unless the transaction really ended.
//!
//! Without this, a connection whose rollback failed (after a full disk, say) would go back
//! to the pool still counting an open transaction, and every later "transaction" on it would
//! be a savepoint inside that one: reported committed, never saved.

use super::{Conn, Pool};
use crate::{StoreError, StoreResult};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::Connection;
use std::future::Future;
use std::pin::Pin;

/// Runs `work` in one transaction (begun with the backend's `BEGIN`) and commits it. `Ok` means COMMIT ended
/// the transaction; anything else leaves nothing of `work` in the database.
pub(super) async fn write<T>(
    pool: &Pool,
    work: impl AsyncFnOnce(&mut Conn) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut connection = pool.acquire().await?;
    let result = run(&mut connection, work).await;
    let still_open = connection.is_in_transaction();
    if result.is_err() || still_open {
        connection.close_on_drop();
    }
    match result {
        Ok(_) if still_open => Err(StoreError::NotCommitted),
        other => other,
    }
}

async fn run<T>(
    connection: &mut Conn,
    work: impl AsyncFnOnce(&mut Conn) -> StoreResult<T>,
) -> StoreResult<T> {
    // A custom BEGIN is refused on a connection that already counts a transaction, so a
    // stale one can never turn this transaction into a savepoint.
    let mut transaction = connection.begin_with(super::BEGIN).await?;
    match work(&mut transaction).await {
        Ok(value) => {
            transaction.commit().await?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback) = transaction.rollback().await {
                tracing::warn!(%rollback, "rollback after a failed write failed too; discarding the connection");
            }
            Err(error)
        }
    }
}

/// The pool's release check: a connection still inside a transaction is closed, never reused.
pub(super) fn release_check(
    connection: &mut Conn,
    _: PoolConnectionMetadata,
) -> Pin<Box<dyn Future<Output = Result<bool, sqlx::Error>> + Send + '_>> {
    let reusable = !connection.is_in_transaction();
    Box::pin(async move { Ok(reusable) })
}
