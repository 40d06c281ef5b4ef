//! The demo city generator (issue 14), on SQLite and PostgreSQL: a few hundred problems pushed
//! through the real push path as their authors. Every status appears, some overdue, closed
//! late, reworked, extended; no event is refused or rejected; the server's records equal the
//! domain's fold of the generated events; every photo is a stored JPEG; the same seed makes the
//! same city; and a device enrolled as an inspector pulls exactly its districts' records.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::Utc;
use common::*;
use fieldcheck_domain::event::EntityKind;
use fieldcheck_domain::problem::ProblemSource;
use fieldcheck_domain::scope::{DistrictTree, Scope};
use fieldcheck_domain::{Problem, ProblemStatus};
use fieldcheck_protocol::sync::PullItem;
use fieldcheck_server::Store;
use fieldcheck_server::blobs::{BlobStore, LocalBlobs};
use fieldcheck_server::demo::city::{City, CityPlan, Record, seed};

/// A Wednesday morning in the city (11:00 CST): the test sees the same city whatever day it
/// runs (a city seeded on a holiday has fewer problems in the office's hands).
fn now() -> chrono::DateTime<Utc> {
    "2026-11-25T03:00:00Z".parse().unwrap()
}

fn plan(seed: u64) -> CityPlan {
    CityPlan {
        seed,
        problems: 300,
        days: 56,
        now: now(),
        own_photos: 12,
        pool_photos: 6,
    }
}

#[test]
fn the_same_seed_makes_the_same_city() {
    let refs = bundle();
    let p = plan(7);
    let a = City::generate(&p, &refs).unwrap();
    let b = City::generate(&p, &refs).unwrap();
    let (ra, rb) = (a.records(0..a.len()), b.records(0..b.len()));
    assert_eq!(ra, rb, "events, ids and codes");
    assert_eq!(a.photos(), b.photos(), "photos");
    // Chunking does not change a thing.
    let mut chunked = a.records(0..100);
    chunked.extend(a.records(100..a.len()));
    assert_eq!(chunked, ra);
    let c = City::generate(&plan(8), &refs).unwrap();
    assert_ne!(c.records(0..c.len()), ra, "another seed, another city");
    // Photos differ from one another.
    let hashes: BTreeSet<&str> = a.photos().iter().map(|p| p.hash.as_str()).collect();
    assert_eq!(hashes.len(), a.photos().len());
}

