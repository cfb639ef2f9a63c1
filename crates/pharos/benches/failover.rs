//! Failover: two `pharos serve` replicas on a throwaway PostgreSQL server; the leader is
//! killed (SIGKILL) at a random moment, and at the same moment the service it checks goes
//! down. Measured from the kill: the other replica leading (its `/healthz`), its first probe
//! (a check newer than the kill on the page), and the first notification (the incident's
//! webhook). The killed replica is started again as a follower, and this repeats.
//!
//! Run: `cargo bench -p pharos --bench failover` (needs PostgreSQL's server binaries)
//! Options (environment): PHAROS_BENCH_TRIALS (3).

#[path = "../../pharos-store/tests/store/pg_server.rs"]
mod pg_server;

use chrono::{DateTime, Utc};
use pharos_demo::WebhookReceiver;
use rand::Rng;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn main() {
    let trials: u32 = std::env::var("PHAROS_BENCH_TRIALS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(3);
    let database = pg_server::fresh_database("the failover bench")
        .expect("PostgreSQL is installed (see the notice)");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(run(&database, trials));
}

struct Replica {
    child: Child,
    address: SocketAddr,
}

impl Replica {
    fn start(config: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_pharos"))
            .args(["serve", "--config"])
            .arg(config)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pharos starts");
        Self {
            child,
            address: format!("127.0.0.1:{port}").parse().unwrap(),
        }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(address: SocketAddr, path: &str) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

async fn leads(replica: &Replica) -> bool {
    get(replica.address, "/healthz")
        .await
        .is_some_and(|body| body.contains("leader: this replica"))
}

/// The newest check shown by `replica`.
async fn last_check(replica: &Replica) -> Option<DateTime<Utc>> {
    let body = get(replica.address, "/api/v1/components").await?;
    let components: serde_json::Value = serde_json::from_str(&body).ok()?;
    components[0]["monitors"][0]["last_check"]["at"]
        .as_str()?
        .parse()
        .ok()
}

async fn until<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn run(database: &str, trials: u32) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target_address = target.local_addr().unwrap();
    let receiver = WebhookReceiver::start("127.0.0.1:0".parse().unwrap(), SECRET)
        .await
        .unwrap();
    let config = dir.path().join("pharos.toml");
    std::fs::write(
        &config,
        format!(
            r#"[server]
database = "{database}"

[[components]]
id = "svc"
name = "Service"

[[monitors]]
id = "svc"
component = "svc"
type = "tcp"
host = "127.0.0.1"
port = {port}
interval = "2s"
timeout = "1s"
confirm_delay = "500ms"

[[channels]]
id = "hook"
type = "webhook"
url = "{hook}"
secret = "{SECRET}"
events = ["incident.opened"]
"#,
            port = target_address.port(),
            hook = receiver.url(),
        ),
    )
    .unwrap();
    let mut target = Some(target);
    let serving = |listener: tokio::net::TcpListener| {
        tokio::spawn(async move {
            loop {
                if let Ok((mut stream, _)) = listener.accept().await {
                    let _ = stream.write_all(b"220 ready\r\n").await;
                }
            }
        })
    };
    let mut accepting = Some(serving(target.take().unwrap()));
    let mut leader = Replica::start(&config);
    until("the first replica leads", async || {
        leads(&leader).await.then_some(())
    })
    .await;
    let mut follower = Replica::start(&config);
    let mut rows = Vec::new();
    for trial in 1..=trials {
        until("the page shows the service up", async || {
            let body = get(follower.address, "/api/v1/status").await?;
            body.contains("\"operational\"").then_some(())
        })
        .await;
        let wait = rand::rng().random_range(1.0..4.0);
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        let opened_before = receiver.received().len();
        let killed = Instant::now();
        let killed_at = Utc::now();
        leader.kill();
        if let Some(task) = accepting.take() {
            task.abort();
            let _ = task.await;
        }
        until("the follower leads", async || {
            leads(&follower).await.then_some(())
        })
        .await;
        let leading = killed.elapsed();
        until("a probe by the new leader", async || {
            last_check(&follower)
                .await
                .filter(|at| *at > killed_at)
                .map(|_| ())
        })
        .await;
        let probed = killed.elapsed();
        until("the incident's notification", async || {
            (receiver.received().len() > opened_before).then_some(())
        })
        .await;
        let notified = killed.elapsed();
        eprintln!(
            "trial {trial}: leading after {:.1} s, first probe {:.1} s, first notification {:.1} s",
            leading.as_secs_f64(),
            probed.as_secs_f64(),
            notified.as_secs_f64()
        );
        rows.push((leading, probed, notified));
        // The service comes back, the killed replica returns as a follower.
        let listener = tokio::net::TcpListener::bind(target_address).await.unwrap();
        accepting = Some(serving(listener));
        leader = std::mem::replace(&mut follower, Replica::start(&config));
    }
    let mean = |pick: fn(&(Duration, Duration, Duration)) -> Duration| {
        rows.iter().map(|row| pick(row).as_secs_f64()).sum::<f64>() / rows.len() as f64
    };
    let max = |pick: fn(&(Duration, Duration, Duration)) -> Duration| {
        rows.iter()
            .map(|row| pick(row).as_secs_f64())
            .fold(0.0, f64::max)
    };
    println!(
        "leading mean {:.1} s max {:.1} s",
        mean(|row| row.0),
        max(|row| row.0)
    );
    println!(
        "first probe mean {:.1} s max {:.1} s",
        mean(|row| row.1),
        max(|row| row.1)
    );
    println!(
        "first notification mean {:.1} s max {:.1} s",
        mean(|row| row.2),
        max(|row| row.2)
    );
}
