//! What one probe run found: a status, the latency, per-phase timings and a reason.
//!
//! A failed probe is data, not an error: every run ends in an `Outcome`.

use crate::status::ProbeStatus;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::time::Duration;

/// One timed step of a probe, such as `dns`, `connect`, `tls` or `first_byte`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    pub name: Cow<'static, str>,
    #[serde(with = "duration_micros")]
    pub duration: Duration,
}

/// The result of one probe run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: ProbeStatus,
    /// Total time the probe took, from start to verdict.
    #[serde(with = "duration_micros")]
    pub latency: Duration,
    pub phases: Vec<Phase>,
    /// Why the probe is not up (or what made it degraded); `None` when all is well.
    pub reason: Option<String>,
    /// What else the probe found worth showing, whatever the status: a delivery latency and
    /// authentication results, the findings of a domain check.
    #[serde(default)]
    pub detail: Option<String>,
}

impl Outcome {
    pub fn up(latency: Duration, phases: Vec<Phase>) -> Self {
        Self {
            status: ProbeStatus::Up,
            latency,
            phases,
            reason: None,
            detail: None,
        }
    }

    pub fn degraded(latency: Duration, phases: Vec<Phase>, reason: impl Into<String>) -> Self {
        Self {
            status: ProbeStatus::Degraded,
            latency,
            phases,
            reason: Some(reason.into()),
            detail: None,
        }
    }

    pub fn down(latency: Duration, phases: Vec<Phase>, reason: impl Into<String>) -> Self {
        Self {
            status: ProbeStatus::Down,
            latency,
            phases,
            reason: Some(reason.into()),
            detail: None,
        }
    }

    /// pharos could not run the check; `reason` says what of its own was missing.
    pub fn unknown(latency: Duration, phases: Vec<Phase>, reason: impl Into<String>) -> Self {
        Self {
            status: ProbeStatus::Unknown,
            latency,
            phases,
            reason: Some(reason.into()),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: Option<String>) -> Self {
        self.detail = detail;
        self
    }

    pub fn phase(&self, name: &str) -> Option<Duration> {
        self.phases
            .iter()
            .find(|phase| phase.name == name)
            .map(|phase| phase.duration)
    }
}

impl Phase {
    pub fn new(name: &'static str, duration: Duration) -> Self {
        Self {
            name: Cow::Borrowed(name),
            duration,
        }
    }
}

mod duration_micros {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.as_micros().min(u64::MAX as u128) as u64)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        Ok(Duration::from_micros(u64::deserialize(deserializer)?))
    }
}
