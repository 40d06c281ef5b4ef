//! The server's problem ledger: the columns the `problems` projection keeps besides the folded
//! state (migration 0006), and the one query the console's ledger runs over them — filters,
//! sort and paging, always inside the caller's [`Scope`] (the rule the pull uses, translated
//! to SQL). The SQL is the same text on both backends (`$n` placeholders), but for a plain text
//! search on PostgreSQL ([`pg_text_search`]).

use chrono::{DateTime, Utc};
use fieldcheck_domain::problem::{ProblemSource, ProblemStatus, sql as problem_sql};
use fieldcheck_domain::role::Role;
use fieldcheck_domain::scope::Scope;

/// Sort keys of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerSort {
    ReportedAt,
    Deadline,
    UpdatedAt,
}

impl LedgerSort {
    fn column(self) -> &'static str {
        match self {
            LedgerSort::ReportedAt => "reported_at",
            LedgerSort::Deadline => "deadline",
            LedgerSort::UpdatedAt => "updated_at",
        }
    }
}

/// A validated ledger query. Every set filter narrows (AND); an empty list means "any".
#[derive(Debug, Clone)]
pub struct LedgerFilter {
    pub statuses: Vec<ProblemStatus>,
    /// Category codes (a major class already expanded to its minor codes by the caller).
    pub categories: Vec<String>,
    pub unit: Option<String>,
    /// A district with everything below it, already expanded.
    pub districts: Option<Vec<String>>,
    pub point: Option<String>,
    /// The points of one type (`point_type=`), already resolved from the reference data.
    pub points: Option<Vec<String>>,
    pub source: Option<ProblemSource>,
    pub reporter: Option<String>,
    /// Reported at or after (Unix ms).
    pub reported_from_ms: Option<i64>,
    /// Reported before (Unix ms).
    pub reported_before_ms: Option<i64>,
    /// Last dispatched at or after (Unix ms): a ranking period's problems.
    pub dispatched_from_ms: Option<i64>,
    /// Last dispatched before (Unix ms).
    pub dispatched_before_ms: Option<i64>,
    /// `Some(true)`: only overdue ones; `Some(false)`: only those not overdue.
    pub overdue: Option<bool>,
    /// Matches the code or the description (substring).
    pub text: Option<String>,
    /// `Some(true)`: only problems with a conflict — at least one stored event the fold
    /// rejected ([`REJECTED_EVENT`]); `Some(false)`: only those without.
    pub conflicts: Option<bool>,
    pub sort: LedgerSort,
    pub descending: bool,
    pub limit: u32,
    pub offset: u32,
    /// "Now" for overdue.
    pub now_ms: i64,
}

/// One ledger row: the columns of the projection a ledger shows.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRow {
    pub id: String,
    pub code: String,
    pub status: String,
    pub category: String,
    pub description: String,
    pub address: String,
    pub district_id: Option<String>,
    pub point_id: Option<String>,
    pub unit_id: Option<String>,
    pub reporter: String,
    pub reporter_role: String,
    pub source: String,
    pub severity: String,
    pub rework_count: i64,
    pub reported_at_ms: i64,
    pub updated_at_ms: i64,
    pub deadline_ms: Option<i64>,
    pub dispatched_at_ms: Option<i64>,
    pub closed_at_ms: Option<i64>,
}

impl LedgerRow {
    /// The domain's overdue rule ([`Problem::is_overdue`]) on the row.
    pub fn is_overdue(&self, now_ms: i64) -> bool {
        ProblemStatus::parse(&self.status).is_some_and(|s| s.awaits_unit())
            && self.deadline_ms.is_some_and(|d| d < now_ms)
    }
}

/// A stored event the fold kept but rejected: its outcome is anything but the serialised
/// `EventOutcome::Applied`. Verbatim the predicate of the partial index `events_rejected`
/// (migration 0007), which SQLite uses only for this exact text.
pub const REJECTED_EVENT: &str = "outcome <> '{\"outcome\":\"applied\"}'";

/// The ledger columns of an upsert into `problems`, in the order `push::LedgerCols` binds them.
pub(crate) const PROBLEM_LEDGER_COLUMNS: &str = "category, description, address, point_id, \
    inspection_id, severity, reporter_role, source, rework_count, deadline, reported_at, \
    updated_at, dispatched_at, closed_at, search";

