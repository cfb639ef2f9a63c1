//! Uptime arithmetic for the status page's daily bars.

/// Counts of probe results over some period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResultCounts {
    pub total: u64,
    pub down: u64,
    pub degraded: u64,
}

impl ResultCounts {
    pub fn add(&mut self, other: ResultCounts) {
        self.total += other.total;
        self.down += other.down;
        self.degraded += other.degraded;
    }

    /// The share of results that were not down, or `None` when nothing was measured.
    /// Degraded results count as up: the service answered.
    pub fn uptime(&self) -> Option<f64> {
        (self.total > 0).then(|| 1.0 - self.down as f64 / self.total as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_the_share_not_down() {
        assert_eq!(ResultCounts::default().uptime(), None);
        let counts = ResultCounts {
            total: 200,
            down: 1,
            degraded: 5,
        };
        assert!((counts.uptime().unwrap() - 0.995).abs() < 1e-12);
    }
}
