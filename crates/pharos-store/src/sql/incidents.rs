//! Incidents with their updates and timelines.

use super::{Conn, Pool};
use crate::codec::*;
use crate::{Batch, IncidentQuery, Postmortem, StoreResult};
use chrono::{DateTime, Utc};
use pharos_core::{
    ComponentId, ComponentStatus, Dependent, Incident, IncidentPhase, IncidentUpdate,
    TimelineEntry, TimelineKind,
};
use std::collections::HashMap;

type IncidentRow = (
    i64,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    String,
    String,
    Option<String>,
);

const COLUMNS: &str =
    "id, component_id, title, phase, impact, started_at, detected_at, resolved_at, COALESCE(worst_impact, impact), dependents, scope";

pub(super) async fn write(tx: &mut Conn, batch: &Batch) -> StoreResult<()> {
    // Changes to incidents stored before come first: one resolved in this batch frees its
    // component for a new one opened in the same batch (one open incident per component).
    let new_ids: std::collections::HashSet<i64> = batch
        .new_incidents
        .iter()
        .map(|incident| incident.id)
        .collect();
    let (changes_of_new, changes_of_stored): (Vec<_>, Vec<_>) = batch
        .incident_changes
        .iter()
        .partition(|change| new_ids.contains(&change.id));
    for change in changes_of_stored {
        change_incident(tx, change).await?;
    }
    for incident in &batch.new_incidents {
        sqlx::query(
            "INSERT INTO incidents (id, component_id, title, phase, impact, started_at, detected_at, resolved_at, time_to_detect_ms, time_to_recover_ms, worst_impact, dependents, scope)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(incident.id)
        .bind(incident.component.as_str())
        .bind(&incident.title)
        .bind(incident.phase.as_str())
        .bind(incident.impact.as_str())
        .bind(to_millis(incident.started_at))
        .bind(to_millis(incident.detected_at))
        .bind(incident.resolved_at.map(to_millis))
        .bind(incident.time_to_detect().as_millis() as i64)
        .bind(incident.time_to_recover().map(|duration| duration.as_millis() as i64))
        .bind(incident.worst_impact.as_str())
        .bind(dependents_json(&incident.dependents)?)
        .bind(scope_json(incident.scope.as_ref())?)
        .execute(&mut *tx)
        .await?;
        for update in &incident.updates {
            insert_update(tx, incident.id, update).await?;
        }
        for entry in &incident.timeline {
            insert_timeline(tx, incident.id, entry).await?;
        }
    }
    for change in changes_of_new {
        change_incident(tx, change).await?;
    }
    for (incident_id, update) in &batch.new_updates {
        insert_update(tx, *incident_id, update).await?;
    }
    for (incident_id, entry) in &batch.new_timeline {
        insert_timeline(tx, *incident_id, entry).await?;
    }
    for edit in &batch.update_edits {
        let query = match &edit.message {
            Some(message) => sqlx::query(
                "UPDATE incident_updates SET message = $1, edited_at = $2 WHERE incident_id = $3 AND at = $4",
            )
            .bind(message)
            .bind(to_millis(edit.edited_at)),
            None => sqlx::query(
                "DELETE FROM incident_updates WHERE incident_id = $1 AND at = $2",
            ),
        };
        query
            .bind(edit.incident)
            .bind(to_millis(edit.at))
            .execute(&mut *tx)
            .await?;
    }
    for (incident_id, postmortem) in &batch.postmortems {
        sqlx::query("UPDATE incidents SET postmortem = $1, postmortem_at = $2 WHERE id = $3")
            .bind(&postmortem.text)
            .bind(to_millis(postmortem.updated_at))
            .bind(incident_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Writes an incident's new state.
async fn change_incident(tx: &mut Conn, change: &crate::IncidentChange) -> StoreResult<()> {
    sqlx::query(
        "UPDATE incidents SET phase = $1, impact = $2, worst_impact = $3, title = $4, resolved_at = $5,
                time_to_recover_ms = CASE WHEN $6 IS NULL THEN NULL ELSE $7 - started_at END,
                component_id = $8, dependents = $9, scope = $10
         WHERE id = $11",
    )
    .bind(change.phase.as_str())
    .bind(change.impact.as_str())
    .bind(change.worst_impact.as_str())
    .bind(&change.title)
    .bind(change.resolved_at.map(to_millis))
    .bind(change.resolved_at.map(to_millis))
    .bind(change.resolved_at.map(to_millis))
    .bind(change.component.as_str())
    .bind(dependents_json(&change.dependents)?)
    .bind(scope_json(change.scope.as_ref())?)
    .bind(change.id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The postmortems of incidents that started at or after `since`.
pub(super) async fn postmortems(
    pool: &Pool,
    since: DateTime<Utc>,
) -> StoreResult<std::collections::HashMap<i64, Postmortem>> {
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT id, postmortem, postmortem_at FROM incidents
         WHERE postmortem IS NOT NULL AND postmortem_at IS NOT NULL AND started_at >= $1",
    )
    .bind(to_millis(since))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, text, at)| {
            (
                id,
                Postmortem {
                    text,
                    updated_at: from_millis(at),
                },
            )
        })
        .collect())
}

fn dependents_json(dependents: &[Dependent]) -> StoreResult<String> {
    serde_json::to_string(dependents)
        .map_err(|error| corrupt("incidents.dependents", error.to_string()))
}

fn scope_json(scope: Option<&pharos_core::regions::Scope>) -> StoreResult<Option<String>> {
    scope
        .map(serde_json::to_string)
        .transpose()
        .map_err(|error| corrupt("incidents.scope", error.to_string()))
}

async fn insert_update(
    tx: &mut Conn,
    incident_id: i64,
    update: &IncidentUpdate,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO incident_updates (incident_id, at, phase, message, automatic, expected_by, next_update_by) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(incident_id)
        .bind(to_millis(update.at))
        .bind(update.phase.as_str())
        .bind(&update.message)
        .bind(update.automatic)
        .bind(update.expected_by.map(to_millis))
        .bind(update.next_update_by.map(to_millis))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn insert_timeline(
    tx: &mut Conn,
    incident_id: i64,
    entry: &TimelineEntry,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO incident_timeline (incident_id, at, kind, detail) VALUES ($1, $2, $3, $4)",
    )
    .bind(incident_id)
    .bind(to_millis(entry.at))
    .bind(entry.kind.as_str())
    .bind(&entry.detail)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(super) async fn open(pool: &Pool) -> StoreResult<Vec<Incident>> {
    fetch(pool, "resolved_at IS NULL", None, u32::MAX).await
}

pub(super) async fn list(pool: &Pool, query: IncidentQuery) -> StoreResult<Vec<Incident>> {
    let limit = if query.limit == 0 { 100 } else { query.limit };
    match query.since {
        Some(since) => {
            fetch(
                pool,
                "(resolved_at IS NULL OR resolved_at >= $1)",
                Some(to_millis(since)),
                limit,
            )
            .await
        }
        None => fetch(pool, "1 = 1", None, limit).await,
    }
}

pub(super) async fn one(pool: &Pool, id: i64) -> StoreResult<Option<Incident>> {
    Ok(fetch(pool, "id = $1", Some(id), 1).await?.pop())
}

/// Incidents matching `filter` (with at most one bound value), newest first, with their
/// updates and timelines, in three queries.
async fn fetch(
    pool: &Pool,
    filter: &str,
    value: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<Incident>> {
    let selected = format!(
        "SELECT id FROM incidents WHERE {filter} ORDER BY started_at DESC, id DESC LIMIT {limit}"
    );
    let headers_sql = format!("SELECT {COLUMNS} FROM incidents WHERE id IN ({selected}) ORDER BY started_at DESC, id DESC");
    let mut headers = sqlx::query_as::<_, IncidentRow>(&headers_sql);
    if let Some(value) = value {
        headers = headers.bind(value);
    }
    let headers = headers.fetch_all(pool).await?;
    if headers.is_empty() {
        return Ok(Vec::new());
    }

    let updates_sql = format!(
        "SELECT incident_id, at, phase, message, automatic, expected_by, next_update_by, edited_at FROM incident_updates WHERE incident_id IN ({selected}) ORDER BY id"
    );
    type UpdateRow = (
        i64,
        i64,
        String,
        String,
        bool,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let mut updates = sqlx::query_as::<_, UpdateRow>(&updates_sql);
    if let Some(value) = value {
        updates = updates.bind(value);
    }
    let mut updates_by_incident: HashMap<i64, Vec<IncidentUpdate>> = HashMap::new();
    for (incident_id, at, phase, message, automatic, expected_by, next_update_by, edited_at) in
        updates.fetch_all(pool).await?
    {
        let phase = IncidentPhase::parse(&phase)
            .ok_or_else(|| corrupt("incident_updates.phase", phase.clone()))?;
        updates_by_incident
            .entry(incident_id)
            .or_default()
            .push(IncidentUpdate {
                at: from_millis(at),
                phase,
                message,
                automatic,
                expected_by: expected_by.map(from_millis),
                next_update_by: next_update_by.map(from_millis),
                edited_at: edited_at.map(from_millis),
            });
    }

    let timeline_sql =
        format!("SELECT incident_id, at, kind, detail FROM incident_timeline WHERE incident_id IN ({selected}) ORDER BY at, id");
    let mut timeline = sqlx::query_as::<_, (i64, i64, String, String)>(&timeline_sql);
    if let Some(value) = value {
        timeline = timeline.bind(value);
    }
    let mut timeline_by_incident: HashMap<i64, Vec<TimelineEntry>> = HashMap::new();
    for (incident_id, at, kind, detail) in timeline.fetch_all(pool).await? {
        let kind = TimelineKind::parse(&kind)
            .ok_or_else(|| corrupt("incident_timeline.kind", kind.clone()))?;
        timeline_by_incident
            .entry(incident_id)
            .or_default()
            .push(TimelineEntry {
                at: from_millis(at),
                kind,
                detail,
            });
    }

    headers
        .into_iter()
        .map(
            |(
                id,
                component,
                title,
                phase,
                impact,
                started_at,
                detected_at,
                resolved_at,
                worst,
                dependents,
                scope,
            )| {
                Ok(Incident {
                    scope: scope
                        .map(|scope| {
                            serde_json::from_str(&scope)
                                .map_err(|_| corrupt("incidents.scope", scope.clone()))
                        })
                        .transpose()?,
                    dependents: serde_json::from_str(&dependents)
                        .map_err(|_| corrupt("incidents.dependents", dependents.clone()))?,
                    id,
                    component: ComponentId::new(component),
                    title,
                    phase: IncidentPhase::parse(&phase)
                        .ok_or_else(|| corrupt("incidents.phase", phase.clone()))?,
                    impact: ComponentStatus::parse(&impact)
                        .ok_or_else(|| corrupt("incidents.impact", impact.clone()))?,
                    worst_impact: ComponentStatus::parse(&worst)
                        .ok_or_else(|| corrupt("incidents.worst_impact", worst.clone()))?,
                    started_at: from_millis(started_at),
                    detected_at: from_millis(detected_at),
                    resolved_at: resolved_at.map(from_millis),
                    updates: updates_by_incident.remove(&id).unwrap_or_default(),
                    timeline: timeline_by_incident.remove(&id).unwrap_or_default(),
                })
            },
        )
        .collect()
}
