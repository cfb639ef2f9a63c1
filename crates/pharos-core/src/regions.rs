//! Regions: a monitor checked from several places, each place confirming what it sees on its
//! own, and a quorum that decides when the monitor as a whole is down. The verdict also says
//! how far a problem reaches (its scope: one region, some, or all of them).
//!
//! Each region keeps its own detector (`MonitorHealth`), so one region's blip confirms
//! nothing anywhere. A region that cannot say anything (its agent is silent, or its last check
//! could not run) does not vote. Problems seen by fewer regions than the quorum asks for are
//! real but partial: the monitor is degraded, not down.

use crate::detect::{DetectionPolicy, MonitorHealth, Transition};
use crate::status::ProbeStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The name the server's own region has unless the configuration says otherwise.
pub const HOME_REGION: &str = "local";

/// How many regions must see a monitor down before it is down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Quorum {
    /// One region is enough.
    Any,
    /// Every region that can see.
    All,
    /// More than half of the regions that can see.
    #[default]
    Majority,
    /// At least this many regions.
    AtLeast(u32),
}

impl Quorum {
    /// Parses `any`, `all`, `majority`; a number is written as an integer, not here.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "any" => Some(Quorum::Any),
            "all" => Some(Quorum::All),
            "majority" => Some(Quorum::Majority),
            _ => None,
        }
    }

    /// Whether `failing` of `voters` regions is enough.
    pub fn met(self, failing: usize, voters: usize) -> bool {
        if failing == 0 || voters == 0 {
            return false;
        }
        match self {
            Quorum::Any => true,
            Quorum::All => failing >= voters,
            Quorum::Majority => failing * 2 > voters,
            Quorum::AtLeast(count) => failing >= count as usize,
        }
    }
}

impl fmt::Display for Quorum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Quorum::Any => f.write_str("any"),
            Quorum::All => f.write_str("all"),
            Quorum::Majority => f.write_str("majority"),
            Quorum::AtLeast(count) => write!(f, "at least {count}"),
        }
    }
}

/// How far a problem reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// Seen from one region only.
    Localized,
    /// Seen from some regions.
    Regional,
    /// Seen from every region that can see.
    Widespread,
}

impl Reach {
    pub fn as_str(self) -> &'static str {
        match self {
            Reach::Localized => "localized",
            Reach::Regional => "regional",
            Reach::Widespread => "widespread",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Reach::Localized => "Localized",
            Reach::Regional => "Regional",
            Reach::Widespread => "Widespread",
        }
    }
}

/// Which regions see a problem, out of which.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub reach: Reach,
    /// The regions that see the problem, in configuration order.
    pub regions: Vec<String>,
    /// How many regions could see at all (those that vote).
    pub of: usize,
}

impl Scope {
    /// The scope of a problem seen by `failing` of the `voting` regions; `None` unless at
    /// least one region fails and more than one region checks at all.
    pub fn of(failing: Vec<String>, voting: usize, configured: usize) -> Option<Self> {
        if failing.is_empty() || configured < 2 {
            return None;
        }
        let reach = if failing.len() >= voting && voting >= 2 {
            Reach::Widespread
        } else if failing.len() == 1 {
            Reach::Localized
        } else {
            Reach::Regional
        };
        Some(Self {
            reach,
            of: voting.max(failing.len()),
            regions: failing,
        })
    }

    /// "eu-west", "eu-west and us-east", "eu-west, us-east and ap-south".
    pub fn region_list(&self) -> String {
        match self.regions.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        }
    }

    /// One sentence for readers: who may be affected.
    pub fn sentence(&self, component: &str) -> String {
        match self.reach {
            Reach::Widespread => format!(
                "The problem is widespread: {component} fails from every region we check from ({}).",
                self.region_list()
            ),
            Reach::Localized => format!(
                "The problem is localized: users in {} may be unable to use {component}; other regions are not affected.",
                self.region_list()
            ),
            Reach::Regional => format!(
                "The problem is regional: users in {} may be unable to use {component} ({} of {} regions).",
                self.region_list(),
                self.regions.len(),
                self.of
            ),
        }
    }
}

