//! Operators' steps on incidents, applied to the evaluator's state: open one by hand, post an
//! update with times (and a new title or impact), resolve, reopen. The decisions are
//! `pharos_core::by_hand`'s; this module finds the incident, keeps the component's status in
//! step with a declared impact, and announces each step like the automatic ones.

use crate::evaluator::{record, Evaluator};
use crate::CommandError;
use chrono::{DateTime, Utc};
use pharos_core::by_hand::{self, Declaration, OperatorUpdate};
use pharos_core::{
    derive_regional_component_status, ComponentNews, ComponentStatus, Event, Incident,
    IncidentUpdate,
};
use pharos_store::{Batch, UptimeExclusion};

/// An operator's update with what else they changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Amendment {
    pub update: OperatorUpdate,
    /// A new title (pharos then keeps it).
    pub title: Option<String>,
    /// A new impact, for an incident opened by hand.
    pub impact: Option<ComponentStatus>,
    /// Other components' impacts, for an incident opened by hand: each joins at its impact,
    /// takes a new one, or (at `Operational`) leaves.
    pub affected: Vec<(pharos_core::ComponentId, ComponentStatus)>,
    /// Who posts it.
    pub by: String,
}

fn refused(refusal: by_hand::Refused) -> CommandError {
    match refusal {
        by_hand::Refused::WrongState(_) => CommandError::Refused(refusal.to_string()),
        _ => CommandError::Invalid(refusal.to_string()),
    }
}

impl Evaluator {
    fn open_incident_by_id(&self, id: i64) -> Option<usize> {
        self.open_incidents
            .iter()
            .find(|(_, incident)| incident.id == id)
            .map(|(&component, _)| component)
    }

    /// The component's status from its checks, raised to a declared incident's impact.
    pub(crate) fn effective_status(&self, component: usize, at: DateTime<Utc>) -> ComponentStatus {
        let info = &self.topology.components[component];
        let derived = derive_regional_component_status(
            info.monitors
                .iter()
                .map(|&monitor| (self.health[monitor].confirmed, self.down_somewhere(monitor))),
            self.under_maintenance(component, at),
        );
        self.declared_hold(component)
            .map_or(derived, |impact| derived.max(impact))
    }

    /// The impact an operator holds the component at: that of the incident they opened on it,
    /// or the one they gave it among an incident's other affected components.
    pub(crate) fn declared_hold(&self, component: usize) -> Option<ComponentStatus> {
        if let Some(incident) = self.open_incidents.get(&component) {
            return incident.is_declared().then_some(incident.impact);
        }
        let root = self.member_of.get(&component)?;
        let incident = self
            .open_incidents
            .get(root)
            .filter(|incident| incident.is_declared())?;
        incident
            .dependents
            .iter()
            .find(|dependent| {
                dependent.by_hand
                    && dependent.is_affected()
                    && dependent.component == self.topology.components[component].id
            })
            .map(|dependent| dependent.status)
    }

    /// The components `affected` names, checked: configured, not the incident's own
    /// (`root`), and, when they join, not part of another incident.
    fn affected_indexes(
        &self,
        root: usize,
        affected: &[(pharos_core::ComponentId, ComponentStatus)],
    ) -> Result<Vec<(usize, ComponentStatus)>, CommandError> {
        let mut found: Vec<(usize, ComponentStatus)> = Vec::new();
        for (id, status) in affected {
            let index = self
                .topology
                .component_index(id)
                .ok_or_else(|| CommandError::Invalid(format!("there is no component `{id}`")))?;
            if index == root {
                return Err(CommandError::Invalid(format!(
                    "`{id}` is the incident's own component: give its impact as `impact`"
                )));
            }
            if found.iter().any(|(known, _)| *known == index) {
                return Err(CommandError::Invalid(format!("`{id}` is named twice")));
            }
            let joins = status.is_incident() && self.member_of.get(&index) != Some(&root);
            if joins {
                self.free(index)?;
            }
            found.push((index, *status));
        }
        Ok(found)
    }

