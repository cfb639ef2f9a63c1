//! The configuration, indexed for the engine: monitors and components by position, each
//! monitor knowing its component and each component its monitors, and the notifier.

use pharos_config::Config;
use pharos_core::root_cause::Dependencies;
use pharos_core::{ComponentId, DetectionPolicy, IncidentTemplates, MonitorId};
use pharos_notify::Notifier;
use std::sync::Arc;
use std::time::Duration;

pub struct MonitorInfo {
    pub id: MonitorId,
    pub name: String,
    pub component: usize,
    pub interval: Duration,
    pub policy: DetectionPolicy,
    /// The check reads a provider's official status feed: its word, not our probe.
    pub provider: bool,
}

pub struct ComponentInfo {
    pub id: ComponentId,
    pub name: String,
    pub templates: IncidentTemplates,
    pub monitors: Vec<usize>,
}

pub struct Topology {
    pub monitors: Vec<MonitorInfo>,
    pub components: Vec<ComponentInfo>,
    /// The channels, and which of them want which events.
    pub notifier: Arc<Notifier>,
    /// An open incident without an update for this long is overdue.
    pub update_every: Duration,
    /// Impact changes within this of the last update are folded into one update.
    pub settle: Duration,
    /// What each component needs, by position.
    pub dependencies: Dependencies,
    /// How close a dependent's failure must be to its dependency's to share its incident.
    pub correlation_window: Duration,
    /// Scheduled maintenance windows.
    pub maintenance: Vec<pharos_core::maintenance::MaintenanceWindow>,
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
                    provider: matches!(monitor.probe, pharos_config::ProbeSpec::Provider(_)),
                }
            })
            .collect();
        let dependencies = Dependencies::new(
            config
                .components
                .iter()
                .map(|component| {
                    component
                        .depends_on
                        .iter()
                        .filter_map(|id| components.iter().position(|other| &other.id == id))
                        .collect()
                })
                .collect(),
        );
        Self {
            monitors,
            components,
            dependencies,
            correlation_window: config.incidents.correlation_window,
            maintenance: config.maintenance.clone(),
            notifier: Arc::new(Notifier::from_config(config)),
            update_every: config.incidents.update_every,
            settle: config.incidents.settle,
        }
    }

    pub fn component_index(&self, id: &ComponentId) -> Option<usize> {
        self.components
            .iter()
            .position(|component| &component.id == id)
    }
}
