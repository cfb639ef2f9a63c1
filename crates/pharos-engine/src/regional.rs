//! Monitors checked from several regions. Each region's results feed that region's own
//! detector; the monitor's health is the quorum's verdict over the regions that can see
//! (`pharos_core::regions`). A region whose agent has gone silent does not vote. A first
//! failure in one region asks every other region to look at once, and a component's incident
//! carries the scope of its problem, posting an update when the scope changes.

use crate::evaluator::{record, Evaluator};
use chrono::{DateTime, Utc};
use pharos_core::regions::{self, RegionState, Scope, Verdict};
use pharos_core::{lifecycle, Event, MonitorId, Outcome, ProbeStatus};
use pharos_store::{Batch, ResultRecord};

/// What one region of a regional monitor says.
#[derive(Clone, Debug, Default)]
pub(crate) struct RegionSlot {
    pub(crate) state: RegionState,
    /// Why its latest run was not up (None when it was).
    pub(crate) reason: Option<String>,
    pub(crate) dirty: bool,
}

impl Evaluator {
    /// Feeds in one result of `monitor` from `region` (an index into the topology's regions).
    /// A result from a region the monitor is not assigned to is dropped (the configuration
    /// changed since the agent was told).
    pub fn observe_from(
        &mut self,
        monitor: usize,
        region: usize,
        at: DateTime<Utc>,
        outcome: Outcome,
        batch: &mut Batch,
    ) {
        let topology = self.topology.clone();
        let info = &topology.monitors[monitor];
        if !info.is_regional() {
            if region == 0 {
                self.observe(monitor, at, outcome, batch);
            }
            return;
        }
        let Some(slot) = info.region_slot(region) else {
            return;
        };
        if region == 0 {
            // The server's own checks: one it could not run is its own fault.
            self.note_own_fault(monitor, at, &outcome, batch);
            if matches!(outcome.status, ProbeStatus::Up | ProbeStatus::Degraded) {
                self.note_reachable();
            }
        }
        let state = &mut self.regional[monitor][slot];
        let was_clear = state.state.health.problem_streak == 0;
        let taken = state.state.observe(outcome.status, at, &info.policy);
        if taken {
            state.dirty = true;
            self.dirty_regional.mark(monitor);
            if outcome.status != ProbeStatus::Unknown {
                state.reason = outcome.reason.clone();
            }
            if was_clear && state.state.health.problem_streak > 0 {
                // Is it just here, or everywhere? Every other region looks at once.
                self.region_rechecks.push((monitor, region));
            }
        }
        if taken && outcome.status != ProbeStatus::Unknown {
            self.last_reason[monitor] = outcome.reason.clone();
            self.last_seen[monitor] = Some(at);
        }
        let status = outcome.status;
        let reason = outcome.reason.clone();
        batch.results.push(ResultRecord {
            monitor: topology.series(monitor, region),
            at,
            outcome,
        });
        if taken {
            self.reassess(monitor, at, status, reason.as_deref(), batch);
        }
    }

    /// Moves a regional monitor's health to the quorum's verdict, and its component with it.
    fn reassess(
        &mut self,
        monitor: usize,
        at: DateTime<Utc>,
        status: ProbeStatus,
        reason: Option<&str>,
        batch: &mut Batch,
    ) {
        let verdict = self.verdict_of(monitor);
        let was_clear = self.health[monitor].problem_streak == 0;
        let transition = regions::settle_combined(&mut self.health[monitor], &verdict, at);
        self.dirty_health.mark(monitor);
        let component = self.topology.monitors[monitor].component;
        if was_clear && self.health[monitor].problem_streak > 0 {
            self.ask_dependencies(component);
        }
        let reach_changed = self.verdicts[monitor].as_ref().is_none_or(|known| {
            known.scope != verdict.scope || known.down_somewhere != verdict.down_somewhere
        });
        self.verdicts[monitor] = Some(verdict);
        if transition.is_some() {
            self.follow_transition(monitor, at, status, reason, transition, batch);
        } else if reach_changed {
            // The same status seen from other regions: a partial outage may become a
            // slowdown or the reverse, and the incident's scope follows in `settle`.
            self.update_component(component, at, None, None, batch);
        }
    }

    /// The quorum's verdict over `monitor`'s regions as they stand.
    pub(crate) fn verdict_of(&self, monitor: usize) -> Verdict {
        let info = &self.topology.monitors[monitor];
        regions::combine(
            info.quorum,
            info.regions
                .iter()
                .zip(&self.regional[monitor])
                .map(|(&region, slot)| {
                    (
                        self.topology.regions[region].as_str(),
                        slot.state.vote(self.silent[region]),
                        slot.state.health.first_failure_at,
                    )
                }),
        )
    }

    /// Whether some region sees `monitor` down while the quorum does not (a partial outage).
    pub(crate) fn down_somewhere(&self, monitor: usize) -> bool {
        self.verdicts[monitor]
            .as_ref()
            .is_some_and(|verdict| verdict.down_somewhere)
    }

