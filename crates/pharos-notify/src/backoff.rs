//! When to try a failed delivery again: exponential backoff with jitter, capped, until the
//! message's give-up time.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

const FIRST_RETRY_SECONDS: f64 = 5.0;
const LONGEST_WAIT_SECONDS: f64 = 3600.0;

/// The time of the next attempt after `attempts` failed ones, or `None` to give up.
pub fn next_attempt(
    now: DateTime<Utc>,
    attempts: u32,
    give_up_at: DateTime<Utc>,
    rng: &mut impl Rng,
) -> Option<DateTime<Utc>> {
    let exponential = FIRST_RETRY_SECONDS * 2f64.powi(attempts.saturating_sub(1).min(20) as i32);
    let capped = exponential.min(LONGEST_WAIT_SECONDS);
    // Jitter of ±25% keeps many receivers' retries from arriving in lockstep.
    let jittered = capped * rng.random_range(0.75..=1.25);
    let next = now + Duration::milliseconds((jittered * 1000.0) as i64);
    (next <= give_up_at).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn waits_grow_exponentially_within_the_jitter_and_stop_at_give_up() {
        let mut rng = StdRng::seed_from_u64(7);
        let now = Utc.timestamp_opt(0, 0).unwrap();
        let give_up = now + Duration::hours(24);
        for (attempts, base) in [
            (1u32, 5.0),
            (2, 10.0),
            (3, 20.0),
            (10, 2560.0),
            (30, 3600.0),
        ] {
            let next = next_attempt(now, attempts, give_up, &mut rng).unwrap();
            let waited = (next - now).num_milliseconds() as f64 / 1000.0;
            assert!(
                waited >= base * 0.75 && waited <= base * 1.25,
                "attempt {attempts}: waited {waited}s"
            );
        }
        assert_eq!(
            next_attempt(now, 1, now + Duration::seconds(1), &mut rng),
            None
        );
    }
}
