//! Properties of an evaluation round (issue 18): the seeded draw is reproducible and keeps its
//! quotas, the assignment is balanced, and the roll-up adds up.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{NaiveDate, TimeZone, Utc};
use fieldcheck_domain::checklist::{ItemResult, default_templates, score};
use fieldcheck_domain::evaluation::{
    Candidate, DrawSpec, Quota, RoundError, RoundPoint, assign, compare, draw, recently_checked,
    roll_up,
};
use fieldcheck_domain::inspection::{Inspection, InspectionStatus, RecordedItem};
use fieldcheck_domain::reference::{District, PointType};
use fieldcheck_domain::role::Role;
use fieldcheck_domain::scope::{DistrictTree, Scope};
use proptest::prelude::*;
use uuid::Uuid;

const TYPES: [PointType; 3] = [
    PointType::BackAlley,
    PointType::FarmersMarket,
    PointType::Intersection,
];
const LEAVES: [&str; 4] = ["c-1", "c-2", "c-3", "c-4"];

fn tree() -> DistrictTree {
    let d = |id: &str, parent: Option<&str>| {
        serde_json::from_value::<District>(serde_json::json!({
            "id": id, "name": {"zh": id}, "level": if parent.is_none() { "district" } else { "community" },
            "parent_id": parent, "code_prefix": "GL",
        }))
        .unwrap()
    };
    DistrictTree::new(&[
        d("gl", None),
        d("c-1", Some("gl")),
        d("c-2", Some("gl")),
        d("xs", None),
        d("c-3", Some("xs")),
        d("c-4", Some("xs")),
    ])
}

fn inspector(i: usize, districts: Option<BTreeSet<String>>) -> Scope {
    Scope {
        user_id: format!("insp-{i}"),
        role: Role::Inspector,
        unit_id: None,
        districts,
    }
}

fn day(n: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap() - chrono::Days::new(n)
}

fn candidates() -> impl Strategy<Value = Vec<Candidate>> {
    prop::collection::vec((0..3usize, 0..4usize, prop::option::of(0u64..30)), 0..80).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (t, d, last))| Candidate {
                point_id: format!("p-{i:03}"),
                point_type: TYPES[t],
                district_id: LEAVES[d].to_owned(),
                last_inspected: last.map(day),
            })
            .collect()
    })
}

fn quotas() -> impl Strategy<Value = Vec<Quota>> {
    prop::collection::btree_map(
        (
            0..3usize,
            prop::option::of(prop::sample::select(vec!["gl", "xs", "c-1"])),
        ),
        1u32..6,
        1..5,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|((t, d), count)| Quota {
                point_type: TYPES[t],
                district_id: d.map(str::to_owned),
                count,
            })
            .collect()
    })
}

/// Quotas that draw every candidate: per point type present, city-wide, all of them.
fn every_candidate(cands: &[Candidate]) -> Vec<Quota> {
    TYPES
        .iter()
        .filter_map(|t| {
            let k = cands.iter().filter(|c| c.point_type == *t).count() as u32;
            (k > 0).then_some(Quota {
                point_type: *t,
                district_id: None,
                count: k,
            })
        })
        .collect()
}