/// Their `ON CONFLICT DO UPDATE` assignments.
pub(crate) const PROBLEM_LEDGER_UPDATE: &str = "category = excluded.category, \
    description = excluded.description, address = excluded.address, \
    point_id = excluded.point_id, inspection_id = excluded.inspection_id, \
    severity = excluded.severity, reporter_role = excluded.reporter_role, \
    source = excluded.source, rework_count = excluded.rework_count, \
    deadline = excluded.deadline, reported_at = excluded.reported_at, \
    updated_at = excluded.updated_at, dispatched_at = excluded.dispatched_at, \
    closed_at = excluded.closed_at, search = excluded.search";

pub const LEDGER_COLUMNS: &str = "id, code, status, category, description, address, \
    district_id, point_id, unit_id, reporter, reporter_role, source, severity, rework_count, \
    reported_at, updated_at, deadline, dispatched_at, closed_at";

/// A page of the ledger and how many rows match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerPage {
    pub total: u64,
    pub rows: Vec<LedgerRow>,
}

/// A bound value of the generated SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Int(i64),
}

/// The `WHERE` clause (without the keyword) and its arguments, `$1`.. in order.
#[derive(Debug, Default)]
pub struct Where {
    clauses: Vec<String>,
    pub args: Vec<Arg>,
}

impl Where {
    /// Everything `scope` sees ([`Scope::sees`]), before any filter.
    pub fn scoped(scope: &Scope) -> Where {
        let mut w = Where::default();
        scope_clause(&mut w, scope);
        w
    }

    /// Binds a value; its placeholder (`$n`).
    pub fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    fn list(&mut self, col: &str, values: &[String]) {
        if values.is_empty() {
            // `IN ()` is not SQL; an empty set matches nothing.
            self.clauses.push("1 = 0".to_owned());
            return;
        }
        let ps: Vec<String> = values
            .iter()
            .map(|v| self.arg(Arg::Text(v.clone())))
            .collect();
        self.clauses.push(format!("{col} IN ({})", ps.join(", ")));
    }

    fn eq(&mut self, col: &str, v: &str) {
        let p = self.arg(Arg::Text(v.to_owned()));
        self.clauses.push(format!("{col} = {p}"));
    }

    /// Adds a condition (AND).
    pub fn and(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            "TRUE".to_owned()
        } else {
            self.clauses.join(" AND ")
        }
    }
}

/// [`Scope::sees`] as SQL over the projection (a problem's record scope is its district, its
/// unit and its reporter — `RecordScope::of_problem`).
fn scope_clause(w: &mut Where, scope: &Scope) {
    let whole_city = match scope.role {
        Role::Admin => true,
        Role::Inspector => scope.districts.is_none(),
        _ => false,
    };
    if whole_city {
        return;
    }
    let mine = w.arg(Arg::Text(scope.user_id.clone()));
    let own = format!("reporter = {mine}");
    let other = match scope.role {
        Role::Admin => None,
        Role::Inspector => match &scope.districts {
            None => None,
            Some(set) if set.is_empty() => None,
            Some(set) => {
                let ps: Vec<String> = set.iter().map(|d| w.arg(Arg::Text(d.clone()))).collect();
                Some(format!("district_id IN ({})", ps.join(", ")))
            }
        },
        Role::UnitHandler => scope.unit_id.as_ref().map(|u| {
            let p = w.arg(Arg::Text(u.clone()));
            format!("unit_id = {p}")
        }),
        Role::Volunteer => None,
    };
    w.clauses.push(match other {
        Some(o) => format!("({own} OR {o})"),
        None => own,
    });
}

