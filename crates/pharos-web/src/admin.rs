//! Admin endpoints: bearer-token authenticated, and off entirely without a configured token.

use crate::api::time;
use crate::operator::Operator;
use crate::router::WebState;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use pharos_core::{Permission, Role};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

/// An API error: a status and a message safe to show; internal details go to the log only.
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = axum::http::HeaderValue::from_str(&seconds.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<pharos_store::StoreError> for ApiError {
    fn from(error: pharos_store::StoreError) -> Self {
        tracing::error!(%error, "admin API: store error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

/// What every admin endpoint checks first: the bearer token (a user's API token, or the
/// configured admin token), then whether it allows `permission`. A valid token always passes
/// (others' failures from the same address never lock it out); wrong tokens are counted per
/// client address, and past the budget answered 429 with `Retry-After`, after a pause that
/// slows guessing down.
pub(crate) async fn admit(
    state: &WebState,
    headers: &HeaderMap,
    client: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    permission: Permission,
) -> Result<Operator, ApiError> {
    let peer = client.map(|Extension(ConnectInfo(address))| address.ip());
    let address = client_address(&state.current().trusted_proxies, peer, headers);
    let refusal = match authorize(state, headers, address).await {
        Ok(operator) if operator.may(permission) => return Ok(operator),
        Ok(operator) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "{} may not do this: it needs the `{permission}` scope and a role that allows it (theirs: {})",
                    operator.actor(),
                    operator.role
                ),
            ))
        }
        Err(refusal) if refusal.status == StatusCode::NOT_FOUND => return Err(refusal),
        Err(refusal) if refusal.status == StatusCode::INTERNAL_SERVER_ERROR => {
            return Err(refusal)
        }
        Err(refusal) => refusal,
    };
    forget_idle_clients(&state.admin_limiter);
    match state.admin_limiter.check_key(&address) {
        Ok(()) => Err(refusal),
        Err(not_until) => {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            tokio::time::sleep(GUESS_PAUSE).await;
            let seconds = wait.as_secs() + 1;
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many failed admin requests from {address}; retry in {seconds} s"),
            )
            .retry_after(seconds))
        }
    }
}

/// Failed admin requests allowed per client address: a burst, refilled per minute.
const ADMIN_BURST: u32 = 30;
const ADMIN_PER_MINUTE: u32 = 10;
/// A refused guess past the budget waits this long before its answer.
const GUESS_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);
/// The limiter forgets clients that have been quiet once it tracks this many.
const TRACKED_CLIENTS: usize = 10_000;

/// Counts failed admin requests per client address, so tokens cannot be guessed at speed.
pub(crate) type AdminLimiter = governor::DefaultKeyedRateLimiter<std::net::IpAddr>;

pub(crate) fn admin_limiter() -> Arc<AdminLimiter> {
    let quota =
        governor::Quota::per_minute(std::num::NonZeroU32::new(ADMIN_PER_MINUTE).expect("non-zero"))
            .allow_burst(std::num::NonZeroU32::new(ADMIN_BURST).expect("non-zero"));
    Arc::new(governor::RateLimiter::keyed(quota))
}

/// Drops clients whose budget is full again, once many are tracked, so that a flood of
/// source addresses cannot grow memory for good.
fn forget_idle_clients(limiter: &AdminLimiter) {
    if limiter.len() >= TRACKED_CLIENTS {
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }
}

/// The client's address: the peer's, or, when the peer is a trusted reverse proxy, the
/// nearest untrusted address in `X-Forwarded-For`.
pub(crate) fn client_address(
    trusted: &[pharos_config::IpNet],
    peer: Option<std::net::IpAddr>,
    headers: &HeaderMap,
) -> std::net::IpAddr {
    let peer = peer.unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let is_trusted = |address: std::net::IpAddr| trusted.iter().any(|net| net.contains(address));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| entry.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .copied()
        .find(|address| !is_trusted(*address))
        .or(forwarded.first().copied())
        .unwrap_or(peer)
}

