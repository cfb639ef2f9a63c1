-- When each subscriber's pending confirmation link was sent: links work for two days, and a
-- sign-up never confirmed is forgotten then.
ALTER TABLE subscribers ADD COLUMN confirm_sent_at INTEGER;
UPDATE subscribers SET confirm_sent_at = created_at WHERE confirm_hash IS NOT NULL;
