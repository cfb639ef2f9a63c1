//! The JSON events pharos sends, in the Standard Webhooks shape `{type, timestamp, data}`.
//! A payload is built once, when its message is enqueued, so every retry sends the same bytes.

use chrono::{DateTime, SecondsFormat, Utc};
use pharos_core::{ComponentId, ComponentStatus, EventKind, Incident};
use serde_json::{json, Value};
use url::Url;

/// What every event needs to know about the installation.
#[derive(Clone, Debug, Default)]
pub struct EventContext {
    /// The status page's public address, for links.
    pub public_url: Option<Url>,
}

impl EventContext {
    fn link(&self, path: &str) -> Value {
        match &self.public_url {
            Some(base) => base
                .join(path)
                .map(|url| Value::String(url.into()))
                .unwrap_or(Value::Null),
            None => Value::Null,
        }
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A new unique message id, used as the `webhook-id` for every attempt of one message.
pub fn new_message_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

pub fn incident_event(
    kind: EventKind,
    incident: &Incident,
    component_name: &str,
    context: &EventContext,
    at: DateTime<Utc>,
) -> String {
    let latest = incident.updates.last().map(|update| {
        json!({
            "at": time(update.at),
            "status": update.phase.as_str(),
            "message": update.message,
            "automatic": update.automatic,
        })
    });
    json!({
        "type": kind.as_str(),
        "timestamp": time(at),
        "data": {
            "incident": {
                "id": incident.id,
                "title": incident.title,
                "status": incident.phase.as_str(),
                "impact": incident.impact.as_str(),
                "worst_impact": incident.worst_impact.as_str(),
                "component": { "id": incident.component.as_str(), "name": component_name },
                "started_at": time(incident.started_at),
                "detected_at": time(incident.detected_at),
                "resolved_at": incident.resolved_at.map(time),
                "time_to_detect_seconds": incident.time_to_detect().as_secs_f64(),
                "time_to_recover_seconds": incident.time_to_recover().map(|duration| duration.as_secs_f64()),
                "latest_update": latest,
                "url": context.link(&format!("incidents/{}", incident.id)),
            }
        }
    })
    .to_string()
}

/// pharos could not run a check for a reason of its own (out of file descriptors, say).
pub fn pharos_degraded_event(
    monitor: &pharos_core::MonitorId,
    monitor_name: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> String {
    json!({
        "type": EventKind::PharosDegraded.as_str(),
        "timestamp": time(at),
        "data": {
            "reason": reason,
            "monitor": { "id": monitor.as_str(), "name": monitor_name, "status": "unknown", "reason": reason },
        }
    })
    .to_string()
}

pub fn component_event(
    component: &ComponentId,
    component_name: &str,
    from: ComponentStatus,
    to: ComponentStatus,
    context: &EventContext,
    at: DateTime<Utc>,
) -> String {
    json!({
        "type": EventKind::ComponentStatusChanged.as_str(),
        "timestamp": time(at),
        "data": {
            "component": { "id": component.as_str(), "name": component_name },
            "previous_status": from.as_str(),
            "status": to.as_str(),
            "url": context.link(""),
        }
    })
    .to_string()
}
