-- Recovery after the server was restored from a backup (schema 5). Append-only: never edit a
-- released migration; add a new file.

-- A local event the device had pushed, put back in the outbox because the server it was
-- pushed to was restored from a backup (its instance id changed) and may have lost it. While
-- set, a refusal is not final: the record it acts on may not be back on the server yet (its
-- creator has not sent it again), so the event stays in the outbox for the next sync.
ALTER TABLE events ADD COLUMN resent INTEGER NOT NULL DEFAULT 0;
