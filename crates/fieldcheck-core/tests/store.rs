//! The device store against a real SQLite file: the closed loop, the ledger queries,
//! refusals that write nothing, remote events landing out of order, reopening the file.

mod common;

use chrono::Duration;
use common::*;
use fieldcheck_core::domain::checklist::ItemResult;
use fieldcheck_core::domain::event::{ProblemEdit, RejectReason};
use fieldcheck_core::domain::{
    Event, EventBody, EventOutcome, Hlc, Location, LocationSource, ProblemStatus as S, RefusalCode,
    Role,
};
use fieldcheck_core::{CoreError, NewProblem, ProblemAction, ProblemQuery, StartInspection, Store};

fn code(err: CoreError) -> &'static str {
    err.code()
}

#[test]
fn fresh_device_has_defaults_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let (dev, id) = {
        let mut s = Store::open(&path).unwrap();
        assert!(s.categories().unwrap().len() >= 40);
        assert_eq!(s.templates().unwrap().len(), 6);
        s.import_reference(&demo_bundle()).unwrap();
        let vol = s.actor("usr-vol-1").unwrap();
        let id = report(&mut s, &vol, "菜市场门口垃圾堆积", "p-009");
        (s.device().clone(), id)
    };
    let s = Store::open(&path).unwrap();
    assert_eq!(s.device(), &dev);
    let p = s.problem(id).unwrap();
    assert_eq!(p.status, S::Reported);
    assert!(p.code.starts_with("GL-"), "{}", p.code);
    assert!(p.code.contains(&dev.tag));
    assert_eq!(s.outbox_len().unwrap(), 1);
}

#[test]
fn closed_loop_with_deadline_from_the_category_rule() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    let vol = s.actor("usr-vol-1").unwrap();
    let admin = s.actor("usr-admin-1").unwrap();
    let insp = s.actor("usr-insp-1").unwrap();
    let id = report(&mut s, &vol, "东街口暴露垃圾", "p-009");
    s.act(&admin, id, ProblemAction::File { note: None })
        .unwrap();
    let p = s
        .act(
            &admin,
            id,
            ProblemAction::Dispatch {
                unit_id: "u-hwc".into(),
                deadline: None,
                note: None,
            },
        )
        .unwrap();
    // SR-02 exposed garbage: 4 working hours from Monday 10:00 (+08:00) → 16:00.
    assert_eq!(p.deadline, Some(t("2026-11-23T08:00:00Z")));
    let handler = handler_of_unit(&s, "u-hwc");
    s.act(&handler, id, ProblemAction::Accept { note: None })
        .unwrap();
    // Without an after-photo the rectification is refused and nothing is written.
    let before = snapshot(&s);
    let err = s
        .act(
            &handler,
            id,
            ProblemAction::Rectify {
                photos: vec![],
                note: None,
            },
        )
        .unwrap_err();
    assert_eq!(code(err), "after_photo_required");
    assert_eq!(before, snapshot(&s));
    // A photo hash the device does not have is refused too.
    let err = s
        .act(
            &handler,
            id,
            ProblemAction::Rectify {
                photos: vec!["0".repeat(64)],
                note: None,
            },
        )
        .unwrap_err();
    assert_eq!(code(err), "not_found");
    assert_eq!(before, snapshot(&s));
    // The inspector may not close; the office may not verify before rectification.
    let err = s
        .act(&insp, id, ProblemAction::Close { note: None })
        .unwrap_err();
    assert_eq!(code(err), "role_not_allowed");
    let err = s
        .act(
            &admin,
            id,
            ProblemAction::Verify {
                passed: true,
                note: None,
                photos: vec![],
            },
        )
        .unwrap_err();
    assert_eq!(code(err), "invalid_transition");
    assert_eq!(before, snapshot(&s));
    let hist = s.history(id).unwrap();
    let kinds: Vec<_> = hist.iter().map(|h| h.event.kind()).collect();
    assert_eq!(
        kinds,
        [
            "problem.reported",
            "problem.filed",
            "problem.dispatched",
            "problem.accepted"
        ]
    );
    assert!(
        hist.iter()
            .all(|h| h.outcome == EventOutcome::Applied && !h.pushed)
    );
}

