//! Where a report made in the street belongs. A person who reports by GPS alone (no point
//! picked, no district typed) still needs a district on the record: the office's scope rules,
//! the ledger's district filter and the unit ranking all work by district. The device decides
//! it when the report is made, from the reference data it already holds, and records how it
//! decided, so the office can see (and correct) a guess.
//!
//! The reference data has no district boundaries, only registered points (测评点位) with the
//! community or street each lies in. So the place is read from the points around the fix:
//!
//! 1. a registered point within [`AT_POINT_M`] (its location or, for streets and alleys, its
//!    centre line): the report is *at* that point — point and district. GPS in a city is good
//!    to 5–20 m in the open and 30–50 m between buildings; 60 m is "the same place" without
//!    reaching the next block. When several points are that close, one inside the reporter's
//!    own districts wins (a boundary street belongs to both sides);
//! 2. otherwise the district of the nearest point within [`NEARBY_M`] (no point): within
//!    [`SAME_COMMUNITY_M`] its community, farther out only its street (街道) — a community is a
//!    few hundred metres across, a street a few kilometres;
//! 3. otherwise the reporter's own district (the one with the nearest registered point when
//!    they have several). An admin has no district of their own: the report stays unplaced.

use serde::{Deserialize, Serialize};

use crate::reference::{District, DistrictLevel, LatLon, Point};
use crate::scope::DistrictTree;

/// A registered point this close to the fix is where the report is.
pub const AT_POINT_M: f64 = 60.0;
/// Within this distance of the nearest point, its community is taken as the report's.
pub const SAME_COMMUNITY_M: f64 = 300.0;
/// Beyond this distance no registered point says anything about the place.
pub const NEARBY_M: f64 = 1000.0;

/// How a report's district (and point) was found. Recorded on the report event, so every
/// replica knows it was the device's guess, not a person's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum PlacementSource {
    /// A registered point within [`AT_POINT_M`]: point and district are that point's.
    NearPoint,
    /// The district of the registered points around the fix (nearest within [`NEARBY_M`]).
    NearbyPoints,
    /// Nothing registered nearby: the reporter's own district.
    ReporterDistrict,
}

impl PlacementSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PlacementSource::NearPoint => "near_point",
            PlacementSource::NearbyPoints => "nearby_points",
            PlacementSource::ReporterDistrict => "reporter_district",
        }
    }
}

/// The device's placement of a report, as recorded on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Placement {
    pub source: PlacementSource,
    /// Metres from the fix to the point that decided it (whole metres; none for the
    /// reporter's district).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::wire::opt_whole_u32"
    )]
    pub distance_m: Option<u32>,
}

/// Where [`place`] puts a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub district_id: String,
    pub point_id: Option<String>,
    pub placement: Placement,
}

/// Places a report made at `fix` (WGS-84) by someone whose districts are
/// `reporter_districts` (empty: the whole city), from the registered `points` (inactive ones
/// are ignored) and the district tree. `None` when nothing can be said (no points near, and
/// the reporter has no district), or the fix is not a valid coordinate.
pub fn place(
    fix: LatLon,
    points: &[Point],
    districts: &[District],
    reporter_districts: &[String],
) -> Option<Placed> {
    if !fix.is_valid() {
        return None;
    }
    let tree = DistrictTree::new(districts);
    let own = tree.descendants_of(reporter_districts);
    let mut near: Vec<(f64, &Point)> = points
        .iter()
        .filter(|p| p.active)
        .map(|p| (distance_to_point(fix, p), p))
        .filter(|(d, _)| d.is_finite())
        .collect();
    // Nearest first; the id breaks ties so the answer never depends on input order.
    near.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));

    let at_point = near
        .iter()
        .take_while(|(d, _)| *d <= AT_POINT_M)
        .min_by_key(|(_, p)| !own.contains(p.district_id.as_str()));
    if let Some((d, p)) = at_point {
        return Some(Placed {
            district_id: p.district_id.clone(),
            point_id: Some(p.id.clone()),
            placement: Placement {
                source: PlacementSource::NearPoint,
                distance_m: Some(whole_metres(*d)),
            },
        });
    }
    if let Some((d, p)) = near.first().filter(|(d, _)| *d <= NEARBY_M) {
        let mut district = p.district_id.as_str();
        if *d > SAME_COMMUNITY_M
            && let Some(c) = tree.get(district)
            && c.level == DistrictLevel::Community
            && let Some(parent) = &c.parent_id
        {
            district = parent;
        }
        return Some(Placed {
            district_id: district.to_owned(),
            point_id: None,
            placement: Placement {
                source: PlacementSource::NearbyPoints,
                distance_m: Some(whole_metres(*d)),
            },
        });
    }
    // The reporter's district whose registered points come nearest, else their first.
    let nearest_own = |rd: &String| {
        let under = tree.descendants_of([rd]);
        near.iter()
            .find(|(_, p)| under.contains(p.district_id.as_str()))
            .map_or(f64::INFINITY, |(d, _)| *d)
    };
    let district = reporter_districts
        .iter()
        .min_by(|a, b| nearest_own(a).total_cmp(&nearest_own(b)))?;
    Some(Placed {
        district_id: district.clone(),
        point_id: None,
        placement: Placement {
            source: PlacementSource::ReporterDistrict,
            distance_m: None,
        },
    })
}

