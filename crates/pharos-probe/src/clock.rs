//! Phase timing that survives a timeout: the clock lives outside the probe's future, so when
//! the timeout drops that future the phases measured so far (and the one in progress) remain.

use crate::Verdict;
use pharos_core::{Outcome, Phase};
use std::future::Future;
use std::time::Instant;

pub(crate) struct PhaseClock {
    started: Instant,
    phases: Vec<Phase>,
    current: &'static str,
}

impl PhaseClock {
    pub(crate) fn start() -> Self {
        Self {
            started: Instant::now(),
            phases: Vec::with_capacity(5),
            current: "start",
        }
    }

    /// Runs one phase of the probe and records how long it took.
    pub(crate) async fn time<T>(
        &mut self,
        name: &'static str,
        phase: impl Future<Output = T>,
    ) -> T {
        self.current = name;
        let began = Instant::now();
        let value = phase.await;
        self.phases.push(Phase::new(name, began.elapsed()));
        value
    }

    pub(crate) fn current_phase(&self) -> &'static str {
        self.current
    }

    pub(crate) fn finish(self, verdict: Verdict) -> Outcome {
        let latency = self.started.elapsed();
        match verdict {
            Verdict::Up => Outcome::up(latency, self.phases),
            Verdict::Degraded(reason) => Outcome::degraded(latency, self.phases, reason),
            Verdict::Down(reason) => Outcome::down(latency, self.phases, reason),
        }
    }
}
