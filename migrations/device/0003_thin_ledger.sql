-- Ledger at city scale (schema 3). Append-only: never edit a released migration; add a new file.
--
-- 1. `problems` keeps only what the ledger filters and sorts on; the folded record (JSON) moves
--    to `problem_states`, read only for the rows of a page. A scan or a lookup of a thin row
--    touches ~200 bytes instead of ~2 KB, which is what the ledger queries spend their time on.
-- 2. An explicit `rid INTEGER PRIMARY KEY`: the search index and the states refer to it, and
--    an implicit rowid may be renumbered by VACUUM.
-- 3. Fewer projection indexes (each one is paid on every write): a device holds only its own
--    scope, so unit, district, reporter and category filters run over a small set or a page of
--    the status index; the overdue list gets a covering partial index.
-- 4. The trigram index is replaced by a bigram index (src/search.rs), so two-character Chinese
--    words (积水, 井盖) are found through the index instead of a LIKE scan. The index is
--    contentless (it stores only the terms) and is brought up to date in batches: a write only
--    notes the record in `search_pending` (one small row instead of FTS5 writing a segment
--    of its own, ~7 pages, in every transaction); the next text search or the end of a pull
--    page indexes every noted record in one go (`search::catch_up`).
-- 5. `events` without AUTOINCREMENT: `seq` only orders the outbox, and AUTOINCREMENT costs a
--    write to `sqlite_sequence` in every transaction. Only events already pushed or received
--    are ever deleted, so a reused `seq` can never reorder the outbox.

CREATE TABLE problems_v3 (
    rid             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    code            TEXT NOT NULL,
    status          TEXT NOT NULL,
    category        TEXT NOT NULL,
    description     TEXT NOT NULL,
    address         TEXT NOT NULL,
    lat             REAL,
    lon             REAL,
    district_id     TEXT,
    point_id        TEXT,
    inspection_id   TEXT,
    reporter        TEXT NOT NULL,
    severity        TEXT NOT NULL,
    unit_id         TEXT,
    deadline        INTEGER,
    rework_count    INTEGER NOT NULL,
    reported_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    rectified_at    INTEGER,
    closed_at       INTEGER,
    rejected_events INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE problem_states (
    rid   INTEGER PRIMARY KEY,
    state TEXT NOT NULL
) STRICT;

INSERT INTO problems_v3 (id, code, status, category, description, address, lat, lon,
        district_id, point_id, inspection_id, reporter, severity, unit_id, deadline,
        rework_count, reported_at, updated_at, rectified_at, closed_at, rejected_events)
    SELECT id, code, status, category, description, address, lat, lon,
        district_id, point_id, inspection_id, reporter, severity, unit_id, deadline,
        rework_count, reported_at, updated_at, rectified_at, closed_at, rejected_events
    FROM problems ORDER BY reported_at, id;
INSERT INTO problem_states (rid, state)
    SELECT n.rid, o.state FROM problems o JOIN problems_v3 n ON n.id = o.id;

DROP TRIGGER problems_fts_ai;
DROP TRIGGER problems_fts_ad;
DROP TRIGGER problems_fts_au;
DROP TABLE problems_fts;
DROP TABLE problems;
ALTER TABLE problems_v3 RENAME TO problems;

CREATE INDEX problems_code ON problems(code);
CREATE INDEX problems_status_unit ON problems(status, unit_id, reported_at);
CREATE INDEX problems_reported ON problems(reported_at);
CREATE INDEX problems_point ON problems(point_id);
CREATE INDEX problems_open_deadline ON problems(deadline, reported_at, id)
    WHERE status IN ('dispatched', 'rectifying');

-- `fc_search_terms` is registered on every connection (src/search.rs).
CREATE VIRTUAL TABLE problems_search USING fts5(
    terms, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0'
);
INSERT INTO problems_search (rowid, terms)
    SELECT rid, fc_search_terms(code, description, address) FROM problems;

-- Records whose index entry is missing (`reindex` = 0) or out of date (1).
CREATE TABLE search_pending (
    rid     INTEGER PRIMARY KEY,
    reindex INTEGER NOT NULL
) STRICT;

CREATE TRIGGER problems_ai AFTER INSERT ON problems BEGIN
    INSERT INTO search_pending (rid, reindex) VALUES (new.rid, 0);
END;
CREATE TRIGGER problems_au_text AFTER UPDATE OF code, description, address ON problems
    WHEN old.code IS NOT new.code OR old.description IS NOT new.description
        OR old.address IS NOT new.address
BEGIN
    INSERT INTO search_pending (rid, reindex) VALUES (new.rid, 1) ON CONFLICT (rid) DO NOTHING;
END;
CREATE TRIGGER problems_ad AFTER DELETE ON problems BEGIN
    DELETE FROM problems_search WHERE rowid = old.rid;
    DELETE FROM search_pending WHERE rid = old.rid;
    DELETE FROM problem_states WHERE rid = old.rid;
END;

CREATE TABLE events_v3 (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    entity         TEXT NOT NULL,
    entity_id      TEXT NOT NULL,
    kind           TEXT NOT NULL,
    actor          TEXT NOT NULL,
    role           TEXT NOT NULL,
    device         TEXT NOT NULL,
    hlc            TEXT NOT NULL,
    body           TEXT NOT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('applied', 'rejected')),
    reject_code    TEXT,
    reject_message TEXT,
    origin         TEXT NOT NULL CHECK (origin IN ('local', 'remote')),
    pushed_at      INTEGER,
    server_seq     INTEGER,
    refused        INTEGER NOT NULL DEFAULT 0,
    server_outcome TEXT
) STRICT;
INSERT INTO events_v3 (seq, id, entity, entity_id, kind, actor, role, device, hlc, body,
        outcome, reject_code, reject_message, origin, pushed_at, server_seq, refused,
        server_outcome)
    SELECT seq, id, entity, entity_id, kind, actor, role, device, hlc, body,
        outcome, reject_code, reject_message, origin, pushed_at, server_seq, refused,
        server_outcome
    FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_v3 RENAME TO events;
CREATE INDEX events_entity ON events(entity_id, hlc, id);
CREATE INDEX events_outbox ON events(seq) WHERE pushed_at IS NULL AND origin = 'local';
