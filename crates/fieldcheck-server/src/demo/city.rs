//! A lived-in demo city: weeks of problems at every stage of the closed loop, made of real
//! domain events by the demo bundle's people and stored through [`Store::push`] exactly as
//! devices' events are (authorization, the domain fold, projections), with real JPEG photos in
//! the blob store.
//!
//! Deterministic from [`CityPlan::seed`] (and `now`): each problem draws from its own seeded
//! generator, so the same plan gives the same events, ids, codes and photos whatever the chunk
//! size. Three phases: plan every problem's timeline (small), render the photos, then turn
//! chunks of problems into events and push them in batches of up to a few thousand, one batch
//! per sender. A benchmark calls the same generator with 100,000 problems.
//!
//! Fates are apportioned, not sampled: every status (and overdue, late, reworked, extended,
//! returned, rechecked problems) appears as soon as there are a few dozen problems. Each
//! timeline is drawn forwards from a report time chosen for its fate and redrawn until it ends
//! before `now` and its deadline lies on the fate's side of `now` (overdue or not).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use fieldcheck_domain::calendar::WorkCalendar;
use fieldcheck_domain::category::DeadlineUnit;
use fieldcheck_domain::checklist::{ChecklistItem, Comparison, ItemKind, ItemResult};
use fieldcheck_domain::code::{device_tag, problem_code};
use fieldcheck_domain::event::{
    EntityKind, Event, EventBody, EventOutcome, PhotoRef, PhotoRole, ProblemEdit, ProblemReported,
    RejectReason,
};
use fieldcheck_domain::fold::fold_problem;
use fieldcheck_domain::reference::{DistrictLevel, User};
use fieldcheck_domain::role::{Actor, Role};
use fieldcheck_domain::scope::{DistrictTree, Scope};
use fieldcheck_domain::{Hlc, Location, LocationSource, ProblemStatus, Severity};
use fieldcheck_protocol::ReferenceBundle;
use fieldcheck_protocol::sync::PushStatus;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::picture::{self, PhotoSpec};
use crate::blobs::{BlobError, BlobStore};
use crate::error::StoreError;
use crate::policy::Viewer;
use crate::store::{AppendCtx, Store};

/// What city to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CityPlan {
    pub seed: u64,
    /// Problems in the ledger (inspections come on top: one per problem found by a
    /// checklist inspection, and some that found nothing).
    pub problems: usize,
    /// The span of days, ending at `now`, the problems were reported in.
    pub days: u32,
    pub now: DateTime<Utc>,
    /// The newest this many problems get photos of their own, with their code stamped in;
    /// older ones share a small pool. Rendering is the slow part of a start.
    pub own_photos: usize,
    /// Shared photos (half before, half after; at least one of each).
    pub pool_photos: usize,
}

impl CityPlan {
    /// `fieldcheck-server demo`: eight weeks, 800 problems.
    pub fn demo(now: DateTime<Utc>) -> CityPlan {
        CityPlan {
            seed: 14,
            problems: 800,
            days: 56,
            now,
            own_photos: 30,
            pool_photos: 12,
        }
    }
}

/// Why a city could not be made or stored. `code()` is stable.
#[derive(Debug, thiserror::Error)]
pub enum CityError {
    #[error("the store has no reference data (import the demo bundle first)")]
    NoReference,
    #[error("the reference data cannot carry a demo city: {0}")]
    Reference(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("blob storage: {0}")]
    Blob(#[from] BlobError),
    #[error("blob staging: {0}")]
    Io(#[from] std::io::Error),
    /// A generated event that the lifecycle or the server did not take: a generator bug.
    #[error("{count} demo events were refused or rejected, first: {first}")]
    NotClean { count: usize, first: String },
}

impl CityError {
    pub fn code(&self) -> &'static str {
        match self {
            CityError::NoReference => "demo_no_reference",
            CityError::Reference(_) => "demo_reference_incomplete",
            CityError::Store(_) => "demo_store",
            CityError::Blob(_) | CityError::Io(_) => "demo_blobs",
            CityError::NotClean { .. } => "demo_events_not_clean",
        }
    }
}

/// A photo as stored: its SHA-256 (hex) and the JPEG bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    pub hash: String,
    pub bytes: Vec<u8>,
}

/// One record's events in order (a problem or an inspection).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub entity_id: Uuid,
    pub kind: EntityKind,
    pub events: Vec<Event>,
}

/// What a seeding stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CityReport {
    pub problems: usize,
    pub inspections: usize,
    pub events: usize,
    pub photos: usize,
    /// `Store::push` calls.
    pub pushes: usize,
    /// Problems per final status (`ProblemStatus::as_str`).
    pub statuses: BTreeMap<String, usize>,
    /// Waiting for their unit past the deadline at `now`.
    pub overdue: usize,
    /// Sent back at least once by a failed check.
    pub reworked: usize,
    /// Closed with the rectification after the deadline.
    pub closed_late: usize,
}