    /// Sets the component's status to what it is now, announcing a change.
    fn restate(&mut self, component: usize, at: DateTime<Utc>, batch: &mut Batch) {
        let status = self.effective_status(component, at);
        let (previous, _) = self.component_status[component];
        if status == previous {
            return;
        }
        let info = &self.topology.components[component];
        self.component_status[component] = (status, at);
        batch.component_status.push((info.id.clone(), status, at));
        let news = ComponentNews {
            component: info.id.clone(),
            component_name: info.name.clone(),
            previous,
            status,
            monitors: self.topology.components[component]
                .monitors
                .iter()
                .map(|&monitor| self.monitor_state(monitor))
                .collect(),
        };
        self.announce(Event::ComponentStatusChanged(news), at, batch);
    }

    /// Lets the checks speak again for a component no operator holds any more: a failure
    /// that goes on is detected as any other (it opens or joins an incident, from when it
    /// began) instead of waiting for the checks' next change.
    fn let_go(&mut self, component: usize, at: DateTime<Utc>, batch: &mut Batch) {
        let first_failure_at = self.first_failure_of(component);
        self.update_component(component, at, first_failure_at, None, batch);
    }

    fn free(&self, component: usize) -> Result<(), CommandError> {
        let name = &self.topology.components[component].name;
        if let Some(open) = self.open_incidents.get(&component) {
            return Err(CommandError::Refused(format!(
                "{name} has an open incident already (#{}): post an update there",
                open.id
            )));
        }
        if let Some(root) = self.member_of.get(&component) {
            let id = self
                .open_incidents
                .get(root)
                .map_or(0, |incident| incident.id);
            return Err(CommandError::Refused(format!(
                "{name} is part of incident #{id} already: post an update there"
            )));
        }
        Ok(())
    }

    /// Opens an incident by hand on a component that has none.
    pub fn declare(
        &mut self,
        declaration: Declaration,
        at: DateTime<Utc>,
        batch: &mut Batch,
    ) -> Result<Incident, CommandError> {
        let component = self
            .topology
            .component_index(&declaration.component)
            .ok_or_else(|| {
                CommandError::Invalid(format!("there is no component `{}`", declaration.component))
            })?;
        self.free(component)?;
        let also = self.affected_indexes(component, &declaration.also)?;
        let id = self.next_incident_id().ok_or_else(|| {
            CommandError::Refused(
                "no incident id is reserved yet (the store refuses writes); try again shortly"
                    .into(),
            )
        })?;
        let incident = by_hand::declare(id, declaration, at).map_err(refused)?;
        self.waiting.remove(&component);
        batch.new_incidents.push(incident.clone());
        self.open_incidents.insert(component, incident.clone());
        self.restate(component, at, batch);
        for (other, _) in also {
            self.waiting.remove(&other);
            self.member_of.insert(other, component);
            self.restate(other, at, batch);
        }
        tracing::info!(
            incident = id,
            "incident.opened: incident #{id} opened by hand: {}",
            incident.title
        );
        let news = self.incident_news(component, incident.clone());
        self.announce(Event::IncidentOpened(news), at, batch);
        Ok(incident)
    }

