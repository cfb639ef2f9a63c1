//! The lifecycle of an incident that spans dependent components: a dependent joins the root
//! cause's incident, recovers within it, or is split out when it goes on failing after the
//! root recovered; a root found late takes over its dependents' young incidents. Like
//! `lifecycle`, each step changes the incident in place and returns what it added.

use crate::incident::{
    Dependent, Incident, IncidentPhase, IncidentUpdate, TimelineEntry, TimelineKind,
};
use crate::lifecycle::Changed;
use crate::root_cause::state;
use crate::status::ComponentStatus;
use crate::ComponentId;
use chrono::{DateTime, Utc};

/// `component` fails because of the incident's root cause: it joins (again, if it had
/// recovered). Readers hear of it in the incident's next update.
pub fn join(
    incident: &mut Incident,
    component: &ComponentId,
    name: &str,
    status: ComponentStatus,
    at: DateTime<Utc>,
    root_name: &str,
) -> Changed {
    match incident.dependent_mut(component) {
        Some(dependent) => {
            dependent.status = status;
            dependent.recovered_at = None;
            dependent.split_into = None;
        }
        None => incident.dependents.push(Dependent {
            component: component.clone(),
            status,
            joined_at: at,
            recovered_at: None,
            split_into: None,
            by_hand: false,
        }),
    }
    entry(
        incident,
        at,
        TimelineKind::Joined,
        format!(
            "{name} is in {}, probably because {root_name} is {}",
            status.label().to_lowercase(),
            state(incident.impact)
        ),
    )
}

/// A joined component's status changed while it stays affected.
pub fn dependent_status(incident: &mut Incident, component: &ComponentId, status: ComponentStatus) {
    if let Some(dependent) = incident.dependent_mut(component) {
        dependent.status = status;
    }
}

/// A joined component recovered: noted in the timeline. Once the root has recovered
/// (`root_recovered`), the incident's impact is that of the components still affected.
pub fn dependent_recovered(
    incident: &mut Incident,
    component: &ComponentId,
    name: &str,
    at: DateTime<Utc>,
    root_recovered: bool,
) -> Changed {
    if let Some(dependent) = incident.dependent_mut(component) {
        dependent.recovered_at = Some(at);
    }
    if root_recovered {
        incident.impact = incident.worst_affected().unwrap_or(incident.impact);
    }
    entry(
        incident,
        at,
        TimelineKind::DependentRecovered,
        format!("{name} operational again"),
    )
}

/// The root recovered while joined components are still affected: noted in the timeline,
/// and the incident's impact becomes theirs. Readers hear which once it settles (a
/// dependent recovering moments later makes the news shorter).
pub fn root_recovered(incident: &mut Incident, at: DateTime<Utc>, root_name: &str) -> Changed {
    incident.impact = incident.worst_affected().unwrap_or(incident.impact);
    entry(
        incident,
        at,
        TimelineKind::Recovered,
        format!("{root_name} operational again; joined components still affected"),
    )
}

/// A joined component still failing after the root recovered leaves for incident `into`.
pub fn split_out(
    incident: &mut Incident,
    component: &ComponentId,
    name: &str,
    root_name: &str,
    into: i64,
    at: DateTime<Utc>,
) -> Changed {
    if let Some(dependent) = incident.dependent_mut(component) {
        dependent.split_into = Some(into);
    }
    entry(
        incident,
        at,
        TimelineKind::Split,
        format!("{name} still failing after {root_name} recovered: followed in incident #{into}"),
    )
}

/// Notes in an incident split out of `from` where it came from.
pub fn split_from(
    incident: &mut Incident,
    from: i64,
    root_name: &str,
    at: DateTime<Utc>,
) -> Changed {
    entry(
        incident,
        at,
        TimelineKind::Split,
        format!("Split from incident #{from}: still failing after {root_name} recovered"),
    )
}

/// The incident's root turns out to need `root`, which just failed: `root` becomes the
/// incident's root and the old root a joined component, with an update telling readers.
#[allow(clippy::too_many_arguments)]
pub fn reroot(
    incident: &mut Incident,
    root: &ComponentId,
    root_name: &str,
    status: ComponentStatus,
    title: String,
    at: DateTime<Utc>,
    message: String,
) -> Changed {
    let old = Dependent {
        component: incident.component.clone(),
        status: incident.impact,
        joined_at: incident.detected_at,
        recovered_at: None,
        split_into: None,
        by_hand: false,
    };
    incident.dependents.insert(0, old);
    incident.component = root.clone();
    incident.impact = status;
    // The record names the root's own worst impact; joined components keep theirs.
    incident.worst_impact = status;
    incident.title = title;
    let update = post(incident, at, message);
    let mut changed = entry(
        incident,
        at,
        TimelineKind::Joined,
        format!("Probable root cause: {root_name} is {}", state(status)),
    );
    changed.update = Some(update);
    changed
}

/// Closes `other`, whose components failed because of `into`'s root, and moves them into
/// `into`. Returns what each incident gained.
pub fn merge(
    into: &mut Incident,
    other: &mut Incident,
    at: DateTime<Utc>,
    root_name: &str,
) -> (Changed, Changed) {
    let mut moved = vec![Dependent {
        component: other.component.clone(),
        status: other.impact,
        joined_at: other.detected_at,
        recovered_at: None,
        split_into: None,
        by_hand: false,
    }];
    moved.extend(other.affected_dependents().cloned());
    for dependent in moved {
        match into.dependent_mut(&dependent.component) {
            Some(existing) => *existing = dependent,
            None => into.dependents.push(dependent),
        }
    }
    let gained = entry(
        into,
        at,
        TimelineKind::Split,
        format!("Incident #{} merged into this one", other.id),
    );
    other.phase = IncidentPhase::Resolved;
    other.resolved_at = Some(at);
    let update = post(
        other,
        at,
        format!(
            "Merged into incident #{}: the probable root cause is {root_name}.",
            into.id
        ),
    );
    let mut closed = entry(
        other,
        at,
        TimelineKind::Split,
        format!("Merged into incident #{}", into.id),
    );
    closed.update = Some(update);
    (gained, closed)
}

impl Incident {
    /// The worst status among joined components still affected.
    pub fn worst_affected(&self) -> Option<ComponentStatus> {
        self.affected_dependents()
            .map(|dependent| dependent.status)
            .max()
    }
}

fn post(incident: &mut Incident, at: DateTime<Utc>, message: String) -> IncidentUpdate {
    let update = IncidentUpdate {
        at,
        phase: incident.phase,
        message,
        automatic: true,
        expected_by: None,
        next_update_by: None,
        edited_at: None,
    };
    incident.updates.push(update.clone());
    update
}

fn entry(
    incident: &mut Incident,
    at: DateTime<Utc>,
    kind: TimelineKind,
    detail: String,
) -> Changed {
    let entry = TimelineEntry { at, kind, detail };
    incident.timeline.push(entry.clone());
    Changed {
        update: None,
        timeline: vec![entry],
    }
}
