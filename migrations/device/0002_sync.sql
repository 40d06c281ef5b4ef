-- Sync bookkeeping (schema 2). Append-only: never edit a released migration; add a new file.

-- A local event the server refused to store (role, scope, malformed). It stays in the log so
-- the person sees it on the record with the server's code and message, but it is no longer
-- folded (no other replica has it) and never pushed again.
ALTER TABLE events ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;
-- The outcome the server's fold gave a pushed event (JSON `EventOutcome`), so the device can
-- show what the server decided even before it has pulled the events that explain it.
ALTER TABLE events ADD COLUMN server_outcome TEXT;
