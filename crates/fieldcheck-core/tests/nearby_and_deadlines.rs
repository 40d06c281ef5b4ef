//! Issue 18 in the field: the open problems of the same category near a quick report (50 m,
//! open only, what the ledger shows the person), "deadlines for me" on the home screen, and
//! the tasks screen's view of the stored task list.

mod common;

use chrono::{Duration, NaiveDate};
use common::*;
use fieldcheck_core::domain::event::RejectReason;
use fieldcheck_core::domain::problem::NEARBY_RADIUS_M;
use fieldcheck_core::domain::reference::{LatLon, PointType};
use fieldcheck_core::domain::{Actor, Location, LocationSource};
use fieldcheck_core::protocol::tasks::{Task, TaskList};
use fieldcheck_core::{CoreError, NewProblem, ProblemAction, ProblemQuery, Store};
use uuid::Uuid;

/// Where the reports are made: the demo's p-009.
const HERE: LatLon = LatLon {
    lat: 26.0868,
    lon: 119.3055,
};

/// Metres per degree of latitude on the haversine's sphere.
fn north(metres: f64) -> LatLon {
    let m = 6_371_008.8 * std::f64::consts::PI / 180.0;
    LatLon {
        lat: HERE.lat + metres / m,
        lon: HERE.lon,
    }
}

/// East along the parallel: a longitude box that forgot the latitude's cosine misses these.
fn east(metres: f64) -> LatLon {
    let m = 6_371_008.8 * std::f64::consts::PI / 180.0 * HERE.lat.to_radians().cos();
    LatLon {
        lat: HERE.lat,
        lon: HERE.lon + metres / m,
    }
}

fn report_at(s: &mut Store, who: &Actor, category: &str, at: Option<LatLon>, desc: &str) -> Uuid {
    s.report_problem(
        who,
        NewProblem {
            category: category.into(),
            description: desc.into(),
            district_id: Some("c-dm".into()),
            location: at.map(|a| Location {
                lat: a.lat,
                lon: a.lon,
                accuracy_m: Some(5.0),
                source: LocationSource::Gps,
            }),
            ..Default::default()
        },
    )
    .unwrap()
    .id
}

fn descs(s: &Store, category: &str, at: LatLon, as_user: Option<&str>) -> Vec<String> {
    let scope = as_user.map(|u| s.scope(u).unwrap());
    s.nearby_problems(category, at, scope.as_ref())
        .unwrap()
        .into_iter()
        .map(|n| n.description)
        .collect()
}

#[test]
fn nearby_lists_open_same_category_problems_within_50_m_nearest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    let insp = s.actor("usr-insp-1").unwrap();
    let vol = s.actor("usr-vol-1").unwrap();
    let admin = s.actor("usr-admin-1").unwrap();

    report_at(&mut s, &insp, "SR-02", Some(north(30.0)), "30 m north");
    report_at(&mut s, &insp, "SR-02", Some(north(49.9)), "49.9 m north");
    report_at(&mut s, &insp, "SR-02", Some(east(49.8)), "49.8 m east");
    report_at(&mut s, &insp, "SR-02", Some(north(50.1)), "50.1 m north");
    report_at(&mut s, &insp, "SR-02", Some(east(50.1)), "50.1 m east");
    report_at(&mut s, &insp, "SR-02", Some(HERE), "right here");
    report_at(&mut s, &insp, "SR-02", None, "no position");
    report_at(&mut s, &insp, "SR-03", Some(north(5.0)), "another category");
    report_at(&mut s, &vol, "SR-02", Some(north(10.0)), "a volunteer's");
    let rejected = report_at(&mut s, &insp, "SR-02", Some(north(1.0)), "rejected");
    s.act(
        &admin,
        rejected,
        ProblemAction::Reject {
            reason: RejectReason::Invalid {
                reason: "重复".into(),
            },
        },
    )
    .unwrap();
    // Filed and dispatched ones are still open.
    let dispatched = report_at(&mut s, &insp, "SR-02", Some(north(20.0)), "dispatched");
    s.act(&admin, dispatched, ProblemAction::File { note: None })
        .unwrap();
    s.act(
        &admin,
        dispatched,
        ProblemAction::Dispatch {
            unit_id: "u-hwc".into(),
            deadline: None,
            note: None,
        },
    )
    .unwrap();

    // Nobody's scope, and an inspector's: everything the device holds that the rule admits.
    let all = [
        "right here",
        "a volunteer's",
        "dispatched",
        "30 m north",
        "49.8 m east",
        "49.9 m north",
    ];
    assert_eq!(descs(&s, "SR-02", HERE, None), all);
    assert_eq!(descs(&s, "SR-02", HERE, Some("usr-insp-1")), all);
    // A volunteer sees only their own reports, as in the ledger.
    assert_eq!(
        descs(&s, "SR-02", HERE, Some("usr-vol-1")),
        ["a volunteer's"]
    );
    assert!(descs(&s, "SR-02", HERE, Some("usr-vol-2")).is_empty());
    // Another minor class, a major class: only exact matches.
    assert_eq!(descs(&s, "SR-03", HERE, None), ["another category"]);
    assert!(descs(&s, "SR", HERE, None).is_empty());

    // The rows carry what the hint shows; distances agree with the domain.
    let rows = s.nearby_problems("SR-02", HERE, None).unwrap();
    assert!(rows.windows(2).all(|w| w[0].distance_m <= w[1].distance_m));
    assert!(rows.iter().all(|r| r.distance_m <= NEARBY_RADIUS_M));
    let d = rows.iter().find(|r| r.id == dispatched).unwrap();
    assert_eq!(d.status, fieldcheck_core::domain::ProblemStatus::Dispatched);
    assert!((d.distance_m - 20.0).abs() < 0.01, "{}", d.distance_m);
    assert!(!d.code.is_empty());

    // From 100 m north the one at 50.1 m is 49.9 m away and the one at 49.9 m is 50.1 m away.
    assert_eq!(descs(&s, "SR-02", north(100.0), None), ["50.1 m north"]);

    // A position off the globe is refused, not searched.
    for bad in [
        LatLon {
            lat: 91.0,
            lon: 0.0,
        },
        LatLon {
            lat: 0.0,
            lon: -180.5,
        },
        LatLon {
            lat: f64::NAN,
            lon: 0.0,
        },
    ] {
        assert!(matches!(
            s.nearby_problems("SR-02", bad, None),
            Err(CoreError::Invalid(_))
        ));
    }
    assert!(matches!(
        s.nearby_problems(" ", HERE, None),
        Err(CoreError::Invalid(_))
    ));
}

