//! Copying everything a SQLite store holds into a PostgreSQL store (`pharos db migrate-from`):
//! table by table, in chunks, each chunk in one transaction together with the place it
//! reached, so an interrupted copy resumes where it stopped instead of starting over or
//! copying twice. Each table is verified by counting its rows on both sides.

use crate::{PostgresStore, SqliteStore, StoreError};
use sqlx::{QueryBuilder, Row};
use std::ops::ControlFlow;

/// Rows per chunk (and per multi-row INSERT; at most 13 columns, 26,000 bound values, under
/// PostgreSQL's limit of 65,535).
const CHUNK: i64 = 2_000;

/// Where the copy stands, kept in the target's `meta` under this prefix (never a key the
/// source has).
const MARK: &str = "migrated_from_sqlite";

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
    Blob,
    /// An integer 0/1 in SQLite, a BOOLEAN in PostgreSQL.
    Bool,
}

/// How a table is read page by page.
#[derive(Clone, Copy)]
enum Order {
    /// By SQLite's rowid, resuming after the last one copied.
    Rowid,
    /// By primary key (a table without rowid), resuming at a row count; the source does not
    /// change while it is copied.
    Key(&'static str),
}

struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    order: Order,
    /// A column PostgreSQL generates (`GENERATED ALWAYS AS IDENTITY`) that is copied as is.
    identity: Option<&'static str>,
}

use Kind::*;

/// Every table, parents before children (incidents before their updates, the outbox before
/// its attempts); `meta` last, so that the reserved incident ids arrive with everything else.
const TABLES: [Table; 23] = [
    Table {
        name: "monitor_health",
        columns: &[("monitor_id", Text), ("health", Text), ("updated_at", Int)],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "component_status",
        columns: &[("component_id", Text), ("status", Text), ("since", Int)],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "agents",
        columns: &[
            ("name", Text),
            ("token_hash", Text),
            ("created_at", Int),
            ("revoked_at", Int),
            ("last_seq", Int),
            ("last_seen_at", Int),
            ("region", Text),
        ],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "maintenance_windows",
        columns: &[
            ("id", Text),
            ("title", Text),
            ("components", Text),
            ("start_at", Int),
            ("length_ms", Int),
            ("every_ms", Int),
            ("message", Text),
            ("created_by", Text),
            ("created_at", Int),
            ("cancelled_at", Int),
        ],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "subscribers",
        columns: &[
            ("id", Text),
            ("kind", Text),
            ("address", Text),
            ("components", Text),
            ("secret", Text),
            ("confirm_hash", Text),
            ("created_at", Int),
            ("confirmed_at", Int),
            ("signed_up_from", Text),
            ("confirm_sent_at", Int),
        ],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "maintenance_notices",
        columns: &[
            ("window_id", Text),
            ("occurrence_start", Int),
            ("stage", Text),
            ("at", Int),
        ],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "uptime_exclusions",
        columns: &[
            ("monitor_id", Text),
            ("start_at", Int),
            ("end_at", Int),
            ("reason", Text),
        ],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "uptime_adjustments",
        columns: &[
            ("monitor_id", Text),
            ("day", Int),
            ("total", Int),
            ("down", Int),
            ("degraded", Int),
        ],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "users",
        columns: &[
            ("name", Text),
            ("password_hash", Text),
            ("role", Text),
            ("created_at", Int),
            ("password_changed_at", Int),
        ],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "sessions",
        columns: &[
            ("token_hash", Text),
            ("user_name", Text),
            ("csrf", Text),
            ("created_at", Int),
            ("expires_at", Int),
            ("address", Text),
        ],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "api_tokens",
        columns: &[
            ("id", Text),
            ("user_name", Text),
            ("label", Text),
            ("token_hash", Text),
            ("scopes", Text),
            ("created_at", Int),
            ("last_used_at", Int),
            ("revoked_at", Int),
        ],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "audit_log",
        columns: &[
            ("id", Int),
            ("at", Int),
            ("actor", Text),
            ("action", Text),
            ("target", Text),
            ("detail", Text),
            ("address", Text),
        ],
        order: Order::Rowid,
        identity: Some("id"),
    },
    Table {
        name: "incidents",
        columns: &[
            ("id", Int),
            ("component_id", Text),
            ("title", Text),
            ("phase", Text),
            ("impact", Text),
            ("worst_impact", Text),
            ("started_at", Int),
            ("detected_at", Int),
            ("resolved_at", Int),
            ("time_to_detect_ms", Int),
            ("time_to_recover_ms", Int),
            ("dependents", Text),
            ("scope", Text),
            ("postmortem", Text),
            ("postmortem_at", Int),
        ],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "incident_updates",
        columns: &[
            ("id", Int),
            ("incident_id", Int),
            ("at", Int),
            ("phase", Text),
            ("message", Text),
            ("automatic", Bool),
            ("expected_by", Int),
            ("next_update_by", Int),
            ("edited_at", Int),
        ],
        order: Order::Rowid,
        identity: Some("id"),
    },
    Table {
        name: "incident_timeline",
        columns: &[
            ("id", Int),
            ("incident_id", Int),
            ("at", Int),
            ("kind", Text),
            ("detail", Text),
        ],
        order: Order::Rowid,
        identity: Some("id"),
    },
    Table {
        name: "outbox",
        columns: &[
            ("id", Text),
            ("channel_id", Text),
            ("event", Text),
            ("payload", Text),
            ("created_at", Int),
            ("next_attempt_at", Int),
            ("give_up_at", Int),
            ("attempts", Int),
            ("state", Text),
            ("delivered_at", Int),
            ("last_error", Text),
            ("sequence_key", Text),
            ("chain_id", Text),
            ("chain_step", Int),
            ("step_window_ms", Int),
            ("step_deadline", Int),
        ],
        // In the order written: PostgreSQL numbers them as they arrive, which is the order
        // a sequence of messages is delivered in.
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "delivery_attempts",
        columns: &[
            ("id", Int),
            ("message_id", Text),
            ("at", Int),
            ("duration_ms", Int),
            ("status_code", Int),
            ("error", Text),
        ],
        order: Order::Rowid,
        identity: Some("id"),
    },
    Table {
        name: "results",
        columns: &[
            ("monitor_id", Text),
            ("at", Int),
            ("status", Int),
            ("latency_us", Int),
            ("reason", Text),
            ("phases", Text),
            ("detail", Text),
        ],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "rollups",
        columns: &[
            ("resolution", Text),
            ("bucket", Int),
            ("monitor_id", Text),
            ("total", Int),
            ("down", Int),
            ("degraded", Int),
            ("latency_min_us", Int),
            ("latency_avg_us", Int),
            ("latency_p95_us", Int),
            ("latency_max_us", Int),
        ],
        order: Order::Key("resolution, bucket, monitor_id"),
        identity: None,
    },
    Table {
        name: "result_blocks",
        columns: &[
            ("monitor_id", Text),
            ("first_at", Int),
            ("last_at", Int),
            ("count", Int),
            ("data", Blob),
        ],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "minute_blocks",
        columns: &[
            ("monitor_id", Text),
            ("first_bucket", Int),
            ("last_bucket", Int),
            ("count", Int),
            ("data", Blob),
        ],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "hour_blocks",
        columns: &[
            ("monitor_id", Text),
            ("first_bucket", Int),
            ("last_bucket", Int),
            ("count", Int),
            ("data", Blob),
        ],
        order: Order::Rowid,
        identity: None,
    },
    Table {
        name: "meta",
        columns: &[("key", Text), ("value", Text)],
        order: Order::Rowid,
        identity: None,
    },
];

