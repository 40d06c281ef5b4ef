-- The office's console (issue 14): sign-in sessions held by the server, and the problem
-- projection widened with what a ledger filters and sorts on.

-- A console session: the browser holds only a random 256-bit id in an HttpOnly cookie; the
-- server keeps its SHA-256. It ends after `console_idle_secs` without use (each use slides
-- `last_used_at`), at `expires_at` whatever happens, at sign-out (the row is deleted), and at
-- once when the office disables or revokes the user.
CREATE TABLE console_sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- Ledger columns, copied from the folded problem (`state`) on every write. Instants are Unix
-- milliseconds. `source`: `inspection` (found on a checklist inspection), `volunteer` (reported
-- by a volunteer) or `quick_report` (anyone else's report outside an inspection).
ALTER TABLE problems
    ADD COLUMN category TEXT NOT NULL DEFAULT '',
    ADD COLUMN description TEXT NOT NULL DEFAULT '',
    ADD COLUMN address TEXT NOT NULL DEFAULT '',
    ADD COLUMN point_id TEXT,
    ADD COLUMN inspection_id TEXT,
    ADD COLUMN severity TEXT NOT NULL DEFAULT 'normal',
    ADD COLUMN reporter_role TEXT NOT NULL DEFAULT '',
    ADD COLUMN source TEXT NOT NULL DEFAULT 'quick_report',
    ADD COLUMN rework_count BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN deadline BIGINT,
    ADD COLUMN reported_at BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN dispatched_at BIGINT,
    ADD COLUMN closed_at BIGINT;

-- Existing rows, from their JSON state (RFC 3339 instants to Unix milliseconds).
UPDATE problems SET
    category = COALESCE(state::jsonb ->> 'category', ''),
    description = COALESCE(state::jsonb ->> 'description', ''),
    address = COALESCE(state::jsonb ->> 'address', ''),
    point_id = state::jsonb ->> 'point_id',
    inspection_id = state::jsonb ->> 'inspection_id',
    severity = COALESCE(state::jsonb ->> 'severity', 'normal'),
    reporter_role = COALESCE(state::jsonb ->> 'reporter_role', ''),
    source = CASE
        WHEN state::jsonb ->> 'inspection_id' IS NOT NULL THEN 'inspection'
        WHEN state::jsonb ->> 'reporter_role' = 'volunteer' THEN 'volunteer'
        ELSE 'quick_report' END,
    rework_count = COALESCE((state::jsonb ->> 'rework_count')::bigint, 0),
    deadline = ROUND(EXTRACT(EPOCH FROM (state::jsonb ->> 'deadline')::timestamptz) * 1000)::bigint,
    reported_at = COALESCE(ROUND(EXTRACT(EPOCH FROM
        (state::jsonb ->> 'reported_at')::timestamptz) * 1000)::bigint, 0),
    updated_at = COALESCE(ROUND(EXTRACT(EPOCH FROM
        (state::jsonb ->> 'updated_at')::timestamptz) * 1000)::bigint, 0),
    dispatched_at = ROUND(EXTRACT(EPOCH FROM
        (state::jsonb ->> 'dispatched_at')::timestamptz) * 1000)::bigint,
    closed_at = ROUND(EXTRACT(EPOCH FROM (state::jsonb ->> 'closed_at')::timestamptz) * 1000)::bigint;

CREATE INDEX problems_status_reported ON problems (status, reported_at);
CREATE INDEX problems_reported ON problems (reported_at);
CREATE INDEX problems_updated ON problems (updated_at);
CREATE INDEX problems_category ON problems (category);
CREATE INDEX problems_point ON problems (point_id);
CREATE INDEX problems_source ON problems (source, reported_at);
-- Overdue: the predicate is `fieldcheck_domain::problem::sql::awaiting_unit()` verbatim.
CREATE INDEX problems_open_deadline ON problems (deadline)
    WHERE status IN ('dispatched', 'rectifying');