#[test]
fn ledger_filters_search_sort_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    let vol = s.actor("usr-vol-1").unwrap();
    let admin = s.actor("usr-admin-1").unwrap();
    let a = report(&mut s, &vol, "农贸市场门口暴露垃圾", "p-009");
    let b = report(&mut s, &vol, "学校门口占道经营", "p-020");
    let c = report(&mut s, &vol, "路口非机动车闯红灯", "p-014");
    for id in [a, b] {
        s.act(&admin, id, ProblemAction::File { note: None })
            .unwrap();
        s.act(
            &admin,
            id,
            ProblemAction::Dispatch {
                unit_id: "u-hwc".into(),
                deadline: Some(t("2026-11-24T09:00:00Z")),
                note: None,
            },
        )
        .unwrap();
    }
    fn ids(s: &Store, q: &ProblemQuery) -> Vec<uuid::Uuid> {
        s.list_problems(q)
            .unwrap()
            .items
            .into_iter()
            .map(|r| r.problem.id)
            .collect()
    }
    let codes = |q: &ProblemQuery| ids(&s, q);
    let by_unit = ProblemQuery {
        statuses: vec![S::Dispatched],
        unit_id: Some("u-hwc".into()),
        sort: fieldcheck_core::ProblemSort::Oldest,
        ..Default::default()
    };
    assert_eq!(codes(&by_unit), vec![a, b]);
    // Chinese substrings of any length through the bigram index: one, two, three, four
    // characters; several terms all have to match; codes in any letter case.
    let q = |text: &str| ProblemQuery {
        text: Some(text.into()),
        ..Default::default()
    };
    assert_eq!(codes(&q("暴露垃圾")), vec![a]);
    assert_eq!(codes(&q("闯红灯")), vec![c]);
    assert_eq!(codes(&q("门口")).len(), 2);
    assert_eq!(codes(&q("门口 占道")), vec![b]);
    assert_eq!(codes(&q("灯")), vec![c]);
    assert_eq!(codes(&q("圾")), vec![a]);
    assert!(codes(&q("垃圾门口")).is_empty(), "not a substring");
    assert!(codes(&q("不存在的问题")).is_empty());
    let code_c = s.problem(c).unwrap().code;
    assert_eq!(codes(&q(&code_c.to_lowercase())), vec![c]);
    assert_eq!(codes(&q(&code_c[code_c.len() - 6..])), vec![c]);
    // Quotes and LIKE wildcards are text, not syntax.
    assert!(codes(&q("\"%_")).is_empty());
    // A street includes its communities.
    let p9 = s.point("p-009").unwrap();
    let street = s
        .districts()
        .unwrap()
        .into_iter()
        .find(|d| d.id == p9.district_id)
        .unwrap()
        .parent_id
        .unwrap();
    let by_street = ProblemQuery {
        district_id: Some(street),
        ..Default::default()
    };
    assert!(codes(&by_street).contains(&a));
    // Overdue once the clock passes the deadline.
    let overdue = ProblemQuery {
        overdue: true,
        ..Default::default()
    };
    assert!(codes(&overdue).is_empty());
    let later = t("2026-11-25T00:00:00Z");
    s.set_now(move || later);
    let mut od = ids(&s, &overdue);
    od.sort();
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(od, want);
    let stats = s.stats().unwrap();
    assert_eq!(stats.total, 3);
    assert_eq!(stats.overdue, 2);
    // Paging.
    let page = s
        .list_problems(&ProblemQuery {
            limit: 2,
            offset: 2,
            ..Default::default()
        })
        .unwrap();
    assert_eq!((page.items.len(), page.total), (1, 3));
    assert_eq!(
        code(
            s.list_problems(&ProblemQuery {
                limit: 0,
                ..Default::default()
            })
            .unwrap_err()
        ),
        "invalid_input"
    );
}

