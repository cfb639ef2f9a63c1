//! The HTTP router: pre-rendered documents from memory (with ETag and gzip), the health check,
//! and the authenticated admin API.

use crate::admin;
use crate::snapshot::{PageCache, Rendered};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, REFERRER_POLICY, VARY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use pharos_engine::EngineHandle;
use pharos_store::Store;
use secrecy::SecretString;
use std::sync::Arc;

#[derive(Clone)]
pub struct WebState {
    pub pages: PageCache,
    pub store: Arc<dyn Store>,
    pub admin_token: Option<SecretString>,
    pub engine: EngineHandle,
    pub(crate) admin_limiter: Arc<admin::AdminLimiter>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub(crate) trusted_proxies: Arc<Vec<pharos_config::IpNet>>,
}

impl WebState {
    pub fn new(
        pages: PageCache,
        store: Arc<dyn Store>,
        admin_token: Option<SecretString>,
        engine: EngineHandle,
    ) -> Self {
        Self {
            pages,
            store,
            admin_token,
            engine,
            admin_limiter: admin::admin_limiter(),
            trusted_proxies: Arc::default(),
        }
    }

    /// Believe `X-Forwarded-For` from these reverse proxies when telling clients apart.
    pub fn with_trusted_proxies(mut self, proxies: Vec<pharos_config::IpNet>) -> Self {
        self.trusted_proxies = Arc::new(proxies);
        self
    }
}

pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/api/v1/admin/deliveries", get(admin::deliveries))
        .route(
            "/api/v1/admin/incidents/{id}/updates",
            axum::routing::post(admin::post_update),
        )
        .route("/metrics", get(crate::metrics::metrics))
        .fallback(serve_rendered)
        .with_state(state)
}

/// 200 while pharos can do its job; 503 with the reason while the store refuses writes.
async fn health(State(state): State<WebState>) -> Response {
    let fault = state
        .engine
        .live
        .read()
        .ok()
        .and_then(|live| live.store_fault.clone());
    match fault {
        None => "ok\n".into_response(),
        Some(fault) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(CACHE_CONTROL, "no-store")],
            format!(
                "store refuses writes since {}: {}\n",
                crate::api::time(fault.since),
                fault.reason
            ),
        )
            .into_response(),
    }
}

async fn serve_rendered(State(state): State<WebState>, request: Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(axum::http::header::ALLOW, "GET, HEAD")],
            "method not allowed\n",
        )
            .into_response();
    }
    let site = state.pages.get();
    let path = request.uri().path();
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let rendered = match site.pages.get(path).or(site.not_found.as_ref()) {
        Some(rendered) => rendered,
        None => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(axum::http::header::RETRY_AFTER, "1")],
                "starting up\n",
            )
                .into_response()
        }
    };
    respond(
        rendered,
        request.headers(),
        request.method() == Method::HEAD,
    )
}

fn respond(rendered: &Rendered, request: &HeaderMap, head: bool) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(rendered.content_type),
    );
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=10"),
    );
    headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    );
    if let Ok(etag) = HeaderValue::from_str(&rendered.etag) {
        headers.insert(ETAG, etag);
    }
    let status = StatusCode::from_u16(rendered.status).unwrap_or(StatusCode::OK);
    let matches_etag = request
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == rendered.etag || tag.trim() == "*")
        });
    if status == StatusCode::OK && matches_etag {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let accepts_gzip = request
        .get(ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accepted| {
            accepted
                .split(',')
                .any(|encoding| encoding.trim().starts_with("gzip"))
        });
    let body = match (&rendered.gzip, accepts_gzip) {
        (Some(gzip), true) => {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            gzip.clone()
        }
        _ => rendered.body.clone(),
    };
    if head {
        return (status, headers).into_response();
    }
    (status, headers, Body::from(body)).into_response()
}
