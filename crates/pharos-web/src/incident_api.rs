//! The admin API's incident steps: open an incident by hand, post an update (with the
//! expected recovery and next update times, a new title or impact), resolve and reopen. Each
//! is checked here, taken by the engine on the replica that leads, answered once saved and
//! recorded in the audit log. The admin's forms share the checks and the hand-over.

use crate::admin::{admit, engine_for_writes, ApiError};
use crate::api::time;
use crate::operator::Operator;
use crate::router::WebState;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, NaiveDateTime, Utc};
use pharos_core::{
    ComponentId, ComponentStatus, Declaration, Incident, IncidentPhase, OperatorUpdate, Permission,
};
use pharos_engine::{Amendment, CommandError};
use serde::Deserialize;
use serde_json::json;

type Client = Option<Extension<ConnectInfo<std::net::SocketAddr>>>;

/// The longest update message accepted.
pub(crate) const MESSAGE_LIMIT: usize = 5_000;
/// The longest title accepted.
pub(crate) const TITLE_LIMIT: usize = 200;
/// The largest admin request body read (a message of the longest length, JSON-escaped).
const BODY_LIMIT: usize = 64 * 1024;
/// An admin request body must arrive within this.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads a request body, only once the client is admitted: at most `BODY_LIMIT` bytes,
/// within `BODY_TIMEOUT`.
async fn read_body(body: axum::body::Body) -> Result<axum::body::Bytes, ApiError> {
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, BODY_LIMIT)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body must be at most {BODY_LIMIT} bytes (or it was cut off)"),
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            ),
        )),
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8], example: &str) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|error| bad(format!("the body must be JSON like {example}: {error}")))
}

fn incident_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| bad(format!("incident id must be a number, got `{text}`")))
}

/// Checks a message: 1 to `MESSAGE_LIMIT` characters without control characters.
pub(crate) fn read_message(message: &str) -> Result<String, String> {
    let message = message.trim().replace("\r\n", "\n");
    if pharos_config::has_control_characters(&message) {
        return Err(
            "`message` holds control characters; only text, newlines and tabs are allowed".into(),
        );
    }
    if message.is_empty() || message.chars().count() > MESSAGE_LIMIT {
        return Err(format!(
            "`message` must hold 1 to {MESSAGE_LIMIT} characters"
        ));
    }
    Ok(message)
}

/// Checks a title: 1 to `TITLE_LIMIT` characters on one line.
pub(crate) fn read_title(title: &str) -> Result<String, String> {
    let title = title.trim();
    if title.is_empty()
        || title.chars().count() > TITLE_LIMIT
        || title.chars().any(char::is_control)
    {
        return Err(format!(
            "`title` must hold 1 to {TITLE_LIMIT} characters on one line"
        ));
    }
    Ok(title.to_owned())
}

/// Reads a time: RFC 3339 (`2026-12-06T14:00:00Z`), or a date and time without a zone
/// (`2026-12-06T14:00`, as a browser's form sends it), taken as UTC. Empty is none.
pub(crate) fn read_time(name: &str, text: &str) -> Result<Option<DateTime<Utc>>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Some(at.and_utc()));
        }
    }
    Err(format!(
        "`{name}` must be a time like 2026-12-06T14:00:00Z (or 2026-12-06T14:00, UTC), got `{text}`"
    ))
}

/// Checks an operator's update: a phase they may post (not `resolved`: that is its own
/// step), a message, and the optional times; says what is wrong otherwise.
pub(crate) fn read_update(
    status: &str,
    message: &str,
    expected_by: &str,
    next_update_by: &str,
) -> Result<OperatorUpdate, String> {
    let phase = match IncidentPhase::parse(status.trim()) {
        Some(IncidentPhase::Resolved) | None => {
            return Err(format!(
                "`status` must be investigating, identified or monitoring, got `{status}` (resolve an incident with its resolve step)"
            ))
        }
        Some(phase) => phase,
    };
    Ok(OperatorUpdate {
        phase,
        message: read_message(message)?,
        expected_by: read_time("expected_by", expected_by)?,
        next_update_by: read_time("next_update_by", next_update_by)?,
    })
}

/// Reads an impact an operator may declare.
pub(crate) fn read_impact(text: &str) -> Result<ComponentStatus, String> {
    ComponentStatus::parse(text.trim())
        .filter(|status| status.is_incident())
        .ok_or_else(|| {
            format!("`impact` must be degraded_performance, partial_outage or major_outage, got `{text}`")
        })
}

