//! Compact blocks of history, as time-series stores keep them: one block holds a monitor's
//! raw results (or roll-ups) of one period, column by column. Times are deltas of deltas
//! (a regular interval costs one byte), numbers are variable-length integers, and what
//! repeats from result to result (status, reason, detail, phase names) is written once per
//! block and referred to by a one-byte index.
//!
//! The encoding does not depend on the database: every backend stores the same bytes.

use crate::Rollup;
use chrono::{DateTime, TimeZone, Utc};
use pharos_core::uptime::ResultCounts;
use pharos_core::{MonitorId, Outcome, Phase, ProbeStatus};
use std::borrow::Cow;
use std::time::Duration;

/// The first byte of every block: its format.
const RESULTS_V1: u8 = 1;
const ROLLUPS_V1: u8 = 1;

/// Why a block could not be read.
#[derive(Debug, PartialEq, Eq)]
pub struct BadBlock(pub &'static str);

/// One result as a block keeps it (the monitor is the block's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockResult {
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
}

/// Encodes results (oldest first) into one block.
pub fn encode_results(results: &[BlockResult]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + results.len() * 8);
    out.push(RESULTS_V1);
    put_varint(&mut out, results.len() as u64);
    // Times: the first in milliseconds since the epoch, then deltas of deltas.
    let mut times = DeltaOfDelta::default();
    for result in results {
        times.put(&mut out, result.at.timestamp_millis());
    }
    // The kinds of outcome, once each, then one index per result.
    let mut kinds: Vec<Kind<'_>> = Vec::new();
    let mut indexes = Vec::with_capacity(results.len());
    for result in results {
        let kind = Kind::of(&result.outcome);
        let index = match kinds.iter().position(|known| *known == kind) {
            Some(index) => index,
            None => {
                kinds.push(kind);
                kinds.len() - 1
            }
        };
        indexes.push(index as u64);
    }
    put_varint(&mut out, kinds.len() as u64);
    for kind in &kinds {
        out.push(status_code(kind.status));
        put_text(&mut out, kind.reason);
        put_text(&mut out, kind.detail);
        put_varint(&mut out, kind.phases.len() as u64);
        for name in &kind.phases {
            put_text(&mut out, Some(name));
        }
    }
    for index in indexes {
        put_varint(&mut out, index);
    }
    // Phase durations, then each latency as its difference from the sum of its phases
    // (which it mostly is, give or take a little): one byte instead of three.
    for result in results {
        for phase in &result.outcome.phases {
            put_varint(&mut out, micros(phase.duration));
        }
    }
    for result in results {
        put_signed(
            &mut out,
            signed_micros(result.outcome.latency) - phase_sum(&result.outcome),
        );
    }
    out
}

fn signed_micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

fn phase_sum(outcome: &Outcome) -> i64 {
    outcome
        .phases
        .iter()
        .map(|phase| signed_micros(phase.duration))
        .fold(0i64, i64::saturating_add)
}

