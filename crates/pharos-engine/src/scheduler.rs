//! The time grid: every monitor runs on its own fixed grid (a random phase per monitor
//! spreads the load; due times never drift), re-checks early while a change awaits
//! confirmation or when asked to (`recheck`), and never runs twice at once, so a hanging
//! target cannot pile up runs: grid points passed while a run is still going are skipped.
//! It holds no clock of its own.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;
use tokio::time::Instant;

pub struct Grid {
    intervals: Vec<Duration>,
    /// Each monitor's grid: due times are anchor + k * interval.
    anchors: Vec<Instant>,
    queue: BinaryHeap<Reverse<(Instant, usize)>>,
    in_flight: Vec<bool>,
    /// The grid point each monitor's current (or last) run was launched for.
    launched_for: Vec<Instant>,
    /// When each monitor runs next; a queue entry for another time is stale and ignored.
    scheduled: Vec<Option<Instant>>,
}

impl Grid {
    /// A grid for monitors of these intervals, their first runs spread at random over at most
    /// `splay` (or their interval, if shorter) after `start`.
    pub fn new(
        intervals: Vec<Duration>,
        splay: Duration,
        start: Instant,
        random: &mut impl FnMut() -> f64,
    ) -> Self {
        let anchors: Vec<Instant> = intervals
            .iter()
            .map(|interval| start + (*interval).min(splay).mul_f64(random()))
            .collect();
        let queue = anchors
            .iter()
            .enumerate()
            .map(|(monitor, &due)| Reverse((due, monitor)))
            .collect();
        Self {
            in_flight: vec![false; intervals.len()],
            scheduled: anchors.iter().copied().map(Some).collect(),
            launched_for: anchors.clone(),
            intervals,
            anchors,
            queue,
        }
    }

    /// Moves `monitor`'s grid so that it runs at `phase` into each interval as counted on the
    /// UTC clock from the epoch (`wall` is the clock at `now`): hosts whose clocks agree run it
    /// at the same points, so regions given different phases take turns.
    pub fn place(
        &mut self,
        monitor: usize,
        phase: Duration,
        wall: chrono::DateTime<chrono::Utc>,
        now: Instant,
    ) {
        let interval = self.intervals[monitor].as_millis().max(1) as i64;
        let into = wall.timestamp_millis().rem_euclid(interval);
        let wait = (phase.as_millis() as i64 - into).rem_euclid(interval);
        let anchor = now + Duration::from_millis(wait as u64);
        self.anchors[monitor] = anchor;
        self.launched_for[monitor] = anchor;
        if !self.in_flight[monitor] {
            self.schedule(monitor, anchor);
        }
    }

    /// Takes `monitor` off the grid for good (only agents check it): it never falls due and
    /// is never re-checked.
    pub fn exclude(&mut self, monitor: usize) {
        self.scheduled[monitor] = None;
        // Counted as always running, so `recheck` and `take_due` pass it by.
        self.in_flight[monitor] = true;
    }

