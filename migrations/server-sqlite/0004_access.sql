-- Revocable access (issue 12): users the office disabled or the reference data dropped, and
-- tokens that are signed out, revoked or idle too long. Times are Unix milliseconds.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE users ADD COLUMN removed_at INTEGER;
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
ALTER TABLE tokens ADD COLUMN revoked_at INTEGER;
-- Device tokens expire after an idle period counted from their last use; tokens issued before
-- this migration count as used now, so an upgrade signs no device out.
UPDATE tokens SET last_used_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
CREATE INDEX tokens_user ON tokens (user_id);