/// Decodes a block written by `encode_results`.
pub fn decode_results(block: &[u8]) -> Result<Vec<BlockResult>, BadBlock> {
    let mut input = Reader(block);
    if input.byte()? != RESULTS_V1 {
        return Err(BadBlock("unknown results block format"));
    }
    let count = input.length()?;
    let mut times = Vec::with_capacity(count);
    let mut deltas = DeltaOfDelta::default();
    for _ in 0..count {
        let at = deltas.read(&mut input)?;
        times.push(
            Utc.timestamp_millis_opt(at)
                .single()
                .ok_or(BadBlock("time out of range"))?,
        );
    }
    let kinds_count = input.length()?;
    let mut kinds = Vec::with_capacity(kinds_count);
    for _ in 0..kinds_count {
        let status = status_from_code(input.byte()?)?;
        let reason = input.text()?;
        let detail = input.text()?;
        let phases = input.length()?;
        let mut names = Vec::with_capacity(phases);
        for _ in 0..phases {
            names.push(input.text()?.ok_or(BadBlock("a phase without a name"))?);
        }
        kinds.push((status, reason, detail, names));
    }
    let mut results = Vec::with_capacity(count);
    let mut chosen = Vec::with_capacity(count);
    for _ in 0..count {
        let index = input.length()?;
        if index >= kinds.len() {
            return Err(BadBlock("an outcome index out of range"));
        }
        chosen.push(index);
    }
    for (at, index) in times.into_iter().zip(chosen) {
        let (status, reason, detail, names) = &kinds[index];
        let mut phases = Vec::with_capacity(names.len());
        for name in names {
            phases.push(Phase {
                name: Cow::Owned(name.clone()),
                duration: Duration::from_micros(input.varint()?),
            });
        }
        results.push(BlockResult {
            at,
            outcome: Outcome {
                status: *status,
                latency: Duration::ZERO,
                phases,
                reason: reason.clone(),
                detail: detail.clone(),
            },
        });
    }
    for result in &mut results {
        let latency = phase_sum(&result.outcome)
            .checked_add(input.signed()?)
            .and_then(|micros| u64::try_from(micros).ok())
            .ok_or(BadBlock("latency out of range"))?;
        result.outcome.latency = Duration::from_micros(latency);
    }
    if !input.0.is_empty() {
        return Err(BadBlock("bytes after the last result"));
    }
    Ok(results)
}

/// Encodes roll-ups of one monitor and resolution (oldest first) into one block.
pub fn encode_rollups(rollups: &[Rollup]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + rollups.len() * 16);
    out.push(ROLLUPS_V1);
    put_varint(&mut out, rollups.len() as u64);
    // Buckets: the first, then deltas of deltas (zero for consecutive buckets).
    let mut buckets = DeltaOfDelta::default();
    for rollup in rollups {
        buckets.put(&mut out, rollup.bucket.timestamp_millis());
        put_varint(&mut out, rollup.counts.total);
        put_varint(&mut out, rollup.counts.down);
        put_varint(&mut out, rollup.counts.degraded);
        // The average, then each other figure as its distance from its neighbour.
        let (min, avg, p95, max) = (
            signed_micros(rollup.latency_min),
            signed_micros(rollup.latency_avg),
            signed_micros(rollup.latency_p95),
            signed_micros(rollup.latency_max),
        );
        put_signed(&mut out, avg);
        put_signed(&mut out, avg - min);
        put_signed(&mut out, p95 - avg);
        put_signed(&mut out, max - p95);
    }
    out
}

/// Decodes a block written by `encode_rollups`.
pub fn decode_rollups(monitor: &MonitorId, block: &[u8]) -> Result<Vec<Rollup>, BadBlock> {
    let mut input = Reader(block);
    if input.byte()? != ROLLUPS_V1 {
        return Err(BadBlock("unknown roll-ups block format"));
    }
    let count = input.length()?;
    let mut rollups = Vec::with_capacity(count);
    let mut buckets = DeltaOfDelta::default();
    for _ in 0..count {
        let bucket = buckets.read(&mut input)?;
        rollups.push(Rollup {
            monitor: monitor.clone(),
            bucket: Utc
                .timestamp_millis_opt(bucket)
                .single()
                .ok_or(BadBlock("time out of range"))?,
            counts: ResultCounts {
                total: input.varint()?,
                down: input.varint()?,
                degraded: input.varint()?,
            },
            latency_min: Duration::ZERO,
            latency_avg: Duration::ZERO,
            latency_p95: Duration::ZERO,
            latency_max: Duration::ZERO,
        });
        let avg = input.signed()?;
        let min = avg.checked_sub(input.signed()?);
        let p95 = input.signed()?.checked_add(avg);
        let max = p95.and_then(|p95| input.signed().ok()?.checked_add(p95));
        let duration = |micros: Option<i64>| {
            micros
                .and_then(|micros| u64::try_from(micros).ok())
                .map(Duration::from_micros)
                .ok_or(BadBlock("latency out of range"))
        };
        let rollup = rollups.last_mut().ok_or(BadBlock("truncated"))?;
        rollup.latency_min = duration(min)?;
        rollup.latency_avg = duration(Some(avg))?;
        rollup.latency_p95 = duration(p95)?;
        rollup.latency_max = duration(max)?;
    }
    if !input.0.is_empty() {
        return Err(BadBlock("bytes after the last roll-up"));
    }
    Ok(rollups)
}

