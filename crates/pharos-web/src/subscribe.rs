//! Subscribing from the status page (no JavaScript): an email address and, if they like, the
//! components they care about; a link mailed to the address confirms it (double opt-in), and
//! every message they get carries a signed link that unsubscribes at once (also as RFC 8058's
//! one-click POST). Sign-ups are limited per client address and per email address, and no
//! page ever shows an address back. Webhook subscriptions are made through the admin API.

use crate::admin::{admit, client_address, ApiError};
use crate::router::WebState;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use chrono::Utc;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use pharos_core::{ComponentId, Permission};
use pharos_notify::subscribers::{check_unsubscribe, Subscribers, UNSUBSCRIBE_KEY};
use pharos_notify::Delivery;
use pharos_store::{SubscriberKind, SubscriberRecord};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

type Client = Option<Extension<ConnectInfo<std::net::SocketAddr>>>;

const STYLE: &str = include_str!("style.css");

/// Sign-ups allowed per client address and per email address, an hour.
const SIGNUPS_PER_HOUR: u32 = 5;

/// Counts sign-ups per client address and per email address.
pub(crate) type SignupLimiter = governor::DefaultKeyedRateLimiter<String>;

pub(crate) fn signup_limiter() -> Arc<SignupLimiter> {
    let quota =
        governor::Quota::per_hour(std::num::NonZeroU32::new(SIGNUPS_PER_HOUR).expect("non-zero"));
    Arc::new(governor::RateLimiter::keyed(quota))
}

fn page(status: StatusCode, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { main { h1 { (title) } (body) p { a href="/" { "← Current status" } } } }
        }
    };
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    response
}

fn subscribers(state: &WebState) -> Option<Arc<Subscribers>> {
    state.current().engine.topology.notifier.subscribers()
}

/// Whether `text` looks like an email address one can write to (what the mail server makes
/// of it is the confirmation's business).
pub(crate) fn is_email_address(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    text.len() <= 254
        && (1..=64).contains(&local.len())
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && text.chars().all(|c| c.is_ascii_graphic() || !c.is_ascii())
        && !text.contains(['<', '>', '"', ',', ';', '(', ')', '[', ']', '\\'])
}

pub(crate) async fn sign_up(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let Some(mailer) = subscribers(&state).filter(|subscribers| subscribers.mails()) else {
        return page(
            StatusCode::NOT_FOUND,
            "Not available",
            html! { p { "This page does not take subscriptions." } },
        );
    };
    let peer = client.map(|Extension(ConnectInfo(address))| address.ip());
    let from = client_address(&state.current().trusted_proxies, peer, &headers);
    let address = fields
        .iter()
        .find(|(key, _)| key == "email")
        .map_or("", |(_, value)| value.trim())
        .to_lowercase();
    if !is_email_address(&address) {
        return page(
            StatusCode::BAD_REQUEST,
            "Subscribe",
            html! { p.problem { "That is not an email address we can write to. Go back and check it." } },
        );
    }
    for key in [format!("ip {from}"), format!("to {address}")] {
        if state.signup_limiter.check_key(&key).is_err() {
            return page(
                StatusCode::TOO_MANY_REQUESTS,
                "Subscribe",
                html! { p.problem { "Too many sign-ups just now; try again in an hour." } },
            );
        }
    }
    let known: Vec<String> = state
        .current()
        .engine
        .topology
        .components
        .iter()
        .map(|component| component.id.to_string())
        .collect();
    let components: Vec<ComponentId> = fields
        .iter()
        .filter(|(key, value)| key == "component" && known.contains(value))
        .map(|(_, value)| ComponentId::new(value.as_str()))
        .collect();
    let token = crate::credentials::session_secret();
    let record = SubscriberRecord {
        id: crate::credentials::short_id("s", 12),
        kind: SubscriberKind::Email,
        address: address.clone(),
        components,
        secret: None,
        confirm_hash: Some(crate::credentials::digest(&token)),
        created_at: Utc::now(),
        confirmed_at: None,
        signed_up_from: Some(from.to_string()),
    };
    if let Err(error) = state.store.save_subscriber(&record).await {
        tracing::error!(%error, "subscribe: store error");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Subscribe",
            html! { p.problem { "We cannot take sign-ups just now; try again in a few minutes." } },
        );
    }
    let title = mailer.title().to_owned();
    let confirm = mailer
        .link(&format!("subscribe/confirm?token={token}"))
        .unwrap_or_default();
    let text = format!("Someone (we hope you) asked for news from {title} at this address.\n\nConfirm (the link works for two days): {confirm}\n\nIf it was not you, ignore this message: nothing will be sent.\n");
    let body = format!(
        "<p>Someone (we hope you) asked for news from {} at this address.</p><p><a href=\"{}\">Confirm the subscription</a> (the link works for two days)</p><p>If it was not you, ignore this message: nothing will be sent.</p>",
        pharos_notify::escape_html(&title),
        pharos_notify::escape_html(&confirm)
    );
    let sent = mailer
        .send(
            &address,
            &format!("Confirm your subscription to {title}"),
            &text,
            &body,
            None,
            None,
        )
        .await;
    if let Delivery::Retry { reason, .. } | Delivery::GiveUp { reason, .. } = &sent {
        tracing::warn!(%reason, "subscribe: the confirmation was not sent");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Subscribe",
            html! { p.problem { "We could not send the confirmation just now; try again in a few minutes." } },
        );
    }
    page(
        StatusCode::OK,
        "Check your inbox",
        html! { p { "If the address can receive mail, a link to confirm the subscription is on its way. Nothing is sent until it is used." } },
    )
}

