//! Regression tests, each named after the bug it keeps fixed.

use crate::support::*;
use pharos_demo::WebhookReceiver;
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub(crate) const MOUNT_REQUIRED_VARIABLE: &str = "PHAROS_TEST_MOUNT";

/// A small tmpfs the test mounts, so that the disk can really fill up. Unmounted on drop.
struct SmallDisk {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !mounted {
            skip(
                MOUNT_REQUIRED_VARIABLE,
                "the disk-full test",
                "mounting a small tmpfs needs root (mount -t tmpfs)",
            );
            return None;
        }
        Some(Self {
            path: dir.path().to_owned(),
            _dir: dir,
        })
    }

    /// Writes a filler file until the file system refuses more.
    fn fill(&self) {
        let mut filler = std::fs::File::create(self.path.join("filler")).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while filler.write_all(&chunk).is_ok() {}
        let small = [0u8; 512];
        while filler.write_all(&small).is_ok() {}
        let _ = filler.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.path.join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Three components, each with a TCP monitor checked every second.
fn flapping_config(dir: &Path, database: &Path, targets: &[&TcpTarget], webhook: &str) -> PathBuf {
    let mut config = format!(
        "[server]\ndatabase = \"{}\"\nadmin_token = \"{ADMIN_TOKEN}\"\n\n[page]\ntitle = \"Disk\"\n\n\
         [[channels]]\nid = \"receiver\"\ntype = \"webhook\"\nurl = \"{webhook}\"\nsecret = \"{SECRET}\"\n",
        database.display()
    );
    for (index, target) in targets.iter().enumerate() {
        config.push_str(&format!(
            "\n[[components]]\nid = \"c{index}\"\nname = \"Component {index}\"\n\n\
             [[monitors]]\nid = \"m{index}\"\nname = \"Port {index}\"\ncomponent = \"c{index}\"\n\
             type = \"tcp\"\nhost = \"127.0.0.1\"\nport = {}\nexpect = \"220\"\n\
             interval = \"1s\"\ntimeout = \"500ms\"\nconfirm_delay = \"300ms\"\n",
            target.address.port()
        ));
    }
    let path = dir.join("pharos.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// Stops and starts the targets in turn until `stop` is set.
fn flap(
    mut targets: Vec<TcpTarget>,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let mut round = 0usize;
        loop {
            let index = round % targets.len();
            if (round / targets.len()).is_multiple_of(2) {
                targets[index].stop().await;
            } else {
                targets[index].restart().await;
            }
            round += 1;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(1500)) => {}
                _ = stopped.changed() => break,
            }
        }
        for target in &mut targets {
            target.stop().await;
        }
    });
    (stop, task)
}

/// What each announced incident said of itself: component and start, by incident id.
fn announced(receiver: &WebhookReceiver) -> HashMap<i64, (String, String)> {
    let mut announced = HashMap::new();
    for received in receiver.received() {
        let incident = &received.body["data"]["incident"];
        if let Some(id) = incident["id"].as_i64() {
            let identity = (
                incident["component"]["id"].as_str().unwrap().to_owned(),
                incident["started_at"].as_str().unwrap().to_owned(),
            );
            let previous = announced.insert(id, identity.clone());
            assert!(
                previous.as_ref().is_none_or(|previous| *previous == identity),
                "incident {id} was announced as two different incidents: {previous:?} and {identity:?}"
            );
        }
    }
    announced
}

/// Every announced incident exists, as announced, in what a restarted pharos serves. The
/// page is rendered from the store after each commit, so an incident announced a moment ago
/// may take a render to show: it gets a few seconds, not forever.
async fn assert_all_saved(pharos: &Pharos, announced: &HashMap<i64, (String, String)>) {
    for (id, (component, started_at)) in announced {
        let path = format!("/api/v1/incidents/{id}");
        let found = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let (status, body) = pharos.get(&path).await;
                if status == 200 {
                    return body;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        let (status, body) = match found {
            Ok(body) => (200, body),
            Err(_) => pharos.get(&path).await,
        };
        assert_eq!(
            status, 200,
            "announced incident {id} was never saved: {body}"
        );
        let incident: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            incident["component"]["id"],
            component.as_str(),
            "incident {id}"
        );
        assert_eq!(incident["started_at"], started_at.as_str(), "incident {id}");
    }
}

