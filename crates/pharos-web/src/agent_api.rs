//! The server's side of the agent protocol (`pharos_wire`): one authenticated exchange that
//! takes an agent's results and heartbeat and answers with the acknowledgement, its region's
//! assignment when it changed, and the monitors to check at once.

use crate::router::WebState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use pharos_store::AgentRecord;
use pharos_wire::{AgentReport, Refusal, ServerReply, PROTOCOL};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the server believes its copy of the agents' tokens: a revoked token is refused
/// within this (a token made since is looked up at once).
const TOKENS_FRESH_FOR: Duration = Duration::from_secs(2);

/// How often an idle agent reports (its heartbeat).
const NEXT_REPORT: Duration = Duration::from_secs(1);

/// The agents' tokens as the store last said, by digest.
#[derive(Default)]
pub(crate) struct TokenCache {
    inner: Mutex<Option<(Instant, HashMap<String, AgentRecord>)>>,
}

impl TokenCache {
    /// The agent whose token has this digest, read from the store when the copy is stale
    /// or does not know it (at most once per `TOKENS_FRESH_FOR / 4`).
    async fn find(&self, state: &WebState, digest: &str) -> Result<Option<AgentRecord>, Response> {
        let cached = {
            let guard = self
                .inner
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            guard.as_ref().and_then(|(read_at, by_digest)| {
                let age = read_at.elapsed();
                match by_digest.get(digest) {
                    Some(record) if age < TOKENS_FRESH_FOR => Some(Some(record.clone())),
                    None if age < TOKENS_FRESH_FOR / 4 => Some(None),
                    _ => None,
                }
            })
        };
        if let Some(found) = cached {
            return Ok(found);
        }
        let records = state.store.agents().await.map_err(|error| {
            tracing::warn!(%error, "cannot read the agents' tokens");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server cannot read its agents right now; try again",
            )
        })?;
        let by_digest: HashMap<String, AgentRecord> = records
            .into_iter()
            .map(|record| (record.token_hash.clone(), record))
            .collect();
        let found = by_digest.get(digest).cloned();
        *self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((Instant::now(), by_digest));
        Ok(found)
    }
}

fn refuse(status: StatusCode, error: impl Into<String>) -> Response {
    (
        status,
        Json(Refusal {
            protocol: PROTOCOL,
            error: error.into(),
        }),
    )
        .into_response()
}

/// `POST /api/agent/v1/exchange`.
pub(crate) async fn exchange(
    State(state): State<WebState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match exchange_inner(&state, &headers, &body).await {
        Ok(reply) => Json(reply).into_response(),
        Err(response) => response,
    }
}

async fn exchange_inner(
    state: &WebState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<ServerReply, Response> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| {
            refuse(
                StatusCode::UNAUTHORIZED,
                "missing bearer token (the agent's token)",
            )
        })?;
    let digest = pharos_wire::token::digest(token);
    let agent = state
        .agent_tokens
        .find(state, &digest)
        .await?
        .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, "unknown agent token"))?;
    if agent.revoked_at.is_some() {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            format!("the token of agent `{}` was revoked", agent.name),
        ));
    }
    // The version first, so that a future report shape is refused with the right words.
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|error| {
        refuse(
            StatusCode::BAD_REQUEST,
            format!("the report is not JSON: {error}"),
        )
    })?;
    let version = value.get("protocol").and_then(serde_json::Value::as_u64);
    let Some(version) = version else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "the report has no `protocol` version",
        ));
    };
    pharos_wire::check_version(u32::try_from(version).unwrap_or(u32::MAX))
        .map_err(|error| refuse(StatusCode::CONFLICT, error))?;
    let report: AgentReport = serde_json::from_value(value).map_err(|error| {
        refuse(
            StatusCode::BAD_REQUEST,
            format!("the report cannot be read: {error}"),
        )
    })?;
    if !pharos_config::is_region_name(&report.region) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "`{}` is not a region name (lower-case letters, digits, `-` or `_`)",
                report.region
            ),
        ));
    }
    if report.results.len() > pharos_wire::MAX_RESULTS_PER_REPORT {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "a report carries at most {} results, this one {}",
                pharos_wire::MAX_RESULTS_PER_REPORT,
                report.results.len()
            ),
        ));
    }
    let current = state.current();
    if let Some(replica) = current.replica.as_ref().filter(|replica| !replica.leading) {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "replica {} follows: reports go to the replica that leads (list every replica with --server)",
                replica.id
            ),
        ));
    }
    let assignment = current.assignments.for_region(&report.region);
    let changed = report.generation.as_deref() != Some(assignment.generation.as_str());
    let made: DateTime<Utc> = agent.created_at;
    let answer = current
        .engine
        .agent_report(agent.name.clone(), made, report)
        .await
        .map_err(|error| refuse(StatusCode::SERVICE_UNAVAILABLE, error.to_string()))?;
    Ok(ServerReply {
        protocol: PROTOCOL,
        acked: answer.acked,
        assignment: changed.then_some(pharos_wire::Assignment {
            generation: assignment.generation,
            document: assignment.document,
        }),
        recheck: answer.recheck,
        next_report_ms: NEXT_REPORT.as_millis() as u64,
    })
}
