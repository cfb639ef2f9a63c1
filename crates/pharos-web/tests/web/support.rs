//! A router over a real engine and store, and helpers to call it in process.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use pharos_engine::{Engine, EngineOptions};
use pharos_store::Store;
use pharos_web::{router, PageCache, Renderer, WebState};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tower::ServiceExt as _;

pub(crate) const TOKEN: &str = "router-test-admin-token";

pub(crate) struct Site {
    pub(crate) app: Router,
    pub(crate) config: Arc<pharos_config::Config>,
    pub(crate) store: Arc<dyn Store>,
    _engine: Engine,
    _stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

/// A site with one component probed (rarely) on a closed port; `admin` sets the token and
/// `proxies` the trusted reverse proxies.
pub(crate) async fn site(admin: bool, proxies: &str) -> Site {
    site_seeded(admin, proxies, async |_| {}).await
}

/// As `site`, with `seed` run on the store before the engine starts (so that the engine
/// resumes what it wrote: open incidents, users).
pub(crate) async fn site_seeded(
    admin: bool,
    proxies: &str,
    seed: impl AsyncFnOnce(&Arc<dyn Store>),
) -> Site {
    let token = if admin {
        format!("admin_token = \"{TOKEN}\"\n")
    } else {
        String::new()
    };
    let source = format!("[server]\n{token}trusted_proxies = [{proxies}]\n\n{COMPONENT}");
    site_from(&source, seed).await
}

/// The one component (and its monitor) every test site has.
pub(crate) const COMPONENT: &str = "[[components]]\nid = \"svc\"\nname = \"Service\"\n\n\
    [[monitors]]\nid = \"svc-tcp\"\ncomponent = \"svc\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = 9\ninterval = \"1h\"\n";

/// A site on the configuration `source`, with `seed` run on the store first.
pub(crate) async fn site_from(source: &str, seed: impl AsyncFnOnce(&Arc<dyn Store>)) -> Site {
    let config = Arc::new(pharos_config::parse("web.toml", source, &|_| None).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = crate::test_store::open_store(&dir.path().join("web.db")).await;
    seed(&store).await;
    let (engine, stop) = idle_engine(&config, store.clone()).await;
    let pages = PageCache::default();
    Renderer::new(
        config.clone(),
        store.clone(),
        engine.handle.clone(),
        pages.clone(),
    )
    .render()
    .await
    .unwrap();
    let state = WebState::new(
        pages,
        store.clone(),
        config.server.admin_token.clone(),
        engine.handle.clone(),
    )
    .with_trusted_proxies(config.server.trusted_proxies.clone());
    Site {
        app: router(state),
        config,
        store,
        _engine: engine,
        _stop: stop,
        _dir: dir,
    }
}

/// One request from `peer`; returns the status, headers and body.
/// An engine on `store` whose first probes are an hour away (their splay), without roll-ups
/// or pruning: what the test writes is all the store holds. Dropping the sender stops it.
pub(crate) async fn idle_engine(
    config: &pharos_config::Config,
    store: Arc<dyn Store>,
) -> (Engine, watch::Sender<bool>) {
    let (stop, shutdown) = watch::channel(false);
    let engine = Engine::start(
        config,
        store,
        Arc::new(Notify::new()),
        shutdown,
        EngineOptions {
            splay: Duration::from_secs(3600),
            maintenance: false,
            ..EngineOptions::default()
        },
    )
    .await
    .unwrap();
    (engine, stop)
}

pub(crate) async fn call(
    app: &Router,
    peer: SocketAddr,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = request;
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

pub(crate) fn get(path: &str) -> axum::http::request::Builder {
    Request::get(path)
}

pub(crate) fn peer(last: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, last], 40000))
}
