-- Several server instances on one database (ARCHITECTURE.md "Running several instances").
-- Append-only: never edit a released migration.

-- Uploads in progress, staged in the shared database instead of one instance's disk, so a
-- resumed upload may land on any instance. One row per chunk as it arrived; the upload's
-- length is the end of its last chunk. The primary key makes two instances racing to stage a
-- chunk at the same offset fail one of them (its client resumes from the winner's end).
-- Rows go with their upload (discarded, expired) and when it verifies.
CREATE TABLE blob_chunks (
    hash    TEXT NOT NULL,
    user_id TEXT NOT NULL,
    start   BIGINT NOT NULL,
    len     BIGINT NOT NULL,
    bytes   BYTEA NOT NULL,
    PRIMARY KEY (hash, user_id, start),
    FOREIGN KEY (hash, user_id) REFERENCES blob_uploads (hash, user_id) ON DELETE CASCADE
);

-- Rate limits shared by every instance. Sign-in and enrollment failures: `n` events in the
-- fixed window that began at `window_start` (Unix ms). The push rate (`push:<sender>`): the
-- token bucket's theoretical arrival time in `window_start` (a generic cell rate; `n` unused).
CREATE TABLE rate_counts (
    counter      TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    n            BIGINT NOT NULL
);
CREATE INDEX rate_counts_window ON rate_counts (window_start);
