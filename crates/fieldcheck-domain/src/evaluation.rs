//! 模拟测评 and 四不两直: a round of unannounced checks on points drawn at random (issue 18).
//!
//! The office draws points per quota (point type, optionally within a district), seeded so the
//! draw can be reproduced and audited: every candidate is ranked by SHA-256 of the seed and its
//! id ([`draw_key`]) and each quota takes the first ones it may. The drawn points are shared
//! between inspectors in contiguous, balanced runs ([`assign`]); an inspector learns their
//! points only from the round's date ([`visible_on`]). The round's results roll up the
//! checklist scores ([`crate::checklist::score`], already in each inspection's `score`) per
//! point, point type and district ([`roll_up`]) and compare with a previous round
//! ([`compare`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::checklist::ChecklistTemplate;
use crate::i18n::Text;
use crate::inspection::{Inspection, InspectionStatus};
use crate::reference::PointType;
use crate::scope::{DistrictTree, Scope};

/// Most points one round may draw.
pub const MAX_ROUND_POINTS: u32 = 2_000;
/// Longest seed.
pub const MAX_SEED_CHARS: usize = 200;

/// Why a round cannot be drawn. The code ([`RoundError::code`]) is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoundError {
    #[error("the round's seed must be 1 to {MAX_SEED_CHARS} characters")]
    InvalidSeed,
    #[error("a round needs at least one quota of at least one point")]
    EmptyRound,
    #[error("a round may draw at most {MAX_ROUND_POINTS} points, the quotas ask for {0}")]
    TooManyPoints(u64),
    #[error("the quota for {point_type:?}{} appears twice", district_suffix(.district_id))]
    DuplicateQuota {
        point_type: PointType,
        district_id: Option<String>,
    },
    #[error("unknown district {0} in a quota")]
    UnknownDistrict(String),
    #[error(
        "the quota for {point_type:?}{} asks for {wanted} point(s), only {available} can be drawn",
        district_suffix(.district_id)
    )]
    QuotaUnfilled {
        point_type: PointType,
        district_id: Option<String>,
        wanted: u32,
        available: u32,
    },
    #[error("a round needs at least one inspector")]
    NoInspectors,
    #[error(
        "none of the round's inspectors works in district {district}, where point {point} was drawn"
    )]
    NoInspectorFor { point: String, district: String },
}

fn district_suffix(d: &Option<String>) -> String {
    d.as_ref().map(|d| format!(" in {d}")).unwrap_or_default()
}

impl RoundError {
    pub fn code(&self) -> &'static str {
        match self {
            RoundError::InvalidSeed => "invalid_seed",
            RoundError::EmptyRound => "empty_round",
            RoundError::TooManyPoints(_) => "too_many_points",
            RoundError::DuplicateQuota { .. } => "duplicate_quota",
            RoundError::UnknownDistrict(_) => "unknown_district",
            RoundError::QuotaUnfilled { .. } => "quota_unfilled",
            RoundError::NoInspectors => "no_inspectors",
            RoundError::NoInspectorFor { .. } => "no_inspector_for_point",
        }
    }
}

/// A point that may be drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub point_id: String,
    pub point_type: PointType,
    /// The point's own (lowest-level) district.
    pub district_id: String,
    /// The city's day of its last finished inspection.
    pub last_inspected: Option<NaiveDate>,
}

/// How many points of a type to draw, in the whole city or within a district (and every
/// district below it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Quota {
    pub point_type: PointType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub district_id: Option<String>,
    pub count: u32,
}

/// What a draw is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawSpec<'a> {
    pub seed: &'a str,
    pub quotas: &'a [Quota],
    /// The round's day: exclusion counts back from it.
    pub date: NaiveDate,
    /// Leave out points whose last inspection is less than this many days before `date`
    /// (0: leave out none).
    pub exclude_recent_days: u32,
}

/// A drawn point and the quota (its index in the spec) that drew it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drawn {
    pub point_id: String,
    pub point_type: PointType,
    pub district_id: String,
    pub quota: usize,
}

