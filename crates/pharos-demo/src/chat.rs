//! A chat service for the demo that takes ntfy's JSON publishing (`POST /` with topic, title
//! and message) and logs what it receives, so the demo shows its fallback chain at work.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct ChatReceiver {
    pub address: SocketAddr,
    titles: Arc<Mutex<Vec<String>>>,
}

impl ChatReceiver {
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let receiver = Self {
            address: listener.local_addr()?,
            titles: Arc::default(),
        };
        let app = Router::new()
            .route("/", post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(receiver)
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// The titles of the messages received, in arrival order.
    pub fn titles(&self) -> Vec<String> {
        self.titles
            .lock()
            .map(|titles| titles.clone())
            .unwrap_or_default()
    }
}

async fn receive(
    State(receiver): State<ChatReceiver>,
    Json(message): Json<serde_json::Value>,
) -> StatusCode {
    let title = message["title"].as_str().unwrap_or("").to_owned();
    tracing::info!(target: "pharos::demo", "demo chat: received \"{title}\"");
    if let Ok(mut titles) = receiver.titles.lock() {
        titles.push(title);
    }
    StatusCode::OK
}
