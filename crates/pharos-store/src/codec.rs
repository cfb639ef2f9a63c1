//! Conversions between domain values and their stored forms.

use crate::StoreError;
use chrono::{DateTime, TimeZone, Utc};
use pharos_core::{Phase, ProbeStatus};
use std::borrow::Cow;
use std::time::Duration;

pub(crate) fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_millis(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .unwrap_or_default()
}

pub(crate) fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

pub(crate) fn from_micros(micros: i64) -> Duration {
    Duration::from_micros(micros.max(0) as u64)
}

pub(crate) fn status_code(status: ProbeStatus) -> i64 {
    match status {
        ProbeStatus::Up => 0,
        ProbeStatus::Degraded => 1,
        ProbeStatus::Down => 2,
        ProbeStatus::Unknown => 3,
    }
}

pub(crate) fn status_from_code(code: i64) -> ProbeStatus {
    match code {
        0 => ProbeStatus::Up,
        1 => ProbeStatus::Degraded,
        3 => ProbeStatus::Unknown,
        _ => ProbeStatus::Down,
    }
}

/// Phases as `name=micros;name=micros`: compact, and no JSON in the hottest table.
pub(crate) fn encode_phases(phases: &[Phase]) -> String {
    let mut encoded = String::with_capacity(phases.len() * 16);
    for (index, phase) in phases.iter().enumerate() {
        if index > 0 {
            encoded.push(';');
        }
        encoded.push_str(&phase.name);
        encoded.push('=');
        encoded.push_str(&phase.duration.as_micros().to_string());
    }
    encoded
}

pub(crate) fn decode_phases(encoded: &str) -> Vec<Phase> {
    encoded
        .split(';')
        .filter_map(|part| {
            let (name, micros) = part.split_once('=')?;
            Some(Phase {
                name: Cow::Owned(name.to_owned()),
                duration: Duration::from_micros(micros.parse().ok()?),
            })
        })
        .collect()
}

pub(crate) fn corrupt(what: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_round_trip() {
        let phases = vec![
            Phase::new("dns", Duration::from_micros(120)),
            Phase::new("connect", Duration::from_micros(3)),
        ];
        assert_eq!(decode_phases(&encode_phases(&phases)), phases);
        assert!(decode_phases("").is_empty());
    }
}
