//! Watch connections on the binary: a TCP service, an HTTP/1.1 keep-alive service and an SMTP
//! service, checked every 30 s with `watch = true`, are killed mid-interval; each outage is
//! confirmed within 2 s plus the confirm delay, not at the next scheduled check.

use crate::support::*;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

/// A service whose listener and every open connection can be killed at once, as a crashed
/// daemon's would be.
struct Killable {
    address: SocketAddr,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

/// What a killable service speaks.
#[derive(Clone, Copy)]
enum Speaks {
    Tcp,
    Http,
    Smtp,
}

impl Killable {
    async fn start(speaks: Speaks) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let connections = tasks.clone();
        let accepting = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let task = tokio::spawn(serve(stream, speaks));
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

/// TCP: a banner, then the connection is held. HTTP: every request head answered 200, the
/// connection kept alive. SMTP: a greeting, then EHLO, NOOP and RSET answered 250, QUIT 221.
async fn serve(mut stream: tokio::net::TcpStream, speaks: Speaks) {
    match speaks {
        Speaks::Tcp => {
            let _ = stream.write_all(b"220 ready\r\n").await;
            let mut sink = [0u8; 256];
            while matches!(stream.read(&mut sink).await, Ok(read) if read > 0) {}
            return;
        }
        Speaks::Smtp => {
            let _ = stream.write_all(b"220 mail.test ESMTP\r\n").await;
            let mut pending = Vec::new();
            let mut chunk = [0u8; 512];
            loop {
                while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
                    let line = String::from_utf8_lossy(&pending[..end])
                        .trim()
                        .to_uppercase();
                    pending.drain(..=end);
                    let answer: &[u8] = if line.starts_with("QUIT") {
                        b"221 bye\r\n"
                    } else if line.starts_with("EHLO") {
                        b"250-mail.test\r\n250 8BITMIME\r\n"
                    } else {
                        b"250 ok\r\n"
                    };
                    if stream.write_all(answer).await.is_err() || line.starts_with("QUIT") {
                        return;
                    }
                }
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(read) => pending.extend_from_slice(&chunk[..read]),
                }
            }
        }
        Speaks::Http => {}
    }
    let mut request = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        while let Some(end) = request.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..end]).to_string();
            request.drain(..end + 4);
            let body = if head.starts_with("HEAD") { "" } else { "ok" };
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{body}"
            );
            if stream.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(read) => request.extend_from_slice(&chunk[..read]),
        }
    }
}

fn write_config(
    dir: &std::path::Path,
    tcp: SocketAddr,
    http: SocketAddr,
    smtp: SocketAddr,
    healthy: SocketAddr,
) -> std::path::PathBuf {
    let config = format!(
        r#"
[server]
database = "{database}"
admin_token = "{ADMIN_TOKEN}"

[defaults]
interval = "30s"
timeout = "2s"
confirm_delay = "1s"

[[components]]
id = "relay"
name = "Relay"

[[components]]
id = "site"
name = "Site"

[[monitors]]
id = "relay-tcp"
component = "relay"
type = "tcp"
host = "127.0.0.1"
port = {tcp_port}
expect = "220"
watch = true

[[monitors]]
id = "site-http"
component = "site"
type = "http"
url = "http://{http}/"
watch = true

[[components]]
id = "mail"
name = "Mail"

[[monitors]]
id = "mail-smtp"
component = "mail"
type = "smtp"
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
watch = true

# Stays up: with every check of every component failing at once, pharos would take it for
# its own network and open no incident.
[[components]]
id = "other"
name = "Other"

[[monitors]]
id = "other-tcp"
component = "other"
type = "tcp"
host = "127.0.0.1"
port = {healthy_port}
interval = "2s"
"#,
        database = crate::support::test_database(dir, "watch"),
        tcp_port = tcp.port(),
        smtp_port = smtp.port(),
        healthy_port = healthy.port(),
    );
    let path = dir.join("pharos.toml");
    std::fs::write(&path, config).unwrap();
    path
}

async fn metric(pharos: &Pharos, name: &str) -> Option<f64> {
    let (status, body) = http_get(pharos.address, "/metrics", Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    body.lines()
        .find(|line| line.starts_with(&format!("{name} ")))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse().ok())
}

/// How long after `killed` the component's incident was detected.
async fn detected_after(
    pharos: &Pharos,
    component: &str,
    killed: chrono::DateTime<chrono::Utc>,
) -> Duration {
    let detected = eventually(Duration::from_secs(40), "the incident", || async {
        let incidents = pharos.get_json("/api/v1/incidents").await;
        incidents["incidents"]
            .as_array()?
            .iter()
            .find(|incident| incident["component"]["id"] == component)
            .and_then(|incident| incident["detected_at"].as_str().map(str::to_owned))
    })
    .await;
    let detected: chrono::DateTime<chrono::Utc> = detected.parse().unwrap();
    (detected - killed).to_std().unwrap_or_default()
}

#[tokio::test]
async fn a_watched_target_killed_mid_interval_is_confirmed_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let tcp = Killable::start(Speaks::Tcp).await;
    let http = Killable::start(Speaks::Http).await;
    let smtp = Killable::start(Speaks::Smtp).await;
    let healthy = Killable::start(Speaks::Tcp).await;
    let config = write_config(
        dir.path(),
        tcp.address,
        http.address,
        smtp.address,
        healthy.address,
    );
    let pharos = Pharos::start(&config, dir.path());
    eventually(Duration::from_secs(40), "every watch open", || async {
        (metric(&pharos, "pharos_watches_open").await == Some(3.0)).then_some(())
    })
    .await;
    eventually(Duration::from_secs(40), "first checks", || async {
        let components = pharos.get_json("/api/v1/components").await;
        components
            .as_array()?
            .iter()
            .all(|component| component["monitors"][0]["last_check"]["status"] == "up")
            .then_some(())
    })
    .await;
    // Mid-interval: the next scheduled checks are many seconds away.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let killed = chrono::Utc::now();
    tcp.kill();
    http.kill();
    smtp.kill();
    let limit = Duration::from_secs(2) + Duration::from_secs(1);
    for component in ["relay", "site", "mail"] {
        let after = detected_after(&pharos, component, killed).await;
        assert!(
            after <= limit,
            "{component}: confirmed {after:?} after the kill, more than 2 s + the confirm delay"
        );
    }
    assert!(metric(&pharos, "pharos_watches_lost_total").await >= Some(3.0));
    let log = pharos.log_text();
    assert!(log.contains("watch lost"), "{log}");
}
