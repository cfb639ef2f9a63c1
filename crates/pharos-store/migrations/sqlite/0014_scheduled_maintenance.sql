-- Maintenance windows scheduled at run time (from the admin, the API or the command line), beside
-- those of the configuration file. Cancelled windows are kept, with when.
CREATE TABLE maintenance_windows (
    id TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    components TEXT NOT NULL,
    start_at INTEGER NOT NULL,
    length_ms INTEGER NOT NULL,
    every_ms INTEGER,
    message TEXT,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    cancelled_at INTEGER
);