    /// When the next run falls due, if any monitor is waiting.
    pub fn next_due(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse((due, _))| *due)
    }

    /// The monitors due at `now` and not running, each with the grid point it runs for;
    /// they count as running until `finished`.
    pub fn take_due(&mut self, now: Instant) -> Vec<(usize, Instant)> {
        let mut due_now = Vec::new();
        while let Some(&Reverse((due, monitor))) = self.queue.peek() {
            if due > now {
                break;
            }
            self.queue.pop();
            if self.in_flight[monitor] || self.scheduled[monitor] != Some(due) {
                continue;
            }
            self.scheduled[monitor] = None;
            self.in_flight[monitor] = true;
            self.launched_for[monitor] = due;
            due_now.push((monitor, due));
        }
        due_now
    }

    /// A run ended at `now`: the next one is `early` from now when a change awaits
    /// confirmation (a delay shorter than the interval), otherwise at the first grid point
    /// after now. Returns how many grid points were skipped while the run was going.
    pub fn finished(&mut self, monitor: usize, early: Option<Duration>, now: Instant) -> u64 {
        self.in_flight[monitor] = false;
        let interval = self.intervals[monitor];
        if let Some(delay) = early.filter(|delay| *delay < interval) {
            self.schedule(monitor, now + delay);
            return 0;
        }
        let step = interval.as_nanos().max(1);
        let anchor = self.anchors[monitor];
        let slots = now.saturating_duration_since(anchor).as_nanos() / step + 1;
        let due = anchor + Duration::from_nanos((slots * step).min(u64::MAX as u128) as u64);
        self.schedule(monitor, due);
        let passed = due
            .saturating_duration_since(self.launched_for[monitor])
            .as_nanos()
            / step;
        passed.saturating_sub(1) as u64
    }

    /// Runs `monitor` at `now` instead of at its next due time, unless it is running (its
    /// result is about to come) or already due sooner.
    pub fn recheck(&mut self, monitor: usize, now: Instant) {
        if self.in_flight[monitor] || self.scheduled[monitor].is_some_and(|due| due <= now) {
            return;
        }
        self.schedule(monitor, now);
    }

    fn schedule(&mut self, monitor: usize, due: Instant) {
        self.scheduled[monitor] = Some(due);
        self.queue.push(Reverse((due, monitor)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placed_monitor_runs_at_its_phase_of_the_clock() {
        let start = Instant::now();
        let mut grid = Grid::new(
            vec![Duration::from_secs(30)],
            Duration::from_secs(30),
            start,
            &mut || 0.5,
        );
        use chrono::TimeZone;
        // 12:00:07 on the clock; phase 20 s: first run at 12:00:20, 13 s from now.
        let wall = chrono::Utc.with_ymd_and_hms(2027, 1, 1, 12, 0, 7).unwrap();
        grid.place(0, Duration::from_secs(20), wall, start);
        assert_eq!(grid.next_due(), Some(start + Duration::from_secs(13)));
        // Phase 5 s: 12:00:35, 28 s from now.
        grid.place(0, Duration::from_secs(5), wall, start);
        let due = grid.take_due(start + Duration::from_secs(28));
        assert_eq!(due, vec![(0, start + Duration::from_secs(28))]);
        grid.finished(0, None, start + Duration::from_secs(29));
        assert_eq!(grid.next_due(), Some(start + Duration::from_secs(58)));
    }

    #[test]
    fn a_monitor_is_never_queued_twice_and_overrun_points_are_skipped() {
        let start = Instant::now();
        let mut grid = Grid::new(
            vec![Duration::from_secs(10)],
            Duration::ZERO,
            start,
            &mut || 0.0,
        );
        assert_eq!(grid.take_due(start), [(0, start)]);
        // Still running at its next grid points: nothing is due twice.
        assert!(grid.take_due(start + Duration::from_secs(25)).is_empty());
        let skipped = grid.finished(0, None, start + Duration::from_secs(25));
        assert_eq!(
            skipped, 2,
            "the points at 10 s and 20 s passed during the run"
        );
        assert_eq!(grid.next_due(), Some(start + Duration::from_secs(30)));
    }

    #[test]
    fn a_change_awaiting_confirmation_is_checked_early() {
        let start = Instant::now();
        let mut grid = Grid::new(
            vec![Duration::from_secs(30)],
            Duration::ZERO,
            start,
            &mut || 0.0,
        );
        grid.take_due(start);
        grid.finished(
            0,
            Some(Duration::from_secs(5)),
            start + Duration::from_secs(1),
        );
        assert_eq!(grid.next_due(), Some(start + Duration::from_secs(6)));
    }

    #[test]
    fn a_recheck_runs_at_once_and_the_grid_goes_on_without_a_second_run() {
        let start = Instant::now();
        let mut grid = Grid::new(
            vec![Duration::from_secs(30)],
            Duration::ZERO,
            start,
            &mut || 0.0,
        );
        grid.take_due(start);
        grid.finished(0, None, start + Duration::from_secs(1));
        let asked = start + Duration::from_secs(12);
        grid.recheck(0, asked);
        assert_eq!(grid.take_due(asked), [(0, asked)]);
        grid.recheck(0, asked + Duration::from_secs(1));
        assert!(
            grid.take_due(asked + Duration::from_secs(1)).is_empty(),
            "a running monitor is not started twice"
        );
        grid.finished(0, None, asked + Duration::from_secs(2));
        let grid_point = start + Duration::from_secs(30);
        assert_eq!(
            grid.take_due(grid_point),
            [(0, grid_point)],
            "the grid point after the recheck runs once"
        );
        assert!(grid.take_due(grid_point).is_empty());
        assert_eq!(grid.next_due(), None, "no stale entry left behind");
    }
}