/// The `WHERE` of a ledger query in `scope`.
pub fn where_clause(f: &LedgerFilter, scope: &Scope) -> Where {
    let mut w = Where::default();
    scope_clause(&mut w, scope);
    if !f.statuses.is_empty() {
        let v: Vec<String> = f.statuses.iter().map(|s| s.as_str().to_owned()).collect();
        w.list("status", &v);
    }
    if !f.categories.is_empty() {
        w.list("category", &f.categories);
    }
    if let Some(u) = &f.unit {
        w.eq("unit_id", u);
    }
    if let Some(d) = &f.districts {
        w.list("district_id", d);
    }
    if let Some(p) = &f.point {
        w.eq("point_id", p);
    }
    if let Some(ps) = &f.points {
        w.list("point_id", ps);
    }
    if let Some(s) = f.source {
        w.eq("source", s.as_str());
    }
    if let Some(r) = &f.reporter {
        w.eq("reporter", r);
    }
    if let Some(t) = f.reported_from_ms {
        let p = w.arg(Arg::Int(t));
        w.clauses.push(format!("reported_at >= {p}"));
    }
    if let Some(t) = f.reported_before_ms {
        let p = w.arg(Arg::Int(t));
        w.clauses.push(format!("reported_at < {p}"));
    }
    if let Some(t) = f.dispatched_from_ms {
        let p = w.arg(Arg::Int(t));
        w.clauses.push(format!("dispatched_at >= {p}"));
    }
    if let Some(t) = f.dispatched_before_ms {
        let p = w.arg(Arg::Int(t));
        w.clauses.push(format!("dispatched_at < {p}"));
    }
    if let Some(overdue) = f.overdue {
        let p = w.arg(Arg::Int(f.now_ms));
        // The domain's one SQL form of "overdue"; its negation must count a NULL deadline
        // (never overdue) as not overdue.
        let o = problem_sql::overdue(&p);
        w.clauses.push(if overdue {
            format!("({o})")
        } else {
            format!("NOT COALESCE(({o}), FALSE)")
        });
    }
    if let Some(t) = &f.text {
        text_clause(&mut w, t);
    }
    if let Some(c) = f.conflicts {
        // Through the partial index `events_rejected` (migration 0007): rejected events are
        // few, so this is a short list of ids whatever the ledger's size.
        let not = if c { "" } else { "NOT " };
        w.clauses.push(format!(
            "id {not}IN (SELECT entity_id FROM events WHERE {REJECTED_EVENT})"
        ));
    }
    w
}

/// `q`: the code or the description holds `t` as a substring (LIKE, so `%` and `_` are
/// literal). The bigram index (migration 0008, `fieldcheck_domain::search`) narrows the ledger
/// to the problems that hold every run of letters and digits of `t`: for a term of digits and
/// ideographs in one run (`垃圾`, `0007`: [`is_exact`]) exactly LIKE's matches, so the index
/// alone answers, without reading a row; for any other term a superset, which LIKE then
/// decides (with its case rules: ASCII case-insensitive on SQLite, case-sensitive on
/// PostgreSQL). A term without letters or digits (`%`, `——`) has nothing to look up and is
/// LIKE alone. `problems_search($n)` is the FTS5 table on SQLite and a set-returning function
/// on PostgreSQL, so the text stays the same on both backends.
///
/// [`is_exact`]: fieldcheck_domain::search::is_exact
fn text_clause(w: &mut Where, t: &str) {
    use fieldcheck_domain::search::{is_exact, match_query};
    let like = |w: &mut Where| {
        let escaped = t
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let p = w.arg(Arg::Text(format!("%{escaped}%")));
        format!("(code LIKE {p} ESCAPE '\\' OR description LIKE {p} ESCAPE '\\')")
    };
    let Some(m) = match_query(t) else {
        let l = like(w);
        w.clauses.push(l);
        return;
    };
    let m = search_query(w, m);
    let indexed = format!("last_seq IN (SELECT rowid FROM problems_search({m}))");
    if is_exact(t) {
        w.clauses.push(indexed);
    } else {
        let l = like(w);
        w.clauses.push(format!("{indexed} AND {l}"));
    }
}

/// The argument of `problems_search` for the match query `m`.
fn search_query(w: &mut Where, m: String) -> String {
    // A literal, not a parameter: PostgreSQL then plans each term with the index's statistics
    // (a rare term from its few matches, a common one along the sort order) instead of one
    // generic plan for all, which after five runs of the same text is either slow for rare
    // terms or for common ones. The query holds letters, digits, `"`, `+`, `*` and spaces
    // only (`match_query`), never a quote or backslash; anything else stays a parameter.
    if m.chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '"' | '+' | '*' | ' '))
    {
        format!("'{m}'")
    } else {
        w.arg(Arg::Text(m))
    }
}

