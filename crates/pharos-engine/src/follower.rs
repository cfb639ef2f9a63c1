//! A replica that does not hold the engine's lease: it probes nothing and writes nothing, and
//! keeps the live view the pages are rendered from fresh by reading what the leader commits
//! (component statuses, open incidents, each check's newest result) every `REFRESH`, and
//! tells the renderer only of what changed (a status or incident, newer results), so that an
//! idle follower does not render its pages every second. Its commands (an operator's update,
//! an agent's report) are refused: they belong to the leader.

use crate::live::{LatestResult, LiveState};
use crate::metrics::SchedulerMetrics;
use crate::{Engine, EngineError, EngineHandle, Topology};
use pharos_config::Config;
use pharos_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// How often a follower reads what the leader committed.
pub(crate) const REFRESH: Duration = Duration::from_secs(1);

impl Engine {
    /// Starts as a follower: the live view is read from the store, nothing is probed or
    /// written.
    pub async fn follow(
        config: &Config,
        store: Arc<dyn Store>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<Self, EngineError> {
        let topology = Arc::new(Topology::from_config(config));
        let live = Arc::new(RwLock::new(LiveState::default()));
        let (status_sender, status_version) = watch::channel(0u64);
        let (results_sender, results_version) = watch::channel(0u64);
        // Nobody takes commands here: sending one fails at once.
        let (commands, _) = mpsc::channel(1);
        refresh(&topology, store.as_ref(), &live).await?;
        let mut tasks = JoinSet::new();
        {
            let (topology, live) = (topology.clone(), live.clone());
            tasks.spawn(async move {
                let mut tick = tokio::time::interval(REFRESH);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = shutdown.wait_for(|stopping| *stopping) => return "follower",
                    }
                    match refresh(&topology, store.as_ref(), &live).await {
                        Ok(changed) => {
                            if changed.status {
                                status_sender.send_modify(|version| *version += 1);
                            }
                            if changed.results {
                                results_sender.send_modify(|version| *version += 1);
                            }
                        }
                        Err(error) => {
                            tracing::warn!(%error, "cannot read what the leader committed");
                        }
                    }
                }
            });
        }
        Ok(Self {
            handle: EngineHandle {
                topology,
                live,
                status_version,
                results_version,
                metrics: Arc::new(SchedulerMetrics::default()),
                commands,
            },
            tasks,
        })
    }
}

/// What one read changed in the live view.
#[derive(Debug, Default)]
struct Changed {
    /// Statuses, open incidents (their updates included), maintenance or past uptime.
    status: bool,
    /// Some check's newest result.
    results: bool,
}

/// Reads statuses, open incidents and newest results into the live view; says what changed.
async fn refresh(
    topology: &Topology,
    store: &dyn Store,
    live: &RwLock<LiveState>,
) -> Result<Changed, EngineError> {
    let mut state = store.load_engine_state().await?;
    let latest = store.latest_results().await?;
    let confirmed: HashMap<&str, (pharos_core::MonitorId, pharos_core::ProbeStatus)> = topology
        .monitors
        .iter()
        .map(|monitor| {
            let health = state.monitor_health.remove(&monitor.id).unwrap_or_default();
            (monitor.id.as_str(), (monitor.id.clone(), health.confirmed))
        })
        .collect();
    let by_series: HashMap<&str, &pharos_store::ResultRecord> = latest
        .iter()
        .map(|record| (record.monitor.as_str(), record))
        .collect();
    // The region grid: what each region last saw (its latest check, not its confirmed
    // status, which only the leader holds).
    let mut regions = HashMap::new();
    for (index, monitor) in topology.monitors.iter().enumerate() {
        if !monitor.is_regional() {
            continue;
        }
        let cells = monitor
            .regions
            .iter()
            .map(|&region| {
                let series = topology.series(index, region);
                let last = by_series.get(series.as_str());
                crate::live::RegionCell {
                    region: topology.regions[region].clone(),
                    status: last
                        .map(|record| record.outcome.status)
                        .filter(|status| *status != pharos_core::ProbeStatus::Unknown),
                    reason: last.and_then(|record| record.outcome.reason.clone()),
                    last: last.map(|record| LatestResult {
                        at: record.at,
                        started_at: record.at,
                        outcome: record.outcome.clone(),
                        confirmed: record.outcome.status,
                    }),
                }
            })
            .collect();
        regions.insert(monitor.id.clone(), cells);
    }
    let mut monitors = HashMap::new();
    for record in latest {
        // Other regions' series are `monitor@region`; the monitor shows its newest of any.
        let monitor_id = record
            .monitor
            .as_str()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned();
        let Some((id, status)) = confirmed.get(monitor_id.as_str()) else {
            continue;
        };
        let result = LatestResult {
            at: record.at,
            started_at: record.at
                - chrono::Duration::from_std(record.outcome.latency).unwrap_or_default(),
            outcome: record.outcome,
            confirmed: *status,
        };
        let newer = monitors
            .get(id)
            .is_none_or(|known: &LatestResult| known.at < result.at);
        if newer {
            monitors.insert(id.clone(), result);
        }
    }
    let mut open = state.open_incidents;
    open.sort_by_key(|incident| std::cmp::Reverse(incident.id));
    let components: HashMap<_, _> = topology
        .components
        .iter()
        .filter_map(|component| {
            state
                .component_status
                .remove(&component.id)
                .map(|status| (component.id.clone(), status))
        })
        .collect();
    let maintenance: Vec<_> = topology
        .maintenance
        .iter()
        .cloned()
        .chain(state.maintenance)
        .collect();
    let Ok(mut view) = live.write() else {
        return Ok(Changed::default());
    };
    let changed = Changed {
        status: view.components != components
            || view.open_incidents != open
            || view.maintenance != maintenance
            || view.past_uptime_changes != state.uptime_exclusions,
        results: newest(&view.monitors) != newest(&monitors)
            || regions_seen(&view.regions) != regions_seen(&regions),
    };
    view.components = components;
    view.open_incidents = open;
    view.maintenance = maintenance;
    view.monitors = monitors;
    view.regions = regions;
    // Periods that left uptime since the last look: the renderer reads past days again.
    view.past_uptime_changes = state.uptime_exclusions;
    Ok(changed)
}

/// When each monitor's newest result was taken: any newer result changes it.
fn newest(monitors: &HashMap<pharos_core::MonitorId, LatestResult>) -> HashMap<&str, i64> {
    monitors
        .iter()
        .map(|(id, last)| (id.as_str(), last.at.timestamp_millis()))
        .collect()
}

/// When each region's newest result of each monitor was taken.
fn regions_seen(
    regions: &HashMap<pharos_core::MonitorId, Vec<crate::live::RegionCell>>,
) -> HashMap<(&str, &str), Option<i64>> {
    regions
        .iter()
        .flat_map(|(id, cells)| {
            cells.iter().map(move |cell| {
                (
                    (id.as_str(), cell.region.as_str()),
                    cell.last.as_ref().map(|last| last.at.timestamp_millis()),
                )
            })
        })
        .collect()
}
