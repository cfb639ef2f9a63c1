//! The command line: validation exit codes, the example, and guidance without a config.

use crate::support::binary;
use std::process::Command;

#[test]
fn validate_lists_every_problem_with_line_and_column_and_exits_64() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"nowhere\"\n\n[[components]]\nid = \"web\"\nname = \"Web\"\n\n[[monitors]]\nid = \"web-http\"\ncomponent = \"wbe\"\ntype = \"http\"\nurl = \"not a url\"\ninterval = \"often\"\n",
    )
    .unwrap();
    let output = Command::new(binary())
        .args(["config", "validate"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let located: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("bad.toml:"))
        .collect();
    assert_eq!(located.len(), 4, "{stderr}");
    for expected in [
        "bad.toml:2:10:",
        "bad.toml:10:13:",
        "bad.toml:12:7:",
        "bad.toml:13:12:",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected} in:\n{stderr}"
        );
    }
    assert!(
        stderr.contains("the configuration has 4 problems"),
        "{stderr}"
    );
}

#[test]
fn the_printed_example_validates() {
    let dir = tempfile::tempdir().unwrap();
    let example = Command::new(binary())
        .args(["config", "example"])
        .output()
        .unwrap();
    assert!(example.status.success());
    let file = dir.path().join("example.toml");
    std::fs::write(&file, &example.stdout).unwrap();
    let secret = Command::new(binary())
        .args(["config", "secret"])
        .output()
        .unwrap();
    let secret = String::from_utf8(secret.stdout).unwrap();
    let output = Command::new(binary())
        .args(["config", "validate"])
        .arg(&file)
        .env("PHAROS_ADMIN_TOKEN", "a-long-enough-admin-token")
        .env("PHAROS_WEBHOOK_SECRET", secret.trim())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout)
        .contains("valid (3 components, 4 monitors, 1 channels)"));
}

#[test]
fn serve_without_a_configuration_explains_what_to_do() {
    let output = Command::new(binary()).arg("serve").output().unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("pharos serve --demo") && stderr.contains("pharos config example"),
        "{stderr}"
    );
}

#[test]
fn an_unreadable_configuration_file_is_reported() {
    let output = Command::new(binary())
        .args(["config", "validate", "/nonexistent/pharos.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(66));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot read /nonexistent/pharos.toml")
    );
}

#[tokio::test]
async fn check_prints_a_table_with_reasons_and_fails_when_a_monitor_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_port = up.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            if let Ok((mut stream, _)) = up.accept().await {
                use tokio::io::AsyncWriteExt;
                let _ = stream.write_all(b"220 ready\r\n").await;
            }
        }
    });
    let closed_port = crate::support::free_port();
    let file = dir.path().join("check.toml");
    std::fs::write(
        &file,
        format!(
            "[[components]]\nid = \"mail\"\nname = \"Mail\"\n\n[[monitors]]\nid = \"smtp-up\"\ncomponent = \"mail\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = {up_port}\nexpect = \"220\"\n\n[[monitors]]\nid = \"smtp-closed\"\ncomponent = \"mail\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = {closed_port}\n"
        ),
    )
    .unwrap();
    let output = tokio::process::Command::new(binary())
        .args(["check", "--config"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let up_row = stdout
        .lines()
        .find(|line| line.contains("smtp-up"))
        .expect("a row for smtp-up");
    assert!(up_row.contains(" up "), "{stdout}");
    let closed_row = stdout
        .lines()
        .find(|line| line.contains("smtp-closed"))
        .expect("a row for smtp-closed");
    assert!(
        closed_row.contains("down") && closed_row.contains("connection refused"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 monitors: 1 up, 0 degraded, 1 down"),
        "{stdout}"
    );
}

/// A service on 127.0.0.1 that reads one request and answers `answer` (a whole HTTP
/// response); returns its address and the request it read.
fn one_answer_service(answer: String) -> (std::net::SocketAddr, std::thread::JoinHandle<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let served = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        // Headers, then the body announced by content-length.
        loop {
            let read = stream.read(&mut buffer).unwrap();
            request.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|line| {
                        line.to_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|n| n.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    break;
                }
            }
            if read == 0 {
                break;
            }
        }
        stream.write_all(answer.as_bytes()).unwrap();
        String::from_utf8_lossy(&request).to_string()
    });
    (address, served)
}

#[test]
fn notify_test_says_what_the_service_answered() {
    let dir = tempfile::tempdir().unwrap();
    let body = r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#;
    let refusal = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let (address, served) = one_answer_service(refusal);
    let file = dir.path().join("pharos.toml");
    std::fs::write(
        &file,
        format!("[[channels]]\nid = \"bot\"\ntype = \"telegram\"\napi_url = \"http://{address}/\"\nbot_token = \"123:secret-bot-token\"\nchat_id = \"-100123\"\n"),
    )
    .unwrap();
    let output = Command::new(binary())
        .args(["notify", "test", "bot", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("refused by `bot` (telegram); it would not be retried: Telegram answered 400 Bad Request: Bad Request: chat not found"),
        "{stdout}"
    );
    assert!(!stdout.contains("secret-bot-token"));
    let request = served.join().unwrap();
    assert!(
        request.starts_with("POST /bot123:secret-bot-token/sendMessage "),
        "{request}"
    );
    assert!(
        request.contains("Test notification from pharos"),
        "{request}"
    );

    let unknown = Command::new(binary())
        .args(["notify", "test", "nope", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no channel `nope`"));
}

#[test]
fn version_completions_and_the_manual_page_come_from_the_binary() {
    let run = |args: &[&str]| {
        let output = Command::new(binary()).args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(
        run(&["version"]),
        format!("pharos {}\n", env!("CARGO_PKG_VERSION"))
    );
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell]);
        assert!(
            script.contains("migrate-from") && script.contains("publish"),
            "{shell}: {script}"
        );
    }
    let page = run(&["man"]);
    assert!(page.contains(".TH pharos 1"), "{page}");
    assert!(page.contains("serve"), "{page}");
    let refused = Command::new(binary())
        .args(["completions", "powershel"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "clap's usage error");
}
