//! Which channels want an event: each channel's event kinds and components. Routing turns an
//! event into the outbox messages that announce it, rendered once per channel.

use crate::channel::{Channel, EventContext};
use chrono::{DateTime, Utc};
use pharos_config::Config;
use pharos_core::{ComponentId, Event, EventKind};
use pharos_store::{MessageState, OutboxMessage};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// One channel's subscription.
struct Route {
    channel_id: String,
    events: Vec<EventKind>,
    /// Only events about these components; all when empty.
    components: Vec<ComponentId>,
    give_up_after: Duration,
}

impl Route {
    fn wants(&self, event: &Event) -> bool {
        self.events.contains(&event.kind())
            && match event.component() {
                Some(component) => {
                    self.components.is_empty() || self.components.contains(component)
                }
                // Events about pharos itself go to every channel that takes their kind.
                None => true,
            }
    }
}

/// The configured channels and who wants what.
pub struct Notifier {
    routes: Vec<Route>,
    channels: HashMap<String, Arc<dyn Channel>>,
    context: EventContext,
}

impl Notifier {
    pub fn from_config(config: &Config) -> Self {
        Self {
            routes: config
                .channels
                .iter()
                .map(|channel| Route {
                    channel_id: channel.id.clone(),
                    events: channel.events.clone(),
                    components: channel.components.clone(),
                    give_up_after: channel.give_up_after,
                })
                .collect(),
            channels: crate::channels::from_config(config),
            context: EventContext {
                public_url: config.server.public_url.clone(),
            },
        }
    }

    /// The channels by id, for the outbox worker.
    pub fn channels(&self) -> HashMap<String, Arc<dyn Channel>> {
        self.channels.clone()
    }

    /// The outbox messages announcing `event`: one per channel that wants it. Messages
    /// about one component share a sequence, delivered in order on each channel.
    pub fn messages(&self, event: &Event, at: DateTime<Utc>) -> Vec<OutboxMessage> {
        let sequence_key = event
            .component()
            .map(|component| format!("component:{component}"));
        self.routes
            .iter()
            .filter(|route| route.wants(event))
            .filter_map(|route| {
                let channel = self.channels.get(&route.channel_id)?;
                let give_up_after = chrono::Duration::from_std(route.give_up_after)
                    .unwrap_or(chrono::Duration::days(1));
                Some(OutboxMessage {
                    id: new_message_id(),
                    channel_id: route.channel_id.clone(),
                    event: event.kind(),
                    payload: channel.render(event, &self.context, at),
                    created_at: at,
                    next_attempt_at: at,
                    give_up_at: at + give_up_after,
                    attempts: 0,
                    state: MessageState::Pending,
                    delivered_at: None,
                    last_error: None,
                    sequence_key: sequence_key.clone(),
                })
            })
            .collect()
    }
}

/// A new unique message id, used as the `webhook-id` for every attempt of one message.
pub fn new_message_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}