// ---------------------------------------------------------------------------------------------
// Fates

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ext {
    None,
    Approved,
    Denied,
    Pending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recheck {
    None,
    Passed,
    Failed,
}

/// Where a problem's story stops, and what happens on the way.
#[derive(Debug, Clone, Copy)]
struct Fate {
    goal: ProblemStatus,
    /// For goals waiting on a unit: the deadline has passed at `now` (or must not have).
    overdue: Option<bool>,
    /// The (last) rectification comes after the deadline.
    late: bool,
    /// Failed checks before the rectification that passes.
    reworks: u8,
    ext: Ext,
    /// The first unit returns it as not theirs; the office re-dispatches.
    returned_first: bool,
    recheck: Recheck,
    /// Rejected as a duplicate of an earlier report (else as invalid).
    duplicate: bool,
}

const fn fate(goal: ProblemStatus) -> Fate {
    Fate {
        goal,
        overdue: None,
        late: false,
        reworks: 0,
        ext: Ext::None,
        returned_first: false,
        recheck: Recheck::None,
        duplicate: false,
    }
}

impl Fate {
    const fn late(self) -> Fate {
        Fate { late: true, ..self }
    }
    const fn reworks(self, reworks: u8) -> Fate {
        Fate { reworks, ..self }
    }
    const fn ext(self, ext: Ext) -> Fate {
        Fate { ext, ..self }
    }
    const fn returned_first(self) -> Fate {
        Fate {
            returned_first: true,
            ..self
        }
    }
    const fn recheck(self, recheck: Recheck) -> Fate {
        Fate { recheck, ..self }
    }
    const fn duplicate(self) -> Fate {
        Fate {
            duplicate: true,
            ..self
        }
    }
    const fn overdue(self, overdue: bool) -> Fate {
        Fate {
            overdue: Some(overdue),
            ..self
        }
    }
}

/// The fates and their weights (per mille, roughly).
fn fates() -> Vec<(Fate, u32)> {
    use ProblemStatus as S;
    let f = fate;
    vec![
        (f(S::Closed), 330),
        (f(S::Closed).late(), 80),
        (f(S::Closed).reworks(1), 60),
        (f(S::Closed).reworks(2).late(), 10),
        (f(S::Closed).ext(Ext::Approved), 30),
        (f(S::Closed).ext(Ext::Denied).late(), 10),
        (f(S::Closed).returned_first(), 30),
        (f(S::Closed).recheck(Recheck::Passed), 50),
        (f(S::Reopened).recheck(Recheck::Failed), 20),
        (f(S::Rejected), 40),
        (f(S::Rejected).duplicate(), 25),
        (f(S::Returned).returned_first(), 20),
        (f(S::Reported), 40),
        (f(S::Filed), 30),
        (f(S::Dispatched).overdue(false), 40),
        (f(S::Dispatched).overdue(true), 35),
        (f(S::Dispatched).recheck(Recheck::Failed), 10),
        (f(S::Dispatched).reworks(1), 10),
        (f(S::Rectifying).overdue(false), 50),
        (f(S::Rectifying).overdue(true), 30),
        (f(S::Rectifying).ext(Ext::Pending), 15),
        (f(S::Rectified), 30),
        (f(S::Verified), 20),
    ]
}

/// Every fate's count for `n` problems: proportional, largest remainders first, each fate at
/// least once when there is room.
fn apportion(n: usize, weights: &[u32]) -> Vec<usize> {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    let exact: Vec<(usize, u64)> = weights
        .iter()
        .map(|w| {
            let x = n as u64 * u64::from(*w);
            ((x / total) as usize, x % total)
        })
        .collect();
    let mut counts: Vec<usize> = exact.iter().map(|(c, _)| *c).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    let mut left = n - counts.iter().sum::<usize>();
    for i in order.iter().copied().cycle().take(order.len()) {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    if n >= weights.len() {
        // Room for every fate: take from the largest for the ones that got none.
        for i in 0..counts.len() {
            if counts[i] == 0 {
                let max = (0..counts.len()).max_by_key(|j| counts[*j]).unwrap_or(0);
                counts[max] -= 1;
                counts[i] += 1;
            }
        }
    }
    counts
}

// ---------------------------------------------------------------------------------------------
// The cast and the places, from the reference bundle

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Inspection,
    QuickReport,
    Volunteer,
}

struct Ctx<'a> {
    refs: &'a ReferenceBundle,
    cal: WorkCalendar,
    users: Vec<User>,
    scopes: Vec<Scope>,
    /// Per user: the device string its events carry (the office works in the browser).
    devices: Vec<String>,
    tags: Vec<String>,
    admins: Vec<usize>,
    inspectors: Vec<usize>,
    volunteers: Vec<usize>,
    handler_of_unit: HashMap<String, usize>,
    /// Per point: its street (for duplicates) and its code prefix.
    streets: Vec<String>,
    prefixes: Vec<String>,
    /// Per point: the template index for its type, if any.
    templates: Vec<Option<usize>>,
    category_index: HashMap<String, usize>,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The generator of one thing (`salt` says which) of item `i`.
fn rng_for(seed: u64, salt: u64, i: u64) -> StdRng {
    StdRng::seed_from_u64(splitmix(splitmix(seed ^ splitmix(salt)) ^ i))
}

impl<'a> Ctx<'a> {
    fn new(refs: &'a ReferenceBundle, seed: u64) -> Result<Ctx<'a>, CityError> {
        let tree = DistrictTree::new(&refs.districts);
        let users = refs.users.clone();
        let scopes: Vec<Scope> = users.iter().map(|u| Scope::of(u, &tree)).collect();
        let mut rng = rng_for(seed, 1, 0);
        let mut devices = Vec::new();
        let mut tags = Vec::new();
        for u in &users {
            let mut bytes = [0u8; 16];
            rng.fill(&mut bytes);
            let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
            tags.push(device_tag(&id));
            devices.push(if u.role == Role::Admin {
                "web".to_owned()
            } else {
                id.to_string()
            });
        }
        let by_role =
            |r: Role| -> Vec<usize> { (0..users.len()).filter(|i| users[*i].role == r).collect() };
        let (admins, inspectors, volunteers) = (
            by_role(Role::Admin),
            by_role(Role::Inspector),
            by_role(Role::Volunteer),
        );
        if admins.is_empty() || inspectors.is_empty() {
            return Err(CityError::Reference(
                "needs at least one admin and one inspector".into(),
            ));
        }
        let mut handler_of_unit = HashMap::new();
        for (i, u) in users.iter().enumerate() {
            if u.role == Role::UnitHandler
                && let Some(unit) = &u.unit_id
            {
                handler_of_unit.entry(unit.clone()).or_insert(i);
            }
        }
        if handler_of_unit.is_empty() {
            return Err(CityError::Reference("needs a unit handler".into()));
        }
        let mut streets = Vec::new();
        let mut prefixes = Vec::new();
        let mut templates = Vec::new();
        for p in &refs.points {
            let up = tree.ancestors_of(&p.district_id);
            streets.push(
                up.iter()
                    .find(|d| d.level == DistrictLevel::Street)
                    .map_or_else(|| p.district_id.clone(), |d| d.id.clone()),
            );
            prefixes.push(
                up.iter()
                    .find_map(|d| d.code_prefix.clone())
                    .unwrap_or_default(),
            );
            templates.push(
                refs.templates
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.point_type == p.point_type)
                    .max_by_key(|(_, t)| t.version)
                    .map(|(i, _)| i),
            );
        }
        let category_index = refs
            .categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.code.clone(), i))
            .collect();
        Ok(Ctx {
            refs,
            cal: refs.calendar.clone().unwrap_or_default(),
            users,
            scopes,
            devices,
            tags,
            admins,
            inspectors,
            volunteers,
            handler_of_unit,
            streets,
            prefixes,
            templates,
            category_index,
        })
    }

    fn covering(&self, among: &[usize], district: &str) -> Vec<usize> {
        among
            .iter()
            .copied()
            .filter(|u| self.scopes[*u].in_districts(Some(district)))
            .collect()
    }

    /// The next moment the office (or a unit) is at work, from `t` on.
    fn office(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.cal.add_working_hours(t, 0)
    }

    /// Some working time after `t`: `lo..=hi` minutes later, moved into working hours.
    fn office_after(&self, rng: &mut StdRng, t: DateTime<Utc>, lo: i64, hi: i64) -> DateTime<Utc> {
        let a = self.office(t + Duration::minutes(rng.random_range(lo..=hi)));
        self.office(a + Duration::minutes(rng.random_range(0..25)))
    }

    fn unit_exists(&self, id: &str) -> bool {
        self.refs.units.iter().any(|u| u.id == id)
    }

    /// The unit a category at a point belongs to: a sector bureau, else the territorial office.
    fn responsible(&self, category: &str, point: usize) -> Option<String> {
        let p = &self.refs.points[point];
        let school = matches!(
            p.point_type,
            fieldcheck_domain::reference::PointType::SchoolSurroundings
        );
        let market = matches!(
            p.point_type,
            fieldcheck_domain::reference::PointType::FarmersMarket
        );
        let major = category.get(..2).unwrap_or("");
        let sector = match category {
            _ if major == "JT" => Some("u-jjdd"),
            "JM-07" => Some("u-jyj"),
            "GY-04" | "GY-06" if school => Some("u-jyj"),
            "JM-08" | "GY-05" => Some("u-scjg"),
            "GY-01" if market => Some("u-scjg"),
            "SR-02" | "SR-03" | "SR-04" | "SR-05" | "SS-05" | "SS-06" => Some("u-hwc"),
            "SR-01" | "SR-07" | "SR-08" => Some("u-zfj"),
            _ if matches!(major, "XC" | "JM" | "SG") => Some("u-zfj"),
            "SR-06" => Some("u-ylj"),
            _ if matches!(major, "SS" | "TF") => Some("u-zjj"),
            _ => None,
        };
        sector
            .filter(|u| self.unit_exists(u))
            .map(str::to_owned)
            .or_else(|| self.territorial(point))
    }

    /// The office of the point's street (街道办).
    fn territorial(&self, point: usize) -> Option<String> {
        let street = &self.streets[point];
        self.refs
            .units
            .iter()
            .find(|u| u.district_id.as_deref() == Some(street.as_str()))
            .map(|u| u.id.clone())
    }

    /// A unit someone can act for: `preferred` when it has a handler, else a stand-in.
    fn with_handler(&self, preferred: Option<String>, point: usize) -> String {
        if let Some(u) = preferred.filter(|u| self.handler_of_unit.contains_key(u)) {
            return u;
        }
        if let Some(u) = self
            .territorial(point)
            .filter(|u| self.handler_of_unit.contains_key(u))
        {
            return u;
        }
        if self.handler_of_unit.contains_key("u-zfj") {
            return "u-zfj".into();
        }
        let mut units: Vec<&String> = self.handler_of_unit.keys().collect();
        units.sort();
        units[0].clone()
    }

    /// A unit that has not started using the system (no handler): its problems stay
    /// dispatched, and overdue.
    fn without_handler(&self, category: &str, point: usize) -> String {
        let p = &self.refs.points[point];
        let community = self
            .refs
            .units
            .iter()
            .find(|u| u.district_id.as_deref() == Some(p.district_id.as_str()));
        let candidates = [
            self.responsible(category, point),
            community.map(|u| u.id.clone()),
            self.territorial(point),
            Some("u-zjj".to_owned()),
            Some("u-ylj".to_owned()),
        ];
        candidates
            .into_iter()
            .flatten()
            .find(|u| self.unit_exists(u) && !self.handler_of_unit.contains_key(u))
            .unwrap_or_else(|| self.with_handler(None, point))
    }
}