/// Before: after SQLITE_FULL a pooled connection stayed inside a transaction, later batches
/// were "committed" into it and announced but never saved, monitoring stalled behind a page
/// still saying "operational", SIGTERM hung, and incident ids were reused after a restart.
#[tokio::test]
async fn disk_full_then_space_returns_loses_nothing_acknowledged() {
    let Some(disk) = SmallDisk::mount(20) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start("127.0.0.1:0".parse().unwrap(), SECRET)
        .await
        .unwrap();
    let mut targets = Vec::new();
    for _ in 0..3 {
        targets.push(TcpTarget::start().await);
    }
    let config = flapping_config(
        dir.path(),
        &disk.path.join("pharos.db"),
        &targets.iter().collect::<Vec<_>>(),
        &receiver.url(),
    );
    let pharos = Pharos::start(&config, dir.path());
    let (stop_flapping, flapping) = flap(targets);
    eventually(
        Duration::from_secs(30),
        "a first incident announced",
        || async { (!announced(&receiver).is_empty()).then_some(()) },
    )
    .await;

    // The disk fills up: pharos says so instead of serving a page that silently stops.
    disk.fill();
    let health = eventually(
        Duration::from_secs(30),
        "/healthz to report the store",
        || async {
            let (status, body) = pharos.get("/healthz").await;
            (status == 503).then_some(body)
        },
    )
    .await;
    assert!(health.contains("full"), "{health}");
    // An operator's update cannot be saved now: said at once, not left hanging.
    let (status, body) = http_post(
        pharos.address,
        "/api/v1/admin/incidents/1/updates",
        Some(ADMIN_TOKEN),
        r#"{"status": "identified", "message": "Disk trouble."}"#,
    )
    .await;
    assert_eq!(status, 503, "{body}");
    eventually(
        Duration::from_secs(10),
        "the page to say it is stale",
        || async {
            let page = pharos.get("/").await.1;
            page.contains("cannot save new check results since")
                .then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(15)).await;

    // Space returns: monitoring resumes by itself.
    disk.free();
    eventually(Duration::from_secs(15), "/healthz to recover", || async {
        (pharos.get("/healthz").await.0 == 200).then_some(())
    })
    .await;
    let resumed_at = chrono::Utc::now();
    eventually(
        Duration::from_secs(15),
        "fresh results after recovery",
        || async {
            let components = pharos.get_json("/api/v1/components").await;
            components
                .as_array()
                .unwrap()
                .iter()
                .all(|component| {
                    component["monitors"][0]["last_check"]["at"]
                        .as_str()
                        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                        .is_some_and(|at| at > resumed_at)
                })
                .then_some(())
        },
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "the page to be fresh again",
        || async {
            let page = pharos.get("/").await.1;
            (!page.contains("cannot save new check results")).then_some(())
        },
    )
    .await;
    let flaps_before = receiver.received().len();
    eventually(
        Duration::from_secs(30),
        "notifications after recovery",
        || async { (receiver.received().len() > flaps_before).then_some(()) },
    )
    .await;

    // Full again, and SIGTERM: pharos stops within 10 s anyway.
    disk.fill();
    eventually(
        Duration::from_secs(30),
        "/healthz to report the store again",
        || async { (pharos.get("/healthz").await.0 == 503).then_some(()) },
    )
    .await;
    let asked = Instant::now();
    let status = pharos.terminate();
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "SIGTERM took {:?} while the store refused writes ({status})",
        asked.elapsed()
    );
    disk.free();

    // Everything announced was saved, as announced, and no id names two incidents.
    let before_restart = announced(&receiver);
    assert!(before_restart.len() >= 2, "{before_restart:?}");
    let pharos = Pharos::start(&config, dir.path());
    assert_all_saved(&pharos, &before_restart).await;
    let count = receiver.received().len();
    eventually(
        Duration::from_secs(30),
        "notifications after the restart",
        || async { (receiver.received().len() > count + 2).then_some(()) },
    )
    .await;
    let _ = stop_flapping.send(true);
    let _ = flapping.await;
    let all = announced(&receiver);
    assert_all_saved(&pharos, &all).await;
    drop(pharos);
    drop(disk);
}