/// PostgreSQL only, the one place its ledger SQL differs from SQLite's: a plain text search
/// (an exact term, optionally statuses, the whole city, in report order) counted and paged
/// over the search documents alone, which carry each problem's id, status and report time
/// (migration 0012), as `(count, page, arguments)`; `None` for any other query, which takes
/// the shared [`where_clause`] and [`page_sql`]. The shared form joins every match to
/// `problems` by `last_seq` to read its status and report time — one index probe per match,
/// 14,000 for a word in a seventh of a 100,000-problem ledger, twice (total and page). SQLite
/// keeps the shared form: an FTS5 table cannot carry columns to sort by, and its pages already
/// meet the target. Same rows, same order: a problem has a document exactly when the shared
/// form's `problems_search` finds it, and the copies are rewritten with every write.
pub fn pg_text_search(f: &LedgerFilter, scope: &Scope) -> Option<(String, String, Where)> {
    use fieldcheck_domain::search::{is_exact, match_query};
    // Exhaustive, so that a new filter must be placed on one side or the other.
    let LedgerFilter {
        statuses,
        categories,
        unit,
        districts,
        point,
        points,
        source,
        reporter,
        reported_from_ms,
        reported_before_ms,
        dispatched_from_ms,
        dispatched_before_ms,
        overdue,
        text,
        conflicts,
        sort,
        descending: _,
        limit: _,
        offset: _,
        now_ms: _,
    } = f;
    let mut w = Where::scoped(scope);
    let plain = w.clauses.is_empty()
        && categories.is_empty()
        && unit.is_none()
        && districts.is_none()
        && point.is_none()
        && points.is_none()
        && source.is_none()
        && reporter.is_none()
        && reported_from_ms.is_none()
        && reported_before_ms.is_none()
        && dispatched_from_ms.is_none()
        && dispatched_before_ms.is_none()
        && overdue.is_none()
        && conflicts.is_none()
        && *sort == LedgerSort::ReportedAt;
    let t = text.as_deref().filter(|t| plain && is_exact(t))?;
    let m = search_query(&mut w, match_query(t)?);
    if !statuses.is_empty() {
        let v: Vec<String> = statuses.iter().map(|s| s.as_str().to_owned()).collect();
        w.list("status", &v);
    }
    let docs = format!("problems_search_ledger({m}) WHERE {}", w.sql());
    let order = order_by(f);
    let page = format!(
        "SELECT {LEDGER_COLUMNS} FROM problems WHERE id IN (SELECT id FROM {docs} \
         ORDER BY {order} LIMIT ${} OFFSET ${}) ORDER BY {order}",
        w.args.len() + 1,
        w.args.len() + 2
    );
    Some((format!("SELECT COUNT(*) FROM {docs}"), page, w))
}

/// The search terms a problem is indexed under (`problems.search`, migration 0008): those of
/// the fields the ledger's `q` searches, so that the index can answer it alone.
pub(crate) fn search_terms(code: &str, description: &str) -> String {
    fieldcheck_domain::search::index_terms(&[code, description])
}

