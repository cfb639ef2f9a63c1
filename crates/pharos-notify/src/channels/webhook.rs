//! The webhook channel: a signed JSON POST per message (Standard Webhooks).

use super::http_request::{self, Outgoing};
use crate::channel::{Channel, Delivery, EventContext};
use crate::https::{https_client, HttpsClient};
use crate::signature::sign;
use async_trait::async_trait;
use chrono::DateTime;
use chrono::Utc;
use http::{HeaderName, HeaderValue};
use pharos_config::{WebhookChannel, WebhookTemplate};
use pharos_core::Event;
use pharos_store::OutboxMessage;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use url::Url;

/// How long one delivery attempt may take unless the channel says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

pub struct WebhookSender {
    client: HttpsClient,
    url: Url,
    /// Signs each message when set (Standard Webhooks).
    secret: Option<SecretString>,
    headers: Vec<(HeaderName, HeaderValue)>,
    template: Option<WebhookTemplate>,
    timeout: Duration,
}

impl WebhookSender {
    pub fn new(channel: &WebhookChannel) -> Self {
        let client = https_client();
        let headers = channel
            .headers
            .iter()
            .filter_map(|header| {
                let mut value = HeaderValue::from_str(header.value.expose_secret()).ok()?;
                value.set_sensitive(true);
                Some((HeaderName::from_bytes(header.name.as_bytes()).ok()?, value))
            })
            .collect();
        Self {
            client,
            url: channel.url.clone(),
            secret: channel.secret.clone(),
            headers,
            template: channel.template.clone(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Gives each attempt this long.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[async_trait]
impl Channel for WebhookSender {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        let Some(template) = &self.template else {
            return super::webhook_payload::render(event, context, at);
        };
        let summary = super::summary::Summary::of(event, context, at);
        template.fill(|name| match name {
            "event" => summary.kind.as_str().to_owned(),
            "title" => summary.title.clone(),
            "state" => summary.state.clone(),
            "impact" => summary
                .impact
                .map(|impact| impact.label().to_owned())
                .unwrap_or_default(),
            "component" => summary.component.clone().unwrap_or_default(),
            "message" => summary.message.clone().unwrap_or_default(),
            "failing" => summary.failing.join("; "),
            "link" => summary.link.clone().unwrap_or_default(),
            "colour" => summary.tone.colour().to_owned(),
            "at" => summary
                .at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            _ => String::new(),
        })
    }

    /// Any 2xx is delivered; 410 Gone means the endpoint is gone for good; anything else
    /// (a refusal, a timeout, another status) may pass and is retried, no sooner than a
    /// `Retry-After` asks.
    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        let mut outgoing = Outgoing::post_json(self.url.to_string(), message.payload.clone());
        if let Some(template) = &self.template {
            outgoing.content_type_owned = Some(template.content_type.clone());
        }
        outgoing.headers.push((
            HeaderName::from_static("webhook-id"),
            HeaderValue::from_str(&message.id).unwrap_or(HeaderValue::from_static("")),
        ));
        if let Some(secret) = &self.secret {
            let timestamp = Utc::now().timestamp();
            let signature = match sign(
                secret.expose_secret(),
                &message.id,
                timestamp,
                message.payload.as_bytes(),
            ) {
                Ok(signature) => signature,
                Err(error) => {
                    return Delivery::GiveUp {
                        status_code: None,
                        reason: error.to_string(),
                    }
                }
            };
            outgoing.headers.extend([
                (
                    HeaderName::from_static("webhook-timestamp"),
                    HeaderValue::from(timestamp),
                ),
                (
                    HeaderName::from_static("webhook-signature"),
                    HeaderValue::from_str(&signature).unwrap_or(HeaderValue::from_static("")),
                ),
            ]);
        }
        outgoing.headers.extend(self.headers.iter().cloned());
        match http_request::send(&self.client, outgoing, self.timeout).await {
            Err(http_request::Failure::NoAnswer(reason)) => Delivery::Retry {
                status_code: None,
                reason,
                retry_after: None,
            },
            Err(http_request::Failure::Unsendable(reason)) => Delivery::GiveUp {
                status_code: None,
                reason,
            },
            Ok(answer) if answer.status.is_success() => Delivery::Delivered {
                status_code: Some(answer.status.as_u16()),
            },
            Ok(answer) => {
                let excerpt = http_request::excerpt(&answer.body);
                let reason = format!("receiver answered {}: {excerpt}", answer.status);
                let status_code = Some(answer.status.as_u16());
                if answer.status == http::StatusCode::GONE {
                    Delivery::GiveUp {
                        status_code,
                        reason,
                    }
                } else {
                    Delivery::Retry {
                        status_code,
                        reason,
                        retry_after: answer.retry_after,
                    }
                }
            }
        }
    }
}