// ---------------------------------------------------------------------------------------------
// Phase 1: every problem's plan and timeline

#[derive(Debug, Clone)]
enum What {
    Report,
    Edit,
    File,
    Reject {
        duplicate: bool,
        reason: usize,
    },
    Dispatch {
        unit: String,
        deadline: DateTime<Utc>,
    },
    Accept,
    Return {
        to: String,
    },
    ExtRequest {
        until: DateTime<Utc>,
        reason: usize,
    },
    ExtDecide {
        approved: bool,
    },
    Rectify {
        round: usize,
    },
    Verify {
        passed: bool,
        deadline: Option<DateTime<Utc>>,
        note: usize,
    },
    Close,
    Recheck {
        passed: bool,
    },
}

#[derive(Debug, Clone)]
struct Step {
    at: DateTime<Utc>,
    who: usize,
    what: What,
}

#[derive(Debug, Clone)]
struct InspectionPlan {
    inspector: usize,
    point: usize,
    template: usize,
    start: DateTime<Utc>,
    /// The item that failed and raised the problem (none: a clean inspection).
    failed_item: Option<usize>,
}

#[derive(Debug, Clone)]
struct ProblemPlan {
    fate: Fate,
    source: Source,
    reporter: usize,
    point: usize,
    with_point: bool,
    category: usize,
    item: Option<usize>,
    severity: Severity,
    detail: usize,
    location: Location,
    steps: Vec<Step>,
    deadline: Option<DateTime<Utc>>,
    inspection: Option<InspectionPlan>,
    code: String,
    duplicate_of: Option<usize>,
    before: usize,
    after: Vec<usize>,
    /// No timeline of its fate fitted: it became a fresh report.
    replanned: bool,
}

impl ProblemPlan {
    fn reported_at(&self) -> DateTime<Utc> {
        self.steps[0].at
    }
}

const DAY_MIN: i64 = 1_440;