/// What one region currently says about a monitor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionState {
    /// The region's own detector.
    pub health: MonitorHealth,
    /// The time of the newest result the detector took; older ones arriving late are kept in
    /// history but not fed to it.
    #[serde(default)]
    pub last_at: Option<DateTime<Utc>>,
    /// Whether the newest result was one pharos could not run (the region cannot see).
    #[serde(default)]
    pub blind: bool,
}

impl RegionState {
    /// Feeds one result of this region in; a result no newer than the last one taken is
    /// ignored (a late or repeated delivery). Returns whether it was taken.
    pub fn observe(
        &mut self,
        status: ProbeStatus,
        at: DateTime<Utc>,
        policy: &DetectionPolicy,
    ) -> bool {
        if self.last_at.is_some_and(|last| at <= last) {
            return false;
        }
        self.last_at = Some(at);
        self.blind = status == ProbeStatus::Unknown;
        self.health.observe(status, at, policy);
        true
    }

    /// What this region votes, if it can: its confirmed status.
    pub fn vote(&self, silent: bool) -> Option<ProbeStatus> {
        (!silent && !self.blind && self.last_at.is_some()).then_some(self.health.confirmed)
    }
}

/// The monitor's status by quorum, and the scope of its problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// `Unknown` when no region can vote.
    pub status: ProbeStatus,
    pub scope: Option<Scope>,
    /// The earliest first failure among the regions that see a problem.
    pub first_failure_at: Option<DateTime<Utc>>,
    /// Whether some region sees the monitor down (below the quorum: a partial outage).
    pub down_somewhere: bool,
}

/// Combines the regions' votes (by configuration order, with their names) under `quorum`.
pub fn combine<'a>(
    quorum: Quorum,
    votes: impl IntoIterator<Item = (&'a str, Option<ProbeStatus>, Option<DateTime<Utc>>)>,
) -> Verdict {
    let mut configured = 0usize;
    let mut voters = 0usize;
    let mut down = 0usize;
    let mut failing = Vec::new();
    let mut first_failure_at: Option<DateTime<Utc>> = None;
    for (region, vote, first_failure) in votes {
        configured += 1;
        let Some(status) = vote else { continue };
        voters += 1;
        match status {
            ProbeStatus::Down | ProbeStatus::Degraded => {
                if status == ProbeStatus::Down {
                    down += 1;
                }
                failing.push(region.to_owned());
                if let Some(first) = first_failure {
                    first_failure_at =
                        Some(first_failure_at.map_or(first, |known| known.min(first)));
                }
            }
            ProbeStatus::Up | ProbeStatus::Unknown => {}
        }
    }
    let problems = failing.len();
    let status = if voters == 0 {
        ProbeStatus::Unknown
    } else if quorum.met(down, voters) {
        ProbeStatus::Down
    } else if problems > 0 {
        // Below the quorum, or degraded rather than down: real, but partial.
        ProbeStatus::Degraded
    } else {
        ProbeStatus::Up
    };
    Verdict {
        status,
        scope: Scope::of(failing, voters, configured),
        first_failure_at,
        down_somewhere: down > 0,
    }
}

