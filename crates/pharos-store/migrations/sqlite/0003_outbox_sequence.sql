-- Messages sharing a sequence key on one channel are delivered strictly in order: a later
-- one waits while an earlier one is still pending.
ALTER TABLE outbox ADD COLUMN sequence_key TEXT;
CREATE INDEX outbox_sequence ON outbox (channel_id, sequence_key, state);
