//! `pharos serve`: wires the store, engine, outbox worker, renderer and web server together,
//! and stops them all on Ctrl-C or SIGTERM without losing queued work.

use crate::config_command::report_load_error;
use crate::exit;
use anyhow::Context as _;
use pharos_config::{ChannelKind, Config};
use pharos_engine::{Engine, EngineOptions};
use pharos_notify::{Channels, OutboxWorker, WebhookSender};
use pharos_store::{SqliteStore, Store};
use pharos_web::{router, PageCache, Renderer, ServerLimits, WebState};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::{watch, Notify};

const DEMO_DATABASE: &str = "pharos-demo.db";

pub(crate) async fn run(
    config_path: Option<PathBuf>,
    demo: bool,
    listen: Option<SocketAddr>,
) -> ExitCode {
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(wait_for_signal(stop));

    let mut demo_targets = None;
    let config = if demo {
        let targets = match pharos_demo::Demo::start().await {
            Ok(targets) => targets,
            Err(error) => {
                eprintln!("error: cannot start the demo's targets: {error}");
                return exit::code(exit::UNAVAILABLE);
            }
        };
        let source = targets.config(DEMO_DATABASE);
        let config = pharos_config::parse("<demo>", &source, &|_| None)
            .expect("the demo configuration is valid");
        demo_targets = Some(targets);
        config
    } else {
        let Some(path) = config_path else {
            eprintln!("error: no configuration given.");
            eprintln!("  Try the demo:          pharos serve --demo");
            eprintln!("  Or write a config:     pharos config example > pharos.toml");
            eprintln!("  then check and run it: pharos config validate pharos.toml && pharos serve --config pharos.toml");
            return exit::code(exit::USAGE);
        };
        match pharos_config::load(&path) {
            Ok(config) => config,
            Err(error) => return report_load_error(&error),
        }
    };
    let config = Arc::new(config);
    let listen = listen.unwrap_or(config.server.listen);

    match serve(config, listen, demo_targets, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            exit::code(exit::UNAVAILABLE)
        }
    }
}

async fn serve(
    config: Arc<Config>,
    listen: SocketAddr,
    demo: Option<pharos_demo::Demo>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let descriptors = pharos_web::raise_descriptor_limit();
    let limits = ServerLimits::for_descriptors(descriptors);
    tracing::info!(
        descriptors,
        max_connections = limits.max_connections,
        max_per_client = limits.max_per_client,
        "open-file limit"
    );
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&config.server.database)
            .await
            .with_context(|| format!("cannot open the database {}", config.server.database))?,
    );
    let outbox_wake = Arc::new(Notify::new());
    let engine = Engine::start(
        &config,
        store.clone(),
        outbox_wake.clone(),
        shutdown.clone(),
        EngineOptions::default(),
    )
    .await
    .context("cannot start monitoring")?;

    let channels: Channels = config
        .channels
        .iter()
        .map(|channel| match &channel.kind {
            ChannelKind::Webhook(webhook) => {
                (channel.id.clone(), Arc::new(WebhookSender::new(webhook)))
            }
        })
        .collect();
    let outbox =
        tokio::spawn(OutboxWorker::new(store.clone(), channels, outbox_wake).run(shutdown.clone()));

    let pages = PageCache::default();
    let renderer = Renderer::new(
        config.clone(),
        store.clone(),
        engine.handle.clone(),
        pages.clone(),
    );
    renderer
        .render()
        .await
        .context("cannot render the status page")?;
    let rendering = tokio::spawn(renderer.run(shutdown.clone()));

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let app = router(WebState::new(
        pages,
        store.clone(),
        config.server.admin_token.clone(),
        engine.handle.clone(),
    ));
    tracing::info!(
        "pharos {} serving http://{} ({} monitors, {} components)",
        env!("CARGO_PKG_VERSION"),
        listener.local_addr()?,
        config.monitors.len(),
        config.components.len()
    );
    let demo_cycle = demo.map(|demo| {
        tracing::info!(
            target: "pharos::demo",
            "demo: targets fail and recover every {} s; webhooks go to {}; admin token {}",
            pharos_demo::CYCLE.as_secs(),
            demo.receiver.url(),
            demo.admin_token
        );
        let shutdown = shutdown.clone();
        tokio::spawn(async move { demo.run_cycle(shutdown).await })
    });

    pharos_web::serve(listener, app, limits, shutdown.clone()).await;

    tracing::info!("stopping: finishing queued work");
    engine.join().await;
    let _ = outbox.await;
    let _ = rendering.await;
    if let Some(cycle) = demo_cycle {
        let _ = cycle.await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal(stop: watch::Sender<bool>) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(terminate) => terminate,
                Err(_) => {
                    let _ = interrupt.await;
                    let _ = stop.send(true);
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    let _ = stop.send(true);
}