    /// Posts an operator's update on an open incident, with a new title or impact if given.
    pub fn amend(
        &mut self,
        id: i64,
        amendment: Amendment,
        at: DateTime<Utc>,
        batch: &mut Batch,
    ) -> Result<IncidentUpdate, CommandError> {
        let component = self
            .open_incident_by_id(id)
            .ok_or(CommandError::NoOpenIncident(id))?;
        let declared = self
            .open_incidents
            .get(&component)
            .is_some_and(Incident::is_declared);
        if (amendment.impact.is_some() || !amendment.affected.is_empty()) && !declared {
            return Err(CommandError::Invalid(
                "the checks set this incident's impacts; only an incident opened by hand takes them"
                    .into(),
            ));
        }
        let affected = self.affected_indexes(component, &amendment.affected)?;
        let topology = self.topology.clone();
        let incident = self
            .open_incidents
            .get_mut(&component)
            .expect("found above");
        let mut edited = incident.clone();
        if let Some(impact) = amendment.impact {
            by_hand::set_impact(&mut edited, impact).map_err(refused)?;
        }
        let mut changes = Vec::new();
        for &(other, status) in &affected {
            let info = &topology.components[other];
            changes.push(by_hand::set_affected(
                &mut edited,
                &info.id,
                &info.name,
                status,
                at,
            ));
        }
        let retitled = amendment
            .title
            .filter(|title| *title != edited.title)
            .map(|title| by_hand::retitle(&mut edited, title, &amendment.by, at));
        let (update, changed) =
            by_hand::update(&mut edited, amendment.update, at).map_err(refused)?;
        *incident = edited;
        if let Some(retitled) = retitled {
            record(incident, retitled, batch);
        }
        for change in changes {
            record(incident, change, batch);
        }
        record(incident, changed, batch);
        let incident = incident.clone();
        self.restate(component, at, batch);
        let mut released = Vec::new();
        for (other, status) in affected {
            if status.is_incident() {
                self.waiting.remove(&other);
                self.member_of.insert(other, component);
            } else if self.member_of.get(&other) == Some(&component) {
                self.member_of.remove(&other);
                released.push(other);
            }
            self.restate(other, at, batch);
        }
        tracing::info!(
            incident = id,
            phase = update.phase.as_str(),
            "incident.updated: incident #{id}: an operator posted an update"
        );
        let news = self.incident_news(component, incident);
        self.announce(Event::IncidentUpdated(news), at, batch);
        for other in released {
            self.let_go(other, at, batch);
        }
        Ok(update)
    }

    /// Resolves an open incident by hand: one opened by hand at any time, an automatic one
    /// once its component's checks no longer fail (until then it resolves on recovery).
    pub fn resolve_by_hand(
        &mut self,
        id: i64,
        message: String,
        by: &str,
        at: DateTime<Utc>,
        batch: &mut Batch,
    ) -> Result<Incident, CommandError> {
        let component = self
            .open_incident_by_id(id)
            .ok_or(CommandError::NoOpenIncident(id))?;
        let incident = self.close_by_hand(
            component,
            "the incident resolves by itself when they recover",
            at,
            batch,
            |incident| by_hand::resolve(incident, message, by, at),
        )?;
        tracing::info!(
            incident = id,
            "incident.resolved: incident #{id} resolved by {by}"
        );
        Ok(incident)
    }

    /// Closes the open incident of `component` by an operator's `step`: refused while an
    /// automatic incident's checks still fail (`still_failing` says what then); the component
    /// is restated and channels hear it resolved.
    fn close_by_hand(
        &mut self,
        component: usize,
        still_failing: &str,
        at: DateTime<Utc>,
        batch: &mut Batch,
        step: impl FnOnce(&mut Incident) -> Result<pharos_core::lifecycle::Changed, by_hand::Refused>,
    ) -> Result<Incident, CommandError> {
        let mut incident = self.open_incidents[&component].clone();
        if !incident.is_declared() && self.component_status[component].0.is_incident() {
            return Err(CommandError::Refused(format!(
                "{}'s checks still fail: {still_failing}",
                self.topology.components[component].name
            )));
        }
        let changed = step(&mut incident).map_err(refused)?;
        self.open_incidents.remove(&component);
        record(&incident, changed, batch);
        self.unsettled.remove(&component);
        self.dependents_changed.remove(&component);
        let mut members = Vec::new();
        for dependent in incident.dependents.iter() {
            if let Some(index) = self.topology.component_index(&dependent.component) {
                if self.member_of.remove(&index).is_some() {
                    members.push(index);
                }
            }
        }
        self.restate(component, at, batch);
        // Those held at an operator's impact go back to what their checks say.
        for &member in &members {
            self.restate(member, at, batch);
        }
        let news = self.incident_news(component, incident.clone());
        self.announce(Event::IncidentResolved(news), at, batch);
        for member in std::iter::once(component).chain(members) {
            self.let_go(member, at, batch);
        }
        Ok(incident)
    }

