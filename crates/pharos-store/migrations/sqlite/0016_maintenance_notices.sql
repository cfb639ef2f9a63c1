-- Which notices of each maintenance occurrence went out (scheduled, started, ended), so that a
-- restart repeats none.
CREATE TABLE maintenance_notices (
    window_id TEXT NOT NULL,
    occurrence_start INTEGER NOT NULL,
    stage TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (window_id, occurrence_start, stage)
);