/// The rank of a point in a seeded draw: SHA-256 over the seed, a 0 byte and the point id,
/// as lower-case hex. Anyone holding the seed and the point list can recompute the draw.
pub fn draw_key(seed: &str, point_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(seed.as_bytes());
    h.update([0u8]);
    h.update(point_id.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a point inspected on `last` is excluded from a round on `date`.
pub fn recently_checked(
    last: Option<NaiveDate>,
    date: NaiveDate,
    exclude_recent_days: u32,
) -> bool {
    match last {
        Some(last) if exclude_recent_days > 0 => {
            (date - last).num_days() < i64::from(exclude_recent_days)
        }
        _ => false,
    }
}

/// Checks a round's quotas and seed before anything is drawn.
pub fn check_spec(spec: &DrawSpec<'_>, tree: &DistrictTree) -> Result<(), RoundError> {
    let seed_chars = spec.seed.chars().count();
    if spec.seed.trim().is_empty() || seed_chars > MAX_SEED_CHARS {
        return Err(RoundError::InvalidSeed);
    }
    let total: u64 = spec.quotas.iter().map(|q| u64::from(q.count)).sum();
    if total == 0 {
        return Err(RoundError::EmptyRound);
    }
    if total > u64::from(MAX_ROUND_POINTS) {
        return Err(RoundError::TooManyPoints(total));
    }
    let mut seen = HashSet::new();
    for q in spec.quotas {
        if !seen.insert((q.point_type, q.district_id.clone())) {
            return Err(RoundError::DuplicateQuota {
                point_type: q.point_type,
                district_id: q.district_id.clone(),
            });
        }
        if let Some(d) = &q.district_id
            && !tree.contains(d)
        {
            return Err(RoundError::UnknownDistrict(d.clone()));
        }
    }
    Ok(())
}

/// Draws a round: quotas within a district first (in the order given), then the city-wide
/// ones, each taking the candidates of its type (and district) not recently checked and not
/// drawn yet, lowest [`draw_key`] first. The result is in quota order, then draw order. The
/// same candidates, tree and spec always give the same points.
pub fn draw(
    candidates: &[Candidate],
    tree: &DistrictTree,
    spec: &DrawSpec<'_>,
) -> Result<Vec<Drawn>, RoundError> {
    check_spec(spec, tree)?;
    let mut ranked: Vec<(String, &Candidate)> = candidates
        .iter()
        .filter(|c| !recently_checked(c.last_inspected, spec.date, spec.exclude_recent_days))
        .map(|c| (draw_key(spec.seed, &c.point_id), c))
        .collect();
    ranked.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.point_id.cmp(&b.1.point_id)));
    // A point id listed twice is one point.
    let mut seen_ids = HashSet::new();
    ranked.retain(|(_, c)| seen_ids.insert(c.point_id.clone()));

    let mut order: Vec<usize> = (0..spec.quotas.len()).collect();
    order.sort_by_key(|&i| spec.quotas[i].district_id.is_none());
    let mut taken: HashSet<&str> = HashSet::new();
    let mut by_quota: Vec<Vec<Drawn>> = vec![Vec::new(); spec.quotas.len()];
    for i in order {
        let q = &spec.quotas[i];
        let within = q
            .district_id
            .as_ref()
            .map(|d| tree.descendants_of([d.as_str()]));
        let fits: Vec<&Candidate> = ranked
            .iter()
            .map(|(_, c)| *c)
            .filter(|c| c.point_type == q.point_type && !taken.contains(c.point_id.as_str()))
            .filter(|c| within.as_ref().is_none_or(|w| w.contains(&c.district_id)))
            .collect();
        if (fits.len() as u64) < u64::from(q.count) {
            return Err(RoundError::QuotaUnfilled {
                point_type: q.point_type,
                district_id: q.district_id.clone(),
                wanted: q.count,
                available: fits.len() as u32,
            });
        }
        for c in fits.into_iter().take(q.count as usize) {
            taken.insert(c.point_id.as_str());
            by_quota[i].push(Drawn {
                point_id: c.point_id.clone(),
                point_type: c.point_type,
                district_id: c.district_id.clone(),
                quota: i,
            });
        }
    }
    Ok(by_quota.into_iter().flatten().collect())
}

