-- FieldCheck server schema (SQLite). Append-only: never edit a released migration.
-- Times are Unix milliseconds (INTEGER); JSON is TEXT.

-- The event log. `seq` is the pull cursor; `scope_*` are the record's scope attributes as
-- they stood right after this event was stored, so a pull can tell whether a device could see
-- a record at any cursor (entering scope -> full history, leaving scope -> remove).
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT NOT NULL UNIQUE,
    entity_id      TEXT NOT NULL,
    entity_kind    TEXT NOT NULL,
    hlc            TEXT NOT NULL,
    body           TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    device         TEXT NOT NULL,
    actor          TEXT NOT NULL,
    scope_district TEXT,
    scope_unit     TEXT,
    scope_owner    TEXT,
    received_at    INTEGER NOT NULL
);
CREATE INDEX events_entity ON events (entity_id, seq);

CREATE TABLE problems (
    id          TEXT PRIMARY KEY,
    code        TEXT NOT NULL,
    status      TEXT NOT NULL,
    district_id TEXT,
    unit_id     TEXT,
    reporter    TEXT NOT NULL,
    state       TEXT NOT NULL,
    last_seq    INTEGER NOT NULL
);
CREATE INDEX problems_district ON problems (district_id);
CREATE INDEX problems_unit ON problems (unit_id);
CREATE INDEX problems_reporter ON problems (reporter);

CREATE TABLE inspections (
    id          TEXT PRIMARY KEY,
    point_id    TEXT NOT NULL,
    district_id TEXT,
    inspector   TEXT NOT NULL,
    status      TEXT NOT NULL,
    state       TEXT NOT NULL,
    last_seq    INTEGER NOT NULL
);
CREATE INDEX inspections_district ON inspections (district_id);
CREATE INDEX inspections_inspector ON inspections (inspector);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    unit_id       TEXT,
    user_json     TEXT NOT NULL,
    password_hash TEXT
);

-- Bearer tokens, stored only as SHA-256 hashes: device tokens (enrollment) and web sessions.
CREATE TABLE tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    device_id   TEXT,
    device_tag  TEXT,
    device_name TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
);
CREATE INDEX tokens_device ON tokens (device_id);

-- One tag per device, stable across re-enrollment; unique among devices.
CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    tag       TEXT NOT NULL UNIQUE,
    user_id   TEXT NOT NULL REFERENCES users (id)
);

CREATE TABLE enroll_codes (
    code_hash  TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);

CREATE TABLE blobs (
    hash     TEXT PRIMARY KEY,
    size     INTEGER,
    received INTEGER NOT NULL,
    complete BOOLEAN NOT NULL
);

CREATE TABLE reference (
    version    INTEGER PRIMARY KEY,
    bundle     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
