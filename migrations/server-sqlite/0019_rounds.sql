-- Evaluation rounds (模拟测评 / 四不两直, issue 18). A round is drawn once from the reference
-- data (`fieldcheck_domain::evaluation::draw`, seeded) and never redrawn: its points and
-- their inspectors are stored. Dates are the city's calendar days as YYYY-MM-DD; times Unix ms.
CREATE TABLE rounds (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    round_date          TEXT NOT NULL,
    seed                TEXT NOT NULL,
    exclude_recent_days INTEGER NOT NULL DEFAULT 0,
    quotas              TEXT NOT NULL,
    inspectors          TEXT NOT NULL,
    reference_version   INTEGER NOT NULL,
    created_by          TEXT NOT NULL,
    created_at          INTEGER NOT NULL
);
CREATE INDEX rounds_date ON rounds (round_date, created_at);

-- The drawn points: which quota drew each (its index), its rank in the draw, its inspector.
-- `round_date` is the round's, repeated so a device's tasks are one indexed lookup.
CREATE TABLE round_points (
    round_id    TEXT NOT NULL REFERENCES rounds (id),
    point_id    TEXT NOT NULL,
    point_type  TEXT NOT NULL,
    district_id TEXT NOT NULL,
    quota       INTEGER NOT NULL,
    draw_rank   INTEGER NOT NULL,
    inspector   TEXT NOT NULL,
    round_date  TEXT NOT NULL,
    PRIMARY KEY (round_id, point_id)
);
CREATE INDEX round_points_inspector ON round_points (inspector, round_date);
