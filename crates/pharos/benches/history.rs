//! The history benchmark: does pharos get slower as its history grows? Runs the real
//! `pharos serve` twice on the same monitors (5,000 HTTP checks at 30 s against a local web
//! server, nginx when installed), once on a fresh store and once on a store holding the
//! history of a 90-day-old install, seeded through the Store API: for every monitor one
//! result an hour (rolled up into hour and day roll-ups as a real install's would be, then
//! pruned by the default retention) and two resolved incidents per component. For each run
//! it measures the time from exec to the first 200 on `/`, then, after one interval of
//! warm-up, the CPU the server process uses, its peak memory and how late probes start.
//!
//! Run: `cargo bench -p pharos --bench history`
//! Options (environment): PHAROS_BENCH_MONITORS (5000), PHAROS_BENCH_INTERVAL_SECONDS (30),
//! PHAROS_BENCH_SECONDS (measured time, 60), PHAROS_BENCH_HISTORY_DAYS (90),
//! PHAROS_BENCH_DIR (keep the stores there; a seeded store found there is reused, which
//! saves the seeding on repeated runs, its history then ending when it was seeded).

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use pharos_core::{
    ComponentId, ComponentStatus, Incident, IncidentPhase, IncidentUpdate, MonitorId, Outcome,
};
use pharos_store::{Batch, ResultRecord, Retention, SqliteStore, Store};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MONITORS_PER_COMPONENT: usize = 10;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let monitors = setting("PHAROS_BENCH_MONITORS", 5_000) as usize;
    let interval = setting("PHAROS_BENCH_INTERVAL_SECONDS", 30);
    let measured = setting("PHAROS_BENCH_SECONDS", 60);
    let days = setting("PHAROS_BENCH_HISTORY_DAYS", 90) as i64;
    let temporary = tempfile::tempdir().expect("a temporary directory");
    let kept = std::env::var_os("PHAROS_BENCH_DIR").map(std::path::PathBuf::from);
    let work = kept.as_deref().unwrap_or(temporary.path());
    let target = Target::start(work);
    eprintln!("target: {} at {}", target.kind, target.address);

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let fresh_dir = work.join("fresh");
    let history_dir = work.join("history");
    let _ = std::fs::remove_dir_all(&fresh_dir);
    for dir in [&fresh_dir, &history_dir] {
        std::fs::create_dir_all(dir).expect("a directory");
        write_config(dir, monitors, interval, &target.address);
    }
    let seeding = Instant::now();
    let seeded_marker = history_dir.join("seeded");
    let seeded_what = format!("{monitors} monitors, {days} days\n");
    if std::fs::read_to_string(&seeded_marker).is_ok_and(|found| found == seeded_what) {
        eprintln!("reusing the history seeded in {}", history_dir.display());
    } else {
        for file in ["pharos.db", "pharos.db-wal", "pharos.db-shm"] {
            let _ = std::fs::remove_file(history_dir.join(file));
        }
        runtime.block_on(seed(&history_dir.join("pharos.db"), monitors, days));
        std::fs::write(&seeded_marker, &seeded_what).expect("the seeded marker");
    }
    let size = std::fs::metadata(history_dir.join("pharos.db"))
        .map(|meta| meta.len())
        .unwrap_or(0);
    eprintln!(
        "seeded {days} days of history for {monitors} monitors in {:.0?} ({} MiB)",
        seeding.elapsed(),
        size / (1 << 20)
    );

    let fresh = Run::measure(&fresh_dir, interval, measured);
    let history = Run::measure(&history_dir, interval, measured);
    for (name, run) in [("fresh", &fresh), ("history", &history)] {
        eprintln!(
            "{name}: {:.3} cores, lateness p99 {} ms, peak rss {:.0} MiB, startup {} ms, {} probes, {} of {monitors} monitors up",
            run.cores, run.lateness_p99_ms, run.rss_mib, run.startup_ms, run.probes, run.up
        );
    }
    println!("fresh cores {:.3}", fresh.cores);
    println!("history cores {:.3}", history.cores);
    println!("history lateness p99 ms {}", history.lateness_p99_ms);
    println!("history rss MiB {:.0}", history.rss_mib);
    println!("history startup ms {}", history.startup_ms);
    println!("fresh lateness p99 ms {}", fresh.lateness_p99_ms);
    println!("fresh rss MiB {:.0}", fresh.rss_mib);
    println!("fresh startup ms {}", fresh.startup_ms);
    drop(target);
}

/// The web server the monitors check: nginx when installed, else a small one in this
/// process (either way outside the measured `pharos` process).
struct Target {
    kind: &'static str,
    address: String,
    nginx: Option<Child>,
}

