//! Open311 GeoReport v2 bookkeeping (issue 17): the api_keys the office issues to other city
//! systems, and the requests that came in through them (migration 0016). The HTTP edge is
//! `api/open311.rs`; the mapping of the lifecycle onto `open`/`closed` and the request codes are
//! the domain's (`fieldcheck_domain::open311`).
//!
//! Each key reports as its own volunteer user, created with the key (id = the key's id, name =
//! the key's name): its reports go through the same push path and the same rules as a
//! volunteer's, and the console shows who sent them.

use fieldcheck_domain::role::Role;
use fieldcheck_protocol::console::setup::UserInput;
use serde::Serialize;

use crate::auth;
use crate::error::StoreError;
use crate::setup::{self, SetupError};
use crate::store::Store;
use crate::store::ledger::{Arg, Col, Value, stmt};

/// A retried POST (same key, same fields) within this long answers the request it already
/// made instead of making a second one. GeoReport v2 has no idempotency key; a client that
/// lost the answer resends at once, while two identical reports ten minutes apart are rare
/// enough to be the office's duplicate to mark.
pub const RETRY_WINDOW_MS: i64 = 10 * 60 * 1000;

/// An issued api_key as the office sees it (never the key itself, which is shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Open311Key {
    /// `o311-` and 8 hex digits; also the id of the volunteer user its reports come from.
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub created_by: String,
    pub created_at_ms: i64,
    /// Set once revoked: the key is refused (403) from then on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<i64>,
}

/// A new key: its record and the secret (shown only now; the server keeps its hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IssuedKey {
    #[serde(flatten)]
    pub key: Open311Key,
    pub api_key: String,
}

const KEY_COLUMNS: &str = "id, name, user_id, created_by, created_at, revoked_at";
const KEY_TYPES: [Col; 6] = [
    Col::Text,
    Col::Text,
    Col::Text,
    Col::Text,
    Col::Int,
    Col::Int,
];

