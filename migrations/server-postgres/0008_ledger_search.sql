-- The ledger's text search (issue 14, speed): `search` holds the bigram terms of code and
-- description (`fieldcheck_domain::search::index_terms`, written by the push's upsert),
-- indexed by GIN, so a query reads the matching problems instead of running LIKE over every
-- description. NULL: not indexed yet — rows from before this migration, filled once by
-- `store::ledger::backfill_search_pg` at open.
ALTER TABLE problems ADD COLUMN search TEXT;

-- The terms as a tsvector, built literally: each term one lexeme at its position, so no
-- text-search parser or locale decides what a Chinese character is. A term is letters and
-- digits only, so it needs no escaping inside the quotes. A tsvector keeps positions up to
-- 16383 and 256 of them per lexeme (a description of 2,000 characters can repeat a bigram
-- more often); a longer text gets the one lexeme `~` (never a term: terms are letters and
-- digits), which every query also matches, and `problems_search` decides those few on the
-- terms text itself.
CREATE FUNCTION problems_search_doc(terms text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH t AS (
        SELECT term, pos
        FROM unnest(string_to_array(terms, ' ')) WITH ORDINALITY AS u(term, pos)
        WHERE term <> ''
    )
    SELECT CASE
        WHEN terms IS NULL THEN NULL
        WHEN (SELECT count(*) FROM t) > 16383
            OR (SELECT count(*) FROM t GROUP BY term ORDER BY 1 DESC LIMIT 1) > 256
            THEN '''~'''::tsvector
        ELSE (SELECT COALESCE(string_agg('''' || term || ''':' || pos, ' '), '')::tsvector
              FROM t)
    END
$$;

-- The documents in a narrow table of their own, keyed like SQLite's FTS5 rows by `last_seq`
-- (the seq of the event that last wrote the problem: unique across problems): a common term
-- matches a third of the ledger, and reading those rows of `problems`, which carry the whole
-- folded state, would read most of the table. `terms` is kept only where `doc` is `~`.
CREATE TABLE problems_search_docs (
    last_seq BIGINT PRIMARY KEY,
    doc      tsvector,
    terms    TEXT
);
CREATE INDEX problems_search_docs_gin ON problems_search_docs USING gin (doc);
CREATE INDEX problems_last_seq ON problems (last_seq);
-- Rows the backfill still has to index (empty once it has run).
CREATE INDEX problems_search_pending ON problems (id) WHERE search IS NULL;

CREATE FUNCTION problems_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d tsvector;
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.search IS NOT NULL THEN
        DELETE FROM problems_search_docs WHERE last_seq = OLD.last_seq;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.search IS NOT NULL THEN
        d := problems_search_doc(NEW.search);
        INSERT INTO problems_search_docs (last_seq, doc, terms)
            VALUES (NEW.last_seq, d, CASE WHEN d = '''~'''::tsvector THEN NEW.search END);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER problems_search_sync AFTER INSERT OR DELETE OR UPDATE OF search, last_seq
    ON problems FOR EACH ROW EXECUTE FUNCTION problems_search_sync();

-- Whether `terms` (of a problem too long for a tsvector) matches an FTS5-syntax query from
-- `fieldcheck_domain::search::match_query`, as the index would: a phrase is its terms
-- separated by single spaces, a prefix the start of a term (terms are letters and digits, so
-- LIKE's `%` and `_` cannot occur in them). PL/pgSQL, so that the planner keeps it one cheap
-- call (an inlined subquery is costed per row and pulls JIT into every count).
CREATE FUNCTION problems_search_long(terms text, query text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 100 AS $$
BEGIN
    RETURN (
        SELECT bool_and(' ' || terms || ' ' LIKE CASE
            WHEN part LIKE '% *'
                THEN '% ' || replace(replace(left(part, -2), '"', ''), ' + ', ' ') || '%'
            ELSE '% ' || replace(replace(part, '"', ''), ' + ', ' ') || ' %' END)
        FROM string_to_table(query, ' AND ') AS part);
END
$$;

-- `last_seq` of the problems matching an FTS5-syntax query, so that the ledger's SQL is the
-- same text on both backends: SQLite reads `problems_search($n)` as its FTS5 table,
-- PostgreSQL calls this, which spells the query as a tsquery (`"` → `'`, ` + ` → ` <-> `,
-- ` AND ` → ` & `, `' *` → `':*`), or `~`. One condition the GIN index answers whole, so
-- that the planner knows how many rows come back (and picks the plan for a rare or a common
-- term), and a term of one bigram needs no row rechecked.
CREATE FUNCTION problems_search(query text) RETURNS TABLE (rowid bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT last_seq FROM problems_search_docs
    WHERE doc @@ ('(' || replace(replace(replace(replace(query, '"', ''''), ' + ', ' <-> '),
            ' AND ', ' & '), ''' *', ''':*') || ') | ''~''')::tsquery
        AND (terms IS NULL OR problems_search_long(terms, query))
$$;
