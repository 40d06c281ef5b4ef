//! Shared test helpers: stores on both backends, demo users, event builders.
#![allow(dead_code)]

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use fieldcheck_domain::event::{EventBody, PhotoRef, PhotoRole, ProblemReported};
use fieldcheck_domain::reference::User;
use fieldcheck_domain::{Actor, Event, Hlc, Severity};
use fieldcheck_protocol::ReferenceBundle;
use fieldcheck_server::Store;
use fieldcheck_server::store::{PgStore, SqliteStore};
use uuid::Uuid;

pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn bundle() -> ReferenceBundle {
    fieldcheck_protocol::demo_bundle()
}

pub fn user(id: &str) -> User {
    bundle()
        .users
        .into_iter()
        .find(|u| u.id == id)
        .unwrap_or_else(|| panic!("no demo user {id}"))
}

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub async fn sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = SqliteStore::open(&url).await.unwrap();
    store.put_reference(&bundle()).await.unwrap();
    (dir, Arc::new(store))
}

/// Says so where the person running the tests sees it: the harness captures `eprintln!`
/// of passing tests, but not direct writes to stderr.
pub fn loud(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// A PostgreSQL store in a fresh schema, dropped by [`Pg::finish`].
pub struct Pg {
    pub store: Arc<PgStore>,
    url: String,
    schema: String,
}

impl Pg {
    /// `None` (after a loud SKIPPED line) when PostgreSQL is not reachable outside CI; in CI
    /// an unreachable PostgreSQL fails the test.
    pub async fn new() -> Option<Pg> {
        let url = std::env::var("FIELDCHECK_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_owned());
        let admin = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&url),
        )
        .await;
        let admin = match admin {
            Ok(Ok(pool)) => pool,
            Ok(Err(e)) => return unreachable(&url, &e.to_string()),
            Err(_) => return unreachable(&url, "timed out"),
        };
        let schema = format!("t_{}", Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let store = PgStore::open(&url, Some(&schema)).await.unwrap();
        store.put_reference(&bundle()).await.unwrap();
        Some(Pg {
            store: Arc::new(store),
            url,
            schema,
        })
    }

    pub async fn finish(self) {
        self.store.close().await;
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.url)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.schema
        )))
        .execute(&admin)
        .await
        .unwrap();
        admin.close().await;
    }
}

fn unreachable(url: &str, why: &str) -> Option<Pg> {
    if std::env::var_os("CI").is_some() {
        panic!(
            "PostgreSQL not reachable at {url} ({why}) and CI is set: PostgreSQL tests must run"
        );
    }
    loud(&format!(
        "\n*** SKIPPED: PostgreSQL not reachable at {url} ({why}); set FIELDCHECK_TEST_PG ***\n"
    ));
    None
}

pub fn actor(u: &User) -> Actor {
    Actor {
        user_id: u.id.clone(),
        role: u.role,
        unit_id: u.unit_id.clone(),
    }
}

pub fn hlc(ms: i64, node: &str) -> Hlc {
    Hlc::new(ms, 0, node)
}

pub fn ev(u: &User, entity: Uuid, ms: i64, body: EventBody) -> Event {
    Event::new(entity, &actor(u), "dev-test", hlc(ms, "dev-test"), body)
}

pub fn report(u: &User, entity: Uuid, district: &str, ms: i64) -> Event {
    ev(
        u,
        entity,
        ms,
        EventBody::ProblemReported(Box::new(ProblemReported {
            code: format!("GL-TEST-{}", &entity.simple().to_string()[..8]),
            category: "litter".into(),
            description: "垃圾堆放".into(),
            location: None,
            address: "测试路 1 号".into(),
            district_id: Some(district.into()),
            point_id: None,
            item_id: None,
            inspection_id: None,
            severity: Severity::default(),
        })),
    )
}

pub fn filed(u: &User, entity: Uuid, ms: i64) -> Event {
    ev(u, entity, ms, EventBody::ProblemFiled { note: None })
}

pub fn dispatched(u: &User, entity: Uuid, unit: &str, ms: i64) -> Event {
    let deadline: DateTime<Utc> = DateTime::from_timestamp_millis(ms + 3 * 86_400_000).unwrap();
    ev(
        u,
        entity,
        ms,
        EventBody::ProblemDispatched {
            unit_id: unit.into(),
            deadline,
            note: None,
        },
    )
}

pub fn accepted(u: &User, entity: Uuid, ms: i64) -> Event {
    ev(u, entity, ms, EventBody::ProblemAccepted { note: None })
}

pub fn rectified(u: &User, entity: Uuid, ms: i64, photo: &str) -> Event {
    ev(u, entity, ms, EventBody::ProblemRectified { note: None }).with_photos(vec![PhotoRef {
        hash: photo.into(),
        role: PhotoRole::After,
    }])
}

pub fn closed(u: &User, entity: Uuid, ms: i64) -> Event {
    ev(u, entity, ms, EventBody::ProblemClosed { note: None })
}
