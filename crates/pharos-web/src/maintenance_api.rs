//! Maintenance windows at run time: list every window (the configuration's and the scheduled
//! ones), schedule one, cancel a scheduled one. Taken by the engine on the replica that
//! leads, answered once saved, recorded in the audit log; the admin's page shares the checks.

use crate::admin::{admit, engine_for_writes, ApiError};
use crate::api::time;
use crate::incident_api::{read_message, read_time, read_title};
use crate::operator::Operator;
use crate::router::WebState;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use pharos_core::maintenance::MaintenanceWindow;
use pharos_core::{ComponentId, Permission};
use serde::Deserialize;
use serde_json::json;

type Client = Option<Extension<ConnectInfo<std::net::SocketAddr>>>;

/// What an operator asks for, as typed (a form's fields or a JSON body).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WindowRequest {
    pub(crate) title: String,
    pub(crate) components: Vec<String>,
    pub(crate) start: String,
    #[serde(default)]
    pub(crate) duration: Option<String>,
    #[serde(default)]
    pub(crate) end: Option<String>,
    #[serde(default)]
    pub(crate) every: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
}

fn duration(name: &str, text: &str) -> Result<chrono::Duration, String> {
    humantime::parse_duration(text.trim())
        .ok()
        .and_then(|duration| chrono::Duration::from_std(duration).ok())
        .filter(|duration| *duration > chrono::Duration::zero())
        .ok_or_else(|| format!("`{name}` must be a duration like 30m, 2h or 7d, got `{text}`"))
}

/// Checks a request and makes the window (with a new id); says what is wrong otherwise.
pub(crate) fn read_window(request: &WindowRequest) -> Result<MaintenanceWindow, String> {
    let start = read_time("start", &request.start)?.ok_or("`start` is needed")?;
    let filled = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    };
    let length = match (filled(&request.duration), filled(&request.end)) {
        (Some(text), None) => duration("duration", &text)?,
        (None, Some(text)) => {
            let end = read_time("end", &text)?.ok_or("`end` is needed")?;
            if end <= start {
                return Err("`end` must be later than `start`".into());
            }
            end - start
        }
        _ => return Err("give either `duration` or `end`".into()),
    };
    let every = filled(&request.every)
        .map(|text| duration("every", &text))
        .transpose()?;
    let message = filled(&request.message)
        .map(|text| read_message(&text))
        .transpose()?;
    let components: Vec<ComponentId> = request
        .components
        .iter()
        .map(|id| id.trim())
        .filter(|id| !id.is_empty())
        .map(ComponentId::new)
        .collect();
    Ok(MaintenanceWindow {
        id: crate::credentials::short_id("m", 8),
        title: read_title(&request.title)?,
        components,
        start,
        length,
        every,
        message,
    })
}

/// Schedules a window; the audit log records it.
pub(crate) async fn submit_window(
    state: &WebState,
    operator: &Operator,
    window: MaintenanceWindow,
) -> Result<MaintenanceWindow, ApiError> {
    let engine = engine_for_writes(state).await?;
    let window = engine
        .schedule_maintenance(window, operator.name.clone())
        .await
        .map_err(crate::incident_api::refusal)?;
    let components: Vec<&str> = window.components.iter().map(ComponentId::as_str).collect();
    operator
        .audit(
            state,
            "maintenance.schedule",
            Some(format!("maintenance {}", window.id)),
            Some(format!(
                "{} ({}) from {}",
                window.title,
                components.join(", "),
                time(window.start)
            )),
        )
        .await;
    Ok(window)
}

/// Cancels a scheduled window; the audit log records it.
pub(crate) async fn submit_cancellation(
    state: &WebState,
    operator: &Operator,
    id: &str,
) -> Result<MaintenanceWindow, ApiError> {
    let engine = engine_for_writes(state).await?;
    let window = engine
        .cancel_maintenance(id.to_owned(), operator.name.clone())
        .await
        .map_err(crate::incident_api::refusal)?;
    operator
        .audit(
            state,
            "maintenance.cancel",
            Some(format!("maintenance {id}")),
            Some(window.title.clone()),
        )
        .await;
    Ok(window)
}

