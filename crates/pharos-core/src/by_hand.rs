//! The steps operators take by hand: open an incident the checks do not see, post an update
//! with the expected recovery and next update times, resolve, reopen, retitle. Pure, like the
//! rest of the lifecycle: each changes the incident and returns what it added.

use crate::incident::{
    Dependent, Incident, IncidentPhase, IncidentUpdate, TimelineEntry, TimelineKind,
};
use crate::lifecycle::Changed;
use crate::status::ComponentStatus;
use crate::ComponentId;
use chrono::{DateTime, Utc};

/// What an operator writes in an update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorUpdate {
    pub phase: IncidentPhase,
    pub message: String,
    /// When they expect the service back.
    pub expected_by: Option<DateTime<Utc>>,
    /// When readers hear more at the latest.
    pub next_update_by: Option<DateTime<Utc>>,
}

/// An incident an operator opens by hand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declaration {
    pub component: ComponentId,
    /// Other components it takes, each at its own impact.
    pub also: Vec<(ComponentId, ComponentStatus)>,
    pub title: String,
    pub impact: ComponentStatus,
    pub update: OperatorUpdate,
    /// Who opens it (a user's name), for the timeline.
    pub by: String,
}

/// Why an operator's step was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// `resolved` is posted with `resolve`, not as an update.
    ResolveWithResolve,
    /// A declared incident needs an impact that is an outage or worse than operational.
    NoImpact,
    /// The incident is already resolved (or still open, for `reopen`).
    WrongState(&'static str),
    /// The expected times must lie after the update.
    TimeInThePast(&'static str),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::ResolveWithResolve => f.write_str("to resolve an incident, resolve it; an update is investigating, identified or monitoring"),
            Refused::NoImpact => f.write_str("an incident needs an impact: degraded_performance, partial_outage or major_outage"),
            Refused::WrongState(state) => write!(f, "the incident is {state}"),
            Refused::TimeInThePast(which) => write!(f, "`{which}` must be later than now"),
        }
    }
}

fn check_times(update: &OperatorUpdate, at: DateTime<Utc>) -> Result<(), Refused> {
    if update.phase == IncidentPhase::Resolved {
        return Err(Refused::ResolveWithResolve);
    }
    if update.expected_by.is_some_and(|by| by <= at) {
        return Err(Refused::TimeInThePast("expected_by"));
    }
    if update.next_update_by.is_some_and(|by| by <= at) {
        return Err(Refused::TimeInThePast("next_update_by"));
    }
    Ok(())
}

fn posted(update: OperatorUpdate, at: DateTime<Utc>) -> IncidentUpdate {
    IncidentUpdate {
        at,
        phase: update.phase,
        message: update.message,
        automatic: false,
        expected_by: update.expected_by,
        next_update_by: update.next_update_by,
        edited_at: None,
    }
}

fn update_entry(update: &IncidentUpdate) -> TimelineEntry {
    TimelineEntry {
        at: update.at,
        kind: TimelineKind::Update,
        detail: format!("{}: {}", update.phase.label(), update.message),
    }
}

/// Opens incident `id` by hand at `at`.
pub fn declare(id: i64, declaration: Declaration, at: DateTime<Utc>) -> Result<Incident, Refused> {
    check_times(&declaration.update, at)?;
    if !declaration.impact.is_incident()
        || declaration
            .also
            .iter()
            .any(|(_, impact)| !impact.is_incident())
    {
        return Err(Refused::NoImpact);
    }
    let update = posted(declaration.update, at);
    let timeline = vec![
        TimelineEntry {
            at,
            kind: TimelineKind::Declared,
            detail: format!("Opened by {}", declaration.by),
        },
        update_entry(&update),
    ];
    Ok(Incident {
        id,
        component: declaration.component,
        title: declaration.title,
        phase: update.phase,
        impact: declaration.impact,
        worst_impact: declaration.impact,
        started_at: at,
        detected_at: at,
        resolved_at: None,
        updates: vec![update],
        timeline,
        dependents: declaration
            .also
            .into_iter()
            .map(|(component, status)| Dependent {
                component,
                status,
                joined_at: at,
                recovered_at: None,
                split_into: None,
                by_hand: true,
            })
            .collect(),
        scope: None,
    })
}