/// One table's copy, as it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableCopy {
    pub table: &'static str,
    /// Rows in the source.
    pub total: u64,
    /// Rows in the target so far.
    pub copied: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the target already holds pharos data that did not come from this copy ({0}); copy into an empty database")]
    TargetNotEmpty(String),
    #[error("this database was already copied from SQLite; nothing to do")]
    AlreadyDone,
    #[error("interrupted; run the same command again to go on where it stopped")]
    Interrupted,
    #[error(
        "{table}: {source_rows} rows in the source but {target_rows} in the target after the copy"
    )]
    CountMismatch {
        table: &'static str,
        source_rows: u64,
        target_rows: u64,
    },
}

impl From<sqlx::Error> for MigrateError {
    fn from(error: sqlx::Error) -> Self {
        MigrateError::Store(StoreError::Database(error))
    }
}

/// Copies every row of `source` into `target`, calling `progress` after each chunk (which
/// may stop the copy: `ControlFlow::Break`); resumes an interrupted copy. Returns each
/// table's row count once both sides agree.
pub async fn sqlite_to_postgres(
    source: &SqliteStore,
    target: &PostgresStore,
    progress: &mut (dyn FnMut(&TableCopy) -> ControlFlow<()> + Send),
) -> Result<Vec<TableCopy>, MigrateError> {
    let (source, target) = (&source.pool, &target.pool);
    let marks: Vec<(String, String)> =
        sqlx::query_as("SELECT key, value FROM meta WHERE key LIKE $1")
            .bind(format!("{MARK}%"))
            .fetch_all(target)
            .await?;
    if marks.iter().any(|(key, _)| key == MARK) {
        return Err(MigrateError::AlreadyDone);
    }
    if marks.is_empty() {
        for table in ["incidents", "results", "outbox", "result_blocks"] {
            let (rows,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(target)
                .await?;
            if rows > 0 {
                return Err(MigrateError::TargetNotEmpty(format!(
                    "{rows} rows in {table}"
                )));
            }
        }
    }
    let mut counts = Vec::new();
    for table in &TABLES {
        let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {}", table.name))
            .fetch_one(source)
            .await?;
        let mark = format!("{MARK}:{}", table.name);
        let mut place: i64 = marks
            .iter()
            .find(|(key, _)| *key == mark)
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0);
        let mut copy = TableCopy {
            table: table.name,
            total: total as u64,
            copied: target_rows(target, table.name).await?,
        };
        if progress(&copy).is_break() {
            return Err(MigrateError::Interrupted);
        }
        loop {
            let rows = read_chunk(source, table, place).await?;
            if rows.is_empty() {
                break;
            }
            place = match table.order {
                Order::Rowid => rows
                    .last()
                    .map(|row| row.try_get::<i64, _>("copy_place"))
                    .transpose()?
                    .unwrap_or(place),
                Order::Key(_) => place + rows.len() as i64,
            };
            write_chunk(target, table, &rows, &mark, place).await?;
            copy.copied += rows.len() as u64;
            if progress(&copy).is_break() {
                return Err(MigrateError::Interrupted);
            }
        }
        if let Some(column) = table.identity {
            // Rows copied with their ids: new ones continue after the highest.
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{0}', '{column}'), COALESCE((SELECT MAX({column}) FROM {0}), 0) + 1, false)",
                table.name
            ))
            .execute(target)
            .await?;
        }
        // Verified by counting, not by what was written.
        copy.copied = target_rows(target, table.name).await?;
        if copy.copied != copy.total {
            return Err(MigrateError::CountMismatch {
                table: table.name,
                source_rows: copy.total,
                target_rows: copy.copied,
            });
        }
        counts.push(copy);
    }
    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, 'done')")
        .bind(MARK)
        .execute(target)
        .await?;
    Ok(counts)
}

