//! `pharos notify test CHANNEL`: sends one test message through a configured channel and
//! says exactly what the service answered.

use crate::config_command::report_load_error;
use crate::exit;
use chrono::Utc;
use pharos_core::{
    ComponentId, ComponentStatus, Event, Incident, IncidentNews, IncidentPhase, IncidentUpdate,
};
use pharos_notify::{build_channel, Delivery, EventContext};
use pharos_store::OutboxMessage;
use std::path::Path;
use std::process::ExitCode;

pub(crate) async fn test(path: &Path, channel_id: &str) -> ExitCode {
    let config = match pharos_config::load(path) {
        Ok(config) => config,
        Err(error) => return report_load_error(&error),
    };
    let Some(channel) = config
        .channels
        .iter()
        .find(|channel| channel.id == channel_id)
    else {
        let known: Vec<&str> = config
            .channels
            .iter()
            .map(|channel| channel.id.as_str())
            .collect();
        eprintln!(
            "error: no channel `{channel_id}` in {}; configured: {}",
            path.display(),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
        return exit::code(exit::USAGE);
    };
    let sender = build_channel(channel);
    let now = Utc::now();
    let event = test_event(now);
    let context = EventContext {
        public_url: config.server.public_url.clone(),
    };
    let message = OutboxMessage::pending(
        pharos_notify::new_message_id(),
        channel.id.clone(),
        event.kind(),
        sender.render(&event, &context, now),
        now,
        now,
    );
    let kind = channel.kind.type_name();
    match sender.deliver(&message).await {
        Delivery::Delivered { status_code } => {
            println!(
                "delivered through `{channel_id}` ({kind}){}",
                status_code
                    .map(|code| format!(": the service answered {code}"))
                    .unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Delivery::Retry {
            reason,
            retry_after,
            ..
        } => {
            println!(
                "not delivered through `{channel_id}` ({kind}); it would be retried: {reason}"
            );
            if let Some(wait) = retry_after {
                println!(
                    "the service asks to wait {}s before the next attempt",
                    wait.as_secs()
                );
            }
            ExitCode::from(1)
        }
        Delivery::GiveUp { reason, .. } => {
            println!("refused by `{channel_id}` ({kind}); it would not be retried: {reason}");
            ExitCode::from(1)
        }
    }
}

/// An incident that says it is a test, at the mildest impact.
fn test_event(now: chrono::DateTime<Utc>) -> Event {
    Event::IncidentOpened(IncidentNews {
        dependent_names: Vec::new(),
        root_cause: None,
        incident: Incident {
            dependents: Vec::new(),
            scope: None,
            id: 0,
            component: ComponentId::new("pharos-test"),
            title: "Test notification from pharos (not an outage)".into(),
            phase: IncidentPhase::Investigating,
            impact: ComponentStatus::DegradedPerformance,
            worst_impact: ComponentStatus::DegradedPerformance,
            started_at: now,
            detected_at: now,
            resolved_at: None,
            updates: vec![IncidentUpdate {
                at: now,
                phase: IncidentPhase::Investigating,
                message: "If you can read this, pharos reaches you through this channel.".into(),
                automatic: true,
                expected_by: None,
                next_update_by: None,
                edited_at: None,
            }],
            timeline: vec![],
        },
        component_name: "pharos".into(),
        monitors: vec![],
    })
}
