-- The instance id (epoch) of this server's data. It changes when the database is restored
-- from a backup (`fieldcheck-server restore`); devices see it on every sync answer and, when
-- it changed, send again what the restored server may have lost (ARCHITECTURE.md "Sync
-- client"). One row, made here at the first start with a random id.
CREATE TABLE instance (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    epoch         TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
INSERT INTO instance (id, epoch, created_at_ms)
VALUES (1, lower(hex(randomblob(16))), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
