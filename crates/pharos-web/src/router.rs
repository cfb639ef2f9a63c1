//! The HTTP router: pre-rendered documents from memory (with ETag and gzip), the health check,
//! and the authenticated admin API.

use crate::admin;
use crate::snapshot::{PageCache, Rendered};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    ACCEPT_ENCODING, ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_ENCODING,
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY, VARY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use pharos_engine::EngineHandle;
use pharos_store::Store;
use secrecy::SecretString;
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot};

#[derive(Clone)]
pub struct WebState {
    pub pages: PageCache,
    pub store: Arc<dyn Store>,
    /// What a configuration reload replaces: the token, the running engine, the proxies.
    current: Arc<RwLock<Arc<Current>>>,
    pub(crate) admin_limiter: Arc<admin::AdminLimiter>,
    /// Failed logins to the admin, per address and per account.
    pub(crate) login_limiter: Arc<crate::login_limiter::LoginLimiter>,
    /// Subscriptions from the status page, per client address and per email address.
    pub(crate) signup_limiter: Arc<crate::subscribe::SignupLimiter>,
    /// The agents' tokens, read from the store now and then.
    pub(crate) agent_tokens: Arc<crate::agent_api::TokenCache>,
    /// Where `POST /api/v1/admin/reload` sends its request; none when reloading is not
    /// possible (the demo has no file to reload).
    reloads: Option<mpsc::Sender<ReloadRequest>>,
}

/// The part of the web state that follows the configuration.
pub struct Current {
    pub admin_token: Option<SecretString>,
    pub engine: EngineHandle,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<pharos_config::IpNet>,
    /// What each region's agents check.
    pub assignments: Arc<pharos_config::Assignments>,
    /// This replica, when several share the database.
    pub replica: Option<Replica>,
    /// The public address's host (and port) when it is HTTPS: the admin's cookies carry
    /// `Secure` for browsers that come by it (or through a proxy that says it took HTTPS).
    pub https_host: Option<String>,
}

/// One of several replicas sharing a database.
#[derive(Clone, Debug)]
pub struct Replica {
    pub id: String,
    /// Whether it holds the engine's lease (probes, incidents, notifications).
    pub leading: bool,
}

/// A request to reload the configuration, answered once the new one runs (or why not).
pub struct ReloadRequest {
    pub reply: oneshot::Sender<Result<ReloadSummary, ReloadRefused>>,
}

/// What runs after a reload.
#[derive(Clone, Debug)]
pub struct ReloadSummary {
    pub components: usize,
    pub monitors: usize,
    pub channels: usize,
}