impl Ctx<'_> {
    /// Draws a problem's place, people and category for its fate.
    fn cast(&self, rng: &mut StdRng, fate: Fate) -> ProblemPlan {
        let source = match rng.random_range(0..100) {
            _ if self.volunteers.is_empty() => {
                if rng.random_bool(0.5) {
                    Source::Inspection
                } else {
                    Source::QuickReport
                }
            }
            0..40 => Source::Inspection,
            40..75 => Source::QuickReport,
            _ => Source::Volunteer,
        };
        // Deadlines in working days leave room to be still on time a few days later.
        let needs_slack = fate.overdue == Some(false);
        let long_rule = |code: &str| {
            self.category_index
                .get(code)
                .map(|i| &self.refs.categories[*i].deadline)
                .is_some_and(|r| r.unit == DeadlineUnit::WorkingDays)
        };
        let people = match source {
            Source::Volunteer => &self.volunteers,
            _ => &self.inspectors,
        };
        let eligible: Vec<usize> = (0..self.refs.points.len())
            .filter(|p| {
                !self
                    .covering(people, &self.refs.points[*p].district_id)
                    .is_empty()
                    && (source != Source::Inspection || self.templates[*p].is_some())
            })
            .collect();
        let point = eligible.choose(rng).copied().unwrap_or(0);
        let district = &self.refs.points[point].district_id;
        let reporter = *self
            .covering(people, district)
            .choose(rng)
            .unwrap_or(&self.inspectors[0]);
        let source = if self.users[reporter].role == Role::Volunteer || source != Source::Volunteer
        {
            source
        } else {
            Source::QuickReport
        };
        let mut item = None;
        let category = match (source, self.templates[point]) {
            (Source::Inspection, Some(t)) => {
                let items: Vec<(usize, &ChecklistItem)> = self.refs.templates[t]
                    .items
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| {
                        i.category
                            .as_deref()
                            .is_some_and(|c| self.category_index.contains_key(c))
                            && (!needs_slack || i.category.as_deref().is_some_and(long_rule))
                    })
                    .collect();
                let (k, it) = *items
                    .choose(rng)
                    .unwrap_or(&(0, &self.refs.templates[t].items[0]));
                item = Some(k);
                it.category.clone().unwrap_or_default()
            }
            _ => {
                let mut pool: Vec<&str> = match self.templates[point] {
                    Some(t) => self.refs.templates[t]
                        .items
                        .iter()
                        .filter_map(|i| i.category.as_deref())
                        .collect(),
                    None => vec![
                        "SR-02", "SR-04", "SS-05", "SS-06", "XC-01", "JT-08", "JM-01",
                    ],
                };
                pool.extend(["SR-02", "XC-01", "JT-01", "SR-08"]);
                if rng.random_bool(0.03) {
                    pool = vec!["TF-02", "TF-03", "TF-06", "SS-01"];
                }
                pool.retain(|c| self.category_index.contains_key(*c));
                if needs_slack {
                    let slack: Vec<&str> = pool.iter().copied().filter(|c| long_rule(c)).collect();
                    if !slack.is_empty() {
                        pool = slack;
                    }
                }
                pool.choose(rng)
                    .map_or_else(|| self.refs.categories[0].code.clone(), |c| (*c).to_owned())
            }
        };
        let category = self.category_index.get(&category).copied().unwrap_or(0);
        let code = &self.refs.categories[category].code;
        let severity = if code.starts_with("TF") {
            Severity::Urgent
        } else {
            match rng.random_range(0..10) {
                0 => Severity::High,
                1 => Severity::Low,
                _ => Severity::Normal,
            }
        };
        let p = &self.refs.points[point];
        let location = Location {
            // Six decimals (~0.1 m), as a phone reports them.
            lat: round6(p.location.lat + rng.random_range(-0.0006..0.0006)),
            lon: round6(p.location.lon + rng.random_range(-0.0006..0.0006)),
            accuracy_m: Some(f64::from(rng.random_range(4u32..25))),
            source: LocationSource::Gps,
        };
        ProblemPlan {
            fate,
            source,
            reporter,
            point,
            with_point: source == Source::Inspection || rng.random_bool(0.7),
            category,
            item,
            severity,
            detail: rng.random_range(0..100),
            location,
            steps: Vec::new(),
            deadline: None,
            inspection: None,
            code: String::new(),
            duplicate_of: None,
            before: 0,
            after: Vec::new(),
            replanned: false,
        }
    }

    /// When a problem of this fate was reported: (earliest, latest) in days before now.
    fn window(&self, fate: Fate, days: f64) -> (f64, f64) {
        use ProblemStatus as S;
        let w: (f64, f64) = match fate.goal {
            S::Reported => (0.05, 1.5),
            S::Filed => (0.2, 3.0),
            S::Dispatched | S::Rectifying if fate.overdue == Some(true) => (2.0, days),
            S::Dispatched if fate.overdue == Some(false) => (0.1, 4.0),
            S::Dispatched if fate.reworks > 0 => (1.0, 10.0),
            S::Rectifying if fate.ext == Ext::Pending => (0.5, 8.0),
            S::Rectifying => (0.3, 8.0),
            S::Rectified => (0.5, 6.0),
            S::Verified => (0.5, 5.0),
            _ => (0.5, days),
        };
        (w.0.min(days * 0.5), w.1.min(days))
    }

    /// The problem's timeline from `t0`, and the deadline it ends with.
    fn script(&self, rng: &mut StdRng, p: &ProblemPlan, t0: DateTime<Utc>) -> Vec<Step> {
        use ProblemStatus as S;
        let f = p.fate;
        let rule = self.refs.categories[p.category].deadline;
        let admin = |rng: &mut StdRng| *self.admins.choose(rng).unwrap_or(&0);
        let district = &self.refs.points[p.point].district_id;
        let checkers = {
            let c = self.covering(&self.inspectors, district);
            if c.is_empty() { self.admins.clone() } else { c }
        };
        let checker = |rng: &mut StdRng| *checkers.choose(rng).unwrap_or(&0);
        let mut steps = vec![Step {
            at: t0,
            who: p.reporter,
            what: What::Report,
        }];
        if f.goal == S::Reported {
            return steps;
        }
        let mut t = self.office_after(rng, t0, 20, 30 * 60);
        if rng.random_bool(0.05) {
            t = push(&mut steps, t, admin(rng), What::Edit);
            t += Duration::minutes(rng.random_range(3..20));
        }
        if f.goal == S::Rejected {
            let reason = rng.random_range(0..REJECT_REASONS.len());
            push(
                &mut steps,
                t,
                admin(rng),
                What::Reject {
                    duplicate: f.duplicate,
                    reason,
                },
            );
            return steps;
        }
        t = push(&mut steps, t, admin(rng), What::File);
        if f.goal == S::Filed {
            return steps;
        }
        let code = &self.refs.categories[p.category].code;
        let unit = if f.goal == S::Dispatched && f.overdue == Some(true) {
            self.without_handler(code, p.point)
        } else {
            self.with_handler(self.responsible(code, p.point), p.point)
        };
        t = self.office_after(rng, t, 5, 300);
        let mut deadline = self.cal.deadline(t, rule);
        if f.returned_first {
            let mut others: Vec<&String> = self
                .handler_of_unit
                .keys()
                .filter(|u| **u != unit)
                .collect();
            others.sort();
            if let Some(first) = others.choose(rng).map(|u| (*u).clone()) {
                let wrong = first.clone();
                t = push(
                    &mut steps,
                    t,
                    admin(rng),
                    What::Dispatch {
                        unit: wrong.clone(),
                        deadline,
                    },
                );
                t = self.office_after(rng, t, 30, 600);
                t = push(
                    &mut steps,
                    t,
                    self.handler_of_unit[&wrong],
                    What::Return { to: unit.clone() },
                );
                if f.goal == S::Returned {
                    return steps;
                }
                t = self.office_after(rng, t, 60, DAY_MIN);
                deadline = self.cal.deadline(t, rule);
            }
        }
        t = push(
            &mut steps,
            t,
            admin(rng),
            What::Dispatch {
                unit: unit.clone(),
                deadline,
            },
        );
        if f.goal == S::Dispatched && f.reworks == 0 && f.recheck == Recheck::None {
            return steps;
        }
        let Some(&handler) = self.handler_of_unit.get(&unit) else {
            return steps;
        };
        let mut reworks_left = f.reworks;
        let mut round = 0;
        loop {
            t = self.office_after(rng, t, 10, 360);
            t = push(&mut steps, t, handler, What::Accept);
            if round == 0 && f.ext != Ext::None {
                let until = self.cal.add_working_days(deadline, rng.random_range(2..6));
                t = self.office_after(rng, t, 30, 600);
                let reason = rng.random_range(0..EXTENSION_REASONS.len());
                t = push(&mut steps, t, handler, What::ExtRequest { until, reason });
                if f.ext == Ext::Pending {
                    return steps;
                }
                t = self.office_after(rng, t, 30, 900);
                let approved = f.ext == Ext::Approved;
                t = push(&mut steps, t, admin(rng), What::ExtDecide { approved });
                if approved {
                    deadline = until;
                }
            }
            if f.goal == S::Rectifying && reworks_left == 0 {
                return steps;
            }
            let last_round = reworks_left == 0;
            let rect = if (f.late && last_round) || deadline <= t + Duration::minutes(2) {
                deadline.max(t) + Duration::minutes(rng.random_range(60..5 * DAY_MIN))
            } else {
                // Within the deadline, and within days even when it is weeks away.
                let span = (deadline - t).num_seconds();
                let within = (span as f64 * rng.random_range(0.15..0.9)) as i64;
                t + Duration::seconds(within.min(rng.random_range(4 * 3_600..4 * 86_400)))
            };
            t = push(&mut steps, rect, handler, What::Rectify { round });
            if f.goal == S::Rectified {
                return steps;
            }
            t = self.office_after(rng, t, 60, 2 * DAY_MIN);
            if reworks_left > 0 {
                let d = self.cal.deadline(t, rule);
                let note = rng.random_range(0..VERIFY_FAIL_NOTES.len());
                t = push(
                    &mut steps,
                    t,
                    checker(rng),
                    What::Verify {
                        passed: false,
                        deadline: Some(d),
                        note,
                    },
                );
                deadline = d;
                reworks_left -= 1;
                round += 1;
                if f.goal == S::Dispatched && reworks_left == 0 && f.recheck == Recheck::None {
                    return steps;
                }
                continue;
            }
            t = push(
                &mut steps,
                t,
                checker(rng),
                What::Verify {
                    passed: true,
                    deadline: None,
                    note: 0,
                },
            );
            if f.goal == S::Verified {
                return steps;
            }
            t = self.office_after(rng, t, 20, DAY_MIN);
            t = push(&mut steps, t, admin(rng), What::Close);
            if f.recheck == Recheck::None {
                return steps;
            }
            t = self.office_after(rng, t, 7 * DAY_MIN, 20 * DAY_MIN);
            let passed = f.recheck == Recheck::Passed;
            t = push(&mut steps, t, checker(rng), What::Recheck { passed });
            if f.goal != S::Dispatched {
                return steps;
            }
            t = self.office_after(rng, t, 60, 2 * DAY_MIN);
            let deadline = self.cal.deadline(t, rule);
            push(&mut steps, t, admin(rng), What::Dispatch { unit, deadline });
            return steps;
        }
    }

    /// A report time for the fate: office hours for inspectors, daytime for volunteers.
    fn report_time(
        &self,
        rng: &mut StdRng,
        p: &ProblemPlan,
        now: DateTime<Utc>,
        w: (f64, f64),
    ) -> DateTime<Utc> {
        let back = rng.random_range(w.0..w.1.max(w.0 + 0.01));
        let t = now - Duration::minutes((back * DAY_MIN as f64) as i64);
        if p.source == Source::Volunteer {
            let local = t.with_timezone(&self.cal.tz());
            let h = chrono::Timelike::hour(&local);
            if (7..21).contains(&h) {
                t
            } else {
                t - Duration::hours(i64::from((h + 24 - 19) % 24))
            }
        } else {
            // In working hours; a report that working hours would push past `now` (a long
            // holiday just ended) is a weekend patrol (周末巡查) at its own time.
            let at = self.office(t);
            if at < now - Duration::minutes(10) {
                at
            } else {
                t
            }
        }
    }

    /// Draws report times until the fate's timeline fits before `now`.
    fn timeline(&self, rng: &mut StdRng, p: &mut ProblemPlan, plan: &CityPlan) {
        let cut = plan.now - Duration::minutes(5);
        let w = self.window(p.fate, f64::from(plan.days.max(1)));
        for _ in 0..200 {
            let t0 = self.report_time(rng, p, plan.now, w);
            if t0 > cut {
                continue;
            }
            let steps = self.script(rng, p, t0);
            let deadline = current_deadline(&steps);
            let fits = steps.last().is_some_and(|s| s.at <= cut);
            let side = match p.fate.overdue {
                Some(true) => deadline.is_some_and(|d| d < plan.now),
                Some(false) => deadline.is_some_and(|d| d > plan.now),
                None => true,
            };
            if fits && side {
                p.steps = steps;
                p.deadline = deadline;
                return;
            }
        }
        // Nothing fitted (a very short span): a fresh report instead, in working hours if
        // the span has any.
        p.replanned = true;
        p.fate = fate(ProblemStatus::Reported);
        let w = self.window(p.fate, f64::from(plan.days.max(1)));
        let t0 = (0..50)
            .map(|_| self.report_time(rng, p, plan.now, w))
            .find(|t| *t <= cut)
            .unwrap_or_else(|| cut - Duration::minutes(rng.random_range(1..600)));
        p.steps = self.script(rng, p, t0);
        p.deadline = None;
    }
}