/// The target's rows of `table` (its own bookkeeping left out of `meta`).
async fn target_rows(target: &sqlx::PgPool, table: &str) -> Result<u64, MigrateError> {
    let sql = if table == "meta" {
        format!("SELECT COUNT(*) FROM meta WHERE key NOT LIKE '{MARK}%'")
    } else {
        format!("SELECT COUNT(*) FROM {table}")
    };
    let (rows,): (i64,) = sqlx::query_as(&sql).fetch_one(target).await?;
    Ok(rows as u64)
}

async fn read_chunk(
    source: &sqlx::SqlitePool,
    table: &Table,
    place: i64,
) -> Result<Vec<sqlx::sqlite::SqliteRow>, MigrateError> {
    let columns: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
    let columns = columns.join(", ");
    let sql = match table.order {
        Order::Rowid => format!(
            "SELECT rowid AS copy_place, {columns} FROM {} WHERE rowid > $1 ORDER BY rowid LIMIT $2",
            table.name
        ),
        Order::Key(key) => format!(
            "SELECT {columns} FROM {} ORDER BY {key} LIMIT $2 OFFSET $1",
            table.name
        ),
    };
    Ok(sqlx::query(&sql)
        .bind(place)
        .bind(CHUNK)
        .fetch_all(source)
        .await?)
}

/// Writes one chunk and the place it reached, in one transaction.
async fn write_chunk(
    target: &sqlx::PgPool,
    table: &Table,
    rows: &[sqlx::sqlite::SqliteRow],
    mark: &str,
    place: i64,
) -> Result<(), MigrateError> {
    let mut transaction = target.begin().await?;
    let columns: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
    let mut insert = QueryBuilder::<sqlx::Postgres>::new(format!(
        "INSERT INTO {} ({}) ",
        table.name,
        columns.join(", ")
    ));
    if table.identity.is_some() {
        insert.push("OVERRIDING SYSTEM VALUE ");
    }
    let mut failed = None;
    insert.push_values(rows, |mut values, row| {
        for (name, kind) in table.columns {
            let bound = match kind {
                Int => row.try_get::<Option<i64>, _>(*name).map(|value| {
                    values.push_bind(value);
                }),
                Text => row.try_get::<Option<String>, _>(*name).map(|value| {
                    values.push_bind(value);
                }),
                Blob => row.try_get::<Option<Vec<u8>>, _>(*name).map(|value| {
                    values.push_bind(value);
                }),
                Bool => row.try_get::<Option<bool>, _>(*name).map(|value| {
                    values.push_bind(value);
                }),
            };
            if let Err(error) = bound {
                failed.get_or_insert(error);
            }
        }
    });
    if let Some(error) = failed {
        return Err(error.into());
    }
    insert.build().execute(&mut *transaction).await?;
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(mark)
    .bind(place.to_string())
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(())
}