/// A window as the API shows it, with its current or next occurrence and where it comes from.
pub(crate) fn window_json(window: &MaintenanceWindow, scheduled: bool) -> serde_json::Value {
    let next = window.current_or_next(Utc::now());
    json!({
        "id": window.id,
        "title": window.title,
        "components": window.components.iter().map(ComponentId::as_str).collect::<Vec<_>>(),
        "start": time(window.start),
        "duration_seconds": window.length.num_seconds(),
        "every_seconds": window.every.map(|every| every.num_seconds()),
        "message": window.message,
        "source": if scheduled { "scheduled" } else { "configuration" },
        "next": next.map(|occurrence| json!({
            "start": time(occurrence.start),
            "end": time(occurrence.end),
            "under_way": occurrence.is_under_way(Utc::now()),
        })),
    })
}

/// Every window (the configuration's first), with whether it was scheduled at run time.
pub(crate) fn windows(state: &WebState) -> Vec<(MaintenanceWindow, bool)> {
    let current = state.current();
    let configured: Vec<String> = current
        .engine
        .topology
        .maintenance
        .iter()
        .map(|window| window.id.clone())
        .collect();
    let live = current
        .engine
        .live
        .read()
        .map(|live| live.maintenance.clone())
        .unwrap_or_default();
    live.into_iter()
        .map(|window| {
            let scheduled = !configured.contains(&window.id);
            (window, scheduled)
        })
        .collect()
}

/// `GET /api/v1/admin/maintenance`: every window.
pub(crate) async fn list(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
) -> Result<Response, ApiError> {
    admit(&state, &headers, client, Permission::Read).await?;
    let windows: Vec<_> = windows(&state)
        .iter()
        .map(|(window, scheduled)| window_json(window, *scheduled))
        .collect();
    Ok(Json(json!({ "maintenance": windows })).into_response())
}

/// `POST /api/v1/admin/maintenance`: schedules a window.
pub(crate) async fn schedule(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let operator = admit(&state, &headers, client, Permission::Incidents).await?;
    let body = axum::body::to_bytes(body, 64 * 1024).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body must be at most 65536 bytes",
        )
    })?;
    let request: WindowRequest = serde_json::from_slice(&body).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(r#"the body must be JSON like {{"title": "...", "components": ["smtp"], "start": "2026-12-12T22:00:00Z", "duration": "30m"}}: {error}"#),
        )
    })?;
    let window =
        read_window(&request).map_err(|problem| ApiError::new(StatusCode::BAD_REQUEST, problem))?;
    let window = submit_window(&state, &operator, window).await?;
    Ok((StatusCode::CREATED, Json(window_json(&window, true))).into_response())
}

/// `POST /api/v1/admin/maintenance/{id}/cancel`: cancels a scheduled window.
pub(crate) async fn cancel(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let operator = admit(&state, &headers, client, Permission::Incidents).await?;
    let window = submit_cancellation(&state, &operator, &id).await?;
    Ok(Json(json!({ "cancelled": window.id })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(duration: Option<&str>, end: Option<&str>) -> WindowRequest {
        WindowRequest {
            title: "Relay swap".into(),
            components: vec!["smtp".into(), " ".into()],
            start: "2030-01-01T22:00:00Z".into(),
            duration: duration.map(str::to_owned),
            end: end.map(str::to_owned),
            every: Some("7d".into()),
            message: Some("Brief pauses.".into()),
        }
    }

    #[test]
    fn a_window_lasts_a_duration_or_until_an_end() {
        let by_duration = read_window(&request(Some("45m"), None)).unwrap();
        assert_eq!(by_duration.length, chrono::Duration::minutes(45));
        assert_eq!(by_duration.every, Some(chrono::Duration::days(7)));
        assert_eq!(by_duration.components, vec![ComponentId::new("smtp")]);
        let by_end = read_window(&request(None, Some("2030-01-01T23:00:00Z"))).unwrap();
        assert_eq!(by_end.length, chrono::Duration::hours(1));
        assert_ne!(by_duration.id, by_end.id, "each gets its own id");
        assert!(read_window(&request(None, None))
            .unwrap_err()
            .contains("either"));
        assert!(read_window(&request(Some("soon"), None))
            .unwrap_err()
            .contains("`duration`"));
        assert!(read_window(&request(None, Some("2030-01-01T21:00:00Z")))
            .unwrap_err()
            .contains("later"));
    }
}