#[derive(Deserialize)]
pub(crate) struct ConfirmQuery {
    token: Option<String>,
}

pub(crate) async fn confirm(
    State(state): State<WebState>,
    Query(query): Query<ConfirmQuery>,
) -> Response {
    let invalid = || {
        page(
            StatusCode::NOT_FOUND,
            "Subscribe",
            html! { p.problem { "This link is not valid, was used already, or has expired (links work for two days): sign up again on the status page." } },
        )
    };
    let Some(token) = query.token.filter(|token| !token.is_empty()) else {
        return invalid();
    };
    match state
        .store
        .confirm_subscriber(&crate::credentials::digest(&token), Utc::now())
        .await
    {
        Ok(Some(subscriber)) => {
            let link = unsubscribe_link(&state, &subscriber.id).await;
            page(
                StatusCode::OK,
                "Subscribed",
                html! {
                    p { "You will be told when an incident "
                        @if subscriber.components.is_empty() { "touches any component" } @else { "touches the components you chose" }
                        " opens, gets an update and resolves." }
                    @if let Some(link) = link { p.small { "Every message has a link to unsubscribe; this one works too: " a href=(link) { "unsubscribe" } } }
                },
            )
        }
        Ok(None) => invalid(),
        Err(error) => {
            tracing::error!(%error, "subscribe: store error");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Subscribe",
                html! { p.problem { "Try again in a few minutes." } },
            )
        }
    }
}

async fn unsubscribe_link(state: &WebState, id: &str) -> Option<String> {
    let key = state.store.server_key(UNSUBSCRIBE_KEY).await.ok()?;
    subscribers(state)?.unsubscribe_link(&key, id)
}

#[derive(Deserialize)]
pub(crate) struct UnsubscribeQuery {
    s: Option<String>,
    t: Option<String>,
}

async fn verified(state: &WebState, query: &UnsubscribeQuery) -> Option<String> {
    let (id, token) = (query.s.as_deref()?, query.t.as_deref()?);
    let key = state.store.server_key(UNSUBSCRIBE_KEY).await.ok()?;
    check_unsubscribe(&key, id, token).then(|| id.to_owned())
}

/// The page behind the link: one button, so that a mail scanner following links unsubscribes
/// no one.
pub(crate) async fn unsubscribe_page(
    State(state): State<WebState>,
    Query(query): Query<UnsubscribeQuery>,
) -> Response {
    if verified(&state, &query).await.is_none() {
        return page(
            StatusCode::NOT_FOUND,
            "Unsubscribe",
            html! { p.problem { "This link is not valid." } },
        );
    }
    let action = format!(
        "/unsubscribe?s={}&t={}",
        query.s.unwrap_or_default(),
        query.t.unwrap_or_default()
    );
    page(
        StatusCode::OK,
        "Unsubscribe",
        html! { form method="post" action=(action) { button type="submit" { "Stop sending me news" } } },
    )
}