/// The deadline a timeline leaves the problem with.
fn current_deadline(steps: &[Step]) -> Option<DateTime<Utc>> {
    let mut d = None;
    for s in steps {
        match &s.what {
            What::Dispatch { deadline, .. } => d = Some(*deadline),
            What::Verify {
                deadline: Some(x), ..
            } => d = Some(*x),
            What::ExtDecide { approved: true } => {
                d = steps.iter().rev().find_map(|x| match x.what {
                    What::ExtRequest { until, .. } if x.at < s.at => Some(until),
                    _ => None,
                })
            }
            _ => {}
        }
    }
    d
}

/// Appends a step no earlier than a minute after the previous one; returns its time.
fn push(steps: &mut Vec<Step>, at: DateTime<Utc>, who: usize, what: What) -> DateTime<Utc> {
    let prev = steps.last().map_or(at, |s| s.at);
    let at = at.max(prev + Duration::minutes(1));
    steps.push(Step { at, who, what });
    at
}

const REJECT_REASONS: [&str; 3] = [
    "经现场核实，问题不存在",
    "照片与描述不符，无法立案",
    "不属于创文巡查范围，已告知上报人",
];
const EXTENSION_REASONS: [&str; 3] = [
    "涉及产权单位协调，需延长整改时间",
    "需采购材料并安排施工，申请延期",
    "需避开交通高峰分段施工，申请延期",
];
const VERIFY_FAIL_NOTES: [&str; 3] = [
    "现场复核仍有残留，整改不彻底",
    "整改后照片与现场不符，请重新整改",
    "问题有所反弹，请彻底整改",
];
const RECTIFY_NOTES: [&str; 4] = [
    "已清理完毕",
    "已整改到位",
    "已组织人员现场处理",
    "已约谈商户并整改",
];

/// What a reporter writes after the category's name, by category (any other: a general line).
fn details(code: &str) -> &'static [&'static str] {
    match code {
        "SR-01" => &["沿街搭建彩钢棚，疑似违法建设", "楼顶加建简易房"],
        "SR-02" => &[
            "路边堆放生活垃圾约2平方米，散发异味",
            "绿化带内有塑料袋和餐盒",
        ],
        "SR-03" => &["人行道上有积存渣土未清运", "墙角积存建筑垃圾"],
        "SR-04" => &["路面油污、泥浆明显", "人行道地面污渍较多"],
        "SR-06" => &["绿化带内种菜", "绿地被踩踏损毁"],
        "SR-07" => &["有人随地吐痰、乱扔烟头", "遛犬未牵绳"],
        "SR-08" => &["墙角堆放杂物，影响通行", "沿街乱拉绳索晾晒衣物"],
        "XC-01" => &["电线杆和墙面张贴大量小广告", "楼道内喷涂办证小广告"],
        "XC-02" => &["路口有人散发传单"],
        "XC-06" => &["店铺门头破损，招牌字体脱落", "沿街立面污损"],
        "JM-01" => &["流动摊贩在路口摆摊", "三轮车流动售卖水果"],
        "JM-03" => &["摊贩占道经营，影响行人通行", "早市占用人行道经营"],
        "JM-04" => &["商户在店外摆放货架经营", "餐馆占用门前人行道摆桌"],
        "JM-07" => &["校门口有流动摊贩售卖零食", "周边商店售卖刮刮乐"],
        "JM-08" => &["市场未设置公平秤", "摊位未亮照经营"],
        "JT-01" => &["多辆机动车违停占用人行道", "机动车停放在消防通道"],
        "JT-05" => &["电动车逆行、闯红灯现象多发"],
        "JT-08" => &["非机动车乱停放堵塞盲道", "共享单车堆放在路口"],
        "GY-01" => &["公益广告数量不足"],
        "GY-02" => &["公益广告破损褪色，需更换"],
        "GY-03" => &["核心价值观宣传为临时展架，不符合永久性要求"],
        "GY-04" => &["未设置关爱未成年人公益广告"],
        "SS-01" => &["井盖破损，存在安全隐患", "雨水井盖缺失"],
        "SS-02" => &["路灯夜间不亮", "多盏路灯损坏"],
        "SS-03" => &["盲道被占用且部分破损"],
        "SS-04" => &["护栏损坏倾倒", "交通标志牌被遮挡"],
        "SS-05" => &["垃圾桶满溢未及时清运", "垃圾桶破损无盖"],
        "SS-06" => &["公厕异味明显，保洁不及时"],
        "SS-07" => &["路面坑洼，雨后积水", "人行道砖松动破损"],
        "SS-08" => &["架空线缆杂乱下垂", "私拉电线飞线充电"],
        "TF-02" => &["路面出现塌陷，已设置临时警示"],
        "TF-03" => &["雨后道路积水严重，车辆无法通行"],
        "TF-06" => &["树木倒伏压住人行道"],
        _ => &[
            "现场检查发现，影响市容环境",
            "群众反映较多，需尽快处理",
            "多次巡查发现，问题反复出现",
        ],
    }
}

/// What an inspector adds to a failed checklist item's text.
const INSPECTION_NOTES: [&str; 3] = [
    "现场检查不达标",
    "现场发现问题，已拍照取证",
    "经检查未达到测评标准",
];

// ---------------------------------------------------------------------------------------------
// The city

/// A planned city: every problem's timeline and the rendered photos. Events are made per
/// chunk ([`City::records`]), so a large city never holds all of them at once.
pub struct City {
    plan: CityPlan,
    problems: Vec<ProblemPlan>,
    /// Inspections that found nothing.
    clean: Vec<InspectionPlan>,
    photos: Vec<Photo>,
    users: Vec<User>,
    devices: Vec<String>,
    /// Local fold checks and names need the reference data.
    refs: ReferenceBundle,
}

