-- When an operator last corrected an update's words.
ALTER TABLE incident_updates ADD COLUMN edited_at BIGINT;
-- What was learned from an incident (Markdown), and when it was last written.
ALTER TABLE incidents ADD COLUMN postmortem TEXT;
ALTER TABLE incidents ADD COLUMN postmortem_at BIGINT;
