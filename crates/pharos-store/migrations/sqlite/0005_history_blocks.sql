-- Sealed history: once an hour can no longer change, a monitor's raw results of that hour
-- move into one compact block (see block.rs), as do its minute roll-ups of a closed hour and
-- its hour roll-ups of a closed day. The rows of `results` and `rollups` are the open head.
CREATE TABLE result_blocks (
    monitor_id TEXT NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    count INTEGER NOT NULL,            -- results in the block
    data BLOB NOT NULL
);
CREATE INDEX result_blocks_by_monitor ON result_blocks (monitor_id, last_at);
CREATE INDEX result_blocks_by_time ON result_blocks (last_at);

-- One table per resolution: blocks kept for different times never share a page, so pruning
-- minutes leaves no holes among the hours.
CREATE TABLE minute_blocks (
    monitor_id TEXT NOT NULL,
    first_bucket INTEGER NOT NULL,
    last_bucket INTEGER NOT NULL,
    count INTEGER NOT NULL,            -- roll-ups in the block
    data BLOB NOT NULL
);
CREATE INDEX minute_blocks_by_time ON minute_blocks (last_bucket);

CREATE TABLE hour_blocks (
    monitor_id TEXT NOT NULL,
    first_bucket INTEGER NOT NULL,
    last_bucket INTEGER NOT NULL,
    count INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX hour_blocks_by_time ON hour_blocks (last_bucket);