impl Target {
    fn start(dir: &Path) -> Self {
        let port = free_port();
        let nginx = Path::new("/usr/sbin/nginx");
        if nginx.exists() {
            let root = dir.join("nginx");
            std::fs::create_dir_all(root.join("html")).expect("nginx directory");
            // nginx's workers run as another user when it is started by root.
            use std::os::unix::fs::PermissionsExt as _;
            for path in [dir, root.as_path(), root.join("html").as_path()] {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
                    .expect("a readable directory");
            }
            std::fs::write(root.join("html/index.html"), "ok\n").expect("index");
            let config = format!(
                "daemon off; worker_processes 1; pid {root}/nginx.pid; error_log {root}/error.log;\n\
                 events {{ worker_connections 4096; }}\n\
                 http {{ access_log off; client_body_temp_path {root}/body; proxy_temp_path {root}/proxy;\n\
                 fastcgi_temp_path {root}/fastcgi; uwsgi_temp_path {root}/uwsgi; scgi_temp_path {root}/scgi;\n\
                 server {{ listen 127.0.0.1:{port}; root {root}/html; }} }}\n",
                root = root.display()
            );
            std::fs::write(root.join("nginx.conf"), config).expect("nginx.conf");
            let child = Command::new(nginx)
                .arg("-c")
                .arg(root.join("nginx.conf"))
                .arg("-p")
                .arg(&root)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nginx starts");
            let address = format!("127.0.0.1:{port}");
            wait_for(Duration::from_secs(10), || {
                get(&address, "/").is_some_and(|(status, _)| status == 200)
            });
            return Self {
                kind: "nginx",
                address,
                nginx: Some(child),
            };
        }
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("a listener");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || answer(stream));
            }
        });
        Self {
            kind: "built-in HTTP server (install nginx for the reference figures)",
            address: format!("127.0.0.1:{port}"),
            nginx: None,
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(child) = self.nginx.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Answers HTTP/1.1 requests on one connection with a small 200.
fn answer(mut stream: TcpStream) {
    let mut buffer = [0u8; 4096];
    let mut pending = Vec::new();
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(read) => pending.extend_from_slice(&buffer[..read]),
        }
        while let Some(end) = pending.windows(4).position(|window| window == b"\r\n\r\n") {
            pending.drain(..end + 4);
            let reply =
                b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-type: text/plain\r\n\r\nok\n";
            if stream.write_all(reply).is_err() {
                return;
            }
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

fn write_config(dir: &Path, monitors: usize, interval: u64, target: &str) {
    use std::fmt::Write as _;
    let port = free_port();
    let mut toml = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\ndatabase = \"{}\"\nadmin_token = \"bench-token-0123456789abcdef\"\n\n\
         [page]\ntitle = \"History benchmark\"\n\n[defaults]\ninterval = \"{interval}s\"\ntimeout = \"{}s\"\n\n",
        dir.join("pharos.db").display(),
        interval.min(10)
    );
    for component in 0..monitors.div_ceil(MONITORS_PER_COMPONENT) {
        let _ = writeln!(
            toml,
            "[[components]]\nid = \"c{component}\"\nname = \"Service {component}\"\n"
        );
    }
    for monitor in 0..monitors {
        let _ = writeln!(
            toml,
            "[[monitors]]\nid = \"m{monitor}\"\ncomponent = \"c{}\"\ntype = \"http\"\nurl = \"http://{target}/?m={monitor}\"\n",
            monitor / MONITORS_PER_COMPONENT
        );
    }
    std::fs::write(dir.join("pharos.toml"), toml).expect("the configuration");
}

/// A 90-day-old install's history, written through the Store API day by day: one result an
/// hour per monitor (2% of them down), rolled up after each day, then pruned by the default
/// retention; and two resolved incidents per component.
async fn seed(database: &Path, monitors: usize, days: i64) {
    let store = SqliteStore::open(database.to_str().expect("a UTF-8 path"))
        .await
        .expect("the store opens");
    let now = Utc::now();
    let first = now - ChronoDuration::days(days);
    let ids: Vec<MonitorId> = (0..monitors)
        .map(|monitor| MonitorId::new(format!("m{monitor}")))
        .collect();
    let mut seeded = 0u64;
    let (mut committing, mut rolling_up) = (Duration::ZERO, Duration::ZERO);
    for day in 0..days {
        let day_start = first + ChronoDuration::days(day);
        let mut batch = Batch::default();
        for hour in 0..24 {
            let at = day_start + ChronoDuration::hours(hour);
            for (index, monitor) in ids.iter().enumerate() {
                seeded += 1;
                let latency = Duration::from_micros(800 + (seeded % 700) * 10);
                let outcome = if (index as u64 + seeded).is_multiple_of(50) {
                    Outcome::down(latency, vec![], "connection refused")
                } else {
                    Outcome::up(latency, vec![])
                };
                batch.results.push(ResultRecord {
                    monitor: monitor.clone(),
                    at,
                    outcome,
                });
            }
        }
        let step = Instant::now();
        store.commit(&batch).await.expect("a day of results");
        committing += step.elapsed();
        let step = Instant::now();
        store
            .roll_up(day_start + ChronoDuration::days(1))
            .await
            .expect("a day rolled up");
        rolling_up += step.elapsed();
        if (day + 1) % 10 == 0 {
            eprintln!("seeding: {} of {days} days", day + 1);
        }
    }
    eprintln!("seeding: {committing:.1?} writing results, {rolling_up:.1?} rolling up");
    // The default retention, as `serve` applies it.
    let retention = Retention {
        raw_results: Duration::from_secs(7 * 86_400),
        minute_rollups: Duration::from_secs(14 * 86_400),
        rollups: Duration::from_secs(400 * 86_400),
        messages: Duration::from_secs(30 * 86_400),
    };
    store
        .prune(now, &retention)
        .await
        .expect("pruned by retention");
    let components = monitors.div_ceil(MONITORS_PER_COMPONENT);
    let first_id = store
        .reserve_incident_ids(2 * components as u32)
        .await
        .expect("incident ids")
        .start;
    let mut batch = Batch::default();
    for number in 0..2 * components {
        let component = number % components;
        let started = first + ChronoDuration::hours(1 + (number as i64 * 37) % (days * 24 - 2));
        batch.new_incidents.push(resolved_incident(
            first_id + number as i64,
            component,
            started,
        ));
    }
    store.commit(&batch).await.expect("incidents");
}

fn resolved_incident(id: i64, component: usize, started: DateTime<Utc>) -> Incident {
    let resolved = started + ChronoDuration::minutes(25);
    Incident {
        dependents: Vec::new(),
        scope: None,
        id,
        component: ComponentId::new(format!("c{component}")),
        title: format!("Service {component}: major outage"),
        phase: IncidentPhase::Resolved,
        impact: ComponentStatus::Operational,
        worst_impact: ComponentStatus::MajorOutage,
        started_at: started,
        detected_at: started + ChronoDuration::minutes(1),
        resolved_at: Some(resolved),
        updates: vec![
            IncidentUpdate {
                at: started + ChronoDuration::minutes(1),
                phase: IncidentPhase::Investigating,
                message: "We are investigating.".into(),
                automatic: true,
                expected_by: None,
                next_update_by: None,
                edited_at: None,
            },
            IncidentUpdate {
                at: resolved,
                phase: IncidentPhase::Resolved,
                message: "Working normally again.".into(),
                automatic: true,
                expected_by: None,
                next_update_by: None,
                edited_at: None,
            },
        ],
        timeline: vec![],
    }
}

struct Run {
    /// Monitors up at the end: the target really answered.
    up: usize,
    startup_ms: u128,
    cores: f64,
    rss_mib: f64,
    lateness_p99_ms: u64,
    probes: u64,
}

impl Run {
    /// Starts `pharos serve` on the directory's configuration and measures it.
    fn measure(dir: &Path, interval: u64, measured: u64) -> Run {
        let config = dir.join("pharos.toml");
        let text = std::fs::read_to_string(&config).expect("the configuration");
        let address = text
            .lines()
            .find_map(|line| line.strip_prefix("listen = \""))
            .map(|rest| rest.trim_end_matches('"').to_owned())
            .expect("a listen address");
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_pharos"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("pharos starts");
        wait_for(Duration::from_secs(60), || {
            get(&address, "/").is_some_and(|(status, _)| status == 200)
        });
        let startup_ms = started.elapsed().as_millis();
        std::thread::sleep(Duration::from_secs(interval));
        let pid = child.id();
        let probes_before = probes(&address);
        let cpu_before = cpu_seconds(pid);
        let window = Instant::now();
        std::thread::sleep(Duration::from_secs(measured));
        let cores = (cpu_seconds(pid) - cpu_before) / window.elapsed().as_secs_f64();
        let probes = probes(&address) - probes_before;
        let rss_mib = peak_rss_mib(pid);
        let up = metrics(&address)
            .lines()
            .filter(|line| line.starts_with("pharos_monitor_up{") && line.ends_with(" 1"))
            .count();
        let lateness_p99_ms = lateness_p99_ms(&address);
        // SIGTERM, as a service manager would stop it.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let _ = child.wait();
        Run {
            up,
            startup_ms,
            cores,
            rss_mib,
            lateness_p99_ms,
            probes,
        }
    }
}

fn metrics(address: &str) -> String {
    get_with(
        address,
        "/metrics",
        "authorization: Bearer bench-token-0123456789abcdef\r\n",
    )
    .map(|(_, body)| body)
    .unwrap_or_default()
}

fn lateness_p99_ms(address: &str) -> u64 {
    metrics(address)
        .lines()
        .find_map(|line| line.strip_prefix("pharos_scheduler_lateness_seconds{quantile=\"0.99\"} "))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map(|seconds| (seconds * 1000.0).round() as u64)
        .unwrap_or(u64::MAX)
}

fn probes(address: &str) -> u64 {
    metrics(address)
        .lines()
        .filter(|line| line.starts_with("pharos_probes_finished_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn get(address: &str, path: &str) -> Option<(u16, String)> {
    get_with(address, path, "")
}

/// One HTTP/1.1 GET; the status and body.
fn get_with(address: &str, path: &str, headers: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n{headers}\r\n"
    )
    .ok()?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).ok()?;
    let reply = String::from_utf8_lossy(&reply);
    let status = reply.split(' ').nth(1)?.parse().ok()?;
    let body = reply.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

fn wait_for(limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "not ready within {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// User plus system CPU seconds of a process, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
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

/// Peak resident set size of a process in MiB, from /proc.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
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
