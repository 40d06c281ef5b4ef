//! The console's overview (工作台), unit and district ranking (考核排名), map data and the
//! reference lists its filters offer.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use fieldcheck_domain::category::DeadlineRule;
use fieldcheck_domain::problem::{ProblemStatus, Severity};
use fieldcheck_domain::reference::{DistrictLevel, PointType, UnitKind};
use serde::{Deserialize, Serialize};

use super::ConsoleProblemRow;

/// A name in Chinese (shown by default) and English (empty when the reference has none).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsoleRefDistrict {
    pub id: String,
    pub name: String,
    pub name_en: String,
    pub parent_id: Option<String>,
    pub level: DistrictLevel,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsoleRefUnit {
    pub id: String,
    pub name: String,
    pub name_en: String,
    pub kind: UnitKind,
    pub district_id: Option<String>,
}

/// A minor category (`SR-02`) with its major class (`SR`, 市容环境) and handling deadline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsoleRefCategory {
    /// The minor code, what problems carry (`SR-02`).
    pub id: String,
    pub name: String,
    pub name_en: String,
    /// The major class's code: the ledger's `category` filter takes it for the whole class.
    pub major_code: String,
    pub major: String,
    pub major_en: String,
    pub deadline: DeadlineRule,
    /// The deadline rule in words, e.g. `2 个工作日`.
    pub deadline_text: String,
    pub deadline_text_en: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsoleRefPoint {
    pub id: String,
    pub name: String,
    pub point_type: PointType,
    pub district_id: String,
    /// WGS-84.
    pub lat: f64,
    pub lon: f64,
    pub address: String,
}

/// A point type, a status or a severity with its words.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsoleRefLabel {
    pub id: String,
    pub name: String,
    pub name_en: String,
}

/// What the city's calendar says the console needs: its zone for local days and times.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsoleRefCalendar {
    /// Offset of the city's time from UTC in minutes (China: 480).
    pub utc_offset_minutes: i32,
}

/// `GET /console/reference`: what the console's filters and names offer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsoleReference {
    pub districts: Vec<ConsoleRefDistrict>,
    pub units: Vec<ConsoleRefUnit>,
    pub categories: Vec<ConsoleRefCategory>,
    /// Active points only.
    pub points: Vec<ConsoleRefPoint>,
    pub point_types: Vec<ConsoleRefLabel>,
    /// Every [`ProblemStatus`] in lifecycle order.
    pub statuses: Vec<ConsoleRefLabel>,
    pub severities: Vec<ConsoleRefLabel>,
    pub calendar: ConsoleRefCalendar,
    /// The city's Tianditu browser key (config `tianditu_key`), when it has one: the map then
    /// offers Tianditu's basemap.
    pub tianditu_key: Option<String>,
}

/// Problems reported and closed on one of the city's calendar days.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsoleDayCount {
    pub day: NaiveDate,
    pub reported: u64,
    /// Closed that day (and closed still).
    pub closed: u64,
}

/// `GET /console/overview` (工作台), inside the caller's scope.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsoleOverview {
    /// Problems per status; every status is present (0 when none).
    pub counts_by_status: BTreeMap<ProblemStatus, u64>,
    pub total: u64,
    /// Waiting for their unit past the deadline, now.
    pub overdue: u64,
    /// Waiting for their unit, deadline within the next 24 hours (not yet passed).
    pub due_within_24h: u64,
    /// Reported today (the city's calendar day).
    pub new_today: u64,
    /// Rectified by the unit, waiting for the inspector's check.
    pub awaiting_verification: u64,
    /// The last 30 city days, oldest first, today last.
    pub per_day: Vec<ConsoleDayCount>,
    /// What the signed-in person should act on now, most urgent (earliest deadline) first.
    pub todo: Vec<ConsoleProblemRow>,
    /// How many problems wait for them in all (`todo` holds at most 20).
    pub todo_total: u64,
    /// The ledger filter that lists all of `todo` (a query string, e.g. `status=rectified`).
    pub todo_query: String,
    pub now: DateTime<Utc>,
}

/// Whom a ranking ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RankingBy {
    /// The responsible units.
    Unit,
    /// Districts (by default the streets, 街道): each problem counts for its district's
    /// ancestor at that level.
    District,
}

/// The period of a ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RankingPeriod {
    /// Monday to Sunday.
    Week,
    Month,
    Quarter,
    /// `from`..=`to`, city days.
    Custom,
}

/// One ranked unit or district. The counts are over the problems it received in the period
/// (dispatched to it then, and not rejected or returned since); the rates are
/// `fieldcheck_domain::rates`' over those.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RankingRow {
    pub id: String,
    pub name: String,
    /// 1 for the first; equal rows still get consecutive ranks (the order is total).
    pub rank: u32,
    /// Dispatched to it in the period.
    pub received: u64,
    /// Of those, with the deadline passed by the period's end (or by now, in a running one).
    pub due: u64,
    /// Of those received, rectified (rectified, verified or closed).
    pub rectified: u64,
    pub closed: u64,
    /// Closed, and rectified no later than the deadline.
    pub closed_on_time: u64,
    /// Waiting for the unit past the deadline, now.
    pub overdue_unhandled: u64,
    /// Sent back for rework at least once.
    pub reworked: u64,
    /// 整改率: rectified ÷ received.
    pub rectification_rate: f64,
    /// 按期率: closed on time ÷ received.
    pub on_time_rate: f64,
    /// 返工率: reworked ÷ received.
    pub rework_rate: f64,
}

/// One earlier period of the trend.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TrendPeriod {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// Every unit or district with problems received in that period.
    pub rows: Vec<TrendRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TrendRow {
    pub id: String,
    pub received: u64,
    pub rectification_rate: f64,
}

/// `GET /console/ranking`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsoleRanking {
    pub period: RankingPeriod,
    /// First city day of the period.
    pub from: NaiveDate,
    /// Last city day of the period (inclusive).
    pub to: NaiveDate,
    pub by: RankingBy,
    /// Only for `by=district`: the level ranked.
    pub level: Option<DistrictLevel>,
    /// Ranked: highest rectification rate first, then fewest overdue, then id.
    pub rows: Vec<RankingRow>,
    /// The six periods of the same kind before this one, then this one; oldest first.
    pub trend: Vec<TrendPeriod>,
}

/// A problem on the map.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MapProblem {
    pub id: String,
    pub code: String,
    pub status: ProblemStatus,
    pub category: String,
    pub severity: Option<Severity>,
    /// WGS-84: the reported location, or its point's when it has none.
    pub lat: f64,
    pub lon: f64,
    /// The location is the point's, not a GPS fix of the problem itself.
    pub at_point: bool,
    pub overdue: bool,
}

/// A point on the map.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MapPoint {
    pub id: String,
    pub name: String,
    pub point_type: PointType,
    pub lat: f64,
    pub lon: f64,
}

/// `GET /console/map`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConsoleMap {
    /// The filtered problems with a place, newest report first, at most 5,000.
    pub problems: Vec<MapProblem>,
    /// More problems matched than `problems` holds.
    pub truncated: bool,
    /// Active points (those of the `point_type` filter only, when it is set).
    pub points: Vec<MapPoint>,
}