#[test]
fn market_inspection_with_two_failures_raises_two_problems() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    let insp = s.actor("usr-insp-1").unwrap();
    let i = s
        .start_inspection(
            &insp,
            StartInspection {
                point_id: "p-009".into(),
                template: None,
                location: Some(Location {
                    lat: 26.0869,
                    lon: 119.3056,
                    accuracy_m: Some(5.0),
                    source: LocationSource::Gps,
                }),
            },
        )
        .unwrap();
    let tpl = s.template(&i.template_id, i.template_version).unwrap();
    assert_eq!(tpl.point_type.as_str(), "farmers_market");
    // Posters: 1 where ≥2 are required; trade rules missing; everything else fine.
    s.record_item(
        &insp,
        i.id,
        "fm-01",
        ItemResult::Value { value: 1.0 },
        Some("只有1处".into()),
        vec![],
    )
    .unwrap();
    s.record_item(&insp, i.id, "fm-04", ItemResult::Fail, None, vec![])
        .unwrap();
    // Finishing with items missing is refused.
    let err = s.finish_inspection(&insp, i.id, None).unwrap_err();
    assert_eq!(code(err), "invalid_transition");
    // A failed item that needs a photo is refused without one.
    let needs_photo = tpl
        .items
        .iter()
        .find(|x| {
            x.photo_required_on_fail
                && x.kind == fieldcheck_core::domain::checklist::ItemKind::PassFail
        })
        .unwrap();
    let err = s
        .record_item(&insp, i.id, &needs_photo.id, ItemResult::Fail, None, vec![])
        .unwrap_err();
    assert_eq!(code(err), "photo_required");
    for item in &tpl.items {
        if item.id == "fm-01" || item.id == "fm-04" {
            continue;
        }
        let r = match item.kind {
            fieldcheck_core::domain::checklist::ItemKind::Count { .. } => {
                ItemResult::Count { count: 0 }
            }
            fieldcheck_core::domain::checklist::ItemKind::Measured { threshold, .. } => {
                ItemResult::Value { value: threshold }
            }
            _ => ItemResult::Pass,
        };
        s.record_item(&insp, i.id, &item.id, r, None, vec![])
            .unwrap();
    }
    let done = s.finish_inspection(&insp, i.id, None).unwrap();
    assert_eq!(done.score.failed_items, 2);
    assert!(done.score.percent < 100.0 && done.score.percent > 80.0);
    let p1 = s.raise_problem(&insp, i.id, "fm-01", None).unwrap();
    let p2 = s.raise_problem(&insp, i.id, "fm-04", None).unwrap();
    assert_eq!(p1.point_id.as_deref(), Some("p-009"));
    assert_eq!(p1.item_id.as_deref(), Some("fm-01"));
    assert_eq!(p1.inspection_id, Some(i.id));
    assert_eq!(
        p1.category,
        tpl.item("fm-01").unwrap().category.clone().unwrap()
    );
    assert!(p1.description.contains("只有1处"));
    assert_eq!(p1.location.unwrap().source, LocationSource::Gps);
    assert_ne!(p1.code, p2.code);
    // A passed item raises nothing; recording after finishing is refused.
    assert_eq!(
        code(s.raise_problem(&insp, i.id, "fm-02", None).unwrap_err()),
        "invalid_input"
    );
    let err = s
        .record_item(&insp, i.id, "fm-02", ItemResult::Pass, None, vec![])
        .unwrap_err();
    assert_eq!(code(err), "inspection_finished");
    assert_eq!(s.inspections_of_point("p-009").unwrap().len(), 1);
}