impl City {
    /// Plans the city and renders its photos (on all cores).
    pub fn generate(plan: &CityPlan, refs: &ReferenceBundle) -> Result<City, CityError> {
        if refs.points.is_empty() || refs.categories.is_empty() || refs.units.is_empty() {
            return Err(CityError::Reference(
                "needs points, categories and units".into(),
            ));
        }
        let ctx = Ctx::new(refs, plan.seed)?;
        let all = fates();
        let counts = apportion(
            plan.problems,
            &all.iter().map(|(_, w)| *w).collect::<Vec<_>>(),
        );
        let mut fate_list: Vec<Fate> = Vec::with_capacity(plan.problems);
        for ((f, _), n) in all.iter().zip(&counts) {
            fate_list.extend(std::iter::repeat_n(*f, *n));
        }
        fate_list.shuffle(&mut rng_for(plan.seed, 2, 0));

        let mut problems: Vec<ProblemPlan> = Vec::with_capacity(plan.problems);
        for (i, f) in fate_list.into_iter().enumerate() {
            let mut rng = rng_for(plan.seed, 3, i as u64);
            let mut p = ctx.cast(&mut rng, f);
            ctx.timeline(&mut rng, &mut p, plan);
            if p.source == Source::Inspection
                && let (Some(template), Some(item)) = (ctx.templates[p.point], p.item)
            {
                let n = ctx.refs.templates[template].items.len() as i64;
                p.inspection = Some(InspectionPlan {
                    inspector: p.reporter,
                    point: p.point,
                    template,
                    start: p.reported_at()
                        - Duration::seconds((n + 2) * 40 + rng.random_range(0..300)),
                    failed_item: Some(item),
                });
            } else if p.source == Source::Inspection {
                p.source = Source::QuickReport;
            }
            problems.push(p);
        }

        // Clean inspections: about one for every four that found something.
        let found = problems.iter().filter(|p| p.inspection.is_some()).count();
        let mut clean = Vec::new();
        let with_template: Vec<usize> = (0..refs.points.len())
            .filter(|p| ctx.templates[*p].is_some())
            .collect();
        for j in 0..found / 4 {
            let mut rng = rng_for(plan.seed, 4, j as u64);
            let Some(&point) = with_template.choose(&mut rng) else {
                break;
            };
            let Some(&inspector) = ctx
                .covering(&ctx.inspectors, &refs.points[point].district_id)
                .choose(&mut rng)
            else {
                continue;
            };
            let back = rng.random_range(0.1..f64::from(plan.days.max(1)));
            let start = ctx.office(plan.now - Duration::minutes((back * DAY_MIN as f64) as i64));
            let n = refs.templates[ctx.templates[point].unwrap_or(0)]
                .items
                .len() as i64;
            if start + Duration::seconds((n + 3) * 40) > plan.now - Duration::minutes(5) {
                continue;
            }
            clean.push(InspectionPlan {
                inspector,
                point,
                template: ctx.templates[point].unwrap_or(0),
                start,
                failed_item: None,
            });
        }

        // Phase 2: codes (per reporting device, in report order) and duplicates.
        let mut order: Vec<usize> = (0..problems.len()).collect();
        order.sort_by_key(|i| (problems[*i].reported_at(), *i));
        let mut seqs: HashMap<usize, u64> = HashMap::new();
        let mut last_in_street: HashMap<String, usize> = HashMap::new();
        for &i in &order {
            let p = &problems[i];
            let seq = seqs.entry(p.reporter).or_insert(0);
            *seq += 1;
            let code = problem_code(
                &ctx.prefixes[p.point],
                ctx.cal.local_day(p.reported_at()),
                &ctx.tags[p.reporter],
                *seq,
            );
            let street = ctx.streets[p.point].clone();
            let dup = p.steps.iter().any(|s| {
                matches!(
                    s.what,
                    What::Reject {
                        duplicate: true,
                        ..
                    }
                )
            });
            let earlier = last_in_street.get(&street).copied();
            let p = &mut problems[i];
            p.code = code;
            if dup {
                p.duplicate_of = earlier;
            }
            last_in_street.insert(street, i);
        }

        // Phase 3: photos. The newest problems get their own; the rest share a pool.
        let mut specs: Vec<PhotoSpec> = Vec::new();
        let pool = plan.pool_photos.max(2);
        let (pool_before, pool_after) = (pool.div_ceil(2), pool / 2);
        for k in 0..pool {
            specs.push(PhotoSpec {
                seed: splitmix(plan.seed ^ 0xB10B ^ k as u64),
                dirty: k < pool_before,
                lines: vec![
                    format!("SAMPLE {:02}", k + 1),
                    if k < pool_before { "BEFORE" } else { "AFTER" }.to_owned(),
                ],
            });
        }
        let tz = ctx.cal.tz();
        let stamp = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
        let own: std::collections::HashSet<usize> =
            order.iter().rev().take(plan.own_photos).copied().collect();
        for (i, p) in problems.iter_mut().enumerate() {
            let rectified: Vec<DateTime<Utc>> = p
                .steps
                .iter()
                .filter(|s| matches!(s.what, What::Rectify { .. }))
                .map(|s| s.at)
                .collect();
            if own.contains(&i) {
                p.before = specs.len();
                specs.push(PhotoSpec {
                    seed: splitmix(plan.seed ^ splitmix(i as u64 * 8 + 1)),
                    dirty: true,
                    lines: vec![p.code.clone(), format!("BEFORE {}", stamp(p.reported_at()))],
                });
                for at in &rectified {
                    p.after.push(specs.len());
                    specs.push(PhotoSpec {
                        // The same spot as the before photo (整改前后同一位置).
                        seed: splitmix(plan.seed ^ splitmix(i as u64 * 8 + 1)),
                        dirty: false,
                        lines: vec![p.code.clone(), format!("AFTER {}", stamp(*at))],
                    });
                }
            } else {
                let h = splitmix(plan.seed ^ i as u64) as usize;
                p.before = h % pool_before;
                p.after = (0..rectified.len())
                    .map(|r| pool_before + (h + r) % pool_after)
                    .collect();
            }
        }
        let photos = render_all(&specs);

        Ok(City {
            plan: plan.clone(),
            problems,
            clean,
            photos,
            users: ctx.users.clone(),
            devices: ctx.devices.clone(),
            refs: refs.clone(),
        })
    }

    pub fn plan(&self) -> &CityPlan {
        &self.plan
    }

    pub fn photos(&self) -> &[Photo] {
        &self.photos
    }

    pub fn problem_count(&self) -> usize {
        self.problems.len()
    }

    /// Problems whose fate found no timeline before `now` and became fresh reports (a span
    /// of a few days leaves some fates no room).
    pub fn replanned(&self) -> usize {
        self.problems.iter().filter(|p| p.replanned).count()
    }