/// Dispatches a report of `reporter` to `unit` with a deadline `hours` after the clock.
fn dispatched(s: &mut Store, reporter: &str, unit: &str, hours: i64) -> Uuid {
    let who = s.actor(reporter).unwrap();
    let admin = s.actor("usr-admin-1").unwrap();
    let id = report_at(s, &who, "SR-02", Some(HERE), &format!("{unit} +{hours}h"));
    s.act(&admin, id, ProblemAction::File { note: None })
        .unwrap();
    let deadline = s.now() + Duration::hours(hours);
    s.act(
        &admin,
        id,
        ProblemAction::Dispatch {
            unit_id: unit.into(),
            deadline: Some(deadline),
            note: None,
        },
    )
    .unwrap();
    id
}

#[test]
fn home_counts_my_deadlines_by_role() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    let t0 = s.now();
    // The inspector's reports: to the sanitation office (u-hwc) and the traffic police.
    dispatched(&mut s, "usr-insp-1", "u-hwc", 2); // overdue at t0 + 3 h
    dispatched(&mut s, "usr-insp-1", "u-hwc", 10); // due in 7 h
    dispatched(&mut s, "usr-insp-1", "u-jjdd", 27); // due in exactly 24 h
    dispatched(&mut s, "usr-insp-1", "u-jjdd", 30); // 27 h ahead: neither
    // Another inspector's: not the first one's deadline, but u-hwc's.
    dispatched(&mut s, "usr-insp-2", "u-hwc", 5); // due in 2 h
    let later = t0 + Duration::hours(3);
    s.set_now(move || later);

    let home_of = |s: &mut Store, user: &str| {
        s.set_current_user(Some(user)).unwrap();
        let h = s.home().unwrap();
        (h.my_due_soon, h.my_overdue, h)
    };
    let (soon, over, h) = home_of(&mut s, "usr-insp-1");
    assert_eq!((soon, over), (2, 1), "the inspector's own reports");
    // The home's query lists exactly what it counted.
    let page = s
        .list_problems(&ProblemQuery {
            due_soon: true,
            ..h.deadlines_query.clone()
        })
        .unwrap();
    assert_eq!(page.total, 2);
    assert!(page.items.iter().all(|r| r.problem.is_due_soon(later)));
    let (soon, over, _) = home_of(&mut s, "usr-insp-2");
    assert_eq!((soon, over), (1, 0));
    let (soon, over, _) = home_of(&mut s, "usr-hdl-5"); // u-hwc
    assert_eq!((soon, over), (2, 1), "the unit's dispatched cases");
    let (soon, over, _) = home_of(&mut s, "usr-hdl-2"); // u-jjdd
    assert_eq!((soon, over), (1, 0));
    let (soon, over, _) = home_of(&mut s, "usr-admin-1");
    assert_eq!((soon, over), (3, 1), "the office watches every case");

    // Accepted (rectifying) still counts.
    let hwc = s.actor("usr-hdl-5").unwrap();
    let q = ProblemQuery {
        due_soon: true,
        unit_id: Some("u-hwc".into()),
        ..Default::default()
    };
    let ids: Vec<Uuid> = s
        .list_problems(&q)
        .unwrap()
        .items
        .iter()
        .map(|r| r.problem.id)
        .collect();
    s.act(&hwc, ids[0], ProblemAction::Accept { note: None })
        .unwrap();
    assert_eq!(s.list_problems(&q).unwrap().total, 2);
}

