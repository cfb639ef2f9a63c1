-- The worst impact an incident reached: its title and its record in history say this, while
-- `impact` is the impact now.
ALTER TABLE incidents ADD COLUMN worst_impact TEXT;
UPDATE incidents SET worst_impact = impact;
