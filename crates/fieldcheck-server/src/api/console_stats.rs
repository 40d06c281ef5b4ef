//! The console's overview (工作台), unit and district ranking (考核排名), map data and the
//! reference lists its filters offer.
//!
//! Everything is counted in SQL over the `problems` projection (`store/ledger.rs` builds the
//! statements, one read transaction per request) inside the caller's [`Scope`] — the rule the
//! ledger and the pull use — with the domain's definitions: the city's local days
//! ([`WorkCalendar`]), overdue (`problem::sql`), and the rates, the ranking's cohort and order
//! (`fieldcheck_domain::rates`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use fieldcheck_domain::calendar::WorkCalendar;
use fieldcheck_domain::category::{DeadlineRule, DeadlineUnit};
use fieldcheck_domain::i18n::Lang;
use fieldcheck_domain::problem::{ProblemStatus, Severity, sql as problem_sql};
use fieldcheck_domain::rates::{self, PeriodTally, UnitTally};
use fieldcheck_domain::reference::{DistrictLevel, PointType};
use fieldcheck_domain::scope::{DistrictTree, Scope};
use fieldcheck_protocol::console::stats::{
    ConsoleDayCount, ConsoleMap, ConsoleOverview, ConsoleRanking, ConsoleRefCalendar,
    ConsoleRefCategory, ConsoleRefDistrict, ConsoleRefLabel, ConsoleRefPoint, ConsoleRefUnit,
    ConsoleReference, MapPoint, MapProblem, RankingBy, RankingPeriod, RankingRow, TrendPeriod,
    TrendRow,
};
use fieldcheck_protocol::{ApiError, ReferenceBundle};
use serde::Deserialize;
use utoipa::OpenApi;

use super::console::{ConsoleCaller, ProblemsQuery, bad, date, ident, ledger_filter, row};
use super::{AppState, St, now_ms};
use crate::error::ServerError;
use crate::store::ledger::{self, Arg, LedgerFilter, LedgerSort, RankKey, Value};

/// This module's operations, merged into the API document (`openapi.rs`).
#[derive(OpenApi)]
#[openapi(
    paths(reference, overview, ranking, map),
    components(schemas(
        ConsoleReference,
        ConsoleRefDistrict,
        ConsoleRefUnit,
        ConsoleRefCategory,
        ConsoleRefPoint,
        ConsoleRefLabel,
        ConsoleRefCalendar,
        ConsoleOverview,
        ConsoleDayCount,
        ConsoleRanking,
        RankingBy,
        RankingPeriod,
        RankingRow,
        TrendPeriod,
        TrendRow,
        ConsoleMap,
        MapProblem,
        MapPoint,
    ))
)]
pub(super) struct Api;

/// This module's routes, under `/api/v1` behind the console's same-origin check.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/reference", get(reference))
        .route("/console/overview", get(overview))
        .route("/console/ranking", get(ranking))
        .route("/console/map", get(map))
}

/// How many to-do rows the overview carries.
const TODO_SHOWN: u32 = 20;
/// Days of the overview's reported/closed chart, today included.
const CHART_DAYS: u32 = 30;
/// Most problems the map gets.
pub const MAP_LIMIT: u32 = 5_000;
/// Earlier periods in a ranking's trend (the period itself comes after them).
const TREND_BEFORE: u32 = 6;
/// Longest custom ranking period, in days.
const MAX_CUSTOM_DAYS: i64 = 731;

