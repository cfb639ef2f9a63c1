//! How the evaluator places the failures of dependent components: a failing component whose
//! dependency is failing joins that dependency's incident, waits while a dependency's verdict
//! is pending, or opens its own incident (taking over its dependents' young incidents); a
//! joined component still failing after its root recovered is split into its own incident.
//! The decisions are `pharos_core::root_cause`'s; this module applies them to the state.

use crate::evaluator::{record, Evaluator};
use chrono::{DateTime, Utc};
use pharos_core::grouping;
use pharos_core::incident::ComponentChange;
use pharos_core::lifecycle::{self, Cause, Opening};
use pharos_core::root_cause::{self, Placement, Verdict};
use pharos_core::{plan_incident, ComponentStatus, Event, IncidentTemplates, ProbeStatus};
use pharos_store::Batch;

/// How many other components are asked for a check when pharos may be cut off.
const OWN_NETWORK_SAMPLE: usize = 8;

/// Whether pharos itself can reach the network, as the checks tell.
enum OwnNetwork {
    Reachable,
    /// Not enough checks since the failure began to tell.
    Unsure,
    /// Every check of every other component fails.
    Cut,
}

/// A failing component waiting for its dependencies' verdict.
pub(crate) struct Waiting {
    /// When its failure began: dependencies' checks from before say nothing about it.
    since: DateTime<Utc>,
    first_failure_at: Option<DateTime<Utc>>,
    cause: Option<Cause>,
}

impl Evaluator {
    /// Asks for the checks of everything `component` needs, at once: if one of them is the
    /// cause, its incident should be the one the failure joins.
    /// The component's own provider checks are asked too, so that the provider's word is
    /// fresh when an incident opens.
    pub(crate) fn ask_dependencies(&mut self, component: usize) {
        let topology = self.topology.clone();
        self.rechecks.extend(
            topology.components[component]
                .monitors
                .iter()
                .copied()
                .filter(|&monitor| topology.monitors[monitor].provider),
        );
        for &dependency in topology.dependencies.of(component) {
            self.rechecks
                .extend(topology.components[dependency].monitors.iter().copied());
        }
    }

    /// How `dependency` stands for a component failing since `since`.
    fn verdict(&self, dependency: usize, since: DateTime<Utc>) -> Verdict {
        let (status, _) = self.component_status[dependency];
        if status.is_incident() {
            let placed = self.open_incidents.contains_key(&dependency)
                || self.member_of.contains_key(&dependency);
            return if placed {
                Verdict::Failing
            } else {
                Verdict::Suspect
            };
        }
        let pending = self.topology.components[dependency]
            .monitors
            .iter()
            .any(|&monitor| {
                self.health[monitor].problem_streak > 0
                    || self.last_seen[monitor].is_none_or(|seen| seen < since)
            });
        if pending {
            Verdict::Suspect
        } else {
            Verdict::Clear
        }
    }

