//! Today's tasks of an inspector (issue 18): the points of evaluation rounds assigned to them
//! whose date has come (`GET /api/v1/tasks`). The draw never reaches a device before its day.

use chrono::NaiveDate;
use fieldcheck_domain::reference::{LatLon, PointType};
use serde::{Deserialize, Serialize};

/// One point to inspect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Task {
    pub round_id: String,
    pub round_name: String,
    /// The round's day (the city's calendar).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: NaiveDate,
    pub point_id: String,
    pub point_name: String,
    pub point_type: PointType,
    pub location: LatLon,
    #[serde(default)]
    pub address: String,
    /// A finished inspection of the point from the round's day on is on the server.
    pub done: bool,
}

/// The caller's tasks as of the city's `today`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TaskList {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub today: NaiveDate,
    pub tasks: Vec<Task>,
}
