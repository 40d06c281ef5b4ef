-- The ledger's pages read indexes, not rows (issue 14, speed). `store::ledger::page_sql` picks
-- a page's ids in an inner query and reads only those rows from the table; for that inner
-- query — and the total's count — to touch no table row, the index it uses must hold every
-- column the filter and the sort name. A filter matching a quarter of the ledger used to read
-- a quarter of the table (each row carrying the whole folded state) to sort it: 60–170 ms at
-- 100,000 problems. Each index below replaces a narrower one of the same lead column, so a
-- push writes no more index entries than before.

-- Status (and the to-do list's statuses), with what a status filter is most often combined
-- with: district, unit, category, overdue (deadline) and text search (last_seq); `closed_at`
-- for the overview's closed per day, which SQLite reads through `status = 'closed'`.
DROP INDEX problems_status_reported;
CREATE INDEX problems_ledger_status ON problems (status, reported_at, id, deadline,
    district_id, unit_id, category, last_seq, closed_at);

-- Overdue: the predicate is `fieldcheck_domain::problem::sql::awaiting_unit()` verbatim.
DROP INDEX problems_open_deadline;
CREATE INDEX problems_open_deadline ON problems (deadline, reported_at, id, status,
    district_id, unit_id, category, last_seq)
    WHERE status IN ('dispatched', 'rectifying');

-- One column's filter sorted by report time (the ledger's default order), `id` breaking ties.
DROP INDEX problems_district;
CREATE INDEX problems_district ON problems (district_id, reported_at, id, status, deadline);
DROP INDEX problems_unit;
CREATE INDEX problems_unit ON problems (unit_id, reported_at, id, status, deadline);
DROP INDEX problems_reporter;
CREATE INDEX problems_reporter ON problems (reporter, reported_at, id);
DROP INDEX problems_category;
CREATE INDEX problems_category ON problems (category, reported_at, id);
DROP INDEX problems_point;
CREATE INDEX problems_point ON problems (point_id, reported_at, id);
DROP INDEX problems_source;
CREATE INDEX problems_source ON problems (source, reported_at, id);

-- Text search: the index's matches (by `last_seq`) with what sorts and narrows them.
DROP INDEX problems_last_seq;
CREATE INDEX problems_last_seq ON problems (last_seq, status, reported_at, id);
