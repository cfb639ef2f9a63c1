//! Incidents: what they hold, and the pure decision of when one opens, changes and resolves as
//! a component's status moves.

use crate::ids::ComponentId;
use crate::status::ComponentStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Where an incident stands, as shown to readers of the status page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentPhase {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl IncidentPhase {
    pub const ALL: [IncidentPhase; 4] = [
        IncidentPhase::Investigating,
        IncidentPhase::Identified,
        IncidentPhase::Monitoring,
        IncidentPhase::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentPhase::Investigating => "investigating",
            IncidentPhase::Identified => "identified",
            IncidentPhase::Monitoring => "monitoring",
            IncidentPhase::Resolved => "resolved",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            IncidentPhase::Investigating => "Investigating",
            IncidentPhase::Identified => "Identified",
            IncidentPhase::Monitoring => "Monitoring",
            IncidentPhase::Resolved => "Resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|phase| phase.as_str() == text)
    }
}

/// A message posted on an incident, automatically or by an operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentUpdate {
    pub at: DateTime<Utc>,
    pub phase: IncidentPhase,
    pub message: String,
    pub automatic: bool,
    /// When the operator expects the service back, if they said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_by: Option<DateTime<Utc>>,
    /// When readers will hear more at the latest, if the operator said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_update_by: Option<DateTime<Utc>>,
    /// When an operator last corrected its words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    FirstFailure,
    Detected,
    Update,
    ImpactChanged,
    Recovered,
    /// Operators were reminded that readers have had no update for too long.
    UpdateOverdue,
    /// A component failing because of this incident's root cause joined it.
    Joined,
    /// A joined component recovered.
    DependentRecovered,
    /// A component was split out of (or into) this incident, or another incident merged in.
    Split,
    /// An operator opened the incident by hand.
    Declared,
    /// An operator resolved the incident by hand.
    Closed,
    /// An operator reopened a resolved incident.
    Reopened,
    /// An operator gave the incident its title.
    Retitled,
    /// An operator marked the incident a false alarm: hidden from readers from then on.
    FalseAlarm,
}

impl TimelineKind {
    pub const ALL: [TimelineKind; 14] = [
        TimelineKind::FirstFailure,
        TimelineKind::Detected,
        TimelineKind::Update,
        TimelineKind::ImpactChanged,
        TimelineKind::Recovered,
        TimelineKind::UpdateOverdue,
        TimelineKind::Joined,
        TimelineKind::DependentRecovered,
        TimelineKind::Split,
        TimelineKind::Declared,
        TimelineKind::Closed,
        TimelineKind::Reopened,
        TimelineKind::Retitled,
        TimelineKind::FalseAlarm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TimelineKind::FirstFailure => "first_failure",
            TimelineKind::Detected => "detected",
            TimelineKind::Update => "update",
            TimelineKind::ImpactChanged => "impact_changed",
            TimelineKind::Recovered => "recovered",
            TimelineKind::UpdateOverdue => "update_overdue",
            TimelineKind::Joined => "joined",
            TimelineKind::DependentRecovered => "dependent_recovered",
            TimelineKind::Split => "split",
            TimelineKind::Declared => "declared",
            TimelineKind::Closed => "closed",
            TimelineKind::Reopened => "reopened",
            TimelineKind::Retitled => "retitled",
            TimelineKind::FalseAlarm => "false_alarm",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// One line of an incident's timeline, the raw material of a postmortem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub kind: TimelineKind,
    pub detail: String,
}

/// A component that failed because of an incident's root cause, and joined its incident
/// instead of opening its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependent {
    pub component: ComponentId,
    /// Its status now (the last one before recovery once it has recovered).
    pub status: ComponentStatus,
    pub joined_at: DateTime<Utc>,
    pub recovered_at: Option<DateTime<Utc>>,
    /// The incident it was split into, when it went on failing after the root recovered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_into: Option<i64>,
    /// An operator named it affected (and holds it at `status`); otherwise it joined because
    /// its checks failed with the root's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_hand: bool,
}

