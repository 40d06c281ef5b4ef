-- Open311 GeoReport v2 (issue 17). `open311_keys`: the api_keys the office issues to other city
-- systems, stored as SHA-256 hashes; each key reports as its own volunteer user (`user_id`), so
-- the console shows where a report came from. `open311_requests`: one row per request that came
-- in through Open311: `seq` numbers its problem code, `fingerprint` (a hash of the key and the
-- fields sent) lets a retried POST answer the request it already made, and the citizen's
-- contact (and a `media_url` it sent) is kept here, never in the event log that devices
-- pull. Times are Unix ms.
CREATE TABLE open311_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    user_id     TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE TABLE open311_requests (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    problem_id  TEXT,
    code        TEXT,
    created_at  INTEGER NOT NULL,
    first_name  TEXT,
    last_name   TEXT,
    email       TEXT,
    phone       TEXT,
    media_url   TEXT
);
CREATE INDEX open311_requests_retry ON open311_requests (key_id, fingerprint, created_at);
CREATE UNIQUE INDEX open311_requests_problem ON open311_requests (problem_id);
CREATE UNIQUE INDEX open311_requests_code ON open311_requests (code);
