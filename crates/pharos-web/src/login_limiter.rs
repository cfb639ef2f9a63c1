//! Limits password guessing: failed logins are counted per client address and per account
//! over a sliding window; past either budget, logins from that address or to that account are
//! refused (even with the right password) until the oldest failure in the window ages out.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins allowed to one account within `WINDOW`.
pub(crate) const PER_ACCOUNT: usize = 5;
/// Failed logins allowed from one address within `WINDOW`.
pub(crate) const PER_ADDRESS: usize = 20;
/// How long a failure counts.
pub(crate) const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Keys kept at most; past this, keys whose failures all aged out are dropped first, then the
/// oldest, so that a flood of names or addresses cannot grow memory for good.
const TRACKED_KEYS: usize = 10_000;

#[derive(Default)]
pub(crate) struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    /// How long until a login may be tried for `account` from `address`; `None` when now.
    pub(crate) fn wait(&self, address: &str, account: &str, now: Instant) -> Option<Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let wait = |failures: &mut HashMap<String, VecDeque<Instant>>, key: String, budget| {
            let times = failures.get_mut(&key)?;
            while times
                .front()
                .is_some_and(|first| now.duration_since(*first) >= WINDOW)
            {
                times.pop_front();
            }
            (times.len() >= budget).then(|| {
                let oldest = times[times.len() - budget];
                WINDOW.saturating_sub(now.duration_since(oldest))
            })
        };
        let by_address = wait(&mut failures, address_key(address), PER_ADDRESS);
        let by_account = wait(&mut failures, account_key(account), PER_ACCOUNT);
        by_address.max(by_account)
    }

    /// Counts a failed login against both the address and the account.
    pub(crate) fn failed(&self, address: &str, account: &str, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= TRACKED_KEYS {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|last| now.duration_since(*last) < WINDOW)
            });
            if failures.len() >= TRACKED_KEYS {
                failures.clear();
            }
        }
        for (key, budget) in [
            (address_key(address), PER_ADDRESS),
            (account_key(account), PER_ACCOUNT),
        ] {
            let times = failures.entry(key).or_default();
            times.push_back(now);
            while times.len() > budget {
                times.pop_front();
            }
        }
    }

    /// A successful login clears the account's failures (not the address's).
    pub(crate) fn succeeded(&self, account: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&account_key(account));
    }
}

fn address_key(address: &str) -> String {
    format!("address {address}")
}

fn account_key(account: &str) -> String {
    format!("account {}", account.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_closed_after_its_budget_until_the_oldest_failure_ages() {
        let limiter = LoginLimiter::default();
        let start = Instant::now();
        for second in 0..PER_ACCOUNT as u64 {
            assert_eq!(limiter.wait("192.0.2.1", "ada", start), None);
            limiter.failed("192.0.2.1", "ada", start + Duration::from_secs(second));
        }
        let later = start + Duration::from_secs(60);
        let wait = limiter.wait("192.0.2.9", "ADA", later).expect("closed");
        assert_eq!(wait, WINDOW - Duration::from_secs(60));
        assert_eq!(
            limiter.wait("192.0.2.9", "bob", later),
            None,
            "others are not"
        );
        assert_eq!(limiter.wait("192.0.2.9", "ada", start + WINDOW), None);
    }

    #[test]
    fn an_address_is_closed_after_its_budget_whatever_the_names() {
        let limiter = LoginLimiter::default();
        let now = Instant::now();
        for index in 0..PER_ADDRESS {
            limiter.failed("192.0.2.1", &format!("name{index}"), now);
        }
        assert!(limiter.wait("192.0.2.1", "someone", now).is_some());
        assert!(limiter.wait("192.0.2.2", "someone", now).is_none());
    }

    #[test]
    fn a_good_login_clears_the_account_and_memory_stays_bounded() {
        let limiter = LoginLimiter::default();
        let now = Instant::now();
        limiter.failed("192.0.2.1", "ada", now);
        limiter.succeeded("ada");
        assert!(!limiter
            .failures
            .lock()
            .unwrap()
            .contains_key(&account_key("ada")));
        for index in 0..(TRACKED_KEYS + 10) {
            limiter.failed(&format!("10.0.{}.{}", index / 256, index % 256), "x", now);
        }
        assert!(limiter.failures.lock().unwrap().len() <= TRACKED_KEYS + 1);
    }
}
