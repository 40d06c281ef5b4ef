//! The console's exports (issue 16): background jobs that write the filtered ledger as a file
//! (`/api/v1/console/exports`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// An export's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    /// The ledger (问题台账) with photos in their cells.
    Xlsx,
    /// The ledger's columns, UTF-8 with a byte-order mark.
    Csv,
    /// RFC 7946 FeatureCollection, WGS-84 `[lon, lat]`; properties as the ledger rows name them.
    Geojson,
    /// Every photo, named `<problem code>_before_<n>.jpg` / `_after_<n>.jpg`.
    PhotosZip,
    /// PDF: 整改通知单, one page per problem of the filter or of `ids` (at most 500).
    CaseSheets,
    /// PDF: 周通报 / 月通报 of a period (`period`, `from`, `to` as the ranking takes them).
    Bulletin,
    /// PDF: 点位达标清单, every active point in your districts.
    PointCompliance,
}

impl ExportKind {
    pub const ALL: [ExportKind; 7] = [
        ExportKind::Xlsx,
        ExportKind::Csv,
        ExportKind::Geojson,
        ExportKind::PhotosZip,
        ExportKind::CaseSheets,
        ExportKind::Bulletin,
        ExportKind::PointCompliance,
    ];

    /// A PDF report (`fieldcheck-report`) rather than a file of the ledger's rows.
    pub fn is_report(self) -> bool {
        matches!(
            self,
            ExportKind::CaseSheets | ExportKind::Bulletin | ExportKind::PointCompliance
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExportKind::Xlsx => "xlsx",
            ExportKind::Csv => "csv",
            ExportKind::Geojson => "geojson",
            ExportKind::PhotosZip => "photos_zip",
            ExportKind::CaseSheets => "case_sheets",
            ExportKind::Bulletin => "bulletin",
            ExportKind::PointCompliance => "point_compliance",
        }
    }

    pub fn parse(s: &str) -> Option<ExportKind> {
        ExportKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where an export job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    Queued,
    Running,
    Done,
    Failed,
}

impl ExportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportState::Queued => "queued",
            ExportState::Running => "running",
            ExportState::Done => "done",
            ExportState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ExportState> {
        [
            ExportState::Queued,
            ExportState::Running,
            ExportState::Done,
            ExportState::Failed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// One export job of the signed-in user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportJob {
    pub id: String,
    pub kind: ExportKind,
    pub state: ExportState,
    /// Rows written so far (a report: problems or points printed).
    pub rows_done: u64,
    /// Rows the filter matched when the job started (`None` while queued).
    pub rows_total: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
    /// The download's name (Chinese, e.g. `问题台账_20261202-0315.xlsx`), once done.
    pub file_name: Option<String>,
    /// The file's size, once done.
    pub bytes: Option<u64>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `GET` it to download the file, once done (`/api/v1/console/exports/{id}/file`).
    pub download_url: Option<String>,
}

/// The signed-in user's export jobs, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportJobList {
    pub jobs: Vec<ExportJob>,
}

/// How often a scheduled bulletin comes (定期通报).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SchedulePeriod {
    /// 周通报: each week, Monday to Sunday.
    Week,
    /// 月通报: each calendar month.
    Month,
}

impl SchedulePeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            SchedulePeriod::Week => "week",
            SchedulePeriod::Month => "month",
        }
    }
}

fn default_hour() -> u8 {
    8
}

/// A bulletin to queue for each period once it closes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ReportScheduleInput {
    pub period: SchedulePeriod,
    /// The city's hour of the day (0-23) on the first day after the period when it is queued;
    /// default 8.
    #[serde(default = "default_hour")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 23))]
    pub hour: u8,
}

/// A scheduled bulletin of the signed-in user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReportSchedule {
    pub id: String,
    pub period: SchedulePeriod,
    pub hour: u8,
    pub created_at: DateTime<Utc>,
    /// The first day of the newest period it has queued.
    pub last_from: Option<NaiveDate>,
    /// When it queues the next one.
    pub next_at: DateTime<Utc>,
}

/// The signed-in user's scheduled bulletins.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReportScheduleList {
    pub schedules: Vec<ReportSchedule>,
}

/// What to export (`POST /api/v1/console/exports`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    pub kind: ExportKind,
    /// The ledger's filter: the query fields of `GET /api/v1/console/problems` as a JSON
    /// object (`{"status": "dispatched,rectifying", "overdue": true}`); `limit` and `offset`
    /// are ignored (every matching row is exported). Missing: the whole ledger in your scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[cfg_attr(
        feature = "ts",
        ts(optional, type = "Record<string, string | boolean>")
    )]
    pub filter: Option<serde_json::Value>,
    /// `case_sheets` only: the problems to print (1 to 500, each one you may see), instead of
    /// a filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub ids: Option<Vec<uuid::Uuid>>,
    /// `bulletin` only: `week` (周通报, Monday to Sunday), `month` (月通报, the default),
    /// `quarter` or `custom`, in the city's calendar days — as `GET /console/ranking` takes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub period: Option<String>,
    /// `bulletin` only: custom's first day, otherwise any day of the period (default today),
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub from: Option<String>,
    /// `bulletin` only, custom only: the last day (inclusive; at most 731 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub to: Option<String>,
}
