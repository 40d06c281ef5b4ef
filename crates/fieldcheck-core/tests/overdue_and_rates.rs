//! One rule, one place: the device ledger's SQL forms of "overdue" and "due within 24 hours"
//! (the ledger filters, the stats' counts, the partial index over open deadlines) and of the
//! units' rates select and count exactly what the domain says (`Problem::is_overdue`,
//! `Problem::is_due_soon`, `rates::UnitTally::add`), over many problems in every state with
//! deadlines before, at and after "now" and "now + 24 h".

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use common::*;
use fieldcheck_core::domain::event::{ProblemReported, RejectReason};
use fieldcheck_core::domain::problem::sql;
use fieldcheck_core::domain::rates::{self, UnitTally};
use fieldcheck_core::domain::{
    Actor, Event, EventBody, Hlc, PhotoRef, PhotoRole, Problem, ProblemStatus,
};
use fieldcheck_core::{ProblemQuery, Store, UnitStats};
use uuid::Uuid;

/// xorshift: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const UNITS: [&str; 4] = ["u-hwc", "u-jjdd", "u-scjg", "u-zfj"];

/// The probe instant the deadlines are spread around.
fn probe() -> DateTime<Utc> {
    t("2026-11-23T02:00:00Z")
}

struct Script {
    id: Uuid,
    at: i64,
    events: Vec<Event>,
}

impl Script {
    fn push(&mut self, who: &Actor, at: DateTime<Utc>, body: EventBody) -> &mut Event {
        // Strictly increasing clocks, so the fold applies them in the order written.
        self.at = at.timestamp_millis().max(self.at + 1);
        let ev = Event::new(
            self.id,
            who,
            "other-device",
            Hlc::new(self.at, 0, "other-device"),
            body,
        );
        self.events.push(ev);
        self.events.last_mut().unwrap()
    }
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.at).unwrap()
    }
}

/// A deadline before, exactly at, a millisecond around, or after the probe instant.
fn deadline(rng: &mut Rng) -> DateTime<Utc> {
    let p = probe();
    match rng.below(7) {
        0 => p,
        1 => p - Duration::milliseconds(1),
        2 => p + Duration::milliseconds(1),
        3 => p - Duration::hours(1 + rng.below(96) as i64),
        4 => p + Duration::hours(1 + rng.below(96) as i64),
        5 => p - Duration::minutes(rng.below(600) as i64),
        _ => p + Duration::minutes(rng.below(600) as i64),
    }
}

/// The events of one problem walked along the loop at random: it stops in any state, is
/// reworked, returned and re-dispatched, rejected, closed, reopened.
fn script(i: usize, rng: &mut Rng, s: &Store) -> Vec<Event> {
    let vol = s.actor("usr-vol-1").unwrap();
    let admin = s.actor("usr-admin-1").unwrap();
    let insp = s.actor("usr-insp-1").unwrap();
    let start = probe() - Duration::days(20) + Duration::minutes(i as i64);
    let mut sc = Script {
        id: Uuid::now_v7(),
        at: 0,
        events: vec![],
    };
    sc.push(
        &vol,
        start,
        EventBody::ProblemReported(Box::new(ProblemReported {
            code: format!("T-{i:04}"),
            category: "SR-02".into(),
            description: format!("测试问题 {i}"),
            location: None,
            address: String::new(),
            district_id: Some("s-dj".into()),
            point_id: None,
            item_id: None,
            inspection_id: None,
            severity: Default::default(),
            placement: None,
        })),
    );
    let step = |sc: &Script| sc.now() + Duration::minutes(1);
    if rng.chance(10) {
        return sc.events;
    }
    if rng.chance(8) {
        let at = step(&sc);
        sc.push(
            &admin,
            at,
            EventBody::ProblemRejected {
                reason: RejectReason::Invalid {
                    reason: "无效".into(),
                },
            },
        );
        return sc.events;
    }
    let at = step(&sc);
    sc.push(&admin, at, EventBody::ProblemFiled { note: None });
    if rng.chance(8) {
        if rng.chance(50) {
            let at = step(&sc);
            sc.push(
                &admin,
                at,
                EventBody::ProblemRejected {
                    reason: RejectReason::Invalid {
                        reason: "无效".into(),
                    },
                },
            );
        }
        return sc.events;
    }
    let mut unit = UNITS[rng.below(UNITS.len() as u64) as usize];
    let mut dl = deadline(rng);
    let at = step(&sc);
    sc.push(
        &admin,
        at,
        EventBody::ProblemDispatched {
            unit_id: unit.into(),
            deadline: dl,
            note: None,
        },
    );
    // Up to two rounds: a failed verification sends it back (rework), as does a return.
    for _round in 0..2 {
        let handler = handler_of_unit(s, unit);
        if rng.chance(12) {
            return sc.events; // dispatched, never picked up
        }
        if rng.chance(8) {
            let at = step(&sc);
            sc.push(
                &handler,
                at,
                EventBody::ProblemReturned {
                    reason: "非本单位职责".into(),
                },
            );
            if rng.chance(50) {
                return sc.events;
            }
            unit = UNITS[rng.below(UNITS.len() as u64) as usize];
            dl = deadline(rng);
            let at = step(&sc);
            sc.push(
                &admin,
                at,
                EventBody::ProblemDispatched {
                    unit_id: unit.into(),
                    deadline: dl,
                    note: None,
                },
            );
            continue;
        }
        let handler = handler_of_unit(s, unit);
        let at = step(&sc);
        sc.push(&handler, at, EventBody::ProblemAccepted { note: None });
        if rng.chance(15) {
            return sc.events; // rectifying
        }
        // Rectified before, at or after the deadline, but before the probe instant.
        let rect = match rng.below(3) {
            0 => dl - Duration::minutes(1 + rng.below(300) as i64),
            1 => dl,
            _ => dl + Duration::minutes(1 + rng.below(300) as i64),
        }
        .min(probe() - Duration::minutes(30));
        let rect = rect.max(step(&sc));
        sc.push(&handler, rect, EventBody::ProblemRectified { note: None })
            .photos = vec![PhotoRef {
            hash: format!("{:064x}", i),
            role: PhotoRole::After,
        }];
        if rng.chance(12) {
            return sc.events; // rectified
        }
        let passed = rng.chance(75);
        let at = step(&sc);
        let new_deadline = (!passed && rng.chance(50))
            .then(|| deadline(rng))
            .filter(|d| *d > at);
        sc.push(
            &insp,
            at,
            EventBody::ProblemVerified {
                passed,
                note: (!passed).then(|| "仍有残留".into()),
                deadline: new_deadline,
            },
        );
        if !passed {
            if let Some(d) = new_deadline {
                dl = d;
            }
            continue; // dispatched again, reworked
        }
        if rng.chance(12) {
            return sc.events; // verified
        }
        let at = step(&sc);
        sc.push(&admin, at, EventBody::ProblemClosed { note: None });
        if rng.chance(15) {
            let at = step(&sc);
            sc.push(
                &insp,
                at,
                EventBody::ProblemRechecked {
                    passed: false,
                    note: Some("问题复现".into()),
                },
            );
        }
        return sc.events;
    }
    sc.events
}

