//! `fieldcheck-server demo`: the demo city, a user of every role with a password, and an
//! enrollment code per user.

use std::path::{Path, PathBuf};

use fieldcheck_domain::role::Role;

use crate::auth;
use crate::error::StoreError;
use crate::qr;
use crate::store::Store;

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