/// Moves a monitor's combined health to a regional verdict; returns the transition, if the
/// verdict changes what is confirmed. An `Unknown` verdict (nobody can see) changes nothing.
pub fn settle_combined(
    combined: &mut MonitorHealth,
    verdict: &Verdict,
    at: DateTime<Utc>,
) -> Option<Transition> {
    let any_problem = verdict.scope.is_some() || verdict.status != ProbeStatus::Up;
    if verdict.status == ProbeStatus::Unknown {
        return None;
    }
    if any_problem {
        combined.problem_streak = combined.problem_streak.max(1);
        combined.up_streak = 0;
        if combined.first_failure_at.is_none() {
            combined.first_failure_at = verdict.first_failure_at.or(Some(at));
        }
    } else {
        combined.problem_streak = 0;
        combined.up_streak = combined.up_streak.saturating_add(1);
    }
    combined.last = Some(verdict.status);
    if verdict.status == combined.confirmed {
        if verdict.status == ProbeStatus::Up {
            combined.first_failure_at = None;
        }
        return None;
    }
    let transition = Transition {
        from: combined.confirmed,
        to: verdict.status,
        at,
        first_failure_at: combined.first_failure_at,
    };
    combined.confirmed = verdict.status;
    combined.since = Some(at);
    if verdict.status == ProbeStatus::Up {
        combined.first_failure_at = None;
    }
    Some(transition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use ProbeStatus::{Degraded, Down, Unknown, Up};

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + second, 0).unwrap()
    }

    const REGIONS: [&str; 3] = ["eu-west", "us-east", "ap-south"];

    /// Three regions under one quorum, fed results like the evaluator does.
    struct Monitor {
        quorum: Quorum,
        regions: Vec<RegionState>,
        silent: Vec<bool>,
        combined: MonitorHealth,
    }

    impl Monitor {
        fn new(quorum: Quorum) -> Self {
            Self {
                quorum,
                regions: vec![RegionState::default(); 3],
                silent: vec![false; 3],
                combined: MonitorHealth::default(),
            }
        }

        fn verdict(&self) -> Verdict {
            combine(
                self.quorum,
                self.regions.iter().enumerate().map(|(index, state)| {
                    (
                        REGIONS[index],
                        state.vote(self.silent[index]),
                        state.health.first_failure_at,
                    )
                }),
            )
        }

        fn feed(&mut self, second: i64, region: usize, status: ProbeStatus) -> Option<Transition> {
            self.regions[region].observe(status, at(second), &DetectionPolicy::default());
            let verdict = self.verdict();
            settle_combined(&mut self.combined, &verdict, at(second))
        }

        /// Every region reports `status` twice, five seconds apart.
        fn all(&mut self, second: i64, status: ProbeStatus) -> Vec<Transition> {
            let mut transitions = Vec::new();
            for offset in [0, 5] {
                for region in 0..3 {
                    transitions.extend(self.feed(second + offset, region, status));
                }
            }
            transitions
        }
    }

    #[test]
    fn quorums_count_only_the_regions_that_can_see() {
        assert!(Quorum::Majority.met(2, 3));
        assert!(!Quorum::Majority.met(1, 3));
        assert!(Quorum::Majority.met(1, 1));
        assert!(!Quorum::Majority.met(1, 2));
        assert!(Quorum::Any.met(1, 3));
        assert!(!Quorum::All.met(2, 3));
        assert!(Quorum::All.met(2, 2));
        assert!(Quorum::AtLeast(2).met(2, 5));
        assert!(!Quorum::AtLeast(2).met(1, 1));
        assert!(!Quorum::Any.met(0, 3));
        assert!(!Quorum::Any.met(0, 0));
    }

    #[test]
    fn one_region_failing_is_a_localized_partial_problem_under_the_majority() {
        let mut monitor = Monitor::new(Quorum::Majority);
        monitor.all(0, Up);
        assert!(
            monitor.feed(30, 0, Down).is_none(),
            "one failure confirms nothing"
        );
        let transition = monitor.feed(35, 0, Down).expect("the region confirms");
        assert_eq!(transition.to, Degraded, "below the quorum: partial");
        assert!(monitor.verdict().down_somewhere);
        assert_eq!(transition.first_failure_at, Some(at(30)));
        let scope = monitor.verdict().scope.unwrap();
        assert_eq!(scope.reach, Reach::Localized);
        assert_eq!(scope.regions, vec!["eu-west"]);
        assert_eq!(scope.of, 3);
        assert!(scope.sentence("Mail").contains("users in eu-west"));
    }

    #[test]
    fn a_second_region_makes_it_down_and_all_three_widespread() {
        let mut monitor = Monitor::new(Quorum::Majority);
        monitor.all(0, Up);
        monitor.feed(30, 0, Down);
        monitor.feed(35, 0, Down);
        monitor.feed(31, 1, Down);
        let transition = monitor.feed(36, 1, Down).expect("two of three");
        assert_eq!((transition.from, transition.to), (Degraded, Down));
        assert_eq!(transition.first_failure_at, Some(at(30)));
        let scope = monitor.verdict().scope.unwrap();
        assert_eq!(scope.reach, Reach::Regional);
        assert_eq!(scope.region_list(), "eu-west and us-east");
        monitor.feed(32, 2, Down);
        assert!(monitor.feed(37, 2, Down).is_none(), "already down");
        let scope = monitor.verdict().scope.unwrap();
        assert_eq!(scope.reach, Reach::Widespread);
        assert_eq!(scope.region_list(), "eu-west, us-east and ap-south");
    }

    #[test]
    fn recovery_follows_the_regions_and_ends_the_episode() {
        let mut monitor = Monitor::new(Quorum::Majority);
        monitor.all(0, Down);
        assert_eq!(monitor.combined.confirmed, Down);
        let transitions = monitor.all(60, Up);
        assert_eq!(
            transitions.len(),
            2,
            "down → degraded → up as regions recover"
        );
        assert_eq!(transitions.last().unwrap().to, Up);
        assert_eq!(monitor.combined.first_failure_at, None);
        assert_eq!(monitor.verdict().scope, None);
    }

    #[test]
    fn flapping_in_one_region_confirms_nothing() {
        let mut monitor = Monitor::new(Quorum::Any);
        monitor.all(0, Up);
        for second in (30..300).step_by(10) {
            let status = if second % 20 == 10 { Down } else { Up };
            assert!(monitor.feed(second, 0, status).is_none());
        }
        assert_eq!(monitor.combined.confirmed, Up);
    }

    #[test]
    fn late_and_repeated_results_are_not_fed_to_the_detector() {
        let mut monitor = Monitor::new(Quorum::Any);
        monitor.all(0, Up);
        monitor.feed(30, 0, Down);
        // The same result delivered again, and an older one arriving late: neither confirms.
        assert!(monitor.feed(30, 0, Down).is_none());
        assert!(monitor.feed(20, 0, Down).is_none());
        assert_eq!(monitor.regions[0].health.problem_streak, 1);
        assert!(monitor.feed(35, 0, Down).is_some());
    }

    #[test]
    fn silent_and_blind_regions_do_not_vote() {
        let mut monitor = Monitor::new(Quorum::Majority);
        monitor.all(0, Up);
        monitor.silent[1] = true;
        // One of the two regions that can see fails: not a majority of two.
        monitor.feed(30, 0, Down);
        assert_eq!(monitor.feed(35, 0, Down).unwrap().to, Degraded);
        // The third region's checks cannot run: one of one voter now fails.
        monitor.feed(36, 2, Unknown);
        let verdict = monitor.verdict();
        assert_eq!(verdict.status, Down);
        assert_eq!(verdict.scope.unwrap().of, 1);
        // Nobody can see: nothing changes.
        monitor.silent[0] = true;
        let verdict = monitor.verdict();
        assert_eq!(verdict.status, Unknown);
        assert!(settle_combined(&mut monitor.combined, &verdict, at(40)).is_none());
    }

    #[test]
    fn a_region_joining_a_problem_can_change_its_reach_without_a_transition() {
        let mut monitor = Monitor::new(Quorum::All);
        monitor.all(0, Up);
        monitor.feed(30, 0, Down);
        monitor.feed(35, 0, Down);
        monitor.feed(31, 1, Down);
        assert!(
            monitor.feed(36, 1, Down).is_none(),
            "still degraded under `all`"
        );
        assert_eq!(monitor.verdict().scope.unwrap().reach, Reach::Regional);
    }

    #[test]
    fn a_single_region_has_no_scope() {
        let verdict = combine(Quorum::Majority, [("local", Some(Down), Some(at(0)))]);
        assert_eq!(verdict.status, Down);
        assert_eq!(verdict.scope, None);
    }
}