/// The other components an operator declared affected are no longer, once the incident
/// closes (those that joined because their checks failed follow their own checks).
fn release_declared(incident: &mut Incident, at: DateTime<Utc>) {
    if !incident.is_declared() {
        return;
    }
    for dependent in incident.dependents.iter_mut() {
        if dependent.by_hand && dependent.is_affected() {
            dependent.recovered_at = Some(at);
        }
    }
}

/// An operator sets another component's impact in a declared incident: it joins at that
/// impact, takes a new one, or (at `Operational`) is no longer affected. `name` is the
/// component's, for the timeline; nothing is added when nothing changes.
pub fn set_affected(
    incident: &mut Incident,
    component: &ComponentId,
    name: &str,
    status: ComponentStatus,
    at: DateTime<Utc>,
) -> Changed {
    let entry = match incident.dependent_mut(component) {
        Some(dependent) if !status.is_incident() => {
            if !dependent.is_affected() {
                return Changed::default();
            }
            dependent.recovered_at = Some(at);
            (
                TimelineKind::DependentRecovered,
                format!("{name} is no longer affected"),
            )
        }
        Some(dependent) => {
            if dependent.is_affected() && dependent.status == status {
                return Changed::default();
            }
            let was = dependent
                .is_affected()
                .then(|| dependent.status.label().to_lowercase());
            dependent.status = status;
            dependent.recovered_at = None;
            dependent.split_into = None;
            dependent.by_hand = true;
            let now = status.label().to_lowercase();
            match was {
                Some(was) => (
                    TimelineKind::ImpactChanged,
                    format!("{name}: {was} → {now}"),
                ),
                None => (TimelineKind::Joined, format!("{name} is affected: {now}")),
            }
        }
        None if !status.is_incident() => return Changed::default(),
        None => {
            incident.dependents.push(Dependent {
                component: component.clone(),
                status,
                joined_at: at,
                recovered_at: None,
                split_into: None,
                by_hand: true,
            });
            (
                TimelineKind::Joined,
                format!("{name} is affected: {}", status.label().to_lowercase()),
            )
        }
    };
    let entry = TimelineEntry {
        at,
        kind: entry.0,
        detail: entry.1,
    };
    incident.timeline.push(entry.clone());
    Changed {
        update: None,
        timeline: vec![entry],
    }
}

/// Posts an operator's update with its times; the incident takes its phase.
pub fn update(
    incident: &mut Incident,
    update: OperatorUpdate,
    at: DateTime<Utc>,
) -> Result<(IncidentUpdate, Changed), Refused> {
    if !incident.is_open() {
        return Err(Refused::WrongState("resolved"));
    }
    check_times(&update, at)?;
    incident.phase = update.phase;
    let update = posted(update, at);
    incident.updates.push(update.clone());
    let entry = update_entry(&update);
    incident.timeline.push(entry.clone());
    Ok((
        update.clone(),
        Changed {
            update: Some(update),
            timeline: vec![entry],
        },
    ))
}

/// Changes a declared incident's impact (an operator's call, with their update).
pub fn set_impact(incident: &mut Incident, impact: ComponentStatus) -> Result<(), Refused> {
    if !impact.is_incident() {
        return Err(Refused::NoImpact);
    }
    incident.impact = impact;
    incident.worst_impact = incident.worst_impact.max(impact);
    Ok(())
}

