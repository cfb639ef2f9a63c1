//! Root causes across dependent components: which failing dependency a failing component
//! joins, when it waits for its dependencies' verdict first, which younger incidents a new
//! root adopts, and the words that explain it to readers. Pure: no clock, no I/O.

use crate::status::ComponentStatus;
use chrono::{DateTime, Duration, Utc};

/// Components' dependencies by position, direct and transitive.
#[derive(Clone, Debug, Default)]
pub struct Dependencies {
    transitive: Vec<Vec<usize>>,
}

impl Dependencies {
    /// From each component's direct dependencies (positions; the configuration is acyclic,
    /// and a cycle here would only be walked once).
    pub fn new(direct: Vec<Vec<usize>>) -> Self {
        let transitive = (0..direct.len())
            .map(|start| {
                let mut seen = vec![false; direct.len()];
                let mut order = Vec::new();
                let mut stack = direct[start].clone();
                while let Some(next) = stack.pop() {
                    if next == start || std::mem::replace(&mut seen[next], true) {
                        continue;
                    }
                    order.push(next);
                    stack.extend(direct[next].iter().copied());
                }
                order.sort_unstable();
                order
            })
            .collect();
        Self { transitive }
    }

    /// Every component `component` needs, directly or not.
    pub fn of(&self, component: usize) -> &[usize] {
        self.transitive.get(component).map_or(&[], Vec::as_slice)
    }

    pub fn depends_on(&self, component: usize, dependency: usize) -> bool {
        self.of(component).binary_search(&dependency).is_ok()
    }
}

/// How a dependency stands when a component that needs it fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It affects users and its incident is open: the failure is probably its doing.
    Failing,
    /// Not known yet: a failure awaits confirmation, or no check has run since the dependent
    /// began failing.
    Suspect,
    /// Checked since, and fine.
    Clear,
}

/// Where a component's new failure goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Into the incident of this failing dependency (the deepest one failing).
    Join(usize),
    /// Nowhere yet: a dependency's verdict is pending and the correlation window is open.
    Wait,
    /// Its own incident.
    Open,
}

/// Places the failure of `component`, failing since `since`, at `now`.
pub fn place(
    dependencies: &Dependencies,
    component: usize,
    verdict: impl Fn(usize) -> Verdict,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    window: Duration,
) -> Placement {
    let needed = dependencies.of(component);
    let verdicts: Vec<(usize, Verdict)> = needed.iter().map(|&d| (d, verdict(d))).collect();
    let failing: Vec<usize> = verdicts
        .iter()
        .filter(|(_, verdict)| *verdict == Verdict::Failing)
        .map(|(d, _)| *d)
        .collect();
    // The deepest failing dependency: one that needs no other failing component.
    let deepest = failing.iter().copied().find(|&candidate| {
        !dependencies
            .of(candidate)
            .iter()
            .any(|below| failing.contains(below))
    });
    if let Some(root) = deepest {
        return Placement::Join(root);
    }
    let pending = verdicts
        .iter()
        .any(|(_, verdict)| *verdict == Verdict::Suspect);
    if pending && now - since < window {
        Placement::Wait
    } else {
        Placement::Open
    }
}

/// The open incidents a component opening its own incident at `now` takes over: those whose
/// root needs it and that were detected at most `window` before. `incidents` gives each open
/// incident's root and detection time; the answer is the roots, earliest detection first.
pub fn adoptable(
    dependencies: &Dependencies,
    component: usize,
    incidents: impl IntoIterator<Item = (usize, DateTime<Utc>)>,
    now: DateTime<Utc>,
    window: Duration,
) -> Vec<usize> {
    let mut found: Vec<(DateTime<Utc>, usize)> = incidents
        .into_iter()
        .filter(|&(root, detected)| {
            dependencies.depends_on(root, component) && now - detected <= window
        })
        .map(|(root, detected)| (detected, root))
        .collect();
    found.sort();
    found.into_iter().map(|(_, root)| root).collect()
}

/// "Mail delivery and Mailbox access are affected because Mail store is down."
pub fn explain(root: &str, root_status: ComponentStatus, affected: &[&str]) -> String {
    let verb = if affected.len() == 1 { "is" } else { "are" };
    format!(
        "{} {verb} affected because {root} is {}.",
        list(affected),
        state(root_status)
    )
}

/// "Network is operating normally again; Mailbox access is still affected."
pub fn explain_recovered_root(root: &str, affected: &[&str]) -> String {
    let verb = if affected.len() == 1 { "is" } else { "are" };
    format!(
        "{root} is operating normally again; {} {verb} still affected.",
        list(affected)
    )
}

