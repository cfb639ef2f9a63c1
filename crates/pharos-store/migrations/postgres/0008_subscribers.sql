-- People and systems told about incidents and maintenance: an email address (confirmed by a
-- link before anything is sent) or a webhook URL (with its own signing secret), for every
-- component or the ones chosen.
CREATE TABLE subscribers (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    components TEXT NOT NULL,
    secret TEXT,
    confirm_hash TEXT UNIQUE,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    signed_up_from TEXT
);
CREATE UNIQUE INDEX subscribers_by_address ON subscribers (kind, address);
