-- The console's overview, ranking and map (issue 14): what they count and place, next to the
-- ledger columns of 0006, and the indexes that let them aggregate in SQL.

-- `rectified_at` (Unix ms) decides 按期 (closed with the rectification no later than the
-- deadline, `fieldcheck_domain::rates`); `lat`/`lon` (WGS-84) place a problem on the map.
-- They are copied from the folded state by a trigger rather than by the push's upsert, so the
-- write path's statements stay as they are.
ALTER TABLE problems
    ADD COLUMN rectified_at BIGINT,
    ADD COLUMN lat DOUBLE PRECISION,
    ADD COLUMN lon DOUBLE PRECISION;

UPDATE problems SET
    rectified_at = ROUND(EXTRACT(EPOCH FROM
        (state::jsonb ->> 'rectified_at')::timestamptz) * 1000)::bigint,
    lat = (state::jsonb -> 'location' ->> 'lat')::double precision,
    lon = (state::jsonb -> 'location' ->> 'lon')::double precision;

CREATE FUNCTION problems_stats_columns() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s jsonb := NEW.state::jsonb;
BEGIN
    NEW.rectified_at := ROUND(EXTRACT(EPOCH FROM (s ->> 'rectified_at')::timestamptz)
        * 1000)::bigint;
    NEW.lat := (s -> 'location' ->> 'lat')::double precision;
    NEW.lon := (s -> 'location' ->> 'lon')::double precision;
    RETURN NEW;
END
$$;

CREATE TRIGGER problems_stats BEFORE INSERT OR UPDATE OF state ON problems
    FOR EACH ROW EXECUTE FUNCTION problems_stats_columns();

-- The ranking: problems a unit received (dispatched to it) in a period, counted from the
-- index where the visibility map allows.
CREATE INDEX problems_received ON problems (dispatched_at)
    INCLUDE (unit_id, status, deadline, rectified_at, rework_count, district_id, reporter);
-- The overview's closed-per-day.
CREATE INDEX problems_closed ON problems (closed_at, status);
-- The ledger's `conflicts=true`: the few events a fold kept but rejected. The predicate is
-- `store::ledger::REJECTED_OUTCOME` verbatim (the serialised `EventOutcome::Applied`).
CREATE INDEX events_rejected ON events (entity_id) WHERE outcome <> '{"outcome":"applied"}';
-- The ledger sorted by deadline (`store::ledger::order_by`: no deadline last either way): the
-- index in each direction, so a page reads 50 entries instead of sorting the whole ledger.
CREATE INDEX problems_deadline_asc ON problems ((deadline IS NULL), deadline, id);
CREATE INDEX problems_deadline_desc ON problems ((deadline IS NULL), deadline DESC, id DESC);
