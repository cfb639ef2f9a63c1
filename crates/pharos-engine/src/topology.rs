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
    /// The regions that check it, as indexes into `Topology::regions`, in its order.
    pub regions: Vec<usize>,
    /// Where the server's own region stands in `regions`, if the server checks it.
    pub home: Option<usize>,
    /// How many regions must see it down before it is down.
    pub quorum: pharos_core::regions::Quorum,
    /// Where in its interval the server runs it (counted on the UTC clock), if anywhere in
    /// particular: regions of one monitor take turns.
    pub phase: Option<Duration>,
    /// Hold a connection open to its target and check at once when it is lost.
    pub watch: bool,
}

impl MonitorInfo {
    /// Whether its verdict is a quorum of regions rather than the server's checks alone.
    pub fn is_regional(&self) -> bool {
        self.regions.len() != 1 || self.home.is_none()
    }

    /// Where `region` (an index into `Topology::regions`) stands among its regions.
    pub fn region_slot(&self, region: usize) -> Option<usize> {
        self.regions.iter().position(|&known| known == region)
    }
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
    /// Every region some monitor is checked from, the server's own first.
    pub regions: Vec<String>,
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
        let home = config.server.region.clone();
        let mut regions = vec![home.clone()];
        for monitor in &config.monitors {
            for region in monitor.regions(&home) {
                if !regions.iter().any(|known| known == region) {
                    regions.push(region.to_owned());
                }
            }
        }
        let monitors = config
            .monitors
            .iter()
            .enumerate()
            .map(|(index, monitor)| {
                let own: Vec<usize> = monitor
                    .regions(&home)
                    .into_iter()
                    .filter_map(|name| regions.iter().position(|known| known == name))
                    .collect();
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
                    home: own.iter().position(|&region| region == 0),
                    phase: match own.iter().position(|&region| region == 0) {
                        Some(slot) if own.len() > 1 => Some(monitor.region_phase(slot, own.len())),
                        _ => monitor.phase,
                    },
                    regions: own,
                    quorum: monitor.quorum,
                    watch: monitor.watch,
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
            regions,
            notifier: Arc::new(Notifier::from_config(config)),
            update_every: config.incidents.update_every,
            settle: config.incidents.settle,
        }
    }

    pub fn monitor_index(&self, id: &str) -> Option<usize> {
        self.monitors
            .iter()
            .position(|monitor| monitor.id.as_str() == id)
    }

    pub fn region_index(&self, name: &str) -> Option<usize> {
        self.regions.iter().position(|known| known == name)
    }

    /// The name a region's results are stored under: the monitor's own id for the server's
    /// region (as before there were regions), `monitor@region` for others.
    pub fn series(&self, monitor: usize, region: usize) -> MonitorId {
        let id = &self.monitors[monitor].id;
        if region == 0 {
            id.clone()
        } else {
            MonitorId::new(format!("{id}@{}", self.regions[region]))
        }
    }

    pub fn component_index(&self, id: &ComponentId) -> Option<usize> {
        self.components
            .iter()
            .position(|component| &component.id == id)
    }

    /// The ids of the monitors of these components (those configured).
    pub fn monitor_ids_of<'a>(
        &self,
        components: impl IntoIterator<Item = &'a ComponentId>,
    ) -> Vec<pharos_core::MonitorId> {
        components
            .into_iter()
            .filter_map(|id| self.component_index(id))
            .flat_map(|component| self.components[component].monitors.iter())
            .map(|&monitor| self.monitors[monitor].id.clone())
            .collect()
    }
}