/// Gives every problem stored before migration 0008 its search terms (NULL there, since SQL
/// cannot split text the way `fieldcheck_domain::search` does); a no-op once done. Run once at
/// open, after the migrations, before the store serves, on either backend.
pub async fn backfill_search<DB>(pool: &sqlx::Pool<DB>) -> Result<u64, sqlx::Error>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    String: sqlx::Type<DB> + for<'q> sqlx::Encode<'q, DB>,
    (String, String, String): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let mut done = 0;
    loop {
        let mut tx = pool.begin().await?;
        let rows: Vec<(String, String, String)> =
            sqlx::query_as(BACKFILL_SELECT).fetch_all(&mut *tx).await?;
        if rows.is_empty() {
            return Ok(done);
        }
        for (id, code, description) in &rows {
            sqlx::query(BACKFILL_UPDATE)
                .bind(search_terms(code, description))
                .bind(id.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        done += rows.len() as u64;
    }
}

/// Through the partial index `problems_search_pending`.
const BACKFILL_SELECT: &str =
    "SELECT id, code, description FROM problems WHERE search IS NULL LIMIT 500";
const BACKFILL_UPDATE: &str = "UPDATE problems SET search = $1 WHERE id = $2";

/// `ORDER BY` of a ledger query: the sort key, then the id so pages never overlap. Problems
/// without a deadline come last either way. The report and update times are never NULL, so
/// their order is the bare column, which their indexes give without sorting every match (an
/// `IS NULL` term would make SQLite sort the whole ledger for every page).
pub fn order_by(f: &LedgerFilter) -> String {
    let dir = if f.descending { "DESC" } else { "ASC" };
    match f.sort {
        LedgerSort::Deadline => format!("(deadline IS NULL) ASC, deadline {dir}, id {dir}"),
        LedgerSort::ReportedAt | LedgerSort::UpdatedAt => {
            format!("{} {dir}, id {dir}", f.sort.column())
        }
    }
}

/// The page of a ledger query whose `WHERE` is `cond` with `n_args` arguments bound; the limit
/// and offset are bound after them. A deferred join: the inner query picks the page's ids
/// reading only an index that holds the filtered and sorted columns (migration 0009), and only
/// the page's rows — which carry the whole folded state — are read from the table. Reading
/// every matching row to sort them made a filter matching a quarter of the ledger cost 100 ms.
pub fn page_sql(f: &LedgerFilter, cond: &str, n_args: usize) -> String {
    let order = order_by(f);
    format!(
        "SELECT {LEDGER_COLUMNS} FROM problems WHERE id IN (SELECT id FROM problems WHERE {cond} \
         ORDER BY {order} LIMIT ${} OFFSET ${}) ORDER BY {order}",
        n_args + 1,
        n_args + 2
    )
}

/// A read-only statement for [`Store::select`](super::Store::select): SQL with `$n`
/// placeholders (the same text on both backends), its values, and what each result column is.
#[derive(Debug, Clone)]
pub struct Select {
    pub sql: String,
    pub args: Vec<Arg>,
    pub columns: Vec<Col>,
}

/// A statement for [`Store::select`](super::Store::select) or `write`: its SQL, values and
/// result columns.
pub fn stmt(sql: impl Into<String>, args: Vec<Arg>, columns: Vec<Col>) -> Select {
    Select {
        sql: sql.into(),
        args,
        columns,
    }
}

/// The type of a result column; every one may be NULL. Integers must be 64-bit on PostgreSQL
/// (`count(*)`, BIGINT columns, or `CAST(… AS BIGINT)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Int,
    Real,
    Text,
}

/// One result value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
}

impl Value {
    /// The integer; NULL (`sum` over nothing) is 0.
    pub fn int(&self) -> i64 {
        match self {
            Value::Int(i) => i.unwrap_or(0),
            _ => 0,
        }
    }

    /// A count: NULL and (impossible) negatives are 0.
    pub fn count(&self) -> u64 {
        u64::try_from(self.int()).unwrap_or(0)
    }

    pub fn opt_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => *i,
            _ => None,
        }
    }

    pub fn real(&self) -> Option<f64> {
        match self {
            Value::Real(r) => *r,
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => t.as_deref(),
            _ => None,
        }
    }
}

impl Select {
    fn new(sql: String, w: Where, columns: Vec<Col>) -> Select {
        Select {
            sql,
            args: w.args,
            columns,
        }
    }
}

/// Problems per status inside `scope`: rows `(status, n)`.
pub fn status_counts(scope: &Scope) -> Select {
    let w = Where::scoped(scope);
    Select::new(
        format!(
            "SELECT status, count(*) FROM problems WHERE {} GROUP BY status",
            w.sql()
        ),
        w,
        vec![Col::Text, Col::Int],
    )
}

/// How many problems inside `scope` also meet `cond` (built on the same [`Where`], so its
/// placeholders continue the scope's): one row `(n)`.
pub fn count_where(scope: &Scope, cond: impl FnOnce(&mut Where) -> String) -> Select {
    let mut w = Where::scoped(scope);
    let c = cond(&mut w);
    w.and(c);
    Select::new(
        format!("SELECT count(*) FROM problems WHERE {}", w.sql()),
        w,
        vec![Col::Int],
    )
}