fn all_problems(s: &Store) -> Vec<Problem> {
    let page = s
        .list_problems(&ProblemQuery {
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.total as usize, page.items.len());
    page.items.into_iter().map(|r| r.problem).collect()
}

fn ids<'a>(ps: impl IntoIterator<Item = &'a Problem>) -> BTreeSet<Uuid> {
    ps.into_iter().map(|p| p.id).collect()
}

/// Checks every SQL form against the domain at `now`.
fn check_at(s: &mut Store, now: DateTime<Utc>) {
    s.set_now(move || now);
    let all = all_problems(s);
    let overdue: BTreeSet<Uuid> = ids(all.iter().filter(|p| p.is_overdue(now)));

    // The ledger's overdue filter (which goes through the partial index).
    let page = s
        .list_problems(&ProblemQuery {
            overdue: true,
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.total as usize, overdue.len(), "overdue total at {now}");
    assert!(page.items.iter().all(|r| r.overdue));
    assert_eq!(
        ids(page.items.iter().map(|r| &r.problem)),
        overdue,
        "overdue filter at {now}"
    );

    // A query through the partial index with the domain's predicate selects the same.
    let c = s.connection();
    let q = format!(
        "SELECT id FROM problems INDEXED BY problems_open_deadline WHERE {}",
        sql::overdue("?1")
    );
    let via_index: BTreeSet<Uuid> = c
        .prepare(&q)
        .unwrap()
        .query_map([now.timestamp_millis()], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|id| Uuid::parse_str(&id.unwrap()).unwrap())
        .collect();
    assert_eq!(via_index, overdue, "partial index at {now}");

    // Due within 24 hours: the ledger filter and the domain's SQL form over the partial index.
    let due_soon: BTreeSet<Uuid> = ids(all.iter().filter(|p| p.is_due_soon(now)));
    let page = s
        .list_problems(&ProblemQuery {
            due_soon: true,
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        page.total as usize,
        due_soon.len(),
        "due-soon total at {now}"
    );
    assert_eq!(
        ids(page.items.iter().map(|r| &r.problem)),
        due_soon,
        "due-soon filter at {now}"
    );
    assert!(due_soon.is_disjoint(&overdue), "due soon is never overdue");
    let c = s.connection();
    let q = format!(
        "SELECT id FROM problems INDEXED BY problems_open_deadline WHERE {}",
        sql::due_soon("?1")
    );
    let via_index: BTreeSet<Uuid> = c
        .prepare(&q)
        .unwrap()
        .query_map([now.timestamp_millis()], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|id| Uuid::parse_str(&id.unwrap()).unwrap())
        .collect();
    assert_eq!(
        via_index, due_soon,
        "due-soon over the partial index at {now}"
    );

    // The stats: overdue total, each unit's counts and rates, the ranking order.
    let stats = s.stats().unwrap();
    assert_eq!(
        stats.overdue as usize,
        overdue.len(),
        "stats overdue at {now}"
    );
    let tallies = rates::tally_by_unit(&all, now);
    let mut expected: Vec<(&String, &UnitTally)> = tallies.iter().collect();
    expected.sort_by(|a, b| rates::ranking_order((a.0, a.1), (b.0, b.1)));
    let expected: Vec<UnitStats> = expected
        .into_iter()
        .map(|(u, t)| UnitStats::new(u.clone(), t))
        .collect();
    assert_eq!(stats.units, expected, "unit stats at {now}");
}

#[test]
fn sql_forms_of_overdue_and_the_rates_agree_with_the_domain() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut events = Vec::new();
    for i in 0..400 {
        events.extend(script(i, &mut rng, &s));
    }
    s.apply_remote(&events).unwrap();
    let all = all_problems(&s);
    assert_eq!(all.len(), 400);

    // The walk reached every state, with and without deadlines, reworked and not.
    let seen: BTreeSet<ProblemStatus> = all.iter().map(|p| p.status).collect();
    assert_eq!(seen, ProblemStatus::ALL.into_iter().collect());
    let now = probe();
    for (what, n) in [
        ("overdue", all.iter().filter(|p| p.is_overdue(now)).count()),
        (
            "awaiting the unit, deadline exactly now",
            all.iter()
                .filter(|p| p.status.awaits_unit() && p.deadline == Some(now))
                .count(),
        ),
        (
            "awaiting the unit, deadline later",
            all.iter()
                .filter(|p| p.status.awaits_unit() && p.deadline.is_some_and(|d| d > now))
                .count(),
        ),
        (
            "due within 24 h",
            all.iter().filter(|p| p.is_due_soon(now)).count(),
        ),
        (
            "reworked",
            all.iter().filter(|p| p.rework_count > 0).count(),
        ),
        (
            "closed on time",
            all.iter()
                .filter(|p| {
                    p.status == ProblemStatus::Closed
                        && p.rectified_at.zip(p.deadline).is_some_and(|(r, d)| r <= d)
                })
                .count(),
        ),
        (
            "closed late",
            all.iter()
                .filter(|p| {
                    p.status == ProblemStatus::Closed
                        && p.rectified_at.zip(p.deadline).is_some_and(|(r, d)| r > d)
                })
                .count(),
        ),
        (
            "no deadline",
            all.iter().filter(|p| p.deadline.is_none()).count(),
        ),
    ] {
        assert!(n > 0, "no problem is {what}");
    }

    // At the probe, a millisecond either side, at every deadline (the boundary) and far off.
    let mut probes = vec![
        now,
        now - Duration::milliseconds(1),
        now + Duration::milliseconds(1),
        now - Duration::days(30),
        now + Duration::days(30),
    ];
    let mut deadlines: Vec<_> = all.iter().filter_map(|p| p.deadline).collect();
    deadlines.sort();
    deadlines.dedup();
    probes.extend(deadlines.iter().step_by(7).copied());
    // Where a deadline enters the next 24 hours: at it and a millisecond either side.
    let day = Duration::milliseconds(fieldcheck_core::domain::problem::DUE_SOON_MS);
    for d in deadlines.iter().step_by(11) {
        for off in [-1, 0, 1] {
            probes.push(*d - day + Duration::milliseconds(off));
        }
    }
    for at in probes {
        check_at(&mut s, at);
    }
}

#[test]
fn the_partial_index_is_declared_with_the_domain_predicate() {
    let dir = tempfile::tempdir().unwrap();
    let s = demo_store(&dir);
    let c = s.connection();
    let ddl: String = c
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'problems_open_deadline'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let predicate = ddl.split_once("WHERE").unwrap().1.trim();
    assert_eq!(predicate, sql::awaiting_unit(), "{ddl}");
    // The planner may use it for the domain's overdue predicate (it refuses `INDEXED BY`
    // when the query's WHERE does not imply the index's), and the ledger's filter does.
    let plan = |q: &str| -> String {
        c.prepare(&format!("EXPLAIN QUERY PLAN {q}"))
            .unwrap()
            .query_map([0i64], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let p = plan(&format!(
        "SELECT rid FROM problems INDEXED BY problems_open_deadline WHERE {} ORDER BY deadline",
        sql::overdue("?1")
    ));
    assert!(p.contains("problems_open_deadline"), "{p}");
    // A predicate that drifted (another state added) cannot use the index at all.
    let drifted = format!(
        "SELECT rid FROM problems INDEXED BY problems_open_deadline WHERE {} AND deadline < ?1",
        sql::status_in(&[
            ProblemStatus::Dispatched,
            ProblemStatus::Rectifying,
            ProblemStatus::Reopened
        ])
    );
    assert!(c.prepare(&drifted).is_err());
}
