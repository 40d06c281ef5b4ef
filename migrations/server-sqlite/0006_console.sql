-- The office's console (issue 14): sign-in sessions held by the server, and the problem
-- projection widened with what a ledger filters and sorts on.

-- A console session: the browser holds only a random 256-bit id in an HttpOnly cookie; the
-- server keeps its SHA-256. It ends after `console_idle_secs` without use (each use slides
-- `last_used_at`), at `expires_at` whatever happens, at sign-out (the row is deleted), and at
-- once when the office disables or revokes the user.
CREATE TABLE console_sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- Ledger columns, copied from the folded problem (`state`) on every write. Instants are Unix
-- milliseconds. `source`: `inspection` (found on a checklist inspection), `volunteer` (reported
-- by a volunteer) or `quick_report` (anyone else's report outside an inspection).
ALTER TABLE problems ADD COLUMN category TEXT NOT NULL DEFAULT '';
ALTER TABLE problems ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE problems ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE problems ADD COLUMN point_id TEXT;
ALTER TABLE problems ADD COLUMN inspection_id TEXT;
ALTER TABLE problems ADD COLUMN severity TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE problems ADD COLUMN reporter_role TEXT NOT NULL DEFAULT '';
ALTER TABLE problems ADD COLUMN source TEXT NOT NULL DEFAULT 'quick_report';
ALTER TABLE problems ADD COLUMN rework_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE problems ADD COLUMN deadline INTEGER;
ALTER TABLE problems ADD COLUMN reported_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE problems ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE problems ADD COLUMN dispatched_at INTEGER;
ALTER TABLE problems ADD COLUMN closed_at INTEGER;

-- Existing rows, from their JSON state (RFC 3339 instants to Unix milliseconds).
UPDATE problems SET
    category = COALESCE(json_extract(state, '$.category'), ''),
    description = COALESCE(json_extract(state, '$.description'), ''),
    address = COALESCE(json_extract(state, '$.address'), ''),
    point_id = json_extract(state, '$.point_id'),
    inspection_id = json_extract(state, '$.inspection_id'),
    severity = COALESCE(json_extract(state, '$.severity'), 'normal'),
    reporter_role = COALESCE(json_extract(state, '$.reporter_role'), ''),
    source = CASE
        WHEN json_extract(state, '$.inspection_id') IS NOT NULL THEN 'inspection'
        WHEN json_extract(state, '$.reporter_role') = 'volunteer' THEN 'volunteer'
        ELSE 'quick_report' END,
    rework_count = COALESCE(json_extract(state, '$.rework_count'), 0),
    deadline = CAST(ROUND((julianday(json_extract(state, '$.deadline')) - 2440587.5)
        * 86400000.0) AS INTEGER),
    reported_at = COALESCE(CAST(ROUND((julianday(json_extract(state, '$.reported_at'))
        - 2440587.5) * 86400000.0) AS INTEGER), 0),
    updated_at = COALESCE(CAST(ROUND((julianday(json_extract(state, '$.updated_at'))
        - 2440587.5) * 86400000.0) AS INTEGER), 0),
    dispatched_at = CAST(ROUND((julianday(json_extract(state, '$.dispatched_at'))
        - 2440587.5) * 86400000.0) AS INTEGER),
    closed_at = CAST(ROUND((julianday(json_extract(state, '$.closed_at')) - 2440587.5)
        * 86400000.0) AS INTEGER);

CREATE INDEX problems_status_reported ON problems (status, reported_at);
CREATE INDEX problems_reported ON problems (reported_at);
CREATE INDEX problems_updated ON problems (updated_at);
CREATE INDEX problems_category ON problems (category);
CREATE INDEX problems_point ON problems (point_id);
CREATE INDEX problems_source ON problems (source, reported_at);
-- Overdue: the predicate is `fieldcheck_domain::problem::sql::awaiting_unit()` verbatim.
CREATE INDEX problems_open_deadline ON problems (deadline)
    WHERE status IN ('dispatched', 'rectifying');
