//! A problem (问题) as the ledger shows it: the fold of its events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::PhotoRole;
use crate::i18n::Lang;
use crate::placement::Placement;
use crate::reference::LatLon;
use crate::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ProblemStatus {
    /// 已上报: reported, waiting for the office.
    Reported,
    /// 已立案: accepted as a case by the office.
    Filed,
    /// 不予立案: duplicate or invalid.
    Rejected,
    /// 已派遣: sent to a responsible unit with a deadline.
    Dispatched,
    /// 整改中: the unit accepted it and is working on it.
    Rectifying,
    /// 已退回: the unit says it is not theirs; the office re-dispatches.
    Returned,
    /// 已整改: the unit reports it fixed, with after-photos.
    Rectified,
    /// 已核查: an inspector checked on site that it is fixed.
    Verified,
    /// 已结案
    Closed,
    /// 已重新打开: a re-check (巩固) found it back.
    Reopened,
}

impl ProblemStatus {
    pub const ALL: [ProblemStatus; 10] = [
        ProblemStatus::Reported,
        ProblemStatus::Filed,
        ProblemStatus::Rejected,
        ProblemStatus::Dispatched,
        ProblemStatus::Rectifying,
        ProblemStatus::Returned,
        ProblemStatus::Rectified,
        ProblemStatus::Verified,
        ProblemStatus::Closed,
        ProblemStatus::Reopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProblemStatus::Reported => "reported",
            ProblemStatus::Filed => "filed",
            ProblemStatus::Rejected => "rejected",
            ProblemStatus::Dispatched => "dispatched",
            ProblemStatus::Rectifying => "rectifying",
            ProblemStatus::Returned => "returned",
            ProblemStatus::Rectified => "rectified",
            ProblemStatus::Verified => "verified",
            ProblemStatus::Closed => "closed",
            ProblemStatus::Reopened => "reopened",
        }
    }

    pub fn parse(s: &str) -> Option<ProblemStatus> {
        ProblemStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s || st.label(Lang::Zh) == s)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            ProblemStatus::Reported => ("已上报", "Reported"),
            ProblemStatus::Filed => ("已立案", "Filed"),
            ProblemStatus::Rejected => ("不予立案", "Rejected"),
            ProblemStatus::Dispatched => ("已派遣", "Dispatched"),
            ProblemStatus::Rectifying => ("整改中", "Rectifying"),
            ProblemStatus::Returned => ("已退回", "Returned"),
            ProblemStatus::Rectified => ("已整改", "Rectified"),
            ProblemStatus::Verified => ("已核查", "Verified"),
            ProblemStatus::Closed => ("已结案", "Closed"),
            ProblemStatus::Reopened => ("已重新打开", "Reopened"),
        };
        if lang == Lang::En { en } else { zh }
    }

    /// Waiting for the responsible unit: the states in which a deadline can be missed. The
    /// order is the one the device's partial index `problems_open_deadline` was declared with
    /// (see [`sql::awaiting_unit`]).
    pub const AWAITING_UNIT: [ProblemStatus; 2] =
        [ProblemStatus::Dispatched, ProblemStatus::Rectifying];

    /// Waiting for the responsible unit: the states in which a deadline can be missed.
    pub fn awaits_unit(self) -> bool {
        ProblemStatus::AWAITING_UNIT.contains(&self)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, ProblemStatus::Closed | ProblemStatus::Rejected)
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Severity {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Normal,
        Severity::High,
        Severity::Urgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Normal => "normal",
            Severity::High => "high",
            Severity::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s || v.label(Lang::Zh) == s)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            Severity::Low => ("轻微", "Low"),
            Severity::Normal => ("一般", "Normal"),
            Severity::High => ("严重", "High"),
            Severity::Urgent => ("紧急", "Urgent"),
        };
        if lang == Lang::En { en } else { zh }
    }
}

/// Where a coordinate came from; the office trusts a GPS fix more than a typed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum LocationSource {
    Gps,
    Exif,
    Map,
    Typed,
}

