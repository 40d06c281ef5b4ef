//! A reference bundle is checked before the server stores it, by the same rule a device
//! applies when it installs one (`fieldcheck_domain::reference::validate_reference`): an
//! invalid bundle is refused, says what is wrong and with which record, and changes nothing.

mod common;

use common::*;
use fieldcheck_domain::role::Role;
use fieldcheck_server::StoreError;
use reqwest::StatusCode;

async fn an_invalid_bundle_is_refused_and_changes_nothing(pg: bool) {
    let Some(e) = Env::new(pg, |_| {}).await else {
        return;
    };
    let s = &e.s;
    let vol = s.enroll("usr-vol-1").await;
    let before = s.store.reference().await.unwrap().unwrap();

    // Each bundle also leaves out usr-vol-1: stored, it would mark them removed at once.
    let without_vol = || {
        let mut b = bundle();
        b.users.retain(|u| u.id != "usr-vol-1");
        b
    };
    let mut in_nowhere = without_vol();
    in_nowhere.points[3].district_id = "nowhere".into();
    let p3 = in_nowhere.points[3].id.clone();
    let mut no_unit = without_vol();
    let h = no_unit
        .users
        .iter_mut()
        .find(|u| u.role == Role::UnitHandler)
        .unwrap();
    h.unit_id = None;
    let h = h.id.clone();
    let mut orphan = without_vol();
    let street = orphan
        .districts
        .iter_mut()
        .find(|d| d.parent_id.is_some())
        .unwrap();
    street.parent_id = Some("d-gone".into());
    let street = street.id.clone();

    for (bad, says) in [
        (
            in_nowhere,
            format!("invalid input: point {p3} refers to unknown district nowhere"),
        ),
        (
            no_unit,
            format!("invalid input: unit handler {h} needs a unit"),
        ),
        (orphan, "refers to unknown parent d-gone".to_owned()),
    ] {
        let err = s.store.put_reference(&bad).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidReference(_)), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("reference data refused, nothing stored: ") && msg.ends_with(&says),
            "{msg}"
        );
        if says.contains("parent") {
            assert!(msg.contains(&street), "names the district: {msg}");
        }
        // Nothing changed: the same version and bundle, the dropped user still signed in.
        assert_eq!(s.store.reference().await.unwrap().unwrap(), before);
        assert!(!s.store.user("usr-vol-1").await.unwrap().unwrap().removed);
        assert_eq!(s.me(&vol).await.status(), StatusCode::OK);
    }

    // A bundle that holds together is stored as before.
    let v = s.store.put_reference(&without_vol()).await.unwrap();
    assert_eq!(v, before.0 + 1);
    assert!(s.store.user("usr-vol-1").await.unwrap().unwrap().removed);
    e.finish().await;
}
both_backends!(an_invalid_bundle_is_refused_and_changes_nothing);
