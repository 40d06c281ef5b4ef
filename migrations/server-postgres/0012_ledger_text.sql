-- The ledger's text search on PostgreSQL without a join per match (issue 14, speed). A search
-- found its matches in `problems_search_docs` and then joined each one to `problems` by
-- `last_seq` to count it and to sort it: at 100,000 problems 14,000 index probes for 垃圾
-- (100 ms for the total of 垃圾 with a status), 6,800 for 乱堆乱放 (80 ms for its page), and a
-- rare term whose matches are old was planned as a walk down the whole ledger in report order
-- (400 ms for 井盖). Each document now carries what a plain search (text, status, report order) needs,
-- so `store::ledger::pg_text_search` counts and sorts the matches in this table alone. The
-- trigger already rewrites a problem's document on every write (`last_seq` changes), so the
-- copies cannot go stale.
ALTER TABLE problems_search_docs
    ADD COLUMN id TEXT,
    ADD COLUMN status TEXT,
    ADD COLUMN reported_at BIGINT;

-- The ledger's default order over the documents: a common word's first page is the newest
-- few hundred documents, not all its matches sorted.
CREATE INDEX problems_search_docs_reported ON problems_search_docs (reported_at, id);
-- A word with a status: status follows age (the newest problems are seldom closed yet), so
-- report order checked for the status read 20,000 documents for the first 50 closed ones;
-- and the total intersects the word's matches with the status inside the indexes.
CREATE INDEX problems_search_docs_status ON problems_search_docs (status, reported_at, id);

-- After the index, not before: built over the rows just updated, it would stay unused until
-- every transaction older than this one had ended.
UPDATE problems_search_docs d SET id = p.id, status = p.status, reported_at = p.reported_at
FROM problems p WHERE p.last_seq = d.last_seq;

CREATE OR REPLACE FUNCTION problems_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d tsvector;
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.search IS NOT NULL THEN
        DELETE FROM problems_search_docs WHERE last_seq = OLD.last_seq;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.search IS NOT NULL THEN
        d := problems_search_doc(NEW.search);
        INSERT INTO problems_search_docs (last_seq, doc, terms, id, status, reported_at)
            VALUES (NEW.last_seq, d, CASE WHEN d = '''~'''::tsvector THEN NEW.search END,
                    NEW.id, NEW.status, NEW.reported_at);
    END IF;
    RETURN NULL;
END
$$;

-- Every write sets `last_seq`, but the copies must follow even a write that would not.
DROP TRIGGER problems_search_sync ON problems;
CREATE TRIGGER problems_search_sync
    AFTER INSERT OR DELETE OR UPDATE OF search, last_seq, id, status, reported_at
    ON problems FOR EACH ROW EXECUTE FUNCTION problems_search_sync();

-- The matching documents with their copies; `problems_search` (the form both backends share)
-- is now this, so the tsquery is spelled in one place. Both stay plain SQL so the planner
-- inlines them and sees the GIN condition on a constant.
CREATE FUNCTION problems_search_ledger(query text)
    RETURNS TABLE (rowid bigint, id text, status text, reported_at bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT last_seq, id, status, reported_at FROM problems_search_docs
    WHERE doc @@ ('(' || replace(replace(replace(replace(query, '"', ''''), ' + ', ' <-> '),
            ' AND ', ' & '), ''' *', ''':*') || ') | ''~''')::tsquery
        AND (terms IS NULL OR problems_search_long(terms, query))
$$;

CREATE OR REPLACE FUNCTION problems_search(query text) RETURNS TABLE (rowid bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT rowid FROM problems_search_ledger(query)
$$;

-- Deep pages of the default order: `ORDER BY reported_at DESC, id DESC OFFSET 4950` read
-- 5,000 table rows through an index of `reported_at` alone (to break ties by `id`); with `id`
-- in the index they are 5,000 index entries.
DROP INDEX problems_reported;
CREATE INDEX problems_reported ON problems (reported_at, id);
