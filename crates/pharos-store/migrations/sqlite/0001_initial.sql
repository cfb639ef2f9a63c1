-- The first schema. Times are Unix milliseconds (UTC); durations are microseconds.

CREATE TABLE monitor_health (
    monitor_id TEXT PRIMARY KEY NOT NULL,
    health TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Raw probe results, kept for the configured raw retention.
CREATE TABLE results (
    monitor_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    status INTEGER NOT NULL,          -- 0 up, 1 degraded, 2 down
    latency_us INTEGER NOT NULL,
    reason TEXT,
    phases TEXT                        -- "name=micros;name=micros"
);
CREATE INDEX results_by_monitor_time ON results (monitor_id, at);
CREATE INDEX results_by_time ON results (at);

-- Per-minute, per-hour and per-day aggregates of results.
CREATE TABLE rollups (
    monitor_id TEXT NOT NULL,
    resolution TEXT NOT NULL,          -- minute, hour, day
    bucket INTEGER NOT NULL,           -- start of the bucket
    total INTEGER NOT NULL,
    down INTEGER NOT NULL,
    degraded INTEGER NOT NULL,
    latency_min_us INTEGER NOT NULL,
    latency_avg_us INTEGER NOT NULL,
    latency_p95_us INTEGER NOT NULL,
    latency_max_us INTEGER NOT NULL,
    PRIMARY KEY (monitor_id, resolution, bucket)
) WITHOUT ROWID;
CREATE INDEX rollups_by_time ON rollups (resolution, bucket);

CREATE TABLE component_status (
    component_id TEXT PRIMARY KEY NOT NULL,
    status TEXT NOT NULL,
    since INTEGER NOT NULL
);

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY NOT NULL,
    component_id TEXT NOT NULL,
    title TEXT NOT NULL,
    phase TEXT NOT NULL,
    impact TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    detected_at INTEGER NOT NULL,
    resolved_at INTEGER,
    time_to_detect_ms INTEGER NOT NULL,
    time_to_recover_ms INTEGER
);
-- At most one open incident per component: a restart can never open a second one.
CREATE UNIQUE INDEX incidents_one_open_per_component ON incidents (component_id) WHERE resolved_at IS NULL;
CREATE INDEX incidents_by_start ON incidents (started_at);

CREATE TABLE incident_updates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at INTEGER NOT NULL,
    phase TEXT NOT NULL,
    message TEXT NOT NULL,
    automatic INTEGER NOT NULL
);
CREATE INDEX incident_updates_by_incident ON incident_updates (incident_id);

CREATE TABLE incident_timeline (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX incident_timeline_by_incident ON incident_timeline (incident_id);

-- The durable outbox: every notification is written here in the same transaction as the
-- change it announces, and delivered at least once from here.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,      -- stable across retries: the webhook-id
    channel_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    give_up_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,               -- pending, delivered, failed
    delivered_at INTEGER,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL REFERENCES outbox (id),
    at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT
);
CREATE INDEX delivery_attempts_by_message ON delivery_attempts (message_id);

CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
