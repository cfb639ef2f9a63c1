//! Operators: users, sessions, API tokens and the audit log. None of it is engine state, so
//! none of it is fenced: every replica logs people in and records what they do.

use super::Pool;
use crate::codec::*;
use crate::{ApiTokenRecord, AuditEntry, SessionRecord, StoreError, StoreResult, UserRecord};
use chrono::{DateTime, Utc};
use pharos_core::{Permission, Role};

type UserRow = (String, String, String, i64, i64);

const USER_COLUMNS: &str = "name, password_hash, role, created_at, password_changed_at";

fn user((name, password_hash, role, created_at, changed_at): UserRow) -> StoreResult<UserRecord> {
    let role = Role::parse(&role).ok_or_else(|| StoreError::Corrupt {
        what: "user",
        detail: format!("user `{name}` has an unknown role `{role}`"),
    })?;
    Ok(UserRecord {
        name,
        password_hash,
        role,
        created_at: from_millis(created_at),
        password_changed_at: from_millis(changed_at),
    })
}

pub(super) async fn users(pool: &Pool) -> StoreResult<Vec<UserRecord>> {
    let rows: Vec<UserRow> =
        sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))
            .fetch_all(pool)
            .await?;
    rows.into_iter().map(user).collect()
}

pub(super) async fn one_user(pool: &Pool, name: &str) -> StoreResult<Option<UserRecord>> {
    let row: Option<UserRow> =
        sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1"))
            .bind(name)
            .fetch_optional(pool)
            .await?;
    row.map(user).transpose()
}

pub(super) async fn create_user(pool: &Pool, record: &UserRecord) -> StoreResult<()> {
    super::transaction::write(pool, async |tx| {
        let existing: Option<(String,)> = sqlx::query_as("SELECT name FROM users WHERE name = $1")
            .bind(&record.name)
            .fetch_optional(&mut *tx)
            .await?;
        if existing.is_some() {
            return Err(StoreError::Conflict(format!(
                "user `{}` exists",
                record.name
            )));
        }
        sqlx::query(&format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(&record.name)
        .bind(&record.password_hash)
        .bind(record.role.as_str())
        .bind(to_millis(record.created_at))
        .bind(to_millis(record.password_changed_at))
        .execute(&mut *tx)
        .await?;
        Ok(())
    })
    .await
}

pub(super) async fn update_user(
    pool: &Pool,
    name: &str,
    password_hash: &str,
    role: Role,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    super::transaction::write(pool, async |tx| {
        let changed = sqlx::query(
            "UPDATE users SET password_hash = $1, role = $2,
                    password_changed_at = CASE WHEN password_hash = $1 THEN password_changed_at ELSE $3 END
             WHERE name = $4",
        )
        .bind(password_hash)
        .bind(role.as_str())
        .bind(to_millis(now))
        .bind(name)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE user_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        Ok(changed.rows_affected() > 0)
    })
    .await
}

pub(super) async fn remove_user(pool: &Pool, name: &str) -> StoreResult<bool> {
    super::transaction::write(pool, async |tx| {
        for table in ["sessions", "api_tokens"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_name = $1"))
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        let removed = sqlx::query("DELETE FROM users WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        Ok(removed.rows_affected() > 0)
    })
    .await
}

pub(super) async fn create_session(pool: &Pool, session: &SessionRecord) -> StoreResult<()> {
    super::transaction::write(pool, async |tx| {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(to_millis(session.created_at))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_name, csrf, created_at, expires_at, address)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&session.token_hash)
        .bind(&session.user)
        .bind(&session.csrf)
        .bind(to_millis(session.created_at))
        .bind(to_millis(session.expires_at))
        .bind(&session.address)
        .execute(&mut *tx)
        .await?;
        Ok(())
    })
    .await
}

type SessionRow = (String, String, String, i64, i64, Option<String>);

pub(super) async fn session(
    pool: &Pool,
    token_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<(SessionRecord, UserRecord)>> {
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT token_hash, user_name, csrf, created_at, expires_at, address FROM sessions
         WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(to_millis(now))
    .fetch_optional(pool)
    .await?;
    let Some((token_hash, user_name, csrf, created_at, expires_at, address)) = row else {
        return Ok(None);
    };
    let Some(owner) = one_user(pool, &user_name).await? else {
        return Ok(None);
    };
    Ok(Some((
        SessionRecord {
            token_hash,
            user: user_name,
            csrf,
            created_at: from_millis(created_at),
            expires_at: from_millis(expires_at),
            address,
        },
        owner,
    )))
}

pub(super) async fn delete_session(pool: &Pool, token_hash: &str) -> StoreResult<bool> {
    super::transaction::write(pool, async |tx| {
        let deleted = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        Ok(deleted.rows_affected() > 0)
    })
    .await
}

type TokenRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
);

const TOKEN_COLUMNS: &str =
    "id, user_name, label, token_hash, scopes, created_at, last_used_at, revoked_at";

fn token(
    (id, user, label, token_hash, scopes, created_at, last_used_at, revoked_at): TokenRow,
) -> StoreResult<ApiTokenRecord> {
    let scopes = Permission::parse_list(&scopes).map_err(|problem| StoreError::Corrupt {
        what: "API token",
        detail: format!("API token `{id}`: {problem}"),
    })?;
    Ok(ApiTokenRecord {
        id,
        user,
        label,
        token_hash,
        scopes,
        created_at: from_millis(created_at),
        last_used_at: last_used_at.map(from_millis),
        revoked_at: revoked_at.map(from_millis),
    })
}

pub(super) async fn create_api_token(pool: &Pool, record: &ApiTokenRecord) -> StoreResult<()> {
    super::transaction::write(pool, async |tx| {
        let taken: Option<(String,)> = sqlx::query_as("SELECT id FROM api_tokens WHERE id = $1")
            .bind(&record.id)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "API token id `{}` is taken",
                record.id
            )));
        }
        sqlx::query(&format!(
            "INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&record.id)
        .bind(&record.user)
        .bind(&record.label)
        .bind(&record.token_hash)
        .bind(Permission::join(&record.scopes))
        .bind(to_millis(record.created_at))
        .bind(record.last_used_at.map(to_millis))
        .bind(record.revoked_at.map(to_millis))
        .execute(&mut *tx)
        .await?;
        Ok(())
    })
    .await
}