/// Reads other affected components and their impacts (`{"imap": "partial_outage"}`); in an
/// update, `operational` says a component is no longer affected.
pub(crate) fn read_affected(
    affected: &std::collections::BTreeMap<String, String>,
    joining_only: bool,
) -> Result<Vec<(ComponentId, ComponentStatus)>, String> {
    affected
        .iter()
        .map(|(component, impact)| {
            let status = ComponentStatus::parse(impact.trim())
                .filter(|status| status.is_incident() || (!joining_only && *status == ComponentStatus::Operational))
                .ok_or_else(|| {
                    let choices = if joining_only {
                        "degraded_performance, partial_outage or major_outage"
                    } else {
                        "degraded_performance, partial_outage, major_outage or operational (no longer affected)"
                    };
                    format!("the impact on `{component}` must be {choices}, got `{impact}`")
                })?;
            Ok((ComponentId::new(component.trim()), status))
        })
        .collect()
}

/// The API's answer to an engine's refusal.
pub(crate) fn refusal(error: CommandError) -> ApiError {
    let status = match &error {
        CommandError::NoOpenIncident(_) => StatusCode::NOT_FOUND,
        CommandError::Invalid(_) | CommandError::ResolveByRecovery => StatusCode::BAD_REQUEST,
        CommandError::Refused(_) => StatusCode::CONFLICT,
        CommandError::Stopping => StatusCode::SERVICE_UNAVAILABLE,
    };
    ApiError::new(status, error.to_string())
}

fn excerpt(text: &str) -> String {
    text.chars().take(200).collect()
}

/// The incident as stored, or 404.
async fn stored_incident(state: &WebState, id: i64) -> Result<Incident, ApiError> {
    state
        .store
        .incident(id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("there is no incident {id}")))
}

/// Posts an operator's update (with a new title or impact if given).
pub(crate) async fn submit_update(
    state: &WebState,
    operator: &Operator,
    id: i64,
    update: OperatorUpdate,
    title: Option<String>,
    impact: Option<ComponentStatus>,
    affected: Vec<(ComponentId, ComponentStatus)>,
) -> Result<pharos_core::IncidentUpdate, ApiError> {
    let engine = engine_for_writes(state).await?;
    let detail = format!("{}: {}", update.phase.as_str(), excerpt(&update.message));
    let amendment = Amendment {
        update,
        title,
        impact,
        affected,
        by: operator.name.clone(),
    };
    let update = engine.amend(id, amendment).await.map_err(refusal)?;
    operator
        .audit(
            state,
            "incident.update",
            Some(format!("incident {id}")),
            Some(detail),
        )
        .await;
    Ok(update)
}

/// Opens an incident by hand.
pub(crate) async fn submit_declaration(
    state: &WebState,
    operator: &Operator,
    declaration: Declaration,
) -> Result<Incident, ApiError> {
    let engine = engine_for_writes(state).await?;
    let incident = engine.declare(declaration).await.map_err(refusal)?;
    operator
        .audit(
            state,
            "incident.open",
            Some(format!("incident {}", incident.id)),
            Some(format!(
                "{} ({}): {}",
                incident.component,
                incident.impact.as_str(),
                excerpt(&incident.title)
            )),
        )
        .await;
    Ok(incident)
}

/// Resolves an open incident by hand.
pub(crate) async fn submit_resolution(
    state: &WebState,
    operator: &Operator,
    id: i64,
    message: String,
) -> Result<Incident, ApiError> {
    let engine = engine_for_writes(state).await?;
    let detail = excerpt(&message);
    let incident = engine
        .resolve(id, message, operator.name.clone())
        .await
        .map_err(refusal)?;
    operator
        .audit(
            state,
            "incident.resolve",
            Some(format!("incident {id}")),
            Some(detail),
        )
        .await;
    Ok(incident)
}

/// Reopens a resolved incident by hand.
pub(crate) async fn submit_reopening(
    state: &WebState,
    operator: &Operator,
    id: i64,
    update: OperatorUpdate,
) -> Result<Incident, ApiError> {
    let engine = engine_for_writes(state).await?;
    let incident = stored_incident(state, id).await?;
    let detail = format!("{}: {}", update.phase.as_str(), excerpt(&update.message));
    let incident = engine
        .reopen(incident, update, operator.name.clone())
        .await
        .map_err(refusal)?;
    operator
        .audit(
            state,
            "incident.reopen",
            Some(format!("incident {id}")),
            Some(detail),
        )
        .await;
    Ok(incident)
}

