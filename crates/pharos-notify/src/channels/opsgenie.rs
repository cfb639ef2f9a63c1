//! Opsgenie, through the Alert API: an incident creates an alert under one alias per
//! incident, an update adds a note to it, the resolution closes it. The rendered message
//! holds the request's path and body; the API key is added when sending.
//! Format: https://docs.opsgenie.com/docs/alert-api (create: POST /v2/alerts, message ≤ 130
//! characters, priority P1–P5; add note: POST /v2/alerts/{alias}/notes?identifierType=alias;
//! close: POST /v2/alerts/{alias}/close?identifierType=alias; 202 on success).

use super::http_request::{self, unreadable, Outgoing};
use super::summary::{truncate, Summary, Tone};
use super::Service;
use crate::channel::{Channel, Delivery, EventContext};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::header::AUTHORIZATION;
use pharos_config::OpsgenieChannel;
use pharos_core::{ComponentStatus, Event, EventKind};
use pharos_store::OutboxMessage;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

pub(crate) struct Opsgenie {
    service: Service,
    integration: OpsgenieChannel,
}

impl Opsgenie {
    pub(crate) fn new(service: Service, integration: OpsgenieChannel) -> Self {
        Self {
            service,
            integration,
        }
    }
}

#[async_trait]
impl Channel for Opsgenie {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        let summary = Summary::of(event, context, at);
        let note = truncate(&summary.plain_text(), 25_000);
        let (path, body) = if summary.is_recovery() {
            (
                format!("v2/alerts/{}/close?identifierType=alias", summary.key),
                json!({ "source": "pharos", "note": note }),
            )
        } else if matches!(
            summary.kind,
            EventKind::IncidentOpened
                | EventKind::ComponentStatusChanged
                | EventKind::PharosDegraded
        ) {
            let priority = match summary.tone {
                Tone::Problem(ComponentStatus::MajorOutage) => "P1",
                Tone::Problem(ComponentStatus::PartialOutage) => "P2",
                Tone::Problem(_) => "P3",
                Tone::Recovered | Tone::Notice => "P5",
            };
            let mut body = json!({
                "message": truncate(&summary.title, 130),
                "alias": summary.key,
                "description": truncate(&summary.plain_text(), 15_000),
                "priority": priority,
                "source": "pharos",
                "tags": ["pharos"],
                "details": { "status": summary.state },
            });
            if let Some(component) = &summary.component {
                body["entity"] = json!(component);
            }
            if let Some(link) = &summary.link {
                body["details"]["url"] = json!(link);
            }
            ("v2/alerts".to_owned(), body)
        } else {
            (
                format!("v2/alerts/{}/notes?identifierType=alias", summary.key),
                json!({ "source": "pharos", "note": note }),
            )
        };
        json!({ "path": path, "body": body }).to_string()
    }

    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        let Ok(stored) = serde_json::from_str::<Value>(&message.payload) else {
            return unreadable();
        };
        let (Some(path), Some(body)) = (stored["path"].as_str(), stored.get("body")) else {
            return unreadable();
        };
        let Ok(url) = self.integration.api_url.join(path) else {
            return unreadable();
        };
        let key = self.integration.api_key.expose_secret();
        let outgoing = Outgoing::post_json(url.to_string(), body.to_string())
            .header(AUTHORIZATION, &format!("GenieKey {key}"));
        let answer = http_request::send(&self.service.client, outgoing, self.service.timeout).await;
        http_request::judge(answer, "Opsgenie", &[key])
    }
}
