//! Property tests on the real store: a refused action leaves the database byte-for-byte
//! unchanged, and replicas that receive the same events in any order and batching end in
//! the same state.

mod common;

use common::*;
use fieldcheck_core::domain::event::{ProblemEdit, RejectReason};
use fieldcheck_core::domain::{Actor, Event};
use fieldcheck_core::{NewProblem, ProblemAction, ProblemQuery, Store};
use proptest::prelude::*;

fn actors(s: &Store) -> Vec<Actor> {
    ["usr-admin-1", "usr-insp-1", "usr-vol-1", "usr-vol-2"]
        .iter()
        .map(|u| s.actor(u).unwrap())
        .chain(
            s.export_reference()
                .unwrap()
                .users
                .iter()
                .filter(|u| u.unit_id.is_some())
                .take(3)
                .map(|u| s.actor(&u.id).unwrap()),
        )
        .collect()
}

fn action(kind: u8, unit: &str, n: u8) -> ProblemAction {
    match kind % 12 {
        0 => ProblemAction::File { note: None },
        1 => ProblemAction::Dispatch {
            unit_id: unit.into(),
            deadline: None,
            note: None,
        },
        2 => ProblemAction::Accept { note: None },
        3 => ProblemAction::Return {
            reason: if n.is_multiple_of(3) {
                String::new()
            } else {
                "非本单位职责".into()
            },
        },
        4 => ProblemAction::Rectify {
            photos: vec![],
            note: None,
        },
        5 => ProblemAction::Verify {
            passed: n.is_multiple_of(2),
            note: Some("复核".into()),
            photos: vec![],
        },
        6 => ProblemAction::Close { note: None },
        7 => ProblemAction::Edit(ProblemEdit {
            description: Some(format!("更新 {n}")),
            ..Default::default()
        }),
        8 => ProblemAction::Reject {
            reason: RejectReason::Invalid {
                reason: if n.is_multiple_of(2) {
                    "无效".into()
                } else {
                    " ".into()
                },
            },
        },
        9 => ProblemAction::RequestExtension {
            until: Some(t("2027-01-01T00:00:00Z")),
            until_date: None,
            reason: "协调中".into(),
        },
        10 => ProblemAction::DecideExtension {
            approved: n.is_multiple_of(2),
            note: Some("审批".into()),
        },
        _ => ProblemAction::Recheck {
            passed: n.is_multiple_of(2),
            note: Some("复查".into()),
            photos: vec![],
        },
    }
}

fn new_problem(i: usize) -> NewProblem {
    NewProblem {
        category: "SR-02".into(),
        description: format!("测试问题 {i}"),
        point_id: Some(format!("p-{:03}", 1 + i % 30)),
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn refused_actions_change_nothing(
        steps in proptest::collection::vec((0u8..7, 0u8..3, 0u8..12, any::<u8>()), 5..40)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = demo_store(&dir);
        let who = actors(&s);
        let units: Vec<String> = who.iter().filter_map(|a| a.unit_id.clone()).collect();
        let ids: Vec<_> = (0..3)
            .map(|i| s.report_problem(&who[2], new_problem(i)).unwrap().id)
            .collect();
        let mut refused = 0;
        for (w, p, k, n) in steps {
            let before = snapshot(&s);
            let unit = &units[n as usize % units.len()];
            match s.act(&who[w as usize % who.len()], ids[p as usize], action(k, unit, n)) {
                Ok(_) => prop_assert_ne!(before, snapshot(&s)),
                Err(_) => {
                    refused += 1;
                    prop_assert_eq!(&before, &snapshot(&s));
                }
            }
        }
        // Most random actions are illegal: make sure the property was exercised.
        prop_assert!(refused > 0);
    }

    #[test]
    fn replicas_converge_whatever_the_order(
        steps in proptest::collection::vec((0u8..7, 0u8..2, 0u8..12, any::<u8>(), any::<bool>()), 5..30),
        seed in any::<u64>(),
        batch in 1usize..6,
    ) {
        // Two devices act on the same problems while offline from each other.
        let da = tempfile::tempdir().unwrap();
        let db = tempfile::tempdir().unwrap();
        let mut a = demo_store(&da);
        let mut b = demo_store(&db);
        let who = actors(&a);
        let units: Vec<String> = who.iter().filter_map(|x| x.unit_id.clone()).collect();
        let ids: Vec<_> = (0..2)
            .map(|i| a.report_problem(&who[2], new_problem(i)).unwrap().id)
            .collect();
        b.apply_remote(&a.outbox(1000).unwrap()).unwrap();
        for (w, p, k, n, on_a) in steps {
            let s = if on_a { &mut a } else { &mut b };
            let unit = &units[n as usize % units.len()];
            let _ = s.act(&who[w as usize % who.len()], ids[p as usize], action(k, unit, n));
        }
        let mut all: Vec<Event> = a.outbox(1000).unwrap();
        all.extend(b.outbox(1000).unwrap());
        // A third replica receives everything shuffled, in batches, with duplicates.
        let dc = tempfile::tempdir().unwrap();
        let mut c = demo_store(&dc);
        let mut shuffled = all.clone();
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        shuffled.push(shuffled[0].clone());
        for chunk in shuffled.chunks(batch) {
            c.apply_remote(chunk).unwrap();
        }
        a.apply_remote(&b.outbox(1000).unwrap()).unwrap();
        b.apply_remote(&a.outbox(1000).unwrap()).unwrap();
        let state = |s: &Store| {
            let mut rows: Vec<_> = s
                .list_problems(&ProblemQuery { limit: 100, ..Default::default() })
                .unwrap()
                .items
                .into_iter()
                .map(|r| (r.problem, r.rejected_events))
                .collect();
            rows.sort_by_key(|r| r.0.id);
            let hist: Vec<_> = rows
                .iter()
                .flat_map(|r| s.history(r.0.id).unwrap())
                .map(|h| (h.event.id, h.outcome))
                .collect();
            (rows, hist)
        };
        let sa = state(&a);
        prop_assert_eq!(&sa, &state(&b));
        prop_assert_eq!(&sa, &state(&c));
    }
}
