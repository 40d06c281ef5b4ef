//! An action is offered exactly when the lifecycle would accept it: for every role, state, unit
//! relation, ownership, pending extension and deadline, and every action, `actions_offered`
//! contains the action if and only if `apply_problem` accepts some well-formed event of its
//! kind from that person. The space is small (≈ 25,000 cases), so it is enumerated whole.

use chrono::{DateTime, Duration, Utc};
use fieldcheck_domain::actions::{ProblemActionKind, actions_offered};
use fieldcheck_domain::event::{ProblemEdit, ProblemReported, RejectReason};
use fieldcheck_domain::lifecycle::{apply_problem, precondition};
use fieldcheck_domain::problem::ExtensionRequest;
use fieldcheck_domain::*;
use uuid::Uuid;

const UNIT: &str = "u-traffic";
const OTHER_UNIT: &str = "u-water";
const REPORTER: &str = "vol-1";

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T02:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

#[derive(Debug, Clone, Copy)]
enum ActorUnit {
    None,
    Same,
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Case {
    role: Role,
    status: ProblemStatus,
    actor_unit: ActorUnit,
    problem_has_unit: bool,
    own: bool,
    extension_pending: bool,
    has_deadline: bool,
}

fn all_cases() -> Vec<Case> {
    let mut out = Vec::new();
    for role in Role::ALL {
        for status in ProblemStatus::ALL {
            for actor_unit in [ActorUnit::None, ActorUnit::Same, ActorUnit::Other] {
                for problem_has_unit in [false, true] {
                    for own in [false, true] {
                        for extension_pending in [false, true] {
                            for has_deadline in [false, true] {
                                out.push(Case {
                                    role,
                                    status,
                                    actor_unit,
                                    problem_has_unit,
                                    own,
                                    extension_pending,
                                    has_deadline,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

fn reported(id: Uuid) -> Event {
    Event::new(
        id,
        &Actor::new(REPORTER, Role::Volunteer),
        "dev-test",
        Hlc::new(t0().timestamp_millis(), 0, "dev-test"),
        EventBody::ProblemReported(Box::new(ProblemReported {
            code: "GL-20261123-AAAA-0001".into(),
            category: "SR-02".into(),
            description: "路边暴露垃圾".into(),
            location: None,
            address: "东街 1 号".into(),
            district_id: Some("c-1".into()),
            point_id: None,
            item_id: None,
            inspection_id: None,
            severity: Severity::Normal,
            placement: None,
        })),
    )
}

/// The record and the person of a case. The record's fields are set directly, whatever the
/// status would usually imply: the rule must hold for every record a fold can meet.
fn setup(c: Case) -> (Problem, Actor) {
    let mut p = apply_problem(None, &reported(Uuid::now_v7())).unwrap();
    p.status = c.status;
    p.unit_id = c.problem_has_unit.then(|| UNIT.to_owned());
    p.deadline = c.has_deadline.then(|| t0() + Duration::days(2));
    p.extension = c.extension_pending.then(|| ExtensionRequest {
        until: t0() + Duration::days(5),
        reason: "材料未到".into(),
        requested_by: "handler-1".into(),
        requested_at: t0() + Duration::hours(1),
    });
    let user = if c.own { REPORTER } else { "someone-else" };
    let mut actor = Actor::new(user, c.role);
    match c.actor_unit {
        ActorUnit::None => {}
        ActorUnit::Same => actor = actor.with_unit(UNIT),
        ActorUnit::Other => actor = actor.with_unit(OTHER_UNIT),
    }
    if c.own {
        p.reporter_role = c.role;
    }
    (p, actor)
}

fn photo(role: PhotoRole) -> Vec<PhotoRef> {
    vec![PhotoRef {
        hash: "a".repeat(64),
        role,
    }]
}

/// Every well-formed request of an action's kind: reasons given, an after-photo with a
/// rectification, deadlines later than the event and than the current deadline, a duplicate
/// naming another record. Some are refused for some people (after-photos by a volunteer).
fn well_formed(a: ProblemActionKind, at: DateTime<Utc>) -> Vec<(EventBody, Vec<PhotoRef>)> {
    use ProblemActionKind as A;
    let note = || Some("备注".to_owned());
    let later = at + Duration::days(30);
    match a {
        A::File => vec![(EventBody::ProblemFiled { note: note() }, vec![])],
        A::Reject => vec![
            (
                EventBody::ProblemRejected {
                    reason: RejectReason::Invalid {
                        reason: "不属于城管范围".into(),
                    },
                },
                vec![],
            ),
            (
                EventBody::ProblemRejected {
                    reason: RejectReason::Duplicate {
                        of: "GL-20261122-BBBB-0002".into(),
                    },
                },
                vec![],
            ),
        ],
        A::Dispatch => vec![(
            EventBody::ProblemDispatched {
                unit_id: UNIT.into(),
                deadline: later,
                note: None,
            },
            vec![],
        )],
        A::Accept => vec![(EventBody::ProblemAccepted { note: None }, vec![])],
        A::Return => vec![(
            EventBody::ProblemReturned {
                reason: "不属于本单位".into(),
            },
            vec![],
        )],
        A::Rectify => vec![(
            EventBody::ProblemRectified { note: note() },
            photo(PhotoRole::After),
        )],
        A::RequestExtension => vec![(
            EventBody::ExtensionRequested {
                until: later,
                reason: "材料未到".into(),
            },
            vec![],
        )],
        A::DecideExtension => vec![
            (
                EventBody::ExtensionDecided {
                    approved: true,
                    note: None,
                },
                vec![],
            ),
            (
                EventBody::ExtensionDecided {
                    approved: false,
                    note: note(),
                },
                vec![],
            ),
        ],
        A::Verify => vec![
            (
                EventBody::ProblemVerified {
                    passed: true,
                    note: None,
                    deadline: None,
                },
                photo(PhotoRole::Evidence),
            ),
            (
                EventBody::ProblemVerified {
                    passed: false,
                    note: note(),
                    deadline: Some(later),
                },
                vec![],
            ),
        ],
        A::Close => vec![(EventBody::ProblemClosed { note: None }, vec![])],
        A::Recheck => vec![
            (
                EventBody::ProblemRechecked {
                    passed: true,
                    note: None,
                },
                vec![],
            ),
            (
                EventBody::ProblemRechecked {
                    passed: false,
                    note: note(),
                },
                vec![],
            ),
        ],
        A::AddPhotos => vec![
            (
                EventBody::ProblemPhotosAdded { note: None },
                photo(PhotoRole::Evidence),
            ),
            (
                EventBody::ProblemPhotosAdded { note: None },
                photo(PhotoRole::After),
            ),
        ],
        A::Edit => vec![(
            EventBody::ProblemEdited(ProblemEdit {
                description: Some("路边暴露垃圾（已补充）".into()),
                ..Default::default()
            }),
            vec![],
        )],
    }
}

fn event(p: &Problem, who: &Actor, body: EventBody, photos: Vec<PhotoRef>) -> Event {
    let at = t0() + Duration::hours(3);
    Event::new(
        p.id,
        who,
        "dev-test",
        Hlc::new(at.timestamp_millis(), 0, "dev-test"),
        body,
    )
    .with_photos(photos)
}

#[test]
fn an_action_is_offered_exactly_when_the_lifecycle_accepts_it() {
    let at = t0() + Duration::hours(3);
    let cases = all_cases();
    assert_eq!(cases.len(), 4 * 10 * 3 * 2 * 2 * 2 * 2);
    let mut offered_somewhere = std::collections::HashSet::new();
    for c in cases {
        let (p, who) = setup(c);
        let offered = actions_offered(&p, &who);
        for a in ProblemActionKind::ALL {
            let outcomes: Vec<Result<Problem, Refusal>> = well_formed(a, at)
                .into_iter()
                .map(|(body, photos)| {
                    let ev = event(&p, &who, body, photos);
                    assert_eq!(ev.kind(), a.event_kind());
                    apply_problem(Some(&p), &ev)
                })
                .collect();
            let accepted = outcomes.iter().any(Result::is_ok);
            assert_eq!(
                offered.contains(&a),
                accepted,
                "{a:?} for {c:?}: offered {offered:?}, lifecycle said {outcomes:?}"
            );
            if accepted {
                offered_somewhere.insert(a);
            } else {
                // The person is told the same reason the lifecycle gives.
                let why = precondition(&p, a.event_kind(), &who).unwrap_err();
                assert_eq!(
                    outcomes[0].as_ref().unwrap_err().code,
                    why.code,
                    "{a:?} for {c:?}"
                );
            }
        }
        // Offered in the screens' order, each once.
        let order: Vec<usize> = offered
            .iter()
            .map(|a| ProblemActionKind::ALL.iter().position(|b| b == a).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{offered:?}");
    }
    // The enumeration reaches every action at least once (it is not vacuous).
    assert_eq!(offered_somewhere.len(), ProblemActionKind::ALL.len());
}

fn actor_on(status: ProblemStatus, who: Actor) -> Vec<ProblemActionKind> {
    let mut p = apply_problem(None, &reported(Uuid::now_v7())).unwrap();
    p.status = status;
    actions_offered(&p, &who)
}

/// Drift fixed: the bridge's table offered `edit` to a volunteer on their own filed report,
/// which the lifecycle refuses (`invalid_transition`).
#[test]
fn a_volunteer_may_edit_their_report_only_until_it_is_filed() {
    use ProblemActionKind as A;
    let vol = Actor::new(REPORTER, Role::Volunteer);
    assert_eq!(
        actor_on(ProblemStatus::Reported, vol.clone()),
        vec![A::AddPhotos, A::Edit]
    );
    assert_eq!(
        actor_on(ProblemStatus::Filed, vol.clone()),
        vec![A::AddPhotos]
    );
    let mut p = apply_problem(None, &reported(Uuid::now_v7())).unwrap();
    p.status = ProblemStatus::Filed;
    let edit = event(
        &p,
        &vol,
        EventBody::ProblemEdited(ProblemEdit {
            description: Some("改".into()),
            ..Default::default()
        }),
        vec![],
    );
    assert_eq!(
        apply_problem(Some(&p), &edit).unwrap_err().code,
        RefusalCode::InvalidTransition
    );
    // Someone else's report: only their photo, added instead of reporting it again
    // (已有人上报), while it is open.
    let other = Actor::new("vol-2", Role::Volunteer);
    assert_eq!(
        actor_on(ProblemStatus::Reported, other.clone()),
        vec![A::AddPhotos]
    );
    assert_eq!(actor_on(ProblemStatus::Closed, other), vec![]);
}

/// Drift fixed: the bridge compared units loosely, so a unit handler without a unit was
/// offered actions on a record without one; the lifecycle refuses (`not_assigned_unit`).
#[test]
fn a_unit_handler_without_a_unit_is_offered_nothing() {
    let loose = Actor::new("handler-1", Role::UnitHandler);
    assert_eq!(actor_on(ProblemStatus::Reported, loose.clone()), vec![]);
    assert_eq!(
        actor_on(ProblemStatus::Reported, loose.with_unit(UNIT)),
        vec![]
    );
    let mut p = apply_problem(None, &reported(Uuid::now_v7())).unwrap();
    p.status = ProblemStatus::Dispatched;
    p.unit_id = Some(UNIT.into());
    use ProblemActionKind as A;
    assert_eq!(
        actions_offered(
            &p,
            &Actor::new("handler-1", Role::UnitHandler).with_unit(UNIT)
        ),
        vec![
            A::Accept,
            A::Return,
            A::RequestExtension,
            A::AddPhotos,
            A::Edit
        ]
    );
}