#[test]
fn the_tasks_view_counts_open_tasks_nearest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    s.set_current_user(Some("usr-insp-1")).unwrap();
    let v = s.tasks_view(None).unwrap();
    assert_eq!((v.today, v.tasks.len(), v.open), (None, 0, 0));
    assert_eq!(s.home().unwrap().tasks_open, 0);

    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let task = |point: &str, at: LatLon, done: bool| Task {
        round_id: "r-1".into(),
        round_name: "十一月模拟测评".into(),
        date: today,
        point_id: point.into(),
        point_name: format!("点位 {point}"),
        point_type: PointType::FarmersMarket,
        location: at,
        address: String::new(),
        done,
    };
    s.save_tasks(&TaskList {
        today,
        tasks: vec![
            task("far", north(900.0), false),
            task("done", north(1.0), true),
            task("near", north(100.0), false),
        ],
    })
    .unwrap();
    let v = s.tasks_view(Some(HERE)).unwrap();
    assert_eq!(v.today, Some(today));
    assert_eq!(v.open, 2);
    let order: Vec<&str> = v.tasks.iter().map(|t| t.task.point_id.as_str()).collect();
    assert_eq!(order, ["near", "far", "done"]);
    assert!((v.tasks[0].distance_m.unwrap() - 100.0).abs() < 0.01);
    assert_eq!(s.home().unwrap().tasks_open, 2);
    assert!(matches!(
        s.tasks_view(Some(LatLon {
            lat: 0.0,
            lon: 200.0
        })),
        Err(CoreError::Invalid(_))
    ));
}

/// The phone's local notice of a missed deadline: once per case and deadline, only for the
/// person's own cases, again after an extension is missed too, not again after a restart.
#[test]
fn overdue_notices_come_once_per_case_and_deadline_for_mine_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    let t0 = s.now();
    assert!(
        s.take_overdue_notices().unwrap().is_empty(),
        "nobody signed in"
    );
    let mine = dispatched(&mut s, "usr-insp-1", "u-hwc", 2);
    let later_mine = dispatched(&mut s, "usr-insp-1", "u-hwc", 6);
    dispatched(&mut s, "usr-insp-2", "u-hwc", 1); // someone else's report
    s.set_current_user(Some("usr-insp-1")).unwrap();
    assert!(
        s.take_overdue_notices().unwrap().is_empty(),
        "nothing overdue yet"
    );

    let at = t0 + Duration::hours(3);
    s.set_now(move || at);
    let n = s.take_overdue_notices().unwrap();
    assert_eq!(n.iter().map(|n| n.problem_id).collect::<Vec<_>>(), [mine]);
    let (title, body) = n[0].text();
    assert!(
        title.contains(&n[0].code) && body.contains("u-hwc +2h"),
        "{title} / {body}"
    );
    assert!(s.take_overdue_notices().unwrap().is_empty(), "told once");

    // The unit asks for more time and the office grants it: not overdue any more; when the
    // new deadline passes too, the person is told again.
    let hwc = s.actor("usr-hdl-5").unwrap();
    let admin = s.actor("usr-admin-1").unwrap();
    s.act(&hwc, mine, ProblemAction::Accept { note: None })
        .unwrap();
    s.act(
        &hwc,
        mine,
        ProblemAction::RequestExtension {
            until: Some(at + Duration::hours(2)),
            until_date: None,
            reason: "材料未到".into(),
        },
    )
    .unwrap();
    s.act(
        &admin,
        mine,
        ProblemAction::DecideExtension {
            approved: true,
            note: None,
        },
    )
    .unwrap();
    assert!(s.take_overdue_notices().unwrap().is_empty());
    let at = t0 + Duration::hours(7);
    s.set_now(move || at);
    let mut ids: Vec<Uuid> = s
        .take_overdue_notices()
        .unwrap()
        .iter()
        .map(|n| n.problem_id)
        .collect();
    ids.sort();
    let mut want = vec![mine, later_mine];
    want.sort();
    assert_eq!(ids, want, "the extended case again, and the second one");

    // Kept across a restart of the app.
    drop(s);
    let mut s = Store::open(dir.path().join("device.db")).unwrap();
    s.set_now(move || at);
    assert!(s.take_overdue_notices().unwrap().is_empty());
    // The unit's handler signing in on this phone is told of the unit's three overdue cases:
    // what was told is kept per person.
    s.set_current_user(Some("usr-hdl-5")).unwrap();
    assert_eq!(s.take_overdue_notices().unwrap().len(), 3);
    assert!(s.take_overdue_notices().unwrap().is_empty());
}
