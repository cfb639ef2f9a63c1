//! Probe agents as the engine follows them: how far each agent's results are taken (so a
//! batch delivered twice is taken once), which agent was last heard from in each region and
//! when, and which monitors each region is asked to check at once.

use chrono::{DateTime, Utc};
use pharos_store::AgentRecord;
use pharos_wire::AgentResult;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use tokio::time::Instant;

/// A region none of whose agents has reported for this long is silent: it does not vote.
pub(crate) const SILENT_AFTER: Duration = Duration::from_secs(20);

/// The last report of one agent.
struct Heard {
    region: usize,
    at: Instant,
    wall: DateTime<Utc>,
}

pub(crate) struct Agents {
    /// The highest sequence number taken from each agent, with the time its token was made
    /// (a new token for the same name starts its numbers again).
    last_seq: HashMap<String, (DateTime<Utc>, u64)>,
    heard: HashMap<String, Heard>,
    /// When the engine started: a region never heard from is silent this long after.
    started: Instant,
    /// Per region, the monitors to check at once.
    rechecks: Vec<BTreeSet<usize>>,
}

impl Agents {
    pub(crate) fn new(records: &[AgentRecord], regions: usize, started: Instant) -> Self {
        Self {
            last_seq: records
                .iter()
                .map(|record| (record.name.clone(), (record.created_at, record.last_seq)))
                .collect(),
            heard: HashMap::new(),
            started,
            rechecks: vec![BTreeSet::new(); regions],
        }
    }

    /// The results not taken before, in sequence order, and the highest sequence number
    /// taken from this agent once they are.
    pub(crate) fn accept(
        &mut self,
        agent: &str,
        token_made: DateTime<Utc>,
        mut results: Vec<AgentResult>,
    ) -> (Vec<AgentResult>, u64) {
        let known = self
            .last_seq
            .entry(agent.to_owned())
            .or_insert((token_made, 0));
        if known.0 != token_made {
            *known = (token_made, 0);
        }
        let last = &mut known.1;
        results.sort_by_key(|result| result.seq);
        results.retain(|result| result.seq > *last);
        results.dedup_by_key(|result| result.seq);
        if let Some(newest) = results.last() {
            *last = newest.seq;
        }
        (results, *last)
    }

    pub(crate) fn heard(&mut self, agent: &str, region: usize, now: Instant, wall: DateTime<Utc>) {
        self.heard.insert(
            agent.to_owned(),
            Heard {
                region,
                at: now,
                wall,
            },
        );
    }

    /// Takes back what a report's failed commit took (the store refused it, or the replica
    /// lost its lease): the agent sends those results again, and they must not be taken for
    /// ones already stored.
    pub(crate) fn rewind(&mut self, agent: &str, token_made: DateTime<Utc>, to: u64) {
        if let Some(known) = self.last_seq.get_mut(agent) {
            if known.0 == token_made && known.1 > to {
                known.1 = to;
            }
        }
    }

    /// The highest number taken from `agent` (under the token made at `token_made`).
    pub(crate) fn taken(&self, agent: &str, token_made: DateTime<Utc>) -> u64 {
        self.last_seq
            .get(agent)
            .filter(|known| known.0 == token_made)
            .map_or(0, |known| known.1)
    }

    /// Asks `region` to check `monitor` at once (told at its agent's next report).
    pub(crate) fn ask(&mut self, region: usize, monitor: usize) {
        if let Some(set) = self.rechecks.get_mut(region) {
            set.insert(monitor);
        }
    }

    pub(crate) fn take_rechecks(&mut self, region: usize) -> Vec<usize> {
        self.rechecks
            .get_mut(region)
            .map(|set| std::mem::take(set).into_iter().collect())
            .unwrap_or_default()
    }

    /// Whether no agent of `region` has reported within `SILENT_AFTER` of `now` (a region
    /// never heard from counts from the engine's start).
    pub(crate) fn is_silent(&self, region: usize, now: Instant) -> bool {
        let last = self
            .heard
            .values()
            .filter(|heard| heard.region == region)
            .map(|heard| heard.at)
            .max()
            .unwrap_or(self.started);
        now.saturating_duration_since(last) > SILENT_AFTER
    }

    /// The agent last heard from in `region`, and when.
    pub(crate) fn last_heard(&self, region: usize) -> Option<(String, DateTime<Utc>)> {
        self.heard
            .iter()
            .filter(|(_, heard)| heard.region == region)
            .max_by_key(|(_, heard)| heard.at)
            .map(|(agent, heard)| (agent.clone(), heard.wall))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use pharos_core::Outcome;

    fn result(seq: u64) -> AgentResult {
        let at = Utc.timestamp_opt(1_800_000_000 + seq as i64, 0).unwrap();
        AgentResult {
            seq,
            monitor: "web".into(),
            at,
            started_at: at,
            outcome: Outcome::up(Duration::from_millis(3), Vec::new()),
        }
    }

    fn made(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + second, 0).unwrap()
    }

    #[test]
    fn a_batch_delivered_twice_is_taken_once() {
        let mut agents = Agents::new(&[], 2, Instant::now());
        let token = made(0);
        let (taken, acked) = agents.accept("paris", token, vec![result(1), result(2), result(3)]);
        assert_eq!((taken.len(), acked), (3, 3));
        let (taken, acked) = agents.accept("paris", token, vec![result(2), result(3), result(4)]);
        assert_eq!(taken.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![4]);
        assert_eq!(acked, 4);
        let (taken, acked) = agents.accept("paris", token, vec![result(6), result(5), result(5)]);
        assert_eq!(taken.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![5, 6]);
        assert_eq!(acked, 6);
        let (taken, acked) = agents.accept("lyon", token, vec![result(1)]);
        assert_eq!((taken.len(), acked), (1, 1), "numbers are per agent");
        // A report whose commit failed is taken back: sent again, it is taken again.
        agents.rewind("paris", token, 4);
        let (taken, acked) = agents.accept("paris", token, vec![result(5), result(6)]);
        assert_eq!((taken.len(), acked), (2, 6));
        let (taken, acked) = agents.accept("paris", made(9), vec![result(1)]);
        assert_eq!((taken.len(), acked), (1, 1), "a new token starts again");
    }

    #[test]
    fn numbers_stored_before_a_restart_are_not_taken_again() {
        let record = AgentRecord {
            name: "paris".into(),
            token_hash: String::new(),
            created_at: made(0),
            revoked_at: None,
            last_seq: 10,
            last_seen_at: None,
            region: None,
        };
        let mut agents = Agents::new(&[record], 2, Instant::now());
        let (taken, acked) =
            agents.accept("paris", made(0), vec![result(9), result(10), result(11)]);
        assert_eq!((taken.len(), acked), (1, 11));
    }

    #[test]
    fn a_region_is_silent_once_no_agent_of_it_reported_for_a_while() {
        let start = Instant::now();
        let mut agents = Agents::new(&[], 3, start);
        assert!(!agents.is_silent(1, start + Duration::from_secs(5)));
        assert!(agents.is_silent(1, start + SILENT_AFTER + Duration::from_secs(1)));
        agents.heard("paris", 1, start + Duration::from_secs(30), Utc::now());
        assert!(!agents.is_silent(1, start + Duration::from_secs(45)));
        assert!(agents.is_silent(2, start + Duration::from_secs(45)));
        assert!(agents.is_silent(1, start + Duration::from_secs(30) + SILENT_AFTER * 2));
        assert_eq!(agents.last_heard(1).unwrap().0, "paris");
    }
}