impl Dependent {
    pub fn is_affected(&self) -> bool {
        self.recovered_at.is_none() && self.split_into.is_none()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: i64,
    /// The component whose failure the incident is about: the probable root cause when
    /// others joined it.
    pub component: ComponentId,
    pub title: String,
    pub phase: IncidentPhase,
    /// The impact now.
    pub impact: ComponentStatus,
    /// The worst impact so far: what the title and the incident's record in history say.
    pub worst_impact: ComponentStatus,
    /// The first failed probe of the episode.
    pub started_at: DateTime<Utc>,
    /// When the outage was confirmed and the incident opened.
    pub detected_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub updates: Vec<IncidentUpdate>,
    pub timeline: Vec<TimelineEntry>,
    /// Components that failed because of this incident's root cause, in the order they
    /// joined.
    #[serde(default)]
    pub dependents: Vec<Dependent>,
    /// How far the problem reaches, when the component is checked from several regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<crate::regions::Scope>,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }

    /// The joined components still affected.
    pub fn affected_dependents(&self) -> impl Iterator<Item = &Dependent> {
        self.dependents
            .iter()
            .filter(|dependent| dependent.is_affected())
    }

    pub fn dependent_mut(&mut self, component: &ComponentId) -> Option<&mut Dependent> {
        self.dependents
            .iter_mut()
            .find(|dependent| &dependent.component == component)
    }

    /// Whether readers are owed an update at `now`: the incident is open, the next update the
    /// last one promised is due (or, without a promise, the last is older than `every`), and
    /// no reminder was given since that update.
    pub fn update_overdue(&self, now: DateTime<Utc>, every: Duration) -> bool {
        let Some(last) = self.updates.iter().max_by_key(|update| update.at) else {
            return false;
        };
        let reminded = self
            .timeline
            .iter()
            .any(|entry| entry.kind == TimelineKind::UpdateOverdue && entry.at >= last.at);
        let every = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX);
        let due = last.next_update_by.unwrap_or_else(|| {
            last.at
                .checked_add_signed(every)
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        });
        self.is_open() && !reminded && now >= due
    }

    /// Whether an operator opened (or reopened) it by hand: then only an operator resolves
    /// it, and the checks do not change its impact or words.
    pub fn is_declared(&self) -> bool {
        self.timeline
            .iter()
            .any(|entry| matches!(entry.kind, TimelineKind::Declared | TimelineKind::Reopened))
    }

    /// The promised times in words for notifications and feeds: "Expected back by
    /// 2026-12-06 14:00 UTC; next update by 2026-12-06 13:30 UTC." (None without any).
    pub fn promise_sentence(&self) -> Option<String> {
        let format = |at: DateTime<Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
        match self.promised_times() {
            (None, None) => None,
            (Some(back), None) => Some(format!("Expected back by {}.", format(back))),
            (None, Some(next)) => Some(format!("Next update by {}.", format(next))),
            (Some(back), Some(next)) => Some(format!(
                "Expected back by {}; next update by {}.",
                format(back),
                format(next)
            )),
        }
    }

    /// Whether an operator marked it a false alarm (readers no longer see it).
    pub fn is_false_alarm(&self) -> bool {
        self.timeline
            .iter()
            .any(|entry| entry.kind == TimelineKind::FalseAlarm)
    }

    /// Whether an operator gave it its title (pharos then keeps it).
    pub fn is_retitled(&self) -> bool {
        self.timeline
            .iter()
            .any(|entry| entry.kind == TimelineKind::Retitled)
    }