pub(super) fn calendar(refs: &ReferenceBundle) -> WorkCalendar {
    refs.calendar.clone().unwrap_or_default()
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn deadline_words(rule: &DeadlineRule) -> (String, String) {
    let n = rule.amount;
    let plural = if n == 1 { "" } else { "s" };
    match rule.unit {
        DeadlineUnit::WorkingHours => (
            format!("{n} 个工作小时"),
            format!("{n} working hour{plural}"),
        ),
        DeadlineUnit::WorkingDays => (format!("{n} 个工作日"), format!("{n} working day{plural}")),
        DeadlineUnit::NaturalHours => (format!("{n} 小时"), format!("{n} hour{plural}")),
    }
}

fn label(id: &str, zh: &str, en: &str) -> ConsoleRefLabel {
    ConsoleRefLabel {
        id: id.to_owned(),
        name: zh.to_owned(),
        name_en: en.to_owned(),
    }
}

/// The reference lists the console's filters and names offer.
#[utoipa::path(
    get,
    path = "/api/v1/console/reference",
    tag = "console",
    responses(
        (status = 200, description = "Districts, units, categories, active points, point types, statuses, severities and the city's UTC offset", body = ConsoleReference),
    ),
    security(("console_session" = []))
)]
pub(super) async fn reference(
    State(state): St,
    _caller: ConsoleCaller,
) -> Result<Json<ConsoleReference>, ServerError> {
    let refs = state.refs().await?;
    Ok(Json(ConsoleReference {
        districts: refs
            .districts
            .iter()
            .map(|d| ConsoleRefDistrict {
                id: d.id.clone(),
                name: d.name.zh.clone(),
                name_en: d.name.en.clone(),
                parent_id: d.parent_id.clone(),
                level: d.level,
            })
            .collect(),
        units: refs
            .units
            .iter()
            .map(|u| ConsoleRefUnit {
                id: u.id.clone(),
                name: u.name.zh.clone(),
                name_en: u.name.en.clone(),
                kind: u.kind,
                district_id: u.district_id.clone(),
            })
            .collect(),
        categories: refs
            .categories
            .iter()
            .map(|c| {
                let (zh, en) = deadline_words(&c.deadline);
                ConsoleRefCategory {
                    id: c.code.clone(),
                    name: c.minor.zh.clone(),
                    name_en: c.minor.en.clone(),
                    major_code: c.major_code.clone(),
                    major: c.major.zh.clone(),
                    major_en: c.major.en.clone(),
                    deadline: c.deadline,
                    deadline_text: zh,
                    deadline_text_en: en,
                }
            })
            .collect(),
        points: refs
            .points
            .iter()
            .filter(|p| p.active)
            .map(|p| ConsoleRefPoint {
                id: p.id.clone(),
                name: p.name.clone(),
                point_type: p.point_type,
                district_id: p.district_id.clone(),
                lat: p.location.lat,
                lon: p.location.lon,
                address: p.address.clone(),
            })
            .collect(),
        point_types: PointType::ALL
            .iter()
            .map(|t| label(t.as_str(), t.label(Lang::Zh), t.label(Lang::En)))
            .collect(),
        statuses: ProblemStatus::ALL
            .iter()
            .map(|s| label(s.as_str(), s.label(Lang::Zh), s.label(Lang::En)))
            .collect(),
        severities: Severity::ALL
            .iter()
            .map(|s| label(s.as_str(), s.label(Lang::Zh), s.label(Lang::En)))
            .collect(),
        calendar: ConsoleRefCalendar {
            utc_offset_minutes: calendar(&refs).utc_offset_minutes,
        },
        tianditu_key: Some(state.config.tianditu_key.trim().to_owned()).filter(|k| !k.is_empty()),
    }))
}

/// What waits for the person (`actions::todo`, the device's home screen's list too) as a
/// ledger filter, and the ledger link that shows all of it.
fn todo_filter(scope: &Scope, now: i64) -> (LedgerFilter, String) {
    let todo = fieldcheck_domain::actions::todo(&fieldcheck_domain::Actor {
        user_id: scope.user_id.clone(),
        role: scope.role,
        unit_id: scope.unit_id.clone(),
    });
    let (statuses, unit, reporter) = (todo.statuses, todo.unit_id, todo.reporter);
    let list: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    let mut query = format!("status={}&sort=deadline&order=asc", list.join(","));
    if let Some(u) = &unit {
        query.push_str(&format!("&unit={u}"));
    }
    if let Some(r) = &reporter {
        query.push_str(&format!("&reporter={r}"));
    }
    let filter = LedgerFilter {
        statuses,
        categories: Vec::new(),
        unit,
        districts: None,
        point: None,
        points: None,
        source: None,
        reporter,
        reported_from_ms: None,
        reported_before_ms: None,
        dispatched_from_ms: None,
        dispatched_before_ms: None,
        overdue: None,
        text: None,
        conflicts: None,
        sort: LedgerSort::Deadline,
        descending: false,
        limit: TODO_SHOWN,
        offset: 0,
        now_ms: now,
    };
    (filter, query)
}

