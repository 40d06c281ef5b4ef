//! The set-oriented statements of a push group (see `push.rs`), per backend.
//!
//! * SQLite: `IN (…)` lists and multi-row `VALUES`, cut into a few fixed sizes so that each
//!   connection's prepared-statement cache holds a handful of texts, not one per batch size.
//! * PostgreSQL: one statement per step whatever the number of rows — arrays bound as
//!   parameters (`= ANY($1)`, `UNNEST(…) WITH ORDINALITY`), so a group is a few round trips.

use std::collections::HashSet;

use async_trait::async_trait;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::{AssertSqlSafe, Row};

use super::ledger::{PROBLEM_LEDGER_COLUMNS, PROBLEM_LEDGER_UPDATE};
use super::push::{Backend, InspectionRow, NewRow, ProblemRow, RecordRow, StoredRow};
use super::sql::{APPEND_LOCK_KEY, attrs_from_row};
use crate::error::StoreError;

/// Row counts a multi-row SQLite statement is cut into (largest first). Every size is a
/// separate cached statement; 23 columns (problems) × 128 rows stays far below SQLite's
/// 32,766 variables.
const SQLITE_CHUNKS: [usize; 4] = [128, 32, 8, 1];

/// Cuts `n` rows into chunk lengths from `SQLITE_CHUNKS`, largest first.
fn chunk_lens(mut n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for size in SQLITE_CHUNKS {
        while n >= size {
            out.push(size);
            n -= size;
        }
    }
    out
}

/// `(?, ?, …)` repeated `rows` times, `cols` each, comma separated.
fn values_list(rows: usize, cols: usize) -> String {
    let one = format!("({})", vec!["?"; cols].join(", "));
    vec![one; rows].join(", ")
}

/// An `IN (…)` list of `n` placeholders, `n` rounded up to a power of two (min 8) so only a
/// few statement texts exist; the padding repeats the last value.
fn in_list_len(n: usize) -> usize {
    n.next_power_of_two().max(8)
}

const IN_CHUNK: usize = 512;

#[derive(Clone)]
pub(crate) struct SqliteBatch(pub SqlitePool);

#[derive(Clone)]
pub(crate) struct PgBatch(pub PgPool);

type SqliteTx = sqlx::Transaction<'static, sqlx::Sqlite>;
type PgTx = sqlx::Transaction<'static, sqlx::Postgres>;

/// Runs `select … IN (<list>) …` over `keys` in padded chunks; `sql` has `{}` for the list.
async fn sqlite_in(
    tx: &mut SqliteTx,
    sql: &str,
    keys: &[String],
) -> Result<Vec<sqlx::sqlite::SqliteRow>, StoreError> {
    let mut out = Vec::new();
    for chunk in keys.chunks(IN_CHUNK) {
        let n = in_list_len(chunk.len());
        let text = sql.replace("{}", &vec!["?"; n].join(", "));
        let mut q = sqlx::query(AssertSqlSafe(text));
        for i in 0..n {
            q = q.bind(&chunk[i.min(chunk.len() - 1)]);
        }
        out.extend(q.fetch_all(&mut **tx).await?);
    }
    Ok(out)
}

#[async_trait]
impl Backend for SqliteBatch {
    type Tx = SqliteTx;

