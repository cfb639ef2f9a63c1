//! Agent result ingest: how many agent results per second the real `pharos serve` takes into
//! SQLite. Many agents (each with its own token, as `pharos agent-token create` makes them)
//! send reports of synthetic results as fast as the server acknowledges them, over the same
//! client and protocol as `pharos agent`; every result goes through the evaluator (its
//! region's detector and the quorum) and is committed before it is acknowledged. At the end
//! the stored rows are counted against the acknowledged numbers.
//!
//! Run: `cargo bench -p pharos --bench agent_ingest`
//! Options (environment): PHAROS_BENCH_AGENTS (20), PHAROS_BENCH_MONITORS (1000),
//! PHAROS_BENCH_BATCH (results per report, 2000), PHAROS_BENCH_SECONDS (measured, 20),
//! PHAROS_BENCH_BACKEND (`sqlite`, or `postgres` on a throwaway server the bench starts).

#[path = "../../pharos-store/tests/store/pg_server.rs"]
mod pg_server;

use chrono::Utc;
use pharos_core::{MonitorId, Outcome, Phase};
use pharos_wire::{AgentReport, AgentResult, PROTOCOL};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() {
    pharos_probe::install_crypto_provider();
    let agents = setting("PHAROS_BENCH_AGENTS", 20) as usize;
    let monitors = setting("PHAROS_BENCH_MONITORS", 1_000) as usize;
    let batch = setting("PHAROS_BENCH_BATCH", 2_000) as usize;
    let measured = setting("PHAROS_BENCH_SECONDS", 20);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let regions: Vec<String> = (0..agents).map(|index| format!("r{index}")).collect();
    let database = match std::env::var("PHAROS_BENCH_BACKEND").as_deref() {
        Ok("postgres") => pg_server::fresh_database("the agent ingest bench")
            .expect("PostgreSQL is installed (see the notice)"),
        _ => dir.path().join("pharos.db").display().to_string(),
    };
    let backend = if database.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    eprintln!("storing into {backend}");
    let config = write_config(dir.path(), &database, monitors, &regions);
    let tokens: Vec<String> = regions
        .iter()
        .map(|region| {
            let made = Command::new(env!("CARGO_BIN_EXE_pharos"))
                .args(["agent-token", "create", region, "--config"])
                .arg(&config)
                .output()
                .expect("pharos runs");
            assert!(
                made.status.success(),
                "{}",
                String::from_utf8_lossy(&made.stderr)
            );
            String::from_utf8(made.stdout).unwrap().trim().to_owned()
        })
        .collect();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_pharos"))
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("pharos starts");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let server_url: url::Url = format!("http://127.0.0.1:{port}/").parse().unwrap();
    runtime.block_on(wait_until_up(port));

    let acked = Arc::new(AtomicU64::new(0));
    let started_cpu = cpu_seconds(&server);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(measured);
    let last_seqs = runtime.block_on(async {
        let mut tasks = Vec::new();
        for (region, token) in regions.iter().zip(&tokens) {
            let exchanger =
                pharos_agent::exchange::Exchanger::new(&server_url, token.clone().into())
                    .expect("an exchanger");
            let region = region.clone();
            let acked = acked.clone();
            tasks.push(tokio::spawn(async move {
                let mut seq = 0u64;
                let mut at = Utc::now() - chrono::Duration::hours(1);
                while Instant::now() < deadline {
                    let results: Vec<AgentResult> = (0..batch)
                        .map(|index| {
                            seq += 1;
                            at += chrono::Duration::milliseconds(1);
                            AgentResult {
                                seq,
                                monitor: format!("m{}", index % monitors),
                                at,
                                started_at: at,
                                outcome: Outcome::up(
                                    Duration::from_micros(800 + seq % 400),
                                    vec![
                                        Phase::new("dns", Duration::from_micros(50)),
                                        Phase::new("connect", Duration::from_micros(300)),
                                        Phase::new("first_byte", Duration::from_micros(400)),
                                    ],
                                ),
                            }
                        })
                        .collect();
                    let report = AgentReport {
                        protocol: PROTOCOL,
                        region: region.clone(),
                        agent_version: "bench".into(),
                        generation: Some("bench".into()),
                        results,
                        dropped: 0,
                    };
                    let reply = exchanger.send(&report).await.expect("the report is taken");
                    assert_eq!(reply.acked, seq, "everything sent is acknowledged");
                    acked.fetch_add(batch as u64, Ordering::Relaxed);
                }
                (region, seq)
            }));
        }
        let mut last = Vec::new();
        for task in tasks {
            last.push(task.await.expect("an agent task"));
        }
        last
    });
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds(&server) - started_cpu;
    let rss = peak_rss_mib(&server);
    let total = acked.load(Ordering::Relaxed);
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    let _ = server.wait();
    let stored = runtime.block_on(count_stored(&database, &last_seqs, monitors));
    eprintln!(
        "{agents} agents, {monitors} monitors, {batch} results per report: {total} results acknowledged in {elapsed:.1} s"
    );
    println!("results per second {:.0}", total as f64 / elapsed);
    println!("server cores {:.2}", cpu / elapsed);
    println!("server peak rss MiB {rss:.0}");
    println!("stored {stored} of {total} acknowledged");
    assert_eq!(stored, total, "every acknowledged result is stored once");
}

fn write_config(
    dir: &Path,
    database: &str,
    monitors: usize,
    regions: &[String],
) -> std::path::PathBuf {
    let mut config = format!(
        "[server]\ndatabase = \"{database}\"\n\n[defaults]\ninterval = \"1h\"\nregions = [{}]\n\n[[components]]\nid = \"c\"\nname = \"C\"\n",
        regions
            .iter()
            .map(|region| format!("\"{region}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for monitor in 0..monitors {
        config.push_str(&format!(
            "\n[[monitors]]\nid = \"m{monitor}\"\ncomponent = \"c\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = 9\n"
        ));
    }
    let path = dir.join("pharos.toml");
    std::fs::write(&path, config).expect("the configuration");
    path
}

async fn wait_until_up(port: u16) {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stored rows of every region's series, each region's numbers checked to be 1..=last.
async fn count_stored(database: &str, last_seqs: &[(String, u64)], monitors: usize) -> u64 {
    let store = pharos_store::open(
        &pharos_core::DatabaseUrl::new(database),
        pharos_store::OpenMode::Existing,
    )
    .await
    .expect("the store");
    let agents = store.agents().await.expect("the agents");
    let mut stored = 0u64;
    for (region, last) in last_seqs {
        let recorded = agents
            .iter()
            .find(|agent| &agent.name == region)
            .map_or(0, |agent| agent.last_seq);
        assert_eq!(recorded, *last, "{region}: the stored sequence number");
        for monitor in 0..monitors {
            let series = MonitorId::new(format!("m{monitor}@{region}"));
            stored += store
                .recent_results(&series, u32::MAX)
                .await
                .expect("results")
                .len() as u64;
        }
    }
    stored
}

fn cpu_seconds(child: &Child) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|value| value.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_mib(child: &Child) -> f64 {
    std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}
