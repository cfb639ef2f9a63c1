-- Leases between replicas sharing one database: the holder of `engine` does the engine's work
-- (probes, incidents, notifications). `token` rises with every new holder; a write made
-- under a lease checks, in its own transaction, that its holder and token still hold it, so
-- a replica that lost the lease (paused, cut off) cannot write any more.
CREATE TABLE leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    token INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