impl LocationSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LocationSource::Gps => "gps",
            LocationSource::Exif => "exif",
            LocationSource::Map => "map",
            LocationSource::Typed => "typed",
        }
    }

    pub fn parse(s: &str) -> Option<LocationSource> {
        [
            LocationSource::Gps,
            LocationSource::Exif,
            LocationSource::Map,
            LocationSource::Typed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// A WGS-84 position with the accuracy the receiver reported and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
    pub source: LocationSource,
}

impl Location {
    pub fn is_valid(&self) -> bool {
        LatLon {
            lat: self.lat,
            lon: self.lon,
        }
        .is_valid()
            && self.accuracy_m.is_none_or(|a| a.is_finite() && a >= 0.0)
    }

    pub fn latlon(&self) -> LatLon {
        LatLon {
            lat: self.lat,
            lon: self.lon,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProblemPhoto {
    /// SHA-256 of the photo as captured (its unstamped display copy): the evidence.
    pub hash: String,
    pub role: PhotoRole,
    pub event_id: Uuid,
    pub added_by: String,
    /// SHA-256 of the display copy carrying the evidence stamp (水印), when the photo has
    /// one: what the app, the console and the exports show (see [`ProblemPhoto::shown`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub stamped: Option<String>,
}

impl ProblemPhoto {
    /// The copy to show a person: the stamped one when there is one.
    pub fn shown(&self) -> &str {
        self.stamped.as_deref().unwrap_or(&self.hash)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExtensionRequest {
    pub until: DateTime<Utc>,
    pub reason: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Problem {
    pub id: Uuid,
    pub code: String,
    pub status: ProblemStatus,
    pub category: String,
    pub description: String,
    pub location: Option<Location>,
    pub address: String,
    pub district_id: Option<String>,
    pub point_id: Option<String>,
    /// How the device placed a GPS-only report (district, point); `None` once a person set
    /// the district, or when a person chose it from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    pub item_id: Option<String>,
    pub inspection_id: Option<Uuid>,
    pub reporter: String,
    pub reporter_role: Role,
    pub severity: Severity,
    pub unit_id: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
    pub rework_count: u32,
    pub recheck_count: u32,
    pub duplicate_of: Option<String>,
    /// Why it was rejected, returned by the unit, failed its check or was reopened: the
    /// latest such reason, shown on the record.
    pub status_reason: Option<String>,
    pub extension: Option<ExtensionRequest>,
    pub photos: Vec<ProblemPhoto>,
    pub reported_at: DateTime<Utc>,
    pub dispatched_at: Option<DateTime<Utc>>,
    pub rectified_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// Where a problem came from, as ledgers filter and count it. Derived from the folded problem: one
/// found on a checklist inspection carries its inspection; otherwise a volunteer's report is a
/// volunteer's, and anyone else's a quick report (随手拍).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ProblemSource {
    Inspection,
    QuickReport,
    Volunteer,
}

impl ProblemSource {
    pub const ALL: [ProblemSource; 3] = [
        ProblemSource::Inspection,
        ProblemSource::QuickReport,
        ProblemSource::Volunteer,
    ];

    pub fn of(p: &Problem) -> ProblemSource {
        if p.inspection_id.is_some() {
            ProblemSource::Inspection
        } else if p.reporter_role == Role::Volunteer {
            ProblemSource::Volunteer
        } else {
            ProblemSource::QuickReport
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProblemSource::Inspection => "inspection",
            ProblemSource::QuickReport => "quick_report",
            ProblemSource::Volunteer => "volunteer",
        }
    }

    pub fn parse(s: &str) -> Option<ProblemSource> {
        ProblemSource::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl Problem {
    /// Waiting for its unit past the deadline. Compared in whole milliseconds, the precision
    /// every store keeps, so that the SQL form ([`sql::overdue`]) selects exactly these.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status.awaits_unit()
            && self
                .deadline
                .is_some_and(|d| d.timestamp_millis() < now.timestamp_millis())
    }

    /// Waiting for its unit with the deadline still ahead, at most [`DUE_SOON_MS`] away
    /// (`now <= deadline <= now + 24 h`, whole milliseconds): the "24小时内到期" list. It never
    /// overlaps [`Problem::is_overdue`] (`deadline < now`); the SQL form is [`sql::due_soon`].
    pub fn is_due_soon(&self, now: DateTime<Utc>) -> bool {
        let now = now.timestamp_millis();
        self.status.awaits_unit()
            && self.deadline.is_some_and(|d| {
                let d = d.timestamp_millis();
                now <= d && d <= now + DUE_SOON_MS
            })
    }

    /// The distance from `at` when this problem is one a new report of `category` there
    /// should be pointed to (附近已有同类问题): still open (neither closed nor rejected), the
    /// same minor category, located, and at most [`NEARBY_RADIUS_M`] away (the boundary
    /// included).
    pub fn nearby_same_category(&self, category: &str, at: &LatLon) -> Option<f64> {
        if self.status.is_terminal() || self.category != category {
            return None;
        }
        let d = self.location?.latlon().distance_m(at);
        (d <= NEARBY_RADIUS_M).then_some(d)
    }

    pub fn has_photo(&self, role: PhotoRole) -> bool {
        self.photos.iter().any(|p| p.role == role)
    }
}

/// How far ahead a deadline counts as due soon ([`Problem::is_due_soon`]): 24 hours.
pub const DUE_SOON_MS: i64 = 24 * 3600 * 1000;

/// How close an open problem of the same category must be to a new report to be shown
/// before saving it ([`Problem::nearby_same_category`]): a GPS fix in town is good to
/// 10–30 m, so two reports of one overflowing bin land well within 50 m of each other, while
/// the next bin down the street is usually farther.
pub const NEARBY_RADIUS_M: f64 = 50.0;

/// The SQL forms of the problem rules, for a store that projects problems into a table with a
/// text `status` column ([`ProblemStatus::as_str`]) and instants in Unix milliseconds. Only
/// text is produced here; the store runs it. A store's query that must use the partial index
/// over open deadlines has to repeat [`awaiting_unit`] exactly (SQLite matches an index's
/// predicate by its form), which is why the index and the queries take it from here.
pub mod sql {
    use super::ProblemStatus;

    /// `status IN ('a', 'b')` for the given states, in the given order.
    pub fn status_in(statuses: &[ProblemStatus]) -> String {
        let list: Vec<String> = statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        format!("status IN ({})", list.join(", "))
    }

    /// The SQL form of [`ProblemStatus::awaits_unit`]; also the predicate of the device's
    /// partial index `problems_open_deadline` (migrations/device/0003_thin_ledger.sql).
    pub fn awaiting_unit() -> String {
        status_in(&ProblemStatus::AWAITING_UNIT)
    }

    /// The SQL form of [`super::Problem::is_overdue`], `now` being a placeholder or a literal
    /// in Unix milliseconds (`?1`). A NULL deadline makes it NULL, which no filter or `sum`
    /// counts, as a problem without a deadline is never overdue.
    pub fn overdue(now: &str) -> String {
        format!("{} AND deadline < {now}", awaiting_unit())
    }

    /// The SQL form of [`super::Problem::is_due_soon`], `now` being a placeholder or a literal
    /// in Unix milliseconds, used twice. It begins with [`awaiting_unit`], so a store's partial
    /// index over open deadlines serves it like [`overdue`].
    pub fn due_soon(now: &str) -> String {
        format!(
            "{} AND deadline >= {now} AND deadline <= {now} + {}",
            awaiting_unit(),
            super::DUE_SOON_MS
        )
    }

    /// A latitude/longitude box (`lat_min, lat_max, lon_min, lon_max`) holding every position
    /// within `radius_m` of `at` by [`crate::reference::LatLon::distance_m`]: the indexable
    /// prefilter of a "near" query, whose rows are then measured exactly. The box is a little
    /// wider than the circle (1 % and the spherical rounding), never narrower; near a pole it
    /// spans every longitude. It does not wrap at ±180° (no Chinese city spans the antimeridian).
    pub fn bounding_box(at: &crate::reference::LatLon, radius_m: f64) -> (f64, f64, f64, f64) {
        // Metres per degree of latitude on the haversine's sphere.
        const M_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;
        let dlat = radius_m * 1.01 / M_PER_DEG;
        let lat_min = (at.lat - dlat).max(-90.0);
        let lat_max = (at.lat + dlat).min(90.0);
        // A degree of longitude is shortest at the box's edge farthest from the equator.
        let cos = lat_min.abs().max(lat_max.abs()).to_radians().cos();
        if cos < 1e-6 {
            return (lat_min, lat_max, -180.0, 180.0);
        }
        let dlon = dlat / cos;
        (lat_min, lat_max, at.lon - dlon, at.lon + dlon)
    }
}

/// The domain tests' problem: code `T`, category SR-02, located, reported by an inspector on
/// 2026-11-23 with a deadline then; tests change what they need.
#[cfg(test)]
pub(crate) fn test_problem(status: ProblemStatus) -> Problem {
    use chrono::{DateTime, Utc};
    use uuid::Uuid;
    let t0 = DateTime::parse_from_rfc3339("2026-11-23T02:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    Problem {
        id: Uuid::nil(),
        code: "T".into(),
        status,
        category: "SR-02".into(),
        description: String::new(),
        location: Some(Location {
            lat: 26.08,
            lon: 119.3,
            accuracy_m: None,
            source: LocationSource::Gps,
        }),
        address: String::new(),
        district_id: None,
        point_id: None,
        placement: None,
        item_id: None,
        inspection_id: None,
        reporter: "usr-insp-1".into(),
        reporter_role: Role::Inspector,
        severity: Severity::Normal,
        unit_id: None,
        deadline: Some(t0),
        rework_count: 0,
        recheck_count: 0,
        duplicate_of: None,
        status_reason: None,
        extension: None,
        photos: vec![],
        reported_at: t0,
        dispatched_at: None,
        rectified_at: None,
        closed_at: None,
        updated_at: t0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_forms_follow_the_states() {
        assert_eq!(
            sql::awaiting_unit(),
            "status IN ('dispatched', 'rectifying')"
        );
        assert_eq!(
            sql::overdue("?3"),
            "status IN ('dispatched', 'rectifying') AND deadline < ?3"
        );
        assert_eq!(
            sql::due_soon("?2"),
            "status IN ('dispatched', 'rectifying') AND deadline >= ?2 AND deadline <= ?2 + 86400000"
        );
        for s in ProblemStatus::ALL {
            assert_eq!(
                s.awaits_unit(),
                sql::awaiting_unit().contains(&format!("'{}'", s.as_str())),
                "{s:?}"
            );
        }
    }

    #[test]
    fn due_soon_is_the_next_24_hours_and_never_overdue() {
        let p = test_problem(ProblemStatus::Dispatched);
        let d = p.deadline.unwrap();
        let ms = chrono::Duration::milliseconds;
        assert!(p.is_due_soon(d), "due exactly now");
        assert!(!p.is_overdue(d));
        assert!(!p.is_due_soon(d + ms(1)), "a millisecond late is overdue");
        assert!(p.is_overdue(d + ms(1)));
        assert!(p.is_due_soon(d - ms(DUE_SOON_MS)), "exactly 24 h ahead");
        assert!(!p.is_due_soon(d - ms(DUE_SOON_MS + 1)));
        for s in ProblemStatus::ALL {
            let mut q = p.clone();
            q.status = s;
            assert_eq!(q.is_due_soon(d), s.awaits_unit(), "{s:?}");
        }
        let mut q = p.clone();
        q.deadline = None;
        assert!(!q.is_due_soon(d));
    }

    #[test]
    fn nearby_is_open_same_category_within_50_m() {
        let p = test_problem(ProblemStatus::Filed);
        let here = p.location.unwrap().latlon();
        assert_eq!(p.nearby_same_category("SR-02", &here), Some(0.0));
        assert_eq!(p.nearby_same_category("SR-03", &here), None);
        assert_eq!(p.nearby_same_category("SR", &here), None);
        // Metres per degree of latitude on the haversine's sphere.
        let m = 6_371_008.8 * std::f64::consts::PI / 180.0;
        let at = |metres: f64| LatLon {
            lat: here.lat + metres / m,
            lon: here.lon,
        };
        let d = p.nearby_same_category("SR-02", &at(49.9)).unwrap();
        assert!((d - 49.9).abs() < 0.01, "{d}");
        assert_eq!(p.nearby_same_category("SR-02", &at(50.1)), None);
        for s in [ProblemStatus::Closed, ProblemStatus::Rejected] {
            let mut q = p.clone();
            q.status = s;
            assert_eq!(q.nearby_same_category("SR-02", &here), None, "{s:?}");
        }
        let mut q = p.clone();
        q.location = None;
        assert_eq!(q.nearby_same_category("SR-02", &here), None);
    }

    #[test]
    fn the_bounding_box_holds_the_circle() {
        for lat in [-60.0, 0.0, 26.08, 45.0, 80.0] {
            let at = LatLon { lat, lon: 119.3 };
            let (lat_min, lat_max, lon_min, lon_max) = sql::bounding_box(&at, NEARBY_RADIUS_M);
            // Points on the circle (a hair inside) in 72 directions lie inside the box.
            let m = 6_371_008.8 * std::f64::consts::PI / 180.0;
            for k in 0..72 {
                let a = f64::from(k) * 5f64.to_radians();
                let dlat = 49.99 * a.cos() / m;
                let p = LatLon {
                    lat: (lat + dlat).clamp(-90.0, 90.0),
                    lon: at.lon + 49.99 * a.sin() / m / p_cos(lat + dlat),
                };
                if at.distance_m(&p) > NEARBY_RADIUS_M {
                    continue;
                }
                assert!(
                    (lat_min..=lat_max).contains(&p.lat) && (lon_min..=lon_max).contains(&p.lon),
                    "{lat}: {p:?} outside {:?}",
                    (lat_min, lat_max, lon_min, lon_max)
                );
            }
            assert!(lat_max - lat_min < 0.001, "{lat}: a small box");
        }
        // At a pole every longitude is within reach.
        for lat in [-89.9999, 89.9999] {
            let (_, _, lon_min, lon_max) =
                sql::bounding_box(&LatLon { lat, lon: 119.3 }, NEARBY_RADIUS_M);
            assert_eq!((lon_min, lon_max), (-180.0, 180.0));
        }
    }

    fn p_cos(lat: f64) -> f64 {
        lat.clamp(-89.99999, 89.99999).to_radians().cos()
    }
}