/// Shares the drawn points between inspectors, each point to an inspector whose districts
/// hold it (an inspection outside them would be refused at push). The points are sorted by
/// district, type and id. When every inspector may take every point they are cut into
/// contiguous runs (so an inspector's points lie together), the inspectors in id order, the
/// runs differing by at most one point; otherwise each point goes to the inspector who may
/// take it with the fewest so far, preferring the one who took the point before (ties by id).
/// Returns (point id, inspector id) in point order.
pub fn assign(drawn: &[Drawn], inspectors: &[Scope]) -> Result<Vec<(String, String)>, RoundError> {
    let mut people: Vec<&Scope> = inspectors.iter().collect();
    people.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    people.dedup_by(|a, b| a.user_id == b.user_id);
    if people.is_empty() {
        return Err(RoundError::NoInspectors);
    }
    let mut points: Vec<&Drawn> = drawn.iter().collect();
    points.sort_by(|a, b| {
        (&a.district_id, a.point_type.as_str(), &a.point_id).cmp(&(
            &b.district_id,
            b.point_type.as_str(),
            &b.point_id,
        ))
    });
    let may = |who: &Scope, p: &Drawn| who.in_districts(Some(&p.district_id));
    let (k, n) = (points.len(), people.len());
    if points.iter().all(|p| people.iter().all(|who| may(who, p))) {
        return Ok(points
            .into_iter()
            .enumerate()
            .map(|(i, p)| (p.point_id.clone(), people[i * n / k.max(1)].user_id.clone()))
            .collect());
    }
    let mut taken = vec![0usize; n];
    let mut last: Option<usize> = None;
    let mut out = Vec::with_capacity(k);
    for p in points {
        let pick = (0..n)
            .filter(|&i| may(people[i], p))
            .min_by_key(|&i| (taken[i], Some(i) != last, i))
            .ok_or_else(|| RoundError::NoInspectorFor {
                point: p.point_id.clone(),
                district: p.district_id.clone(),
            })?;
        taken[pick] += 1;
        last = Some(pick);
        out.push((p.point_id.clone(), people[pick].user_id.clone()));
    }
    Ok(out)
}

/// Whether an inspector may see a round's point on `today` (the city's day): from the round's
/// date on, never before — 四不两直 leaves no time to prepare.
pub fn visible_on(round_date: NaiveDate, today: NaiveDate) -> bool {
    today >= round_date
}

/// The inspection that counts for a round's point: the first finished one started in the
/// round's window — from the start of its day (`from`) to the start of the next round's day
/// (`until`, exclusive; none for the newest round).
pub fn round_inspection<'a>(
    inspections: impl IntoIterator<Item = &'a Inspection>,
    from: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> Option<&'a Inspection> {
    inspections
        .into_iter()
        .filter(|i| i.status == InspectionStatus::Finished)
        .filter(|i| i.started_at >= from && until.is_none_or(|u| i.started_at < u))
        .min_by_key(|i| (i.started_at, i.id))
}

/// One point of a round with what was found there.
#[derive(Debug, Clone)]
pub struct RoundPoint<'a> {
    pub point_id: String,
    pub point_type: PointType,
    /// The district the results group the point under (the caller chooses the level).
    pub district_id: String,
    /// The round's finished inspection of the point, if done.
    pub inspection: Option<&'a Inspection>,
}

/// Earned and possible points of a group and its 得分率.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Tally {
    /// Points of the round in the group.
    pub points: u32,
    /// Of which inspected (a finished inspection).
    pub inspected: u32,
    pub earned: f64,
    pub possible: f64,
    /// earned ÷ possible × 100, one decimal; None when nothing was scored.
    pub percent: Option<f64>,
    /// Item results recorded as applicable (测评观察).
    pub observations: u32,
    /// Of which failed.
    pub failed_observations: u32,
}

impl Tally {
    fn empty() -> Tally {
        Tally {
            points: 0,
            inspected: 0,
            earned: 0.0,
            possible: 0.0,
            percent: None,
            observations: 0,
            failed_observations: 0,
        }
    }

