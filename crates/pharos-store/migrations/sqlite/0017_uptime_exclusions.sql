-- Periods left out of uptime (maintenance windows, false alarms) per monitor, and what their
-- check results came to per monitor series and day: subtracted from the day roll-ups where
-- uptime is read. The periods are kept while their raw results are, so that a later period
-- overlapping one is counted once.
CREATE TABLE uptime_exclusions (
    monitor_id TEXT NOT NULL,
    start_at INTEGER NOT NULL,
    end_at INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX uptime_exclusions_by_monitor ON uptime_exclusions (monitor_id, start_at);
CREATE TABLE uptime_adjustments (
    monitor_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    total INTEGER NOT NULL,
    down INTEGER NOT NULL,
    degraded INTEGER NOT NULL,
    PRIMARY KEY (monitor_id, day)
);