/// An operator gives the incident a title of their own; pharos no longer renames it.
pub fn retitle(incident: &mut Incident, title: String, by: &str, at: DateTime<Utc>) -> Changed {
    incident.title = title.clone();
    let entry = TimelineEntry {
        at,
        kind: TimelineKind::Retitled,
        detail: format!("Titled by {by}: {title}"),
    };
    incident.timeline.push(entry.clone());
    Changed {
        update: None,
        timeline: vec![entry],
    }
}

/// An operator corrects the words of the update posted at `posted_at` (`Some`), or deletes it
/// (`None`; the first update stays, since it opened the incident). Returns the update as it was.
pub fn edit_update(
    incident: &mut Incident,
    posted_at: DateTime<Utc>,
    message: Option<String>,
    at: DateTime<Utc>,
) -> Result<IncidentUpdate, Refused> {
    let index = incident
        .updates
        .iter()
        // To the millisecond, as the store keeps times.
        .position(|update| update.at.timestamp_millis() == posted_at.timestamp_millis())
        .ok_or(Refused::WrongState("without an update at that time"))?;
    let before = incident.updates[index].clone();
    match message {
        Some(message) => {
            let update = &mut incident.updates[index];
            update.message = message;
            update.edited_at = Some(at);
        }
        None if index == 0 => {
            return Err(Refused::WrongState(
                "opened by its first update, which stays",
            ))
        }
        None => {
            incident.updates.remove(index);
        }
    }
    Ok(before)
}