/// Before: `pharos export` on a path with no database created an empty one and published
/// "All systems operational".
#[test]
fn export_without_a_database_refuses_instead_of_publishing_an_empty_page() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("missing.db");
    let config = dir.path().join("pharos.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndatabase = \"{}\"\nadmin_token = \"${{PHAROS_TEST_EXPORT_UNSET}}\"\n\n[[components]]\nid = \"web\"\nname = \"Web\"\n\n\
             [[monitors]]\nid = \"web-tcp\"\ncomponent = \"web\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = 443\n",
            database.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("site");
    // Export uses no secret: an unset one is a warning, not a reason to refuse.
    let output = Command::new(binary())
        .args(["export", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .env_remove("PHAROS_TEST_EXPORT_UNSET")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(66), "{stderr}");
    assert!(stderr.contains("no database"), "{stderr}");
    assert!(
        stderr.contains("`PHAROS_TEST_EXPORT_UNSET` is not set (warning)"),
        "{stderr}"
    );
    assert!(!database.exists(), "no database was created");
    assert!(!out.join("index.html").exists(), "nothing was published");
}

/// Before: validating the shipped examples failed when their secrets' variables were unset,
/// and one unset variable cascaded into further errors at the same value.
#[test]
fn unset_secret_variables_are_warnings_for_validate_and_errors_for_serve() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for example in [
        "crates/pharos-config/example.toml",
        "examples/email-status.toml",
    ] {
        let output = Command::new(binary())
            .args(["config", "validate"])
            .arg(root.join(example))
            .env_remove("PHAROS_ADMIN_TOKEN")
            .env_remove("PHAROS_WEBHOOK_SECRET")
            .env_remove("PHAROS_MAIL_PASSWORD")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{example}: {stderr}");
        assert!(
            stderr.contains("is not set (warning)"),
            "{example}: {stderr}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pharos.toml");
    std::fs::write(
        &config,
        "[server]\nadmin_token = \"${PHAROS_TEST_UNSET_TOKEN}\"\n\n[[components]]\nid = \"web\"\nname = \"Web\"\n\n\
         [[monitors]]\nid = \"web-tcp\"\ncomponent = \"web\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = 443\n",
    )
    .unwrap();
    let output = Command::new(binary())
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("PHAROS_TEST_UNSET_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(64), "{stderr}");
    let problems: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("pharos.toml:"))
        .collect();
    assert_eq!(
        problems.len(),
        1,
        "one problem, not a cascade (the empty value is not also too short): {stderr}"
    );
    assert!(
        problems[0].contains("`PHAROS_TEST_UNSET_TOKEN` is not set"),
        "{stderr}"
    );
}

/// Opens `count` idle connections to `server` from `source` (an address of the loopback net).
async fn hold_connections(
    server: std::net::SocketAddr,
    source: std::net::IpAddr,
    count: usize,
) -> Vec<tokio::net::TcpStream> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(std::net::SocketAddr::new(source, 0)).unwrap();
        if let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_secs(2), socket.connect(server)).await
        {
            held.push(stream);
        }
    }
    held
}