    /// Reopens a resolved incident (as read from the store) on a component that has no open
    /// incident; from then on it is the operators' to resolve.
    pub fn reopen(
        &mut self,
        mut incident: Incident,
        update: OperatorUpdate,
        by: &str,
        at: DateTime<Utc>,
        batch: &mut Batch,
    ) -> Result<Incident, CommandError> {
        let component = self
            .topology
            .component_index(&incident.component)
            .ok_or_else(|| {
                CommandError::Refused(format!(
                    "component `{}` is no longer configured",
                    incident.component
                ))
            })?;
        self.free(component)?;
        let changed = by_hand::reopen(&mut incident, update, by, at).map_err(refused)?;
        incident.dependents.clear();
        record(&incident, changed, batch);
        self.open_incidents.insert(component, incident.clone());
        self.restate(component, at, batch);
        tracing::info!(
            incident = incident.id,
            "incident.updated: incident #{} reopened by {by}",
            incident.id
        );
        let news = self.incident_news(component, incident.clone());
        self.announce(Event::IncidentUpdated(news), at, batch);
        Ok(incident)
    }

    /// Corrects (`Some`) or deletes (`None`) the update posted at `posted_at` on `stored` (the
    /// incident as read from the store; the engine's own copy is changed too while it is open).
    pub fn edit_update(
        &mut self,
        stored: Incident,
        posted_at: DateTime<Utc>,
        message: Option<String>,
        at: DateTime<Utc>,
        batch: &mut Batch,
    ) -> Result<IncidentUpdate, CommandError> {
        let open = self.open_incident_by_id(stored.id);
        let mut incident = match open {
            Some(component) => self.open_incidents[&component].clone(),
            None => stored,
        };
        let before =
            by_hand::edit_update(&mut incident, posted_at, message.clone(), at).map_err(refused)?;
        batch.update_edits.push(pharos_store::UpdateEdit {
            incident: incident.id,
            at: posted_at,
            message,
            edited_at: at,
        });
        if let Some(component) = open {
            self.open_incidents.insert(component, incident);
        }
        Ok(before)
    }

    /// Marks an incident (as stored; the engine's own copy while it is open) a false alarm:
    /// an open one closes (channels hear it resolved, so alerts close too) unless its checks
    /// still fail, which would open it again at once.
    pub fn false_alarm(
        &mut self,
        stored: Incident,
        reason: &str,
        by: &str,
        at: DateTime<Utc>,
        batch: &mut Batch,
    ) -> Result<Incident, CommandError> {
        let Some(component) = self.open_incident_by_id(stored.id) else {
            let mut incident = stored;
            let changed =
                by_hand::mark_false_alarm(&mut incident, reason, by, at).map_err(refused)?;
            record(&incident, changed, batch);
            self.leave_out_of_uptime(&incident, at, batch);
            return Ok(incident);
        };
        let incident = self.close_by_hand(
            component,
            "it would open again at once; fix the check (or schedule maintenance) first",
            at,
            batch,
            |incident| by_hand::mark_false_alarm(incident, reason, by, at),
        )?;
        self.leave_out_of_uptime(&incident, at, batch);
        tracing::info!(
            incident = incident.id,
            "incident.resolved: incident #{} marked a false alarm by {by}",
            incident.id
        );
        Ok(incident)
    }

    /// Leaves a false alarm's time out of the uptime of every component it took (its own and
    /// those that joined it): the checks that failed then were wrong, not the service.
    fn leave_out_of_uptime(&self, incident: &Incident, at: DateTime<Utc>, batch: &mut Batch) {
        let monitors = self.topology.monitor_ids_of(
            std::iter::once(&incident.component).chain(
                incident
                    .dependents
                    .iter()
                    .map(|dependent| &dependent.component),
            ),
        );
        batch.uptime_exclusions.push(UptimeExclusion {
            monitors,
            start: incident.started_at,
            end: incident.resolved_at.unwrap_or(at),
            reason: format!("false-alarm:{}", incident.id),
        });
    }
}
