-- Volunteers and citizens on the public report page (issue 17). Times are Unix ms; flags 0/1.
-- Append-only: never edit a released migration.

-- A team of volunteers (志愿服务队): its invite link carries `invite_code` (a new code replaces
-- the old one, which then stops working); its volunteers report in `district_id` and below
-- (none: the whole city).
CREATE TABLE volunteer_teams (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    district_id TEXT,
    invite_code TEXT NOT NULL UNIQUE,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- A volunteer: a user (role volunteer, in the reference data like every user) who joined a
-- team with name and phone. `status`: pending until the team leader or the office approves
-- (approved) or turns them down (rejected). Joining again with the same phone in the same
-- team (a new phone, a cleared browser) is the same volunteer, pending again.
CREATE TABLE volunteers (
    user_id     TEXT PRIMARY KEY,
    team_id     TEXT NOT NULL REFERENCES volunteer_teams (id),
    phone       TEXT NOT NULL,
    status      TEXT NOT NULL,
    leader      BIGINT NOT NULL DEFAULT 0,
    joined_at   BIGINT NOT NULL,
    decided_by  TEXT,
    decided_at  BIGINT
);
CREATE UNIQUE INDEX volunteers_team_phone ON volunteers (team_id, phone);

-- The page's sign-in: the cookie's id kept only as its SHA-256. A citizen reporting
-- anonymously has a session of the city's anonymous user, and their reports are theirs by
-- the session (`public_reports.session_hash`).
CREATE TABLE volunteer_sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL
);
CREATE INDEX volunteer_sessions_user ON volunteer_sessions (user_id);

-- One row per report made on the page, taken before the report is stored: `seq` numbers its
-- problem code (tag VOLU), so a resend of the same client-made id makes the same event and
-- lands once.
CREATE TABLE public_reports (
    seq          BIGSERIAL PRIMARY KEY,
    problem_id   TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL,
    session_hash TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX public_reports_session ON public_reports (session_hash);

-- The city's switches for the public channel (one row).
CREATE TABLE public_settings (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    anonymous_reports BIGINT NOT NULL DEFAULT 0
);
INSERT INTO public_settings (id, anonymous_reports) VALUES (1, 0);