fn spec<'a>(seed: &'a str, quotas: &'a [Quota], exclude: u32) -> DrawSpec<'a> {
    DrawSpec {
        seed,
        quotas,
        date: day(0),
        exclude_recent_days: exclude,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_draw_is_reproducible_and_keeps_its_quotas(
        cands in candidates(),
        qs in quotas(),
        seed in "[a-z0-9]{1,12}",
        exclude in 0u32..20,
    ) {
        let t = tree();
        let a = draw(&cands, &t, &spec(&seed, &qs, exclude));
        // Same seed, same input (in any order): same points.
        let mut shuffled = cands.clone();
        shuffled.reverse();
        let b = draw(&shuffled, &t, &spec(&seed, &qs, exclude));
        prop_assert_eq!(&a, &b);
        match a {
            Ok(drawn) => {
                let ids: HashSet<_> = drawn.iter().map(|d| d.point_id.as_str()).collect();
                prop_assert_eq!(ids.len(), drawn.len(), "a point drawn twice");
                for (i, q) in qs.iter().enumerate() {
                    let mine: Vec<_> = drawn.iter().filter(|d| d.quota == i).collect();
                    prop_assert_eq!(mine.len() as u32, q.count);
                    for d in mine {
                        prop_assert_eq!(d.point_type, q.point_type);
                        if let Some(w) = &q.district_id {
                            prop_assert!(t.descendants_of([w.as_str()]).contains(&d.district_id));
                        }
                        let c = cands.iter().find(|c| c.point_id == d.point_id).unwrap();
                        prop_assert!(!recently_checked(c.last_inspected, day(0), exclude));
                    }
                }
            }
            Err(RoundError::QuotaUnfilled { point_type, district_id, wanted, available }) => {
                // Truly not enough: fewer eligible points of that type there than asked.
                let within = district_id.as_ref().map(|d| t.descendants_of([d.as_str()]));
                let eligible = cands.iter().filter(|c| c.point_type == point_type
                    && within.as_ref().is_none_or(|w| w.contains(&c.district_id))
                    && !recently_checked(c.last_inspected, day(0), exclude)).count() as u32;
                prop_assert!(available < wanted);
                prop_assert!(available <= eligible);
            }
            Err(e) => prop_assert!(false, "unexpected {e:?}"),
        }
    }

    #[test]
    fn assignment_is_balanced_and_total(
        cands in candidates(),
        n in 1usize..7,
    ) {
        let qs = every_candidate(&cands);
        prop_assume!(!qs.is_empty());
        let drawn = draw(&cands, &tree(), &spec("s", &qs, 0)).unwrap();
        let people: Vec<Scope> = (0..n).map(|i| inspector(i, None)).collect();
        let a = assign(&drawn, &people).unwrap();
        prop_assert_eq!(a.len(), drawn.len());
        let mut per: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, p) in &a { *per.entry(p.as_str()).or_default() += 1; }
        let (lo, hi) = (per.values().min().unwrap(), per.values().max().unwrap());
        prop_assert!(hi - lo <= 1);
        if drawn.len() >= n { prop_assert_eq!(per.len(), n); }
        prop_assert_eq!(a, assign(&drawn, &people).unwrap());
    }

    #[test]
    fn each_point_goes_to_an_inspector_whose_districts_hold_it(
        cands in candidates(),
        areas in prop::collection::vec(prop::option::of(prop::collection::btree_set(0usize..4, 1..3)), 1..5),
    ) {
        let qs = every_candidate(&cands);
        prop_assume!(!qs.is_empty());
        let drawn = draw(&cands, &tree(), &spec("s", &qs, 0)).unwrap();
        let people: Vec<Scope> = areas.iter().enumerate().map(|(i, a)| {
            inspector(i, a.as_ref().map(|set| set.iter().map(|d| LEAVES[*d].to_owned()).collect()))
        }).collect();
        let covered = |d: &str| people.iter().any(|p| p.in_districts(Some(d)));
        match assign(&drawn, &people) {
            Ok(a) => {
                prop_assert_eq!(a.len(), drawn.len());
                for (point, who) in &a {
                    let d = &drawn.iter().find(|x| &x.point_id == point).unwrap().district_id;
                    let p = people.iter().find(|p| &p.user_id == who).unwrap();
                    prop_assert!(p.in_districts(Some(d)), "{point} in {d} given to {who}");
                }
                prop_assert_eq!(a, assign(&drawn, &people).unwrap());
            }
            Err(RoundError::NoInspectorFor { point, district }) => {
                prop_assert!(!covered(&district), "{point} in {district} is covered");
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
        prop_assert_eq!(
            assign(&drawn, &people).is_ok(),
            drawn.iter().all(|d| covered(&d.district_id))
        );
    }

    #[test]
    fn the_roll_up_adds_up(
        picks in prop::collection::vec((0usize..3, 0usize..4, prop::collection::vec(0u8..4, 12), any::<bool>()), 1..25),
    ) {
        let templates = default_templates();
        let mut inspections = Vec::new();
        let mut meta = Vec::new();
        for (i, (t, d, results, done)) in picks.iter().enumerate() {
            let tpl = templates.iter().find(|x| x.point_type == TYPES[*t]).unwrap();
            let items: BTreeMap<String, RecordedItem> = tpl.items.iter().zip(results.iter().cycle()).map(|(item, r)| {
                let result = match (&item.kind, r) {
                    (_, 3) => ItemResult::NotApplicable,
                    (fieldcheck_domain::checklist::ItemKind::Count { .. }, r) => ItemResult::Count { count: u32::from(*r) },
                    (fieldcheck_domain::checklist::ItemKind::Measured { threshold, .. }, r) => ItemResult::Value { value: threshold + f64::from(*r) - 1.0 },
                    (_, 0) => ItemResult::Fail,
                    _ => ItemResult::Pass,
                };
                let failed = fieldcheck_domain::checklist::is_failure(item, &result).unwrap();
                (item.id.clone(), RecordedItem { result, failed, note: None, photos: vec![], recorded_at: Utc.timestamp_opt(0, 0).unwrap(), event_id: Uuid::nil() })
            }).collect();
            let sc = score(tpl, items.iter().map(|(k, v)| (k.as_str(), &v.result))).unwrap();
            inspections.push(Inspection {
                id: Uuid::nil(), point_id: format!("p-{i}"), template_id: tpl.id.clone(), template_version: tpl.version,
                inspector: "i".into(),
                status: if *done { InspectionStatus::Finished } else { InspectionStatus::InProgress },
                started_at: Utc.timestamp_opt(0, 0).unwrap(), finished_at: None, start_location: None, end_location: None,
                items, score: sc,
            });
            meta.push((TYPES[*t], LEAVES[*d]));
        }
        let points: Vec<RoundPoint> = inspections.iter().zip(&meta).map(|(i, (t, d))| RoundPoint {
            point_id: i.point_id.clone(), point_type: *t, district_id: (*d).to_owned(), inspection: Some(i),
        }).collect();
        let r = roll_up(&points, &templates);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        // The whole is the sum of its parts, both ways of cutting it.
        for groups in [&r.by_point_type, &r.by_district] {
            prop_assert_eq!(groups.values().map(|g| g.points).sum::<u32>(), r.overall.points);
            prop_assert_eq!(groups.values().map(|g| g.inspected).sum::<u32>(), r.overall.inspected);
            prop_assert_eq!(groups.values().map(|g| g.observations).sum::<u32>(), r.overall.observations);
            prop_assert!(close(groups.values().map(|g| g.earned).sum(), r.overall.earned));
            // The aggregate rate is the mean of the parts' rates weighted by their possible.
            if let Some(rate) = r.overall.rate() {
                let w: f64 = groups.values().filter_map(|g| g.rate().map(|x| x * g.possible)).sum();
                prop_assert!(close(w / r.overall.possible, rate));
            }
        }
        // A point's rate is its inspection's score; unfinished ones are not counted.
        for (p, i) in r.points.iter().zip(&inspections) {
            prop_assert_eq!(p.inspected, i.status == InspectionStatus::Finished);
            if p.inspected { prop_assert_eq!(p.percent, Some(i.score.percent)); }
        }
        // Failing items: ranked, and counting the points where they failed.
        let failed_obs: u32 = r.points.iter().map(|p| p.failed_items.len() as u32).sum();
        prop_assert_eq!(r.failing_items.iter().map(|f| f.points).sum::<u32>(), failed_obs);
        prop_assert_eq!(failed_obs, r.overall.failed_observations);
        prop_assert!(r.failing_items.windows(2).all(|w| w[0].points >= w[1].points));
        prop_assert!(r.failing_items.iter().all(|f| f.text.is_some()));
        // Compared with itself, nothing moved.
        let c = compare(&r, &r);
        prop_assert!(c.overall.delta.is_none_or(|d| d == 0.0));
        prop_assert!(c.failing_items.iter().all(|f| f.points == f.previous_points));
    }
}

#[test]
fn different_seeds_generally_draw_differently() {
    let cands: Vec<Candidate> = (0..200)
        .map(|i| Candidate {
            point_id: format!("p-{i}"),
            point_type: PointType::BackAlley,
            district_id: "c-1".into(),
            last_inspected: None,
        })
        .collect();
    let qs = [Quota {
        point_type: PointType::BackAlley,
        district_id: None,
        count: 10,
    }];
    let draws: HashSet<Vec<String>> = (0..50)
        .map(|s| {
            let seed = format!("round-{s}");
            draw(&cands, &tree(), &spec(&seed, &qs, 0))
                .unwrap()
                .into_iter()
                .map(|d| d.point_id)
                .collect()
        })
        .collect();
    assert_eq!(draws.len(), 50, "50 seeds should give 50 different draws");
}

#[test]
fn quotas_that_cannot_be_filled_say_so() {
    let cands = vec![Candidate {
        point_id: "p".into(),
        point_type: PointType::FarmersMarket,
        district_id: "c-1".into(),
        last_inspected: Some(day(1)),
    }];
    let qs = [Quota {
        point_type: PointType::FarmersMarket,
        district_id: Some("gl".into()),
        count: 1,
    }];
    assert!(draw(&cands, &tree(), &spec("s", &qs, 0)).is_ok());
    let e = draw(&cands, &tree(), &spec("s", &qs, 3)).unwrap_err();
    assert_eq!(e.code(), "quota_unfilled");
    let e = draw(&cands, &tree(), &spec("", &qs, 0)).unwrap_err();
    assert_eq!(e.code(), "invalid_seed");
    let unknown = [Quota {
        point_type: PointType::FarmersMarket,
        district_id: Some("nowhere".into()),
        count: 1,
    }];
    let e = draw(&cands, &tree(), &spec("s", &unknown, 0)).unwrap_err();
    assert_eq!(e.code(), "unknown_district");
    let none: [Quota; 0] = [];
    assert_eq!(
        draw(&cands, &tree(), &spec("s", &none, 0))
            .unwrap_err()
            .code(),
        "empty_round"
    );
}
