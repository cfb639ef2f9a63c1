//! An incident's postmortem as Markdown: what happened when (first failed check, detection,
//! acknowledgement, each update, recovery), how long it took to detect, acknowledge and
//! recover, and what the operators wrote after. Pure: the incident and their words in, text out.

use crate::incident::{Incident, TimelineKind};
use chrono::{DateTime, Utc};
use std::time::Duration;

impl Incident {
    /// When an operator first spoke: the first update not posted by pharos itself.
    pub fn acknowledged_at(&self) -> Option<DateTime<Utc>> {
        self.updates
            .iter()
            .filter(|update| !update.automatic)
            .map(|update| update.at)
            .min()
    }

    /// From the first failed check to the first operator update.
    pub fn time_to_acknowledge(&self) -> Option<Duration> {
        self.acknowledged_at()
            .map(|at| (at - self.started_at).to_std().unwrap_or_default())
    }
}

/// "1 h 5 min", "3 min 20 s", "40 s".
pub fn span(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0..=59 => format!("{seconds} s"),
        60..=3_599 if seconds.is_multiple_of(60) => format!("{} min", seconds / 60),
        60..=3_599 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ if seconds % 3_600 / 60 == 0 => format!("{} h", seconds / 3_600),
        _ => format!("{} h {} min", seconds / 3_600, seconds % 3_600 / 60),
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Markdown's special characters in text that is not meant as Markdown (a title, a check's
/// reason) are escaped, so that the export shows it as it was.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_{}[]<>()#+-.!|~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The postmortem document of `incident` (its component's name given), with the operators'
/// own text (Markdown, kept as written) when there is one.
pub fn markdown(incident: &Incident, component_name: &str, written: Option<&str>) -> String {
    let mut out = format!("# Incident {}: {}\n\n", incident.id, plain(&incident.title));
    let facts = [
        ("Component", plain(component_name)),
        ("Worst impact", incident.worst_impact.label().to_owned()),
        ("First failed check", time(incident.started_at)),
        ("Detected", time(incident.detected_at)),
        (
            "Acknowledged",
            incident
                .acknowledged_at()
                .map_or_else(|| "no operator update".to_owned(), time),
        ),
        (
            "Resolved",
            incident
                .resolved_at
                .map_or_else(|| "not yet".to_owned(), time),
        ),
        ("Time to detect", span(incident.time_to_detect())),
        (
            "Time to acknowledge",
            incident
                .time_to_acknowledge()
                .map_or_else(|| "—".to_owned(), span),
        ),
        (
            "Time to recover",
            incident
                .time_to_recover()
                .map_or_else(|| "—".to_owned(), span),
        ),
    ];
    for (label, value) in facts {
        out.push_str(&format!("- **{label}:** {value}\n"));
    }
    out.push_str("\n## Timeline\n\n");
    for entry in incident
        .timeline
        .iter()
        .filter(|entry| entry.kind != TimelineKind::UpdateOverdue)
    {
        out.push_str(&format!(
            "- {} — {}\n",
            time(entry.at),
            plain(&entry.detail)
        ));
    }
    out.push_str("\n## Updates\n\n");
    for update in &incident.updates {
        let edited = update
            .edited_at
            .map_or(String::new(), |at| format!(", edited {}", time(at)));
        let by = if update.automatic {
            "pharos"
        } else {
            "operator"
        };
        out.push_str(&format!(
            "### {} — {} ({by}{edited})\n\n{}\n\n",
            time(update.at),
            update.phase.label(),
            update.message.trim()
        ));
    }
    out.push_str("## Postmortem\n\n");
    match written.map(str::trim).filter(|text| !text.is_empty()) {
        Some(text) => {
            out.push_str(text);
            out.push('\n');
        }
        None => out.push_str("Not written yet.\n"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{IncidentPhase, IncidentUpdate, TimelineEntry};
    use crate::{ComponentId, ComponentStatus};
    use chrono::TimeZone;

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + second, 0).unwrap()
    }

    fn update(second: i64, phase: IncidentPhase, message: &str, automatic: bool) -> IncidentUpdate {
        IncidentUpdate {
            at: at(second),
            phase,
            message: message.into(),
            automatic,
            expected_by: None,
            next_update_by: None,
            edited_at: None,
        }
    }

    #[test]
    fn the_export_has_the_times_the_timeline_the_updates_and_the_text() {
        let incident = Incident {
            id: 7,
            component: ComponentId::new("smtp"),
            title: "SMTP: major outage [eu]".into(),
            phase: IncidentPhase::Resolved,
            impact: ComponentStatus::MajorOutage,
            worst_impact: ComponentStatus::MajorOutage,
            started_at: at(0),
            detected_at: at(12),
            resolved_at: Some(at(3_900)),
            updates: vec![
                update(
                    12,
                    IncidentPhase::Investigating,
                    "We are investigating.",
                    true,
                ),
                update(300, IncidentPhase::Identified, "A **full** disk.", false),
                update(3_900, IncidentPhase::Resolved, "Back.", true),
            ],
            timeline: vec![
                TimelineEntry {
                    at: at(0),
                    kind: TimelineKind::FirstFailure,
                    detail: "First failed check: SMTP: refused".into(),
                },
                TimelineEntry {
                    at: at(1_800),
                    kind: TimelineKind::UpdateOverdue,
                    detail: "No update for 30 min".into(),
                },
            ],
            dependents: Vec::new(),
            scope: None,
        };
        let text = markdown(
            &incident,
            "Mail submission",
            Some("We now alert on disk space."),
        );
        for line in [
            "# Incident 7: SMTP: major outage \\[eu\\]",
            "- **Time to detect:** 12 s",
            "- **Time to acknowledge:** 5 min",
            "- **Time to recover:** 1 h 5 min",
            "- **Acknowledged:** 2027-01-15 08:05:00 UTC",
            "First failed check: SMTP: refused",
            "A **full** disk.",
            "## Postmortem\n\nWe now alert on disk space.",
        ] {
            assert!(text.contains(line), "{line:?} in:\n{text}");
        }
        assert!(
            !text.contains("No update for 30 min"),
            "reminders are for operators"
        );
        assert!(markdown(&incident, "x", None).ends_with("Not written yet.\n"));
    }
}
