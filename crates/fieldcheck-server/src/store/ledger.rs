//! The server's problem ledger: the columns the `problems` projection keeps besides the folded
//! state (migration 0006), and the one query the console's ledger runs over them — filters,
//! sort and paging, always inside the caller's [`Scope`] (the rule the pull uses, translated
//! to SQL). The SQL is the same text on both backends (`$n` placeholders).

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
    pub source: Option<ProblemSource>,
    pub reporter: Option<String>,
    /// Reported at or after (Unix ms).
    pub reported_from_ms: Option<i64>,
    /// Reported before (Unix ms).
    pub reported_before_ms: Option<i64>,
    /// `Some(true)`: only overdue ones; `Some(false)`: only those not overdue.
    pub overdue: Option<bool>,
    /// Matches the code or the description (substring).
    pub text: Option<String>,
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

/// The ledger columns of an upsert into `problems`, in the order `push::LedgerCols` binds them.
pub(crate) const PROBLEM_LEDGER_COLUMNS: &str = "category, description, address, point_id, \
    inspection_id, severity, reporter_role, source, rework_count, deadline, reported_at, \
    updated_at, dispatched_at, closed_at";

/// Their `ON CONFLICT DO UPDATE` assignments.
pub(crate) const PROBLEM_LEDGER_UPDATE: &str = "category = excluded.category, \
    description = excluded.description, address = excluded.address, \
    point_id = excluded.point_id, inspection_id = excluded.inspection_id, \
    severity = excluded.severity, reporter_role = excluded.reporter_role, \
    source = excluded.source, rework_count = excluded.rework_count, \
    deadline = excluded.deadline, reported_at = excluded.reported_at, \
    updated_at = excluded.updated_at, dispatched_at = excluded.dispatched_at, \
    closed_at = excluded.closed_at";

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
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    fn list(&mut self, col: &str, values: &[String]) {
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
        // A plain substring match (LIKE) for now; Chinese full-text search is left for later.
        let escaped = t
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let p = w.arg(Arg::Text(format!("%{escaped}%")));
        w.clauses.push(format!(
            "(code LIKE {p} ESCAPE '\\' OR description LIKE {p} ESCAPE '\\')"
        ));
    }
    w
}

/// `ORDER BY` of a ledger query: the sort key, then the id so pages never overlap. Problems
/// without a deadline come last either way.
pub fn order_by(f: &LedgerFilter) -> String {
    let dir = if f.descending { "DESC" } else { "ASC" };
    let col = f.sort.column();
    format!("({col} IS NULL) ASC, {col} {dir}, id {dir}")
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
            overdue: None,
            text: None,
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
    fn text_search_escapes_wildcards() {
        let mut f = filter();
        f.text = Some("50%_off".into());
        let w = where_clause(&f, &scope(Role::Admin, None, None));
        assert_eq!(w.args, vec![Arg::Text("%50\\%\\_off%".into())]);
    }
}
