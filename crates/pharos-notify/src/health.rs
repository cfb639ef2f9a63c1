//! Each channel's health as the outbox worker sees its attempts: a channel that fails a
//! number of times in a row, or for long enough without a delivery, is unhealthy until it
//! delivers again. Each change is announced once (`channel.unhealthy`, `channel.recovered`)
//! through the other channels, and shown in `/metrics` and the deliveries API.

use crate::channel::Delivery;
use chrono::{DateTime, Utc};
use pharos_core::{ChannelNews, Event};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// When a channel counts as unhealthy.
#[derive(Clone, Copy, Debug)]
pub struct HealthPolicy {
    pub failures: u32,
    pub failing_for: Duration,
}

/// One channel's record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    pub consecutive_failures: u32,
    pub failing_since: Option<DateTime<Utc>>,
    pub unhealthy: bool,
    pub last_error: Option<String>,
    pub delivered: u64,
    pub failed: u64,
}

#[derive(Default)]
pub struct ChannelHealth {
    policies: HashMap<String, (String, HealthPolicy)>,
    records: Mutex<HashMap<String, Health>>,
}

impl ChannelHealth {
    /// Health for these channels: id → (type, policy).
    pub fn new(policies: HashMap<String, (String, HealthPolicy)>) -> Self {
        Self {
            policies,
            records: Mutex::default(),
        }
    }

    /// Records what an attempt through `channel` came to; returns the event announcing a
    /// change of the channel's health, if it changed.
    pub fn record(&self, channel: &str, outcome: &Delivery, now: DateTime<Utc>) -> Option<Event> {
        let (kind, policy) = self.policies.get(channel)?;
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let record = records.entry(channel.to_owned()).or_default();
        match outcome {
            Delivery::Delivered { .. } => {
                record.delivered += 1;
                let news = ChannelNews {
                    channel: channel.to_owned(),
                    kind: kind.clone(),
                    failures: record.consecutive_failures,
                    since: record.failing_since.unwrap_or(now),
                    reason: record.last_error.clone().unwrap_or_default(),
                };
                let was_unhealthy = record.unhealthy;
                record.consecutive_failures = 0;
                record.failing_since = None;
                record.unhealthy = false;
                was_unhealthy.then_some(Event::ChannelRecovered(news))
            }
            Delivery::Retry { reason, .. } | Delivery::GiveUp { reason, .. } => {
                record.failed += 1;
                record.consecutive_failures += 1;
                let since = *record.failing_since.get_or_insert(now);
                record.last_error = Some(reason.clone());
                let failing_for = (now - since).to_std().unwrap_or_default();
                let unhealthy = record.consecutive_failures >= policy.failures
                    || failing_for >= policy.failing_for;
                if unhealthy && !record.unhealthy {
                    record.unhealthy = true;
                    return Some(Event::ChannelUnhealthy(ChannelNews {
                        channel: channel.to_owned(),
                        kind: kind.clone(),
                        failures: record.consecutive_failures,
                        since,
                        reason: reason.clone(),
                    }));
                }
                None
            }
        }
    }

    pub fn is_unhealthy(&self, channel: &str) -> bool {
        self.records
            .lock()
            .map(|records| records.get(channel).is_some_and(|record| record.unhealthy))
            .unwrap_or(false)
    }

    /// Every configured channel's record, by id.
    pub fn snapshot(&self) -> Vec<(String, String, Health)> {
        let records = self
            .records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut all: Vec<_> = self
            .policies
            .iter()
            .map(|(id, (kind, _))| {
                (
                    id.clone(),
                    kind.clone(),
                    records.get(id).cloned().unwrap_or_default(),
                )
            })
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn health() -> ChannelHealth {
        ChannelHealth::new(HashMap::from([(
            "slack".to_owned(),
            (
                "slack".to_owned(),
                HealthPolicy {
                    failures: 3,
                    failing_for: Duration::from_secs(300),
                },
            ),
        )]))
    }

    fn failed() -> Delivery {
        Delivery::Retry {
            status_code: Some(503),
            reason: "Slack answered 503".into(),
            retry_after: None,
        }
    }

    #[test]
    fn unhealthy_after_three_failures_announced_once_and_recovery_once() {
        let health = health();
        let at = |second: i64| Utc.timestamp_opt(1_800_000_000 + second, 0).unwrap();
        assert_eq!(health.record("slack", &failed(), at(0)), None);
        assert_eq!(health.record("slack", &failed(), at(10)), None);
        let Some(Event::ChannelUnhealthy(news)) = health.record("slack", &failed(), at(20)) else {
            panic!("unhealthy at the third failure")
        };
        assert_eq!((news.failures, news.since), (3, at(0)));
        assert_eq!(health.record("slack", &failed(), at(30)), None, "told once");
        assert!(health.is_unhealthy("slack"));
        let delivered = Delivery::Delivered {
            status_code: Some(200),
        };
        assert!(matches!(
            health.record("slack", &delivered, at(40)),
            Some(Event::ChannelRecovered(_))
        ));
        assert_eq!(health.record("slack", &delivered, at(50)), None);
        assert!(!health.is_unhealthy("slack"));
    }

    #[test]
    fn unhealthy_after_failing_long_enough_even_with_few_attempts() {
        let health = health();
        let at = |second: i64| Utc.timestamp_opt(1_800_000_000 + second, 0).unwrap();
        assert_eq!(health.record("slack", &failed(), at(0)), None);
        assert!(matches!(
            health.record("slack", &failed(), at(301)),
            Some(Event::ChannelUnhealthy(_))
        ));
    }
}