    /// Marks a region silent (its agent stopped reporting) or heard again; its monitors are
    /// re-judged without its vote. Returns whether anything changed.
    pub fn set_region_silent(
        &mut self,
        region: usize,
        silent: bool,
        at: DateTime<Utc>,
        batch: &mut Batch,
    ) -> bool {
        if region == 0 || region >= self.silent.len() || self.silent[region] == silent {
            return false;
        }
        self.silent[region] = silent;
        let topology = self.topology.clone();
        for (monitor, info) in topology.monitors.iter().enumerate() {
            if info.is_regional() && info.region_slot(region).is_some() {
                let status = self.health[monitor].confirmed;
                let reason = self.last_reason[monitor].clone();
                self.reassess(monitor, at, status, reason.as_deref(), batch);
            }
        }
        true
    }

    pub fn region_is_silent(&self, region: usize) -> bool {
        self.silent.get(region).copied().unwrap_or(false)
    }

    /// How far `component`'s problem reaches across the regions of its regional monitors;
    /// `None` when none of them fails or it is checked from one place.
    pub fn component_scope(&self, component: usize) -> Option<Scope> {
        let topology = &self.topology;
        let regions = topology.regions.len();
        let (mut configured, mut voting, mut failing) = (
            vec![false; regions],
            vec![false; regions],
            vec![false; regions],
        );
        for &monitor in &topology.components[component].monitors {
            let info = &topology.monitors[monitor];
            if !info.is_regional() {
                continue;
            }
            for (&region, slot) in info.regions.iter().zip(&self.regional[monitor]) {
                configured[region] = true;
                match slot.state.vote(self.silent[region]) {
                    Some(ProbeStatus::Down | ProbeStatus::Degraded) => {
                        voting[region] = true;
                        failing[region] = true;
                    }
                    Some(_) => voting[region] = true,
                    None => {}
                }
            }
        }
        let names = (0..regions)
            .filter(|&region| failing[region])
            .map(|region| topology.regions[region].clone())
            .collect();
        let count = |flags: &[bool]| flags.iter().filter(|&&flag| flag).count();
        Scope::of(names, count(&voting), count(&configured))
    }

    /// What each region last said about `monitor`: its name, vote (None: cannot see) and
    /// reason; empty for a monitor checked by the server alone.
    pub fn region_views(
        &self,
        monitor: usize,
    ) -> Vec<(String, Option<ProbeStatus>, Option<String>)> {
        let info = &self.topology.monitors[monitor];
        if !info.is_regional() {
            return Vec::new();
        }
        info.regions
            .iter()
            .zip(&self.regional[monitor])
            .map(|(&region, slot)| {
                (
                    self.topology.regions[region].clone(),
                    slot.state.vote(self.silent[region]),
                    slot.reason.clone(),
                )
            })
            .collect()
    }

    /// Posts one update on each open incident whose scope changed and has held for the
    /// settle window since its last update.
    pub(crate) fn follow_scopes(&mut self, now: DateTime<Utc>, batch: &mut Batch) {
        let settle =
            chrono::Duration::from_std(self.topology.settle).unwrap_or(chrono::Duration::zero());
        let roots: Vec<usize> = self.open_incidents.keys().copied().collect();
        for component in roots {
            let scope = self.component_scope(component);
            let name = self.topology.components[component].name.clone();
            let Some(incident) = self.open_incidents.get_mut(&component) else {
                continue;
            };
            // Once nothing fails any more, recovery tells the rest.
            let Some(scope) = scope else { continue };
            if incident.scope.as_ref() == Some(&scope) {
                continue;
            }
            let last = incident.updates.last().map(|update| update.at);
            if incident.scope.is_some() && last.is_some_and(|last| now - last < settle) {
                continue;
            }
            let message = scope.sentence(&name);
            incident.scope = Some(scope);
            let changed = lifecycle::announce_impact(incident, now, message);
            record(incident, changed, batch);
            let incident = incident.clone();
            tracing::info!(
                incident = incident.id,
                "incident.updated: incident #{}: the problem's reach changed",
                incident.id
            );
            let news = self.incident_news(component, incident);
            self.announce(Event::IncidentUpdated(news), now, batch);
        }
    }

    /// The detector state of each region of regional monitors changed since the last flush.
    pub(crate) fn flush_regions(&mut self, batch: &mut Batch) {
        for monitor in self.dirty_regional.take() {
            let slots = &mut self.regional[monitor];
            let info = &self.topology.monitors[monitor];
            for (&region, slot) in info.regions.iter().zip(slots.iter_mut()) {
                if std::mem::take(&mut slot.dirty) {
                    batch.health.push((
                        region_health_key(&info.id, &self.topology.regions[region]),
                        slot.state.health.clone(),
                    ));
                }
            }
        }
    }
}

/// Where a region's detector state is kept (never a monitor's own id, which holds the
/// monitor's combined health).
pub(crate) fn region_health_key(monitor: &MonitorId, region: &str) -> MonitorId {
    MonitorId::new(format!("{monitor}@{region}"))
}
