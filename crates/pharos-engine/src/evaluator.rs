//! The evaluator: turns each probe result into detector state, component statuses, incident
//! changes and the notifications that announce them, all written into one `Batch`. It holds
//! no clock and does no I/O, so tests drive it with whatever times they like.

use crate::topology::Topology;
use chrono::{DateTime, Utc};
use pharos_core::incident::ComponentChange;
use pharos_core::{
    derive_component_status, plan_incident, ComponentNews, ComponentStatus, Event, EventKind,
    Incident, IncidentAction, IncidentNews, IncidentPhase, IncidentUpdate, MonitorHealth,
    MonitorState, Outcome, ProbeStatus, SelfFault, TimelineEntry, TimelineKind,
};
use pharos_store::{Batch, EngineState, IncidentChange, ResultRecord};
use std::collections::HashMap;
use std::sync::Arc;

pub struct Evaluator {
    topology: Arc<Topology>,
    health: Vec<MonitorHealth>,
    /// Why each monitor first failed in its current episode (kept in memory only).
    first_failure_reason: Vec<Option<String>>,
    component_status: Vec<(ComponentStatus, DateTime<Utc>)>,
    /// Open incidents by component index.
    open_incidents: HashMap<usize, Incident>,
    /// Open incidents of components no longer configured; resolved by `reconcile`.
    orphaned_incidents: Vec<Incident>,
    /// Why each monitor's latest run was not up (None when it was).
    last_reason: Vec<Option<String>>,
    /// Ids reserved in the store and not yet used.
    incident_ids: std::collections::VecDeque<std::ops::Range<i64>>,
    /// When pharos last could not run a check of its own fault, while that episode lasts.
    own_fault_seen_at: Option<DateTime<Utc>>,
    /// A component whose incident could not open for want of an id.
    waiting_for_id: bool,
    dirty_health: Vec<bool>,
}

impl Evaluator {
    /// Resumes from stored state; monitors and components new to the configuration start
    /// healthy.
    pub fn new(topology: Arc<Topology>, mut state: EngineState, now: DateTime<Utc>) -> Self {
        let health = topology
            .monitors
            .iter()
            .map(|monitor| state.monitor_health.remove(&monitor.id).unwrap_or_default())
            .collect();
        let component_status = topology
            .components
            .iter()
            .map(|component| {
                state
                    .component_status
                    .remove(&component.id)
                    .unwrap_or((ComponentStatus::Operational, now))
            })
            .collect();
        let mut open_incidents = HashMap::new();
        let mut orphaned_incidents = Vec::new();
        for incident in state.open_incidents {
            match topology.component_index(&incident.component) {
                Some(index) => {
                    open_incidents.insert(index, incident);
                }
                None => orphaned_incidents.push(incident),
            }
        }
        Self {
            first_failure_reason: vec![None; topology.monitors.len()],
            dirty_health: vec![false; topology.monitors.len()],
            last_reason: vec![None; topology.monitors.len()],
            topology,
            health,
            component_status,
            open_incidents,
            orphaned_incidents,
            incident_ids: std::iter::once(state.incident_ids).collect(),
            waiting_for_id: false,
            own_fault_seen_at: None,
        }
    }

    /// How many reserved incident ids are left.
    pub fn spare_incident_ids(&self) -> usize {
        self.incident_ids
            .iter()
            .map(|ids| ids.clone().count())
            .sum()
    }

    fn next_incident_id(&mut self) -> Option<i64> {
        while let Some(ids) = self.incident_ids.front_mut() {
            if let Some(id) = ids.next() {
                return Some(id);
            }
            self.incident_ids.pop_front();
        }
        None
    }

    /// Adds freshly reserved ids; an incident that could not open for want of one opens now.
    pub fn add_incident_ids(
        &mut self,
        ids: std::ops::Range<i64>,
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) {
        self.incident_ids.push_back(ids);
        if std::mem::take(&mut self.waiting_for_id) {
            for component in 0..self.topology.components.len() {
                self.update_component(component, now, None, None, batch);
            }
        }
    }

    pub fn health(&self, monitor: usize) -> &MonitorHealth {
        &self.health[monitor]
    }

    pub fn component_status(&self, component: usize) -> (ComponentStatus, DateTime<Utc>) {
        self.component_status[component]
    }

    pub fn open_incidents(&self) -> impl Iterator<Item = &Incident> {
        self.open_incidents.values()
    }

    /// Brings stored state in line with the configuration after a start: a component whose
    /// monitors changed is re-derived, and incidents of removed components are resolved.
    pub fn reconcile(&mut self, now: DateTime<Utc>, batch: &mut Batch) {
        for mut incident in std::mem::take(&mut self.orphaned_incidents) {
            let message = "This component is no longer monitored; closing the incident.".to_owned();
            resolve(&mut incident, now, message.clone(), batch);
            batch.new_timeline.push((
                incident.id,
                TimelineEntry {
                    at: now,
                    kind: TimelineKind::Recovered,
                    detail: message,
                },
            ));
        }
        for component in 0..self.topology.components.len() {
            self.update_component(component, now, None, None, batch);
        }
    }

