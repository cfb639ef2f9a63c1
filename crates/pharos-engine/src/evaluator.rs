//! The evaluator: turns each probe result into detector state, component statuses, incident
//! changes and the notifications that announce them, all written into one `Batch`. It holds
//! no clock and does no I/O, so tests drive it with whatever times they like.

use crate::topology::Topology;
use chrono::{DateTime, Utc};
use pharos_core::incident::ComponentChange;
use pharos_core::lifecycle::{self, Cause};
use pharos_core::{
    derive_regional_component_status, plan_incident, ComponentNews, ComponentStatus, Event,
    Incident, IncidentAction, IncidentNews, IncidentPhase, IncidentUpdate, MonitorHealth,
    MonitorState, Outcome, ProbeStatus, SelfFault,
};
use pharos_store::{Batch, EngineState, IncidentChange, ResultRecord};
use std::collections::HashMap;
use std::sync::Arc;

pub struct Evaluator {
    pub(crate) topology: Arc<Topology>,
    pub(crate) health: Vec<MonitorHealth>,
    /// Why each monitor first failed in its current episode (kept in memory only).
    first_failure_reason: Vec<Option<String>>,
    pub(crate) component_status: Vec<(ComponentStatus, DateTime<Utc>)>,
    /// Open incidents by their root component's index.
    pub(crate) open_incidents: HashMap<usize, Incident>,
    /// Components that joined another's incident: dependent → root (a key of
    /// `open_incidents`).
    pub(crate) member_of: HashMap<usize, usize>,
    /// Failing components waiting for their dependencies' verdict before opening an
    /// incident.
    pub(crate) waiting: HashMap<usize, crate::correlation::Waiting>,
    /// When each monitor last gave a result that says something about its target.
    pub(crate) last_seen: Vec<Option<DateTime<Utc>>>,
    /// Monitors to run at once: the dependencies of a component that just began failing.
    pub(crate) rechecks: Vec<usize>,
    /// The failure start for which other components were last asked for a check.
    pub(crate) asked_others_for: Option<DateTime<Utc>>,
    /// Since when every check of every component fails (pharos itself seems cut off).
    pub(crate) own_network_cut_since: Option<DateTime<Utc>>,
    /// Roots whose joined components changed since readers last heard.
    pub(crate) dependents_changed: std::collections::HashSet<usize>,
    /// Open incidents of components no longer configured; resolved by `reconcile`.
    orphaned_incidents: Vec<Incident>,
    /// Why each monitor's latest run was not up (None when it was).
    pub(crate) last_reason: Vec<Option<String>>,
    /// What each provider check last said (None for our own probes and unread feeds).
    pub(crate) provider_word: Vec<Option<crate::provider_word::ProviderWord>>,
    /// Provider checks that said something new, told once the incidents have settled.
    pub(crate) provider_news: Vec<(usize, crate::provider_word::Heard)>,
    /// Ids reserved in the store and not yet used.
    incident_ids: std::collections::VecDeque<std::ops::Range<i64>>,
    /// When pharos last could not run a check of its own fault, while that episode lasts.
    own_fault_seen_at: Option<DateTime<Utc>>,
    /// Components whose incident's impact changed within the settle window, with the impact
    /// readers last heard of: one update follows once the impact has settled.
    pub(crate) unsettled: HashMap<usize, ComponentStatus>,
    /// A component whose incident could not open for want of an id.
    waiting_for_id: bool,
    /// Whether each component was inside a maintenance window when last derived.
    pub(crate) in_maintenance: Vec<bool>,
    /// Maintenance windows scheduled at run time (the configuration's are in the topology).
    pub(crate) scheduled: Vec<pharos_core::maintenance::MaintenanceWindow>,
    /// The maintenance notices sent (kept in the store, so a restart repeats none).
    pub(crate) notices: std::collections::HashSet<pharos_store::MaintenanceNotice>,
    /// How far each maintenance occurrence under way has left uptime, by window id: its
    /// start and the end of the last period written (in memory: after a restart the next
    /// period starts over from the occurrence's start, and the store counts nothing twice).
    pub(crate) left_uptime_until: HashMap<String, (DateTime<Utc>, DateTime<Utc>)>,
    /// Monitors whose detector state changed since the last flush.
    pub(crate) dirty_health: crate::dirty::DirtySet,
    /// Monitors with a region's detector state changed since the last flush.
    pub(crate) dirty_regional: crate::dirty::DirtySet,
    /// What each region says of each regional monitor, in the monitor's region order (empty
    /// for monitors the server checks alone).
    pub(crate) regional: Vec<Vec<crate::regional::RegionSlot>>,
    /// The latest quorum verdict of each regional monitor.
    pub(crate) verdicts: Vec<Option<pharos_core::regions::Verdict>>,
    /// Regions whose agent went silent (by the topology's region index).
    pub(crate) silent: Vec<bool>,
    /// Monitors that began failing in one region, with that region: every other region is
    /// asked to look at once.
    pub(crate) region_rechecks: Vec<(usize, usize)>,
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
        let regional = topology
            .monitors
            .iter()
            .map(|monitor| {
                if !monitor.is_regional() {
                    return Vec::new();
                }
                monitor
                    .regions
                    .iter()
                    .map(|&region| {
                        let key = crate::regional::region_health_key(
                            &monitor.id,
                            &topology.regions[region],
                        );
                        crate::regional::RegionSlot {
                            state: pharos_core::regions::RegionState {
                                health: state.monitor_health.remove(&key).unwrap_or_default(),
                                ..Default::default()
                            },
                            ..Default::default()
                        }
                    })
                    .collect()
            })
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
        let mut member_of = HashMap::new();
        for incident in state.open_incidents {
            match topology.component_index(&incident.component) {
                Some(index) => {
                    for dependent in incident.affected_dependents() {
                        if let Some(member) = topology.component_index(&dependent.component) {
                            member_of.insert(member, index);
                        }
                    }
                    open_incidents.insert(index, incident);
                }
                None => orphaned_incidents.push(incident),
            }
        }
        Self {
            first_failure_reason: vec![None; topology.monitors.len()],
            dirty_health: crate::dirty::DirtySet::new(topology.monitors.len()),
            dirty_regional: crate::dirty::DirtySet::new(topology.monitors.len()),
            last_reason: vec![None; topology.monitors.len()],
            last_seen: vec![None; topology.monitors.len()],
            provider_word: vec![None; topology.monitors.len()],
            in_maintenance: vec![false; topology.components.len()],
            scheduled: std::mem::take(&mut state.maintenance),
            notices: std::mem::take(&mut state.maintenance_notices)
                .into_iter()
                .collect(),
            regional,
            verdicts: vec![None; topology.monitors.len()],
            silent: vec![false; topology.regions.len()],
            region_rechecks: Vec::new(),
            provider_news: Vec::new(),
            member_of,
            waiting: HashMap::new(),
            rechecks: Vec::new(),
            dependents_changed: std::collections::HashSet::new(),
            asked_others_for: None,
            own_network_cut_since: None,
            left_uptime_until: HashMap::new(),
            topology,
            health,
            component_status,
            open_incidents,
            orphaned_incidents,
            incident_ids: std::iter::once(state.incident_ids).collect(),
            waiting_for_id: false,
            unsettled: HashMap::new(),
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

    pub(crate) fn next_incident_id(&mut self) -> Option<i64> {
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

    /// The detector of the server's own checks of `monitor`: what its next run's timing
    /// follows (the confirm delay while a change awaits confirmation here).
    pub fn home_health(&self, monitor: usize) -> &MonitorHealth {
        let info = &self.topology.monitors[monitor];
        match info.home {
            Some(slot) if info.is_regional() => &self.regional[monitor][slot].state.health,
            _ => &self.health[monitor],
        }
    }

    pub fn component_status(&self, component: usize) -> (ComponentStatus, DateTime<Utc>) {
        self.component_status[component]
    }

    pub fn open_incidents(&self) -> impl Iterator<Item = &Incident> {
        self.open_incidents.values()
    }

    /// The monitors to run at once (taken: each is asked for once).
    pub fn take_rechecks(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.rechecks)
    }

    /// Brings stored state in line with the configuration after a start: a component whose
    /// monitors changed is re-derived, and incidents of removed components are resolved.
    pub fn reconcile(&mut self, now: DateTime<Utc>, batch: &mut Batch) {
        for mut incident in std::mem::take(&mut self.orphaned_incidents) {
            let changed = lifecycle::close_unmonitored(&mut incident, now);
            record(&incident, changed, batch);
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
        if info.is_regional() {
            self.observe_from(monitor, 0, at, outcome, batch);
            return;
        }
        let policy = info.policy;
        let component = info.component;
        self.note_own_fault(monitor, at, &outcome, batch);
        if outcome.status != ProbeStatus::Unknown {
            self.last_reason[monitor] = outcome.reason.clone();
            self.last_seen[monitor] = Some(at);
        }
        if matches!(outcome.status, ProbeStatus::Up | ProbeStatus::Degraded) {
            self.note_reachable();
        }
        let heard = if info.provider {
            self.hear_provider(monitor, &outcome)
        } else {
            crate::provider_word::Heard::Nothing
        };
        let was_clear = self.health[monitor].problem_streak == 0;
        let transition = self.health[monitor].observe(outcome.status, at, &policy);
        if was_clear && self.health[monitor].problem_streak > 0 {
            self.ask_dependencies(component);
        }
        self.dirty_health.mark(monitor);
        self.follow_transition(
            monitor,
            at,
            outcome.status,
            outcome.reason.as_deref(),
            transition,
            batch,
        );
        if heard != crate::provider_word::Heard::Nothing {
            self.provider_news.push((monitor, heard));
        }
        batch.results.push(ResultRecord {
            monitor: info.id.clone(),
            at,
            outcome,
        });
    }

    /// Remembers why a monitor first failed, and carries a confirmed change of its health to
    /// its component (status, incident).
    pub(crate) fn follow_transition(
        &mut self,
        monitor: usize,
        at: DateTime<Utc>,
        status: ProbeStatus,
        reason: Option<&str>,
        transition: Option<pharos_core::Transition>,
        batch: &mut Batch,
    ) {
        let topology = self.topology.clone();
        let info = &topology.monitors[monitor];
        if !matches!(status, ProbeStatus::Up | ProbeStatus::Unknown)
            && self.first_failure_reason[monitor].is_none()
        {
            self.first_failure_reason[monitor] = reason.map(str::to_owned);
        }
        if let Some(transition) = transition {
            tracing::info!(
                monitor = %info.id,
                from = transition.from.as_str(),
                to = transition.to.as_str(),
                reason = reason.unwrap_or(""),
                "detected: {} is {}",
                info.name,
                transition.to.as_str()
            );
            let cause = Cause {
                monitor_name: info.name.clone(),
                reason: reason.map(str::to_owned),
                first_failure_reason: self.first_failure_reason[monitor].clone(),
            };
            if transition.to == ProbeStatus::Up {
                self.first_failure_reason[monitor] = None;
            }
            self.update_component(
                info.component,
                at,
                transition.first_failure_at,
                Some(cause),
                batch,
            );
        } else if status == ProbeStatus::Up && self.health[monitor].confirmed == ProbeStatus::Up {
            self.first_failure_reason[monitor] = None;
        }
    }

    /// A check pharos could not run raises one `pharos.degraded` per episode (an episode
    /// ends after `OWN_FAULT_QUIET` without such a check).
    pub(crate) fn note_own_fault(
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
        let Some((&component, incident)) = self
            .open_incidents
            .iter_mut()
            .find(|(_, incident)| incident.id == incident_id)
        else {
            if phase == IncidentPhase::Resolved {
                return Err(crate::CommandError::ResolveByRecovery);
            }
            return Err(crate::CommandError::NoOpenIncident(incident_id));
        };
        let (update, changed) = lifecycle::post_update(incident, phase, message, at).map_err(
            |lifecycle::UpdateRefused::ResolveByRecovery| crate::CommandError::ResolveByRecovery,
        )?;
        record(incident, changed, batch);
        tracing::info!(
            incident = incident_id,
            phase = phase.as_str(),
            "incident.updated: incident #{incident_id}: an operator posted an update"
        );
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
            let changed = lifecycle::remind(incident, now);
            record(incident, changed, batch);
            let incident = incident.clone();
            let news = self.incident_news(component, incident);
            self.announce(Event::IncidentUpdateOverdue(news), now, batch);
        }
    }

    /// Posts one update for each incident whose impact changed within the settle window and
    /// has held since, if it differs from what readers last heard.
    pub fn settle(&mut self, now: DateTime<Utc>, batch: &mut Batch) {
        self.revisit_waiting(now, batch);
        self.split_after_root_recovery(now, batch);
        for (monitor, heard) in std::mem::take(&mut self.provider_news) {
            self.tell_provider_word(monitor, heard, now, batch);
        }
        self.follow_scopes(now, batch);
        if self.unsettled.is_empty() {
            return;
        }
        let settle =
            chrono::Duration::from_std(self.topology.settle).unwrap_or(chrono::Duration::zero());
        let due: Vec<(usize, ComponentStatus)> = self
            .unsettled
            .iter()
            .filter(|(component, _)| {
                self.open_incidents.get(component).is_none_or(|incident| {
                    let last = incident.timeline.last().map(|entry| entry.at);
                    last.is_none_or(|last| now - last >= settle)
                })
            })
            .map(|(&component, &announced)| (component, announced))
            .collect();
        for (component, announced) in due {
            self.unsettled.remove(&component);
            let name = self.topology.components[component].name.clone();
            let joined = self.dependents_changed.remove(&component);
            let explained = joined.then(|| self.explain(component)).flatten();
            let Some(incident) = self.open_incidents.get_mut(&component) else {
                continue;
            };
            // Once the root has recovered, the explanation says what is left.
            let root_failing = self.component_status[component].0.is_incident();
            let impact_changed = incident.impact != announced && root_failing;
            if !impact_changed && explained.is_none() {
                continue;
            }
            let mut message = if impact_changed {
                format!(
                    "{name} is now in {}.",
                    incident.impact.label().to_lowercase()
                )
            } else {
                String::new()
            };
            if let Some(explained) = explained {
                if !message.is_empty() {
                    message.push(' ');
                }
                message.push_str(&explained);
            }
            let changed = lifecycle::announce_impact(incident, now, message);
            record(incident, changed, batch);
            let incident = incident.clone();
            tracing::info!(
                incident = incident.id,
                impact = incident.impact.as_str(),
                "incident.updated: incident #{} settled",
                incident.id
            );
            let news = self.incident_news(component, incident);
            self.announce(Event::IncidentUpdated(news), now, batch);
        }
    }

    /// Adds the detector state of every monitor changed since the last flush.
    pub fn flush(&mut self, batch: &mut Batch) {
        for monitor in self.dirty_health.take() {
            batch.health.push((
                self.topology.monitors[monitor].id.clone(),
                self.health[monitor].clone(),
            ));
        }
        self.flush_regions(batch);
    }

    pub(crate) fn update_component(
        &mut self,
        component: usize,
        at: DateTime<Utc>,
        first_failure_at: Option<DateTime<Utc>>,
        cause: Option<Cause>,
        batch: &mut Batch,
    ) {
        let topology = self.topology.clone();
        let info = &topology.components[component];
        let maintained = self.under_maintenance(component, at);
        self.in_maintenance[component] = maintained;
        let derived = derive_regional_component_status(
            info.monitors
                .iter()
                .map(|&monitor| (self.health[monitor].confirmed, self.down_somewhere(monitor))),
            maintained,
        );
        // An incident opened by hand holds its components at the operator's impacts at least,
        // and the checks neither change nor resolve it.
        let declared = self.declared_hold(component);
        let derived = declared.map_or(derived, |impact| derived.max(impact));
        let (previous, _) = self.component_status[component];
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
        if maintained || declared.is_some() {
            // Announced work: no incident opens, and one already open waits for the end.
            self.waiting.remove(&component);
            return;
        }
        if let Some(&root) = self.member_of.get(&component) {
            if derived != previous {
                self.dependent_changed(component, root, derived, at, batch);
            }
            return;
        }
        let open = self.open_incidents.get(&component);
        match open {
            None if derived.is_incident() => {
                self.place_failure(component, at, first_failure_at, cause, batch);
                return;
            }
            None => {
                self.waiting.remove(&component);
                return;
            }
            Some(incident)
                if !derived.is_incident() && incident.affected_dependents().next().is_some() =>
            {
                if derived != previous {
                    self.root_recovered(component, at, batch);
                }
                return;
            }
            Some(incident) if derived.is_incident() && incident.impact == derived => return,
            Some(_) => {}
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

    pub(crate) fn apply(
        &mut self,
        component: usize,
        action: IncidentAction,
        cause: Option<Cause>,
        batch: &mut Batch,
    ) {
        let name = self.topology.components[component].name.clone();
        let (event, incident): (fn(IncidentNews) -> Event, Incident) = match action {
            IncidentAction::Open(mut opening) => {
                if let Some(word) = self.provider_words(component) {
                    opening.message = format!("{} {word}", opening.message);
                }
                let scope = self.component_scope(component);
                if let Some(scope) = &scope {
                    opening.message = format!("{} {}", opening.message, scope.sentence(&name));
                }
                let Some(id) = self.next_incident_id() else {
                    tracing::error!(
                        component = %opening.component,
                        "cannot open an incident: no incident id is reserved (the store refuses writes); it opens once one is"
                    );
                    self.waiting_for_id = true;
                    return;
                };
                let mut incident = lifecycle::open(id, opening, &name, &cause.unwrap_or_default());
                incident.scope = scope;
                batch.new_incidents.push(incident.clone());
                self.open_incidents.insert(component, incident.clone());
                (Event::IncidentOpened, incident)
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
                // An operator's title stays.
                let title = title.filter(|_| !incident.is_retitled());
                let last_update = incident
                    .updates
                    .last()
                    .map(|update| update.at)
                    .unwrap_or(incident.detected_at);
                let settle = chrono::Duration::from_std(self.topology.settle)
                    .unwrap_or(chrono::Duration::zero());
                if at - last_update < settle {
                    // Too soon after the last update: noted now, told once it settles.
                    self.unsettled.entry(component).or_insert(incident.impact);
                    let changed = lifecycle::note_impact(
                        incident,
                        impact,
                        title,
                        at,
                        message,
                        cause.as_ref(),
                    );
                    record(incident, changed, batch);
                    return;
                }
                self.unsettled.remove(&component);
                let changed =
                    lifecycle::change_impact(incident, impact, title, at, message, cause.as_ref());
                record(incident, changed, batch);
                (Event::IncidentUpdated, incident.clone())
            }
            IncidentAction::Resolve { at, message, .. } => {
                let Some(mut incident) = self.open_incidents.remove(&component) else {
                    return;
                };
                self.unsettled.remove(&component);
                self.dependents_changed.remove(&component);
                let changed = lifecycle::resolve(&mut incident, at, message, &name);
                record(&incident, changed, batch);
                (Event::IncidentResolved, incident)
            }
        };
        let at = incident
            .updates
            .last()
            .map(|update| update.at)
            .unwrap_or(incident.detected_at);
        let news = self.incident_news(component, incident);
        let event = event(news);
        if let Event::IncidentOpened(news)
        | Event::IncidentUpdated(news)
        | Event::IncidentResolved(news) = &event
        {
            tracing::info!(
                incident = news.incident.id,
                impact = news.incident.impact.as_str(),
                "{}: incident #{} {}",
                event.kind().as_str(),
                news.incident.id,
                news.incident.title
            );
        }
        self.announce(event, at, batch);
    }

    /// Queues the messages announcing `event` to every channel that wants it.
    pub(crate) fn announce(&self, event: Event, at: DateTime<Utc>, batch: &mut Batch) {
        let status_of = |id: &pharos_core::ComponentId| {
            self.topology
                .component_index(id)
                .map(|index| self.component_status[index].0)
        };
        batch
            .outbox
            .extend(self.topology.notifier.messages(&event, at, &status_of));
    }

    pub(crate) fn incident_news(&self, component: usize, incident: Incident) -> IncidentNews {
        let name_of = |id: &pharos_core::ComponentId| {
            self.topology
                .component_index(id)
                .map(|index| self.topology.components[index].name.clone())
                .unwrap_or_else(|| id.as_str().to_owned())
        };
        let dependent_names: Vec<String> = incident
            .dependents
            .iter()
            .map(|dependent| name_of(&dependent.component))
            .collect();
        let root_cause = pharos_core::root_cause::describe(
            &incident,
            &self.topology.components[component].name,
            self.component_status[component].0,
            |id| {
                incident
                    .dependents
                    .iter()
                    .position(|dependent| &dependent.component == id)
                    .map_or(id.as_str(), |position| dependent_names[position].as_str())
            },
        );
        IncidentNews {
            dependent_names,
            root_cause,
            incident,
            component_name: self.topology.components[component].name.clone(),
            monitors: self.monitor_states(component),
        }
    }

    /// When the ongoing failure of one of the component's checks began, if one fails.
    pub(crate) fn first_failure_of(&self, component: usize) -> Option<DateTime<Utc>> {
        self.topology.components[component]
            .monitors
            .iter()
            .filter_map(|&monitor| self.health[monitor].first_failure_at)
            .min()
    }

    /// The checks of a component as events report them.
    fn monitor_states(&self, component: usize) -> Vec<MonitorState> {
        self.topology.components[component]
            .monitors
            .iter()
            .map(|&monitor| self.monitor_state(monitor))
            .collect()
    }

    pub(crate) fn monitor_state(&self, monitor: usize) -> MonitorState {
        let info = &self.topology.monitors[monitor];
        MonitorState {
            id: info.id.clone(),
            name: info.name.clone(),
            status: self.health[monitor].confirmed,
            reason: self.last_reason[monitor].clone(),
            region: self.topology.regions[0].clone(),
        }
    }
}

/// An episode of checks pharos could not run ends after this long without one.
const OWN_FAULT_QUIET: chrono::Duration = chrono::Duration::minutes(5);

/// Writes what a lifecycle step changed into the batch: the incident's header, its new
/// update and timeline entries.
pub(crate) fn record(incident: &Incident, changed: lifecycle::Changed, batch: &mut Batch) {
    batch.incident_changes.push(IncidentChange::from(incident));
    if let Some(update) = changed.update {
        batch.new_updates.push((incident.id, update));
    }
    for entry in changed.timeline {
        batch.new_timeline.push((incident.id, entry));
    }
}
