//! The problem ledger (问题台账): filtered, searched, sorted, paged; record history; stats.

use chrono::{DateTime, Utc};
use fieldcheck_domain::i18n::Lang;
use fieldcheck_domain::rates::{self, UnitTally};
use fieldcheck_domain::{Event, EventOutcome, Problem, ProblemStatus, RefusalCode};
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{CoreError, Result};
use crate::reference::district_and_descendants;
use crate::search;
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ProblemSort {
    #[default]
    Newest,
    Oldest,
    Deadline,
    Updated,
    Code,
}

impl ProblemSort {
    fn sql(self) -> &'static str {
        match self {
            ProblemSort::Newest => "reported_at DESC, id DESC",
            ProblemSort::Oldest => "reported_at ASC, id ASC",
            ProblemSort::Deadline => "deadline IS NULL, deadline ASC, id ASC",
            ProblemSort::Updated => "updated_at DESC, id DESC",
            ProblemSort::Code => "code ASC",
        }
    }

    pub fn parse(s: &str) -> Option<ProblemSort> {
        Some(match s {
            "newest" => ProblemSort::Newest,
            "oldest" => ProblemSort::Oldest,
            "deadline" => ProblemSort::Deadline,
            "updated" => ProblemSort::Updated,
            "code" => ProblemSort::Code,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProblemQuery {
    #[serde(default)]
    pub statuses: Vec<ProblemStatus>,
    /// A minor-class code (`SR-02`) or a major-class code (`SR`).
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub unit_id: Option<String>,
    #[serde(default)]
    pub point_id: Option<String>,
    /// Includes everything below it (a street's communities).
    #[serde(default)]
    pub district_id: Option<String>,
    #[serde(default)]
    pub reporter: Option<String>,
    #[serde(default)]
    pub reported_from: Option<DateTime<Utc>>,
    #[serde(default)]
    pub reported_to: Option<DateTime<Utc>>,
    #[serde(default)]
    pub overdue: bool,
    /// Waiting for the unit with the deadline within the next 24 hours
    /// (`Problem::is_due_soon`).
    #[serde(default)]
    pub due_soon: bool,
    /// Only records with rejected events (the conflict inbox).
    #[serde(default)]
    pub with_rejections: bool,
    /// Full-text search over code, description and address.
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub sort: ProblemSort,
    #[serde(default = "default_limit")]
    pub limit: u32,
    #[serde(default)]
    pub offset: u32,
}

fn default_limit() -> u32 {
    50
}

impl Default for ProblemQuery {
    fn default() -> Self {
        ProblemQuery {
            statuses: vec![],
            category: None,
            unit_id: None,
            point_id: None,
            district_id: None,
            reporter: None,
            reported_from: None,
            reported_to: None,
            overdue: false,
            due_soon: false,
            with_rejections: false,
            text: None,
            sort: ProblemSort::default(),
            limit: default_limit(),
            offset: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LedgerRow {
    #[serde(flatten)]
    pub problem: Problem,
    pub overdue: bool,
    pub rejected_events: u32,
    /// The server refused this record's report: it exists only on this device until it is
    /// corrected and sent again, or discarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<ServerRefusal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub offset: u32,
    pub limit: u32,
}

/// One event of a record's history, with what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EventRecord {
    pub event: Event,
    #[serde(flatten)]
    pub outcome: EventOutcome,
    pub origin: String,
    pub pushed: bool,
    /// The server refused to store this event (role, scope, malformed): its code and message.
    /// Such an event is not part of the record's fold on any replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_refusal: Option<ServerRefusal>,
    /// This event was replaced by a report sent again after a refusal (that report event's
    /// id): kept as history, no longer folded or sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<Uuid>,
}

/// Why the server would not store an event (`PushStatus::Refused`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServerRefusal {
    pub code: String,
    pub message: String,
}

impl ServerRefusal {
    /// The refusal in plain words for the person who recorded it (the server's own message
    /// is for the office and stays next to it).
    pub fn plain_words(&self, lang: Lang) -> String {
        let (zh, en) = match self.code.as_str() {
            "out_of_scope" => (
                "不在你可以上报的区域内",
                "it is outside the area you may report in",
            ),
            "actor_mismatch" => (
                "记录人不是本设备注册的用户",
                "it was recorded by someone other than the user this device is enrolled for",
            ),
            "role_mismatch" => (
                "你的角色或单位与服务器上的不一致",
                "your role or unit differs from the server's records",
            ),
            "role_not_allowed" => ("你的角色不能做这项操作", "your role may not do this"),
            "invalid_event" => ("记录内容不完整或有误", "the record is incomplete or wrong"),
            "id_conflict" => (
                "编号与服务器上另一条记录冲突",
                "its id clashes with another record on the server",
            ),
            _ => return self.message.clone(),
        };
        if lang == Lang::En { en } else { zh }.to_owned()
    }
}

/// Above this many text matches a page is found by walking the sort order (see `where_clause`).
const MANY_MATCHES: u64 = 1000;

enum TextFilter {
    None,
    /// A term with nothing searchable in it (only punctuation).
    Nothing,
    Match {
        query: String,
        count: u64,
        many: bool,
    },
}

impl ProblemQuery {
    fn filters_besides_text(&self) -> bool {
        !self.statuses.is_empty()
            || self.category.is_some()
            || self.unit_id.is_some()
            || self.point_id.is_some()
            || self.district_id.is_some()
            || self.reporter.is_some()
            || self.reported_from.is_some()
            || self.reported_to.is_some()
            || self.overdue
            || self.due_soon
            || self.with_rejections
    }
}

impl Store {
    fn where_clause(&self, q: &ProblemQuery, text: &TextFilter) -> Result<(String, Vec<Value>)> {
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<Value> = Vec::new();
        let arg = |v: Value, args: &mut Vec<Value>| {
            args.push(v);
            format!("?{}", args.len())
        };
        if !q.statuses.is_empty() {
            let ph: Vec<String> = q
                .statuses
                .iter()
                .map(|s| arg(Value::Text(s.as_str().into()), &mut args))
                .collect();
            conds.push(format!("status IN ({})", ph.join(", ")));
        }
        if let Some(c) = &q.category {
            if c.contains('-') {
                conds.push(format!(
                    "category = {}",
                    arg(Value::Text(c.clone()), &mut args)
                ));
            } else {
                let lo = arg(Value::Text(format!("{c}-")), &mut args);
                let hi = arg(Value::Text(format!("{c}.")), &mut args);
                conds.push(format!("category >= {lo} AND category < {hi}"));
            }
        }
        if let Some(u) = &q.unit_id {
            conds.push(format!(
                "unit_id = {}",
                arg(Value::Text(u.clone()), &mut args)
            ));
        }
        if let Some(p) = &q.point_id {
            conds.push(format!(
                "point_id = {}",
                arg(Value::Text(p.clone()), &mut args)
            ));
        }
        if let Some(d) = &q.district_id {
            let ids = district_and_descendants(&self.conn, d)?;
            let ph: Vec<String> = ids
                .into_iter()
                .map(|i| arg(Value::Text(i), &mut args))
                .collect();
            conds.push(format!("district_id IN ({})", ph.join(", ")));
        }
        if let Some(r) = &q.reporter {
            conds.push(format!(
                "reporter = {}",
                arg(Value::Text(r.clone()), &mut args)
            ));
        }
        if let Some(f) = q.reported_from {
            conds.push(format!(
                "reported_at >= {}",
                arg(Value::Integer(f.timestamp_millis()), &mut args)
            ));
        }
        if let Some(t) = q.reported_to {
            conds.push(format!(
                "reported_at < {}",
                arg(Value::Integer(t.timestamp_millis()), &mut args)
            ));
        }
        if q.overdue {
            let now = arg(Value::Integer(self.now().timestamp_millis()), &mut args);
            // The domain's form, which is also the predicate of `problems_open_deadline`:
            // the `INDEXED BY` below fails loudly if the two ever part.
            conds.push(fieldcheck_domain::problem::sql::overdue(&now));
        }
        if q.due_soon {
            let now = arg(Value::Integer(self.now().timestamp_millis()), &mut args);
            // Also over the partial index (its predicate begins the form).
            conds.push(fieldcheck_domain::problem::sql::due_soon(&now));
        }
        if q.with_rejections {
            conds.push("rejected_events > 0".into());
        }
        match text {
            TextFilter::None => {}
            TextFilter::Nothing => conds.push("0".into()),
            TextFilter::Match { query, many, .. } => {
                let m = arg(Value::Text(query.clone()), &mut args);
                // With many matches, walking the sort order's index and checking each row
                // against the matches beats looking every match up and sorting them all;
                // `+rid` keeps SQLite from driving the query by the match list.
                let rid = if *many { "+rid" } else { "rid" };
                conds.push(format!(
                    "{rid} IN (SELECT rowid FROM problems_search WHERE problems_search MATCH {m})"
                ));
            }
        }
        let clause = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        Ok((clause, args))
    }

    /// One page of the ledger and the total number of matching records.
    pub fn list_problems(&self, q: &ProblemQuery) -> Result<Page<LedgerRow>> {
        if q.limit == 0 || q.limit > 1000 {
            return Err(CoreError::Invalid(
                "limit must be between 1 and 1000".into(),
            ));
        }
        let text = self.text_filter(q)?;
        let (clause, mut args) = self.where_clause(q, &text)?;
        // The overdue and due-soon lists have their own covering partial index, which SQLite's
        // planner passes over for the status index (with or without statistics) at ~20x the
        // cost.
        let from = if q.overdue || q.due_soon {
            "problems INDEXED BY problems_open_deadline"
        } else {
            "problems"
        };
        let total: u64 = match (&text, q.filters_besides_text()) {
            (TextFilter::Match { count, .. }, false) => *count,
            _ => self
                .conn
                .prepare_cached(&format!("SELECT count(*) FROM {from} {clause}"))?
                .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?,
        };
        args.push(Value::Integer(i64::from(q.limit)));
        args.push(Value::Integer(i64::from(q.offset)));
        // The page is chosen from the indexes alone; only its records' rows are read.
        let sql = format!(
            "SELECT rid FROM {from} {clause} ORDER BY {} LIMIT ?{} OFFSET ?{}",
            q.sort.sql(),
            args.len() - 1,
            args.len()
        );
        let page = self
            .conn
            .prepare_cached(&sql)?
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                r.get::<_, i64>(0)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let now = self.now();
        let mut row = self.conn.prepare_cached(
            "SELECT s.state, p.rejected_events FROM problems p
             JOIN problem_states s ON s.rid = p.rid WHERE p.rid = ?1",
        )?;
        let items = page
            .into_iter()
            .map(|rid| {
                let (json, rejected_events): (String, u32) =
                    row.query_row([rid], |r| Ok((r.get(0)?, r.get(1)?)))?;
                let problem: Problem = serde_json::from_str(&json)?;
                // Only a record with refused events can have a refused report.
                let refused = if rejected_events > 0 {
                    self.creation_refusal(problem.id)?
                } else {
                    None
                };
                Ok(LedgerRow {
                    overdue: problem.is_overdue(now),
                    problem,
                    rejected_events,
                    refused,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            total: total as u64,
            offset: q.offset,
            limit: q.limit,
        })
    }

    /// The text filter as one FTS5 query and the number of records it matches, after the
    /// search index has caught up with every write.
    fn text_filter(&self, q: &ProblemQuery) -> Result<TextFilter> {
        let terms: Vec<&str> = q.text.as_deref().unwrap_or("").split_whitespace().collect();
        if terms.is_empty() {
            return Ok(TextFilter::None);
        }
        let Some(parts) = terms
            .iter()
            .map(|t| search::match_query(t))
            .collect::<Option<Vec<_>>>()
        else {
            // A term of only punctuation: nothing indexed can contain it.
            return Ok(TextFilter::Nothing);
        };
        self.catch_up_search()?;
        let query = parts
            .iter()
            .map(|p| format!("({p})"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let count: u64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM problems_search WHERE problems_search MATCH ?1")?
            .query_row([&query], |r| r.get(0))?;
        Ok(TextFilter::Match {
            many: count > MANY_MATCHES,
            query,
            count,
        })
    }

    /// Every event of a record, in fold (HLC) order, with its outcome.
    pub fn history(&self, entity_id: Uuid) -> Result<Vec<EventRecord>> {
        let mut st = self.conn.prepare_cached(
            "SELECT body, outcome, reject_code, reject_message, origin, pushed_at, refused,
                    superseded_by
             FROM events WHERE entity_id = ?1 ORDER BY hlc, id",
        )?;
        let rows = st.query_map([entity_id.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, bool>(6)?,
                r.get::<_, Option<String>>(7)?,
            ))
        })?;
        rows.map(|row| {
            let (body, outcome, code, message, origin, pushed, refused, superseded) = row?;
            let superseded_by = superseded
                .map(|s| Uuid::parse_str(&s).map_err(|e| CoreError::Corrupt(e.to_string())))
                .transpose()?;
            let server_refusal = refused.then(|| ServerRefusal {
                code: code.clone().unwrap_or_default(),
                message: message.clone().unwrap_or_default(),
            });
            let outcome = if outcome == "rejected" {
                EventOutcome::Rejected {
                    code: code
                        .as_deref()
                        .and_then(RefusalCode::parse)
                        .unwrap_or(RefusalCode::InvalidTransition),
                    message: message.unwrap_or_default(),
                }
            } else {
                EventOutcome::Applied
            };
            Ok(EventRecord {
                event: serde_json::from_str(&body)?,
                outcome,
                // Sent: stored, or refused by the server. A replaced event that was still
                // waiting left the outbox without ever reaching the server.
                pushed: (pushed.is_some() && (superseded_by.is_none() || refused))
                    || origin == "remote",
                origin,
                server_refusal,
                superseded_by,
            })
        })
        .collect()
    }

    /// Ledger statistics: counts by status and the unit ranking by rectification rate.
    pub fn stats(&self) -> Result<Stats> {
        let mut by_status = Vec::new();
        {
            let mut st = self
                .conn
                .prepare("SELECT status, count(*) FROM problems GROUP BY status ORDER BY status")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?;
            for row in rows {
                let (s, n) = row?;
                if let Some(s) = ProblemStatus::parse(&s) {
                    by_status.push((s, n));
                }
            }
        }
        let now = self.now().timestamp_millis();
        // Counted in SQL for speed, with the domain's definitions (`rates::sql`); the store's
        // tests pin the result to `UnitTally::add` over folded problems.
        let sums: Vec<String> = rates::sql::counts("?1")
            .iter()
            .map(|c| format!("sum({c})"))
            .collect();
        let mut st = self.conn.prepare(&format!(
            "SELECT unit_id, count(*), {}
             FROM problems
             WHERE {}
             GROUP BY unit_id",
            sums.join(", "),
            rates::sql::assigned_where()
        ))?;
        let mut units = st
            .query_map([now], |r| {
                // `sum` over no rows is NULL; a group has at least one row, but say so.
                let n = |i| r.get::<_, Option<u64>>(i).map(Option::unwrap_or_default);
                let tally = UnitTally {
                    assigned: r.get(1)?,
                    rectified: n(2)?,
                    closed: n(3)?,
                    closed_on_time: n(4)?,
                    overdue_open: n(5)?,
                    reworked: n(6)?,
                };
                Ok(UnitStats::new(r.get(0)?, &tally))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        units.sort_by(|a, b| rates::ranking_order((&a.unit_id, &a.tally), (&b.unit_id, &b.tally)));
        let total = by_status.iter().map(|(_, n)| n).sum();
        let overdue = units.iter().map(|u| u.tally.overdue_open).sum();
        Ok(Stats {
            total,
            overdue,
            by_status,
            units,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UnitStats {
    pub unit_id: String,
    /// The counts (`assigned`, `rectified`, `closed`, `closed_on_time`, `overdue_open`,
    /// `reworked`), as the domain tallies them.
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub tally: UnitTally,
    /// Rectified, verified or closed ÷ assigned (整改率).
    pub rectification_rate: f64,
    /// Closed with the rectification on time ÷ assigned (按期结案率).
    pub on_time_rate: f64,
    /// Sent back for rework at least once ÷ assigned (返工率).
    pub rework_rate: f64,
}

impl UnitStats {
    /// A ranking row from a unit's tally, with its rates as the domain defines them.
    pub fn new(unit_id: String, t: &UnitTally) -> UnitStats {
        UnitStats {
            unit_id,
            tally: *t,
            rectification_rate: t.rectification_rate(),
            on_time_rate: t.on_time_rate(),
            rework_rate: t.rework_rate(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Stats {
    pub total: u64,
    pub overdue: u64,
    pub by_status: Vec<(ProblemStatus, u64)>,
    pub units: Vec<UnitStats>,
}
