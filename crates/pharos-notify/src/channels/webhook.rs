//! The webhook channel: a signed JSON POST per message (Standard Webhooks).

use crate::channel::{Channel, Delivery, EventContext};
use crate::https::{https_client, HttpsClient};
use crate::signature::sign;
use async_trait::async_trait;
use bytes::Bytes;
use chrono::DateTime;
use chrono::Utc;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderName, HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use pharos_config::WebhookChannel;
use pharos_core::Event;
use pharos_store::OutboxMessage;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use url::Url;

/// How long one delivery attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// The most of a receiver's answer that is read (for the error shown on a failed attempt).
const RESPONSE_EXCERPT: usize = 4096;

pub struct WebhookSender {
    client: HttpsClient,
    url: Url,
    secret: SecretString,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl WebhookSender {
    pub fn new(channel: &WebhookChannel) -> Self {
        let client = https_client();
        let headers = channel
            .headers
            .iter()
            .filter_map(|header| {
                Some((
                    HeaderName::from_bytes(header.name.as_bytes()).ok()?,
                    HeaderValue::from_str(header.value.expose_secret()).ok()?,
                ))
            })
            .collect();
        Self {
            client,
            url: channel.url.clone(),
            secret: channel.secret.clone(),
            headers,
        }
    }

    async fn send(&self, message: &OutboxMessage) -> AttemptOutcome {
        let timestamp = Utc::now().timestamp();
        let body = Bytes::from(message.payload.clone());
        let signature = match sign(self.secret.expose_secret(), &message.id, timestamp, &body) {
            Ok(signature) => signature,
            Err(error) => {
                return AttemptOutcome {
                    status_code: None,
                    error: Some(error.to_string()),
                }
            }
        };
        let mut request = Request::post(self.url.as_str())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("pharos/", env!("CARGO_PKG_VERSION")))
            .header("webhook-id", &message.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let request = match request.body(Full::new(body)) {
            Ok(request) => request,
            Err(error) => {
                return AttemptOutcome {
                    status_code: None,
                    error: Some(format!("invalid request: {error}")),
                }
            }
        };
        let attempt = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| describe_client_error(&error))?;
            let status = response.status();
            // Read a little of the body, for the error; never more, whatever the receiver sends.
            let mut body = response.into_body();
            let mut excerpt = Vec::new();
            while excerpt.len() < RESPONSE_EXCERPT {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            let room = RESPONSE_EXCERPT - excerpt.len();
                            excerpt.extend_from_slice(&data[..data.len().min(room)]);
                        }
                    }
                    _ => break,
                }
            }
            Ok::<_, String>((status, excerpt))
        };
        match tokio::time::timeout(ATTEMPT_TIMEOUT, attempt).await {
            Err(_) => AttemptOutcome {
                status_code: None,
                error: Some(format!("timed out after {}s", ATTEMPT_TIMEOUT.as_secs())),
            },
            Ok(Err(error)) => AttemptOutcome {
                status_code: None,
                error: Some(error),
            },
            Ok(Ok((status, _))) if status.is_success() => AttemptOutcome {
                status_code: Some(status.as_u16()),
                error: None,
            },
            Ok(Ok((status, body))) => {
                let excerpt: String = String::from_utf8_lossy(&body).chars().take(200).collect();
                AttemptOutcome {
                    status_code: Some(status.as_u16()),
                    error: Some(format!("receiver answered {status}: {}", excerpt.trim())),
                }
            }
        }
    }
}

/// What one attempt came to, before it is judged.
struct AttemptOutcome {
    status_code: Option<u16>,
    error: Option<String>,
}

#[async_trait]
impl Channel for WebhookSender {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        super::webhook_payload::render(event, context, at)
    }

    /// Any 2xx is delivered; 410 Gone means the endpoint is gone for good; anything else
    /// (a refusal, a timeout, another status) may pass and is retried.
    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        let outcome = self.send(message).await;
        match (outcome.error, outcome.status_code) {
            (None, status_code) => Delivery::Delivered { status_code },
            (Some(reason), Some(410)) => Delivery::GiveUp {
                status_code: Some(410),
                reason,
            },
            (Some(reason), status_code) => Delivery::Retry {
                status_code,
                reason,
            },
        }
    }
}

fn describe_client_error(error: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error as _;
    let mut cause = error.source();
    while let Some(inner) = cause {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                _ => io.to_string(),
            };
        }
        cause = inner.source();
    }
    error.to_string()
}