    fn add(&mut self, p: &PointResult) {
        self.points += 1;
        if p.inspected {
            self.inspected += 1;
            self.earned += p.earned;
            self.possible += p.possible;
            self.observations += p.observations;
            self.failed_observations += p.failed_items.len() as u32;
        }
        self.percent = percent(self.earned, self.possible);
    }

    /// The unrounded rate (0–1), None when nothing was scored.
    pub fn rate(&self) -> Option<f64> {
        (self.possible > 0.0).then(|| self.earned / self.possible)
    }
}

/// The one rounding of a rate: a percentage to one decimal, as [`crate::checklist::score`].
pub fn percent(earned: f64, possible: f64) -> Option<f64> {
    (possible > 0.0).then(|| (earned / possible * 1000.0).round() / 10.0)
}

/// One point's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PointResult {
    pub point_id: String,
    pub point_type: PointType,
    pub district_id: String,
    pub inspected: bool,
    pub earned: f64,
    pub possible: f64,
    /// The inspection's score percent (its 得分率); None when not inspected.
    pub percent: Option<f64>,
    pub observations: u32,
    /// Items that failed here (template item ids).
    pub failed_items: Vec<String>,
}

/// A checklist item that failed at one or more points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FailingItem {
    pub template_id: String,
    pub item_id: String,
    pub text: Option<Text>,
    /// Points where it failed.
    pub points: u32,
}

/// A round's roll-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoundResults {
    pub overall: Tally,
    pub by_point_type: BTreeMap<String, Tally>,
    pub by_district: BTreeMap<String, Tally>,
    pub points: Vec<PointResult>,
    /// Distinct checklist items (template, item) assessed in the round (测评标准).
    pub standards: u32,
    /// Ranked by the number of points where they failed, then template and item id.
    pub failing_items: Vec<FailingItem>,
}

/// Rolls a round up from its points' finished inspections. A point's score is its
/// inspection's [`crate::checklist::Score`] (computed by the fold with
/// [`crate::checklist::score`]); a group's is the sum of its points' earned over their
/// possible, so a group's rate is the mean of its parts' rates weighted by what they could
/// earn. An inspection still in progress counts as not done.
pub fn roll_up(points: &[RoundPoint<'_>], templates: &[ChecklistTemplate]) -> RoundResults {
    let mut overall = Tally::empty();
    let mut by_point_type: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_district: BTreeMap<String, Tally> = BTreeMap::new();
    let mut standards: BTreeSet<(String, String)> = BTreeSet::new();
    let mut failing: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut results = Vec::with_capacity(points.len());
    for p in points {
        let done = p
            .inspection
            .filter(|i| i.status == InspectionStatus::Finished);
        let mut r = PointResult {
            point_id: p.point_id.clone(),
            point_type: p.point_type,
            district_id: p.district_id.clone(),
            inspected: done.is_some(),
            earned: 0.0,
            possible: 0.0,
            percent: None,
            observations: 0,
            failed_items: Vec::new(),
        };
        if let Some(i) = done {
            r.earned = i.score.earned;
            r.possible = i.score.possible;
            r.percent = Some(i.score.percent);
            for (item_id, rec) in &i.items {
                if rec.result == crate::checklist::ItemResult::NotApplicable {
                    continue;
                }
                r.observations += 1;
                standards.insert((i.template_id.clone(), item_id.clone()));
                if rec.failed {
                    r.failed_items.push(item_id.clone());
                    *failing
                        .entry((i.template_id.clone(), item_id.clone()))
                        .or_default() += 1;
                }
            }
        }
        overall.add(&r);
        by_point_type
            .entry(p.point_type.as_str().to_owned())
            .or_insert_with(Tally::empty)
            .add(&r);
        by_district
            .entry(p.district_id.clone())
            .or_insert_with(Tally::empty)
            .add(&r);
        results.push(r);
    }
    let mut failing_items: Vec<FailingItem> = failing
        .into_iter()
        .map(|((template_id, item_id), n)| FailingItem {
            text: templates
                .iter()
                .filter(|t| t.id == template_id)
                .find_map(|t| t.item(&item_id))
                .map(|i| i.text.clone()),
            template_id,
            item_id,
            points: n,
        })
        .collect();
    failing_items.sort_by(|a, b| {
        b.points
            .cmp(&a.points)
            .then_with(|| (&a.template_id, &a.item_id).cmp(&(&b.template_id, &b.item_id)))
    });
    RoundResults {
        overall,
        by_point_type,
        by_district,
        points: results,
        standards: standards.len() as u32,
        failing_items,
    }
}

/// A group's rate now and in the previous round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Change {
    pub percent: Option<f64>,
    pub previous_percent: Option<f64>,
    /// percent − previous, one decimal; None unless both are known.
    pub delta: Option<f64>,
}

