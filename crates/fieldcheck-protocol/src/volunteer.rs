//! Volunteers and citizens on the public report page (issue 17): the JSON the page served at
//! `/report/` exchanges with the server under `/api/v1/volunteer/…`, and the office's side of
//! teams and volunteers under `/api/v1/console/volunteers…`.
//!
//! A volunteer joins a team through its invite link with name and phone, and reports once the
//! team leader or the office approved them. The page keeps a report on the phone until the
//! server has it; the report's client-made id makes a resend land once.

use chrono::{DateTime, Utc};
use fieldcheck_domain::problem::ProblemStatus;
use serde::{Deserialize, Serialize};

/// Where a volunteer stands with their team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum VolunteerStatus {
    /// 待审核: joined, waiting for the team leader or the office.
    Pending,
    /// 已通过: may report.
    Approved,
    /// 未通过
    Rejected,
    /// A citizen without an account (the city's anonymous switch is on): may report under
    /// tighter limits and follows only the reports made from this browser.
    Anonymous,
}

impl VolunteerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VolunteerStatus::Pending => "pending",
            VolunteerStatus::Approved => "approved",
            VolunteerStatus::Rejected => "rejected",
            VolunteerStatus::Anonymous => "anonymous",
        }
    }

    pub fn parse(s: &str) -> Option<VolunteerStatus> {
        [
            VolunteerStatus::Pending,
            VolunteerStatus::Approved,
            VolunteerStatus::Rejected,
            VolunteerStatus::Anonymous,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// A volunteer team as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamRef {
    pub id: String,
    pub name: String,
}

/// What an invite link leads to (`GET /api/v1/volunteer/invite/{code}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InviteInfo {
    pub team: TeamRef,
}

/// Joining a team (`POST /api/v1/volunteer/join`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// The code from the invite link.
    pub invite: String,
    /// 1–32 characters.
    pub name: String,
    /// A mainland mobile number, 11 digits starting with 1.
    pub phone: String,
}

/// The person on the page (`GET /api/v1/volunteer/me`; also the answer to joining).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VolunteerMe {
    pub user_id: String,
    pub name: String,
    /// The phone with its middle digits hidden (`138****5678`); empty for a citizen.
    pub phone: String,
    pub team: Option<TeamRef>,
    pub status: VolunteerStatus,
    /// Approves the team's new members on the page.
    pub leader: bool,
    /// The page's CSRF token: sent as `X-CSRF-Token` on every POST.
    pub csrf_token: String,
}

/// The city's settings the page needs before anyone signs in (`GET /api/v1/volunteer/city`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PublicCity {
    /// Citizens may report without joining a team.
    pub anonymous_reports: bool,
    /// The categories to pick from, most reported first; `common` marks the short list.
    pub categories: Vec<PublicCategory>,
    /// The basemap the office chose for the city's maps (a pin on the map), if any.
    pub map: Option<crate::map::OnlineMap>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PublicCategory {
    pub code: String,
    /// The minor class's name (中文).
    pub name: String,
    pub major_code: String,
    pub major_name: String,
    pub common: bool,
}

/// An open report of the same category near the place being reported (已有人上报).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NearbyReport {
    pub id: String,
    pub code: String,
    pub category: String,
    pub status: ProblemStatus,
    /// The status in Chinese, as the page shows it.
    pub status_label: String,
    pub distance_m: f64,
    /// The first photo's display copy (`/api/v1/volunteer/photos/{hash}`), if it has one.
    pub photo: Option<String>,
    pub reported_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NearbyReports {
    pub reports: Vec<NearbyReport>,
}

/// The original a report was marked a duplicate of, as its reporter sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DuplicateOf {
    pub code: String,
    pub status: ProblemStatus,
    pub status_label: String,
}

/// One of my reports (我的上报).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MyReport {
    /// The client-made id the report was sent with.
    pub id: String,
    pub code: String,
    pub category: String,
    pub category_name: String,
    /// For a duplicate: the original's status (a duplicate follows its original).
    pub status: ProblemStatus,
    pub status_label: String,
    /// Plain text: shown as text, never as markup.
    pub description: String,
    pub address: String,
    pub reported_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What the office tells the reporter (the status and its reason).
    pub public_note: String,
    /// Display copies of the photos taken for the report (and added to it).
    pub photos: Vec<String>,
    /// The unit's after-photos, once rectified.
    pub after_photos: Vec<String>,
    pub duplicate_of: Option<DuplicateOf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MyReports {
    pub reports: Vec<MyReport>,
}

/// A member of a team, for its leader on the page and for the office in the console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VolunteerRow {
    pub user_id: String,
    pub name: String,
    /// In full for the office; middle digits hidden for a team leader.
    pub phone: String,
    pub team_id: String,
    pub status: VolunteerStatus,
    pub leader: bool,
    pub joined_at: DateTime<Utc>,
    /// Reports made.
    pub reports: u64,
    /// Of them, confirmed by the office (filed as cases, or further along) — the team's 积分.
    pub confirmed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamMembers {
    pub members: Vec<VolunteerRow>,
}

/// Approving or turning down a member, or making them the team's leader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct MemberDecision {
    /// `approved` or `rejected`; absent to leave as is.
    #[serde(default)]
    pub status: Option<VolunteerStatus>,
    /// Console only: make or unmake the team's leader.
    #[serde(default)]
    pub leader: Option<bool>,
}

/// A team in the console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamRow {
    pub id: String,
    pub name: String,
    pub district_id: Option<String>,
    /// The link volunteers join by (`{public_url}/report/#/join/{code}`).
    pub invite_url: String,
    /// The invite link as a QR code (SVG).
    pub invite_qr: String,
    pub members: u64,
    pub pending: u64,
    pub reports: u64,
    pub confirmed: u64,
    pub created_at: DateTime<Utc>,
}

/// The console's volunteers page (`GET /api/v1/console/volunteers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VolunteersPage {
    pub anonymous_reports: bool,
    /// Reports made anonymously, and how many of them were confirmed.
    pub anonymous_count: u64,
    pub anonymous_confirmed: u64,
    pub teams: Vec<TeamRow>,
    pub volunteers: Vec<VolunteerRow>,
}

/// A new team (`POST /api/v1/console/volunteers/teams`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    pub name: String,
    /// The district its volunteers report in (and below); none: the whole city.
    #[serde(default)]
    pub district_id: Option<String>,
}

/// The city's public-channel switch (`PUT /api/v1/console/volunteers/settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct VolunteerSettings {
    pub anonymous_reports: bool,
}

/// What a report upload answers (`POST /api/v1/volunteer/reports`, and adding a photo).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReportAccepted {
    pub id: String,
    pub code: String,
    /// The server had it already (a resend): nothing new was made.
    pub already: bool,
}
