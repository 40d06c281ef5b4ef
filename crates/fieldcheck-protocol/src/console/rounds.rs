//! The console's evaluation rounds (模拟测评, issue 18): `/api/v1/console/rounds…`. The draw,
//! assignment and roll-up rules are `fieldcheck_domain::evaluation`.

use chrono::NaiveDate;
use fieldcheck_domain::evaluation::{Quota, RoundComparison, RoundResults};
use fieldcheck_domain::reference::PointType;
use serde::{Deserialize, Serialize};

/// A new round.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct RoundInput {
    /// 1 to 100 characters, e.g. "12月第一轮模拟测评".
    pub name: String,
    /// The city's day the inspectors learn their points and go.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: NaiveDate,
    /// The draw's seed (1–200 characters): the same seed over the same points draws the same
    /// points. When left out the server makes a random one, recorded with the round.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub seed: Option<String>,
    pub quotas: Vec<Quota>,
    /// Leave out points inspected less than this many days before `date` (0 or absent: none).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub exclude_recent_days: Option<u32>,
    /// The inspectors (user ids with the inspector role) the points are shared between.
    pub inspectors: Vec<String>,
}

/// A round as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoundSummary {
    pub id: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: NaiveDate,
    pub seed: String,
    pub exclude_recent_days: u32,
    pub quotas: Vec<Quota>,
    pub inspectors: Vec<String>,
    pub created_by: String,
    pub created_at_ms: i64,
    /// The reference data version the points were drawn from.
    pub reference_version: u64,
    pub points_total: u32,
    pub points_done: u32,
}

/// The rounds, newest date first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoundList {
    pub rounds: Vec<RoundSummary>,
}

/// One inspector's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InspectorProgress {
    pub inspector: String,
    pub name: String,
    pub done: u32,
    pub total: u32,
}

/// One drawn point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoundPointRow {
    pub point_id: String,
    pub point_name: String,
    pub point_type: PointType,
    pub district_id: String,
    pub inspector: String,
    /// The index of the quota that drew it.
    pub quota: u32,
    pub done: bool,
    /// The score (得分率) of its inspection, when done.
    pub percent: Option<f64>,
}

/// A round with its progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoundDetail {
    pub round: RoundSummary,
    pub progress: Vec<InspectorProgress>,
    pub points: Vec<RoundPointRow>,
}

/// A round's results and the comparison with the round before it (by date).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoundResultsView {
    pub round: RoundSummary,
    pub results: RoundResults,
    pub previous: Option<RoundSummary>,
    pub comparison: Option<RoundComparison>,
}