    /// Feeds one probe result in.
    pub fn observe(
        &mut self,
        monitor: usize,
        at: DateTime<Utc>,
        outcome: Outcome,
        batch: &mut Batch,
    ) {
        let topology = self.topology.clone();
        let info = &topology.monitors[monitor];
        let policy = info.policy;
        let component = info.component;
        self.note_own_fault(monitor, at, &outcome, batch);
        if outcome.status != ProbeStatus::Unknown {
            self.last_reason[monitor] = outcome.reason.clone();
        }
        let transition = self.health[monitor].observe(outcome.status, at, &policy);
        self.dirty_health[monitor] = true;
        if !matches!(outcome.status, ProbeStatus::Up | ProbeStatus::Unknown)
            && self.first_failure_reason[monitor].is_none()
        {
            self.first_failure_reason[monitor] = outcome.reason.clone();
        }
        if let Some(transition) = transition {
            let cause = Cause {
                monitor_name: info.name.clone(),
                reason: outcome.reason.clone(),
                first_failure_reason: self.first_failure_reason[monitor].clone(),
            };
            if transition.to == ProbeStatus::Up {
                self.first_failure_reason[monitor] = None;
            }
            self.update_component(
                component,
                at,
                transition.first_failure_at,
                Some(cause),
                batch,
            );
        } else if outcome.status == ProbeStatus::Up
            && self.health[monitor].confirmed == ProbeStatus::Up
        {
            self.first_failure_reason[monitor] = None;
        }
        batch.results.push(ResultRecord {
            monitor: info.id.clone(),
            at,
            outcome,
        });
    }

    /// A check pharos could not run raises one `pharos.degraded` per episode (an episode
    /// ends after `OWN_FAULT_QUIET` without such a check).
    fn note_own_fault(
        &mut self,
        monitor: usize,
        at: DateTime<Utc>,
        outcome: &Outcome,
        batch: &mut Batch,
    ) {
        if outcome.status != ProbeStatus::Unknown {
            if self
                .own_fault_seen_at
                .is_some_and(|seen| at - seen > OWN_FAULT_QUIET)
            {
                tracing::info!("pharos runs its checks again");
                self.own_fault_seen_at = None;
            }
            return;
        }
        let new_episode = self.own_fault_seen_at.is_none();
        self.own_fault_seen_at = Some(at);
        if !new_episode {
            return;
        }
        let info = &self.topology.monitors[monitor];
        let reason = outcome
            .reason
            .as_deref()
            .unwrap_or("pharos could not run this check");
        tracing::warn!(monitor = %info.id, "{reason}; such checks count neither as up nor as down");
        let fault = SelfFault {
            reason: reason.to_owned(),
            monitor: MonitorState {
                status: ProbeStatus::Unknown,
                reason: Some(reason.to_owned()),
                ..self.monitor_state(monitor)
            },
        };
        self.announce(Event::PharosDegraded(fault), at, batch);
    }

    /// Posts an operator's update on an open incident.
    pub fn post_update(
        &mut self,
        incident_id: i64,
        phase: IncidentPhase,
        message: String,
        at: DateTime<Utc>,
        batch: &mut Batch,
    ) -> Result<IncidentUpdate, crate::CommandError> {
        if phase == IncidentPhase::Resolved {
            return Err(crate::CommandError::ResolveByRecovery);
        }
        let Some((&component, incident)) = self
            .open_incidents
            .iter_mut()
            .find(|(_, incident)| incident.id == incident_id)
        else {
            return Err(crate::CommandError::NoOpenIncident(incident_id));
        };
        incident.phase = phase;
        let update = IncidentUpdate {
            at,
            phase,
            message: message.clone(),
            automatic: false,
        };
        incident.updates.push(update.clone());
        let entry = TimelineEntry {
            at,
            kind: TimelineKind::Update,
            detail: format!("{}: {message}", phase.label()),
        };
        incident.timeline.push(entry.clone());
        batch.incident_changes.push(change_of(incident));
        batch.new_updates.push((incident_id, update.clone()));
        batch.new_timeline.push((incident_id, entry));
        let incident = incident.clone();
        let news = self.incident_news(component, incident);
        self.announce(Event::IncidentUpdated(news), at, batch);
        Ok(update)
    }