/// Before: one client holding 1,100 idle connections (open-file limit 1024) made the page
/// unreachable and every probe fail with "Too many open files", which opened false incidents
/// for healthy components and sent them out.
#[tokio::test]
async fn a_client_holding_1100_idle_connections_exhausts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start("127.0.0.1:0".parse().unwrap(), SECRET)
        .await
        .unwrap();
    let targets = vec![TcpTarget::start().await, TcpTarget::start().await];
    let database = dir.path().join("pharos.db");
    let config = flapping_config(
        dir.path(),
        &database,
        &targets.iter().collect::<Vec<_>>(),
        &receiver.url(),
    );
    let pharos = Pharos::start_with_descriptor_limit(&config, dir.path(), 1024);
    eventually(Duration::from_secs(15), "first checks", || async {
        let components = pharos.get_json("/api/v1/components").await;
        components
            .as_array()
            .unwrap()
            .iter()
            .all(|component| component["monitors"][0]["last_check"]["status"] == "up")
            .then_some(())
    })
    .await;

    let hostile = hold_connections(pharos.address, [127, 0, 0, 2].into(), 1100).await;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(12) {
        let (status, _) = pharos.get("/").await;
        assert_eq!(
            status, 200,
            "the page answers others while one client holds connections"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let components = pharos.get_json("/api/v1/components").await;
    for component in components.as_array().unwrap() {
        assert_eq!(component["status"], "operational", "{component}");
        let last = &component["monitors"][0]["last_check"];
        assert_eq!(last["status"], "up", "{last}");
    }
    let incidents = pharos.get_json("/api/v1/incidents").await;
    assert_eq!(
        incidents["incidents"],
        serde_json::json!([]),
        "no false incident"
    );
    assert!(receiver.received().is_empty(), "nothing false was sent");
    assert!(
        !pharos.log_text().contains("Too many open files"),
        "{}",
        pharos.log_text()
    );
    drop(hostile);
    drop(targets);
}

/// Before: a client that sends headers slowly, or stalls its body, could hold SIGTERM up.
#[tokio::test]
async fn sigterm_ends_within_10_s_whatever_clients_do() {
    use tokio::io::AsyncWriteExt as _;
    let dir = tempfile::tempdir().unwrap();
    let target = TcpTarget::start().await;
    let config = write_config(dir.path(), target.address, "http://127.0.0.1:9/unused");
    let pharos = Pharos::start(&config, dir.path());
    let mut slow = Vec::new();
    for index in 0..4 {
        let mut stream = tokio::net::TcpStream::connect(pharos.address)
            .await
            .unwrap();
        let request = if index % 2 == 0 {
            // Headers that never end.
            "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_owned()
        } else {
            // A body that never comes.
            format!(
                "POST /api/v1/admin/incidents/1/updates HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nContent-Length: 1000\r\n\r\n{{"
            )
        };
        stream.write_all(request.as_bytes()).await.unwrap();
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    pharos.terminate();
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "SIGTERM took {:?}",
        asked.elapsed()
    );
    drop(slow);
}

/// Before: a probe that failed for want of pharos's own file descriptors was "down" ("Too many
/// open files"), and so opened false incidents. Now it is "unknown".
#[tokio::test]
async fn a_check_pharos_cannot_run_is_unknown_not_down() {
    // A target that accepts and then says nothing, so every check holds its connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let holding = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = String::from("[[components]]\nid = \"svc\"\nname = \"Service\"\n");
    for index in 0..60 {
        config.push_str(&format!(
            "\n[[monitors]]\nid = \"m{index}\"\ncomponent = \"svc\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\n\
             port = {port}\nexpect = \"220\"\ntimeout = \"2s\"\n"
        ));
    }
    let path = dir.path().join("pharos.toml");
    std::fs::write(&path, config).unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 40 && exec \"$0\" check --config \"$1\"")
        .arg(binary())
        .arg(&path)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("unknown")
            && stdout.contains("pharos could not run this check: too many open files"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !stdout.contains("Too many open files") && !stdout.contains("os error 24"),
        "no check is down for pharos's own fault: {stdout}"
    );
    holding.abort();
}

