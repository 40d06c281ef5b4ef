//! Ledger text search on the device: the bigram index of `fieldcheck_domain::search` (one
//! rule for the device and the server) kept in an FTS5 table beside `problems`.

pub(crate) use fieldcheck_domain::search::{index_terms, match_query};

/// Indexes every record noted in `search_pending` (new, or text changed) and clears the
/// list; runs inside the caller's write transaction. Batching is the point: FTS5 writes one
/// segment per transaction, so a page of 500 records costs little more than one record.
pub(crate) fn catch_up(conn: &rusqlite::Connection) -> rusqlite::Result<usize> {
    if !has_pending(conn)? {
        return Ok(0);
    }
    conn.prepare_cached(
        "DELETE FROM problems_search
         WHERE rowid IN (SELECT rid FROM search_pending WHERE reindex = 1)",
    )?
    .execute([])?;
    let n = conn
        .prepare_cached(
            "INSERT INTO problems_search (rowid, terms)
             SELECT p.rid, fc_search_terms(p.code, p.description, p.address)
             FROM search_pending s JOIN problems p ON p.rid = s.rid ORDER BY s.rid",
        )?
        .execute([])?;
    conn.prepare_cached("DELETE FROM search_pending")?
        .execute([])?;
    Ok(n)
}

pub(crate) fn has_pending(conn: &rusqlite::Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM search_pending)")?
        .query_row([], |r| r.get(0))
}

/// `fc_search_terms(code, description, address)`, the index document as SQL sees it: the
/// triggers that keep the index in step with `problems` call it, so every connection that
/// writes problems registers it (`db::open`).
pub(crate) fn register(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "fc_search_terms",
        -1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let mut fields = Vec::with_capacity(ctx.len());
            for i in 0..ctx.len() {
                fields.push(ctx.get::<Option<String>>(i)?.unwrap_or_default());
            }
            let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
            Ok(index_terms(&refs))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// Every substring of a run of letters and digits is found, and a substring that crosses
    /// two runs or two fields is not (the same FTS5 table and tokenizer as the store).
    #[test]
    fn finds_exactly_the_substrings_in_sqlite() {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE s USING fts5(terms, content = '', contentless_delete = 1,
                 tokenize = 'unicode61 remove_diacritics 0');
             INSERT INTO s(rowid, terms)
                 VALUES (1, fc_search_terms('GL-20261123-A1B2-0001', '八一七北路积水严重', '鼓楼区东街'));
             INSERT INTO s(rowid, terms) VALUES (2, fc_search_terms('X', '东', '街路灯'));",
        )
        .unwrap();
        let hits = |term: &str| -> Vec<i64> {
            let q = match_query(term).unwrap();
            let mut st = conn
                .prepare("SELECT rowid FROM s WHERE s MATCH ?1 ORDER BY rowid")
                .unwrap();
            st.query_map([q], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let text: Vec<char> = "八一七北路积水严重".chars().collect();
        for i in 0..text.len() {
            for j in i + 1..=text.len() {
                let sub: String = text[i..j].iter().collect();
                assert!(hits(&sub).contains(&1), "{sub} not found");
            }
        }
        assert_eq!(hits("a1b2"), vec![1]);
        assert_eq!(hits("东街"), vec![1]);
        assert_eq!(hits("街"), vec![1, 2]);
        assert_eq!(hits("重鼓"), Vec::<i64>::new(), "crosses two fields");
        assert_eq!(hits("东街路"), Vec::<i64>::new(), "crosses two fields");
        assert_eq!(hits("积水严重东"), Vec::<i64>::new());
        conn.execute("DELETE FROM s WHERE rowid = 1", []).unwrap();
        assert_eq!(hits("街"), vec![2]);
    }
}