pub(super) async fn api_tokens(
    pool: &Pool,
    user: Option<&str>,
) -> StoreResult<Vec<ApiTokenRecord>> {
    let rows: Vec<TokenRow> = sqlx::query_as(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE $1 IS NULL OR user_name = $1
         ORDER BY created_at DESC, id"
    ))
    .bind(user)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(token).collect()
}

/// A token's use is written at most once a minute, so that a busy client does not turn
/// every read into a write.
const USE_RECORDED_EVERY_MS: i64 = 60_000;

pub(super) async fn use_api_token(
    pool: &Pool,
    token_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<(ApiTokenRecord, UserRecord)>> {
    let row: Option<TokenRow> = sqlx::query_as(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
    ))
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    let Some(record) = row.map(token).transpose()? else {
        return Ok(None);
    };
    let Some(owner) = one_user(pool, &record.user).await? else {
        return Ok(None);
    };
    let stale = record
        .last_used_at
        .is_none_or(|used| to_millis(now) - to_millis(used) >= USE_RECORDED_EVERY_MS);
    if stale {
        super::transaction::write(pool, async |tx| {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(to_millis(now))
                .bind(&record.id)
                .execute(&mut *tx)
                .await?;
            Ok(())
        })
        .await?;
    }
    Ok(Some((record, owner)))
}

pub(super) async fn revoke_api_token(
    pool: &Pool,
    id: &str,
    user: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    super::transaction::write(pool, async |tx| {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1
             WHERE id = $2 AND revoked_at IS NULL AND ($3 IS NULL OR user_name = $3)",
        )
        .bind(to_millis(now))
        .bind(id)
        .bind(user)
        .execute(&mut *tx)
        .await?;
        Ok(done.rows_affected() > 0)
    })
    .await
}

pub(super) async fn record_audit(pool: &Pool, entry: &AuditEntry) -> StoreResult<i64> {
    super::transaction::write(pool, async |tx| {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO audit_log (at, actor, action, target, detail, address)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(to_millis(entry.at))
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(&entry.detail)
        .bind(&entry.address)
        .fetch_one(&mut *tx)
        .await?;
        Ok(id)
    })
    .await
}

type AuditRow = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(super) async fn audit_log(
    pool: &Pool,
    limit: u32,
    before: Option<i64>,
) -> StoreResult<Vec<AuditEntry>> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT id, at, actor, action, target, detail, address FROM audit_log
         WHERE $1 IS NULL OR id < $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(before)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, at, actor, action, target, detail, address)| AuditEntry {
                id,
                at: from_millis(at),
                actor,
                action,
                target,
                detail,
                address,
            },
        )
        .collect())
}
