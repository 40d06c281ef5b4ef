-- Refused records kept and sent again (schema 4). Append-only: never edit a released
-- migration; add a new file.

-- A local event replaced by a corrected report that the person sent again after the server
-- refused the record's creation: the id of that new report event. Such an event stays in the
-- log as history, but is no longer folded, pushed or counted as refused (the new report
-- carries its content).
ALTER TABLE events ADD COLUMN superseded_by TEXT;
