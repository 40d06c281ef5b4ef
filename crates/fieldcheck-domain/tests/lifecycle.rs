//! Every lifecycle transition and every role, allowed and refused, checked against a table
//! written here by hand from domain.md §5 (not derived from the code under test).

use chrono::{DateTime, Duration, Utc};
use fieldcheck_domain::event::{ProblemEdit, ProblemReported, RejectReason};
use fieldcheck_domain::fold::fold_problem;
use fieldcheck_domain::lifecycle::apply_problem;
use fieldcheck_domain::*;
use uuid::Uuid;

const UNIT: &str = "u-traffic";

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T02:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn actor(role: Role) -> Actor {
    match role {
        Role::Admin => Actor::new("admin-1", role),
        Role::Inspector => Actor::new("insp-1", role),
        Role::UnitHandler => Actor::new("handler-1", role).with_unit(UNIT),
        Role::Volunteer => Actor::new("vol-1", role),
    }
}

fn ev(entity: Uuid, who: &Actor, at_min: i64, body: EventBody) -> Event {
    let at = t0() + Duration::minutes(at_min);
    Event::new(
        entity,
        who,
        "dev-test",
        Hlc::new(at.timestamp_millis(), 0, "dev-test"),
        body,
    )
}

fn after_photo() -> Vec<PhotoRef> {
    vec![PhotoRef {
        hash: "a".repeat(64),
        role: PhotoRole::After,
    }]
}