/// Problems per city day inside `scope` by the instant in `column` (`reported_at`,
/// `closed_at`), over `days` days of `day_ms` from `start_ms`: rows `(day index, n)`, days
/// without any left out. `also` narrows further (e.g. `status = 'closed'`).
pub fn per_day(
    scope: &Scope,
    column: &str,
    also: Option<&str>,
    start_ms: i64,
    day_ms: i64,
    days: i64,
) -> Select {
    let mut w = Where::scoped(scope);
    let start = w.arg(Arg::Int(start_ms));
    let end = w.arg(Arg::Int(start_ms + day_ms * days));
    let len = w.arg(Arg::Int(day_ms));
    w.and(format!("{column} >= {start} AND {column} < {end}"));
    if let Some(a) = also {
        w.and(a.to_owned());
    }
    Select::new(
        format!(
            "SELECT CAST(({column} - {start}) / {len} AS BIGINT) AS day_index, count(*) \
             FROM problems WHERE {} GROUP BY day_index",
            w.sql()
        ),
        w,
        vec![Col::Int, Col::Int],
    )
}

/// What a bulletin's most frequent list counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopBy {
    Category,
    Point,
}

/// The most frequent categories or points of the problems inside `scope` reported in
/// `from_ms..to_ms`: rows `(code or point id, n)`, most first (then by the value), at most
/// `limit`; problems without a point are left out of the points.
pub fn reported_top(scope: &Scope, by: TopBy, from_ms: i64, to_ms: i64, limit: u32) -> Select {
    let mut w = Where::scoped(scope);
    let from = w.arg(Arg::Int(from_ms));
    let to = w.arg(Arg::Int(to_ms));
    w.and(format!("reported_at >= {from} AND reported_at < {to}"));
    let col = match by {
        TopBy::Category => "category",
        TopBy::Point => {
            w.and("point_id IS NOT NULL".to_owned());
            "point_id"
        }
    };
    Select::new(
        format!(
            "SELECT {col}, count(*) AS n FROM problems WHERE {} GROUP BY {col} \
             ORDER BY n DESC, {col} LIMIT {limit}",
            w.sql()
        ),
        w,
        vec![Col::Text, Col::Int],
    )
}

/// Problems inside `scope` that meet `cond`, counted per point: rows `(point id, n)`.
pub fn per_point(scope: &Scope, cond: &str) -> Select {
    let mut w = Where::scoped(scope);
    w.and("point_id IS NOT NULL".to_owned());
    w.and(format!("({cond})"));
    Select::new(
        format!(
            "SELECT point_id, count(*) FROM problems WHERE {} GROUP BY point_id",
            w.sql()
        ),
        w,
        vec![Col::Text, Col::Int],
    )
}

/// What a ranking groups problems by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankKey {
    Unit,
    /// The problem's own district (the caller rolls it up the tree).
    District,
}