    fn window(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.topology.correlation_window)
            .unwrap_or(chrono::Duration::zero())
    }

    /// `component` began affecting users and has no incident: it joins, waits or opens one.
    pub(crate) fn place_failure(
        &mut self,
        component: usize,
        at: DateTime<Utc>,
        first_failure_at: Option<DateTime<Utc>>,
        cause: Option<Cause>,
        batch: &mut Batch,
    ) {
        let since = self
            .waiting
            .get(&component)
            .map(|waiting| waiting.since)
            .or(first_failure_at)
            .unwrap_or(at)
            .min(at);
        let placement = root_cause::place(
            &self.topology.dependencies,
            component,
            |dependency| self.verdict(dependency, since),
            since,
            at,
            self.window(),
        );
        match placement {
            Placement::Join(dependency) => {
                self.waiting.remove(&component);
                self.join(component, dependency, at, batch);
            }
            Placement::Wait => self.hold(component, since, first_failure_at, cause),
            Placement::Open if self.recovering(component) => {
                // Its checks pass again and recovery awaits confirmation: an incident now
                // would only resolve at once.
                self.hold(component, since, first_failure_at, cause);
            }
            Placement::Open => {
                match self.own_network(component, since) {
                    OwnNetwork::Reachable => {}
                    OwnNetwork::Unsure if at - since < self.window() => {
                        self.hold(component, since, first_failure_at, cause);
                        self.ask_others(component, since);
                        return;
                    }
                    OwnNetwork::Unsure => {}
                    OwnNetwork::Cut => {
                        self.hold(component, since, first_failure_at, cause);
                        self.report_own_network_cut(component, at, batch);
                        return;
                    }
                }
                let waited = self.waiting.remove(&component);
                let (first_failure_at, cause) = match waited {
                    Some(waited) => (
                        waited.first_failure_at.or(first_failure_at),
                        cause.or(waited.cause),
                    ),
                    None => (first_failure_at, cause),
                };
                self.open_root(component, at, first_failure_at, cause, batch);
            }
        }
    }

    /// Whether every check of `component` passed its latest run.
    fn recovering(&self, component: usize) -> bool {
        self.topology.components[component]
            .monitors
            .iter()
            .all(|&monitor| self.health[monitor].last == Some(ProbeStatus::Up))
    }

    /// Keeps `component` waiting, with what its incident will need when it opens.
    fn hold(
        &mut self,
        component: usize,
        since: DateTime<Utc>,
        first_failure_at: Option<DateTime<Utc>>,
        cause: Option<Cause>,
    ) {
        let waiting = self.waiting.entry(component).or_insert(Waiting {
            since,
            first_failure_at,
            cause: None,
        });
        if cause.is_some() {
            waiting.cause = cause;
        }
    }

    /// Whether pharos itself seems cut off, judged by the other components' checks since
    /// `component` began failing at `since`: any of them up means the network is reachable;
    /// all of them (at least two, or a sample of `OWN_NETWORK_SAMPLE`) checked and failing
    /// means pharos cannot reach anything; otherwise it cannot tell yet.
    fn own_network(&self, component: usize, since: DateTime<Utc>) -> OwnNetwork {
        let others: Vec<usize> = (0..self.topology.components.len())
            .filter(|&other| {
                other != component && !self.topology.components[other].monitors.is_empty()
            })
            .collect();
        if others.len() < 2 {
            // With fewer than three components, everything failing at once is as likely
            // the one server they share: never blamed on pharos.
            return OwnNetwork::Reachable;
        }
        let mut failing_components = 0;
        for &other in &others {
            let mut checked_failing = false;
            for &monitor in &self.topology.components[other].monitors {
                if self.last_seen[monitor].is_none_or(|seen| seen < since) {
                    continue;
                }
                if self.health[monitor].last != Some(ProbeStatus::Down) {
                    return OwnNetwork::Reachable;
                }
                checked_failing = true;
            }
            failing_components += usize::from(checked_failing);
        }
        if failing_components >= others.len().min(OWN_NETWORK_SAMPLE) {
            OwnNetwork::Cut
        } else {
            OwnNetwork::Unsure
        }
    }

    /// Asks for one check of each of a few other components (once per failure), so that
    /// whether pharos itself is cut off is known in seconds.
    fn ask_others(&mut self, component: usize, since: DateTime<Utc>) {
        if self.asked_others_for == Some(since) {
            return;
        }
        self.asked_others_for = Some(since);
        let topology = self.topology.clone();
        let sample = topology
            .components
            .iter()
            .enumerate()
            .filter(|(other, _)| *other != component)
            .filter_map(|(_, info)| info.monitors.first().copied())
            .take(OWN_NETWORK_SAMPLE);
        self.rechecks.extend(sample);
    }

    /// Every check of every component fails: pharos says so to operators, once per episode,
    /// and opens no public incident.
    fn report_own_network_cut(&mut self, component: usize, at: DateTime<Utc>, batch: &mut Batch) {
        if self.own_network_cut_since.is_some() {
            return;
        }
        self.own_network_cut_since = Some(at);
        let reason = format!(
            "pharos cannot reach the network from {}: every check of every component fails; no incident is opened",
            self.topology.regions[0]
        );
        tracing::warn!("{reason}");
        let Some(&monitor) = self.topology.components[component].monitors.first() else {
            return;
        };
        let fault = pharos_core::SelfFault {
            monitor: self.monitor_state(monitor),
            reason,
        };
        self.announce(Event::PharosDegraded(fault), at, batch);
    }

    /// A check passed: if pharos was cut off, that episode is over.
    pub(crate) fn note_reachable(&mut self) {
        if self.own_network_cut_since.take().is_some() {
            tracing::info!("pharos reaches the network again");
        }
    }

    /// Places again every component waiting for a verdict, the deepest first.
    pub(crate) fn revisit_waiting(&mut self, now: DateTime<Utc>, batch: &mut Batch) {
        if self.waiting.is_empty() {
            return;
        }
        let mut waiting: Vec<usize> = self.waiting.keys().copied().collect();
        waiting.sort_by_key(|&component| self.topology.dependencies.of(component).len());
        for component in waiting {
            if !self.component_status[component].0.is_incident()
                || self.member_of.contains_key(&component)
                || self.open_incidents.contains_key(&component)
            {
                self.waiting.remove(&component);
                continue;
            }
            self.place_failure(component, now, None, None, batch);
        }
    }

    /// Opens `component`'s own incident, or takes over the young incidents of components that
    /// need it (they failed first, but it is the probable root cause).
    fn open_root(
        &mut self,
        component: usize,
        at: DateTime<Utc>,
        first_failure_at: Option<DateTime<Utc>>,
        cause: Option<Cause>,
        batch: &mut Batch,
    ) {
        let adopt = root_cause::adoptable(
            &self.topology.dependencies,
            component,
            self.open_incidents
                .iter()
                .map(|(&root, incident)| (root, incident.detected_at)),
            at,
            self.window(),
        );
        if adopt.is_empty() {
            let topology = self.topology.clone();
            let info = &topology.components[component];
            let change = ComponentChange {
                component: &info.id,
                component_name: &info.name,
                to: self.component_status[component].0,
                at,
                first_failure_at,
            };
            if let Some(action) = plan_incident(&change, None, &info.templates) {
                self.apply(component, action, cause, batch);
            }
        } else {
            self.take_over(component, &adopt, at, batch);
        }
        self.revisit_waiting(at, batch);
    }

    /// `root` turns out to be the probable root cause of the incidents of `adopt` (earliest
    /// first): the first becomes `root`'s incident, the others merge into it.
    fn take_over(&mut self, root: usize, adopt: &[usize], at: DateTime<Utc>, batch: &mut Batch) {
        let topology = self.topology.clone();
        let info = &topology.components[root];
        let status = self.component_status[root].0;
        let Some(mut incident) = self.open_incidents.remove(&adopt[0]) else {
            return;
        };
        for &other in &adopt[1..] {
            let Some(mut merged) = self.open_incidents.remove(&other) else {
                continue;
            };
            let (gained, closed) = grouping::merge(&mut incident, &mut merged, at, &info.name);
            record(&incident, gained, batch);
            record(&merged, closed, batch);
            self.forget(other);
            let news = self.incident_news(other, merged);
            self.announce(Event::IncidentResolved(news), at, batch);
        }
        let mut affected: Vec<&str> = vec![topology.components[adopt[0]].name.as_str()];
        for dependent in incident.affected_dependents() {
            if let Some(index) = topology.component_index(&dependent.component) {
                affected.push(topology.components[index].name.as_str());
            }
        }
        let mut message = root_cause::explain(&info.name, status, &affected);
        if let Some(word) = self.provider_words(root) {
            message = format!("{message} {word}");
        }
        let title = IncidentTemplates::fill(&info.templates.title, &info.name, status);
        let changed = grouping::reroot(
            &mut incident,
            &info.id,
            &info.name,
            status,
            title,
            at,
            message,
        );
        record(&incident, changed, batch);
        self.forget(adopt[0]);
        for &former in adopt {
            self.member_of.insert(former, root);
        }
        for member in self.member_of.values_mut() {
            if adopt.contains(member) {
                *member = root;
            }
        }
        tracing::info!(
            incident = incident.id,
            root = %info.id,
            "incident.updated: incident #{}: {} is the probable root cause",
            incident.id,
            info.name
        );
        self.open_incidents.insert(root, incident.clone());
        let news = self.incident_news(root, incident);
        self.announce(Event::IncidentUpdated(news), at, batch);
    }

    /// Drops what the evaluator remembers of an incident rooted at `root` that is gone.
    fn forget(&mut self, root: usize) {
        self.unsettled.remove(&root);
        self.dependents_changed.remove(&root);
    }

    /// `component` joins the incident `dependency` belongs to.
    fn join(&mut self, component: usize, dependency: usize, at: DateTime<Utc>, batch: &mut Batch) {
        let root = if self.open_incidents.contains_key(&dependency) {
            dependency
        } else {
            match self.member_of.get(&dependency) {
                Some(&root) => root,
                None => return,
            }
        };
        let topology = self.topology.clone();
        let info = &topology.components[component];
        let status = self.component_status[component].0;
        let Some(incident) = self.open_incidents.get_mut(&root) else {
            return;
        };
        let changed = grouping::join(
            incident,
            &info.id,
            &info.name,
            status,
            at,
            &topology.components[root].name,
        );
        record(incident, changed, batch);
        tracing::info!(
            incident = incident.id,
            component = %info.id,
            "{} joined incident #{}: its probable root cause is {}",
            info.name,
            incident.id,
            topology.components[root].name
        );
        self.unsettled.entry(root).or_insert(incident.impact);
        self.dependents_changed.insert(root);
        self.member_of.insert(component, root);
    }

    /// A joined component's status changed: followed in the incident; on recovery, noted,
    /// and the incident resolves if nothing else is affected.
    pub(crate) fn dependent_changed(
        &mut self,
        component: usize,
        root: usize,
        status: ComponentStatus,
        at: DateTime<Utc>,
        batch: &mut Batch,
    ) {
        let topology = self.topology.clone();
        let info = &topology.components[component];
        let root_recovered = !self.component_status[root].0.is_incident();
        let Some(incident) = self.open_incidents.get_mut(&root) else {
            self.member_of.remove(&component);
            return;
        };
        if status.is_incident() {
            grouping::dependent_status(incident, &info.id, status);
            record(incident, lifecycle::Changed::default(), batch);
            return;
        }
        let changed =
            grouping::dependent_recovered(incident, &info.id, &info.name, at, root_recovered);
        record(incident, changed, batch);
        self.member_of.remove(&component);
        self.unsettled.entry(root).or_insert(incident.impact);
        self.dependents_changed.insert(root);
        self.resolve_if_over(root, at, batch);
    }

    /// The root recovered while joined components are still affected: readers hear which
    /// once it settles.
    pub(crate) fn root_recovered(&mut self, root: usize, at: DateTime<Utc>, batch: &mut Batch) {
        let topology = self.topology.clone();
        let name = &topology.components[root].name;
        let Some(incident) = self.open_incidents.get_mut(&root) else {
            return;
        };
        let announced = incident.impact;
        let changed = grouping::root_recovered(incident, at, name);
        record(incident, changed, batch);
        self.unsettled.entry(root).or_insert(announced);
        self.dependents_changed.insert(root);
    }

    /// Resolves `root`'s incident once the root and every joined component have recovered.
    fn resolve_if_over(&mut self, root: usize, at: DateTime<Utc>, batch: &mut Batch) {
        let over = self.open_incidents.get(&root).is_some_and(|incident| {
            !self.component_status[root].0.is_incident()
                && incident.affected_dependents().next().is_none()
        });
        if !over {
            return;
        }
        let info = &self.topology.components[root];
        let message = IncidentTemplates::fill(
            &info.templates.resolved,
            &info.name,
            ComponentStatus::Operational,
        );
        self.apply(
            root,
            pharos_core::IncidentAction::Resolve {
                incident_id: 0,
                at,
                message,
            },
            None,
            batch,
        );
    }

    /// Joined components still failing `correlation_window` after their root recovered are
    /// split into incidents of their own; the root's incident then resolves.
    pub(crate) fn split_after_root_recovery(&mut self, now: DateTime<Utc>, batch: &mut Batch) {
        let window = self.window();
        let due: Vec<usize> = self
            .open_incidents
            .iter()
            .filter(|(&root, incident)| {
                let (status, since) = self.component_status[root];
                !status.is_incident()
                    && now - since >= window
                    && incident.affected_dependents().next().is_some()
            })
            .map(|(&root, _)| root)
            .collect();
        for root in due {
            self.split(root, now, batch);
        }
    }

    fn split(&mut self, root: usize, now: DateTime<Utc>, batch: &mut Batch) {
        let topology = self.topology.clone();
        let root_name = topology.components[root].name.clone();
        let Some(incident) = self.open_incidents.get(&root) else {
            return;
        };
        let from = incident.id;
        let mut leaving: Vec<usize> = incident
            .affected_dependents()
            .filter_map(|dependent| topology.component_index(&dependent.component))
            .collect();
        leaving.sort_by_key(|&component| topology.dependencies.of(component).len());
        for &component in &leaving {
            self.member_of.remove(&component);
        }
        let long_ago = now - self.window() - chrono::Duration::seconds(1);
        for component in leaving {
            let info = &topology.components[component];
            let placement = root_cause::place(
                &topology.dependencies,
                component,
                |dependency| self.verdict(dependency, long_ago),
                long_ago,
                now,
                self.window(),
            );
            let into = match placement {
                Placement::Join(dependency) => {
                    self.join(component, dependency, now, batch);
                    self.member_of
                        .get(&component)
                        .and_then(|root| self.open_incidents.get(root))
                        .map(|incident| incident.id)
                }
                Placement::Open | Placement::Wait => {
                    self.open_split(component, from, &root_name, now, batch)
                }
            };
            let Some(into) = into else {
                // No id to open it with: it stays where it was until one is reserved.
                self.member_of.insert(component, root);
                continue;
            };
            if let Some(incident) = self.open_incidents.get_mut(&root) {
                let changed =
                    grouping::split_out(incident, &info.id, &info.name, &root_name, into, now);
                record(incident, changed, batch);
            }
        }
        self.resolve_if_over(root, now, batch);
    }

    /// Opens the incident of a component still failing after its root (of incident `from`)
    /// recovered. Returns its id.
    fn open_split(
        &mut self,
        component: usize,
        from: i64,
        root_name: &str,
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) -> Option<i64> {
        let id = self.next_incident_id()?;
        let topology = self.topology.clone();
        let info = &topology.components[component];
        let status = self.component_status[component].0;
        let failing = info
            .monitors
            .iter()
            .copied()
            .find(|&monitor| self.health[monitor].confirmed != ProbeStatus::Up);
        let cause = failing
            .map(|monitor| Cause {
                monitor_name: topology.monitors[monitor].name.clone(),
                reason: self.last_reason[monitor].clone(),
                first_failure_reason: None,
            })
            .unwrap_or_default();
        let started_at = failing
            .and_then(|monitor| self.health[monitor].since)
            .unwrap_or(now)
            .min(now);
        let opening = Opening {
            component: info.id.clone(),
            title: format!("{} still failing after {root_name} recovered", info.name),
            impact: status,
            started_at,
            detected_at: now,
            message: format!(
                "{} is still failing after {root_name} recovered; we are investigating.",
                info.name
            ),
        };
        let mut incident = lifecycle::open(id, opening, &info.name, &cause);
        grouping::split_from(&mut incident, from, root_name, now);
        batch.new_incidents.push(incident.clone());
        self.open_incidents.insert(component, incident.clone());
        tracing::info!(
            incident = id,
            "incident.opened: incident #{id}: {} split from #{from}",
            incident.title
        );
        let news = self.incident_news(component, incident);
        self.announce(Event::IncidentOpened(news), now, batch);
        Some(id)
    }

    /// "Mail delivery and Mailbox access are affected because Mail store is down", for the
    /// incident rooted at `root`; `None` when no joined component is affected.
    pub(crate) fn explain(&self, root: usize) -> Option<String> {
        let incident = self.open_incidents.get(&root)?;
        pharos_core::root_cause::describe(
            incident,
            &self.topology.components[root].name,
            self.component_status[root].0,
            |id| {
                self.topology
                    .component_index(id)
                    .map_or(id.as_str(), |index| {
                        self.topology.components[index].name.as_str()
                    })
            },
        )
    }
}