/// A series of times as its first value, then deltas of deltas: a regular series costs a
/// byte a time.
#[derive(Default)]
struct DeltaOfDelta {
    started: bool,
    previous: i64,
    previous_delta: i64,
}

impl DeltaOfDelta {
    fn put(&mut self, out: &mut Vec<u8>, time: i64) {
        if self.started {
            let delta = time - self.previous;
            put_signed(out, delta - self.previous_delta);
            self.previous_delta = delta;
        } else {
            put_signed(out, time);
            self.started = true;
        }
        self.previous = time;
    }

    fn read(&mut self, input: &mut Reader<'_>) -> Result<i64, BadBlock> {
        let time = if self.started {
            let delta = self
                .previous_delta
                .checked_add(input.signed()?)
                .ok_or(BadBlock("time out of range"))?;
            self.previous_delta = delta;
            self.previous
                .checked_add(delta)
                .ok_or(BadBlock("time out of range"))?
        } else {
            self.started = true;
            input.signed()?
        };
        self.previous = time;
        Ok(time)
    }
}

/// What results share: everything but times and durations.
#[derive(PartialEq, Eq)]
struct Kind<'a> {
    status: ProbeStatus,
    reason: Option<&'a str>,
    detail: Option<&'a str>,
    phases: Vec<&'a str>,
}

