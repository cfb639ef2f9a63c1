//! Regression tests, each named after the bug it keeps fixed.

use chrono::Utc;
use pharos_core::EventKind;
use pharos_notify::{Channel as _, Delivery, WebhookSender};
use pharos_store::{MessageState, OutboxMessage};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn channel(url: &str) -> pharos_config::WebhookChannel {
    let source = format!(
        "[[channels]]\nid = \"hook\"\ntype = \"webhook\"\nurl = \"{url}\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n"
    );
    let config = pharos_config::parse("c.toml", &source, &|_| None).unwrap();
    match config.channels.into_iter().next().unwrap().kind {
        pharos_config::ChannelKind::Webhook(webhook) => webhook,
        other => panic!("a webhook, not {}", other.type_name()),
    }
}

fn message() -> OutboxMessage {
    let now = Utc::now();
    OutboxMessage {
        id: "msg_test".into(),
        channel_id: "hook".into(),
        event: EventKind::IncidentOpened,
        payload: "{}".into(),
        created_at: now,
        next_attempt_at: now,
        give_up_at: now,
        attempts: 0,
        state: MessageState::Pending,
        delivered_at: None,
        last_error: None,
        sequence_key: None,
        chain: None,
    }
}

/// Before: a receiver answering with an endless body made one delivery hold 2.9 GB.
#[tokio::test]
async fn a_receiver_answering_with_an_endless_body_cannot_fill_memory() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).await;
        let _ = stream
            .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 3000000000\r\n\r\n")
            .await;
        let chunk = vec![b'x'; 1024 * 1024];
        while counter.load(Ordering::Relaxed) < 3_000_000_000 {
            if stream.write_all(&chunk).await.is_err() {
                break;
            }
            counter.fetch_add(chunk.len(), Ordering::Relaxed);
        }
    });
    let sender = WebhookSender::new(&channel(&format!("http://{address}/hook")));
    let started = Instant::now();
    let outcome = sender.deliver(&message()).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let Delivery::Retry {
        status_code,
        reason: error,
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(status_code, Some(500));
    assert!(error.starts_with("receiver answered 500"), "{error}");
    assert!(
        error.len() < 400,
        "only an excerpt is kept: {} bytes",
        error.len()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let read = sent.load(Ordering::Relaxed);
    assert!(
        read < 64 * 1024 * 1024,
        "the delivery let {read} bytes through"
    );
}
