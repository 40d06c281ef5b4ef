-- Scheduled bulletins (issue 16, 定期通报): a console user's "every week / every month"; the
-- server queues the period's bulletin as one of their export jobs once it has closed, at
-- `hour` (city time) on the first day after it. `last_from` is the first day (YYYY-MM-DD) of
-- the newest period queued. Times are Unix ms.
CREATE TABLE report_schedules (
    id         TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    period     TEXT NOT NULL,
    hour       BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_from  TEXT
);
CREATE INDEX report_schedules_owner ON report_schedules (owner, created_at);