/// The overview (工作台): counts by status, overdue, due within 24 hours, new today, waiting
/// for verification, reported and closed per day, and the signed-in person's to-do list.
#[utoipa::path(
    get,
    path = "/api/v1/console/overview",
    tag = "console",
    responses(
        (status = 200, description = "The overview, inside the caller's scope", body = ConsoleOverview),
    ),
    security(("console_session" = []))
)]
pub(super) async fn overview(
    State(state): St,
    caller: ConsoleCaller,
) -> Result<Json<ConsoleOverview>, ServerError> {
    let refs = state.refs().await?;
    let (_, scope) = caller.scope(&refs);
    let now = now_ms();
    let now_t = DateTime::from_timestamp_millis(now).unwrap_or_default();
    let cal = calendar(&refs);
    let today = cal.local_day(now_t);
    let today_start = millis(cal.day_start(today));
    let first_day = today - Days::new(u64::from(CHART_DAYS - 1));
    let chart_start = millis(cal.day_start(first_day));
    // A fixed-offset calendar's days are all this long.
    let day_ms = millis(cal.day_start(first_day + Days::new(1))) - chart_start;
    let statements = [
        ledger::status_counts(&scope),
        ledger::count_where(&scope, |w| {
            let p = w.arg(Arg::Int(now));
            problem_sql::overdue(&p)
        }),
        ledger::count_where(&scope, |w| {
            let from = w.arg(Arg::Int(now));
            let to = w.arg(Arg::Int(now + 24 * 3_600_000));
            format!(
                "{} AND deadline >= {from} AND deadline < {to}",
                problem_sql::awaiting_unit()
            )
        }),
        ledger::count_where(&scope, |w| {
            let p = w.arg(Arg::Int(today_start));
            format!("reported_at >= {p}")
        }),
        ledger::per_day(
            &scope,
            "reported_at",
            None,
            chart_start,
            day_ms,
            i64::from(CHART_DAYS),
        ),
        ledger::per_day(
            &scope,
            "closed_at",
            Some("status = 'closed'"),
            chart_start,
            day_ms,
            i64::from(CHART_DAYS),
        ),
    ];
    let (todo_f, todo_query) = todo_filter(&scope, now);
    let res = state.store.select(&statements).await?;
    let todo = state.store.ledger(&todo_f, &scope).await?;
    let mut counts_by_status: BTreeMap<ProblemStatus, u64> =
        ProblemStatus::ALL.iter().map(|s| (*s, 0)).collect();
    for r in &res[0] {
        if let Some(s) = r[0].text().and_then(ProblemStatus::parse) {
            counts_by_status.insert(s, r[1].count());
        }
    }
    let one = |i: usize| res[i].first().map(|r| r[0].count()).unwrap_or(0);
    let mut per_day: Vec<ConsoleDayCount> = (0..CHART_DAYS)
        .map(|i| ConsoleDayCount {
            day: first_day + Days::new(u64::from(i)),
            reported: 0,
            closed: 0,
        })
        .collect();
    for (i, closed) in [(4, false), (5, true)] {
        for r in &res[i] {
            let Some(d) = usize::try_from(r[0].int())
                .ok()
                .and_then(|d| per_day.get_mut(d))
            else {
                continue;
            };
            if closed {
                d.closed = r[1].count();
            } else {
                d.reported = r[1].count();
            }
        }
    }
    Ok(Json(ConsoleOverview {
        total: counts_by_status.values().sum(),
        awaiting_verification: counts_by_status[&ProblemStatus::Rectified],
        counts_by_status,
        overdue: one(1),
        due_within_24h: one(2),
        new_today: one(3),
        per_day,
        todo_total: todo.total,
        todo: todo.rows.into_iter().map(|r| row(r, now)).collect(),
        todo_query,
        now: now_t,
    }))
}

/// The ranking's query string.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankingQuery {
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
    level: Option<String>,
}

/// A run of city days, `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) start: NaiveDate,
    pub(super) end: NaiveDate,
}