    /// The latest word on when the service is expected back and when the next update comes,
    /// from the newest update that said so (an update without them takes nothing back).
    pub fn promised_times(&self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let latest = |pick: fn(&IncidentUpdate) -> Option<DateTime<Utc>>| {
            self.updates.iter().rev().find_map(pick)
        };
        if !self.is_open() {
            return (None, None);
        }
        (
            latest(|update| update.expected_by),
            latest(|update| update.next_update_by),
        )
    }

    pub fn time_to_detect(&self) -> Duration {
        (self.detected_at - self.started_at)
            .to_std()
            .unwrap_or_default()
    }

    pub fn time_to_recover(&self) -> Option<Duration> {
        self.resolved_at
            .map(|resolved| (resolved - self.started_at).to_std().unwrap_or_default())
    }
}

/// Messages used for automatic updates; `{component}` is replaced by the component's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentTemplates {
    pub title: String,
    pub investigating: String,
    pub resolved: String,
}

impl Default for IncidentTemplates {
    fn default() -> Self {
        Self {
            title: "{component}: {status}".to_owned(),
            investigating: "We are investigating problems with {component}.".to_owned(),
            resolved: "{component} is operating normally again.".to_owned(),
        }
    }
}

impl IncidentTemplates {
    pub const PLACEHOLDERS: [&'static str; 2] = ["{component}", "{status}"];

    pub fn fill(template: &str, component: &str, status: ComponentStatus) -> String {
        template
            .replace("{component}", component)
            .replace("{status}", &status.label().to_lowercase())
    }
}

/// What the incident engine should do after a component's status changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncidentAction {
    Open(crate::lifecycle::Opening),
    ChangeImpact {
        incident_id: i64,
        impact: ComponentStatus,
        /// The new title, when the impact is worse than any before: the title names the
        /// worst impact.
        title: Option<String>,
        at: DateTime<Utc>,
        message: String,
    },
    Resolve {
        incident_id: i64,
        at: DateTime<Utc>,
        message: String,
    },
}

/// A component status change, as the incident engine sees it.
#[derive(Clone, Debug)]
pub struct ComponentChange<'a> {
    pub component: &'a ComponentId,
    pub component_name: &'a str,
    pub to: ComponentStatus,
    pub at: DateTime<Utc>,
    pub first_failure_at: Option<DateTime<Utc>>,
}

