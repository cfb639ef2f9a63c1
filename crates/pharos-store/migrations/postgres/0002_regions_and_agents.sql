-- How far an incident's problem reaches when its component is checked from several regions:
-- JSON {reach, regions, of}, NULL when checked from one place.
ALTER TABLE incidents ADD COLUMN scope TEXT;

-- Probe agents: each has its own token (only its SHA-256 is kept), may be revoked, and its
-- results carry a sequence number; `last_seq` is the highest one stored, written in the same
-- transaction as the results, so a batch delivered twice is stored once.
CREATE TABLE agents (
    name TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_seq BIGINT NOT NULL DEFAULT 0,
    last_seen_at BIGINT,
    region TEXT
);
