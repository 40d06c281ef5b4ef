-- The console's overview, ranking and map (issue 14): what they count and place, next to the
-- ledger columns of 0006, and the indexes that let them aggregate in SQL.

-- `rectified_at` (Unix ms) decides 按期 (closed with the rectification no later than the
-- deadline, `fieldcheck_domain::rates`); `lat`/`lon` (WGS-84) place a problem on the map.
-- They are copied from the folded state by triggers rather than by the push's upsert, so the
-- write path's statements stay as they are; the triggers read only what the upsert just wrote.
ALTER TABLE problems ADD COLUMN rectified_at INTEGER;
ALTER TABLE problems ADD COLUMN lat REAL;
ALTER TABLE problems ADD COLUMN lon REAL;

UPDATE problems SET
    rectified_at = CAST(ROUND((julianday(json_extract(state, '$.rectified_at')) - 2440587.5)
        * 86400000.0) AS INTEGER),
    lat = json_extract(state, '$.location.lat'),
    lon = json_extract(state, '$.location.lon');

-- Recursive triggers are off (SQLite's default), so the inner UPDATE does not fire again; it
-- touches only these three columns, which no `UPDATE OF state` trigger watches anyway.
CREATE TRIGGER problems_stats_insert AFTER INSERT ON problems BEGIN
    UPDATE problems SET
        rectified_at = CAST(ROUND((julianday(json_extract(NEW.state, '$.rectified_at'))
            - 2440587.5) * 86400000.0) AS INTEGER),
        lat = json_extract(NEW.state, '$.location.lat'),
        lon = json_extract(NEW.state, '$.location.lon')
    WHERE id = NEW.id;
END;
CREATE TRIGGER problems_stats_update AFTER UPDATE OF state ON problems BEGIN
    UPDATE problems SET
        rectified_at = CAST(ROUND((julianday(json_extract(NEW.state, '$.rectified_at'))
            - 2440587.5) * 86400000.0) AS INTEGER),
        lat = json_extract(NEW.state, '$.location.lat'),
        lon = json_extract(NEW.state, '$.location.lon')
    WHERE id = NEW.id;
END;

-- The ranking: problems a unit received (dispatched to it) in a period, counted without
-- touching the table rows (which carry the whole folded state).
CREATE INDEX problems_received ON problems (dispatched_at, unit_id, status, deadline,
    rectified_at, rework_count, district_id, reporter);
-- The overview's closed-per-day.
CREATE INDEX problems_closed ON problems (closed_at, status);
-- The ledger's `conflicts=true`: the few events a fold kept but rejected. The predicate is
-- `store::ledger::REJECTED_OUTCOME` verbatim (the serialised `EventOutcome::Applied`).
CREATE INDEX events_rejected ON events (entity_id) WHERE outcome <> '{"outcome":"applied"}';
-- The ledger sorted by deadline (`store::ledger::order_by`: no deadline last either way): the
-- index in each direction, so a page reads 50 entries instead of sorting the whole ledger.
CREATE INDEX problems_deadline_asc ON problems ((deadline IS NULL), deadline, id);
CREATE INDEX problems_deadline_desc ON problems ((deadline IS NULL), deadline DESC, id DESC);
