//! Maintenance windows scheduled at run time: written in the engine's transactions, read when
//! the engine (or a follower) loads its state.

use super::{Conn, Pool};
use crate::codec::*;
use crate::{MaintenanceChange, MaintenanceNotice, StoreResult};
use pharos_core::maintenance::MaintenanceWindow;
use pharos_core::ComponentId;

type WindowRow = (
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<String>,
);

/// The windows scheduled and not cancelled, by start.
pub(super) async fn scheduled(pool: &Pool) -> StoreResult<Vec<MaintenanceWindow>> {
    let rows: Vec<WindowRow> = sqlx::query_as(
        "SELECT id, title, components, start_at, length_ms, every_ms, message FROM maintenance_windows
         WHERE cancelled_at IS NULL ORDER BY start_at, id",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(id, title, components, start, length, every, message)| {
            let components: Vec<String> = serde_json::from_str(&components)
                .map_err(|error| corrupt("maintenance_windows.components", error.to_string()))?;
            Ok(MaintenanceWindow {
                id,
                title,
                components: components.into_iter().map(ComponentId::new).collect(),
                start: from_millis(start),
                length: chrono::Duration::milliseconds(length),
                every: every.map(chrono::Duration::milliseconds),
                message,
            })
        })
        .collect()
}

pub(super) async fn write(tx: &mut Conn, changes: &[MaintenanceChange]) -> StoreResult<()> {
    for change in changes {
        match change {
            MaintenanceChange::Scheduled { window, by, at } => {
                let components: Vec<&str> =
                    window.components.iter().map(ComponentId::as_str).collect();
                let components = serde_json::to_string(&components).map_err(|error| {
                    corrupt("maintenance_windows.components", error.to_string())
                })?;
                sqlx::query(
                    "INSERT INTO maintenance_windows (id, title, components, start_at, length_ms, every_ms, message, created_by, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&window.id)
                .bind(&window.title)
                .bind(components)
                .bind(to_millis(window.start))
                .bind(window.length.num_milliseconds())
                .bind(window.every.map(|every| every.num_milliseconds()))
                .bind(&window.message)
                .bind(by)
                .bind(to_millis(*at))
                .execute(&mut *tx)
                .await?;
            }
            MaintenanceChange::Cancelled { id, at } => {
                sqlx::query(
                    "UPDATE maintenance_windows SET cancelled_at = $1 WHERE id = $2 AND cancelled_at IS NULL",
                )
                .bind(to_millis(*at))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    Ok(())
}

/// The maintenance notices sent, for the engine to send none twice.
pub(super) async fn notices(pool: &Pool) -> StoreResult<Vec<MaintenanceNotice>> {
    let rows: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT window_id, occurrence_start, stage FROM maintenance_notices")
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(window, start, stage)| MaintenanceNotice {
            window,
            occurrence_start: from_millis(start),
            stage,
        })
        .collect())
}

pub(super) async fn write_notices(
    tx: &mut Conn,
    notices: &[MaintenanceNotice],
    at: chrono::DateTime<chrono::Utc>,
) -> StoreResult<()> {
    for notice in notices {
        sqlx::query(
            "INSERT INTO maintenance_notices (window_id, occurrence_start, stage, at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (window_id, occurrence_start, stage) DO NOTHING",
        )
        .bind(&notice.window)
        .bind(to_millis(notice.occurrence_start))
        .bind(&notice.stage)
        .bind(to_millis(at))
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