    /// Reminds operators (once per silence) of open incidents without an update for longer
    /// than the configured interval.
    pub fn remind_overdue(&mut self, now: DateTime<Utc>, batch: &mut Batch) {
        let every = self.topology.update_every;
        let overdue: Vec<usize> = self
            .open_incidents
            .iter()
            .filter(|(_, incident)| incident.update_overdue(now, every))
            .map(|(&component, _)| component)
            .collect();
        for component in overdue {
            let Some(incident) = self.open_incidents.get_mut(&component) else {
                continue;
            };
            let minutes = incident
                .updates
                .iter()
                .map(|update| update.at)
                .max()
                .map(|last| (now - last).num_minutes())
                .unwrap_or(0);
            let entry = TimelineEntry {
                at: now,
                kind: TimelineKind::UpdateOverdue,
                detail: format!("No update for {minutes} min: readers are waiting for news."),
            };
            incident.timeline.push(entry.clone());
            batch.new_timeline.push((incident.id, entry));
            let incident = incident.clone();
            let news = self.incident_news(component, incident);
            self.announce(Event::IncidentUpdateOverdue(news), now, batch);
        }
    }

    /// Adds the detector state of every monitor changed since the last flush.
    pub fn flush(&mut self, batch: &mut Batch) {
        for (monitor, dirty) in self.dirty_health.iter_mut().enumerate() {
            if std::mem::take(dirty) {
                batch.health.push((
                    self.topology.monitors[monitor].id.clone(),
                    self.health[monitor].clone(),
                ));
            }
        }
    }

    fn update_component(
        &mut self,
        component: usize,
        at: DateTime<Utc>,
        first_failure_at: Option<DateTime<Utc>>,
        cause: Option<Cause>,
        batch: &mut Batch,
    ) {
        let topology = self.topology.clone();
        let info = &topology.components[component];
        let derived = derive_component_status(
            info.monitors
                .iter()
                .map(|&monitor| self.health[monitor].confirmed),
            false,
        );
        let (previous, _) = self.component_status[component];
        let open = self.open_incidents.get(&component);
        let incident_matches = match open {
            Some(incident) => derived.is_incident() && incident.impact == derived,
            None => !derived.is_incident(),
        };
        if derived == previous && incident_matches {
            return;
        }
        if derived != previous {
            self.component_status[component] = (derived, at);
            batch.component_status.push((info.id.clone(), derived, at));
            let news = ComponentNews {
                component: info.id.clone(),
                component_name: info.name.clone(),
                previous,
                status: derived,
                monitors: self.monitor_states(component),
            };
            self.announce(Event::ComponentStatusChanged(news), at, batch);
        }
        let change = ComponentChange {
            component: &info.id,
            component_name: &info.name,
            to: derived,
            at,
            first_failure_at,
        };
        let Some(action) = plan_incident(&change, open, &info.templates) else {
            return;
        };
        self.apply(component, action, cause, batch);
    }

    fn apply(
        &mut self,
        component: usize,
        action: IncidentAction,
        cause: Option<Cause>,
        batch: &mut Batch,
    ) {
        let name = self.topology.components[component].name.clone();
        let (kind, incident) = match action {
            IncidentAction::Open {
                component: component_id,
                title,
                impact,
                started_at,
                detected_at,
                message,
            } => {
                let Some(id) = self.next_incident_id() else {
                    tracing::error!(
                        component = %component_id,
                        "cannot open an incident: no incident id is reserved (the store refuses writes); it opens once one is"
                    );
                    self.waiting_for_id = true;
                    return;
                };
                let cause = cause.unwrap_or_default();
                let mut timeline = vec![
                    TimelineEntry {
                        at: started_at,
                        kind: TimelineKind::FirstFailure,
                        detail: cause.first_failure(),
                    },
                    TimelineEntry {
                        at: detected_at,
                        kind: TimelineKind::Detected,
                        detail: format!(
                            "{name} confirmed in {}: {}",
                            impact.label().to_lowercase(),
                            cause.current()
                        ),
                    },
                ];
                timeline.push(TimelineEntry {
                    at: detected_at,
                    kind: TimelineKind::Update,
                    detail: message.clone(),
                });
                let incident = Incident {
                    id,
                    component: component_id,
                    title,
                    phase: IncidentPhase::Investigating,
                    impact,
                    worst_impact: impact,
                    started_at,
                    detected_at,
                    resolved_at: None,
                    updates: vec![IncidentUpdate {
                        at: detected_at,
                        phase: IncidentPhase::Investigating,
                        message,
                        automatic: true,
                    }],
                    timeline,
                };
                batch.new_incidents.push(incident.clone());
                self.open_incidents.insert(component, incident.clone());
                (EventKind::IncidentOpened, incident)
            }
            IncidentAction::ChangeImpact {
                impact,
                title,
                at,
                message,
                ..
            } => {
                let Some(incident) = self.open_incidents.get_mut(&component) else {
                    return;
                };
                incident.impact = impact;
                incident.worst_impact = incident.worst_impact.max(impact);
                if let Some(title) = title {
                    incident.title = title;
                }
                let update = IncidentUpdate {
                    at,
                    phase: incident.phase,
                    message: message.clone(),
                    automatic: true,
                };
                incident.updates.push(update.clone());
                let detail = match &cause {
                    Some(cause) => format!("{message} {}", cause.current()),
                    None => message,
                };
                let entry = TimelineEntry {
                    at,
                    kind: TimelineKind::ImpactChanged,
                    detail,
                };
                incident.timeline.push(entry.clone());
                batch.incident_changes.push(change_of(incident));
                batch.new_updates.push((incident.id, update));
                batch.new_timeline.push((incident.id, entry));
                (EventKind::IncidentUpdated, incident.clone())
            }
            IncidentAction::Resolve { at, message, .. } => {
                let Some(mut incident) = self.open_incidents.remove(&component) else {
                    return;
                };
                resolve(&mut incident, at, message, batch);
                let recovered = TimelineEntry {
                    at,
                    kind: TimelineKind::Recovered,
                    detail: format!(
                        "{name} operational again; the outage lasted {}",
                        describe(incident.time_to_recover())
                    ),
                };
                incident.timeline.push(recovered.clone());
                batch.new_timeline.push((incident.id, recovered));
                (EventKind::IncidentResolved, incident)
            }
        };
        let at = incident
            .updates
            .last()
            .map(|update| update.at)
            .unwrap_or(incident.detected_at);
        let news = self.incident_news(component, incident);
        let event = match kind {
            EventKind::IncidentOpened => Event::IncidentOpened(news),
            EventKind::IncidentResolved => Event::IncidentResolved(news),
            _ => Event::IncidentUpdated(news),
        };
        self.announce(event, at, batch);
    }

