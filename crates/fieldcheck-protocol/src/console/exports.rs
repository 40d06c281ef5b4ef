//! The console's exports (issue 16): background jobs that write the filtered ledger as a file
//! (`/api/v1/console/exports`).

use chrono::{DateTime, Utc};
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
}

impl ExportKind {
    pub const ALL: [ExportKind; 4] = [
        ExportKind::Xlsx,
        ExportKind::Csv,
        ExportKind::Geojson,
        ExportKind::PhotosZip,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportKind::Xlsx => "xlsx",
            ExportKind::Csv => "csv",
            ExportKind::Geojson => "geojson",
            ExportKind::PhotosZip => "photos_zip",
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
    /// Rows written so far.
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
