//! `pharos serve`: wires the store, engine, outbox worker, renderer and web server together,
//! and stops them all on Ctrl-C or SIGTERM without losing queued work.

use crate::config_command::report_load_error;
use crate::exit;
use crate::generation::{Generation, Shared};
use crate::leadership::{Leadership, Role};
use crate::reload;
use crate::supervise::{self, Supervisor};
use anyhow::Context as _;
use pharos_config::Config;
use pharos_store::OpenMode;
use pharos_web::{router, PageCache, ReloadRefused, ReloadRequest, ServerLimits, WebState};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::{mpsc, watch, Notify};

const DEMO_DATABASE: &str = "pharos-demo.db";

pub(crate) async fn run(
    config_path: Option<PathBuf>,
    demo: bool,
    listen: Option<SocketAddr>,
    publish: Option<PathBuf>,
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
        let Some(path) = &config_path else {
            eprintln!("error: no configuration given.");
            eprintln!("  Try the demo:          pharos serve --demo");
            eprintln!("  Or write a config:     pharos config example > pharos.toml");
            eprintln!("  then check and run it: pharos config validate pharos.toml && pharos serve --config pharos.toml");
            return exit::code(exit::USAGE);
        };
        match pharos_config::load(path) {
            Ok(config) => config,
            Err(error) => return report_load_error(&error),
        }
    };
    let mut config = config;
    if let Some(dir) = publish {
        config.publish.dir = Some(dir);
    }
    let config = Arc::new(config);
    let listen = listen.unwrap_or(config.server.listen);

    match serve(config, config_path, listen, demo_targets, stop, shutdown).await {
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
    config_path: Option<PathBuf>,
    listen: SocketAddr,
    demo: Option<pharos_demo::Demo>,
    stop: Arc<watch::Sender<bool>>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Stopped> {
    let descriptors = pharos_web::raise_descriptor_limit();
    let limits = ServerLimits::for_descriptors(descriptors)
        .with_trusted_proxies(config.server.trusted_proxies.clone());
    tracing::info!(
        descriptors,
        max_connections = limits.max_connections,
        max_per_client = limits.max_per_client,
        "open-file limit"
    );
    let store = pharos_store::open(&config.server.database, OpenMode::CreateIfMissing)
        .await
        .with_context(|| format!("cannot open the database {}", config.server.database))?;
    tracing::info!(database = %config.server.database, "store open");
    // On PostgreSQL several replicas may share the database: one leads, the others follow.
    let leadership = (config.server.database.backend() == pharos_core::Backend::Postgres)
        .then(|| Leadership::new(store.clone()));
    let role = match &leadership {
        Some(leadership) => {
            let role = leadership.claim(false).await;
            if role == Role::Follower {
                tracing::info!(
                    replica = leadership.replica,
                    "following: another replica holds the engine's lease"
                );
            }
            role
        }
        None => Role::Leader,
    };
    let shared = Shared {
        store: store.clone(),
        pages: PageCache::default(),
        outbox_wake: Arc::new(Notify::new()),
        shutdown: shutdown.clone(),
        leadership: leadership.clone(),
    };
    let mut generation = Generation::start(config.clone(), &shared, role).await?;
    let (role_sender, mut roles) = mpsc::channel::<Role>(4);
    if let Some(leadership) = leadership.clone() {
        tokio::spawn(leadership.run(role, role_sender, shutdown.clone()));
    } else {
        drop(role_sender);
    }

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let (reload_sender, mut reload_requests) = mpsc::channel::<ReloadRequest>(4);
    let mut state = WebState::new(
        shared.pages.clone(),
        store.clone(),
        config.server.admin_token.clone(),
        generation.engine.handle.clone(),
    )
    .with_trusted_proxies(config.server.trusted_proxies.clone());
    state.replace(generation.current());
    if config_path.is_some() {
        state = state.with_reloads(reload_sender.clone());
    }
    tokio::spawn(reload_on_hangup(reload_sender));
    let app = router(state.clone());
    tracing::info!(
        "pharos {} serving http://{} ({} monitors, {} components)",
        env!("CARGO_PKG_VERSION"),
        listener.local_addr()?,
        config.monitors.len(),
        config.components.len()
    );
    let mut others = Supervisor::default();
    if let Some(dir) = config.publish.dir.clone() {
        tracing::info!(dir = %dir.display(), "publishing the site as files on every change");
        let publisher =
            pharos_web::Publisher::new(shared.pages.clone(), dir, config.publish.hook.clone());
        let shutdown = shutdown.clone();
        others.spawn("publisher", async move { publisher.run(shutdown).await });
    }
    let _demo_agents = match &demo {
        Some(_) => Some(crate::demo_agents::start(&store, listener.local_addr()?).await?),
        None => None,
    };
    if let Some(demo) = demo {
        tracing::info!(
            target: "pharos::demo",
            "demo: targets fail and recover every {} s; webhooks go to {}; admin token {}",
            pharos_demo::CYCLE.as_secs(),
            demo.receiver.url(),
            demo.admin_token
        );
        let password = crate::demo_admin::ensure(store.as_ref()).await?;
        let address = listener.local_addr()?;
        tracing::info!(
            target: "pharos::demo",
            "demo: log in to the admin at http://{}/admin as `{}` with the password {password} (new at every start, shown this once)",
            if address.ip().is_unspecified() { std::net::SocketAddr::from(([127, 0, 0, 1], address.port())) } else { address },
            crate::demo_admin::NAME
        );
        let shutdown = shutdown.clone();
        others.spawn("demo cycle", async move { demo.run_cycle(shutdown).await });
    }

    let server = pharos_web::serve(
        listener,
        app,
        limits,
        shared.pages.memory_files(),
        shutdown.clone(),
    );
    tokio::pin!(server);
    let mut fault = None;
    loop {
        let wake = tokio::select! {
            () = &mut server => break,
            end = generation.engine.first_to_stop() => Wake::Ended(end),
            end = generation.tasks.next_end() => Wake::Ended(end),
            end = others.next_end() => Wake::Ended(end),
            Some(request) = reload_requests.recv() => Wake::Reload(request),
            Some(role) = roles.recv() => Wake::Role(role),
        };
        match wake {
            Wake::Role(role) => {
                if role == generation.role {
                    continue;
                }
                let config = generation.config.clone();
                generation.stop().await;
                generation = match Generation::start(config, &shared, role).await {
                    Ok(next) => next,
                    Err(error) => {
                        stop.send_replace(true);
                        others.join().await;
                        return Err(error.context("cannot take this replica's new role"));
                    }
                };
                state.replace(generation.current());
            }
            Wake::Ended(end) => {
                if let Some(found) = supervise::fault(end, &generation.stopping) {
                    tracing::error!("{found}; stopping");
                    stop.send_replace(true);
                    fault.get_or_insert(found);
                }
            }
            Wake::Reload(request) => {
                let Some(path) = &config_path else {
                    tracing::warn!("SIGHUP: there is no configuration file to reload (the demo)");
                    continue;
                };
                let outcome = match reload::prepare(path, &generation.config) {
                    Err(refused) => Err(refused),
                    Ok(next) => {
                        let (running, outcome) = reload::apply(generation, next, &shared).await?;
                        generation = running;
                        state.replace(generation.current());
                        outcome
                    }
                };
                match &outcome {
                    Ok(summary) => tracing::info!(
                        monitors = summary.monitors,
                        components = summary.components,
                        channels = summary.channels,
                        "configuration reloaded from {}",
                        path.display()
                    ),
                    Err(ReloadRefused::Invalid(problems)) => tracing::error!(
                        "configuration not reloaded; the running one stays. Problems:\n{}",
                        problems.join("\n")
                    ),
                    Err(ReloadRefused::Failed(reason)) => tracing::error!(
                        "configuration not reloaded; the running one stays: {reason}"
                    ),
                }
                let _ = request.reply.send(outcome);
            }
        }
    }

    tracing::info!("stopping: finishing queued work");
    let led = generation.role == Role::Leader;
    generation.stop().await;
    if let (Some(leadership), true) = (&leadership, led) {
        leadership.release().await;
    }
    others.join().await;
    tracing::info!("stopped");
    Ok(match fault {
        Some(fault) => Stopped::Fault(fault),
        None => Stopped::Asked,
    })
}

/// What woke the serve loop.
enum Wake {
    Ended(pharos_engine::TaskEnd),
    Reload(ReloadRequest),
    /// This replica began or stopped leading.
    Role(Role),
}

/// SIGHUP asks for a reload; the serve loop logs how it went.
async fn reload_on_hangup(reloads: mpsc::Sender<ReloadRequest>) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangups.recv().await.is_some() {
            let (reply, _answer) = tokio::sync::oneshot::channel();
            if reloads.send(ReloadRequest { reply }).await.is_err() {
                return;
            }
        }
    }
    #[cfg(not(unix))]
    drop(reloads);
}

pub(crate) async fn wait_for_signal(stop: Arc<watch::Sender<bool>>) {
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