    /// Queues the messages announcing `event` to every channel that wants it.
    fn announce(&self, event: Event, at: DateTime<Utc>, batch: &mut Batch) {
        batch
            .outbox
            .extend(self.topology.notifier.messages(&event, at));
    }

    fn incident_news(&self, component: usize, incident: Incident) -> IncidentNews {
        IncidentNews {
            incident,
            component_name: self.topology.components[component].name.clone(),
            monitors: self.monitor_states(component),
        }
    }

    /// The checks of a component as events report them.
    fn monitor_states(&self, component: usize) -> Vec<MonitorState> {
        self.topology.components[component]
            .monitors
            .iter()
            .map(|&monitor| self.monitor_state(monitor))
            .collect()
    }

    fn monitor_state(&self, monitor: usize) -> MonitorState {
        let info = &self.topology.monitors[monitor];
        MonitorState {
            id: info.id.clone(),
            name: info.name.clone(),
            status: self.health[monitor].confirmed,
            reason: self.last_reason[monitor].clone(),
            region: LOCAL_REGION.to_owned(),
        }
    }
}

/// Where this server's own checks run from (agents in other regions will report theirs).
const LOCAL_REGION: &str = "local";

/// An episode of checks pharos could not run ends after this long without one.
const OWN_FAULT_QUIET: chrono::Duration = chrono::Duration::minutes(5);

/// Which monitor moved a component, and why.
#[derive(Default)]
struct Cause {
    monitor_name: String,
    reason: Option<String>,
    first_failure_reason: Option<String>,
}

impl Cause {
    fn current(&self) -> String {
        format!(
            "{}: {}",
            self.monitor_name,
            self.reason.as_deref().unwrap_or("no reason given")
        )
    }

    fn first_failure(&self) -> String {
        let reason = self
            .first_failure_reason
            .as_deref()
            .or(self.reason.as_deref())
            .unwrap_or("no reason given");
        format!("First failed check: {}: {reason}", self.monitor_name)
    }
}

/// Resolves an incident and records the change and its closing update in the batch.
fn resolve(incident: &mut Incident, at: DateTime<Utc>, message: String, batch: &mut Batch) {
    incident.phase = IncidentPhase::Resolved;
    incident.resolved_at = Some(at);
    let update = IncidentUpdate {
        at,
        phase: IncidentPhase::Resolved,
        message,
        automatic: true,
    };
    incident.updates.push(update.clone());
    batch.incident_changes.push(change_of(incident));
    batch.new_updates.push((incident.id, update));
}

fn change_of(incident: &Incident) -> IncidentChange {
    IncidentChange {
        id: incident.id,
        title: incident.title.clone(),
        phase: incident.phase,
        impact: incident.impact,
        worst_impact: incident.worst_impact,
        resolved_at: incident.resolved_at,
    }
}

fn describe(duration: Option<std::time::Duration>) -> String {
    let seconds = duration.unwrap_or_default().as_secs();
    match seconds {
        0..=119 => format!("{seconds} s"),
        120..=7199 => format!("{} min", seconds / 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}
