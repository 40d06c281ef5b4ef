//! "附近已有同类问题": before a quick report is saved, the open problems of the same category
//! already on the device within 50 m of where it is being reported, so the person can add a
//! photo to the existing record instead of reporting it twice. The rule (open, same category,
//! the radius) is the domain's `Problem::nearby_same_category`; SQL only narrows the rows to
//! a box around the position (`problem::sql::bounding_box`) before each is measured.

use chrono::{DateTime, Utc};
use fieldcheck_domain::event::PhotoRole;
use fieldcheck_domain::problem::{NEARBY_RADIUS_M, sql};
use fieldcheck_domain::reference::LatLon;
use fieldcheck_domain::scope::Scope;
use fieldcheck_domain::{Problem, ProblemStatus};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{CoreError, Result};
use crate::store::Store;

/// How many nearby problems a report screen lists at most (the nearest).
const NEARBY_SHOWN: usize = 10;

/// An open problem near a new report, as the report screen lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NearbyProblem {
    pub id: Uuid,
    pub code: String,
    pub status: ProblemStatus,
    pub category: String,
    pub description: String,
    pub address: String,
    /// Metres from the position asked about.
    pub distance_m: f64,
    /// A photo for the thumbnail: the first before-photo, else the first of any role.
    pub photo: Option<String>,
    pub reported_at: DateTime<Utc>,
    pub overdue: bool,
}

impl NearbyProblem {
    fn of(p: Problem, distance_m: f64, now: DateTime<Utc>) -> NearbyProblem {
        let photo = p
            .photos
            .iter()
            .find(|x| x.role == PhotoRole::Before)
            .or(p.photos.first())
            .map(|x| x.hash.clone());
        NearbyProblem {
            overdue: p.is_overdue(now),
            id: p.id,
            code: p.code,
            status: p.status,
            category: p.category,
            description: p.description,
            address: p.address,
            distance_m,
            photo,
            reported_at: p.reported_at,
        }
    }
}

impl Store {
    /// The open problems of `category` (a minor class, `SR-02`) within
    /// [`NEARBY_RADIUS_M`] of `at`, nearest first (then by code), at most ten; with `scope`,
    /// only what the device shows that person (a volunteer: their own reports), as the ledger.
    pub fn nearby_problems(
        &self,
        category: &str,
        at: LatLon,
        scope: Option<&Scope>,
    ) -> Result<Vec<NearbyProblem>> {
        if !at.is_valid() {
            return Err(CoreError::Invalid(
                "invalid position: lat must be within ±90 and lon within ±180".into(),
            ));
        }
        if category.trim().is_empty() {
            return Err(CoreError::Invalid("a category is required".into()));
        }
        let (lat_min, lat_max, lon_min, lon_max) = sql::bounding_box(&at, NEARBY_RADIUS_M);
        let open: Vec<ProblemStatus> = ProblemStatus::ALL
            .into_iter()
            .filter(|s| !s.is_terminal())
            .collect();
        let reporter = scope.and_then(Scope::device_reporter);
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT s.state FROM problems p JOIN problem_states s ON s.rid = p.rid
             WHERE p.category = ?1 AND p.{}
               AND p.lat BETWEEN ?2 AND ?3 AND p.lon BETWEEN ?4 AND ?5
               AND (?6 IS NULL OR p.reporter = ?6)",
            sql::status_in(&open)
        ))?;
        let states = st
            .query_map(
                rusqlite::params![category, lat_min, lat_max, lon_min, lon_max, reporter],
                |r| r.get::<_, String>(0),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let now = self.now();
        let mut found = Vec::new();
        for json in states {
            let p: Problem = serde_json::from_str(&json)?;
            // The domain decides; the box only narrowed the rows.
            if let Some(d) = p.nearby_same_category(category, &at) {
                found.push(NearbyProblem::of(p, d, now));
            }
        }
        found.sort_by(|a, b| {
            a.distance_m
                .total_cmp(&b.distance_m)
                .then_with(|| a.code.cmp(&b.code))
        });
        found.truncate(NEARBY_SHOWN);
        Ok(found)
    }
}