/// An operator marks the incident a false alarm (the checks were wrong, not the service): it
/// closes if open and is hidden from readers; the timeline keeps why and who.
pub fn mark_false_alarm(
    incident: &mut Incident,
    reason: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Changed, Refused> {
    if incident.is_false_alarm() {
        return Err(Refused::WrongState("a false alarm already"));
    }
    if incident.is_open() {
        incident.phase = IncidentPhase::Resolved;
        incident.resolved_at = Some(at);
        release_declared(incident, at);
    }
    let entry = TimelineEntry {
        at,
        kind: TimelineKind::FalseAlarm,
        detail: format!("Marked a false alarm by {by}: {reason}"),
    };
    incident.timeline.push(entry.clone());
    Ok(Changed {
        update: None,
        timeline: vec![entry],
    })
}

/// An operator resolves the incident with their message.
pub fn resolve(
    incident: &mut Incident,
    message: String,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Changed, Refused> {
    if !incident.is_open() {
        return Err(Refused::WrongState("resolved already"));
    }
    incident.phase = IncidentPhase::Resolved;
    incident.resolved_at = Some(at);
    release_declared(incident, at);
    let update = IncidentUpdate {
        at,
        phase: IncidentPhase::Resolved,
        message,
        automatic: false,
        expected_by: None,
        next_update_by: None,
        edited_at: None,
    };
    incident.updates.push(update.clone());
    let entries = vec![
        TimelineEntry {
            at,
            kind: TimelineKind::Closed,
            detail: format!("Resolved by {by}"),
        },
        update_entry(&update),
    ];
    incident.timeline.extend(entries.iter().cloned());
    Ok(Changed {
        update: Some(update),
        timeline: entries,
    })
}

/// An operator reopens a resolved incident with an update (the problem is back, or was not
/// gone).
pub fn reopen(
    incident: &mut Incident,
    update: OperatorUpdate,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Changed, Refused> {
    if incident.is_open() {
        return Err(Refused::WrongState("open"));
    }
    check_times(&update, at)?;
    incident.resolved_at = None;
    incident.phase = update.phase;
    let update = posted(update, at);
    incident.updates.push(update.clone());
    let entries = vec![
        TimelineEntry {
            at,
            kind: TimelineKind::Reopened,
            detail: format!("Reopened by {by}"),
        },
        update_entry(&update),
    ];
    incident.timeline.extend(entries.iter().cloned());
    Ok(Changed {
        update: Some(update),
        timeline: entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + minute * 60, 0).unwrap()
    }

    fn words(phase: IncidentPhase, message: &str) -> OperatorUpdate {
        OperatorUpdate {
            phase,
            message: message.into(),
            expected_by: None,
            next_update_by: None,
        }
    }

    fn declared() -> Incident {
        declare(
            7,
            Declaration {
                also: Vec::new(),
                component: ComponentId::new("mail"),
                title: "Mail delays for some customers".into(),
                impact: ComponentStatus::PartialOutage,
                update: OperatorUpdate {
                    next_update_by: Some(at(30)),
                    ..words(IncidentPhase::Investigating, "We are looking into delays.")
                },
                by: "ada".into(),
            },
            at(0),
        )
        .unwrap()
    }

    #[test]
    fn other_components_join_change_leave_and_are_released_at_the_end() {
        let mut incident = declared();
        let imap = ComponentId::new("imap");
        let changed = set_affected(
            &mut incident,
            &imap,
            "IMAP",
            ComponentStatus::DegradedPerformance,
            at(5),
        );
        assert_eq!(
            changed.timeline[0].detail,
            "IMAP is affected: degraded performance"
        );
        assert!(incident.dependents[0].by_hand && incident.dependents[0].is_affected());
        assert!(
            set_affected(
                &mut incident,
                &imap,
                "IMAP",
                ComponentStatus::DegradedPerformance,
                at(6)
            )
            .timeline
            .is_empty(),
            "nothing changed"
        );
        let changed = set_affected(
            &mut incident,
            &imap,
            "IMAP",
            ComponentStatus::MajorOutage,
            at(7),
        );
        assert_eq!(
            changed.timeline[0].detail,
            "IMAP: degraded performance → major outage"
        );
        let changed = set_affected(
            &mut incident,
            &imap,
            "IMAP",
            ComponentStatus::Operational,
            at(8),
        );
        assert_eq!(changed.timeline[0].kind, TimelineKind::DependentRecovered);
        assert!(!incident.dependents[0].is_affected());
        assert!(
            set_affected(
                &mut incident,
                &ComponentId::new("dns"),
                "DNS",
                ComponentStatus::Operational,
                at(9)
            )
            .timeline
            .is_empty(),
            "releasing one never named does nothing"
        );
        set_affected(
            &mut incident,
            &imap,
            "IMAP",
            ComponentStatus::PartialOutage,
            at(10),
        );
        assert_eq!(incident.dependents.len(), 1, "named again, not twice");
        assert!(
            crate::root_cause::describe(&incident, "Mail", incident.impact, |id| {
                if id.as_str() == "imap" {
                    "IMAP"
                } else {
                    "?"
                }
            }) == Some("Also affected: IMAP (partial outage).".into()),
            "no cause is implied"
        );
        resolve(&mut incident, "Fixed.".into(), "ada", at(20)).unwrap();
        assert_eq!(incident.dependents[0].recovered_at, Some(at(20)));
        let bad = declare(
            8,
            Declaration {
                also: vec![(imap, ComponentStatus::Operational)],
                component: ComponentId::new("mail"),
                title: "x".into(),
                impact: ComponentStatus::PartialOutage,
                update: words(IncidentPhase::Investigating, "x"),
                by: "ada".into(),
            },
            at(0),
        );
        assert_eq!(bad, Err(Refused::NoImpact), "a component named is affected");
    }

    #[test]
    fn a_declared_incident_is_the_operators_with_their_words_and_times() {
        let incident = declared();
        assert!(incident.is_declared() && incident.is_open());
        assert!(!incident.updates[0].automatic);
        assert_eq!(incident.timeline[0].detail, "Opened by ada");
        assert_eq!(incident.promised_times(), (None, Some(at(30))));
        assert!(!incident.update_overdue(at(29), std::time::Duration::from_secs(3600)));
        assert!(
            incident.update_overdue(at(30), std::time::Duration::from_secs(3600)),
            "the promised time, not the hour"
        );
    }

    #[test]
    fn times_must_lie_ahead_and_resolved_is_its_own_step() {
        let mut incident = declared();
        let late = OperatorUpdate {
            expected_by: Some(at(5)),
            ..words(IncidentPhase::Identified, "Found it.")
        };
        assert_eq!(
            update(&mut incident, late, at(6)).unwrap_err(),
            Refused::TimeInThePast("expected_by")
        );
        assert_eq!(
            update(&mut incident, words(IncidentPhase::Resolved, "done"), at(6)).unwrap_err(),
            Refused::ResolveWithResolve
        );
        let identified = OperatorUpdate {
            expected_by: Some(at(60)),
            ..words(IncidentPhase::Identified, "A full disk; clearing it.")
        };
        update(&mut incident, identified, at(10)).unwrap();
        // A later update without times keeps the promised recovery, and the old next-update
        // promise (at 30) still stands.
        update(
            &mut incident,
            words(IncidentPhase::Monitoring, "Cleared."),
            at(20),
        )
        .unwrap();
        assert_eq!(incident.promised_times(), (Some(at(60)), Some(at(30))));
        assert_eq!(incident.phase, IncidentPhase::Monitoring);
    }

    #[test]
    fn resolve_and_reopen_by_hand_are_in_the_timeline() {
        let mut incident = declared();
        resolve(&mut incident, "All mail delivered.".into(), "ada", at(40)).unwrap();
        assert_eq!(
            (incident.phase, incident.resolved_at),
            (IncidentPhase::Resolved, Some(at(40)))
        );
        assert_eq!(incident.promised_times(), (None, None));
        assert!(resolve(&mut incident, "again".into(), "ada", at(41)).is_err());
        reopen(
            &mut incident,
            words(IncidentPhase::Investigating, "Delays are back."),
            "bob",
            at(50),
        )
        .unwrap();
        assert!(incident.is_open());
        let kinds: Vec<_> = incident.timeline.iter().map(|entry| entry.kind).collect();
        assert_eq!(
            kinds,
            [
                TimelineKind::Declared,
                TimelineKind::Update,
                TimelineKind::Closed,
                TimelineKind::Update,
                TimelineKind::Reopened,
                TimelineKind::Update
            ]
        );
    }

    #[test]
    fn an_update_is_corrected_or_deleted_but_the_first_stays() {
        let mut incident = declared();
        update(
            &mut incident,
            words(IncidentPhase::Identified, "A dsik."),
            at(5),
        )
        .unwrap();
        update(
            &mut incident,
            words(IncidentPhase::Identified, "Twice."),
            at(6),
        )
        .unwrap();
        let before = edit_update(&mut incident, at(5), Some("A disk.".into()), at(7)).unwrap();
        assert_eq!(before.message, "A dsik.");
        assert_eq!(
            (
                incident.updates[1].message.as_str(),
                incident.updates[1].edited_at
            ),
            ("A disk.", Some(at(7)))
        );
        edit_update(&mut incident, at(6), None, at(8)).unwrap();
        assert_eq!(incident.updates.len(), 2);
        assert!(
            edit_update(&mut incident, at(0), None, at(9)).is_err(),
            "the first stays"
        );
        assert!(edit_update(&mut incident, at(42), Some("x".into()), at(9)).is_err());
    }

    #[test]
    fn an_incident_needs_an_impact() {
        let mut incident = declared();
        assert_eq!(
            set_impact(&mut incident, ComponentStatus::Operational),
            Err(Refused::NoImpact)
        );
        set_impact(&mut incident, ComponentStatus::MajorOutage).unwrap();
        set_impact(&mut incident, ComponentStatus::DegradedPerformance).unwrap();
        assert_eq!(
            (incident.impact, incident.worst_impact),
            (
                ComponentStatus::DegradedPerformance,
                ComponentStatus::MajorOutage
            )
        );
    }
}