/// Decides what a component status change does to incidents: open one when the component
/// starts affecting users, note a change of impact, resolve it on recovery.
pub fn plan_incident(
    change: &ComponentChange<'_>,
    open_incident: Option<&Incident>,
    templates: &IncidentTemplates,
) -> Option<IncidentAction> {
    let name = change.component_name;
    match (open_incident, change.to.is_incident()) {
        (None, true) => Some(IncidentAction::Open(crate::lifecycle::Opening {
            component: change.component.clone(),
            title: IncidentTemplates::fill(&templates.title, name, change.to),
            impact: change.to,
            started_at: change.first_failure_at.unwrap_or(change.at).min(change.at),
            detected_at: change.at,
            message: IncidentTemplates::fill(&templates.investigating, name, change.to),
        })),
        (Some(incident), true) if incident.impact != change.to => {
            Some(IncidentAction::ChangeImpact {
                incident_id: incident.id,
                impact: change.to,
                title: (change.to > incident.worst_impact)
                    .then(|| IncidentTemplates::fill(&templates.title, name, change.to)),
                at: change.at,
                message: format!("{name} is now in {}.", change.to.label().to_lowercase()),
            })
        }
        (Some(incident), false) => Some(IncidentAction::Resolve {
            incident_id: incident.id,
            at: change.at,
            message: IncidentTemplates::fill(&templates.resolved, name, change.to),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + second, 0).unwrap()
    }

    fn incident(impact: ComponentStatus) -> Incident {
        Incident {
            id: 7,
            component: ComponentId::new("smtp"),
            title: "t".into(),
            phase: IncidentPhase::Investigating,
            impact,
            worst_impact: impact,
            started_at: at(0),
            detected_at: at(5),
            resolved_at: None,
            updates: vec![],
            timeline: vec![],
            dependents: vec![],
            scope: None,
        }
    }

    fn change(to: ComponentStatus) -> ComponentChange<'static> {
        static ID: std::sync::OnceLock<ComponentId> = std::sync::OnceLock::new();
        ComponentChange {
            component: ID.get_or_init(|| ComponentId::new("smtp")),
            component_name: "Mail submission",
            to,
            at: at(10),
            first_failure_at: Some(at(3)),
        }
    }

    #[test]
    fn an_outage_opens_an_incident_from_the_template() {
        let action = plan_incident(
            &change(ComponentStatus::MajorOutage),
            None,
            &IncidentTemplates::default(),
        );
        let Some(IncidentAction::Open(crate::lifecycle::Opening {
            title,
            message,
            started_at,
            detected_at,
            ..
        })) = action
        else {
            panic!("expected an opened incident, got {action:?}");
        };
        assert_eq!(title, "Mail submission: major outage");
        assert_eq!(
            message,
            "We are investigating problems with Mail submission."
        );
        assert_eq!((started_at, detected_at), (at(3), at(10)));
    }

    #[test]
    fn recovery_resolves_the_open_incident() {
        let open = incident(ComponentStatus::MajorOutage);
        let action = plan_incident(
            &change(ComponentStatus::Operational),
            Some(&open),
            &IncidentTemplates::default(),
        );
        assert!(matches!(
            action,
            Some(IncidentAction::Resolve { incident_id: 7, .. })
        ));
    }

    #[test]
    fn a_worse_status_changes_the_impact_but_opens_nothing_new() {
        let open = incident(ComponentStatus::PartialOutage);
        let action = plan_incident(
            &change(ComponentStatus::MajorOutage),
            Some(&open),
            &IncidentTemplates::default(),
        );
        assert!(matches!(
            action,
            Some(IncidentAction::ChangeImpact {
                incident_id: 7,
                impact: ComponentStatus::MajorOutage,
                ..
            })
        ));
        let same = plan_incident(
            &change(ComponentStatus::PartialOutage),
            Some(&open),
            &IncidentTemplates::default(),
        );
        assert_eq!(same, None);
    }

    #[test]
    fn an_update_is_overdue_once_per_silence() {
        let mut open = incident(ComponentStatus::MajorOutage);
        let every = Duration::from_secs(30 * 60);
        assert!(
            !open.update_overdue(at(100), every),
            "no update at all is not a silence to measure"
        );
        open.updates.push(IncidentUpdate {
            at: at(5),
            phase: IncidentPhase::Investigating,
            message: "m".into(),
            automatic: true,
            expected_by: None,
            next_update_by: None,
            edited_at: None,
        });
        assert!(!open.update_overdue(at(5 + 29 * 60), every));
        assert!(open.update_overdue(at(5 + 30 * 60), every));
        open.timeline.push(TimelineEntry {
            at: at(5 + 30 * 60),
            kind: TimelineKind::UpdateOverdue,
            detail: String::new(),
        });
        assert!(
            !open.update_overdue(at(5 + 50 * 60), every),
            "one reminder per silence"
        );
        open.updates.push(IncidentUpdate {
            at: at(5 + 55 * 60),
            phase: IncidentPhase::Identified,
            message: "m".into(),
            automatic: false,
            expected_by: None,
            next_update_by: None,
            edited_at: None,
        });
        assert!(
            open.update_overdue(at(5 + 85 * 60), every),
            "a new update starts a new silence"
        );
        open.resolved_at = Some(at(5 + 86 * 60));
        assert!(!open.update_overdue(at(5 + 200 * 60), every));
    }

    #[test]
    fn maintenance_opens_no_incident() {
        assert_eq!(
            plan_incident(
                &change(ComponentStatus::UnderMaintenance),
                None,
                &IncidentTemplates::default()
            ),
            None
        );
    }
}
