-- The app a device token last synced with (its User-Agent, e.g. `fieldcheck/0.1.0`): the
-- office's list of devices shows which still run an old version.
ALTER TABLE tokens ADD COLUMN app_version TEXT;