fn whole_metres(d: f64) -> u32 {
    d.round().clamp(0.0, f64::from(u32::MAX)) as u32
}

/// Metres from the fix to a point: its location, or the nearest part of its centre line.
fn distance_to_point(fix: LatLon, p: &Point) -> f64 {
    let mut best = fix.distance_m(&p.location);
    for w in p.line.windows(2) {
        best = best.min(distance_to_segment(fix, w[0], w[1]));
    }
    best
}

/// Distance to a segment in a local flat projection around the fix: exact enough over the
/// few hundred metres that matter here.
fn distance_to_segment(fix: LatLon, a: LatLon, b: LatLon) -> f64 {
    const M_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;
    let k = fix.lat.to_radians().cos();
    let xy = |p: LatLon| {
        (
            (p.lon - fix.lon) * k * M_PER_DEG,
            (p.lat - fix.lat) * M_PER_DEG,
        )
    };
    let ((ax, ay), (bx, by)) = (xy(a), xy(b));
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (x, y) = (ax + t * dx, ay + t * dy);
    (x * x + y * y).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Text;
    use crate::reference::PointType;

    fn district(id: &str, level: DistrictLevel, parent: Option<&str>) -> District {
        District {
            id: id.into(),
            name: Text {
                zh: id.into(),
                en: id.into(),
            },
            level,
            parent_id: parent.map(Into::into),
            code_prefix: (level == DistrictLevel::District).then(|| "GL".into()),
        }
    }

    fn tree() -> Vec<District> {
        use DistrictLevel::*;
        vec![
            district("d-gl", District, None),
            district("s-dj", Street, Some("d-gl")),
            district("s-nj", Street, Some("d-gl")),
            district("c-dm", Community, Some("s-dj")),
            district("c-tx", Community, Some("s-nj")),
        ]
    }

    fn point(id: &str, district: &str, lat: f64, lon: f64) -> Point {
        Point {
            id: id.into(),
            name: id.into(),
            point_type: PointType::MainRoad,
            location: LatLon { lat, lon },
            line: vec![],
            address: String::new(),
            district_id: district.into(),
            territorial_unit_id: None,
            sector_unit_ids: vec![],
            active: true,
        }
    }

    /// `m` metres north of `p`.
    fn north(p: LatLon, m: f64) -> LatLon {
        LatLon {
            lat: p.lat + m / 111_195.0,
            lon: p.lon,
        }
    }

    const DM: LatLon = LatLon {
        lat: 26.08565,
        lon: 119.30625,
    };
    const TX: LatLon = LatLon {
        lat: 26.083649,
        lon: 119.291547,
    };

    fn points() -> Vec<Point> {
        vec![
            point("p-dm", "c-dm", DM.lat, DM.lon),
            point("p-tx", "c-tx", TX.lat, TX.lon),
        ]
    }

    #[test]
    fn a_fix_at_a_registered_point_takes_its_point_and_district() {
        let placed = place(north(DM, 40.0), &points(), &tree(), &["s-dj".into()]).unwrap();
        assert_eq!(placed.point_id.as_deref(), Some("p-dm"));
        assert_eq!(placed.district_id, "c-dm");
        assert_eq!(placed.placement.source, PlacementSource::NearPoint);
        assert_eq!(placed.placement.distance_m, Some(40));
    }

    #[test]
    fn the_truth_wins_even_outside_the_reporters_districts() {
        // A volunteer of 东街 reporting in 南街: the report is placed where it is (the server
        // will refuse it, and the volunteer sees why).
        let placed = place(north(TX, 10.0), &points(), &tree(), &["s-dj".into()]).unwrap();
        assert_eq!(placed.district_id, "c-tx");
        assert_eq!(placed.point_id.as_deref(), Some("p-tx"));
    }

    #[test]
    fn among_points_equally_close_one_in_the_reporters_districts_wins() {
        let here = north(DM, 0.0);
        let pts = vec![
            point("p-a", "c-tx", north(here, 20.0).lat, here.lon),
            point("p-b", "c-dm", north(here, -50.0).lat, here.lon),
        ];
        let mine = place(here, &pts, &tree(), &["s-dj".into()]).unwrap();
        assert_eq!(mine.point_id.as_deref(), Some("p-b"));
        let theirs = place(here, &pts, &tree(), &["s-nj".into()]).unwrap();
        assert_eq!(theirs.point_id.as_deref(), Some("p-a"));
        // Without a district of one's own, the nearest.
        assert_eq!(
            place(here, &pts, &tree(), &[]).unwrap().point_id.as_deref(),
            Some("p-a")
        );
    }

    #[test]
    fn a_streets_centre_line_counts_as_the_point() {
        let mut street = point("p-st", "c-dm", DM.lat, DM.lon);
        // A 600 m alley running north; its representative point is its south end.
        street.line = vec![DM, north(DM, 600.0)];
        let beside = LatLon {
            lat: north(DM, 400.0).lat,
            lon: DM.lon + 30.0 / (111_195.0 * DM.lat.to_radians().cos()),
        };
        let placed = place(beside, &[street], &tree(), &[]).unwrap();
        assert_eq!(placed.point_id.as_deref(), Some("p-st"));
        assert_eq!(placed.placement.distance_m, Some(30));
    }

    #[test]
    fn without_a_point_close_by_the_nearby_points_give_the_district() {
        let placed = place(north(DM, 200.0), &points(), &tree(), &[]).unwrap();
        assert_eq!(placed.point_id, None);
        assert_eq!(placed.district_id, "c-dm");
        assert_eq!(placed.placement.source, PlacementSource::NearbyPoints);
        // Farther out, only the street is sure.
        let placed = place(north(DM, 700.0), &points(), &tree(), &[]).unwrap();
        assert_eq!(placed.district_id, "s-dj");
        assert_eq!(placed.placement.distance_m, Some(700));
    }

    #[test]
    fn nothing_near_falls_back_to_the_reporters_district() {
        let far = north(DM, 5000.0);
        let placed = place(far, &points(), &tree(), &["s-nj".into()]).unwrap();
        assert_eq!(placed.district_id, "s-nj");
        assert_eq!(placed.placement.source, PlacementSource::ReporterDistrict);
        assert_eq!(placed.placement.distance_m, None);
        // With two districts, the one whose points come nearest.
        let two = ["s-nj".to_owned(), "s-dj".to_owned()];
        assert_eq!(
            place(far, &points(), &tree(), &two).unwrap().district_id,
            "s-dj"
        );
        // An admin's report far from everything stays unplaced.
        assert_eq!(place(far, &points(), &tree(), &[]), None);
    }

    #[test]
    fn inactive_points_and_bad_fixes_say_nothing() {
        let mut pts = points();
        pts[0].active = false;
        let placed = place(north(DM, 10.0), &pts, &tree(), &["s-dj".into()]).unwrap();
        assert_eq!(placed.placement.source, PlacementSource::ReporterDistrict);
        let bad = LatLon {
            lat: f64::NAN,
            lon: 0.0,
        };
        assert_eq!(place(bad, &points(), &tree(), &["s-dj".into()]), None);
    }

    #[test]
    fn the_answer_does_not_depend_on_the_order_of_the_points() {
        let mut pts = points();
        pts.push(point("p-dm2", "c-dm", DM.lat, DM.lon));
        let a = place(DM, &pts, &tree(), &[]);
        pts.reverse();
        assert_eq!(place(DM, &pts, &tree(), &[]), a);
        assert_eq!(a.unwrap().point_id.as_deref(), Some("p-dm"));
    }

    #[test]
    fn placement_is_recorded_compactly() {
        let p = Placement {
            source: PlacementSource::NearPoint,
            distance_m: Some(12),
        };
        let json = serde_json::to_value(p).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"source": "near_point", "distance_m": 12})
        );
        assert_eq!(serde_json::from_value::<Placement>(json).unwrap(), p);
    }
}
