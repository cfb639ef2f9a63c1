//! Which channels want an event, and in what order: without `[[routes]]` every channel takes
//! the events it lists; with routes, each matching route sends the event along its fallback
//! chain, one step at a time. A channel that depends on a component not operational is
//! skipped at once, with the reason recorded. Routing turns an event into outbox messages,
//! rendered once per channel; it does no I/O.

use crate::channel::{Channel, EventContext};
use crate::health::{ChannelHealth, HealthPolicy};
use chrono::{DateTime, Utc};
use pharos_config::Config;
use pharos_core::{ComponentId, ComponentStatus, Event, EventKind};
use pharos_store::{ChainLink, MessageState, OutboxMessage};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// One channel's own subscription and what it needs to work.
struct Subscription {
    events: Vec<EventKind>,
    /// Only events about these components; all when empty.
    components: Vec<ComponentId>,
    give_up_after: Duration,
    depends_on: Vec<ComponentId>,
}

impl Subscription {
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

/// A route of the configuration.
struct Route {
    events: Vec<EventKind>,
    components: Vec<ComponentId>,
    min_impact: Option<ComponentStatus>,
    chain: Vec<String>,
    fallback_after: Duration,
}

impl Route {
    fn wants(&self, event: &Event) -> bool {
        let about_component = match event.component() {
            Some(component) => self.components.is_empty() || self.components.contains(component),
            None => true,
        };
        let bad_enough = match (self.min_impact, impact_of(event)) {
            (Some(least), Some(impact)) => impact >= least,
            _ => true,
        };
        self.events.contains(&event.kind()) && about_component && bad_enough
    }
}

/// How bad the event is: an incident's worst impact (so that its resolution follows the
/// same route as its opening), a component's worse status of the two.
fn impact_of(event: &Event) -> Option<ComponentStatus> {
    match event {
        Event::IncidentOpened(news)
        | Event::IncidentUpdated(news)
        | Event::IncidentResolved(news)
        | Event::IncidentUpdateOverdue(news) => Some(news.incident.worst_impact),
        Event::ComponentStatusChanged(news) => Some(news.previous.max(news.status)),
        Event::PharosDegraded(_)
        | Event::ChannelUnhealthy(_)
        | Event::ChannelRecovered(_)
        | Event::AgentSilent(_)
        | Event::AgentBack(_)
        | Event::MaintenanceScheduled(_)
        | Event::MaintenanceStarted(_)
        | Event::MaintenanceEnded(_) => None,
    }
}

/// The configured channels, who wants what, and the routes.
pub struct Notifier {
    subscriptions: HashMap<String, Subscription>,
    /// Channel ids in configuration order.
    order: Vec<String>,
    routes: Vec<Route>,
    channels: HashMap<String, Arc<dyn Channel>>,
    component_names: HashMap<ComponentId, String>,
    context: EventContext,
    health: Arc<ChannelHealth>,
    /// How subscribers are reached, when `[subscribers]` is configured.
    subscribers: Option<Arc<crate::subscribers::Subscribers>>,
}

impl Notifier {
    pub fn from_config(config: &Config) -> Self {
        let mut notifier = Self {
            subscriptions: config
                .channels
                .iter()
                .map(|channel| {
                    (
                        channel.id.clone(),
                        Subscription {
                            events: channel.events.clone(),
                            components: channel.components.clone(),
                            give_up_after: channel.give_up_after,
                            depends_on: channel.depends_on.clone(),
                        },
                    )
                })
                .collect(),
            order: config
                .channels
                .iter()
                .map(|channel| channel.id.clone())
                .collect(),
            routes: config
                .routes
                .iter()
                .map(|route| Route {
                    events: route.events.clone(),
                    components: route.components.clone(),
                    min_impact: route.min_impact,
                    chain: route.chain.clone(),
                    fallback_after: route.fallback_after,
                })
                .collect(),
            channels: crate::channels::from_config(config),
            component_names: config
                .components
                .iter()
                .map(|component| (component.id.clone(), component.name.clone()))
                .collect(),
            context: EventContext {
                public_url: config.server.public_url.clone(),
            },
            health: Arc::new(ChannelHealth::new(
                config
                    .channels
                    .iter()
                    .map(|channel| {
                        let policy = HealthPolicy {
                            failures: channel.unhealthy_after_failures,
                            failing_for: channel.unhealthy_after,
                        };
                        (
                            channel.id.clone(),
                            (channel.kind.type_name().to_owned(), policy),
                        )
                    })
                    .collect(),
            )),
            subscribers: None,
        };
        if let Some(subscribers) = &config.subscribers {
            use crate::subscribers::{Fanout, Subscribers, FANOUT};
            notifier.subscriptions.insert(
                FANOUT.to_owned(),
                Subscription {
                    events: vec![
                        EventKind::IncidentOpened,
                        EventKind::IncidentUpdated,
                        EventKind::IncidentResolved,
                        EventKind::MaintenanceScheduled,
                        EventKind::MaintenanceStarted,
                        EventKind::MaintenanceEnded,
                    ],
                    components: Vec::new(),
                    give_up_after: Duration::from_secs(24 * 3600),
                    depends_on: Vec::new(),
                },
            );
            notifier
                .channels
                .insert(FANOUT.to_owned(), Arc::new(Fanout));
            notifier.subscribers = Some(Arc::new(Subscribers::from_config(
                subscribers,
                config.page.title.clone(),
                notifier.context.clone(),
            )));
        }
        notifier
    }