impl<'a> Kind<'a> {
    fn of(outcome: &'a Outcome) -> Self {
        Self {
            status: outcome.status,
            reason: outcome.reason.as_deref(),
            detail: outcome.detail.as_deref(),
            phases: outcome.phases.iter().map(|phase| &*phase.name).collect(),
        }
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn status_code(status: ProbeStatus) -> u8 {
    match status {
        ProbeStatus::Up => 0,
        ProbeStatus::Degraded => 1,
        ProbeStatus::Down => 2,
        ProbeStatus::Unknown => 3,
    }
}

fn status_from_code(code: u8) -> Result<ProbeStatus, BadBlock> {
    match code {
        0 => Ok(ProbeStatus::Up),
        1 => Ok(ProbeStatus::Degraded),
        2 => Ok(ProbeStatus::Down),
        3 => Ok(ProbeStatus::Unknown),
        _ => Err(BadBlock("unknown status")),
    }
}

/// LEB128: seven bits a byte, low bits first.
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Zigzag, so that small negative numbers are small too.
fn put_signed(out: &mut Vec<u8>, value: i64) {
    put_varint(out, ((value << 1) ^ (value >> 63)) as u64);
}

/// Text as its length plus one (0 for none), then its bytes.
fn put_text(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => put_varint(out, 0),
        Some(text) => {
            put_varint(out, text.len() as u64 + 1);
            out.extend_from_slice(text.as_bytes());
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, BadBlock> {
        let (&first, rest) = self.0.split_first().ok_or(BadBlock("truncated"))?;
        self.0 = rest;
        Ok(first)
    }

    fn varint(&mut self) -> Result<u64, BadBlock> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f)
                .checked_shl(shift)
                .ok_or(BadBlock("number too long"))?;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(BadBlock("number too long"))
    }

    /// A count or index: never more than the bytes left could describe.
    fn length(&mut self) -> Result<usize, BadBlock> {
        let value = self.varint()?;
        usize::try_from(value)
            .ok()
            .filter(|length| *length <= self.0.len().saturating_mul(8) + 1)
            .ok_or(BadBlock("a count larger than the block"))
    }

    fn signed(&mut self) -> Result<i64, BadBlock> {
        let raw = self.varint()?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    fn text(&mut self) -> Result<Option<String>, BadBlock> {
        let length = self.length()?;
        if length == 0 {
            return Ok(None);
        }
        let length = length - 1;
        if length > self.0.len() {
            return Err(BadBlock("truncated text"));
        }
        let (text, rest) = self.0.split_at(length);
        self.0 = rest;
        String::from_utf8(text.to_vec())
            .map(Some)
            .map_err(|_| BadBlock("text that is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(
        at_ms: i64,
        status: ProbeStatus,
        latency_us: u64,
        reason: Option<&str>,
    ) -> BlockResult {
        BlockResult {
            at: Utc.timestamp_millis_opt(at_ms).unwrap(),
            outcome: Outcome {
                status,
                latency: Duration::from_micros(latency_us),
                phases: vec![
                    Phase {
                        name: Cow::Borrowed("connect"),
                        duration: Duration::from_micros(latency_us / 3),
                    },
                    Phase {
                        name: Cow::Borrowed("first_byte"),
                        duration: Duration::from_micros(latency_us / 2),
                    },
                ],
                reason: reason.map(str::to_owned),
                detail: None,
            },
        }
    }

    #[test]
    fn results_come_back_exactly_and_small() {
        let start = 1_800_000_000_000;
        let results: Vec<BlockResult> = (0..120)
            .map(|index| {
                let jitter = (index * 7919) % 13;
                if index % 40 == 39 {
                    result(
                        start + index * 30_000 + jitter,
                        ProbeStatus::Down,
                        5_000_000,
                        Some("timed out after 5s"),
                    )
                } else {
                    result(
                        start + index * 30_000 + jitter,
                        ProbeStatus::Up,
                        2_000 + (index as u64 * 37) % 900,
                        None,
                    )
                }
            })
            .collect();
        let block = encode_results(&results);
        assert_eq!(decode_results(&block).unwrap(), results);
        assert!(
            block.len() < 120 * 10,
            "{} bytes for 120 results",
            block.len()
        );
    }

    #[test]
    fn rollups_come_back_exactly() {
        let monitor = MonitorId::new("m");
        let rollups: Vec<Rollup> = (0..60)
            .map(|minute| Rollup {
                monitor: monitor.clone(),
                bucket: Utc
                    .timestamp_millis_opt(1_800_000_000_000 + minute * 60_000)
                    .unwrap(),
                counts: ResultCounts {
                    total: 2,
                    down: (minute % 7 == 0) as u64,
                    degraded: 0,
                },
                latency_min: Duration::from_micros(1_000),
                latency_avg: Duration::from_micros(1_500 + minute as u64),
                latency_p95: Duration::from_micros(2_000),
                latency_max: Duration::from_micros(2_100),
            })
            .collect();
        let block = encode_rollups(&rollups);
        assert_eq!(decode_rollups(&monitor, &block).unwrap(), rollups);
    }

    #[test]
    fn no_damaged_block_panics_or_decodes_silently_wrong() {
        let results: Vec<BlockResult> = (0..20)
            .map(|index| {
                result(
                    1_800_000_000_000 + index * 30_000,
                    ProbeStatus::Up,
                    1_234,
                    None,
                )
            })
            .collect();
        let block = encode_results(&results);
        for cut in 0..block.len() {
            assert!(
                decode_results(&block[..cut]).is_err(),
                "a block cut at {cut} is refused"
            );
        }
        let mut state = 17u64;
        for _ in 0..2_000 {
            let mut damaged = block.clone();
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            let position = (state >> 33) as usize % damaged.len();
            damaged[position] ^= 1 << ((state >> 20) % 8);
            let _ = decode_results(&damaged);
            let _ = decode_rollups(&MonitorId::new("m"), &damaged);
        }
    }
}
