-- Fallback chains: the messages announcing one event along a route's chain share a chain id
-- and are tried one step at a time. A later step is held until the step before it gives up
-- or misses its deadline; once one step is delivered, the steps still held are skipped.
ALTER TABLE outbox ADD COLUMN chain_id TEXT;
ALTER TABLE outbox ADD COLUMN chain_step INTEGER;
-- How long a step may try before the next one is released, and when the current try ends.
ALTER TABLE outbox ADD COLUMN step_window_ms INTEGER;
ALTER TABLE outbox ADD COLUMN step_deadline INTEGER;
CREATE INDEX outbox_chain ON outbox (chain_id, chain_step);
CREATE INDEX outbox_step_deadline ON outbox (state, step_deadline);
