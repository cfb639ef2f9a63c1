//! The per-monitor detection state machine: how many failures confirm an outage, how many
//! successes confirm recovery, and when to re-check early instead of waiting a whole interval.

use crate::status::ProbeStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How a monitor turns raw outcomes into a confirmed health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DetectionPolicy {
    /// Consecutive failed (or degraded) results needed to confirm a problem.
    pub failures_to_confirm: u32,
    /// Consecutive good results needed to confirm recovery.
    pub successes_to_recover: u32,
    /// Delay before the re-check that confirms a change, instead of a whole interval.
    pub confirm_delay: Duration,
}

impl Default for DetectionPolicy {
    fn default() -> Self {
        Self {
            failures_to_confirm: 2,
            successes_to_recover: 2,
            confirm_delay: Duration::from_secs(5),
        }
    }
}

/// A confirmed change of a monitor's health.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: ProbeStatus,
    pub to: ProbeStatus,
    pub at: DateTime<Utc>,
    /// The first failed result of the episode this transition belongs to.
    pub first_failure_at: Option<DateTime<Utc>>,
}

/// What the detector remembers about one monitor; persisted so evaluation resumes after a
/// restart exactly where it stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorHealth {
    /// The confirmed status; a new monitor is presumed up until proven otherwise.
    pub confirmed: ProbeStatus,
    pub since: Option<DateTime<Utc>>,
    /// Consecutive up results.
    pub up_streak: u32,
    /// Consecutive degraded-or-down results.
    pub problem_streak: u32,
    /// The last result and how many times in a row it was seen.
    pub last: Option<ProbeStatus>,
    pub last_streak: u32,
    /// The first not-up result of the current episode, if one is under way.
    pub first_failure_at: Option<DateTime<Utc>>,
}

impl Default for MonitorHealth {
    fn default() -> Self {
        Self {
            confirmed: ProbeStatus::Up,
            since: None,
            up_streak: 0,
            problem_streak: 0,
            last: None,
            last_streak: 0,
            first_failure_at: None,
        }
    }
}

impl MonitorHealth {
    /// Feeds one result in; returns the transition it confirms, if any.
    pub fn observe(
        &mut self,
        status: ProbeStatus,
        at: DateTime<Utc>,
        policy: &DetectionPolicy,
    ) -> Option<Transition> {
        // A check pharos could not run says nothing about the target: it neither counts
        // toward an outage nor toward recovery.
        if status == ProbeStatus::Unknown {
            return None;
        }
        if self.last == Some(status) {
            self.last_streak = self.last_streak.saturating_add(1);
        } else {
            self.last = Some(status);
            self.last_streak = 1;
        }
        if status == ProbeStatus::Up {
            self.up_streak = self.up_streak.saturating_add(1);
            self.problem_streak = 0;
        } else {
            self.problem_streak = self.problem_streak.saturating_add(1);
            self.up_streak = 0;
            if self.first_failure_at.is_none() {
                self.first_failure_at = Some(at);
            }
        }

        let failures_needed = policy.failures_to_confirm.max(1);
        let successes_needed = policy.successes_to_recover.max(1);
        let next = match self.confirmed {
            ProbeStatus::Up if self.problem_streak >= failures_needed => Some(status),
            ProbeStatus::Up => {
                if status == ProbeStatus::Up {
                    // A blip that never confirmed ends its episode.
                    self.first_failure_at = None;
                }
                None
            }
            _ if self.up_streak >= successes_needed => Some(ProbeStatus::Up),
            confirmed
                if status != ProbeStatus::Up
                    && status != confirmed
                    && self.last_streak >= failures_needed =>
            {
                Some(status)
            }
            _ => None,
        };

        let to = next?;
        let transition = Transition {
            from: self.confirmed,
            to,
            at,
            first_failure_at: self.first_failure_at,
        };
        self.confirmed = to;
        self.since = Some(at);
        if to == ProbeStatus::Up {
            self.first_failure_at = None;
        }
        Some(transition)
    }

    /// How long to wait before the next run: the confirm delay while a change is pending
    /// confirmation, the regular interval otherwise.
    pub fn next_delay(&self, interval: Duration, policy: &DetectionPolicy) -> Duration {
        let confirming = match self.confirmed {
            ProbeStatus::Up => {
                self.problem_streak > 0 && self.problem_streak < policy.failures_to_confirm
            }
            _ => self.up_streak > 0 && self.up_streak < policy.successes_to_recover,
        };
        if confirming {
            policy.confirm_delay.min(interval)
        } else {
            interval
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + second, 0).unwrap()
    }

