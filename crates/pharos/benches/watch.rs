//! Watch connections: the time from killing a target to its incident, at a 30 s interval, for
//! a monitor with `watch = true` and one without, side by side in one `pharos serve`. Both
//! targets (TCP services that hold connections, as a mail server does) are killed at the same
//! moment, at a random point of the interval, then started again; this repeats.
//!
//! Run: `cargo bench -p pharos --bench watch`
//! Options (environment): PHAROS_BENCH_TRIALS (5), PHAROS_BENCH_INTERVAL_SECONDS (30).

use chrono::{DateTime, Utc};
use rand::Rng;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// A TCP service holding its connections, whose listener and connections die together.
struct Target {
    address: SocketAddr,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Target {
    async fn start(address: SocketAddr) -> Self {
        let listener = TcpListener::bind(address).await.expect("the target's port");
        let address = listener.local_addr().unwrap();
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let connections = tasks.clone();
        let accepting = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let task = tokio::spawn(async move {
                    let _ = stream.write_all(b"220 ready\r\n").await;
                    let mut sink = [0u8; 256];
                    while matches!(stream.read(&mut sink).await, Ok(read) if read > 0) {}
                });
                connections.lock().unwrap().push(task.abort_handle());
            }
        });
        tasks.lock().unwrap().push(accepting.abort_handle());
        Self { address, tasks }
    }

    fn kill(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

fn main() {
    let trials = setting("PHAROS_BENCH_TRIALS", 5);
    let interval = setting("PHAROS_BENCH_INTERVAL_SECONDS", 30);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(run(trials, interval));
}

async fn run(trials: u64, interval: u64) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut watched = Target::start(any).await;
    let mut scheduled = Target::start(any).await;
    let config = format!(
        r#"
[server]
database = "{database}"

[incidents]
settle = "1s"

[defaults]
interval = "{interval}s"
timeout = "3s"

[[components]]
id = "watched"
name = "Watched"

[[components]]
id = "scheduled"
name = "Scheduled"

[[monitors]]
id = "watched"
component = "watched"
type = "tcp"
host = "127.0.0.1"
port = {watched_port}
expect = "220"
watch = true

[[monitors]]
id = "scheduled"
component = "scheduled"
type = "tcp"
host = "127.0.0.1"
port = {scheduled_port}
expect = "220"
"#,
        database = dir.path().join("pharos.db").display(),
        watched_port = watched.address.port(),
        scheduled_port = scheduled.address.port(),
    );
    let path = dir.path().join("pharos.toml");
    std::fs::write(&path, config).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_pharos"))
        .args(["serve", "--config"])
        .arg(&path)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("pharos starts");
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut with_watch = Vec::new();
    let mut without = Vec::new();
    for trial in 1..=trials {
        wait_for(address, Duration::from_secs(interval * 3), |status| {
            status["status"] == "operational"
                && status["components"].as_array().is_some_and(|components| {
                    components.iter().all(|c| c["status"] == "operational")
                })
                && status["active_incidents"]
                    .as_array()
                    .is_some_and(|incidents| incidents.is_empty())
        })
        .await;
        // Let both watch and schedule settle, then a random point of the interval.
        let wait = rand::rng().random_range(interval as f64 * 0.2..interval as f64 * 1.2);
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        let killed = Utc::now();
        watched.kill();
        scheduled.kill();
        let detected = wait_for_incidents(address, killed, Duration::from_secs(interval * 3)).await;
        let (watch_after, schedule_after) = (detected.0 - killed, detected.1 - killed);
        eprintln!(
            "trial {trial}: with watch {:.1} s, without {:.1} s",
            watch_after.num_milliseconds() as f64 / 1000.0,
            schedule_after.num_milliseconds() as f64 / 1000.0
        );
        with_watch.push(watch_after.num_milliseconds() as f64 / 1000.0);
        without.push(schedule_after.num_milliseconds() as f64 / 1000.0);
        watched = Target::start(watched.address).await;
        scheduled = Target::start(scheduled.address).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    for (name, times) in [("with watch", &with_watch), ("without watch", &without)] {
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        let min = times.iter().copied().fold(f64::MAX, f64::min);
        let max = times.iter().copied().fold(0.0, f64::max);
        println!("{name} seconds to incident mean {mean:.1} min {min:.1} max {max:.1}");
    }
}

async fn get_json(address: SocketAddr, path: &str) -> Option<serde_json::Value> {
    let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.ok()?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n")?;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return None;
    }
    serde_json::from_str(body).ok()
}

async fn wait_for(
    address: SocketAddr,
    limit: Duration,
    check: impl Fn(&serde_json::Value) -> bool,
) {
    let started = Instant::now();
    loop {
        if let Some(status) = get_json(address, "/api/v1/status").await {
            if check(&status) {
                return;
            }
        }
        assert!(started.elapsed() < limit, "timed out waiting for the page");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// When the watched and the scheduled component's incidents (opened after `after`) were
/// detected.
async fn wait_for_incidents(
    address: SocketAddr,
    after: DateTime<Utc>,
    limit: Duration,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let started = Instant::now();
    loop {
        if let Some(incidents) = get_json(address, "/api/v1/incidents").await {
            let detected = |component: &str| {
                incidents["incidents"]
                    .as_array()?
                    .iter()
                    .find_map(|incident| {
                        let at: DateTime<Utc> = incident["detected_at"].as_str()?.parse().ok()?;
                        (incident["component"]["id"] == component && at >= after).then_some(at)
                    })
            };
            if let (Some(watched), Some(scheduled)) = (detected("watched"), detected("scheduled")) {
                return (watched, scheduled);
            }
        }
        assert!(
            started.elapsed() < limit,
            "timed out waiting for the incidents"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
