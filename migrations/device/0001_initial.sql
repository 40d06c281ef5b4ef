-- FieldCheck device store, schema 1. Append-only: never edit a released migration; add a new file.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- Reference data: a few indexed columns plus the whole record as JSON (the domain type).
CREATE TABLE ref_districts (
    id        TEXT PRIMARY KEY,
    parent_id TEXT REFERENCES ref_districts(id),
    level     TEXT NOT NULL CHECK (level IN ('district', 'street', 'community')),
    data      TEXT NOT NULL
) STRICT;

CREATE TABLE ref_units (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    district_id TEXT REFERENCES ref_districts(id),
    data        TEXT NOT NULL
) STRICT;

CREATE TABLE ref_points (
    id          TEXT PRIMARY KEY,
    point_type  TEXT NOT NULL,
    district_id TEXT NOT NULL REFERENCES ref_districts(id),
    lat         REAL NOT NULL,
    lon         REAL NOT NULL,
    active      INTEGER NOT NULL,
    data        TEXT NOT NULL
) STRICT;
CREATE INDEX ref_points_type ON ref_points(point_type, district_id);

CREATE TABLE ref_categories (
    code       TEXT PRIMARY KEY,
    major_code TEXT NOT NULL,
    data       TEXT NOT NULL
) STRICT;

CREATE TABLE ref_templates (
    id         TEXT NOT NULL,
    version    INTEGER NOT NULL,
    point_type TEXT NOT NULL,
    data       TEXT NOT NULL,
    PRIMARY KEY (id, version)
) STRICT;
CREATE INDEX ref_templates_type ON ref_templates(point_type, version);

CREATE TABLE ref_users (
    id      TEXT PRIMARY KEY,
    role    TEXT NOT NULL,
    unit_id TEXT REFERENCES ref_units(id),
    data    TEXT NOT NULL
) STRICT;

-- The event log. `seq` is device order (the push order); a local event with pushed_at NULL
-- is in the outbox. Events are never updated except for their sync bookkeeping and outcome.
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
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
    server_seq     INTEGER
) STRICT;
CREATE INDEX events_entity ON events(entity_id, hlc, id);
CREATE INDEX events_outbox ON events(seq) WHERE pushed_at IS NULL AND origin = 'local';

-- Problem projection: the fold of each problem's events, kept in the same transaction.
CREATE TABLE problems (
    id            TEXT PRIMARY KEY,
    code          TEXT NOT NULL,
    status        TEXT NOT NULL,
    category      TEXT NOT NULL,
    description   TEXT NOT NULL,
    address       TEXT NOT NULL,
    lat           REAL,
    lon           REAL,
    district_id   TEXT,
    point_id      TEXT,
    inspection_id TEXT,
    reporter      TEXT NOT NULL,
    severity      TEXT NOT NULL,
    unit_id       TEXT,
    deadline      INTEGER,
    rework_count  INTEGER NOT NULL,
    reported_at   INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    rectified_at  INTEGER,
    closed_at     INTEGER,
    rejected_events INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL
) STRICT;
CREATE INDEX problems_code ON problems(code);
CREATE INDEX problems_status_unit ON problems(status, unit_id, reported_at);
CREATE INDEX problems_unit ON problems(unit_id, reported_at);
CREATE INDEX problems_reported ON problems(reported_at);
CREATE INDEX problems_deadline_open ON problems(deadline)
    WHERE status IN ('dispatched', 'rectifying');
CREATE INDEX problems_district ON problems(district_id, reported_at);
CREATE INDEX problems_point ON problems(point_id);
CREATE INDEX problems_reporter ON problems(reporter, reported_at);
CREATE INDEX problems_category ON problems(category, reported_at);

-- Full-text search over code, description and address. The trigram tokenizer matches any
-- substring of three or more characters, which is what Chinese text needs (no spaces between
-- words); shorter queries fall back to LIKE on the same table.
CREATE VIRTUAL TABLE problems_fts USING fts5(
    code, description, address,
    content = 'problems', content_rowid = 'rowid', tokenize = 'trigram'
);
CREATE TRIGGER problems_fts_ai AFTER INSERT ON problems BEGIN
    INSERT INTO problems_fts(rowid, code, description, address)
    VALUES (new.rowid, new.code, new.description, new.address);
END;
CREATE TRIGGER problems_fts_ad AFTER DELETE ON problems BEGIN
    INSERT INTO problems_fts(problems_fts, rowid, code, description, address)
    VALUES ('delete', old.rowid, old.code, old.description, old.address);
END;
CREATE TRIGGER problems_fts_au AFTER UPDATE OF code, description, address ON problems BEGIN
    INSERT INTO problems_fts(problems_fts, rowid, code, description, address)
    VALUES ('delete', old.rowid, old.code, old.description, old.address);
    INSERT INTO problems_fts(rowid, code, description, address)
    VALUES (new.rowid, new.code, new.description, new.address);
END;

CREATE TABLE inspections (
    id               TEXT PRIMARY KEY,
    point_id         TEXT NOT NULL,
    template_id      TEXT NOT NULL,
    template_version INTEGER NOT NULL,
    inspector        TEXT NOT NULL,
    status           TEXT NOT NULL,
    started_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    score_percent    REAL NOT NULL,
    failed_items     INTEGER NOT NULL,
    rejected_events  INTEGER NOT NULL DEFAULT 0,
    state            TEXT NOT NULL
) STRICT;
CREATE INDEX inspections_point ON inspections(point_id, started_at);
CREATE INDEX inspections_inspector ON inspections(inspector, started_at);

-- Photos present on this device (display copy and thumbnail on disk, named by hash).
CREATE TABLE photos (
    hash            TEXT PRIMARY KEY,
    captured_sha256 TEXT NOT NULL,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    display_bytes   INTEGER NOT NULL,
    exif_lat        REAL,
    exif_lon        REAL,
    taken_at        TEXT,
    created_at      INTEGER NOT NULL,
    uploaded_at     INTEGER
) STRICT;
CREATE INDEX photos_captured ON photos(captured_sha256);

-- Which record each photo belongs to, and in what role. No foreign key to photos: a record
-- pulled from the server may name photos this device has not downloaded (yet).
CREATE TABLE photo_links (
    event_id   TEXT NOT NULL,
    photo_hash TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    role       TEXT NOT NULL,
    item_id    TEXT,
    PRIMARY KEY (event_id, photo_hash)
) STRICT;
CREATE INDEX photo_links_entity ON photo_links(entity_id);
CREATE INDEX photo_links_hash ON photo_links(photo_hash);