/// Marks an incident a false alarm with the operator's reason.
pub(crate) async fn submit_false_alarm(
    state: &WebState,
    operator: &Operator,
    id: i64,
    reason: &str,
) -> Result<Incident, ApiError> {
    let reason = read_title(reason).map_err(|_| {
        bad(format!(
            "say why in 1 to {TITLE_LIMIT} characters on one line"
        ))
    })?;
    let engine = engine_for_writes(state).await?;
    let incident = stored_incident(state, id).await?;
    let incident = engine
        .false_alarm(incident, reason.clone(), operator.name.clone())
        .await
        .map_err(refusal)?;
    operator
        .audit(
            state,
            "incident.false_alarm",
            Some(format!("incident {id}")),
            Some(format!("{}: {reason}", excerpt(&incident.title))),
        )
        .await;
    Ok(incident)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FalseAlarmBody {
    reason: String,
}

/// `POST /api/v1/admin/incidents/{id}/false-alarm`: `{"reason": "…"}`; the incident closes
/// (if open) and leaves the page, the feeds, the APIs and uptime.
pub(crate) async fn post_false_alarm(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<String>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let operator = admit(&state, &headers, client, Permission::Incidents).await?;
    let body = read_body(body).await?;
    let id = incident_id(&id)?;
    let request: FalseAlarmBody = json_body(&body, r#"{"reason": "..."}"#)?;
    submit_false_alarm(&state, &operator, id, &request.reason).await?;
    Ok(Json(json!({ "incident": id, "false_alarm": true })).into_response())
}

/// The longest postmortem accepted.
pub(crate) const POSTMORTEM_LIMIT: usize = 50_000;

/// Corrects (`Some`) or deletes (`None`) the `number`th update (from 1, oldest first) of an
/// incident; the audit log keeps the words as they were.
pub(crate) async fn submit_edit(
    state: &WebState,
    operator: &Operator,
    id: i64,
    number: usize,
    message: Option<String>,
) -> Result<(), ApiError> {
    let engine = engine_for_writes(state).await?;
    let incident = stored_incident(state, id).await?;
    let Some(posted_at) = number
        .checked_sub(1)
        .and_then(|index| incident.updates.get(index))
        .map(|update| update.at)
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "incident {id} has no update {number} (it has {})",
                incident.updates.len()
            ),
        ));
    };
    let deleting = message.is_none();
    let before = engine
        .edit_update(incident, posted_at, message)
        .await
        .map_err(refusal)?;
    operator
        .audit(
            state,
            if deleting {
                "incident.update.delete"
            } else {
                "incident.update.edit"
            },
            Some(format!("incident {id}, update {number}")),
            Some(format!("before: {}", excerpt(&before.message))),
        )
        .await;
    Ok(())
}