    fn feed(health: &mut MonitorHealth, results: &[(i64, ProbeStatus)]) -> Vec<Transition> {
        let policy = DetectionPolicy::default();
        results
            .iter()
            .filter_map(|&(second, status)| health.observe(status, at(second), &policy))
            .collect()
    }

    use ProbeStatus::{Degraded, Down, Unknown, Up};

    #[test]
    fn checks_pharos_could_not_run_count_neither_toward_an_outage_nor_a_recovery() {
        let mut health = MonitorHealth::default();
        assert!(feed(
            &mut health,
            &[(0, Up), (30, Unknown), (35, Unknown), (40, Unknown)]
        )
        .is_empty());
        assert_eq!(health.confirmed, Up);
        assert_eq!(health.first_failure_at, None);
        // Between two real failures, an unknown neither breaks nor extends the streak.
        let transitions = feed(&mut health, &[(50, Down), (55, Unknown), (60, Down)]);
        assert_eq!(transitions.len(), 1);
        assert_eq!(health.confirmed, Down);
        assert!(feed(&mut health, &[(70, Up), (75, Unknown), (80, Unknown)]).is_empty());
        assert_eq!(health.confirmed, Down, "unknowns do not recover a monitor");
    }

    #[test]
    fn one_failure_does_not_confirm_an_outage() {
        let mut health = MonitorHealth::default();
        assert!(feed(&mut health, &[(0, Up), (30, Down), (35, Up)]).is_empty());
        assert_eq!(health.confirmed, Up);
        assert_eq!(health.first_failure_at, None, "a blip ends its episode");
    }

    #[test]
    fn two_failures_confirm_and_remember_the_first() {
        let mut health = MonitorHealth::default();
        let transitions = feed(&mut health, &[(0, Up), (30, Down), (35, Down)]);
        assert_eq!(
            transitions,
            vec![Transition {
                from: Up,
                to: Down,
                at: at(35),
                first_failure_at: Some(at(30))
            }]
        );
    }

    #[test]
    fn recovery_needs_two_successes_and_closes_the_episode() {
        let mut health = MonitorHealth::default();
        feed(&mut health, &[(30, Down), (35, Down)]);
        assert!(feed(&mut health, &[(65, Up)]).is_empty());
        let transitions = feed(&mut health, &[(70, Up)]);
        assert_eq!(transitions.len(), 1);
        assert_eq!(transitions[0].to, Up);
        assert_eq!(transitions[0].first_failure_at, Some(at(30)));
        assert_eq!(health.first_failure_at, None);
    }

    #[test]
    fn flapping_between_degraded_and_down_still_confirms_a_problem() {
        let mut health = MonitorHealth::default();
        let transitions = feed(&mut health, &[(0, Degraded), (5, Down)]);
        assert_eq!(transitions.len(), 1);
        assert_eq!(transitions[0].to, Down);
    }

    #[test]
    fn a_confirmed_outage_moves_to_degraded_only_when_that_repeats() {
        let mut health = MonitorHealth::default();
        feed(&mut health, &[(0, Down), (5, Down)]);
        assert!(feed(&mut health, &[(10, Degraded)]).is_empty());
        let transitions = feed(&mut health, &[(15, Degraded)]);
        assert_eq!(transitions[0].from, Down);
        assert_eq!(transitions[0].to, Degraded);
    }

    #[test]
    fn the_confirm_delay_applies_only_while_a_change_is_pending() {
        let policy = DetectionPolicy::default();
        let interval = Duration::from_secs(60);
        let mut health = MonitorHealth::default();
        assert_eq!(health.next_delay(interval, &policy), interval);
        feed(&mut health, &[(0, Down)]);
        assert_eq!(health.next_delay(interval, &policy), policy.confirm_delay);
        feed(&mut health, &[(5, Down)]);
        assert_eq!(health.next_delay(interval, &policy), interval);
        feed(&mut health, &[(65, Up)]);
        assert_eq!(health.next_delay(interval, &policy), policy.confirm_delay);
        feed(&mut health, &[(70, Up)]);
        assert_eq!(health.next_delay(interval, &policy), interval);
    }

    #[test]
    fn a_threshold_of_one_confirms_at_once() {
        let policy = DetectionPolicy {
            failures_to_confirm: 1,
            ..DetectionPolicy::default()
        };
        let mut health = MonitorHealth::default();
        assert!(health.observe(Down, at(0), &policy).is_some());
    }
}
