-- Export jobs (issue 16): the console's exports run in the background, one at a time; the
-- office leaves and downloads the file later. Times are Unix ms; `filter` is the ledger
-- query (JSON) the job was asked with, resolved again against the owner's scope when it runs.
CREATE TABLE export_jobs (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    filter      TEXT NOT NULL,
    state       TEXT NOT NULL,
    rows_done   INTEGER NOT NULL DEFAULT 0,
    rows_total  INTEGER,
    error       TEXT,
    file_name   TEXT,
    bytes       INTEGER,
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER
);
CREATE INDEX export_jobs_owner ON export_jobs (owner, created_at);
CREATE INDEX export_jobs_state ON export_jobs (state, created_at);
