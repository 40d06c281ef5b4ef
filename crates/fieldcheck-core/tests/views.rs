//! The screens' view models as the store computes them: "today" is the city's calendar day,
//! the detail offers exactly what the lifecycle would accept, the to-do list follows the role.

mod common;

use common::*;
use fieldcheck_core::domain::{ProblemStatus as S, Role};
use fieldcheck_core::{CoreError, ProblemAction, ProblemSort, StartInspection, Store, todo_query};

fn start_at(s: &mut Store, at: &str, point: &str) -> uuid::Uuid {
    let now = t(at);
    s.set_now(move || now);
    let insp = s.actor("usr-insp-1").unwrap();
    s.start_inspection(
        &insp,
        StartInspection {
            point_id: point.into(),
            ..Default::default()
        },
    )
    .unwrap()
    .id
}

fn report_at(s: &mut Store, at: &str, who: &str) -> uuid::Uuid {
    let now = t(at);
    s.set_now(move || now);
    let a = s.actor(who).unwrap();
    report(s, &a, "路边暴露垃圾", "p-009")
}

/// The demo city is at UTC+8: 16:00 UTC is its midnight. Half an hour either side of it are
/// two different days there, whatever zone the device or the test machine is in.
#[test]
fn home_counts_today_by_the_city_calendar_day() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    s.set_current_user(Some("usr-insp-1")).unwrap();
    // In clock order: an event never records an earlier time than one before it (HLC).
    let yesterday = start_at(&mut s, "2026-11-23T15:30:00Z", "p-009");
    report_at(&mut s, "2026-11-23T15:59:59Z", "usr-insp-1");
    report_at(&mut s, "2026-11-23T16:00:00Z", "usr-insp-1");
    report_at(&mut s, "2026-11-23T16:10:00Z", "usr-vol-1");
    let today = start_at(&mut s, "2026-11-23T16:30:00Z", "p-001");

    let now = t("2026-11-23T17:00:00Z");
    s.set_now(move || now);
    assert_eq!(s.today_start().unwrap(), t("2026-11-23T16:00:00Z"));
    let h = s.home().unwrap();
    assert_eq!(h.inspections_today, 1);
    assert_eq!(h.reported_today, 1);
    assert_eq!(h.me.user.unwrap().id, "usr-insp-1");
    // Unfinished inspections, newest first, with their point's name.
    let open: Vec<_> = h.open_inspections.iter().map(|o| o.inspection.id).collect();
    assert_eq!(open, vec![today, yesterday]);
    assert_eq!(
        h.open_inspections[1].point_name,
        s.point("p-009").unwrap().name
    );
    assert_eq!(h.todo_query.limit, 50);
    assert_eq!(h.todo_query.statuses, vec![S::Rectified]);

    // Seen from 15:59 UTC, still the 23rd in the city, "today" began 24 hours earlier, so
    // both inspections fall in it.
    let now = t("2026-11-23T15:59:00Z");
    s.set_now(move || now);
    assert_eq!(s.home().unwrap().inspections_today, 2);
    assert_eq!(s.today_start().unwrap(), t("2026-11-22T16:00:00Z"));
}

#[test]
fn home_needs_someone_signed_in() {
    let dir = tempfile::tempdir().unwrap();
    let s = demo_store(&dir);
    assert!(matches!(s.home(), Err(CoreError::NoUser)));
}

#[test]
fn the_todo_list_follows_the_role() {
    let dir = tempfile::tempdir().unwrap();
    let s = demo_store(&dir);
    let admin = user_of_role(&s, Role::Admin);
    let q = todo_query(&admin);
    assert_eq!(
        q.statuses,
        vec![S::Reported, S::Returned, S::Verified, S::Reopened]
    );
    assert_eq!((q.limit, q.sort), (5, ProblemSort::Deadline));
    let handler = user_of_role(&s, Role::UnitHandler);
    let q = todo_query(&handler);
    assert_eq!(q.statuses, vec![S::Dispatched, S::Rectifying]);
    assert!(q.unit_id.is_some());
    assert_eq!(q.unit_id, handler.unit_id);
    let vol = user_of_role(&s, Role::Volunteer);
    let q = todo_query(&vol);
    assert_eq!(q.reporter.as_deref(), Some(vol.user_id.as_str()));
    assert!(!q.statuses.contains(&S::Closed) && !q.statuses.contains(&S::Rejected));
    assert_eq!(q.statuses.len(), 8);
}

/// Drift fixed: the bridge offered `edit` to a volunteer on their own filed report, which the
/// lifecycle refuses; the detail now offers only what it accepts.
#[test]
fn the_detail_offers_a_volunteer_no_edit_once_filed() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    let id = report_at(&mut s, "2026-11-23T02:00:00Z", "usr-vol-1");

    s.set_current_user(Some("usr-vol-1")).unwrap();
    let d = s.problem_detail(s.problem(id).unwrap()).unwrap();
    assert_eq!(d.allowed_actions, vec!["add_photos", "edit"]);
    assert!(!d.overdue);
    assert_eq!(d.history.len(), 1);
    assert!(d.refused.is_none());

    s.set_current_user(Some("usr-admin-1")).unwrap();
    let admin = s.actor("usr-admin-1").unwrap();
    let d = s.problem_detail(s.problem(id).unwrap()).unwrap();
    assert_eq!(
        d.allowed_actions,
        vec!["file", "reject", "add_photos", "edit"]
    );
    s.act(&admin, id, ProblemAction::File { note: None })
        .unwrap();

    s.set_current_user(Some("usr-vol-1")).unwrap();
    let d = s.problem_detail(s.problem(id).unwrap()).unwrap();
    assert_eq!(d.allowed_actions, vec!["add_photos"]);
    assert_eq!(d.history.len(), 2);

    // Someone else's open report: only adding a photo (已有人上报), which the volunteers'
    // page offers; the ledger does not show it to them.
    s.set_current_user(Some("usr-vol-2")).unwrap();
    assert_eq!(
        s.problem_detail(s.problem(id).unwrap())
            .unwrap()
            .allowed_actions,
        vec!["add_photos"]
    );
    // Nobody signed in: nothing to do.
    s.set_current_user(None).unwrap();
    assert!(
        s.allowed_actions(&s.problem(id).unwrap())
            .unwrap()
            .is_empty()
    );
}