/// Checks the bearer token: a user's API token (by its prefix) in the store, any other
/// against the configured admin token (comparing digests keeps the time independent of where
/// they differ).
async fn authorize(
    state: &WebState,
    headers: &HeaderMap,
    address: std::net::IpAddr,
) -> Result<Operator, ApiError> {
    let current = state.current();
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    if let Some(token) =
        presented.filter(|token| token.starts_with(crate::credentials::API_TOKEN_PREFIX))
    {
        return match crate::operator::from_api_token(state, token, address).await? {
            Some(operator) => Ok(operator),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unknown or revoked API token",
            )),
        };
    }
    let Some(expected) = &current.admin_token else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "admin endpoints are disabled: set server.admin_token or use a user's API token",
        ));
    };
    let presented =
        presented.ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing bearer token"))?;
    if !crate::operator::same_secret(presented, expected.expose_secret()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong bearer token",
        ));
    }
    Ok(Operator {
        name: "admin_token".into(),
        role: Role::Admin,
        credential: crate::operator::Credential::ConfigToken,
        address,
    })
}

#[derive(Deserialize)]
pub(crate) struct DeliveriesQuery {
    limit: Option<String>,
}

#[derive(Serialize)]
struct AttemptDto {
    at: String,
    duration_ms: u128,
    status_code: Option<u16>,
    error: Option<String>,
}

pub(crate) async fn deliveries(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    Query(query): Query<DeliveriesQuery>,
) -> Result<Response, ApiError> {
    admit(&state, &headers, client, Permission::Read).await?;
    let limit = match query.limit.as_deref() {
        None => 50,
        Some(text) => match text.parse::<u32>() {
            Ok(limit @ 1..=500) => limit,
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("`limit` must be a whole number from 1 to 500, got `{text}`"),
                ))
            }
        },
    };
    let messages = state.store.recent_messages(limit).await?;
    let deliveries: Vec<_> = messages
        .into_iter()
        .map(|(message, attempts)| {
            json!({
                "id": message.id,
                "channel": message.channel_id,
                "event": message.event.as_str(),
                "state": message.state.as_str(),
                "created_at": time(message.created_at),
                "next_attempt_at": (message.state == pharos_store::MessageState::Pending).then(|| time(message.next_attempt_at)),
                "give_up_at": time(message.give_up_at),
                "delivered_at": message.delivered_at.map(time),
                "last_error": message.last_error,
                "chain": message.chain.map(|link| json!({ "id": link.id, "step": link.step })),
                "attempts": attempts.into_iter().map(|attempt| AttemptDto {
                    at: time(attempt.at),
                    duration_ms: attempt.duration.as_millis(),
                    status_code: attempt.status_code,
                    error: attempt.error,
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let channels: Vec<_> = state
        .current()
        .engine
        .topology
        .notifier
        .health()
        .snapshot()
        .into_iter()
        .map(|(id, kind, health)| {
            json!({
                "id": id,
                "type": kind,
                "healthy": !health.unhealthy,
                "consecutive_failures": health.consecutive_failures,
                "failing_since": health.failing_since.map(time),
                "last_error": health.last_error,
                "delivered": health.delivered,
                "failed": health.failed,
            })
        })
        .collect();
    Ok(Json(json!({ "channels": channels, "deliveries": deliveries })).into_response())
}

#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    limit: Option<String>,
    before: Option<String>,
}

/// `GET /api/v1/admin/audit`: the newest entries of the audit log (`limit` 1 to 500, 100 by
/// default), older than the entry `before` when given.
pub(crate) async fn audit_log(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    Query(query): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    admit(&state, &headers, client, Permission::Read).await?;
    let limit = match query.limit.as_deref() {
        None => 100,
        Some(text) => match text.parse::<u32>() {
            Ok(limit @ 1..=500) => limit,
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("`limit` must be a whole number from 1 to 500, got `{text}`"),
                ))
            }
        },
    };
    let before = match query.before.as_deref() {
        None => None,
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("`before` must be an entry's id, got `{text}`"),
            )
        })?),
    };
    let entries: Vec<_> = state
        .store
        .audit_log(limit, before)
        .await?
        .into_iter()
        .map(|entry| {
            json!({
                "id": entry.id,
                "at": time(entry.at),
                "actor": entry.actor,
                "action": entry.action,
                "target": entry.target,
                "detail": entry.detail,
                "address": entry.address,
            })
        })
        .collect();
    Ok(Json(json!({ "entries": entries })).into_response())
}

