-- The PostgreSQL schema: the same tables and meaning as the SQLite store's (whose history
-- of migrations it starts from, as one). Times are Unix milliseconds (UTC); durations are
-- microseconds.

CREATE TABLE monitor_health (
    monitor_id TEXT PRIMARY KEY NOT NULL,
    health TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Raw probe results, the open head of history (sealed hours move to result_blocks).
CREATE TABLE results (
    monitor_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    status BIGINT NOT NULL,            -- 0 up, 1 degraded, 2 down, 3 unknown
    latency_us BIGINT NOT NULL,
    reason TEXT,
    phases TEXT,                       -- "name=micros;name=micros"
    detail TEXT
);
CREATE INDEX results_by_monitor_time ON results (monitor_id, at);
CREATE INDEX results_by_time ON results (at);

-- Per-minute, per-hour and per-day aggregates, in time order.
CREATE TABLE rollups (
    resolution TEXT NOT NULL,          -- minute, hour, day
    bucket BIGINT NOT NULL,            -- start of the bucket
    monitor_id TEXT NOT NULL,
    total BIGINT NOT NULL,
    down BIGINT NOT NULL,
    degraded BIGINT NOT NULL,
    latency_min_us BIGINT NOT NULL,
    latency_avg_us BIGINT NOT NULL,
    latency_p95_us BIGINT NOT NULL,
    latency_max_us BIGINT NOT NULL,
    PRIMARY KEY (resolution, bucket, monitor_id)
);

-- Sealed history (see block.rs): an hour of a monitor's raw results, an hour of its minute
-- roll-ups, a day of its hour roll-ups, each one compact block.
CREATE TABLE result_blocks (
    monitor_id TEXT NOT NULL,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    count BIGINT NOT NULL,
    data BYTEA NOT NULL
);
CREATE INDEX result_blocks_by_monitor ON result_blocks (monitor_id, last_at);
CREATE INDEX result_blocks_by_time ON result_blocks (last_at);

CREATE TABLE minute_blocks (
    monitor_id TEXT NOT NULL,
    first_bucket BIGINT NOT NULL,
    last_bucket BIGINT NOT NULL,
    count BIGINT NOT NULL,
    data BYTEA NOT NULL
);
CREATE INDEX minute_blocks_by_time ON minute_blocks (last_bucket);

CREATE TABLE hour_blocks (
    monitor_id TEXT NOT NULL,
    first_bucket BIGINT NOT NULL,
    last_bucket BIGINT NOT NULL,
    count BIGINT NOT NULL,
    data BYTEA NOT NULL
);
CREATE INDEX hour_blocks_by_time ON hour_blocks (last_bucket);

CREATE TABLE component_status (
    component_id TEXT PRIMARY KEY NOT NULL,
    status TEXT NOT NULL,
    since BIGINT NOT NULL
);

CREATE TABLE incidents (
    id BIGINT PRIMARY KEY NOT NULL,
    component_id TEXT NOT NULL,
    title TEXT NOT NULL,
    phase TEXT NOT NULL,
    impact TEXT NOT NULL,
    worst_impact TEXT,
    started_at BIGINT NOT NULL,
    detected_at BIGINT NOT NULL,
    resolved_at BIGINT,
    time_to_detect_ms BIGINT NOT NULL,
    time_to_recover_ms BIGINT,
    -- Components that joined it, as a JSON array of
    -- {component, status, joined_at, recovered_at, split_into}.
    dependents TEXT NOT NULL DEFAULT '[]'
);
-- At most one open incident per component: a restart can never open a second one.
CREATE UNIQUE INDEX incidents_one_open_per_component ON incidents (component_id) WHERE resolved_at IS NULL;
CREATE INDEX incidents_by_start ON incidents (started_at);

CREATE TABLE incident_updates (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    at BIGINT NOT NULL,
    phase TEXT NOT NULL,
    message TEXT NOT NULL,
    automatic BOOLEAN NOT NULL
);
CREATE INDEX incident_updates_by_incident ON incident_updates (incident_id);

CREATE TABLE incident_timeline (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX incident_timeline_by_incident ON incident_timeline (incident_id);

-- The durable outbox: every notification is written here in the same transaction as the
-- change it announces, and delivered at least once from here. `seq` orders messages as they
-- were written (a sequence is delivered in that order).
CREATE TABLE outbox (
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id TEXT PRIMARY KEY NOT NULL,      -- stable across retries: the webhook-id
    channel_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    give_up_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL,               -- held, pending, delivered, failed, skipped
    delivered_at BIGINT,
    last_error TEXT,
    sequence_key TEXT,
    chain_id TEXT,
    chain_step BIGINT,
    step_window_ms BIGINT,
    step_deadline BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_sequence ON outbox (channel_id, sequence_key, state);
CREATE INDEX outbox_chain ON outbox (chain_id, chain_step);
CREATE INDEX outbox_step_deadline ON outbox (state, step_deadline);

CREATE TABLE delivery_attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES outbox (id),
    at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    status_code BIGINT,
    error TEXT
);
CREATE INDEX delivery_attempts_by_message ON delivery_attempts (message_id);

CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
