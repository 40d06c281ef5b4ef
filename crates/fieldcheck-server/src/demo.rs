//! `fieldcheck-server demo`: the demo city, a user of every role with a password, an
//! enrollment code per user, and (on an empty ledger) eight weeks of the city's problems
//! ([`city`]).

use std::path::{Path, PathBuf};

use fieldcheck_domain::role::Role;

use crate::auth;
use crate::blobs::BlobStore;
use crate::error::StoreError;
use crate::qr;
use crate::store::Store;

pub mod city;
mod picture;

/// Password of every demo user (printed by the demo; never for production).
pub const DEMO_PASSWORD: &str = "fieldcheck-demo";

/// Enrollment codes printed by the demo stay valid this long.
pub const DEMO_CODE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub user_id: String,
    pub name: String,
    pub role: Role,
    pub enroll_code: String,
}

/// Imports the demo bundle (when the store has no reference data yet), sets every user's
/// password to [`DEMO_PASSWORD`] and issues one fresh enrollment code per user.
pub async fn seed(store: &dyn Store, now_ms: i64) -> Result<Vec<DemoLogin>, StoreError> {
    let bundle = match store.reference().await? {
        Some((_, b)) => b,
        None => {
            let b = fieldcheck_protocol::demo_bundle();
            store.put_reference(&b).await?;
            b
        }
    };
    let hash = auth::hash_password(DEMO_PASSWORD);
    let mut out = Vec::new();
    for user in &bundle.users {
        store.put_user(user, Some(&hash)).await?;
        let code = auth::new_enroll_code();
        store
            .create_enroll_code(
                &auth::hash_secret(&auth::normalize_enroll_code(&code)),
                &user.id,
                now_ms + DEMO_CODE_TTL_MS,
            )
            .await?;
        out.push(DemoLogin {
            user_id: user.id.clone(),
            name: user.name.clone(),
            role: user.role,
            enroll_code: code,
        });
    }
    Ok(out)
}

/// The demo city's volunteer team (鼓楼区, its invite link printed by `demo`), made once.
pub async fn seed_volunteer_team(store: &dyn Store) -> Result<crate::volunteers::Team, StoreError> {
    if let Some(t) = crate::volunteers::teams(store).await?.into_iter().next() {
        return Ok(t);
    }
    crate::volunteers::add_team(store, "usr-admin-1", "鼓楼区文明志愿服务队", Some("d-gl"))
        .await
        .map_err(|e| match e {
            crate::setup::SetupError::Store(s) => s,
            e => StoreError::Corrupt(e.to_string()),
        })
}

/// Writes each login's enrollment code as `<dir>/<user_id>.png` (a QR code of
/// `fieldcheck://enroll?server=<server>&code=<code>`) and returns the paths, so a demo can be
/// enrolled by scanning the screen instead of typing.
pub fn write_qr_pngs(
    logins: &[DemoLogin],
    dir: &Path,
    server: &str,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut paths = Vec::with_capacity(logins.len());
    for l in logins {
        let png = qr::png(&qr::enroll_uri(server, &l.enroll_code))?;
        let path = dir.join(format!("{}.png", l.user_id));
        std::fs::write(&path, png)?;
        paths.push(path);
    }
    Ok(paths)
}

/// Fills an empty ledger with the lived-in city of `plan` (problems at every stage, photos in
/// `blobs`, staged under `blob_dir`). A ledger that holds any event is left as it is, so a
/// restarted demo keeps its data: `None`.
pub async fn seed_city_if_empty(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    blob_dir: &Path,
    plan: &city::CityPlan,
) -> Result<Option<city::CityReport>, city::CityError> {
    if plan.problems == 0 || store.event_count().await? > 0 {
        return Ok(None);
    }
    let Some((_, refs)) = store.reference().await? else {
        return Err(city::CityError::NoReference);
    };
    let started = std::time::Instant::now();
    let owned = plan.clone();
    // Planning and rendering the photos is CPU work (on every core).
    let made = tokio::task::spawn_blocking(move || city::City::generate(&owned, &refs))
        .await
        .map_err(|e| city::CityError::Io(std::io::Error::other(e)))??;
    let planned = started.elapsed();
    let staging = blob_dir.join("demo-staging");
    let report = city::seed(store, blobs, &staging, &made).await?;
    tracing::info!(
        ?planned,
        stored = ?started.elapsed() - planned,
        events = report.events,
        photos = report.photos,
        "demo city seeded"
    );
    // Every staged file was handed to the blob store; only the empty directory is left.
    let _ = tokio::fs::remove_dir_all(&staging).await;
    Ok(Some(report))
}
