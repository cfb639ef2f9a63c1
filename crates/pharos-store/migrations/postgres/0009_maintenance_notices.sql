-- Which notices of each maintenance occurrence went out (scheduled, started, ended), so that a
-- restart repeats none.
CREATE TABLE maintenance_notices (
    window_id TEXT NOT NULL,
    occurrence_start BIGINT NOT NULL,
    stage TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (window_id, occurrence_start, stage)
);
