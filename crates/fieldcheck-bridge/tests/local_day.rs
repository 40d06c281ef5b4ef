//! An extension date picked in the app means the close of business of that day in the city's
//! calendar zone, decided by the core (not by the phone's zone, as the UI once did): the app
//! sends the day, the record holds the instant.

mod common;

use std::sync::{Arc, Mutex};

use common::Bridge;
use fieldcheck_core::domain::ProblemStatus;
use fieldcheck_core::domain::calendar::WorkCalendar;
use fieldcheck_core::protocol::ReferenceBundle;
use fieldcheck_core::{ProblemQuery, Store};
use serde_json::json;

#[tokio::test]
async fn an_extension_date_ends_at_close_of_business_in_the_city_zone() {
    // A demo city moved five hours behind UTC: 17:30 there is 22:30 UTC.
    let found: Arc<Mutex<Option<(String, String)>>> = Arc::default();
    let f = found.clone();
    let b = Bridge::start_with(None, move |store: &mut Store| {
        fieldcheck_core::demo::seed_demo(store).unwrap();
        store
            .import_reference(&ReferenceBundle {
                calendar: Some(WorkCalendar {
                    utc_offset_minutes: -300,
                    ..WorkCalendar::default()
                }),
                ..Default::default()
            })
            .unwrap();
        let open = store
            .list_problems(&ProblemQuery {
                statuses: vec![ProblemStatus::Dispatched, ProblemStatus::Rectifying],
                ..Default::default()
            })
            .unwrap();
        let p = &open
            .items
            .first()
            .expect("the demo has open problems")
            .problem;
        let unit = p.unit_id.clone().unwrap();
        let handler = store
            .export_reference()
            .unwrap()
            .users
            .into_iter()
            .find(|u| u.unit_id.as_deref() == Some(unit.as_str()))
            .unwrap()
            .id;
        *f.lock().unwrap() = Some((p.id.to_string(), handler));
        store.set_current_user(Some("usr-insp-1")).unwrap();
    })
    .await;
    let (id, handler) = found.lock().unwrap().clone().unwrap();
    b.ok("login", json!({ "user_id": handler })).await;

    // Neither a day nor an instant: one clear refusal, nothing requested.
    let (status, e) = b
        .err(
            "problem_act",
            json!({"id": id, "action": {"action": "request_extension", "reason": "需协调"}}),
        )
        .await;
    assert_eq!((status, e.code.as_str()), (422, "invalid_input"), "{e:?}");

    let d = b
        .ok(
            "problem_act",
            json!({"id": id, "action": {
                "action": "request_extension", "until_date": "2099-12-05", "reason": "需协调多个部门"
            }}),
        )
        .await;
    assert_eq!(d["problem"]["extension"]["until"], "2099-12-05T22:30:00Z");
    b.stop().await;
}
