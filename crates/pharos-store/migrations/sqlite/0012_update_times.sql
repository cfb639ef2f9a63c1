-- An operator's update may say when the service is expected back and when the next update
-- comes at the latest (milliseconds since the epoch).
ALTER TABLE incident_updates ADD COLUMN expected_by INTEGER;
ALTER TABLE incident_updates ADD COLUMN next_update_by INTEGER;
