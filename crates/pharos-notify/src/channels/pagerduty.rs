//! PagerDuty, through the Events API v2: an incident triggers an alert under one
//! `dedup_key` per incident (updates trigger again under it, adding to the alert's log) and
//! resolves it when it resolves. The routing key is added when sending.
//! Format: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ and
//! https://developer.pagerduty.com/docs/events-api-v2/resolve-events/ (202 on success,
//! 400 with `errors`, 429 when throttled).

use super::http_request::{self, unreadable, with_credentials, Outgoing};
use super::summary::{truncate, Summary, Tone};
use super::Service;
use crate::channel::{Channel, Delivery, EventContext};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use pharos_config::PagerDutyChannel;
use pharos_core::{ComponentStatus, Event};
use pharos_store::OutboxMessage;
use secrecy::ExposeSecret;
use serde_json::json;

pub(crate) struct PagerDuty {
    service: Service,
    integration: PagerDutyChannel,
}

impl PagerDuty {
    pub(crate) fn new(service: Service, integration: PagerDutyChannel) -> Self {
        Self {
            service,
            integration,
        }
    }
}

#[async_trait]
impl Channel for PagerDuty {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        let summary = Summary::of(event, context, at);
        if summary.is_recovery() {
            return json!({ "event_action": "resolve", "dedup_key": summary.key }).to_string();
        }
        let severity = match summary.tone {
            Tone::Problem(ComponentStatus::MajorOutage) => "critical",
            Tone::Problem(ComponentStatus::PartialOutage) => "error",
            Tone::Problem(_) => "warning",
            Tone::Recovered | Tone::Notice => "info",
        };
        let mut body = json!({
            "event_action": "trigger",
            "dedup_key": summary.key,
            "payload": {
                "summary": truncate(&format!("{}: {}", summary.state, summary.title), 1024),
                "source": "pharos",
                "severity": severity,
                "timestamp": summary.at.to_rfc3339_opts(SecondsFormat::Millis, true),
                "component": summary.component,
                "class": summary.kind.as_str(),
                "custom_details": {
                    "status": summary.state,
                    "impact": summary.impact.map(|impact| impact.label()),
                    "message": summary.message,
                    "failing checks": summary.failing,
                },
            },
            "client": "pharos",
        });
        if let Some(link) = &summary.link {
            body["client_url"] = json!(link);
            body["links"] = json!([{ "href": link, "text": "Status page" }]);
        }
        body.to_string()
    }

    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        let key = self.integration.routing_key.expose_secret();
        let Some(body) = with_credentials(&message.payload, &[("routing_key", key)]) else {
            return unreadable();
        };
        let Ok(url) = self.integration.api_url.join("v2/enqueue") else {
            return unreadable();
        };
        let outgoing = Outgoing::post_json(url.to_string(), body);
        let answer = http_request::send(&self.service.client, outgoing, self.service.timeout).await;
        http_request::judge(answer, "PagerDuty", &[key])
    }
}
