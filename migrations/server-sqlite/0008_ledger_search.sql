-- The ledger's text search (issue 14, speed): `search` holds the bigram terms of code and
-- description, what `q` searches (`store::ledger::search_terms`, written by the push's
-- upsert), indexed by FTS5, so a query reads the matching problems instead of running LIKE
-- over every description. NULL: not indexed yet — rows from before this migration,
-- filled once by `store::ledger::backfill_search_sqlite` at open.
ALTER TABLE problems ADD COLUMN search TEXT;

-- Keyed by `last_seq`, not the implicit rowid: VACUUM may renumber the rowids of a table
-- without an INTEGER PRIMARY KEY, while `last_seq` is the seq of the event that last wrote
-- the row — unique across problems (an event belongs to one record) and stored in the row.
-- Contentless: the terms live in `problems.search` already. The `ascii` tokenizer splits on
-- ASCII non-alphanumerics only, so each term (letters and digits, space separated) is exactly
-- one token, whatever Unicode tables this SQLite was built with.
CREATE VIRTUAL TABLE problems_search USING fts5(
    search, content = '', contentless_delete = 1, tokenize = 'ascii'
);
CREATE INDEX problems_last_seq ON problems (last_seq);
-- Rows the backfill still has to index (empty once it has run).
CREATE INDEX problems_search_pending ON problems (id) WHERE search IS NULL;

CREATE TRIGGER problems_search_insert AFTER INSERT ON problems
    WHEN NEW.search IS NOT NULL BEGIN
    INSERT INTO problems_search (rowid, search) VALUES (NEW.last_seq, NEW.search);
END;
CREATE TRIGGER problems_search_unindex AFTER UPDATE OF search, last_seq ON problems
    WHEN OLD.search IS NOT NULL BEGIN
    DELETE FROM problems_search WHERE rowid = OLD.last_seq;
END;
CREATE TRIGGER problems_search_reindex AFTER UPDATE OF search, last_seq ON problems
    WHEN NEW.search IS NOT NULL BEGIN
    INSERT INTO problems_search (rowid, search) VALUES (NEW.last_seq, NEW.search);
END;
CREATE TRIGGER problems_search_delete AFTER DELETE ON problems
    WHEN OLD.search IS NOT NULL BEGIN
    DELETE FROM problems_search WHERE rowid = OLD.last_seq;
END;