fn key_row(v: &[Value]) -> Option<Open311Key> {
    Some(Open311Key {
        id: v[0].text()?.to_owned(),
        name: v[1].text()?.to_owned(),
        user_id: v[2].text()?.to_owned(),
        created_by: v[3].text().unwrap_or_default().to_owned(),
        created_at_ms: v[4].int(),
        revoked_at_ms: v[5].opt_int(),
    })
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Issues a key named `name` (the system it is for, 1–64 characters) with its volunteer user.
pub async fn add_key(store: &dyn Store, actor: &str, name: &str) -> Result<IssuedKey, SetupError> {
    let name = name.trim();
    let id = format!("o311-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    // The user checks the name (length, no spreadsheet formula) and records it in the
    // reference data, so devices and the console show reports by the key's name.
    setup::add_user(
        store,
        actor,
        UserInput {
            id: Some(id.clone()),
            name: Some(name.to_owned()),
            role: Some(Role::Volunteer),
            unit_id: None,
            district_ids: None,
            phone: None,
            password: None,
        },
    )
    .await?;
    let secret = auth::new_token();
    let rows = store
        .write(&[stmt(
            format!(
                "INSERT INTO open311_keys (id, name, key_hash, user_id, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {KEY_COLUMNS}"
            ),
            vec![
                Arg::Text(id.clone()),
                Arg::Text(name.to_owned()),
                Arg::Text(auth::hash_secret(&secret)),
                Arg::Text(id.clone()),
                Arg::Text(actor.to_owned()),
                Arg::Int(now_ms()),
            ],
            KEY_TYPES.to_vec(),
        )])
        .await?;
    let key = rows[0]
        .first()
        .and_then(|r| key_row(r))
        .ok_or_else(|| SetupError::UnknownUser(id.clone()))?;
    setup::audit(
        store,
        actor,
        "open311_key.add",
        &id,
        None,
        Some(serde_json::json!({"name": name})),
    )
    .await?;
    Ok(IssuedKey {
        key,
        api_key: secret,
    })
}

/// Every issued key, newest first.
pub async fn list_keys(store: &dyn Store) -> Result<Vec<Open311Key>, StoreError> {
    let rows = store
        .select(&[stmt(
            format!("SELECT {KEY_COLUMNS} FROM open311_keys ORDER BY created_at DESC, id"),
            vec![],
            KEY_TYPES.to_vec(),
        )])
        .await?;
    Ok(rows[0].iter().filter_map(|r| key_row(r)).collect())
}

/// Revokes a key: every later request with it is refused. Its reports stay as they are.
/// `None` when there is no such key; revoking twice keeps the first time.
pub async fn revoke_key(
    store: &dyn Store,
    actor: &str,
    id: &str,
) -> Result<Option<Open311Key>, SetupError> {
    let rows = store
        .write(&[stmt(
            format!(
                "UPDATE open311_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 \
                 RETURNING {KEY_COLUMNS}"
            ),
            vec![Arg::Int(now_ms()), Arg::Text(id.to_owned())],
            KEY_TYPES.to_vec(),
        )])
        .await?;
    let key = rows[0].first().and_then(|r| key_row(r));
    if key.is_some() {
        setup::audit(store, actor, "open311_key.revoke", id, None, None).await?;
    }
    Ok(key)
}

/// The key whose secret this is, revoked or not (the caller decides).
pub async fn key_by_secret(
    store: &dyn Store,
    secret: &str,
) -> Result<Option<Open311Key>, StoreError> {
    let rows = store
        .select(&[stmt(
            format!("SELECT {KEY_COLUMNS} FROM open311_keys WHERE key_hash = $1"),
            vec![Arg::Text(auth::hash_secret(secret))],
            KEY_TYPES.to_vec(),
        )])
        .await?;
    Ok(rows[0].first().and_then(|r| key_row(r)))
}

/// The citizen's contact sent with a request: kept for the office, never published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// A photo somewhere else (`media_url`): kept, shown back as the request's `media_url`,
    /// never fetched by the server.
    pub media_url: Option<String>,
}

/// The request this key already made with these fields within [`RETRY_WINDOW_MS`]: its
/// problem id and code.
pub async fn recent_request(
    store: &dyn Store,
    key_id: &str,
    fingerprint: &str,
    now_ms: i64,
) -> Result<Option<(String, String)>, StoreError> {
    let rows = store
        .select(&[stmt(
            "SELECT problem_id, code FROM open311_requests WHERE key_id = $1 \
             AND fingerprint = $2 AND created_at >= $3 AND problem_id IS NOT NULL \
             ORDER BY seq DESC LIMIT 1",
            vec![
                Arg::Text(key_id.to_owned()),
                Arg::Text(fingerprint.to_owned()),
                Arg::Int(now_ms - RETRY_WINDOW_MS),
            ],
            vec![Col::Text, Col::Text],
        )])
        .await?;
    Ok(rows[0]
        .first()
        .and_then(|r| Some((r[0].text()?.to_owned(), r[1].text()?.to_owned()))))
}

/// A claim older than this is a holder that died (its instance stopped mid-POST): the next
/// copy of the request takes it over.
pub const CLAIM_STALE_MS: i64 = 60_000;

/// Claims the POST of these fields by this key (migration 0018), so that no other copy of it,
/// on this instance or another on the same database, checks for a retry and stores a request
/// until [`release_claim`]. False: another copy holds it.
pub async fn claim_request(
    store: &dyn Store,
    key_id: &str,
    fingerprint: &str,
    token: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let rows = store
        .write(&[stmt(
            "INSERT INTO open311_claims (key_id, fingerprint, token, claimed_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (key_id, fingerprint) DO UPDATE SET \
             token = excluded.token, claimed_at = excluded.claimed_at \
             WHERE open311_claims.claimed_at < $5 RETURNING token",
            vec![
                Arg::Text(key_id.to_owned()),
                Arg::Text(fingerprint.to_owned()),
                Arg::Text(token.to_owned()),
                Arg::Int(now_ms),
                Arg::Int(now_ms - CLAIM_STALE_MS),
            ],
            vec![Col::Text],
        )])
        .await?;
    Ok(!rows[0].is_empty())
}

/// Releases a claim this holder (`token`) made, and any claim gone stale.
pub async fn release_claim(
    store: &dyn Store,
    key_id: &str,
    fingerprint: &str,
    token: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    store
        .write(&[stmt(
            "DELETE FROM open311_claims WHERE (key_id = $1 AND fingerprint = $2 AND token = $3) \
             OR claimed_at < $4",
            vec![
                Arg::Text(key_id.to_owned()),
                Arg::Text(fingerprint.to_owned()),
                Arg::Text(token.to_owned()),
                Arg::Int(now_ms - CLAIM_STALE_MS),
            ],
            vec![],
        )])
        .await?;
    Ok(())
}

/// Reserves the next request number (the `seq` of its problem code) with the contact.
pub async fn reserve_request(
    store: &dyn Store,
    key_id: &str,
    fingerprint: &str,
    contact: &Contact,
    now_ms: i64,
) -> Result<i64, StoreError> {
    let opt = |v: &Option<String>| Arg::Text(v.clone().unwrap_or_default());
    let rows = store
        .write(&[stmt(
            "INSERT INTO open311_requests (key_id, fingerprint, created_at, first_name, \
             last_name, email, phone, media_url) VALUES ($1, $2, $3, NULLIF($4, ''), \
             NULLIF($5, ''), NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, '')) RETURNING seq",
            vec![
                Arg::Text(key_id.to_owned()),
                Arg::Text(fingerprint.to_owned()),
                Arg::Int(now_ms),
                opt(&contact.first_name),
                opt(&contact.last_name),
                opt(&contact.email),
                opt(&contact.phone),
                opt(&contact.media_url),
            ],
            vec![Col::Int],
        )])
        .await?;
    Ok(rows[0].first().map(|r| r[0].int()).unwrap_or_default())
}

/// Notes the problem a reserved request became (or forgets the reservation: `None`, the
/// report was refused and nothing was stored).
pub async fn settle_request(
    store: &dyn Store,
    seq: i64,
    problem: Option<(&str, &str)>,
) -> Result<(), StoreError> {
    let s = match problem {
        Some((id, code)) => stmt(
            "UPDATE open311_requests SET problem_id = $1, code = $2 WHERE seq = $3",
            vec![
                Arg::Text(id.to_owned()),
                Arg::Text(code.to_owned()),
                Arg::Int(seq),
            ],
            vec![],
        ),
        None => stmt(
            "DELETE FROM open311_requests WHERE seq = $1",
            vec![Arg::Int(seq)],
            vec![],
        ),
    };
    store.write(&[s]).await?;
    Ok(())
}