async fn seeds_a_lived_in_city(pg: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (store, pg, _sqlite_dir): (Arc<dyn Store>, _, _) = if pg {
        let Some(pg) = Pg::new().await else { return };
        (pg.store.clone(), Some(pg), None)
    } else {
        let (d, s) = sqlite().await;
        (s, None, Some(d))
    };
    let config = test_config(dir.path());
    let blobs: Arc<dyn BlobStore> = Arc::new(LocalBlobs::new(&config.blob_dir));
    let p = plan(14);
    let city = City::generate(&p, &bundle()).unwrap();
    assert!(city.replanned() <= 3, "replanned {}", city.replanned());
    let started = std::time::Instant::now();
    let report = seed(
        store.as_ref(),
        blobs.as_ref(),
        &config.blob_dir.join("demo-staging"),
        &city,
    )
    .await
    .unwrap_or_else(|e| panic!("[{}] {e}", e.code()));
    loud(&format!(
        "demo city on {}: {report:?} in {:?}",
        store.backend(),
        started.elapsed()
    ));

    let records = city.records(0..city.len());
    let events: usize = records.iter().map(|r| r.events.len()).sum();
    // Nothing refused, nothing rejected: every event is stored and applied.
    assert_eq!(report.events, events);
    assert_eq!(store.event_count().await.unwrap(), events as u64);
    assert_eq!(report.problems, 300);

    // The server's projection is the domain's fold of the generated events.
    let expected = city.expected(&records);
    assert_eq!(expected.len(), 300);
    let now = p.now;
    let mut statuses: BTreeMap<ProblemStatus, usize> = BTreeMap::new();
    let mut sources = BTreeSet::new();
    let mut units = BTreeSet::new();
    let mut districts = BTreeSet::new();
    let (mut overdue, mut late, mut reworked, mut extended, mut rechecked, mut photos) =
        (0, 0, 0, 0, 0, BTreeSet::new());
    for (id, want) in &expected {
        let mut got: Problem = store.problem(*id).await.unwrap().expect("stored problem");
        // Coordinates go through JSON: equal to the last bits is not promised.
        let (a, b) = (got.location.unwrap(), want.location.unwrap());
        assert!((a.lat - b.lat).abs() < 1e-9 && (a.lon - b.lon).abs() < 1e-9);
        got.location = want.location;
        assert_eq!(&got, want, "{}", want.code);
        *statuses.entry(got.status).or_default() += 1;
        sources.insert(ProblemSource::of(&got).as_str());
        units.extend(got.unit_id.clone());
        districts.extend(got.district_id.clone());
        overdue += usize::from(got.is_overdue(now));
        late += usize::from(got.status == ProblemStatus::Closed && got.rectified_at > got.deadline);
        reworked += usize::from(got.rework_count > 0);
        rechecked += usize::from(got.recheck_count > 0);
        photos.extend(got.photos.iter().map(|p| (p.hash.clone(), p.role.as_str())));
        assert!(got.code.starts_with("GL-"), "{}", got.code);
    }
    for s in ProblemStatus::ALL {
        assert!(
            statuses.get(&s).is_some_and(|n| *n > 0),
            "no {s:?}: {statuses:?}"
        );
    }
    assert_eq!(
        statuses
            .iter()
            .map(|(s, n)| (s.as_str().to_owned(), *n))
            .collect::<BTreeMap<_, _>>(),
        report.statuses
    );
    assert!(overdue >= 10, "overdue {overdue}");
    assert_eq!(overdue, report.overdue);
    assert!(late >= 5, "closed late {late}");
    assert!(reworked >= 5, "reworked {reworked}");
    assert!(rechecked >= 5, "rechecked {rechecked}");
    for r in &records {
        extended += usize::from(
            r.events
                .iter()
                .any(|e| e.kind() == "problem.extension_requested"),
        );
    }
    assert!(extended >= 5, "extension requests {extended}");
    assert_eq!(sources.len(), 3, "inspection, quick report, volunteer");
    assert!(units.len() >= 6, "units {units:?}");
    assert!(districts.len() >= 8, "districts {districts:?}");
    assert!(
        report.inspections > 100,
        "inspections {}",
        report.inspections
    );

    // Reports span the weeks: every week of the eight has reports.
    let mut weeks = BTreeSet::new();
    for (_, p) in &expected {
        weeks.insert((now - p.reported_at).num_days() / 7);
    }
    assert!(weeks.len() >= 8, "weeks {weeks:?}");

    // Every photo is a stored JPEG, and the blob rows say so.
    let roles: BTreeSet<&str> = photos.iter().map(|(_, r)| *r).collect();
    assert!(
        roles.contains("before") && roles.contains("after"),
        "{roles:?}"
    );
    let hashes: Vec<String> = photos
        .iter()
        .map(|(h, _)| h.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for st in store.blob_states(&hashes).await.unwrap() {
        assert!(st.complete, "{st:?}");
    }
    for h in &hashes {
        let bytes = blobs.get(h).await.unwrap().expect("blob stored");
        assert_eq!(sha(&bytes), *h);
        let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).unwrap();
        assert_eq!((img.width(), img.height()), (640, 480));
    }

    // A device enrolled as an inspector pulls exactly the records of its districts (and what
    // it reported or inspected itself), and may read their photos.
    let server = Server::start_on(config, store.clone(), Some(blobs.clone()), true).await;
    let token = server.enroll("usr-insp-2").await;
    let mut pulled: HashMap<uuid::Uuid, usize> = HashMap::new();
    let mut since = 0;
    loop {
        let page = server.pull(&token, since).await;
        // A page scans a bounded number of events: it may hold none of ours and still move on.
        if page.items.is_empty() && page.cursor == since {
            break;
        }
        for item in page.items {
            if let PullItem::Event { event, .. } = item {
                *pulled.entry(event.entity_id).or_default() += 1;
            }
        }
        since = page.cursor;
    }
    let refs = bundle();
    let inspector = user("usr-insp-2");
    let scope = Scope::of(&inspector, &DistrictTree::new(&refs.districts));
    let expect: BTreeSet<uuid::Uuid> = records
        .iter()
        .filter(|r| visible(r, &scope, &refs))
        .map(|r| r.entity_id)
        .collect();
    assert!(expect.len() > 30, "{}", expect.len());
    assert_eq!(pulled.keys().copied().collect::<BTreeSet<_>>(), expect);
    for r in records.iter().filter(|r| expect.contains(&r.entity_id)) {
        assert_eq!(pulled[&r.entity_id], r.events.len(), "whole history");
    }
    let photo = records
        .iter()
        .filter(|r| expect.contains(&r.entity_id) && r.kind == EntityKind::Problem)
        .find_map(|r| r.events[0].photos.first())
        .expect("a visible photo");
    let resp = server.get_blob(&token, &photo.hash).await;
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    assert_eq!(sha(&resp.bytes().await.unwrap()), photo.hash);

    server.stop().await;
    if let Some(pg) = pg {
        pg.finish().await;
    }
}

/// Whether an inspector sees a record: its district is theirs, or they made it.
fn visible(r: &Record, scope: &Scope, refs: &fieldcheck_protocol::ReferenceBundle) -> bool {
    let first = &r.events[0];
    if first.actor == scope.user_id {
        return true;
    }
    let district = match &first.body {
        fieldcheck_domain::EventBody::ProblemReported(p) => p.district_id.clone(),
        fieldcheck_domain::EventBody::InspectionStarted { point_id, .. } => refs
            .points
            .iter()
            .find(|p| &p.id == point_id)
            .map(|p| p.district_id.clone()),
        _ => None,
    };
    scope.in_districts(district.as_deref())
}

both_backends!(seeds_a_lived_in_city);

/// A restarted demo keeps its data; an empty ledger is seeded once (here ending at the real
/// now, as the demo does).
#[tokio::test]
async fn the_city_is_seeded_only_into_an_empty_ledger() {
    let (dir, store) = sqlite().await;
    let blobs = LocalBlobs::new(dir.path().join("blobs"));
    let small = CityPlan {
        problems: 40,
        now: Utc::now(),
        ..plan(3)
    };
    let first = fieldcheck_server::demo::seed_city_if_empty(
        store.as_ref(),
        &blobs,
        &dir.path().join("blobs"),
        &small,
    )
    .await
    .unwrap()
    .expect("seeded");
    let n = store.event_count().await.unwrap();
    assert_eq!(n, first.events as u64);
    let again = fieldcheck_server::demo::seed_city_if_empty(
        store.as_ref(),
        &blobs,
        &dir.path().join("blobs"),
        &small,
    )
    .await
    .unwrap();
    assert!(again.is_none());
    assert_eq!(store.event_count().await.unwrap(), n);
    assert!(
        !dir.path().join("blobs/demo-staging").exists(),
        "staging cleaned up"
    );
}