    /// Inspections: one per problem found by a checklist, plus the clean ones.
    pub fn inspection_count(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.inspection.is_some())
            .count()
            + self.clean.len()
    }

    /// Units of work for [`City::records`]: the problems, then the clean inspections.
    pub fn len(&self) -> usize {
        self.problems.len() + self.clean.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records of units `range` (a problem comes with the inspection that found it).
    pub fn records(&self, range: Range<usize>) -> Vec<Record> {
        let mut out = Vec::new();
        for u in range {
            if let Some(p) = self.problems.get(u) {
                let mut rng = rng_for(self.plan.seed, 5, u as u64);
                let (problem, inspection) = self.problem_events(&mut rng, p);
                if let Some(i) = inspection {
                    out.push(i);
                }
                out.push(problem);
            } else if let Some(c) = self.clean.get(u - self.problems.len()) {
                let mut rng = rng_for(self.plan.seed, 6, u as u64);
                out.push(self.inspection_events(&mut rng, c, None));
            }
        }
        out
    }

    fn actor(&self, who: usize) -> Actor {
        let u = &self.users[who];
        Actor {
            user_id: u.id.clone(),
            role: u.role,
            unit_id: u.unit_id.clone(),
        }
    }

    fn event(
        &self,
        rng: &mut StdRng,
        entity: Uuid,
        who: usize,
        at: DateTime<Utc>,
        body: EventBody,
    ) -> Event {
        let ms = at.timestamp_millis();
        let device = &self.devices[who];
        let mut e = Event::new(
            entity,
            &self.actor(who),
            device,
            Hlc::new(ms, 0, device),
            body,
        );
        e.id = v7(rng, ms);
        e
    }

    fn photo_ref(&self, index: usize, role: PhotoRole) -> PhotoRef {
        PhotoRef {
            hash: self.photos[index].hash.clone(),
            role,
        }
    }

    fn problem_events(&self, rng: &mut StdRng, p: &ProblemPlan) -> (Record, Option<Record>) {
        let entity = v7(rng, p.reported_at().timestamp_millis());
        let inspection = p.inspection.as_ref().map(|i| {
            self.inspection_events(rng, i, Some(self.photo_ref(p.before, PhotoRole::Evidence)))
        });
        let cat = &self.refs.categories[p.category];
        let point = &self.refs.points[p.point];
        let description = match (&p.inspection, p.item) {
            (Some(i), Some(k)) => {
                let item = &self.refs.templates[i.template].items[k];
                let note = INSPECTION_NOTES[p.detail % INSPECTION_NOTES.len()];
                format!("{}：{note}", item.text.zh)
            }
            _ => {
                let d = details(&cat.code);
                format!("{}：{}", cat.minor.zh, d[p.detail % d.len()])
            }
        };
        let mut events = Vec::with_capacity(p.steps.len());
        for s in &p.steps {
            let mut photos = Vec::new();
            let body = match &s.what {
                What::Report => {
                    photos.push(self.photo_ref(p.before, PhotoRole::Before));
                    EventBody::ProblemReported(Box::new(ProblemReported {
                        code: p.code.clone(),
                        category: cat.code.clone(),
                        description: description.clone(),
                        location: Some(p.location),
                        address: if p.with_point {
                            point.address.clone()
                        } else {
                            format!("{}附近", point.address)
                        },
                        district_id: Some(point.district_id.clone()),
                        point_id: p.with_point.then(|| point.id.clone()),
                        item_id: p.inspection.as_ref().and_then(|i| {
                            p.item
                                .map(|k| self.refs.templates[i.template].items[k].id.clone())
                        }),
                        inspection_id: inspection.as_ref().map(|r| r.entity_id),
                        severity: p.severity,
                        placement: None,
                    }))
                }
                What::Edit => EventBody::ProblemEdited(ProblemEdit {
                    severity: Some(Severity::High),
                    ..ProblemEdit::default()
                }),
                What::File => EventBody::ProblemFiled {
                    note: rng
                        .random_bool(0.3)
                        .then(|| "情况属实，予以立案".to_owned()),
                },
                What::Reject { duplicate, reason } => EventBody::ProblemRejected {
                    reason: match p.duplicate_of.filter(|_| *duplicate) {
                        Some(j) => RejectReason::Duplicate {
                            of: self.problems[j].code.clone(),
                        },
                        None => RejectReason::Invalid {
                            reason: REJECT_REASONS[*reason].to_owned(),
                        },
                    },
                },
                What::Dispatch { unit, deadline } => EventBody::ProblemDispatched {
                    unit_id: unit.clone(),
                    deadline: *deadline,
                    note: rng
                        .random_bool(0.4)
                        .then(|| "请按期整改并上传整改后照片".to_owned()),
                },
                What::Accept => EventBody::ProblemAccepted { note: None },
                What::Return { to } => EventBody::ProblemReturned {
                    reason: format!(
                        "经核实不属于本单位职责范围，建议转{}办理",
                        self.unit_name(to)
                    ),
                },
                What::ExtRequest { until, reason } => EventBody::ExtensionRequested {
                    until: *until,
                    reason: EXTENSION_REASONS[*reason].to_owned(),
                },
                What::ExtDecide { approved } => EventBody::ExtensionDecided {
                    approved: *approved,
                    note: (!approved).then(|| "整改难度不大，请按原期限完成".to_owned()),
                },
                What::Rectify { round } => {
                    let photo = p.after.get(*round).copied().unwrap_or(0);
                    photos.push(self.photo_ref(photo, PhotoRole::After));
                    EventBody::ProblemRectified {
                        note: Some(RECTIFY_NOTES[rng.random_range(0..RECTIFY_NOTES.len())].into()),
                    }
                }
                What::Verify {
                    passed,
                    deadline,
                    note,
                } => EventBody::ProblemVerified {
                    passed: *passed,
                    note: Some(if *passed {
                        "现场核查已整改到位".to_owned()
                    } else {
                        VERIFY_FAIL_NOTES[*note].to_owned()
                    }),
                    deadline: *deadline,
                },
                What::Close => EventBody::ProblemClosed { note: None },
                What::Recheck { passed } => EventBody::ProblemRechecked {
                    passed: *passed,
                    note: Some(if *passed {
                        "巩固复查未见反弹".to_owned()
                    } else {
                        "巩固复查发现问题反弹，重新交办".to_owned()
                    }),
                },
            };
            events.push(
                self.event(rng, entity, s.who, s.at, body)
                    .with_photos(photos),
            );
        }
        (
            Record {
                entity_id: entity,
                kind: EntityKind::Problem,
                events,
            },
            inspection,
        )
    }

    fn unit_name(&self, id: &str) -> String {
        self.refs
            .units
            .iter()
            .find(|u| u.id == id)
            .map_or_else(|| id.to_owned(), |u| u.name.zh.clone())
    }

    /// An inspection: started, every item recorded 40 s apart (the failed one with the
    /// problem's photo as evidence), finished.
    fn inspection_events(
        &self,
        rng: &mut StdRng,
        plan: &InspectionPlan,
        photo: Option<PhotoRef>,
    ) -> Record {
        let entity = v7(rng, plan.start.timestamp_millis());
        let tpl = &self.refs.templates[plan.template];
        let point = &self.refs.points[plan.point];
        let loc = Location {
            lat: point.location.lat,
            lon: point.location.lon,
            accuracy_m: Some(8.0),
            source: LocationSource::Gps,
        };
        let mut events = vec![self.event(
            rng,
            entity,
            plan.inspector,
            plan.start,
            EventBody::InspectionStarted {
                point_id: point.id.clone(),
                template_id: tpl.id.clone(),
                template_version: tpl.version,
                location: Some(loc),
            },
        )];
        let mut t = plan.start;
        for (k, item) in tpl.items.iter().enumerate() {
            t += Duration::seconds(40);
            let failed = plan.failed_item == Some(k);
            let result = item_result(rng, item, failed);
            let mut e = self.event(
                rng,
                entity,
                plan.inspector,
                t,
                EventBody::InspectionItemRecorded {
                    item_id: item.id.clone(),
                    result,
                    note: failed.then(|| "现场发现问题，已拍照上报".to_owned()),
                },
            );
            if failed && let Some(ph) = &photo {
                e.photos = vec![ph.clone()];
            }
            events.push(e);
        }
        // Finished a little after the last item; the problem it found is reported about then.
        let finish = match plan.failed_item {
            Some(_) => t + Duration::seconds(150),
            None => t + Duration::seconds(40),
        };
        events.push(self.event(
            rng,
            entity,
            plan.inspector,
            finish,
            EventBody::InspectionFinished {
                location: Some(loc),
            },
        ));
        Record {
            entity_id: entity,
            kind: EntityKind::Inspection,
            events,
        }
    }

    /// The problems' final statuses by entity, folded here with the domain's fold.
    pub fn expected(&self, records: &[Record]) -> Vec<(Uuid, fieldcheck_domain::Problem)> {
        records
            .iter()
            .filter(|r| r.kind == EntityKind::Problem)
            .filter_map(|r| fold_problem(&r.events).state.map(|s| (r.entity_id, s)))
            .collect()
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// A UUIDv7 at `ms` with random bits from `rng` (event and record ids, deterministic).
fn v7(rng: &mut StdRng, ms: i64) -> Uuid {
    let mut bytes = [0u8; 10];
    rng.fill(&mut bytes);
    uuid::Builder::from_unix_timestamp_millis(ms.max(0) as u64, &bytes).into_uuid()
}

fn item_result(rng: &mut StdRng, item: &ChecklistItem, failed: bool) -> ItemResult {
    match (&item.kind, failed) {
        (ItemKind::PassFail, true) => ItemResult::Fail,
        (ItemKind::Count { .. }, true) => ItemResult::Count {
            count: rng.random_range(1..5),
        },
        (
            ItemKind::Measured {
                threshold,
                comparison,
                ..
            },
            true,
        ) => ItemResult::Value {
            value: match comparison {
                Comparison::AtLeast => (threshold - 1.0).max(0.0).floor(),
                Comparison::AtMost => (threshold + rng.random_range(3.0..15.0)).round(),
            },
        },
        _ if rng.random_bool(0.05) => ItemResult::NotApplicable,
        (ItemKind::PassFail, false) => ItemResult::Pass,
        (ItemKind::Count { .. }, false) => ItemResult::Count { count: 0 },
        (
            ItemKind::Measured {
                threshold,
                comparison,
                ..
            },
            false,
        ) => ItemResult::Value {
            value: match comparison {
                Comparison::AtLeast => (threshold + rng.random_range(0.0..3.0)).round(),
                Comparison::AtMost => (threshold - rng.random_range(3.0..15.0)).round(),
            },
        },
    }
}

fn render_all(specs: &[PhotoSpec]) -> Vec<Photo> {
    let threads = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .clamp(1, 16);
    let chunk = specs.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = specs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|spec| {
                            let bytes = picture::render(spec);
                            Photo {
                                hash: hex::encode(Sha256::digest(&bytes)),
                                bytes,
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("rendering a photo does not panic"))
            .collect()
    })
}

// ---------------------------------------------------------------------------------------------
// Storing

/// Events per push call, and the fold work one call may need (the store's group budget is
/// `GROUP_FOLD_BUDGET`; a batch past it is answered in part and the rest sent again).
const BATCH_EVENTS: usize = 3_000;
const BATCH_FOLD: usize = 15_000;
/// Problems turned into events at once.
const CHUNK: usize = 2_000;

/// Stores the photos as complete blobs, then pushes every record's events, as their authors,
/// in batches. Fails with [`CityError::NotClean`] if any event was refused or rejected.
pub async fn seed(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    staging: &Path,
    city: &City,
) -> Result<CityReport, CityError> {
    let refs = Arc::new(match store.reference().await? {
        Some((_, b)) => b,
        None => return Err(CityError::NoReference),
    });
    store_photos(store, blobs, staging, city.photos()).await?;
    let viewers: Vec<Viewer> = city
        .users
        .iter()
        .map(|u| Viewer::new(u.clone(), &refs))
        .collect();
    let index: HashMap<&str, usize> = city
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.as_str(), i))
        .collect();
    let mut report = CityReport {
        problems: city.problem_count(),
        inspections: city.inspection_count(),
        photos: city.photos().len(),
        ..CityReport::default()
    };
    let mut failures: Vec<String> = Vec::new();
    let now = city.plan.now;
    let mut start = 0;
    while start < city.len() {
        let end = (start + CHUNK).min(city.len());
        let records = city.records(start..end);
        start = end;
        // The generator's own check: every event applies in the domain's fold.
        for r in &records {
            if r.kind == EntityKind::Problem {
                let folded = fold_problem(&r.events);
                for (id, o) in &folded.outcomes {
                    if let EventOutcome::Rejected { code, message } = o {
                        failures.push(format!("{id} (local fold): {code:?} {message}"));
                    }
                }
                if let Some(p) = folded.state {
                    *report
                        .statuses
                        .entry(p.status.as_str().to_owned())
                        .or_default() += 1;
                    report.overdue += usize::from(p.is_overdue(now));
                    report.reworked += usize::from(p.rework_count > 0);
                    report.closed_late += usize::from(
                        p.status == ProblemStatus::Closed
                            && matches!((p.rectified_at, p.deadline), (Some(r), Some(d)) if r > d),
                    );
                }
            }
        }
        push_records(
            store,
            &refs,
            &viewers,
            &index,
            &records,
            &mut report,
            &mut failures,
        )
        .await?;
    }
    if !failures.is_empty() {
        return Err(CityError::NotClean {
            count: failures.len(),
            first: failures[0].clone(),
        });
    }
    Ok(report)
}