/// Unsubscribes: the page's button, or a mail client's one-click POST (RFC 8058).
pub(crate) async fn unsubscribe(
    State(state): State<WebState>,
    Query(query): Query<UnsubscribeQuery>,
) -> Response {
    let Some(id) = verified(&state, &query).await else {
        return page(
            StatusCode::NOT_FOUND,
            "Unsubscribe",
            html! { p.problem { "This link is not valid." } },
        );
    };
    match state.store.remove_subscriber(&id).await {
        Ok(_) => page(
            StatusCode::OK,
            "Unsubscribed",
            html! { p { "You will get no more messages from this page." } },
        ),
        Err(error) => {
            tracing::error!(%error, "unsubscribe: store error");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unsubscribe",
                html! { p.problem { "Try again in a few minutes." } },
            )
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWebhook {
    url: String,
    #[serde(default)]
    components: Vec<String>,
}

/// `POST /api/v1/admin/subscribers`: a webhook subscription, `{"url": "https://…",
/// "components": ["smtp"]}`; answers its id and signing secret (shown this once).
pub(crate) async fn add_webhook(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Json(new): Json<NewWebhook>,
) -> Result<Response, ApiError> {
    let operator = admit(&state, &headers, client, Permission::Incidents).await?;
    if subscribers(&state).is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "subscriptions are off: add [subscribers] to the configuration",
        ));
    }
    let url = url::Url::parse(new.url.trim())
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        .ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, "`url` must be an http(s) address")
        })?;
    let topology = state.current().engine.topology.clone();
    if let Some(unknown) = new.components.iter().find(|id| {
        topology
            .component_index(&ComponentId::new(id.as_str()))
            .is_none()
    }) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("there is no component `{unknown}`"),
        ));
    }
    let secret = format!("whsec_{}", crate::credentials::webhook_secret());
    let now = Utc::now();
    let record = SubscriberRecord {
        id: crate::credentials::short_id("s", 12),
        kind: SubscriberKind::Webhook,
        address: url.to_string(),
        components: new
            .components
            .iter()
            .map(|id| ComponentId::new(id.as_str()))
            .collect(),
        secret: Some(secret.clone()),
        confirm_hash: None,
        created_at: now,
        confirmed_at: Some(now),
        signed_up_from: Some(operator.actor()),
    };
    let stored = state.store.save_subscriber(&record).await?;
    operator
        .audit(
            &state,
            "subscriber.add",
            Some(format!("subscriber {}", stored.id)),
            Some(stored.address.clone()),
        )
        .await;
    let secret = (stored.secret.as_deref() == Some(secret.as_str())).then_some(secret);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": stored.id, "url": stored.address, "secret": secret })),
    )
        .into_response())
}

/// `GET /api/v1/admin/subscribers`: every subscriber (addresses only here, for operators).
pub(crate) async fn list(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
) -> Result<Response, ApiError> {
    admit(&state, &headers, client, Permission::Admin).await?;
    let subscribers: Vec<_> = state
        .store
        .subscribers()
        .await?
        .into_iter()
        .map(|subscriber| {
            json!({
                "id": subscriber.id,
                "kind": subscriber.kind.as_str(),
                "address": subscriber.address,
                "components": subscriber.components.iter().map(ComponentId::as_str).collect::<Vec<_>>(),
                "confirmed": subscriber.confirmed_at.is_some(),
                "created_at": crate::api::time(subscriber.created_at),
            })
        })
        .collect();
    Ok(Json(json!({ "subscribers": subscribers })).into_response())
}

/// `POST /api/v1/admin/subscribers/{id}/delete`.
pub(crate) async fn remove(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let operator = admit(&state, &headers, client, Permission::Incidents).await?;
    if !state.store.remove_subscriber(&id).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("there is no subscriber `{id}`"),
        ));
    }
    operator
        .audit(
            &state,
            "subscriber.remove",
            Some(format!("subscriber {id}")),
            None,
        )
        .await;
    Ok(Json(json!({ "removed": id })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plausible_addresses_are_taken() {
        for good in [
            "ada@example.com",
            "a.b+c@mail.example.org",
            "zoë@example.de",
        ] {
            assert!(is_email_address(good), "{good}");
        }
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@example",
            "ada@.com",
            "a b@example.com",
            "ada@example.com>",
            "\"x\"@example.com",
            "a@b@example.com,c@d.com",
        ] {
            assert!(!is_email_address(bad), "{bad}");
        }
    }
}