/// Writes an incident's postmortem (Markdown).
pub(crate) async fn submit_postmortem(
    state: &WebState,
    operator: &Operator,
    id: i64,
    text: &str,
) -> Result<(), ApiError> {
    let text = text.trim().replace("\r\n", "\n");
    if text.is_empty()
        || text.chars().count() > POSTMORTEM_LIMIT
        || pharos_config::has_control_characters(&text)
    {
        return Err(bad(format!(
            "a postmortem is 1 to {POSTMORTEM_LIMIT} characters of text"
        )));
    }
    let engine = engine_for_writes(state).await?;
    stored_incident(state, id).await?;
    engine
        .set_postmortem(id, text.clone())
        .await
        .map_err(refusal)?;
    operator
        .audit(
            state,
            "incident.postmortem",
            Some(format!("incident {id}")),
            Some(excerpt(&text)),
        )
        .await;
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostmortemBody {
    text: String,
}

/// `POST /api/v1/admin/incidents/{id}/postmortem`: `{"text": "…"}` (Markdown).
pub(crate) async fn post_postmortem(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<String>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let operator = admit(&state, &headers, client, Permission::Incidents).await?;
    let body = read_body(body).await?;
    let id = incident_id(&id)?;
    let written: PostmortemBody = json_body(&body, r#"{"text": "..."}"#)?;
    submit_postmortem(&state, &operator, id, &written.text).await?;
    Ok(Json(json!({ "incident": id, "postmortem": true })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Correction {
    message: String,
}

fn update_number(text: &str) -> Result<usize, ApiError> {
    text.parse()
        .ok()
        .filter(|number| *number > 0)
        .ok_or_else(|| bad(format!("an update's number counts from 1, got `{text}`")))
}

/// `POST /api/v1/admin/incidents/{id}/updates/{n}/edit`: `{"message": "…"}` corrects the
/// `n`th update (oldest first); the page shows it as edited.
pub(crate) async fn edit_update(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path((id, number)): Path<(String, String)>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let operator = admit(&state, &headers, client, Permission::Incidents).await?;
    let body = read_body(body).await?;
    let (id, number) = (incident_id(&id)?, update_number(&number)?);
    let correction: Correction = json_body(&body, r#"{"message": "..."}"#)?;
    let message = read_message(&correction.message).map_err(bad)?;
    submit_edit(&state, &operator, id, number, Some(message)).await?;
    Ok(Json(json!({ "incident": id, "update": number, "edited": true })).into_response())
}

/// `POST /api/v1/admin/incidents/{id}/updates/{n}/delete`: removes the `n`th update (not the
/// first); the audit log keeps its words.
pub(crate) async fn delete_update(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path((id, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let operator = admit(&state, &headers, client, Permission::Incidents).await?;
    let (id, number) = (incident_id(&id)?, update_number(&number)?);
    submit_edit(&state, &operator, id, number, None).await?;
    Ok(Json(json!({ "incident": id, "update": number, "deleted": true })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUpdate {
    status: String,
    message: String,
    #[serde(default)]
    expected_by: Option<String>,
    #[serde(default)]
    next_update_by: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    impact: Option<String>,
    #[serde(default)]
    affected: std::collections::BTreeMap<String, String>,
}

fn update_json(id: i64, update: &pharos_core::IncidentUpdate) -> serde_json::Value {
    json!({
        "incident": id,
        "at": time(update.at),
        "status": update.phase.as_str(),
        "message": update.message,
        "automatic": update.automatic,
        "expected_by": update.expected_by.map(time),
        "next_update_by": update.next_update_by.map(time),
    })
}

fn incident_json(incident: &Incident) -> serde_json::Value {
    json!({
        "id": incident.id,
        "component": incident.component.as_str(),
        "title": incident.title,
        "status": incident.phase.as_str(),
        "impact": incident.impact.as_str(),
        "affected": incident
            .affected_dependents()
            .map(|dependent| (dependent.component.to_string(), json!(dependent.status.as_str())))
            .collect::<serde_json::Map<_, _>>(),
        "started_at": time(incident.started_at),
        "resolved_at": incident.resolved_at.map(time),
        "updates": incident.updates.iter().map(|update| update_json(incident.id, update)).collect::<Vec<_>>(),
    })
}

/// `POST /api/v1/admin/incidents/{id}/updates`: `status` investigating, identified or
/// monitoring, a `message`, and optionally `expected_by`, `next_update_by` (RFC 3339),
/// `title`, and for an incident opened by hand `impact` and `affected` (other components'
/// impacts, `operational` for one no longer affected). 201 once saved and its notifications
/// queued.
pub(crate) async fn post_update(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<String>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let operator = admit(&state, &headers, client, Permission::Incidents).await?;
    let body = read_body(body).await?;
    let id = incident_id(&id)?;
    let update: NewUpdate = json_body(
        &body,
        r#"{"status": "identified", "message": "...", "expected_by": "2026-12-06T14:00:00Z"}"#,
    )?;
    let words = read_update(
        &update.status,
        &update.message,
        update.expected_by.as_deref().unwrap_or(""),
        update.next_update_by.as_deref().unwrap_or(""),
    )
    .map_err(bad)?;
    let title = update
        .title
        .as_deref()
        .map(read_title)
        .transpose()
        .map_err(bad)?;
    let impact = update
        .impact
        .as_deref()
        .map(read_impact)
        .transpose()
        .map_err(bad)?;
    let affected = read_affected(&update.affected, false).map_err(bad)?;
    let posted = submit_update(&state, &operator, id, words, title, impact, affected).await?;
    Ok((StatusCode::CREATED, Json(update_json(id, &posted))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewIncident {
    component: String,
    title: String,
    impact: String,
    message: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    expected_by: Option<String>,
    #[serde(default)]
    next_update_by: Option<String>,
    #[serde(default)]
    affected: std::collections::BTreeMap<String, String>,
}

/// `POST /api/v1/admin/incidents`: opens an incident by hand on a `component` (with a
/// `title`, an `impact`, a first `message`, optionally a `status`, the times, and `affected`:
/// other components and their impacts). 201 with
/// the incident.
pub(crate) async fn open_incident(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let operator = admit(&state, &headers, client, Permission::Incidents).await?;
    let body = read_body(body).await?;
    let new: NewIncident = json_body(
        &body,
        r#"{"component": "mail", "title": "...", "impact": "partial_outage", "message": "..."}"#,
    )?;
    let declaration = Declaration {
        component: ComponentId::new(new.component.trim()),
        also: read_affected(&new.affected, true).map_err(bad)?,
        title: read_title(&new.title).map_err(bad)?,
        impact: read_impact(&new.impact).map_err(bad)?,
        update: read_update(
            new.status.as_deref().unwrap_or("investigating"),
            &new.message,
            new.expected_by.as_deref().unwrap_or(""),
            new.next_update_by.as_deref().unwrap_or(""),
        )
        .map_err(bad)?,
        by: operator.name.clone(),
    };
    let incident = submit_declaration(&state, &operator, declaration).await?;
    Ok((StatusCode::CREATED, Json(incident_json(&incident))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Resolution {
    message: String,
}

/// `POST /api/v1/admin/incidents/{id}/resolve`: resolves an open incident with a `message`.
pub(crate) async fn resolve_incident(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<String>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let operator = admit(&state, &headers, client, Permission::Incidents).await?;
    let body = read_body(body).await?;
    let id = incident_id(&id)?;
    let resolution: Resolution = json_body(&body, r#"{"message": "..."}"#)?;
    let message = read_message(&resolution.message).map_err(bad)?;
    let incident = submit_resolution(&state, &operator, id, message).await?;
    Ok(Json(incident_json(&incident)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reopening {
    message: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    expected_by: Option<String>,
    #[serde(default)]
    next_update_by: Option<String>,
}

/// `POST /api/v1/admin/incidents/{id}/reopen`: reopens a resolved incident with a `message`
/// (and optionally a `status` and the times).
pub(crate) async fn reopen_incident(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<String>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let operator = admit(&state, &headers, client, Permission::Incidents).await?;
    let body = read_body(body).await?;
    let id = incident_id(&id)?;
    let reopening: Reopening = json_body(&body, r#"{"message": "..."}"#)?;
    let update = read_update(
        reopening.status.as_deref().unwrap_or("investigating"),
        &reopening.message,
        reopening.expected_by.as_deref().unwrap_or(""),
        reopening.next_update_by.as_deref().unwrap_or(""),
    )
    .map_err(bad)?;
    let incident = submit_reopening(&state, &operator, id, update).await?;
    Ok(Json(incident_json(&incident)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_as_rfc_3339_or_as_a_forms_utc_time() {
        let expected = DateTime::parse_from_rfc3339("2026-12-06T14:00:00Z").unwrap();
        assert_eq!(
            read_time("t", "2026-12-06T14:00:00Z").unwrap(),
            Some(expected.into())
        );
        assert_eq!(
            read_time("t", "2026-12-06T15:00:00+01:00").unwrap(),
            Some(expected.into())
        );
        assert_eq!(
            read_time("t", "2026-12-06T14:00").unwrap(),
            Some(expected.into())
        );
        assert_eq!(read_time("t", " ").unwrap(), None);
        assert!(read_time("expected_by", "tomorrow")
            .unwrap_err()
            .contains("`expected_by`"));
    }

    #[test]
    fn an_update_is_not_a_resolution_and_needs_words() {
        assert!(read_update("resolved", "done", "", "")
            .unwrap_err()
            .contains("resolve step"));
        assert!(read_update("identified", "  ", "", "").is_err());
        assert!(read_update("identified", "a\u{1b}[31m", "", "").is_err());
        let update =
            read_update("identified", "Found it.\r\nFixing.", "", "2026-12-06T14:00").unwrap();
        assert_eq!(update.message, "Found it.\nFixing.");
        assert!(update.next_update_by.is_some());
        assert!(read_impact("operational").is_err());
        assert!(read_title(&"x".repeat(201)).is_err());
    }
}