/// Before: log lines carried colour escapes into files and pipes.
#[tokio::test]
async fn logs_into_a_pipe_carry_no_colour_escapes() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let target = TcpTarget::start().await;
    let config = write_config(dir.path(), target.address, "http://127.0.0.1:9/unused");
    let mut child = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
    {
        let serving = line.contains("serving http://");
        lines.push(line);
        if serving {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = lines.join("\n");
    assert!(log.contains("serving http://"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in piped logs: {log:?}"
    );
}

/// Before: the log said nothing when an incident opened, and the demo printed every
/// notification twice. Now each detection and incident step is logged once, at info.
#[tokio::test]
async fn detection_and_incidents_are_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start("127.0.0.1:0".parse().unwrap(), SECRET)
        .await
        .unwrap();
    let mut target = TcpTarget::start().await;
    let config = write_config(dir.path(), target.address, &receiver.url());
    let pharos = Pharos::start(&config, dir.path());
    eventually(Duration::from_secs(10), "a first check", || async {
        (pharos.get_json("/api/v1/components").await[0]["monitors"][0]["last_check"]["status"]
            == "up")
            .then_some(())
    })
    .await;
    target.stop().await;
    eventually(
        Duration::from_secs(15),
        "the incident announced",
        || async {
            receiver
                .received()
                .iter()
                .any(|received| received.event == "incident.opened")
                .then_some(())
        },
    )
    .await;
    let log = pharos.log_text();
    let count = |needle: &str| log.lines().filter(|line| line.contains(needle)).count();
    assert_eq!(count("incident.opened: incident #"), 1, "{log}");
    assert_eq!(count("detected: Submission port is down"), 1, "{log}");
    assert_eq!(
        count("notification delivered"),
        0,
        "deliveries are not logged at info: {log}"
    );
}

/// Before: the configuration could only change with a restart, and a rotated admin token
/// needed one too. SIGHUP and `POST /api/v1/admin/reload` reload it: validated first,
/// applied whole, detector state and open incidents kept for monitors whose id stays.
#[tokio::test]
async fn sighup_and_the_admin_api_reload_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mut target = TcpTarget::start().await;
    let other = TcpTarget::start().await;
    let config = write_config(dir.path(), target.address, "http://127.0.0.1:9/unused");
    let pharos = Pharos::start(&config, dir.path());
    eventually(Duration::from_secs(10), "a first check", || async {
        (pharos.get_json("/api/v1/components").await[0]["monitors"][0]["last_check"]["status"]
            == "up")
            .then_some(())
    })
    .await;
    target.stop().await;
    let incident = eventually(Duration::from_secs(10), "an incident", || async {
        pharos.get_json("/api/v1/incidents").await["incidents"][0]["id"].as_i64()
    })
    .await;

    // A second component, and a rotated token; the first monitor keeps its id.
    let original = std::fs::read_to_string(&config).unwrap();
    let rotated = "rotated-admin-token-0123456789";
    let extended = original.replace(ADMIN_TOKEN, rotated)
        + &format!(
            "\n[[components]]\nid = \"web\"\nname = \"Web\"\n\n[[monitors]]\nid = \"web-tcp\"\ncomponent = \"web\"\n\
             type = \"tcp\"\nhost = \"127.0.0.1\"\nport = {}\ninterval = \"2s\"\ntimeout = \"1s\"\n",
            other.address.port()
        );
    std::fs::write(&config, extended).unwrap();
    Command::new("kill")
        .args(["-HUP", &pharos.pid().to_string()])
        .status()
        .unwrap();
    let reloaded = tokio::time::timeout(
        Duration::from_secs(10),
        eventually(
            Duration::from_secs(20),
            "the reloaded configuration",
            || async {
                let components = pharos.get_json("/api/v1/components").await;
                (components.as_array().unwrap().len() == 2).then_some(())
            },
        ),
    )
    .await;
    assert!(
        reloaded.is_ok(),
        "not reloaded; log:\n{}",
        pharos.log_text()
    );
    let (old, _) = http_get(pharos.address, "/metrics", Some(ADMIN_TOKEN)).await;
    assert_eq!(old, 401, "the old token no longer works");
    let (new, _) = http_get(pharos.address, "/metrics", Some(rotated)).await;
    assert_eq!(new, 200, "the rotated token does");
    let incidents = pharos.get_json("/api/v1/incidents").await;
    let open: Vec<_> = incidents["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|incident| incident["status"] != "resolved")
        .collect();
    assert_eq!(open.len(), 1, "the same incident goes on: {incidents}");
    assert_eq!(open[0]["id"], incident);

    // An invalid file is refused whole, with every problem, and the running one stays.
    std::fs::write(
        &config,
        "[server]\nlisten = \"nowhere\"\n\n[[monitors]]\nid = \"x\"\n",
    )
    .unwrap();
    let (status, body) = http_post(pharos.address, "/api/v1/admin/reload", Some(rotated), "").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("pharos.toml:2:10"), "{body}");
    let components = pharos.get_json("/api/v1/components").await;
    assert_eq!(
        components.as_array().unwrap().len(),
        2,
        "nothing of it was applied"
    );
    let (status, _) = http_get(pharos.address, "/metrics", Some(rotated)).await;
    assert_eq!(status, 200);
    drop(other);
}