/// The ranking's counts, by unit or district and by period, inside `scope`: the problems
/// received in one of the periods `bounds[i]..bounds[i + 1]` (Unix ms, ascending) as
/// `fieldcheck_domain::rates` defines them, counted with its SQL forms. Rows
/// `(key, period index, received, due, rectified, closed, closed_on_time, overdue_open,
/// reworked)`; `due` is counted in the last period only, against `due_by_ms`.
pub fn ranking(scope: &Scope, key: RankKey, bounds: &[i64], due_by_ms: i64, now_ms: i64) -> Select {
    use fieldcheck_domain::rates::sql as rates_sql;
    assert!(bounds.len() >= 2, "a ranking needs at least one period");
    let mut w = Where::scoped(scope);
    let ps: Vec<String> = bounds.iter().map(|b| w.arg(Arg::Int(*b))).collect();
    let now = w.arg(Arg::Int(now_ms));
    let due_by = w.arg(Arg::Int(due_by_ms));
    let last = ps.len() - 2;
    w.and(rates_sql::assigned_where());
    w.and(rates_sql::received_in(&ps[0], &ps[last + 1]));
    // One period (a bulletin's): every row is period 0; `CASE ELSE 0 END` is not SQL.
    let mut bucket = String::from("0");
    if last > 0 {
        bucket = String::from("CASE");
        for (i, p) in ps[1..=last].iter().enumerate() {
            bucket.push_str(&format!(" WHEN dispatched_at < {p} THEN {i}"));
        }
        bucket.push_str(&format!(" ELSE {last} END"));
    }
    let due = format!(
        "count(CASE WHEN {} AND {} THEN 1 END)",
        rates_sql::received_in(&ps[last], &ps[last + 1]),
        rates_sql::due(&due_by)
    );
    let counts: Vec<String> = rates_sql::counts(&now)
        .iter()
        .map(|c| format!("count(CASE WHEN {c} THEN 1 END)"))
        .collect();
    let col = match key {
        RankKey::Unit => "unit_id",
        RankKey::District => "district_id",
    };
    Select::new(
        format!(
            "SELECT {col}, CAST({bucket} AS BIGINT) AS period_index, count(*), {due}, {} \
             FROM problems WHERE {} GROUP BY {col}, period_index",
            counts.join(", "),
            w.sql()
        ),
        w,
        vec![
            Col::Text,
            Col::Int,
            Col::Int,
            Col::Int,
            Col::Int,
            Col::Int,
            Col::Int,
            Col::Int,
            Col::Int,
        ],
    )
}