fn reported(id: Uuid, who: &Actor) -> Event {
    ev(
        id,
        who,
        0,
        EventBody::ProblemReported(Box::new(ProblemReported {
            code: "GL-20261123-AAAA-0001".into(),
            category: "SR-02".into(),
            description: "路边暴露垃圾".into(),
            location: Some(Location {
                lat: 26.08,
                lon: 119.3,
                accuracy_m: Some(8.0),
                source: LocationSource::Gps,
            }),
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

/// A problem in the given status, reported by the volunteer, assigned to UNIT when the status
/// implies it.
fn problem_in(status: ProblemStatus) -> Problem {
    let id = Uuid::now_v7();
    let mut p = apply_problem(None, &reported(id, &actor(Role::Volunteer))).unwrap();
    p.status = status;
    if !matches!(
        status,
        ProblemStatus::Reported | ProblemStatus::Filed | ProblemStatus::Rejected
    ) {
        p.unit_id = Some(UNIT.into());
        p.deadline = Some(t0() + Duration::days(3));
    }
    p
}

/// One sample event of every status-changing and descriptive kind, well formed.
fn sample(kind: &str, id: Uuid, who: &Actor) -> Event {
    let later = t0() + Duration::days(10);
    let body = match kind {
        "problem.edited" => EventBody::ProblemEdited(ProblemEdit {
            description: Some("更新描述".into()),
            ..Default::default()
        }),
        "problem.photos_added" => EventBody::ProblemPhotosAdded { note: None },
        "problem.filed" => EventBody::ProblemFiled { note: None },
        "problem.rejected" => EventBody::ProblemRejected {
            reason: RejectReason::Invalid {
                reason: "不属于创城范围".into(),
            },
        },
        "problem.dispatched" => EventBody::ProblemDispatched {
            unit_id: UNIT.into(),
            deadline: later,
            note: None,
        },
        "problem.accepted" => EventBody::ProblemAccepted { note: None },
        "problem.returned" => EventBody::ProblemReturned {
            reason: "非本单位职责".into(),
        },
        "problem.rectified" => EventBody::ProblemRectified { note: None },
        "problem.verified.pass" => EventBody::ProblemVerified {
            passed: true,
            note: None,
            deadline: None,
        },
        "problem.verified.fail" => EventBody::ProblemVerified {
            passed: false,
            note: Some("仍有垃圾".into()),
            deadline: Some(later),
        },
        "problem.closed" => EventBody::ProblemClosed { note: None },
        "problem.extension_requested" => EventBody::ExtensionRequested {
            until: later,
            reason: "需要协调施工方".into(),
        },
        "problem.extension_decided" => EventBody::ExtensionDecided {
            approved: true,
            note: None,
        },
        "problem.rechecked.pass" => EventBody::ProblemRechecked {
            passed: true,
            note: None,
        },
        "problem.rechecked.fail" => EventBody::ProblemRechecked {
            passed: false,
            note: Some("问题反弹".into()),
        },
        other => panic!("no sample for {other}"),
    };
    let mut e = ev(id, who, 60, body);
    if matches!(kind, "problem.rectified" | "problem.photos_added") {
        e.photos = after_photo();
    }
    e
}

use ProblemStatus as S;
use Role as R;

/// One row of the specification: (kind, roles, states it may land on, resulting status).
type SpecRow = (
    &'static str,
    Vec<Role>,
    Vec<ProblemStatus>,
    Option<ProblemStatus>,
);

fn spec() -> Vec<SpecRow> {
    let open_not_terminal: Vec<S> = S::ALL
        .into_iter()
        .filter(|s| !matches!(s, S::Closed | S::Rejected))
        .collect();
    vec![
        (
            "problem.filed",
            vec![R::Admin],
            vec![S::Reported],
            Some(S::Filed),
        ),
        (
            "problem.rejected",
            vec![R::Admin],
            vec![S::Reported, S::Filed],
            Some(S::Rejected),
        ),
        (
            "problem.dispatched",
            vec![R::Admin],
            vec![S::Filed, S::Returned, S::Reopened, S::Dispatched],
            Some(S::Dispatched),
        ),
        (
            "problem.accepted",
            vec![R::UnitHandler],
            vec![S::Dispatched],
            Some(S::Rectifying),
        ),
        (
            "problem.returned",
            vec![R::UnitHandler],
            vec![S::Dispatched, S::Rectifying],
            Some(S::Returned),
        ),
        (
            "problem.rectified",
            vec![R::UnitHandler],
            vec![S::Rectifying],
            Some(S::Rectified),
        ),
        (
            "problem.verified.pass",
            vec![R::Admin, R::Inspector],
            vec![S::Rectified],
            Some(S::Verified),
        ),
        (
            "problem.verified.fail",
            vec![R::Admin, R::Inspector],
            vec![S::Rectified],
            Some(S::Dispatched),
        ),
        (
            "problem.closed",
            vec![R::Admin],
            vec![S::Verified],
            Some(S::Closed),
        ),
        (
            "problem.extension_requested",
            vec![R::UnitHandler],
            vec![S::Dispatched, S::Rectifying],
            None,
        ),
        (
            "problem.rechecked.pass",
            vec![R::Admin, R::Inspector],
            vec![S::Closed],
            Some(S::Closed),
        ),
        (
            "problem.rechecked.fail",
            vec![R::Admin, R::Inspector],
            vec![S::Closed],
            Some(S::Reopened),
        ),
        // Descriptive edits: office and inspectors on open records; the volunteer (reporter)
        // only until filed; the unit handler only where the problem is assigned to them.
        (
            "problem.edited",
            vec![R::Admin, R::Inspector, R::Volunteer, R::UnitHandler],
            open_not_terminal,
            None,
        ),
    ]
}

#[test]
fn every_kind_role_and_state_matches_the_spec() {
    let mut checked = 0;
    for (kind, roles, states, to) in spec() {
        for role in Role::ALL {
            for from in S::ALL {
                let p = problem_in(from);
                let e = sample(kind, p.id, &actor(role));
                let got = apply_problem(Some(&p), &e);
                let mut allowed = roles.contains(&role) && states.contains(&from);
                // Per-role refinements of the edit rule.
                if kind == "problem.edited" {
                    allowed &= match role {
                        R::Volunteer => from == S::Reported,
                        R::UnitHandler => p.unit_id.as_deref() == Some(UNIT),
                        _ => true,
                    };
                }
                match (&got, allowed) {
                    (Ok(next), true) => {
                        if let Some(to) = to {
                            assert_eq!(next.status, to, "{kind} by {role:?} from {from:?}");
                        } else {
                            assert_eq!(next.status, from, "{kind} keeps the status");
                        }
                    }
                    (Err(_), false) => {}
                    (Ok(_), false) => panic!("{kind} by {role:?} from {from:?} should be refused"),
                    (Err(r), true) => panic!("{kind} by {role:?} from {from:?} refused: {r}"),
                }
                if let Err(r) = &got {
                    let want = if !roles.contains(&role) {
                        RefusalCode::RoleNotAllowed
                    } else if !states.contains(&from) {
                        RefusalCode::InvalidTransition
                    } else {
                        r.code // refinement refusals are checked in their own tests
                    };
                    assert_eq!(r.code, want, "{kind} by {role:?} from {from:?}: {r}");
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 13 * 4 * 10);
}

#[test]
fn extension_decision_needs_a_pending_request() {
    for from in [S::Dispatched, S::Rectifying] {
        let p = problem_in(from);
        let admin = actor(R::Admin);
        let e = sample("problem.extension_decided", p.id, &admin);
        assert_eq!(
            apply_problem(Some(&p), &e).unwrap_err().code,
            RefusalCode::NoPendingExtension
        );
        let req = sample("problem.extension_requested", p.id, &actor(R::UnitHandler));
        let p2 = apply_problem(Some(&p), &req).unwrap();
        assert!(p2.extension.is_some());
        let again = apply_problem(Some(&p2), &req).unwrap_err();
        assert_eq!(again.code, RefusalCode::ExtensionPending);
        for role in [R::Inspector, R::UnitHandler, R::Volunteer] {
            let e = sample("problem.extension_decided", p.id, &actor(role));
            assert_eq!(
                apply_problem(Some(&p2), &e).unwrap_err().code,
                RefusalCode::RoleNotAllowed
            );
        }
        let p3 = apply_problem(Some(&p2), &e).unwrap();
        assert_eq!(p3.deadline, Some(t0() + Duration::days(10)));
        assert!(p3.extension.is_none());
        // Denial needs a reason and keeps the old deadline.
        let deny = ev(
            p.id,
            &admin,
            61,
            EventBody::ExtensionDecided {
                approved: false,
                note: None,
            },
        );
        assert_eq!(
            apply_problem(Some(&p2), &deny).unwrap_err().code,
            RefusalCode::ReasonRequired
        );
    }
}

#[test]
fn unit_handler_of_another_unit_is_refused() {
    let p = problem_in(S::Dispatched);
    let other = Actor::new("handler-9", R::UnitHandler).with_unit("u-other");
    for kind in [
        "problem.accepted",
        "problem.returned",
        "problem.extension_requested",
    ] {
        let e = sample(kind, p.id, &other);
        assert_eq!(
            apply_problem(Some(&p), &e).unwrap_err().code,
            RefusalCode::NotAssignedUnit,
            "{kind}"
        );
    }
}

#[test]
fn rectification_needs_an_after_photo() {
    let p = problem_in(S::Rectifying);
    let mut e = sample("problem.rectified", p.id, &actor(R::UnitHandler));
    e.photos.clear();
    assert_eq!(
        apply_problem(Some(&p), &e).unwrap_err().code,
        RefusalCode::AfterPhotoRequired
    );
    e.photos = vec![PhotoRef {
        hash: "b".repeat(64),
        role: PhotoRole::Before,
    }];
    assert_eq!(
        apply_problem(Some(&p), &e).unwrap_err().code,
        RefusalCode::AfterPhotoRequired
    );
}

#[test]
fn volunteer_may_touch_only_their_own_report() {
    let p = problem_in(S::Reported);
    let other = Actor::new("vol-2", R::Volunteer);
    let e = sample("problem.edited", p.id, &other);
    assert_eq!(
        apply_problem(Some(&p), &e).unwrap_err().code,
        RefusalCode::NotOwnRecord
    );
    // Except adding a photo to another's report that is still open (已有人上报): their photo
    // joins the case instead of a second report; once it is closed or rejected, no more.
    let mut add = sample("problem.photos_added", p.id, &other);
    for ph in &mut add.photos {
        ph.role = PhotoRole::Evidence;
    }
    let next = apply_problem(Some(&p), &add).unwrap();
    assert_eq!(next.photos.len(), p.photos.len() + add.photos.len());
    for s in [S::Closed, S::Rejected] {
        let code = apply_problem(Some(&problem_in(s)), &add).unwrap_err().code;
        // A closed case takes no photos from anyone; a rejected one none from a volunteer.
        assert!(
            matches!(
                code,
                RefusalCode::NotOwnRecord | RefusalCode::InvalidTransition
            ),
            "{s:?}: {code:?}"
        );
    }
}

#[test]
fn failed_check_adds_rework_and_reasons_are_required() {
    let p = problem_in(S::Rectified);
    let insp = actor(R::Inspector);
    let e = sample("problem.verified.fail", p.id, &insp);
    let next = apply_problem(Some(&p), &e).unwrap();
    assert_eq!(next.rework_count, 1);
    assert_eq!(next.status_reason.as_deref(), Some("仍有垃圾"));
    let no_reason = ev(
        p.id,
        &insp,
        61,
        EventBody::ProblemVerified {
            passed: false,
            note: Some("  ".into()),
            deadline: None,
        },
    );
    assert_eq!(
        apply_problem(Some(&p), &no_reason).unwrap_err().code,
        RefusalCode::ReasonRequired
    );
}

#[test]
fn events_before_the_report_or_a_second_report_are_refused() {
    let id = Uuid::now_v7();
    let e = sample("problem.filed", id, &actor(R::Admin));
    assert_eq!(
        apply_problem(None, &e).unwrap_err().code,
        RefusalCode::NotFound
    );
    let r = reported(id, &actor(R::Volunteer));
    let p = apply_problem(None, &r).unwrap();
    assert_eq!(
        apply_problem(Some(&p), &r).unwrap_err().code,
        RefusalCode::AlreadyExists
    );
}

#[test]
fn full_closed_loop_through_the_fold() {
    let id = Uuid::now_v7();
    let (adm, insp, unit, vol) = (
        actor(R::Admin),
        actor(R::Inspector),
        actor(R::UnitHandler),
        actor(R::Volunteer),
    );
    let mut evs = vec![reported(id, &vol)];
    let mut m = 0;
    let mut push = |who: &Actor, kind: &str, evs: &mut Vec<Event>| {
        m += 10;
        let mut e = sample(kind, id, who);
        e.hlc = Hlc::new(
            (t0() + Duration::minutes(m)).timestamp_millis(),
            0,
            "dev-test",
        );
        evs.push(e);
    };
    push(&adm, "problem.filed", &mut evs);
    push(&adm, "problem.dispatched", &mut evs);
    push(&unit, "problem.accepted", &mut evs);
    push(&unit, "problem.rectified", &mut evs);
    push(&insp, "problem.verified.fail", &mut evs);
    push(&unit, "problem.accepted", &mut evs);
    push(&unit, "problem.rectified", &mut evs);
    push(&insp, "problem.verified.pass", &mut evs);
    push(&adm, "problem.closed", &mut evs);
    push(&insp, "problem.rechecked.pass", &mut evs);
    // A stale "rectified" from a phone that was offline lands after the close: rejected.
    push(&unit, "problem.rectified", &mut evs);
    let f = fold_problem(&evs);
    let p = f.state.unwrap();
    assert_eq!(p.status, S::Closed);
    assert_eq!(p.rework_count, 1);
    assert_eq!(p.recheck_count, 1);
    assert_eq!(
        p.photos
            .iter()
            .filter(|ph| ph.role == PhotoRole::After)
            .count(),
        2
    );
    let rejected: Vec<_> = f
        .outcomes
        .iter()
        .filter(|(_, o)| matches!(o, EventOutcome::Rejected { .. }))
        .collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].0, evs.last().unwrap().id);
}

#[test]
fn a_problem_comes_from_an_inspection_a_volunteer_or_a_quick_report() {
    use fieldcheck_domain::problem::ProblemSource;
    let id = Uuid::now_v7();
    let quick = apply_problem(None, &reported(id, &actor(Role::Inspector))).unwrap();
    assert_eq!(ProblemSource::of(&quick), ProblemSource::QuickReport);
    let volunteer = apply_problem(None, &reported(id, &actor(Role::Volunteer))).unwrap();
    assert_eq!(ProblemSource::of(&volunteer), ProblemSource::Volunteer);
    // Found on a checklist inspection: an inspection's problem whoever raised it.
    let mut ev = reported(id, &actor(Role::Inspector));
    if let EventBody::ProblemReported(r) = &mut ev.body {
        r.inspection_id = Some(Uuid::now_v7());
    }
    let found = apply_problem(None, &ev).unwrap();
    assert_eq!(ProblemSource::of(&found), ProblemSource::Inspection);
    for s in ProblemSource::ALL {
        assert_eq!(ProblemSource::parse(s.as_str()), Some(s));
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
}