#[test]
fn late_remote_event_becomes_a_visible_rejection() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    let vol = s.actor("usr-vol-1").unwrap();
    let admin = s.actor("usr-admin-1").unwrap();
    let id = report(&mut s, &vol, "井盖缺失", "p-001");
    // Locally: the office rejects the report as invalid.
    s.act(
        &admin,
        id,
        ProblemAction::Reject {
            reason: RejectReason::Invalid {
                reason: "已由其他部门处理".into(),
            },
        },
    )
    .unwrap();
    // Meanwhile, another office device (earlier HLC) filed it, and later than our reject
    // a volunteer's edit arrived: the fold puts "filed" first, so our reject still applies
    // (rejecting a filed report is allowed) and the volunteer's edit after it is refused.
    let p = s.problem(id).unwrap();
    let hist = s.history(id).unwrap();
    let reject_at = hist.last().unwrap().event.hlc.wall_ms;
    let filed = Event::new(
        id,
        &s.actor("usr-admin-2").unwrap(),
        "other-device",
        Hlc::new(reject_at - 1, 0, "other-device"),
        EventBody::ProblemFiled { note: None },
    );
    let edit = Event::new(
        id,
        &vol,
        "vol-phone",
        Hlc::new(reject_at + 5, 0, "vol-phone"),
        EventBody::ProblemEdited(ProblemEdit {
            description: Some("补充：井盖完全缺失".into()),
            ..Default::default()
        }),
    );
    let r = s
        .apply_remote(&[filed.clone(), edit.clone(), filed.clone()])
        .unwrap();
    assert_eq!((r.inserted, r.duplicates), (2, 1));
    let after = s.problem(id).unwrap();
    assert_eq!(after.status, S::Rejected);
    assert_eq!(after.description, p.description);
    let h = s.history(id).unwrap();
    let edit_rec = h.iter().find(|x| x.event.id == edit.id).unwrap();
    match &edit_rec.outcome {
        EventOutcome::Rejected { code, .. } => assert_eq!(*code, RefusalCode::InvalidTransition),
        other => panic!("expected a rejection, got {other:?}"),
    }
    let conflicts = s
        .list_problems(&ProblemQuery {
            with_rejections: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(conflicts.total, 1);
    // The next local event orders after everything seen.
    let hl = s.history(id).unwrap();
    assert!(hl.windows(2).all(|w| w[0].event.hlc <= w[1].event.hlc));
    // Outbox holds only local events, in device order.
    let out = s.outbox(100).unwrap();
    assert_eq!(out.len(), 2);
    assert!(
        out.iter()
            .all(|e| e.device == s.device().device_id.to_string())
    );
    s.mark_pushed(&[out[0].id]).unwrap();
    assert_eq!(s.outbox_len().unwrap(), 1);
    let _ = Duration::zero();
}

#[test]
fn refused_import_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    let before = snapshot(&s);
    let mut bad = demo_bundle();
    bad.points[3].district_id = "nowhere".into();
    let err = s.import_reference(&bad).unwrap_err();
    assert_eq!(code(err), "invalid_input");
    let mut bad = demo_bundle();
    bad.users.push(fieldcheck_core::domain::reference::User {
        id: "usr-x".into(),
        name: "无单位".into(),
        role: Role::UnitHandler,
        unit_id: None,
        district_ids: vec![],
        phone: None,
    });
    assert!(s.import_reference(&bad).is_err());
    assert_eq!(before, snapshot(&s));
}

