//! `pharos serve`: wires the store, engine, outbox worker, renderer and web server together,
//! and stops them all on Ctrl-C or SIGTERM without losing queued work.

use crate::config_command::report_load_error;
use crate::exit;
use crate::supervise::{self, Supervisor};
use anyhow::Context as _;
use pharos_config::Config;
use pharos_engine::{Engine, EngineOptions};
use pharos_notify::OutboxWorker;
use pharos_store::OpenMode;
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
    let stop = Arc::new(stop);
    tokio::spawn(wait_for_signal(stop.clone()));

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

    match serve(config, listen, demo_targets, stop, shutdown).await {
        Ok(Stopped::Asked) => ExitCode::SUCCESS,
        Ok(Stopped::Fault(fault)) => {
            eprintln!("error: {fault}; pharos stopped rather than serve a page while nothing is monitored");
            exit::code(exit::SOFTWARE)
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            exit::code(exit::UNAVAILABLE)
        }
    }
}

/// Why `serve` returned.
enum Stopped {
    /// Ctrl-C or SIGTERM.
    Asked,
    /// A long-running task ended on its own.
    Fault(String),
}

async fn serve(
    config: Arc<Config>,
    listen: SocketAddr,
    demo: Option<pharos_demo::Demo>,
    stop: Arc<watch::Sender<bool>>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Stopped> {
    let descriptors = pharos_web::raise_descriptor_limit();
    let limits = ServerLimits::for_descriptors(descriptors);
    tracing::info!(
        descriptors,
        max_connections = limits.max_connections,
        max_per_client = limits.max_per_client,
        "open-file limit"
    );
    let store = pharos_store::open(&config.server.database, OpenMode::CreateIfMissing)
        .await
        .with_context(|| format!("cannot open the database {}", config.server.database))?;
    let outbox_wake = Arc::new(Notify::new());
    let mut engine = Engine::start(
        &config,
        store.clone(),
        outbox_wake.clone(),
        shutdown.clone(),
        EngineOptions::default(),
    )
    .await
    .context("cannot start monitoring")?;

    let channels = engine.handle.topology.notifier.channels();
    let mut supervisor = Supervisor::default();
    supervisor.spawn(
        "outbox worker",
        OutboxWorker::new(store.clone(), channels, outbox_wake).run(shutdown.clone()),
    );

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
    supervisor.spawn("renderer", renderer.run(shutdown.clone()));

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let app = router(
        WebState::new(
            pages,
            store.clone(),
            config.server.admin_token.clone(),
            engine.handle.clone(),
        )
        .with_trusted_proxies(config.server.trusted_proxies.clone()),
    );
    tracing::info!(
        "pharos {} serving http://{} ({} monitors, {} components)",
        env!("CARGO_PKG_VERSION"),
        listener.local_addr()?,
        config.monitors.len(),
        config.components.len()
    );
    if let Some(demo) = demo {
        tracing::info!(
            target: "pharos::demo",
            "demo: targets fail and recover every {} s; webhooks go to {}; admin token {}",
            pharos_demo::CYCLE.as_secs(),
            demo.receiver.url(),
            demo.admin_token
        );
        let shutdown = shutdown.clone();
        supervisor.spawn("demo cycle", async move { demo.run_cycle(shutdown).await });
    }

    let server = pharos_web::serve(listener, app, limits, shutdown.clone());
    tokio::pin!(server);
    let mut fault = None;
    loop {
        let end = tokio::select! {
            () = &mut server => break,
            end = engine.first_to_stop() => end,
            end = supervisor.next_end() => end,
        };
        if let Some(found) = supervise::fault(end, &shutdown) {
            tracing::error!("{found}; stopping");
            stop.send_replace(true);
            fault.get_or_insert(found);
        }
    }

    tracing::info!("stopping: finishing queued work");
    engine.join().await;
    supervisor.join().await;
    tracing::info!("stopped");
    Ok(match fault {
        Some(fault) => Stopped::Fault(fault),
        None => Stopped::Asked,
    })
}

async fn wait_for_signal(stop: Arc<watch::Sender<bool>>) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(terminate) => terminate,
                Err(_) => {
                    let _ = interrupt.await;
                    stop.send_replace(true);
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
    stop.send_replace(true);
}