/// Before: pharos kept the soft open-file limit it was started with (often 1024), however
/// high the hard limit.
#[tokio::test]
async fn the_soft_open_file_limit_is_raised_to_the_hard_limit() {
    let dir = tempfile::tempdir().unwrap();
    let target = TcpTarget::start().await;
    let config = write_config(dir.path(), target.address, "http://127.0.0.1:9/unused");
    let pharos = Pharos::start_with_descriptor_limits(&config, dir.path(), 1024, 4096);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", pharos.pid())).unwrap();
    let open_files = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .filter_map(|field| field.parse::<u64>().ok())
        .collect::<Vec<_>>();
    assert_eq!(open_files, [4096, 4096], "{limits}");
    assert!(
        pharos.log_text().contains("descriptors=4096"),
        "{}",
        pharos.log_text()
    );
}

pub(crate) const NETNS_REQUIRED_VARIABLE: &str = "PHAROS_TEST_NETNS";

/// A network namespace with only loopback, whose resolv.conf names a nameserver nobody can
/// reach; removed on drop.
struct IsolatedHost {
    name: String,
}

impl IsolatedHost {
    fn create() -> Option<Self> {
        let name = format!("pharos-dns-{}", std::process::id());
        let created = Command::new("ip")
            .args(["netns", "add", &name])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !created {
            skip(
                NETNS_REQUIRED_VARIABLE,
                "the resolver test",
                "a network namespace needs root and iproute2 (ip netns add)",
            );
            return None;
        }
        let host = Self { name };
        let conf = Path::new("/etc/netns").join(&host.name);
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(conf.join("resolv.conf"), "nameserver 192.0.2.53\n").unwrap();
        Command::new("ip")
            .args(["netns", "exec", &host.name, "ip", "link", "set", "lo", "up"])
            .status()
            .unwrap();
        Some(host)
    }
}

impl Drop for IsolatedHost {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(&self.name));
    }
}

/// Before: when pharos's own resolver could not be reached, every check by name failed as
/// "host not found" and opened false incidents. Now such a check is unknown.
#[test]
fn a_check_whose_resolver_does_not_answer_is_unknown_not_down() {
    let Some(host) = IsolatedHost::create() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pharos.toml");
    std::fs::write(
        &config,
        "[[components]]\nid = \"mail\"\nname = \"Mail\"\n\n[[monitors]]\nid = \"smtp\"\ncomponent = \"mail\"\n\
         type = \"tcp\"\nhost = \"smtp.example.com\"\nport = 25\ntimeout = \"8s\"\n",
    )
    .unwrap();
    let output = Command::new("ip")
        .args(["netns", "exec", &host.name])
        .arg(binary())
        .args(["check", "--config"])
        .arg(&config)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("unknown")
            && stdout.contains(
                "pharos could not run this check: its DNS resolver does not answer (192.0.2.53)"
            ),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("host not found"), "{stdout}");
}

/// A reverse proxy speaks for many clients: the per-client connection cap, which keeps one
/// stranger from holding the server, must not throttle a configured `trusted_proxies` entry.
#[tokio::test]
async fn a_trusted_proxy_is_not_held_to_the_per_client_cap() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let target = TcpTarget::start().await;
    let config = write_config(dir.path(), target.address, "http://127.0.0.1:9/unused");
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "[server]\n",
        "[server]\ntrusted_proxies = [\"127.0.0.3\"]\n",
        1,
    );
    std::fs::write(&config, text).unwrap();
    // 1024 descriptors: at most 64 connections per client, 512 in all.
    let pharos = Pharos::start_with_descriptor_limit(&config, dir.path(), 1024);
    let stranger = hold_connections(pharos.address, [127, 0, 0, 2].into(), 100).await;
    let proxy = hold_connections(pharos.address, [127, 0, 0, 3].into(), 100).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The server closes what is over a cap: count the connections still open.
    let open = |streams: Vec<tokio::net::TcpStream>| async move {
        let mut still = 0;
        for mut stream in streams {
            let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
            if stream.write_all(request).await.is_err() {
                continue;
            }
            let mut answer = Vec::new();
            let read =
                tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
            if matches!(read, Ok(Ok(_))) && answer.starts_with(b"HTTP/1.1 200") {
                still += 1;
            }
        }
        still
    };
    let stranger_open = open(stranger).await;
    let proxy_open = open(proxy).await;
    assert_eq!(
        stranger_open, 64,
        "a stranger is held to the per-client cap"
    );
    assert_eq!(proxy_open, 100, "the trusted proxy is not");
}
