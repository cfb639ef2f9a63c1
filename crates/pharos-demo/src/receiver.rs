//! A webhook receiver that checks Standard Webhooks signatures, as a real consumer would: it
//! refuses bad or stale signatures, and drops redeliveries by webhook-id.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One verified delivery.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub event: String,
    pub body: serde_json::Value,
}

#[derive(Clone)]
pub struct WebhookReceiver {
    pub address: SocketAddr,
    secret: Arc<str>,
    received: Arc<Mutex<Vec<Received>>>,
    rejected: Arc<Mutex<u64>>,
}

impl WebhookReceiver {
    /// Starts listening on `address` (port 0 for any) at path `/hooks/pharos`.
    pub async fn start(address: SocketAddr, secret: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let receiver = Self {
            address: listener.local_addr()?,
            secret: Arc::from(secret),
            received: Arc::default(),
            rejected: Arc::default(),
        };
        let app = Router::new()
            .route("/hooks/pharos", post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(receiver)
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks/pharos", self.address)
    }

    /// Verified deliveries, without duplicates, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .map(|received| received.clone())
            .unwrap_or_default()
    }

    /// Deliveries refused for a missing or wrong signature.
    pub fn rejected(&self) -> u64 {
        self.rejected.lock().map(|count| *count).unwrap_or_default()
    }
}

async fn receive(
    State(receiver): State<WebhookReceiver>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let (Some(id), Some(timestamp), Some(signature)) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        reject(&receiver, "missing webhook headers");
        return StatusCode::BAD_REQUEST;
    };
    let Ok(timestamp) = timestamp.parse::<i64>() else {
        reject(&receiver, "bad webhook-timestamp");
        return StatusCode::BAD_REQUEST;
    };
    let now = chrono::Utc::now().timestamp();
    if let Err(error) = pharos_notify::verify(
        &receiver.secret,
        &id,
        timestamp,
        &body,
        &signature,
        now,
        300,
    ) {
        reject(&receiver, &error.to_string());
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&body) else {
        reject(&receiver, "body is not JSON");
        return StatusCode::BAD_REQUEST;
    };
    let event = body["type"].as_str().unwrap_or("?").to_owned();
    let Ok(mut received) = receiver.received.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    if received.iter().any(|seen| seen.id == id) {
        return StatusCode::NO_CONTENT;
    }
    let title = body["data"]["incident"]["title"]
        .as_str()
        .or(body["data"]["component"]["name"].as_str())
        .unwrap_or("")
        .to_owned();
    tracing::info!(target: "pharos::demo", event = %event, id = %id, "demo receiver: signature verified — {title}");
    received.push(Received { id, event, body });
    StatusCode::NO_CONTENT
}

fn reject(receiver: &WebhookReceiver, why: &str) {
    tracing::warn!(target: "pharos::demo", "demo receiver: refused a delivery: {why}");
    if let Ok(mut rejected) = receiver.rejected.lock() {
        *rejected += 1;
    }
}
