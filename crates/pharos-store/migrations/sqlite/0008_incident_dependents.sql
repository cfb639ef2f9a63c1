-- Components that joined an incident because they failed with its root cause, as a JSON
-- array of {component, status, joined_at, recovered_at, split_into}.
ALTER TABLE incidents ADD COLUMN dependents TEXT NOT NULL DEFAULT '[]';
