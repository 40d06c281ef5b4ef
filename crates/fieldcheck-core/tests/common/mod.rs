#![allow(dead_code)]

use chrono::{DateTime, Utc};
use fieldcheck_core::domain::{Actor, Location, LocationSource};
use fieldcheck_core::protocol::ReferenceBundle;
use fieldcheck_core::{NewProblem, Store};

pub fn demo_bundle() -> ReferenceBundle {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    ReferenceBundle {
        districts: serde_json::from_str(&read("districts.json")).unwrap(),
        units: serde_json::from_str(&read("units.json")).unwrap(),
        points: serde_json::from_str(&read("points.json")).unwrap(),
        users: serde_json::from_str(&read("users.json")).unwrap(),
        calendar: Some(serde_json::from_str(&read("calendar.json")).unwrap()),
        ..Default::default()
    }
}

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A store in a temp dir with the demo city imported and the clock pinned to a Monday
/// morning in Fuzhou.
pub fn demo_store(dir: &tempfile::TempDir) -> Store {
    let mut s = Store::open(dir.path().join("device.db")).unwrap();
    s.import_reference(&demo_bundle()).unwrap();
    let now = t("2026-11-23T02:00:00Z");
    s.set_now(move || now);
    s
}

/// Reports littering (SR-02) at `point`, located by GPS at the demo's first market.
pub fn report(store: &mut Store, who: &Actor, desc: &str, point: &str) -> uuid::Uuid {
    store
        .report_problem(
            who,
            NewProblem {
                category: "SR-02".into(),
                description: desc.into(),
                point_id: Some(point.into()),
                location: Some(Location {
                    lat: 26.0868,
                    lon: 119.3055,
                    accuracy_m: Some(6.0),
                    source: LocationSource::Gps,
                }),
                ..Default::default()
            },
        )
        .unwrap()
        .id
}

pub fn user_of_role(store: &Store, role: fieldcheck_core::domain::Role) -> Actor {
    let b = store.export_reference().unwrap();
    let u = b.users.iter().find(|u| u.role == role).unwrap();
    store.actor(&u.id).unwrap()
}

pub fn handler_of_unit(store: &Store, unit: &str) -> Actor {
    let b = store.export_reference().unwrap();
    let u = b
        .users
        .iter()
        .find(|u| u.unit_id.as_deref() == Some(unit))
        .unwrap_or_else(|| panic!("no handler for {unit}"));
    store.actor(&u.id).unwrap()
}

/// Every table's full contents, in a stable order: "byte-for-byte unchanged" means this
/// and the event count are equal.
pub fn snapshot(store: &Store) -> Vec<String> {
    let c = store.connection();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'problems_search_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = Vec::new();
    for t in tables {
        if t == "problems_search" {
            continue;
        }
        let mut st = c.prepare(&format!("SELECT * FROM {t} ORDER BY 1")).unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                let mut s = format!("{t}:");
                for i in 0..n {
                    let v: rusqlite::types::Value = r.get(i)?;
                    s.push_str(&format!("{v:?}|"));
                }
                Ok(s)
            })
            .unwrap();
        for r in rows {
            out.push(r.unwrap());
        }
    }
    out
}
