//! The incident lifecycle as pure functions: open, change impact, post an update, remind,
//! resolve. Each changes the incident in place and returns what it added (the update posted,
//! the timeline entries), which the engine writes and announces. No clock, no I/O.

use crate::incident::{Incident, IncidentPhase, IncidentUpdate, TimelineEntry, TimelineKind};
use crate::status::ComponentStatus;
use crate::ComponentId;
use chrono::{DateTime, Utc};

/// What one lifecycle step added to an incident (besides its changed header).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changed {
    pub update: Option<IncidentUpdate>,
    pub timeline: Vec<TimelineEntry>,
}

/// Which check moved a component, and why: the words of the timeline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cause {
    pub monitor_name: String,
    pub reason: Option<String>,
    /// Why the check first failed in this episode, if that differs.
    pub first_failure_reason: Option<String>,
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

/// A new incident, as planned by `plan_incident`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opening {
    pub component: ComponentId,
    pub title: String,
    pub impact: ComponentStatus,
    pub started_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
    pub message: String,
}

/// Opens incident `id`: its first update and its timeline (first failure, detection, update).
pub fn open(id: i64, opening: Opening, component_name: &str, cause: &Cause) -> Incident {
    let Opening {
        component,
        title,
        impact,
        started_at,
        detected_at,
        message,
    } = opening;
    let timeline = vec![
        TimelineEntry {
            at: started_at,
            kind: TimelineKind::FirstFailure,
            detail: cause.first_failure(),
        },
        TimelineEntry {
            at: detected_at,
            kind: TimelineKind::Detected,
            detail: format!(
                "{component_name} confirmed in {}: {}",
                impact.label().to_lowercase(),
                cause.current()
            ),
        },
        TimelineEntry {
            at: detected_at,
            kind: TimelineKind::Update,
            detail: message.clone(),
        },
    ];
    Incident {
        id,
        component,
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
            expected_by: None,
            next_update_by: None,
            edited_at: None,
        }],
        timeline,
        dependents: Vec::new(),
        scope: None,
    }
}

/// The component's impact changed: posts an automatic update; a worse impact than ever
/// before renames the incident (`title`).
pub fn change_impact(
    incident: &mut Incident,
    impact: ComponentStatus,
    title: Option<String>,
    at: DateTime<Utc>,
    message: String,
    cause: Option<&Cause>,
) -> Changed {
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
        expected_by: None,
        next_update_by: None,
        edited_at: None,
    };
    incident.updates.push(update.clone());
    let detail = match cause {
        Some(cause) => format!("{message} {}", cause.current()),
        None => message,
    };
    let entry = TimelineEntry {
        at,
        kind: TimelineKind::ImpactChanged,
        detail,
    };
    incident.timeline.push(entry.clone());
    Changed {
        update: Some(update),
        timeline: vec![entry],
    }
}

/// The impact changed soon after the last update: the incident's header and timeline follow
/// at once, and readers hear of it in one update once the impact has settled (`announce`).
pub fn note_impact(
    incident: &mut Incident,
    impact: ComponentStatus,
    title: Option<String>,
    at: DateTime<Utc>,
    message: String,
    cause: Option<&Cause>,
) -> Changed {
    let mut changed = change_impact(incident, impact, title, at, message, cause);
    incident.updates.pop();
    changed.update = None;
    changed
}

/// Posts the one update for impact changes folded since the last one (`note_impact`).
pub fn announce_impact(incident: &mut Incident, at: DateTime<Utc>, message: String) -> Changed {
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
    Changed {
        update: Some(update),
        timeline: Vec::new(),
    }
}

/// The provider's own word on the service (an incident it admits, or that it says all is
/// well): an automatic update, noted in the timeline.
pub fn note_provider(incident: &mut Incident, at: DateTime<Utc>, message: String) -> Changed {
    let update = IncidentUpdate {
        at,
        phase: incident.phase,
        message: message.clone(),
        automatic: true,
        expected_by: None,
        next_update_by: None,
        edited_at: None,
    };
    incident.updates.push(update.clone());
    let entry = TimelineEntry {
        at,
        kind: TimelineKind::Update,
        detail: message,
    };
    incident.timeline.push(entry.clone());
    Changed {
        update: Some(update),
        timeline: vec![entry],
    }
}

/// Why an operator's update was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateRefused {
    /// Incidents resolve when their component recovers, not by hand.
    ResolveByRecovery,
}

/// An operator posts an update: the incident takes its phase. Returns the update posted, and
/// what it added.
pub fn post_update(
    incident: &mut Incident,
    phase: IncidentPhase,
    message: String,
    at: DateTime<Utc>,
) -> Result<(IncidentUpdate, Changed), UpdateRefused> {
    if phase == IncidentPhase::Resolved {
        return Err(UpdateRefused::ResolveByRecovery);
    }
    incident.phase = phase;
    let update = IncidentUpdate {
        at,
        phase,
        message: message.clone(),
        automatic: false,
        expected_by: None,
        next_update_by: None,
        edited_at: None,
    };
    incident.updates.push(update.clone());
    let entry = TimelineEntry {
        at,
        kind: TimelineKind::Update,
        detail: format!("{}: {message}", phase.label()),
    };
    incident.timeline.push(entry.clone());
    Ok((
        update.clone(),
        Changed {
            update: Some(update),
            timeline: vec![entry],
        },
    ))
}

