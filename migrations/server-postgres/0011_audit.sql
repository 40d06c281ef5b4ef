-- Setup audit (issue 15): every change the office makes to the city's setup (reference
-- imports, users, enrollment codes, devices), by whom and when, with the record before and
-- after as JSON. Times are Unix ms. Rows are only ever inserted.
CREATE TABLE audit (
    id       BIGSERIAL PRIMARY KEY,
    at       BIGINT NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT
);
CREATE INDEX audit_at ON audit (at, id);