impl Change {
    fn of(now: Option<&Tally>, before: Option<&Tally>) -> Change {
        let percent = now.and_then(|t| t.percent);
        let previous_percent = before.and_then(|t| t.percent);
        Change {
            percent,
            previous_percent,
            delta: match (percent, previous_percent) {
                (Some(a), Some(b)) => Some(((a - b) * 10.0).round() / 10.0),
                _ => None,
            },
        }
    }
}

/// A failing item's count now and before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ItemChange {
    pub template_id: String,
    pub item_id: String,
    pub points: u32,
    pub previous_points: u32,
}

/// A round compared with the previous one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoundComparison {
    pub overall: Change,
    /// Every point type or district in either round.
    pub by_point_type: BTreeMap<String, Change>,
    pub by_district: BTreeMap<String, Change>,
    /// Items failing in either round, in this round's ranking, then those that failed only
    /// before.
    pub failing_items: Vec<ItemChange>,
}

/// Compares a round's results with the previous round's.
pub fn compare(now: &RoundResults, before: &RoundResults) -> RoundComparison {
    let groups = |a: &BTreeMap<String, Tally>, b: &BTreeMap<String, Tally>| {
        a.keys()
            .chain(b.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|k| (k.clone(), Change::of(a.get(k), b.get(k))))
            .collect()
    };
    let prev = |t: &str, i: &str| {
        before
            .failing_items
            .iter()
            .find(|f| f.template_id == t && f.item_id == i)
            .map_or(0, |f| f.points)
    };
    let mut failing_items: Vec<ItemChange> = now
        .failing_items
        .iter()
        .map(|f| ItemChange {
            template_id: f.template_id.clone(),
            item_id: f.item_id.clone(),
            points: f.points,
            previous_points: prev(&f.template_id, &f.item_id),
        })
        .collect();
    for f in &before.failing_items {
        if !now
            .failing_items
            .iter()
            .any(|n| n.template_id == f.template_id && n.item_id == f.item_id)
        {
            failing_items.push(ItemChange {
                template_id: f.template_id.clone(),
                item_id: f.item_id.clone(),
                points: 0,
                previous_points: f.points,
            });
        }
    }
    RoundComparison {
        overall: Change::of(Some(&now.overall), Some(&before.overall)),
        by_point_type: groups(&now.by_point_type, &before.by_point_type),
        by_district: groups(&now.by_district, &before.by_district),
        failing_items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draw_key_is_sha256_of_seed_zero_id() {
        // sha256("s\0p")
        let k = draw_key("s", "p");
        assert_eq!(k.len(), 64);
        assert_ne!(k, draw_key("s", "q"));
        assert_ne!(draw_key("ab", "c"), draw_key("a", "bc"));
    }

    #[test]
    fn recent_inspections_are_left_out() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let ago = |n| Some(d - chrono::Days::new(n));
        assert!(recently_checked(ago(0), d, 7));
        assert!(recently_checked(ago(6), d, 7));
        assert!(!recently_checked(ago(7), d, 7));
        assert!(!recently_checked(ago(0), d, 0));
        assert!(!recently_checked(None, d, 7));
    }

    #[test]
    fn visible_only_from_the_date() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert!(!visible_on(d, d.pred_opt().unwrap()));
        assert!(visible_on(d, d));
        assert!(visible_on(d, d.succ_opt().unwrap()));
    }
}