    async fn begin(&self) -> Result<SqliteTx, StoreError> {
        Ok(self.0.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn commit(tx: SqliteTx) -> Result<(), StoreError> {
        Ok(tx.commit().await?)
    }

    async fn stored_events(
        tx: &mut SqliteTx,
        ids: &[String],
    ) -> Result<Vec<StoredRow>, StoreError> {
        let rows = sqlite_in(
            tx,
            "SELECT event_id, entity_id, hlc, outcome FROM events WHERE event_id IN ({})",
            ids,
        )
        .await?;
        // A padded list repeats a key, but `IN` matches each row once.
        Ok(rows
            .iter()
            .map(|r| StoredRow {
                event_id: r.get("event_id"),
                entity_id: r.get("entity_id"),
                hlc: r.get("hlc"),
                outcome: r.get("outcome"),
            })
            .collect())
    }

    async fn record_events(
        tx: &mut SqliteTx,
        entities: &[String],
    ) -> Result<Vec<RecordRow>, StoreError> {
        // Chunks hold whole records, so per record the rows stay in seq order.
        let rows = sqlite_in(
            tx,
            "SELECT seq, entity_id, entity_kind, body, outcome, scope_district, scope_unit, \
             scope_owner FROM events WHERE entity_id IN ({}) ORDER BY entity_id, seq",
            entities,
        )
        .await?;
        Ok(rows.iter().map(record_row).collect())
    }

    async fn insert_events(
        tx: &mut SqliteTx,
        rows: &[NewRow<'_>],
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        let mut at = 0;
        for len in chunk_lens(rows.len()) {
            let chunk = &rows[at..at + len];
            at += len;
            let text = format!(
                "INSERT INTO events (event_id, entity_id, entity_kind, hlc, body, outcome, \
                 device, actor, scope_district, scope_unit, scope_owner, received_at) \
                 VALUES {} RETURNING event_id, seq",
                values_list(len, 12)
            );
            let mut q = sqlx::query(AssertSqlSafe(text));
            for r in chunk {
                q = q
                    .bind(&r.event.id)
                    .bind(&r.event.entity)
                    .bind(r.entity_kind)
                    .bind(&r.event.hlc)
                    .bind(&r.event.body)
                    .bind(&r.outcome)
                    .bind(&r.event.ev.device)
                    .bind(&r.event.ev.actor)
                    .bind(&r.attrs.district)
                    .bind(&r.attrs.unit)
                    .bind(&r.attrs.owner)
                    .bind(r.received_at);
            }
            for row in q.fetch_all(&mut **tx).await? {
                out.push((row.get("event_id"), row.get("seq")));
            }
        }
        Ok(out)
    }

    async fn update_outcomes(
        tx: &mut SqliteTx,
        updates: &[(String, String)],
    ) -> Result<(), StoreError> {
        for (id, outcome) in updates {
            sqlx::query("UPDATE events SET outcome = ? WHERE event_id = ?")
                .bind(outcome)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    async fn upsert_problems(tx: &mut SqliteTx, rows: &[ProblemRow]) -> Result<(), StoreError> {
        let mut at = 0;
        for len in chunk_lens(rows.len()) {
            let chunk = &rows[at..at + len];
            at += len;
            let text = format!(
                "INSERT INTO problems (id, code, status, district_id, unit_id, reporter, state, \
                 last_seq, {PROBLEM_LEDGER_COLUMNS}) VALUES {} ON CONFLICT (id) DO UPDATE SET \
                 code = excluded.code, \
                 status = excluded.status, district_id = excluded.district_id, \
                 unit_id = excluded.unit_id, reporter = excluded.reporter, \
                 state = excluded.state, last_seq = excluded.last_seq, {PROBLEM_LEDGER_UPDATE}",
                values_list(len, 23)
            );
            let mut q = sqlx::query(AssertSqlSafe(text));
            for r in chunk {
                let l = &r.ledger;
                q = q
                    .bind(&r.id)
                    .bind(&r.code)
                    .bind(r.status)
                    .bind(&r.district_id)
                    .bind(&r.unit_id)
                    .bind(&r.reporter)
                    .bind(&r.state)
                    .bind(r.last_seq)
                    .bind(&l.category)
                    .bind(&l.description)
                    .bind(&l.address)
                    .bind(&l.point_id)
                    .bind(&l.inspection_id)
                    .bind(l.severity)
                    .bind(l.reporter_role)
                    .bind(l.source)
                    .bind(l.rework_count)
                    .bind(l.deadline)
                    .bind(l.reported_at)
                    .bind(l.updated_at)
                    .bind(l.dispatched_at)
                    .bind(l.closed_at)
                    .bind(&l.search);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn upsert_inspections(
        tx: &mut SqliteTx,
        rows: &[InspectionRow],
    ) -> Result<(), StoreError> {
        let mut at = 0;
        for len in chunk_lens(rows.len()) {
            let chunk = &rows[at..at + len];
            at += len;
            let text = format!(
                "INSERT INTO inspections (id, point_id, district_id, inspector, status, state, \
                 last_seq) VALUES {} ON CONFLICT (id) DO UPDATE SET point_id = excluded.point_id, \
                 district_id = excluded.district_id, inspector = excluded.inspector, \
                 status = excluded.status, state = excluded.state, \
                 last_seq = excluded.last_seq",
                values_list(len, 7)
            );
            let mut q = sqlx::query(AssertSqlSafe(text));
            for r in chunk {
                q = q
                    .bind(&r.id)
                    .bind(&r.point_id)
                    .bind(&r.district_id)
                    .bind(&r.inspector)
                    .bind(r.status)
                    .bind(&r.state)
                    .bind(r.last_seq);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn problem_codes(
        tx: &mut SqliteTx,
        codes: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlite_in(
            tx,
            "SELECT code, id FROM problems WHERE code IN ({})",
            codes,
        )
        .await?;
        Ok(rows.iter().map(|r| (r.get("code"), r.get("id"))).collect())
    }

    async fn complete_blobs(
        tx: &mut SqliteTx,
        hashes: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let rows = sqlite_in(
            tx,
            "SELECT hash FROM blobs WHERE complete AND hash IN ({})",
            hashes,
        )
        .await?;
        Ok(rows.iter().map(|r| r.get("hash")).collect())
    }

    async fn rejected_counts(
        tx: &mut SqliteTx,
        keys: &[String],
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let rows = sqlite_in(
            tx,
            "SELECT counter, window_start, n FROM rate_counts WHERE counter IN ({})",
            keys,
        )
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("counter"), r.get("window_start"), r.get("n")))
            .collect())
    }

    async fn put_rejected_counts(
        tx: &mut SqliteTx,
        rows: &[(String, i64, i64)],
    ) -> Result<(), StoreError> {
        for (key, end, n) in rows {
            sqlx::query(
                "INSERT INTO rate_counts (counter, window_start, n) VALUES (?, ?, ?) \
                 ON CONFLICT (counter) DO UPDATE SET window_start = excluded.window_start, \
                 n = excluded.n",
            )
            .bind(key)
            .bind(end)
            .bind(n)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Backend for PgBatch {
    type Tx = PgTx;

    async fn begin(&self) -> Result<PgTx, StoreError> {
        let mut tx = self.0.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    async fn commit(tx: PgTx) -> Result<(), StoreError> {
        Ok(tx.commit().await?)
    }

    async fn stored_events(tx: &mut PgTx, ids: &[String]) -> Result<Vec<StoredRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT event_id, entity_id, hlc, outcome FROM events WHERE event_id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(&mut **tx)
        .await?;
        Ok(rows
            .iter()
            .map(|r| StoredRow {
                event_id: r.get("event_id"),
                entity_id: r.get("entity_id"),
                hlc: r.get("hlc"),
                outcome: r.get("outcome"),
            })
            .collect())
    }

    async fn record_events(
        tx: &mut PgTx,
        entities: &[String],
    ) -> Result<Vec<RecordRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, entity_id, entity_kind, body, outcome, scope_district, scope_unit, \
             scope_owner FROM events WHERE entity_id = ANY($1) ORDER BY entity_id, seq",
        )
        .bind(entities)
        .fetch_all(&mut **tx)
        .await?;
        Ok(rows.iter().map(record_row).collect())
    }

    async fn insert_events(
        tx: &mut PgTx,
        rows: &[NewRow<'_>],
    ) -> Result<Vec<(String, i64)>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let col = |f: fn(&NewRow<'_>) -> String| rows.iter().map(f).collect::<Vec<String>>();
        let opt = |f: fn(&NewRow<'_>) -> Option<String>| {
            rows.iter().map(f).collect::<Vec<Option<String>>>()
        };
        // ORDER BY ord: identity values are handed out in submission order.
        let out = sqlx::query(
            "INSERT INTO events (event_id, entity_id, entity_kind, hlc, body, outcome, device, \
             actor, scope_district, scope_unit, scope_owner, received_at) \
             SELECT e, en, k, h, b, o, d, a, sd, su, so, r FROM UNNEST($1::text[], $2::text[], \
             $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
             $9::text[], $10::text[], $11::text[], $12::bigint[]) WITH ORDINALITY \
             AS t(e, en, k, h, b, o, d, a, sd, su, so, r, ord) ORDER BY ord \
             RETURNING event_id, seq",
        )
        .bind(col(|r| r.event.id.clone()))
        .bind(col(|r| r.event.entity.clone()))
        .bind(col(|r| r.entity_kind.to_owned()))
        .bind(col(|r| r.event.hlc.clone()))
        .bind(col(|r| r.event.body.clone()))
        .bind(col(|r| r.outcome.clone()))
        .bind(col(|r| r.event.ev.device.clone()))
        .bind(col(|r| r.event.ev.actor.clone()))
        .bind(opt(|r| r.attrs.district.clone()))
        .bind(opt(|r| r.attrs.unit.clone()))
        .bind(opt(|r| r.attrs.owner.clone()))
        .bind(rows.iter().map(|r| r.received_at).collect::<Vec<i64>>())
        .fetch_all(&mut **tx)
        .await?;
        Ok(out
            .iter()
            .map(|r| (r.get("event_id"), r.get("seq")))
            .collect())
    }

    async fn update_outcomes(
        tx: &mut PgTx,
        updates: &[(String, String)],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE events SET outcome = v.o FROM UNNEST($1::text[], $2::text[]) AS v(id, o) \
             WHERE events.event_id = v.id",
        )
        .bind(updates.iter().map(|u| u.0.clone()).collect::<Vec<_>>())
        .bind(updates.iter().map(|u| u.1.clone()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn upsert_problems(tx: &mut PgTx, rows: &[ProblemRow]) -> Result<(), StoreError> {
        fn col<T: Clone>(rows: &[ProblemRow], f: impl Fn(&ProblemRow) -> T) -> Vec<T> {
            rows.iter().map(f).collect()
        }
        let text = format!(
            "INSERT INTO problems (id, code, status, district_id, unit_id, reporter, state, \
             last_seq, {PROBLEM_LEDGER_COLUMNS}) SELECT * FROM UNNEST($1::text[], $2::text[], \
             $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], \
             $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], \
             $15::text[], $16::text[], $17::bigint[], $18::bigint[], $19::bigint[], \
             $20::bigint[], $21::bigint[], $22::bigint[], $23::text[]) \
             ON CONFLICT (id) DO UPDATE SET code = excluded.code, \
             status = excluded.status, district_id = excluded.district_id, \
             unit_id = excluded.unit_id, reporter = excluded.reporter, \
             state = excluded.state, last_seq = excluded.last_seq, {PROBLEM_LEDGER_UPDATE}"
        );
        sqlx::query(AssertSqlSafe(text))
            .bind(col(rows, |r| r.id.clone()))
            .bind(col(rows, |r| r.code.clone()))
            .bind(col(rows, |r| r.status.to_owned()))
            .bind(col(rows, |r| r.district_id.clone()))
            .bind(col(rows, |r| r.unit_id.clone()))
            .bind(col(rows, |r| r.reporter.clone()))
            .bind(col(rows, |r| r.state.clone()))
            .bind(col(rows, |r| r.last_seq))
            .bind(col(rows, |r| r.ledger.category.clone()))
            .bind(col(rows, |r| r.ledger.description.clone()))
            .bind(col(rows, |r| r.ledger.address.clone()))
            .bind(col(rows, |r| r.ledger.point_id.clone()))
            .bind(col(rows, |r| r.ledger.inspection_id.clone()))
            .bind(col(rows, |r| r.ledger.severity.to_owned()))
            .bind(col(rows, |r| r.ledger.reporter_role.to_owned()))
            .bind(col(rows, |r| r.ledger.source.to_owned()))
            .bind(col(rows, |r| r.ledger.rework_count))
            .bind(col(rows, |r| r.ledger.deadline))
            .bind(col(rows, |r| r.ledger.reported_at))
            .bind(col(rows, |r| r.ledger.updated_at))
            .bind(col(rows, |r| r.ledger.dispatched_at))
            .bind(col(rows, |r| r.ledger.closed_at))
            .bind(col(rows, |r| r.ledger.search.clone()))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn upsert_inspections(tx: &mut PgTx, rows: &[InspectionRow]) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO inspections (id, point_id, district_id, inspector, status, state, \
             last_seq) SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], \
             $5::text[], $6::text[], $7::bigint[]) \
             ON CONFLICT (id) DO UPDATE SET point_id = excluded.point_id, \
             district_id = excluded.district_id, inspector = excluded.inspector, \
             status = excluded.status, state = excluded.state, \
             last_seq = excluded.last_seq",
        )
        .bind(rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.point_id.clone()).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.district_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.inspector.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.status.to_owned()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.state.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.last_seq).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn problem_codes(
        tx: &mut PgTx,
        codes: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT code, id FROM problems WHERE code = ANY($1)")
            .bind(codes)
            .fetch_all(&mut **tx)
            .await?;
        Ok(rows.iter().map(|r| (r.get("code"), r.get("id"))).collect())
    }

    async fn complete_blobs(
        tx: &mut PgTx,
        hashes: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let rows = sqlx::query("SELECT hash FROM blobs WHERE complete AND hash = ANY($1)")
            .bind(hashes)
            .fetch_all(&mut **tx)
            .await?;
        Ok(rows.iter().map(|r| r.get("hash")).collect())
    }
    async fn rejected_counts(
        tx: &mut PgTx,
        keys: &[String],
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT counter, window_start, n FROM rate_counts WHERE counter = ANY($1)")
                .bind(keys)
                .fetch_all(&mut **tx)
                .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("counter"), r.get("window_start"), r.get("n")))
            .collect())
    }

    async fn put_rejected_counts(
        tx: &mut PgTx,
        rows: &[(String, i64, i64)],
    ) -> Result<(), StoreError> {
        let keys: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        let ends: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let ns: Vec<i64> = rows.iter().map(|r| r.2).collect();
        sqlx::query(
            "INSERT INTO rate_counts (counter, window_start, n) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[]) \
             ON CONFLICT (counter) DO UPDATE SET window_start = excluded.window_start, \
             n = excluded.n",
        )
        .bind(keys)
        .bind(ends)
        .bind(ns)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// One stored event row of a record, the same on both backends.
fn record_row<R: Row>(r: &R) -> RecordRow
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    RecordRow {
        seq: r.get("seq"),
        entity_id: r.get("entity_id"),
        entity_kind: r.get("entity_kind"),
        body: r.get("body"),
        outcome: r.get("outcome"),
        attrs: attrs_from_row(r),
    }
}
