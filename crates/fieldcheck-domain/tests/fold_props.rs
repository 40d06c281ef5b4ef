//! Property: folding any permutation of the same events gives the same state and outcomes.

use chrono::{DateTime, Duration, Utc};
use fieldcheck_domain::event::{ProblemEdit, ProblemReported};
use fieldcheck_domain::fold::fold_problem;
use fieldcheck_domain::*;
use proptest::prelude::*;
use uuid::Uuid;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T02:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn actors() -> [Actor; 5] {
    [
        Actor::new("admin-1", Role::Admin),
        Actor::new("insp-1", Role::Inspector),
        Actor::new("h-1", Role::UnitHandler).with_unit("u-1"),
        Actor::new("h-2", Role::UnitHandler).with_unit("u-2"),
        Actor::new("vol-1", Role::Volunteer),
    ]
}

/// Builds an arbitrary (often nonsensical) event stream from small integers: several devices
/// with skewed clocks, any actor, any kind. Many events will be rejected; that is the point.
fn build(steps: &[(u8, u8, u8, i16)]) -> Vec<Event> {
    let id = Uuid::from_u128(42);
    let actors = actors();
    let mut out = Vec::new();
    for (i, &(dev, who, what, skew)) in steps.iter().enumerate() {
        let node = format!("dev-{}", dev % 3);
        let at = t0() + Duration::minutes(i as i64 * 5 + i64::from(skew));
        let hlc = Hlc::new(at.timestamp_millis(), u32::from(what % 2), node.clone());
        let a = &actors[who as usize % actors.len()];
        let deadline = at + Duration::days(2);
        let body = match what % 14 {
            0 => EventBody::ProblemReported(Box::new(ProblemReported {
                code: format!("GL-20261123-{node}-{i}"),
                category: "SR-02".into(),
                description: format!("desc {i}"),
                location: None,
                address: String::new(),
                district_id: None,
                point_id: None,
                item_id: None,
                inspection_id: None,
                severity: Severity::Normal,
                placement: None,
            })),
            1 => EventBody::ProblemFiled { note: None },
            2 => EventBody::ProblemDispatched {
                unit_id: format!("u-{}", 1 + what % 2),
                deadline,
                note: None,
            },
            3 => EventBody::ProblemAccepted { note: None },
            4 => EventBody::ProblemRectified { note: None },
            5 => EventBody::ProblemVerified {
                passed: skew % 2 == 0,
                note: Some("x".into()),
                deadline: None,
            },
            6 => EventBody::ProblemClosed { note: None },
            7 => EventBody::ProblemReturned { reason: "r".into() },
            8 => EventBody::ProblemEdited(ProblemEdit {
                description: Some(format!("edit {i}")),
                address: (skew % 3 == 0).then(|| format!("addr {i}")),
                ..Default::default()
            }),
            9 => EventBody::ExtensionRequested {
                until: deadline + Duration::days(3),
                reason: "r".into(),
            },
            10 => EventBody::ExtensionDecided {
                approved: skew % 2 == 0,
                note: Some("n".into()),
            },
            11 => EventBody::ProblemRechecked {
                passed: skew % 2 == 0,
                note: Some("n".into()),
            },
            12 => EventBody::ProblemPhotosAdded { note: None },
            _ => EventBody::ProblemRejected {
                reason: fieldcheck_domain::event::RejectReason::Invalid { reason: "x".into() },
            },
        };
        let mut e = Event::new(id, a, &node, hlc, body);
        e.id = Uuid::from_u128(1000 + i as u128);
        e.photos = vec![PhotoRef {
            hash: format!("{:064x}", i),
            role: PhotoRole::After,
        }];
        out.push(e);
    }
    // Always start with a report so that the stream is interesting.
    let mut first = out[0].clone();
    first.body = EventBody::ProblemReported(Box::new(ProblemReported {
        code: "GL-X".into(),
        category: "SR-02".into(),
        description: "first".into(),
        location: None,
        address: String::new(),
        district_id: None,
        point_id: None,
        item_id: None,
        inspection_id: None,
        severity: Severity::Normal,
        placement: None,
    }));
    first.hlc = Hlc::new(t0().timestamp_millis() - 1_000_000, 0, "dev-0");
    first.id = Uuid::from_u128(999);
    out.push(first);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_permutation_folds_to_the_same_state(
        steps in proptest::collection::vec((0u8..3, 0u8..5, 0u8..28, -30i16..30), 1..40),
        perm_seed in any::<u64>(),
        dup in any::<bool>(),
    ) {
        let events = build(&steps);
        let reference = fold_problem(&events);
        let mut shuffled = events.clone();
        // Deterministic Fisher–Yates from the seed.
        let mut s = perm_seed | 1;
        for i in (1..shuffled.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            shuffled.swap(i, (s % (i as u64 + 1)) as usize);
        }
        if dup {
            // The same event delivered twice changes nothing.
            shuffled.push(shuffled[0].clone());
        }
        let other = fold_problem(&shuffled);
        prop_assert_eq!(&reference.state, &other.state);
        prop_assert_eq!(&reference.outcomes, &other.outcomes);
        prop_assert!(reference.state.is_some());
    }
}