async fn store_photos(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    staging: &Path,
    photos: &[Photo],
) -> Result<(), CityError> {
    tokio::fs::create_dir_all(staging).await?;
    let now = Utc::now().timestamp_millis();
    for p in photos {
        let size = p.bytes.len() as u64;
        if blobs.size(&p.hash).await?.is_none() {
            let path = staging.join(format!("demo-{}", p.hash));
            tokio::fs::write(&path, &p.bytes).await?;
            blobs.keep(&p.hash, &path).await?;
        }
        store.complete_blob_upload(&p.hash, None, size, now).await?;
    }
    Ok(())
}

/// A run of one record's consecutive events by one person, and the fold work it may cost.
type Run<'a> = (&'a [Event], usize);

/// Pushes records in waves: wave `w` holds every record's `w`-th run of events by one
/// person, so each record's events arrive in order while a batch carries many records.
async fn push_records(
    store: &dyn Store,
    refs: &Arc<ReferenceBundle>,
    viewers: &[Viewer],
    index: &HashMap<&str, usize>,
    records: &[Record],
    report: &mut CityReport,
    failures: &mut Vec<String>,
) -> Result<(), CityError> {
    // waves[w][user] = runs (events, fold cost)
    let mut waves: Vec<Vec<Vec<Run>>> = Vec::new();
    for r in records {
        let (mut i, mut w) = (0, 0);
        while i < r.events.len() {
            let actor = &r.events[i].actor;
            let mut j = i;
            while j < r.events.len() && r.events[j].actor == *actor {
                j += 1;
            }
            let cost = match r.kind {
                EntityKind::Problem => i + (j - i),
                EntityKind::Inspection => (i + 1..=j).sum(),
            };
            if waves.len() <= w {
                waves.push(vec![Vec::new(); viewers.len()]);
            }
            let user = *index.get(actor.as_str()).unwrap_or(&0);
            waves[w][user].push((&r.events[i..j], cost));
            i = j;
            w += 1;
        }
    }
    let now_ms = Utc::now().timestamp_millis();
    for wave in waves {
        for (user, runs) in wave.into_iter().enumerate() {
            let ctx = AppendCtx {
                viewer: &viewers[user],
                refs,
                now_ms,
                max_future_ms: 0,
            };
            let mut batch: Vec<Event> = Vec::new();
            let mut cost = 0;
            for (k, (run, c)) in runs.iter().enumerate() {
                batch.extend(run.iter().cloned());
                cost += c;
                let last = k + 1 == runs.len();
                if last || batch.len() >= BATCH_EVENTS || cost >= BATCH_FOLD {
                    push_batch(store, &ctx, std::mem::take(&mut batch), report, failures).await?;
                    cost = 0;
                }
            }
        }
    }
    Ok(())
}

async fn push_batch(
    store: &dyn Store,
    ctx: &AppendCtx<'_>,
    mut events: Vec<Event>,
    report: &mut CityReport,
    failures: &mut Vec<String>,
) -> Result<(), CityError> {
    while !events.is_empty() {
        let resp = store.push(events.clone(), ctx).await?;
        report.pushes += 1;
        let n = resp.results.len();
        if n == 0 {
            return Err(CityError::Store(StoreError::Corrupt(
                "push answered none of a demo batch".into(),
            )));
        }
        for (res, ev) in resp.results.iter().zip(&events) {
            match (&res.status, &res.outcome) {
                (PushStatus::Applied, Some(EventOutcome::Applied)) => report.events += 1,
                (PushStatus::Refused { code, message }, _) => failures.push(format!(
                    "{} {} by {}: refused {code}: {message}",
                    ev.kind(),
                    ev.entity_id,
                    ev.actor
                )),
                (status, outcome) => failures.push(format!(
                    "{} {} by {}: {status:?} {outcome:?}",
                    ev.kind(),
                    ev.entity_id,
                    ev.actor
                )),
            }
        }
        events.drain(..n);
    }
    Ok(())
}
