//! The scheduler benchmark: N TCP monitors (default 10,000) at a fixed interval (default
//! 10 s) against local listeners, through the whole pipeline (probe, evaluator, SQLite
//! writer). Reports probes per second, how late probes start (p50, p99), CPU used and peak
//! resident memory.
//!
//! Run: `cargo bench -p pharos-engine --bench scheduler`
//! Options (environment): PHAROS_BENCH_MONITORS, PHAROS_BENCH_INTERVAL_SECONDS,
//! PHAROS_BENCH_SECONDS (measured time, after one interval of warm-up), PHAROS_BENCH_BACKEND
//! (`sqlite`, or `postgres` on a throwaway server the bench starts, as the `postgres` user
//! when run as root; the server's CPU is then measured too and reported apart).

#[path = "../../pharos-store/tests/store/pg_server.rs"]
mod pg_server;

use pharos_engine::{Engine, EngineOptions};
use pharos_store::{PostgresStore, SqliteStore, Store};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

/// Several listeners, so that many short connections never run out of local ports.
const LISTENERS: usize = 16;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// User plus system CPU seconds of this process, from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// User plus system CPU seconds of every process of `uid` (the PostgreSQL server's), from
/// /proc.
fn cpu_seconds_of_user(uid: u32) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let mut ticks = 0.0;
    for entry in entries.flatten() {
        let path = entry.path();
        let owned = std::fs::read_to_string(path.join("status"))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("Uid:"))
                    .and_then(|ids| ids.split_whitespace().next()?.parse::<u32>().ok())
            });
        if owned != Some(uid) {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        ticks += fields
            .get(11)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            + fields
                .get(12)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
    }
    ticks / 100.0
}

/// The uid of the `postgres` user, when this process runs as root (the server then runs as
/// that user, and its CPU can be told apart).
fn postgres_uid() -> Option<u32> {
    let id = |args: &[&str]| -> Option<u32> {
        let output = std::process::Command::new("id").args(args).output().ok()?;
        String::from_utf8_lossy(&output.stdout).trim().parse().ok()
    };
    (id(&["-u"])? == 0)
        .then(|| id(&["-u", "postgres"]))
        .flatten()
}

/// Peak resident set size in MiB, from /proc.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

fn main() {
    let monitors = setting("PHAROS_BENCH_MONITORS", 10_000) as usize;
    let interval = setting("PHAROS_BENCH_INTERVAL_SECONDS", 10);
    let measured = setting("PHAROS_BENCH_SECONDS", 60);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(monitors, interval, measured));
}

async fn run(monitors: usize, interval: u64, measured: u64) {
    let mut ports = Vec::new();
    for _ in 0..LISTENERS {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a listener");
        ports.push(listener.local_addr().unwrap().port());
        tokio::spawn(async move {
            loop {
                let _ = listener.accept().await;
            }
        });
    }
    let mut config = String::with_capacity(monitors * 160);
    let _ = writeln!(
        config,
        "[defaults]\ninterval = \"{interval}s\"\ntimeout = \"5s\"\n"
    );
    for component in 0..monitors.div_ceil(100) {
        let _ = writeln!(
            config,
            "[[components]]\nid = \"c{component}\"\nname = \"Component {component}\"\n"
        );
    }
    for monitor in 0..monitors {
        let _ = writeln!(
            config,
            "[[monitors]]\nid = \"m{monitor}\"\ncomponent = \"c{}\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = {}\n",
            monitor / 100,
            ports[monitor % LISTENERS]
        );
    }
    let config = pharos_config::parse("bench.toml", &config, &|_| None)
        .expect("a valid generated configuration");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let postgres = std::env::var("PHAROS_BENCH_BACKEND").as_deref() == Ok("postgres");
    let store: Arc<dyn Store> = if postgres {
        let url = pg_server::fresh_database("the scheduler bench")
            .expect("PostgreSQL is installed (see the notice)");
        Arc::new(PostgresStore::open(&url).await.expect("a store"))
    } else {
        Arc::new(
            SqliteStore::open(dir.path().join("bench.db").to_str().unwrap())
                .await
                .expect("a store"),
        )
    };
    let server_uid = postgres.then(postgres_uid).flatten();
    let (stop, shutdown) = watch::channel(false);
    let options = EngineOptions {
        splay: Duration::from_secs(interval),
        maintenance: false,
        ..EngineOptions::default()
    };
    let engine = Engine::start(&config, store, Arc::new(Notify::new()), shutdown, options)
        .await
        .expect("the engine starts");
    let metrics = engine.handle.metrics.clone();

    eprintln!("{monitors} TCP monitors every {interval} s; warming up for {interval} s, then measuring for {measured} s");
    tokio::time::sleep(Duration::from_secs(interval)).await;
    metrics.reset_lateness();
    let probes_before = metrics.probes_finished.load(Ordering::Relaxed);
    let skipped_before = metrics.slots_skipped.load(Ordering::Relaxed);
    let cpu_before = cpu_seconds();
    let server_before = server_uid.map(cpu_seconds_of_user);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(measured)).await;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    let server_cpu = server_uid
        .map(cpu_seconds_of_user)
        .zip(server_before)
        .map(|(after, before)| (after - before) / wall);
    let probes = metrics.probes_finished.load(Ordering::Relaxed) - probes_before;
    let skipped = metrics.slots_skipped.load(Ordering::Relaxed) - skipped_before;
    let p50 = metrics.lateness_quantile(0.50).unwrap_or_default();
    let p99 = metrics.lateness_quantile(0.99).unwrap_or_default();
    let expected = monitors as f64 / interval as f64;

    let backend = if postgres { "PostgreSQL" } else { "SQLite" };
    let server = match server_cpu {
        Some(cores) => format!("{cores:.2}"),
        None if postgres => "not measured (not run as root)".to_owned(),
        None => "in process".to_owned(),
    };
    println!("| store | monitors | interval | probes/s (expected) | lateness p50 | lateness p99 | CPU (cores) | database server CPU (cores) | peak RSS | skipped slots |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {backend} | {monitors} | {interval} s | {:.0} ({expected:.0}) | ≤{} ms | ≤{} ms | {:.2} | {server} | {:.0} MiB | {skipped} |",
        probes as f64 / wall,
        p50.as_millis(),
        p99.as_millis(),
        cpu / wall,
        peak_rss_mib(),
    );
    stop.send(true).ok();
    engine.join().await;
}
