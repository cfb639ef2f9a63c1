//! The configuration, indexed for the engine: monitors and components by position, each
//! monitor knowing its component and each component its monitors, and notification routes.

use pharos_config::Config;
use pharos_core::{ComponentId, DetectionPolicy, EventKind, IncidentTemplates, MonitorId};
use pharos_notify::EventContext;
use std::time::Duration;

pub struct MonitorInfo {
    pub id: MonitorId,
    pub name: String,
    pub component: usize,
    pub interval: Duration,
    pub policy: DetectionPolicy,
}

pub struct ComponentInfo {
    pub id: ComponentId,
    pub name: String,
    pub templates: IncidentTemplates,
    pub monitors: Vec<usize>,
}

/// Which events go to which channel.
pub struct Route {
    pub channel_id: String,
    pub events: Vec<EventKind>,
    /// Empty means every component.
    pub components: Vec<ComponentId>,
    pub give_up_after: Duration,
}

impl Route {
    pub fn wants(&self, event: EventKind, component: &ComponentId) -> bool {
        self.events.contains(&event)
            && (self.components.is_empty() || self.components.contains(component))
    }
}

pub struct Topology {
    pub monitors: Vec<MonitorInfo>,
    pub components: Vec<ComponentInfo>,
    pub routes: Vec<Route>,
    pub context: EventContext,
    /// An open incident without an update for this long is overdue.
    pub update_every: Duration,
}

impl Topology {
    pub fn from_config(config: &Config) -> Self {
        let mut components: Vec<ComponentInfo> = config
            .components
            .iter()
            .map(|component| ComponentInfo {
                id: component.id.clone(),
                name: component.name.clone(),
                templates: component.templates.clone(),
                monitors: Vec::new(),
            })
            .collect();
        let monitors = config
            .monitors
            .iter()
            .enumerate()
            .map(|(index, monitor)| {
                let component = components
                    .iter()
                    .position(|component| component.id == monitor.component)
                    .expect("validated configuration: every monitor's component exists");
                components[component].monitors.push(index);
                MonitorInfo {
                    id: monitor.id.clone(),
                    name: monitor.name.clone(),
                    component,
                    interval: monitor.interval,
                    policy: monitor.policy,
                }
            })
            .collect();
        let routes = config
            .channels
            .iter()
            .map(|channel| Route {
                channel_id: channel.id.clone(),
                events: channel.events.clone(),
                components: channel.components.clone(),
                give_up_after: channel.give_up_after,
            })
            .collect();
        Self {
            monitors,
            components,
            routes,
            context: EventContext {
                public_url: config.server.public_url.clone(),
            },
            update_every: config.incidents.update_every,
        }
    }

    pub fn component_index(&self, id: &ComponentId) -> Option<usize> {
        self.components
            .iter()
            .position(|component| &component.id == id)
    }
}
