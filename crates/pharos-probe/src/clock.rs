//! Phase timing that survives a timeout: the clock lives outside the probe's future, so when
//! the timeout drops that future the phases measured so far (and the one in progress) remain.

use crate::Verdict;
use pharos_core::{Outcome, Phase};
use std::borrow::Cow;
use std::future::Future;
use std::time::{Duration, Instant};

pub(crate) struct PhaseClock {
    started: Instant,
    phases: Vec<Phase>,
    current: &'static str,
    /// Put before phase names, to tell apart the sessions of a multi-session probe.
    prefix: &'static str,
    detail: Option<String>,
    latency: Option<Duration>,
}

impl PhaseClock {
    pub(crate) fn start() -> Self {
        Self {
            started: Instant::now(),
            phases: Vec::with_capacity(5),
            current: "start",
            prefix: "",
            detail: None,
            latency: None,
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
        let name = if self.prefix.is_empty() {
            Cow::Borrowed(name)
        } else {
            Cow::Owned(format!("{}{name}", self.prefix))
        };
        self.phases.push(Phase {
            name,
            duration: began.elapsed(),
        });
        value
    }

    pub(crate) fn set_prefix(&mut self, prefix: &'static str) {
        self.prefix = prefix;
    }

    /// Notes what the probe found, to be shown whatever the verdict.
    pub(crate) fn set_detail(&mut self, detail: impl Into<String>) {
        self.detail = Some(detail.into());
    }

    /// Reports this as the outcome's latency instead of the whole run's duration.
    pub(crate) fn set_latency(&mut self, latency: Duration) {
        self.latency = Some(latency);
    }

    /// The phase under way (or last begun), with its prefix.
    pub(crate) fn current_phase(&self) -> String {
        format!("{}{}", self.prefix, self.current)
    }

    pub(crate) fn finish(self, verdict: Verdict) -> Outcome {
        let latency = self.latency.unwrap_or_else(|| self.started.elapsed());
        let outcome = match verdict {
            Verdict::Up => Outcome::up(latency, self.phases),
            Verdict::Degraded(reason) => Outcome::degraded(latency, self.phases, reason),
            Verdict::Down(reason) => Outcome::down(latency, self.phases, reason),
            Verdict::Unknown(reason) => Outcome::unknown(latency, self.phases, reason),
        };
        outcome.with_detail(self.detail)
    }
}