/// A text that matches many records is paged by walking the report-time index instead of
/// sorting every match; both ways must give the same pages and totals as the plain rule:
/// every record containing the text, newest report first.
#[test]
fn text_search_pages_the_same_for_few_and_many_matches() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    let vol = s.actor("usr-vol-1").unwrap();
    let start = t("2026-11-01T00:00:00Z");
    let mut reported = Vec::new();
    for i in 0..1_150i64 {
        // Several reports share a minute, so equal report times are ordered by id.
        let at = start + Duration::minutes(i / 3);
        s.set_now(move || at);
        let desc = match i % 23 {
            0 => format!("东街人行道积水严重 {i}"),
            1..=20 => format!("路面积水 {i}"),
            _ => format!("路灯不亮 {i}"),
        };
        let id = report(&mut s, &vol, &desc, "p-009");
        reported.push((at, id, desc));
    }
    let want = |needle: &[&str]| {
        let mut v: Vec<_> = reported
            .iter()
            // The address comes from the point (p-009) and is searched too.
            .map(|(at, id, d)| (at, id, format!("{d}|鼓楼区东街街道东门路18号")))
            .filter(|(_, _, d)| needle.iter().all(|n| d.contains(n)))
            .map(|(at, id, _)| (*at, *id))
            .collect();
        v.sort_by(|a, b| b.cmp(a));
        v.into_iter().map(|(_, id)| id).collect::<Vec<_>>()
    };
    for (text, needle, many) in [
        ("积水", vec!["积水"], true),
        ("积水 人行道", vec!["积水", "人行道"], false),
        ("东门路", vec!["东门路"], true),
        ("严重", vec!["严重"], false),
        ("灯", vec!["灯"], false),
    ] {
        let expected = want(&needle);
        assert_eq!(expected.len() > 1000, many, "{text}: {}", expected.len());
        for offset in [0u32, 50, 1000] {
            let page = s
                .list_problems(&ProblemQuery {
                    text: Some(text.into()),
                    offset,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(page.total, expected.len() as u64, "{text}");
            let ids: Vec<_> = page.items.iter().map(|r| r.problem.id).collect();
            let from = (offset as usize).min(expected.len());
            let to = (from + 50).min(expected.len());
            assert_eq!(ids, expected[from..to], "{text} at {offset}");
        }
    }
    // With another filter the total is counted over both.
    let filed = reported[1].1;
    let admin = s.actor("usr-admin-1").unwrap();
    s.act(&admin, filed, ProblemAction::File { note: None })
        .unwrap();
    let page = s
        .list_problems(&ProblemQuery {
            text: Some("积水".into()),
            statuses: vec![S::Filed],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].problem.id, filed);
}

/// A report from the street, by GPS alone (no point, no district).
fn street(
    store: &mut Store,
    who: &fieldcheck_core::domain::Actor,
    lat: f64,
    lon: f64,
) -> fieldcheck_core::domain::Problem {
    store
        .report_problem(
            who,
            NewProblem {
                category: "SR-02".into(),
                description: "街面问题".into(),
                location: Some(Location {
                    lat,
                    lon,
                    accuracy_m: Some(8.0),
                    source: LocationSource::Gps,
                }),
                ..Default::default()
            },
        )
        .unwrap()
}

#[test]
fn a_street_report_is_placed_when_it_is_made_and_a_person_s_choice_is_kept() {
    use fieldcheck_core::domain::placement::PlacementSource;
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    let vol = s.actor("usr-vol-1").unwrap();
    // At 东门后巷 (p-005): its point, community and address.
    let p = street(&mut s, &vol, 26.08570, 119.30630);
    assert_eq!(p.point_id.as_deref(), Some("p-005"));
    assert_eq!(p.district_id.as_deref(), Some("c-dm"));
    assert_eq!(p.address, s.point("p-005").unwrap().address);
    assert_eq!(p.placement.unwrap().source, PlacementSource::NearPoint);
    assert!(p.code.starts_with("GL-"), "{}", p.code);
    // Far from every point: the volunteer's own street.
    let p = street(&mut s, &vol, 26.2, 119.5);
    assert_eq!(p.district_id.as_deref(), Some("s-dj"));
    assert_eq!(p.point_id, None);
    assert_eq!(
        p.placement.unwrap().source,
        PlacementSource::ReporterDistrict
    );
    // The same for an admin: nothing of their own, so unplaced.
    let admin = user_of_role(&s, Role::Admin);
    let p = street(&mut s, &admin, 26.2, 119.5);
    assert_eq!((p.district_id, p.placement), (None, None));
    // A district a person typed is theirs: no placement.
    let p = s
        .report_problem(
            &vol,
            NewProblem {
                category: "SR-02".into(),
                description: "选了区域".into(),
                district_id: Some("s-dj".into()),
                location: Some(Location {
                    lat: 26.08366,
                    lon: 119.29156,
                    accuracy_m: None,
                    source: LocationSource::Map,
                }),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        (p.district_id.as_deref(), p.point_id, p.placement),
        (Some("s-dj"), None, None)
    );
    // The office corrects a placed district: it is a person's decision from then on.
    let placed = street(&mut s, &vol, 26.08570, 119.30630);
    let fixed = s
        .act(
            &admin,
            placed.id,
            ProblemAction::Edit(ProblemEdit {
                district_id: Some("c-jd".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    assert_eq!(
        (fixed.district_id.as_deref(), fixed.placement),
        (Some("c-jd"), None)
    );
}

#[test]
fn resend_and_discard_are_only_for_refused_reports() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    let vol = s.actor("usr-vol-1").unwrap();
    let p = street(&mut s, &vol, 26.08570, 119.30630);
    let before = snapshot(&s);
    let e = s
        .resend_problem(&vol, p.id, fieldcheck_core::Resend::default())
        .unwrap_err();
    assert_eq!(code(e), "invalid_input");
    let e = s.discard_problem(&vol, p.id).unwrap_err();
    assert_eq!(code(e), "invalid_input");
    assert_eq!(s.creation_refusal(p.id).unwrap(), None);
    assert_eq!(snapshot(&s), before, "a refused correction writes nothing");
    // `show` can tell a problem from an inspection by its events.
    assert_eq!(
        s.record_kind(p.id).unwrap(),
        Some(fieldcheck_core::domain::event::EntityKind::Problem)
    );
    assert_eq!(s.record_kind(uuid::Uuid::now_v7()).unwrap(), None);
}

#[test]
fn an_over_long_description_is_refused_when_made_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    let vol = s.actor("usr-vol-1").unwrap();
    let before = s.outbox_len().unwrap();
    let err = s
        .report_problem(
            &vol,
            NewProblem {
                category: "SR-02".into(),
                description: "垃圾".repeat(1001),
                point_id: Some("p-009".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(code(err), "invalid_input");
    assert_eq!(s.outbox_len().unwrap(), before);
    // The same text within the bound is saved.
    let id = report(&mut s, &vol, &"垃圾".repeat(1000), "p-009");
    assert_eq!(s.problem(id).unwrap().description.chars().count(), 2000);
}

#[test]
fn a_database_error_reading_a_checklist_fails_the_write_instead_of_rejecting() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo_store(&dir);
    let insp = s.actor("usr-insp-2").unwrap();
    let tpl = s
        .templates()
        .unwrap()
        .into_iter()
        .find(|t| t.point_type.as_str() == "farmers_market")
        .unwrap();
    // Another inspector's device started an inspection of the market; it arrives by pull.
    let started = Event::new(
        uuid::Uuid::now_v7(),
        &insp,
        "other-device",
        Hlc::new(chrono::Utc::now().timestamp_millis(), 0, "other-device"),
        EventBody::InspectionStarted {
            point_id: "p-009".into(),
            template_id: tpl.id.clone(),
            template_version: tpl.version,
            location: None,
        },
    );
    // The checklists cannot be read (standing in for a transient I/O error).
    s.connection()
        .execute_batch("ALTER TABLE ref_templates RENAME TO ref_templates_away")
        .unwrap();
    assert!(s.apply_remote(std::slice::from_ref(&started)).is_err());
    assert!(s.inspection(started.entity_id).is_err(), "nothing written");
    // Once the database answers again, the same event applies: not a "template missing"
    // rejection recorded for good.
    s.connection()
        .execute_batch("ALTER TABLE ref_templates_away RENAME TO ref_templates")
        .unwrap();
    s.apply_remote(std::slice::from_ref(&started)).unwrap();
    let i = s.inspection(started.entity_id).unwrap();
    assert_eq!(i.template_id, tpl.id);
    let h = s.history(started.entity_id).unwrap();
    assert_eq!(h[0].outcome, EventOutcome::Applied);
}