/// The engine, if this replica leads and the store takes writes; otherwise why not (503).
pub(crate) async fn engine_for_writes(
    state: &WebState,
) -> Result<pharos_engine::EngineHandle, ApiError> {
    let current = state.current();
    if let Some(replica) = current.replica.as_ref().filter(|replica| !replica.leading) {
        let leader = state
            .store
            .current_lease("engine")
            .await
            .ok()
            .flatten()
            .map_or_else(|| "none yet".to_owned(), |lease| lease.holder);
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "replica {} follows: post updates to the replica that leads ({leader})",
                replica.id
            ),
        )
        .retry_after(5));
    }
    let engine = current.engine.clone();
    let fault = engine
        .live
        .read()
        .ok()
        .and_then(|live| live.store_fault.clone());
    if let Some(fault) = fault {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "pharos cannot save anything since {}: {}; try again once it can",
                time(fault.since),
                fault.reason
            ),
        )
        .retry_after(30));
    }
    Ok(engine)
}

/// Reloads the configuration file: validated first, applied whole or not at all. Answers with
/// what runs now, or every problem with its file:line:col.
pub(crate) async fn reload(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
) -> Result<Response, ApiError> {
    let operator = admit(&state, &headers, client, Permission::Admin).await?;
    let Some(reloads) = state.reloads() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "there is no configuration file to reload (pharos runs the built-in demo)",
        ));
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    if reloads
        .send(crate::router::ReloadRequest { reply })
        .await
        .is_err()
    {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "pharos is stopping",
        ));
    }
    let answer = answer.await;
    let outcome = match &answer {
        Ok(Ok(_)) => "applied",
        Ok(Err(crate::router::ReloadRefused::Invalid(_))) => "refused: invalid",
        Ok(Err(crate::router::ReloadRefused::Failed(_))) => "refused: could not be applied",
        Err(_) => "stopping",
    };
    operator
        .audit(&state, "config.reload", None, Some(outcome.into()))
        .await;
    match answer {
        Ok(Ok(summary)) => Ok(Json(json!({
            "reloaded": true,
            "components": summary.components,
            "monitors": summary.monitors,
            "channels": summary.channels,
        }))
        .into_response()),
        Ok(Err(crate::router::ReloadRefused::Invalid(problems))) => {
            let body = json!({
                "error": "the configuration has problems; nothing of it was applied",
                "problems": problems,
            });
            Ok((StatusCode::BAD_REQUEST, Json(body)).into_response())
        }
        Ok(Err(crate::router::ReloadRefused::Failed(reason))) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "the configuration could not be applied; the previous one still runs: {reason}"
            ),
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "pharos is stopping",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before: a million source addresses grew the limiter by 68 MB, never freed.
    #[test]
    fn the_limiter_forgets_clients_whose_budget_is_full_again() {
        let quota = governor::Quota::per_second(std::num::NonZeroU32::new(1000).unwrap());
        let limiter: AdminLimiter = governor::RateLimiter::keyed(quota);
        for index in 0..(TRACKED_CLIENTS as u32 + 500) {
            let _ = limiter.check_key(&std::net::IpAddr::from(index.to_be_bytes()));
        }
        assert!(limiter.len() > TRACKED_CLIENTS);
        std::thread::sleep(std::time::Duration::from_millis(20));
        forget_idle_clients(&limiter);
        assert_eq!(limiter.len(), 0, "idle clients are forgotten");
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let trusted = [pharos_config::IpNet::parse("10.0.0.0/8").unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.7, 10.1.2.3".parse().unwrap());
        let proxy = std::net::IpAddr::from([10, 0, 0, 1]);
        let stranger = std::net::IpAddr::from([198, 51, 100, 1]);
        assert_eq!(
            client_address(&trusted, Some(proxy), &headers),
            std::net::IpAddr::from([203, 0, 113, 7])
        );
        assert_eq!(client_address(&trusted, Some(stranger), &headers), stranger);
        assert_eq!(client_address(&[], Some(proxy), &headers), proxy);
    }
}
