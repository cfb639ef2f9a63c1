//! Helpers: run the pharos binary, speak plain HTTP to it, control a TCP target.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub(crate) const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A test that cannot run on this machine: it fails when `variable` is `required` (as
/// `.ci/run` sets it), and otherwise skips with a notice printed past the test harness's
/// output capture (which hides `eprintln!`), so a plain `cargo test` shows it.
pub(crate) fn skip(variable: &str, test: &str, because: &str) {
    use std::io::Write as _;
    if std::env::var(variable).as_deref() == Ok("required") {
        panic!("{variable}=required but {because}");
    }
    let _ = writeln!(std::io::stderr(), "notice: skipping {test}: {because}");
}

pub(crate) fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_pharos")
}

/// A running `pharos serve`, killed (SIGKILL) when dropped.
pub(crate) struct Pharos {
    child: Child,
    pub(crate) address: SocketAddr,
    pub(crate) log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Pharos {
    /// Starts `pharos serve --config <config>` on a port the system picks, and waits for it
    /// to say where it listens.
    pub(crate) fn start(config: &Path, workdir: &Path) -> Self {
        Self::start_with(config, workdir, Command::new(binary()), &[])
    }

    /// Starts `pharos serve` on a chosen address (to be started again on the same one).
    pub(crate) fn start_on(config: &Path, workdir: &Path, listen: SocketAddr) -> Self {
        Self::launch(
            Some(config),
            workdir,
            Command::new(binary()),
            &listen.to_string(),
            &[],
        )
    }

    /// Starts `pharos serve` with more arguments.
    pub(crate) fn start_with_args(config: &Path, workdir: &Path, args: &[&str]) -> Self {
        Self::start_with(config, workdir, Command::new(binary()), args)
    }

    /// Starts pharos with an open-file limit of `descriptors` (soft and hard).
    pub(crate) fn start_with_descriptor_limit(
        config: &Path,
        workdir: &Path,
        descriptors: u32,
    ) -> Self {
        Self::start_with_descriptor_limits(config, workdir, descriptors, descriptors)
    }

    /// Starts pharos with a soft and a hard open-file limit.
    pub(crate) fn start_with_descriptor_limits(
        config: &Path,
        workdir: &Path,
        soft: u32,
        hard: u32,
    ) -> Self {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!(
                "ulimit -Sn {soft} && ulimit -Hn {hard} && exec \"$0\" \"$@\""
            ))
            .arg(binary());
        Self::start_with(config, workdir, command, &[])
    }

    fn start_with(config: &Path, workdir: &Path, command: Command, args: &[&str]) -> Self {
        Self::launch(Some(config), workdir, command, "127.0.0.1:0", args)
    }

    /// Starts `pharos serve --demo` in `workdir` (its database goes there).
    pub(crate) fn start_demo(workdir: &Path) -> Self {
        Self::launch(
            None,
            workdir,
            Command::new(binary()),
            "127.0.0.1:0",
            &["--demo"],
        )
    }

    fn launch(
        config: Option<&Path>,
        workdir: &Path,
        mut command: Command,
        listen: &str,
        args: &[&str],
    ) -> Self {
        command.arg("serve");
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        let mut child = command
            .args(["--listen", listen])
            .args(args)
            .current_dir(workdir)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pharos starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (found, address) = mpsc::channel();
        let lines = log.clone();
        // Read the log continuously so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("serving http://").nth(1) {
                    if let Some(sender) = found.take() {
                        let address = rest
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned();
                        let _ = sender.send(address);
                    }
                }
                lines.lock().unwrap().push(line);
            }
        });
        let address = match address.recv_timeout(Duration::from_secs(30)) {
            Ok(address) => address.parse().expect("a socket address in the log"),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "pharos did not start; log:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Self {
            child,
            address,
            log,
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                return status;
            }
            assert!(Instant::now() < deadline, "pharos did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.address, path, None).await
    }

    pub(crate) async fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|error| panic!("GET {path}: {error}: {body}"))
    }

    pub(crate) async fn admin_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = http_get(self.address, path, Some(ADMIN_TOKEN)).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

