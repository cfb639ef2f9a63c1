//! Regression tests, each named after the bug it keeps fixed.

use crate::support::*;
use pharos_core::ProbeStatus;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A POP3 server that quotes every command back in its refusal, as some do.
async fn echoing_pop3_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"+OK ready\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let answer = if line.starts_with("USER") || line.starts_with("CAPA") {
                        "+OK\r\n".to_owned()
                    } else {
                        format!("-ERR [AUTH] refused: {line}\r\n")
                    };
                    if write.write_all(answer.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    address
}

/// Before: a server echoing `PASS …` put the mail password in the reason, and so on the
/// public page, in the incident timeline and in webhooks.
#[tokio::test]
async fn a_server_echoing_the_password_does_not_put_it_in_the_reason() {
    let address = echoing_pop3_server().await;
    let outcome = run(
        "pop3",
        &format!(
            "host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nallow_plaintext_password = true\n\
             username = \"probe\"\npassword = \"hunter2-mail-password\"",
            address.port()
        ),
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Down, "{outcome:?}");
    let reason = outcome.reason.unwrap();
    assert!(reason.contains("refused: PASS [redacted]"), "{reason}");
    assert!(!reason.contains("hunter2"), "{reason}");
}

/// Before: a password over `tls = "none"` was accepted silently.
#[test]
fn a_password_without_tls_is_refused_unless_allowed() {
    let source = "[[components]]\nid = \"c\"\nname = \"C\"\n\n[[monitors]]\nid = \"m\"\ncomponent = \"c\"\n\
                  type = \"imap\"\nhost = \"127.0.0.1\"\nport = 143\ntls = \"none\"\nusername = \"u\"\npassword = \"secret-pass\"\n";
    let errors = pharos_config::parse("p.toml", source, &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("would send its password unencrypted"),
        "{errors}"
    );
    let allowed = source.replace(
        "tls = \"none\"",
        "tls = \"none\"\nallow_plaintext_password = true",
    );
    assert!(pharos_config::parse("p.toml", &allowed, &|_| None).is_ok());
}