/// Operators owe readers an update: notes the reminder in the timeline (once per silence,
/// see `Incident::update_overdue`).
pub fn remind(incident: &mut Incident, now: DateTime<Utc>) -> Changed {
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
    Changed {
        update: None,
        timeline: vec![entry],
    }
}

/// The component recovered: resolves the incident with an automatic update, and notes in the
/// timeline how long the outage lasted.
pub fn resolve(
    incident: &mut Incident,
    at: DateTime<Utc>,
    message: String,
    component_name: &str,
) -> Changed {
    let update = close(incident, at, message);
    let entry = TimelineEntry {
        at,
        kind: TimelineKind::Recovered,
        detail: format!(
            "{component_name} operational again; the outage lasted {}",
            describe(incident.time_to_recover())
        ),
    };
    incident.timeline.push(entry.clone());
    Changed {
        update: Some(update),
        timeline: vec![entry],
    }
}

/// The component is no longer configured: its open incident closes.
pub fn close_unmonitored(incident: &mut Incident, now: DateTime<Utc>) -> Changed {
    let message = "This component is no longer monitored; closing the incident.".to_owned();
    let update = close(incident, now, message.clone());
    let entry = TimelineEntry {
        at: now,
        kind: TimelineKind::Recovered,
        detail: message,
    };
    incident.timeline.push(entry.clone());
    Changed {
        update: Some(update),
        timeline: vec![entry],
    }
}

fn close(incident: &mut Incident, at: DateTime<Utc>, message: String) -> IncidentUpdate {
    incident.phase = IncidentPhase::Resolved;
    incident.resolved_at = Some(at);
    let update = IncidentUpdate {
        at,
        phase: IncidentPhase::Resolved,
        message,
        automatic: true,
        expected_by: None,
        next_update_by: None,
        edited_at: None,
    };
    incident.updates.push(update.clone());
    update
}

fn describe(duration: Option<std::time::Duration>) -> String {
    let seconds = duration.unwrap_or_default().as_secs();
    match seconds {
        0..=119 => format!("{seconds} s"),
        120..=7199 => format!("{} min", seconds / 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + second, 0).unwrap()
    }

    fn opened() -> Incident {
        let cause = Cause {
            monitor_name: "Submission".into(),
            reason: Some("connection refused".into()),
            first_failure_reason: Some("timed out".into()),
        };
        open(
            4,
            Opening {
                component: ComponentId::new("mail"),
                title: "Mail: partial outage".into(),
                impact: ComponentStatus::PartialOutage,
                started_at: at(0),
                detected_at: at(6),
                message: "We are investigating.".into(),
            },
            "Mail",
            &cause,
        )
    }

    #[test]
    fn an_incident_lives_from_first_failure_to_recovery() {
        let mut incident = opened();
        let kinds: Vec<_> = incident.timeline.iter().map(|entry| entry.kind).collect();
        assert_eq!(
            kinds,
            [
                TimelineKind::FirstFailure,
                TimelineKind::Detected,
                TimelineKind::Update
            ]
        );
        assert_eq!(
            incident.timeline[0].detail,
            "First failed check: Submission: timed out"
        );

        let changed = change_impact(
            &mut incident,
            ComponentStatus::MajorOutage,
            Some("Mail: major outage".into()),
            at(20),
            "Mail is now in major outage.".into(),
            None,
        );
        assert_eq!(changed.timeline[0].kind, TimelineKind::ImpactChanged);
        assert_eq!(incident.worst_impact, ComponentStatus::MajorOutage);

        let refused = post_update(
            &mut incident,
            IncidentPhase::Resolved,
            "done".into(),
            at(30),
        );
        assert_eq!(refused, Err(UpdateRefused::ResolveByRecovery));
        let (posted, _) = post_update(
            &mut incident,
            IncidentPhase::Identified,
            "A relay.".into(),
            at(30),
        )
        .unwrap();
        assert!(!posted.automatic);
        assert_eq!(incident.phase, IncidentPhase::Identified);

        let reminded = remind(&mut incident, at(30 + 45 * 60));
        assert_eq!(
            reminded.timeline[0].detail,
            "No update for 45 min: readers are waiting for news."
        );

        let resolved = resolve(&mut incident, at(3600), "Back.".into(), "Mail");
        assert_eq!(incident.resolved_at, Some(at(3600)));
        assert_eq!(
            resolved.timeline[0].detail,
            "Mail operational again; the outage lasted 60 min"
        );
        assert_eq!(
            incident.worst_impact,
            ComponentStatus::MajorOutage,
            "the record keeps the worst"
        );
    }
}