impl Drop for Pharos {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 GET on a fresh connection; returns the status and body.
pub(crate) async fn http_get(
    address: SocketAddr,
    path: &str,
    token: Option<&str>,
) -> (u16, String) {
    http_request(address, "GET", path, token, None).await
}

/// A POST of a JSON body.
pub(crate) async fn http_post(
    address: SocketAddr,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    http_request(address, "POST", path, token, Some(body)).await
}

/// POSTs a form (`application/x-www-form-urlencoded`), as a browser or a mail client does.
pub(crate) async fn http_form(address: SocketAddr, path: &str, body: &str) -> (u16, String) {
    http_exchange(
        address,
        "POST",
        path,
        None,
        Some((body, "application/x-www-form-urlencoded")),
    )
    .await
}

async fn http_request(
    address: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    http_exchange(
        address,
        method,
        path,
        token,
        body.map(|body| (body, "application/json")),
    )
    .await
}

async fn http_exchange(
    address: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, &str)>,
) -> (u16, String) {
    let mut stream = TcpStream::connect(address)
        .await
        .expect("the server accepts connections");
    let authorization = token
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let content = body
        .map(|(body, kind)| format!("Content-Type: {kind}\r\nContent-Length: {}\r\n", body.len()))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{authorization}{content}\r\n{}",
        body.map_or("", |(body, _)| body)
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no complete answer within 10 s"))
        .unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    (
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    )
}

fn dechunk(mut body: &str) -> String {
    let mut decoded = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        decoded.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    decoded
}

/// Polls `check` every 100 ms until it returns `Some`, or panics after `limit`.
pub(crate) async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A TCP service on 127.0.0.1 that can be stopped (port closed) and started again.
pub(crate) struct TcpTarget {
    pub(crate) address: SocketAddr,
    accepting: Option<JoinHandle<()>>,
}

impl TcpTarget {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        Self {
            address,
            accepting: Some(tokio::spawn(serve(listener))),
        }
    }

    pub(crate) async fn stop(&mut self) {
        if let Some(task) = self.accepting.take() {
            task.abort();
            let _ = task.await;
        }
    }

    pub(crate) async fn restart(&mut self) {
        let listener = TcpListener::bind(self.address).await.unwrap();
        self.accepting = Some(tokio::spawn(serve(listener)));
    }
}

async fn serve(listener: TcpListener) {
    loop {
        if let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(b"220 ready\r\n").await;
        }
    }
}

/// A port that was free a moment ago (for a receiver that starts later).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Points a configuration written by `write_config` at another database.
pub(crate) fn use_database(config: &Path, database: &str) {
    let text = std::fs::read_to_string(config).unwrap();
    let start = text.find("database = \"").expect("a database line");
    let end = start + text[start..].find('\n').unwrap();
    let text = format!(
        "{}database = \"{database}\"{}",
        &text[..start],
        &text[end..]
    );
    std::fs::write(config, text).unwrap();
}

/// Which backend the binary's tests store into: `PHAROS_TEST_BACKEND=postgres` runs them on a
/// fresh database of the throwaway PostgreSQL server (`.ci/run` runs the suite both ways).
pub(crate) const BACKEND_VARIABLE: &str = "PHAROS_TEST_BACKEND";

/// The `database` of a test's configuration: a SQLite file in `dir`, or a fresh PostgreSQL
/// database when the suite runs on PostgreSQL.
pub(crate) fn test_database(dir: &Path, test: &str) -> String {
    match std::env::var(BACKEND_VARIABLE).as_deref() {
        Ok("postgres") => crate::pg_server::fresh_database(test).unwrap_or_else(|| {
            panic!("{BACKEND_VARIABLE}=postgres but PostgreSQL cannot run here")
        }),
        _ => dir.join("pharos.db").display().to_string(),
    }
}

/// Opens the store a test's pharos writes into (to count what it holds).
pub(crate) async fn open_store(database: &str) -> std::sync::Arc<dyn pharos_store::Store> {
    pharos_store::open(
        &pharos_core::DatabaseUrl::new(database),
        pharos_store::OpenMode::Existing,
    )
    .await
    .expect("the test's store")
}

/// Writes a one-component configuration probing `target`, notifying `webhook_url`.
pub(crate) fn write_config(dir: &Path, target: SocketAddr, webhook_url: &str) -> PathBuf {
    let path = dir.join("pharos.toml");
    let config = format!(
        r#"[server]
database = "{database}"
admin_token = "{ADMIN_TOKEN}"
public_url = "https://status.example.test/"

[page]
title = "Test status <b>&amp;</b>"

[[components]]
id = "svc"
name = "Mail <script>alert(1)</script> submission"
group = "Email"

[[monitors]]
id = "svc-tcp"
name = "Submission port"
component = "svc"
type = "tcp"
host = "127.0.0.1"
port = {port}
expect = "220"
interval = "2s"
timeout = "1s"
confirm_delay = "500ms"

[[channels]]
id = "receiver"
type = "webhook"
url = "{webhook_url}"
secret = "{SECRET}"
"#,
        database = test_database(dir, "a test of the binary"),
        port = target.port(),
    );
    std::fs::write(&path, config).unwrap();
    path
}