/// Why an incident's joined components are (or were) affected, in a sentence; `None` when
/// none is. `root_status` is the root's status now; `name_of` names components.
pub fn describe<'a>(
    incident: &'a crate::Incident,
    root: &str,
    root_status: ComponentStatus,
    name_of: impl Fn(&'a crate::ComponentId) -> &'a str,
) -> Option<String> {
    if incident.is_declared() {
        // An operator named the components: no cause is implied.
        let named: Vec<String> = incident
            .dependents
            .iter()
            .filter(|dependent| dependent.split_into.is_none())
            .filter(|dependent| !incident.is_open() || dependent.is_affected())
            .map(|dependent| match incident.is_open() {
                true => format!(
                    "{} ({})",
                    name_of(&dependent.component),
                    dependent.status.label().to_lowercase()
                ),
                false => name_of(&dependent.component).to_owned(),
            })
            .collect();
        if named.is_empty() {
            return None;
        }
        let named: Vec<&str> = named.iter().map(String::as_str).collect();
        return Some(format!("Also affected: {}.", list(&named)));
    }
    if incident.is_open() {
        let affected: Vec<&str> = incident
            .affected_dependents()
            .map(|dependent| name_of(&dependent.component))
            .collect();
        if affected.is_empty() {
            return None;
        }
        return Some(if root_status.is_incident() {
            explain(root, root_status, &affected)
        } else {
            explain_recovered_root(root, &affected)
        });
    }
    let joined: Vec<&str> = incident
        .dependents
        .iter()
        .filter(|dependent| dependent.split_into.is_none())
        .map(|dependent| name_of(&dependent.component))
        .collect();
    if joined.is_empty() {
        return None;
    }
    let verb = if joined.len() == 1 { "was" } else { "were" };
    Some(format!(
        "{} {verb} affected because {root} failed.",
        list(&joined)
    ))
}

/// How a failing component reads in a sentence.
pub fn state(status: ComponentStatus) -> &'static str {
    match status {
        ComponentStatus::MajorOutage => "down",
        ComponentStatus::PartialOutage => "partly down",
        ComponentStatus::DegradedPerformance => "degraded",
        ComponentStatus::UnderMaintenance => "under maintenance",
        ComponentStatus::Operational => "operational",
    }
}

/// "A", "A and B", "A, B and C".
pub fn list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + second, 0).unwrap()
    }

    const NETWORK: usize = 0;
    const SMTP: usize = 1;
    const IMAP: usize = 2;
    const MAILFLOW: usize = 3;
    const WEBMAIL: usize = 4;

    /// network → {smtp, imap} → mailflow; webmail → imap.
    fn tree() -> Dependencies {
        Dependencies::new(vec![
            vec![],
            vec![NETWORK],
            vec![NETWORK],
            vec![SMTP, IMAP],
            vec![IMAP],
        ])
    }

    fn window() -> Duration {
        Duration::seconds(60)
    }

    #[test]
    fn dependencies_are_followed_through() {
        let tree = tree();
        assert_eq!(tree.of(MAILFLOW), [NETWORK, SMTP, IMAP]);
        assert!(tree.depends_on(WEBMAIL, NETWORK));
        assert!(!tree.depends_on(NETWORK, WEBMAIL));
        assert!(!tree.depends_on(SMTP, IMAP));
    }

    #[test]
    fn a_dependent_joins_the_deepest_failing_dependency() {
        let tree = tree();
        let failing = |d| {
            if [NETWORK, SMTP, IMAP].contains(&d) {
                Verdict::Failing
            } else {
                Verdict::Clear
            }
        };
        assert_eq!(
            place(&tree, MAILFLOW, failing, at(0), at(1), window()),
            Placement::Join(NETWORK)
        );
        let only_imap = |d| {
            if d == IMAP {
                Verdict::Failing
            } else {
                Verdict::Clear
            }
        };
        assert_eq!(
            place(&tree, MAILFLOW, only_imap, at(0), at(1), window()),
            Placement::Join(IMAP)
        );
    }

    #[test]
    fn a_dependent_failing_before_its_root_waits_within_the_window_only() {
        let tree = tree();
        let suspect = |d| {
            if d == NETWORK {
                Verdict::Suspect
            } else {
                Verdict::Clear
            }
        };
        assert_eq!(
            place(&tree, SMTP, suspect, at(0), at(20), window()),
            Placement::Wait
        );
        assert_eq!(
            place(&tree, SMTP, suspect, at(0), at(60), window()),
            Placement::Open,
            "a dependency that never makes up its mind does not hold the incident back"
        );
        assert_eq!(
            place(&tree, SMTP, |_| Verdict::Clear, at(0), at(1), window()),
            Placement::Open,
            "healthy dependencies: its own incident, at once"
        );
        assert_eq!(
            place(&tree, NETWORK, |_| Verdict::Suspect, at(0), at(1), window()),
            Placement::Open,
            "a component without dependencies never waits"
        );
    }

    #[test]
    fn a_new_root_adopts_young_incidents_of_its_dependents_only() {
        let tree = tree();
        let open = [(SMTP, at(10)), (WEBMAIL, at(-100)), (IMAP, at(5))];
        assert_eq!(
            adoptable(&tree, NETWORK, open, at(30), window()),
            [IMAP, SMTP],
            "earliest first; webmail's incident is older than the window"
        );
        assert!(adoptable(&tree, SMTP, open, at(30), window()).is_empty());
    }

    #[test]
    fn explanations_read_as_sentences() {
        assert_eq!(
            explain(
                "Mail store",
                ComponentStatus::MajorOutage,
                &["Mail delivery", "Mailbox access"]
            ),
            "Mail delivery and Mailbox access are affected because Mail store is down."
        );
        assert_eq!(
            explain("Network", ComponentStatus::PartialOutage, &["A", "B", "C"]),
            "A, B and C are affected because Network is partly down."
        );
        assert_eq!(
            explain_recovered_root("Network", &["Mailbox access"]),
            "Network is operating normally again; Mailbox access is still affected."
        );
    }
}