/// Why a reload did not happen; the running configuration stays.
#[derive(Clone, Debug)]
pub enum ReloadRefused {
    /// The file has problems (each at file:line:col); nothing of it was applied.
    Invalid(Vec<String>),
    /// It could not be applied (a probe could not be prepared, the store refused).
    Failed(String),
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
            current: Arc::new(RwLock::new(Arc::new(Current {
                admin_token,
                engine,
                trusted_proxies: Vec::new(),
                assignments: Arc::default(),
                replica: None,
                https_host: None,
            }))),
            admin_limiter: admin::admin_limiter(),
            login_limiter: Arc::default(),
            signup_limiter: crate::subscribe::signup_limiter(),
            agent_tokens: Arc::default(),
            reloads: None,
        }
    }

    /// Believe `X-Forwarded-For` from these reverse proxies when telling clients apart.
    pub fn with_trusted_proxies(self, proxies: Vec<pharos_config::IpNet>) -> Self {
        let current = self.current();
        self.replace(Current {
            admin_token: current.admin_token.clone(),
            engine: current.engine.clone(),
            trusted_proxies: proxies,
            assignments: current.assignments.clone(),
            replica: current.replica.clone(),
            https_host: current.https_host.clone(),
        });
        self
    }

    /// Accept reload requests on this channel.
    pub fn with_reloads(mut self, reloads: mpsc::Sender<ReloadRequest>) -> Self {
        self.reloads = Some(reloads);
        self
    }

    /// What follows the configuration now.
    pub fn current(&self) -> Arc<Current> {
        self.current
            .read()
            .map(|current| current.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Switches to a reloaded configuration's token, engine and proxies.
    pub fn replace(&self, current: Current) {
        let mut slot = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Arc::new(current);
    }

    pub(crate) fn reloads(&self) -> Option<&mpsc::Sender<ReloadRequest>> {
        self.reloads.as_ref()
    }
}

pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/api/v1/admin/deliveries", get(admin::deliveries))
        .route("/api/v1/admin/audit", get(admin::audit_log))
        .route(
            "/api/v1/admin/maintenance",
            get(crate::maintenance_api::list).post(crate::maintenance_api::schedule),
        )
        .route(
            "/api/v1/admin/maintenance/{id}/cancel",
            axum::routing::post(crate::maintenance_api::cancel),
        )
        .route(
            "/admin/maintenance",
            get(crate::admin_ui::maintenance).post(crate::admin_ui::schedule_maintenance),
        )
        .route(
            "/admin/maintenance/{id}/cancel",
            axum::routing::post(crate::admin_ui::cancel_maintenance),
        )
        .route("/admin", get(crate::admin_ui::overview))
        .route("/subscribe", axum::routing::post(crate::subscribe::sign_up))
        .route("/subscribe/confirm", get(crate::subscribe::confirm))
        .route(
            "/unsubscribe",
            get(crate::subscribe::unsubscribe_page).post(crate::subscribe::unsubscribe),
        )
        .route(
            "/api/v1/admin/subscribers",
            get(crate::subscribe::list).post(crate::subscribe::add_webhook),
        )
        .route(
            "/api/v1/admin/subscribers/{id}/delete",
            axum::routing::post(crate::subscribe::remove),
        )
        .route(
            "/admin/login",
            get(crate::admin_ui::login_form).post(crate::admin_ui::login),
        )
        .route(
            "/admin/logout",
            axum::routing::post(crate::admin_ui::logout),
        )
        .route(
            "/admin/incidents",
            axum::routing::post(crate::admin_ui::open_incident),
        )
        .route("/admin/incidents/new", get(crate::admin_ui::new_incident))
        .route("/admin/incidents/{id}", get(crate::admin_ui::incident))
        .route(
            "/admin/incidents/{id}/updates",
            axum::routing::post(crate::admin_ui::post_update),
        )
        .route(
            "/admin/incidents/{id}/resolve",
            axum::routing::post(crate::admin_ui::resolve),
        )
        .route(
            "/admin/incidents/{id}/reopen",
            axum::routing::post(crate::admin_ui::reopen),
        )
        .route(
            "/admin/incidents/{id}/false-alarm",
            axum::routing::post(crate::admin_ui::false_alarm),
        )
        .route(
            "/admin/incidents/{id}/postmortem",
            axum::routing::post(crate::admin_ui::postmortem),
        )
        .route(
            "/admin/incidents/{id}/updates/{number}/edit",
            axum::routing::post(crate::admin_ui::edit_update),
        )
        .route(
            "/admin/incidents/{id}/updates/{number}/delete",
            axum::routing::post(crate::admin_ui::delete_update),
        )
        .route(
            "/admin/tokens",
            get(crate::admin_ui::tokens).post(crate::admin_ui::create_token),
        )
        .route(
            "/admin/tokens/{id}/revoke",
            axum::routing::post(crate::admin_ui::revoke_token),
        )
        .route("/admin/audit", get(crate::admin_ui::audit))
        .route(
            "/admin/password",
            get(crate::admin_users::password_page).post(crate::admin_users::change_password),
        )
        .route(
            "/admin/users",
            get(crate::admin_users::users).post(crate::admin_users::add),
        )
        .route(
            "/admin/users/{name}/role",
            axum::routing::post(crate::admin_users::change_role),
        )
        .route(
            "/admin/users/{name}/password",
            axum::routing::post(crate::admin_users::new_password),
        )
        .route(
            "/admin/users/{name}/remove",
            axum::routing::post(crate::admin_users::remove),
        )
        .route("/api/v1/admin/reload", axum::routing::post(admin::reload))
        .route(
            "/api/v1/admin/incidents",
            axum::routing::post(crate::incident_api::open_incident),
        )
        .route(
            "/api/v1/admin/incidents/{id}/updates",
            axum::routing::post(crate::incident_api::post_update),
        )
        .route(
            "/api/v1/admin/incidents/{id}/resolve",
            axum::routing::post(crate::incident_api::resolve_incident),
        )
        .route(
            "/api/v1/admin/incidents/{id}/reopen",
            axum::routing::post(crate::incident_api::reopen_incident),
        )
        .route(
            "/api/v1/admin/incidents/{id}/false-alarm",
            axum::routing::post(crate::incident_api::post_false_alarm),
        )
        .route(
            "/api/v1/admin/incidents/{id}/postmortem",
            axum::routing::post(crate::incident_api::post_postmortem),
        )
        .route(
            "/api/v1/admin/incidents/{id}/updates/{number}/edit",
            axum::routing::post(crate::incident_api::edit_update),
        )
        .route(
            "/api/v1/admin/incidents/{id}/updates/{number}/delete",
            axum::routing::post(crate::incident_api::delete_update),
        )
        .route("/metrics", get(crate::metrics::metrics))
        .route(
            pharos_wire::EXCHANGE_PATH,
            axum::routing::post(crate::agent_api::exchange)
                .layer(axum::extract::DefaultBodyLimit::max(16 << 20)),
        )
        .fallback(serve_rendered)
        .with_state(state)
}

/// 200 while pharos can do its job; 503 with the reason while the store refuses writes.
async fn health(State(state): State<WebState>) -> Response {
    let fault = state
        .current()
        .engine
        .live
        .read()
        .ok()
        .and_then(|live| live.store_fault.clone());
    let current = state.current();
    let role = match &current.replica {
        None => String::new(),
        Some(replica) if replica.leading => format!(" (leader: this replica, {})", replica.id),
        Some(replica) => {
            let leader = state
                .store
                .current_lease("engine")
                .await
                .ok()
                .flatten()
                .map_or_else(|| "none yet".to_owned(), |lease| lease.holder);
            format!(" (follower {}; leader: {leader})", replica.id)
        }
    };
    match fault {
        None => format!("ok{role}\n").into_response(),
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
    // A document not rendered yet for this view is rendered off the async workers, so that
    // a large answer never delays probes or other readers; what needs no render (a kept
    // document, an unknown path once the not-found page is kept) is answered at once.
    let found = match site.ready(path) {
        Some(kept) => Some(kept),
        None => {
            let path = path.to_owned();
            let site = site.clone();
            tokio::task::spawn_blocking(move || site.get(&path))
                .await
                .ok()
                .flatten()
        }
    };
    let rendered = match found {
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
        &rendered,
        request.headers(),
        request.method() == Method::HEAD,
    )
}

fn respond(rendered: &Rendered, request: &HeaderMap, head: bool) -> Response {
    let mut headers = HeaderMap::with_capacity(12);
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
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    if let Some(etag) = &rendered.etag_header {
        headers.insert(ETAG, etag.clone());
    }
    if rendered.content_type == crate::site::JSON {
        // Public, read-only data: status widgets on other sites may read it.
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
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