/// The ledger's problems with a place for the map, newest report first, at most `limit`:
/// rows `(id, code, status, category, severity, lat, lon, point_id, deadline)`.
pub fn map_problems(f: &LedgerFilter, scope: &Scope, limit: u32) -> Select {
    let mut w = where_clause(f, scope);
    w.and("(lat IS NOT NULL OR point_id IS NOT NULL)".to_owned());
    let n = w.arg(Arg::Int(i64::from(limit)));
    Select::new(
        format!(
            "SELECT id, code, status, category, severity, lat, lon, point_id, deadline \
             FROM problems WHERE {} ORDER BY reported_at DESC, id DESC LIMIT {n}",
            w.sql()
        ),
        w,
        vec![
            Col::Text,
            Col::Text,
            Col::Text,
            Col::Text,
            Col::Text,
            Col::Real,
            Col::Real,
            Col::Text,
            Col::Int,
        ],
    )
}

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn scope(role: Role, unit: Option<&str>, districts: Option<&[&str]>) -> Scope {
        Scope {
            user_id: "me".into(),
            role,
            unit_id: unit.map(str::to_owned),
            districts: districts.map(|d| d.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>()),
        }
    }

    fn filter() -> LedgerFilter {
        LedgerFilter {
            statuses: vec![],
            categories: vec![],
            unit: None,
            districts: None,
            point: None,
            source: None,
            reporter: None,
            reported_from_ms: None,
            reported_before_ms: None,
            dispatched_from_ms: None,
            dispatched_before_ms: None,
            overdue: None,
            text: None,
            points: None,
            conflicts: None,
            sort: LedgerSort::ReportedAt,
            descending: true,
            limit: 50,
            offset: 0,
            now_ms: 0,
        }
    }

    #[test]
    fn scope_becomes_sql() {
        let w = where_clause(&filter(), &scope(Role::Admin, None, None));
        assert_eq!(w.sql(), "TRUE");
        let w = where_clause(
            &filter(),
            &scope(Role::UnitHandler, Some("u1"), Some(&["d"])),
        );
        assert_eq!(w.sql(), "(reporter = $1 OR unit_id = $2)");
        let w = where_clause(&filter(), &scope(Role::UnitHandler, None, None));
        assert_eq!(w.sql(), "reporter = $1");
        let w = where_clause(&filter(), &scope(Role::Inspector, None, Some(&["a", "b"])));
        assert_eq!(w.sql(), "(reporter = $1 OR district_id IN ($2, $3))");
        let w = where_clause(&filter(), &scope(Role::Volunteer, None, Some(&["a"])));
        assert_eq!(w.sql(), "reporter = $1");
    }

    #[test]
    fn the_rejected_event_predicate_is_the_applied_outcome_serialised() {
        let applied =
            serde_json::to_string(&fieldcheck_domain::event::EventOutcome::Applied).unwrap();
        assert_eq!(REJECTED_EVENT, format!("outcome <> '{applied}'"));
        for m in [
            include_str!("../../../../migrations/server-sqlite/0007_console_stats.sql"),
            include_str!("../../../../migrations/server-postgres/0007_console_stats.sql"),
        ] {
            assert!(m.contains(&format!("WHERE {REJECTED_EVENT};")), "{m}");
        }
    }

    #[test]
    fn an_empty_point_type_matches_nothing() {
        let mut f = filter();
        f.points = Some(vec![]);
        let w = where_clause(&f, &scope(Role::Admin, None, None));
        assert_eq!(w.sql(), "1 = 0");
    }

    #[test]
    fn text_search_escapes_wildcards() {
        let mut f = filter();
        f.text = Some("50%_off".into());
        let w = where_clause(&f, &scope(Role::Admin, None, None));
        assert_eq!(w.args, vec![Arg::Text("%50\\%\\_off%".into())]);
        assert!(
            w.sql().starts_with(
                "last_seq IN (SELECT rowid FROM problems_search('\"50\" AND \"of\" + \"ff\"')) AND"
            ),
            "{}",
            w.sql()
        );
        f.text = Some("%_".into());
        let w = where_clause(&f, &scope(Role::Admin, None, None));
        assert_eq!(w.args, vec![Arg::Text("%\\%\\_%".into())]);
        assert!(!w.sql().contains("problems_search"), "{}", w.sql());
    }

    #[test]
    fn an_exact_term_is_the_index_alone() {
        let mut f = filter();
        f.text = Some("垃圾".into());
        let w = where_clause(&f, &scope(Role::Admin, None, None));
        assert_eq!(
            w.sql(),
            "last_seq IN (SELECT rowid FROM problems_search('\"垃圾\"'))"
        );
        assert!(w.args.is_empty());
        f.text = Some("GL-2026".into());
        let w = where_clause(&f, &scope(Role::Admin, None, None));
        assert!(
            w.sql()
                .contains("problems_search('\"gl\" AND \"20\" + \"02\" + \"26\"')")
        );
        assert!(w.sql().contains("LIKE $1"));
        // A quote cannot reach the literal: it is no letter or digit, so never in a query.
        f.text = Some("it's".into());
        let w = where_clause(&f, &scope(Role::Admin, None, None));
        assert!(
            w.sql().contains("problems_search('\"it\" AND \"s\" *')"),
            "{}",
            w.sql()
        );
    }

    #[test]
    fn only_a_plain_text_search_reads_the_documents_alone() {
        let admin = scope(Role::Admin, None, None);
        let mut f = filter();
        assert!(pg_text_search(&f, &admin).is_none());
        f.text = Some("垃圾".into());
        f.statuses = vec![ProblemStatus::Closed];
        let (count, page, w) = pg_text_search(&f, &admin).unwrap();
        let docs = "problems_search_ledger('\"垃圾\"') WHERE status IN ($1)";
        assert_eq!(count, format!("SELECT COUNT(*) FROM {docs}"));
        assert!(
            page.contains(&format!(
                "id IN (SELECT id FROM {docs} ORDER BY reported_at DESC, id DESC LIMIT $2 OFFSET $3)"
            )),
            "{page}"
        );
        assert_eq!(w.args, vec![Arg::Text("closed".into())]);
        // Anything the documents do not carry takes the shared form.
        let mut g = f.clone();
        g.unit = Some("u1".into());
        assert!(pg_text_search(&g, &admin).is_none());
        let mut g = f.clone();
        g.sort = LedgerSort::Deadline;
        assert!(pg_text_search(&g, &admin).is_none());
        let mut g = f.clone();
        g.text = Some("GL-2026".into());
        assert!(
            pg_text_search(&g, &admin).is_none(),
            "not exact: LIKE decides"
        );
        let handler = scope(Role::UnitHandler, Some("u1"), None);
        assert!(pg_text_search(&f, &handler).is_none());
    }

    #[test]
    fn the_search_column_is_written_and_updated_by_the_upsert() {
        assert!(PROBLEM_LEDGER_COLUMNS.ends_with(", search"));
        assert!(PROBLEM_LEDGER_UPDATE.ends_with("search = excluded.search"));
    }
}
