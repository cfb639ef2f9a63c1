//! The real Postfix + Dovecot stack for the email tests, started once per test run by
//! `scripts/mailstack.sh`, and a lock so that one test at a time uses (and breaks) it.
//!
//! Without Postfix and Dovecot installed the email tests print a notice and pass, unless
//! PHAROS_TEST_MAILSTACK=required (as `.ci/run` sets), when they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use tokio::sync::{Mutex, MutexGuard};

pub(crate) const REQUIRED_VARIABLE: &str = "PHAROS_TEST_MAILSTACK";
pub(crate) const ROOT: &str = "/tmp/pharos-mailstack";
pub(crate) const CA: &str = "/tmp/pharos-mailstack/tls/ca.pem";
pub(crate) const USER: &str = "test@example.test";
pub(crate) const PASSWORD: &str = "testpass";

pub(crate) const SMTP_STARTTLS: u16 = 2525;
pub(crate) const SMTP_PLAIN: u16 = 2526;
pub(crate) const SUBMISSION: u16 = 2587;
pub(crate) const SMTPS: u16 = 2465;
pub(crate) const IMAP: u16 = 2143;
pub(crate) const IMAPS: u16 = 2993;
pub(crate) const POP3: u16 = 2110;
pub(crate) const POP3S: u16 = 2995;

static LOCK: Mutex<()> = Mutex::const_new(());
static STARTED: OnceLock<bool> = OnceLock::new();

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mailstack.sh")
}

/// Runs `scripts/mailstack.sh <command>`, panicking with its log on failure.
pub(crate) fn mailstack(command: &str) {
    std::fs::create_dir_all(ROOT).unwrap();
    let log_path = Path::new(ROOT).join("test-script.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .unwrap();
    let status = Command::new("bash")
        .arg(script())
        .arg(command)
        .env("MAILSTACK_ROOT", ROOT)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .status()
        .expect("bash runs");
    assert!(
        status.success(),
        "mailstack.sh {command} failed:\n{}",
        std::fs::read_to_string(log_path).unwrap_or_default()
    );
}

/// The stack, for the caller alone; `None` (after a notice) when it cannot run here.
pub(crate) async fn stack() -> Option<MutexGuard<'static, ()>> {
    let installed =
        Path::new("/usr/sbin/postfix").exists() && Path::new("/usr/sbin/dovecot").exists();
    if !installed {
        crate::support::skip(
            REQUIRED_VARIABLE,
            "an email test",
            "Postfix and Dovecot are needed (scripts/mailstack.sh install)",
        );
        return None;
    }
    let guard = LOCK.lock().await;
    STARTED.get_or_init(|| {
        // This process owns the stack from now on: a watcher of an earlier test process that
        // has just ended leaves it running.
        std::fs::create_dir_all(ROOT).unwrap();
        std::fs::write(
            Path::new(ROOT).join("owner.pid"),
            std::process::id().to_string(),
        )
        .unwrap();
        mailstack("start");
        stop_when_tests_end();
        true
    });
    Some(guard)
}

/// Stops the stack once this test process has ended: a watcher polls for the process and
/// runs `mailstack.sh stop` after it is gone, so no test run leaves Postfix and Dovecot behind
/// (unless a later test process took the stack over meanwhile).
fn stop_when_tests_end() {
    let watcher = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         [ \"$(cat {ROOT}/owner.pid 2>/dev/null)\" = \"{pid}\" ] && MAILSTACK_ROOT={ROOT} bash {script} stop",
        pid = std::process::id(),
        script = script().display()
    );
    let _ = Command::new("bash")
        .arg("-c")
        .arg(watcher)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// Endpoint keys for a monitor on the stack.
pub(crate) fn endpoint(port: u16, tls: &str, login: bool) -> String {
    let login = if login {
        // A test server on loopback: logging in without TLS is allowed explicitly.
        let plaintext = if tls == "none" {
            "allow_plaintext_password = true\n"
        } else {
            ""
        };
        format!("username = \"{USER}\"\npassword = \"{PASSWORD}\"\n{plaintext}")
    } else {
        String::new()
    };
    format!("host = \"127.0.0.1\"\nport = {port}\ntls = \"{tls}\"\nca_file = \"{CA}\"\n{login}")
}

/// A mail-flow monitor; the sender logs in unless it uses the plain port (which takes mail
/// for the local domain from loopback without AUTH).
pub(crate) fn mailflow(
    send_port: u16,
    send_tls: &str,
    receive_port: u16,
    receive_tls: &str,
    extra: &str,
    to: &str,
) -> String {
    format!(
        "deliver_within = \"4s\"\ndegraded_after = \"2s\"\ntimeout = \"9s\"\n{extra}\n[monitors.send]\n{}from = \"{USER}\"\nto = \"{to}\"\n\n[monitors.receive]\n{}",
        endpoint(send_port, send_tls, send_tls != "none"),
        endpoint(receive_port, receive_tls, true)
    )
}
