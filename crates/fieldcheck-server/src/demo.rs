//! `fieldcheck-server demo`: the demo city, a user of every role with a password, and an
//! enrollment code per user.

use fieldcheck_domain::role::Role;

use crate::auth;
use crate::error::StoreError;
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