    /// How subscribers are reached, when they are configured.
    pub fn subscribers(&self) -> Option<Arc<crate::subscribers::Subscribers>> {
        self.subscribers.clone()
    }

    /// Each channel's health, kept by the outbox worker.
    pub fn health(&self) -> Arc<ChannelHealth> {
        self.health.clone()
    }

    /// The channels by id, for the outbox worker.
    pub fn channels(&self) -> HashMap<String, Arc<dyn Channel>> {
        self.channels.clone()
    }

    /// The outbox messages announcing `event`, given each component's status now. Messages
    /// about one component share a sequence, delivered in order on each channel.
    pub fn messages(
        &self,
        event: &Event,
        at: DateTime<Utc>,
        status_of: &dyn Fn(&ComponentId) -> Option<ComponentStatus>,
    ) -> Vec<OutboxMessage> {
        let mut messages = self.channel_messages(event, at, status_of);
        // Subscribers hear of incidents whatever the routes say.
        let fanout = crate::subscribers::FANOUT;
        if self.subscribers.is_some()
            && self
                .subscriptions
                .get(fanout)
                .is_some_and(|subscription| subscription.wants(event))
        {
            messages.extend(self.message(fanout, event, at));
        }
        messages
    }

    fn channel_messages(
        &self,
        event: &Event,
        at: DateTime<Utc>,
        status_of: &dyn Fn(&ComponentId) -> Option<ComponentStatus>,
    ) -> Vec<OutboxMessage> {
        // A channel's health is told through every other channel that works and takes the
        // event, whatever the routes say.
        if let Event::ChannelUnhealthy(news) | Event::ChannelRecovered(news) = event {
            return self
                .order
                .iter()
                .filter(|id| **id != news.channel && !self.health.is_unhealthy(id))
                .filter(|id| self.subscriptions[*id].wants(event))
                .filter_map(|id| self.message(id, event, at))
                .collect();
        }
        if self.routes.is_empty() {
            return self
                .order
                .iter()
                .filter(|id| self.subscriptions[*id].wants(event))
                .filter_map(|id| {
                    let skipped = self.broken_dependency(id, status_of);
                    let mut message = self.message(id, event, at)?;
                    if let Some(reason) = skipped {
                        message.state = MessageState::Skipped;
                        message.last_error = Some(reason);
                    }
                    Some(message)
                })
                .collect();
        }
        let mut messages = Vec::new();
        for route in self.routes.iter().filter(|route| route.wants(event)) {
            let chain_id = new_message_id().replacen("msg_", "chain_", 1);
            let mut released = false;
            let steps = route.chain.iter().filter(|id| {
                self.subscriptions
                    .get(*id)
                    .is_some_and(|sub| sub.wants(event))
            });
            for (step, id) in steps.enumerate() {
                let Some(mut message) = self.message(id, event, at) else {
                    continue;
                };
                let mut link = ChainLink {
                    id: chain_id.clone(),
                    step: step as u32,
                    window: route.fallback_after,
                    deadline: None,
                };
                if let Some(reason) = self.broken_dependency(id, status_of) {
                    tracing::info!(channel = %id, event = event.kind().as_str(), "fallback: {reason}; the next step of the chain takes the message");
                    message.state = MessageState::Skipped;
                    message.last_error = Some(reason);
                } else if released {
                    message.state = MessageState::Held;
                } else {
                    released = true;
                    link.deadline = chrono::Duration::from_std(route.fallback_after)
                        .ok()
                        .map(|window| at + window);
                }
                message.chain = Some(link);
                messages.push(message);
            }
            if !released {
                tracing::warn!(event = event.kind().as_str(), "every channel of a route's chain is skipped; the event reaches no one through it");
            }
        }
        messages
    }

    /// Why channel `id` cannot be used now: a component it depends on is not operational.
    fn broken_dependency(
        &self,
        id: &str,
        status_of: &dyn Fn(&ComponentId) -> Option<ComponentStatus>,
    ) -> Option<String> {
        let subscription = self.subscriptions.get(id)?;
        subscription.depends_on.iter().find_map(|component| {
            let status = status_of(component)?;
            status.is_incident().then(|| {
                let name = self
                    .component_names
                    .get(component)
                    .map(String::as_str)
                    .unwrap_or(component.as_str());
                format!("skipped: {name} is in {}", status.label().to_lowercase())
            })
        })
    }

    /// One pending message announcing `event` through channel `id`.
    fn message(&self, id: &str, event: &Event, at: DateTime<Utc>) -> Option<OutboxMessage> {
        let channel = self.channels.get(id)?;
        let subscription = self.subscriptions.get(id)?;
        let give_up_after = chrono::Duration::from_std(subscription.give_up_after)
            .unwrap_or(chrono::Duration::days(1));
        let mut message = OutboxMessage::pending(
            new_message_id(),
            id.to_owned(),
            event.kind(),
            channel.render(event, &self.context, at),
            at,
            at + give_up_after,
        );
        message.sequence_key = event
            .component()
            .map(|component| format!("component:{component}"));
        Some(message)
    }
}

/// A new unique message id, used as the `webhook-id` for every attempt of one message.
pub fn new_message_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}