/// The period a bulletin covers, from the ranking's own parameters (`period`: week, month,
/// quarter or custom; `from`: a day in it, or custom's first day; `to`: custom's last day),
/// so that a bulletin and the ranking of the same period count the same problems.
pub(super) fn report_period(
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
    today: NaiveDate,
) -> Result<(RankingPeriod, Span), ServerError> {
    let mut q = RankingQuery {
        period,
        from,
        to,
        ..RankingQuery::default()
    };
    let (period, spans) = parse_period(&mut q, today)?;
    Ok((period, *spans.last().expect("a period")))
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn quarter_start(d: NaiveDate) -> NaiveDate {
    let m = (d.month0() / 3) * 3 + 1;
    NaiveDate::from_ymd_opt(d.year(), m, 1).unwrap_or(d)
}

/// The period containing `anchor` (or `from..=to` for custom), and the `before` periods of
/// the same kind before it, oldest first, the period itself last.
pub(super) fn periods(
    period: RankingPeriod,
    anchor: NaiveDate,
    to: Option<NaiveDate>,
    before: u32,
) -> Option<Vec<Span>> {
    let mut out = Vec::new();
    match period {
        RankingPeriod::Week => {
            let start = anchor - Days::new(u64::from(anchor.weekday().num_days_from_monday()));
            for k in (0..=before).rev() {
                let s = start.checked_sub_days(Days::new(7 * u64::from(k)))?;
                out.push(Span {
                    start: s,
                    end: s.checked_add_days(Days::new(7))?,
                });
            }
        }
        RankingPeriod::Month | RankingPeriod::Quarter => {
            let (start, len) = if period == RankingPeriod::Month {
                (month_start(anchor), 1)
            } else {
                (quarter_start(anchor), 3)
            };
            for k in (0..=before).rev() {
                let s = start.checked_sub_months(Months::new(len * k))?;
                out.push(Span {
                    start: s,
                    end: s.checked_add_months(Months::new(len))?,
                });
            }
        }
        RankingPeriod::Custom => {
            let end = to?.succ_opt()?;
            let len = (end - anchor).num_days();
            for k in (0..=i64::from(before)).rev() {
                let shift = Days::new(u64::try_from(len * k).ok()?);
                out.push(Span {
                    start: anchor.checked_sub_days(shift)?,
                    end: end.checked_sub_days(shift)?,
                });
            }
        }
    }
    Some(out)
}

fn parse_period(
    q: &mut RankingQuery,
    today: NaiveDate,
) -> Result<(RankingPeriod, Vec<Span>), ServerError> {
    let period = match ident("period", q.period.take())?.as_deref() {
        None | Some("month") => RankingPeriod::Month,
        Some("week") => RankingPeriod::Week,
        Some("quarter") => RankingPeriod::Quarter,
        Some("custom") => RankingPeriod::Custom,
        Some(other) => {
            return Err(bad(format!(
                "unknown period {other:?}; expected week, month, quarter or custom"
            )));
        }
    };
    let from = date("from", q.from.take())?;
    let to = date("to", q.to.take())?;
    let (anchor, to) = match period {
        RankingPeriod::Custom => {
            let (Some(f), Some(t)) = (from, to) else {
                return Err(bad(
                    "period=custom needs both from and to (YYYY-MM-DD, the city's calendar days)",
                ));
            };
            if f > t {
                return Err(bad(format!("from ({f}) is after to ({t})")));
            }
            let days = (t - f).num_days() + 1;
            if days > MAX_CUSTOM_DAYS {
                return Err(bad(format!(
                    "a custom period spans at most {MAX_CUSTOM_DAYS} days, not {days}"
                )));
            }
            (f, Some(t))
        }
        _ => {
            if to.is_some() {
                return Err(bad(
                    "to is only for period=custom; for a week, month or quarter give from: \
                     a day in the period wanted",
                ));
            }
            (from.unwrap_or(today), None)
        }
    };
    let spans = periods(period, anchor, to, TREND_BEFORE)
        .ok_or_else(|| bad(format!("the period around {anchor} is out of range")))?;
    Ok((period, spans))
}

fn parse_level(v: Option<String>) -> Result<DistrictLevel, ServerError> {
    match ident("level", v)?.as_deref() {
        None | Some("street") => Ok(DistrictLevel::Street),
        Some("district") => Ok(DistrictLevel::District),
        Some("community") => Ok(DistrictLevel::Community),
        Some(other) => Err(bad(format!(
            "unknown level {other:?}; expected district, street or community"
        ))),
    }
}

/// The district a problem's district counts for at `level`: its ancestor at that level, or
/// itself when it lies above that level (a problem placed on a whole 区).
fn roll_up(tree: &DistrictTree, id: &str, level: DistrictLevel) -> String {
    tree.ancestors_of(id)
        .into_iter()
        .find(|d| d.level == level)
        .map(|d| d.id.clone())
        .unwrap_or_else(|| id.to_owned())
}

pub(super) fn tally_of(r: &[Value]) -> PeriodTally {
    PeriodTally {
        tally: UnitTally {
            assigned: r[2].count(),
            rectified: r[4].count(),
            closed: r[5].count(),
            closed_on_time: r[6].count(),
            overdue_open: r[7].count(),
            reworked: r[8].count(),
        },
        due: r[3].count(),
    }
}

fn ranked(groups: &BTreeMap<String, PeriodTally>) -> Vec<(&String, &PeriodTally)> {
    let mut v: Vec<_> = groups.iter().collect();
    v.sort_by(|a, b| rates::ranking_order((a.0, &a.1.tally), (b.0, &b.1.tally)));
    v
}

/// The ranking (考核排名) of units or districts for a period, with the trend of the periods
/// before it.
#[utoipa::path(
    get,
    path = "/api/v1/console/ranking",
    tag = "console",
    params(
        ("period" = Option<String>, Query, description = "`week` (Monday to Sunday), `month` (default), `quarter` or `custom`, in the city's calendar days"),
        ("from" = Option<String>, Query, format = Date, description = "custom: the first day; otherwise any day of the period wanted (default today)"),
        ("to" = Option<String>, Query, format = Date, description = "custom only: the last day (inclusive; at most 731 days)"),
        ("by" = Option<String>, Query, description = "`unit` (default) or `district`"),
        ("level" = Option<String>, Query, description = "by=district: rank `district`s, `street`s (default) or `community`s; each problem counts for its district's ancestor at that level"),
    ),
    responses(
        (status = 200, description = "The units or districts with problems received in the period (dispatched to the unit then), ranked by rectification rate, then fewest overdue, then id; and the trend over the six periods before it. Counts inside the caller's scope.", body = ConsoleRanking),
        (status = 400, description = "An unknown period, `by` or level, a bad date, `from` after `to`, custom without both days, `to` without custom, an unknown parameter (`malformed_request`, naming it)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn ranking(
    State(state): St,
    caller: ConsoleCaller,
    q: Result<Query<RankingQuery>, QueryRejection>,
) -> Result<Json<ConsoleRanking>, ServerError> {
    let Query(mut q) = q.map_err(|e| bad(e.body_text()))?;
    let refs = state.refs().await?;
    let (tree, scope) = caller.scope(&refs);
    let now = now_ms();
    let cal = calendar(&refs);
    let today = cal.local_day(DateTime::from_timestamp_millis(now).unwrap_or_default());
    let (period, spans) = parse_period(&mut q, today)?;
    let by = match ident("by", q.by.take())?.as_deref() {
        None | Some("unit") => RankingBy::Unit,
        Some("district") => RankingBy::District,
        Some(other) => {
            return Err(bad(format!(
                "unknown by {other:?}; expected unit or district"
            )));
        }
    };
    let level = match by {
        RankingBy::District => Some(parse_level(q.level.take())?),
        RankingBy::Unit => {
            if ident("level", q.level.take())?.is_some() {
                return Err(bad("level is only for by=district"));
            }
            None
        }
    };
    let mut bounds: Vec<i64> = spans
        .iter()
        .map(|s| millis(cal.day_start(s.start)))
        .collect();
    let last = *spans.last().expect("a period");
    let end_ms = millis(cal.day_start(last.end));
    bounds.push(end_ms);
    let key = match by {
        RankingBy::Unit => RankKey::Unit,
        RankingBy::District => RankKey::District,
    };
    let stmt = ledger::ranking(&scope, key, &bounds, end_ms.min(now), now);
    let rows = state
        .store
        .select(std::slice::from_ref(&stmt))
        .await?
        .pop()
        .unwrap_or_default();
    // Per period, per unit or district (rolled up to the level).
    let mut per: Vec<BTreeMap<String, PeriodTally>> = vec![BTreeMap::new(); spans.len()];
    for r in &rows {
        let Some(id) = r[0].text() else { continue };
        let Some(bucket) = usize::try_from(r[1].int())
            .ok()
            .and_then(|i| per.get_mut(i))
        else {
            continue;
        };
        let id = match level {
            Some(l) => roll_up(&tree, id, l),
            None => id.to_owned(),
        };
        bucket.entry(id).or_default().merge(&tally_of(r));
    }
    let name = |id: &str| -> String {
        match by {
            RankingBy::Unit => refs.units.iter().find(|u| u.id == id).map(|u| &u.name),
            RankingBy::District => tree.get(id).map(|d| &d.name),
        }
        .map(|n| n.zh.clone())
        .unwrap_or_else(|| id.to_owned())
    };
    let current = per.last().expect("a period");
    let rows = ranked(current)
        .into_iter()
        .enumerate()
        .map(|(i, (id, t))| RankingRow {
            id: id.clone(),
            name: name(id),
            rank: u32::try_from(i + 1).unwrap_or(u32::MAX),
            received: t.tally.assigned,
            due: t.due,
            rectified: t.tally.rectified,
            closed: t.tally.closed,
            closed_on_time: t.tally.closed_on_time,
            overdue_unhandled: t.tally.overdue_open,
            reworked: t.tally.reworked,
            rectification_rate: t.tally.rectification_rate(),
            on_time_rate: t.tally.on_time_rate(),
            rework_rate: t.tally.rework_rate(),
        })
        .collect();
    let trend = spans
        .iter()
        .zip(&per)
        .map(|(s, groups)| TrendPeriod {
            period_start: s.start,
            period_end: s.end.pred_opt().unwrap_or(s.end),
            rows: ranked(groups)
                .into_iter()
                .map(|(id, t)| TrendRow {
                    id: id.clone(),
                    received: t.tally.assigned,
                    rectification_rate: t.tally.rectification_rate(),
                })
                .collect(),
        })
        .collect();
    Ok(Json(ConsoleRanking {
        period,
        from: last.start,
        to: last.end.pred_opt().unwrap_or(last.end),
        by,
        level,
        rows,
        trend,
    }))
}

/// The ledger's filtered problems with a place, and the points, for the map.
#[utoipa::path(
    get,
    path = "/api/v1/console/map",
    tag = "console",
    params(ProblemsQuery),
    responses(
        (status = 200, description = "Up to 5,000 problems with a place (their GPS fix, else their point's), newest report first, `truncated` when more match; and the active points (WGS-84)", body = ConsoleMap),
        (status = 400, description = "A filter that is wrong, as for the ledger (`malformed_request`, naming it)", body = ApiError),
    ),
    security(("console_session" = []))
)]
pub(super) async fn map(
    State(state): St,
    caller: ConsoleCaller,
    q: Result<Query<ProblemsQuery>, QueryRejection>,
) -> Result<Json<ConsoleMap>, ServerError> {
    let Query(q) = q.map_err(|e| bad(e.body_text()))?;
    let refs = state.refs().await?;
    let (tree, scope) = caller.scope(&refs);
    let now = now_ms();
    let filter = ledger_filter(q, &refs, &tree, now)?;
    let stmt = ledger::map_problems(&filter, &scope, MAP_LIMIT + 1);
    let rows = state
        .store
        .select(std::slice::from_ref(&stmt))
        .await?
        .pop()
        .unwrap_or_default();
    let truncated = rows.len() > MAP_LIMIT as usize;
    let points_by_id: BTreeMap<&str, &fieldcheck_domain::reference::Point> =
        refs.points.iter().map(|p| (p.id.as_str(), p)).collect();
    let problems = rows
        .iter()
        .take(MAP_LIMIT as usize)
        .filter_map(|r| {
            let status = ProblemStatus::parse(r[2].text()?)?;
            let (lat, lon, at_point) = match (r[5].real(), r[6].real()) {
                (Some(lat), Some(lon)) => (lat, lon, false),
                _ => {
                    let p = points_by_id.get(r[7].text()?)?;
                    (p.location.lat, p.location.lon, true)
                }
            };
            Some(MapProblem {
                id: r[0].text()?.to_owned(),
                code: r[1].text().unwrap_or_default().to_owned(),
                status,
                category: r[3].text().unwrap_or_default().to_owned(),
                severity: r[4].text().and_then(Severity::parse),
                lat,
                lon,
                at_point,
                // The domain's overdue rule on the row (as the ledger's rows).
                overdue: status.awaits_unit() && r[8].opt_int().is_some_and(|d| d < now),
            })
        })
        .collect();
    let points = refs
        .points
        .iter()
        .filter(|p| p.active)
        .filter(|p| filter.points.as_ref().is_none_or(|ids| ids.contains(&p.id)))
        .map(|p| MapPoint {
            id: p.id.clone(),
            name: p.name.clone(),
            point_type: p.point_type,
            lat: p.location.lat,
            lon: p.location.lon,
        })
        .collect();
    Ok(Json(ConsoleMap {
        problems,
        truncated,
        points,
    }))
}
