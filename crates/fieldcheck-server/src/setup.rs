//! Setting up a city (issue 15): importing its reference data (preview, then apply as one
//! new reference version), the template and export workbooks, users, enrollment codes and
//! devices, and the audit of every such change. The console's endpoints
//! (`api/console_setup.rs`) and the server's subcommands (`main.rs`: `import`, `user`,
//! `enroll-code`, `devices`) both call these functions, so each rule is in one place; what
//! an import does to the data is `fieldcheck_refdata::plan` (one rule for preview and apply).

pub mod cli;
pub mod deadlines;
pub mod points;

use fieldcheck_domain::reference::User;
use fieldcheck_domain::role::Role;
use fieldcheck_protocol::ReferenceBundle;
use fieldcheck_protocol::console::setup::{
    AuditEntry, AuditPage, DeviceRow, EnrollCode, ImportApplied, ImportPreview, UserInput, UserRow,
};
use fieldcheck_refdata::plan::{
    ImportPlan, RowError, looks_like_formula, plan_import, reading_error,
};
use fieldcheck_refdata::{Format, RefDataError};
use uuid::Uuid;

use crate::auth;
use crate::error::StoreError;
use crate::store::Store;
use crate::store::ledger::{Arg, Col, Select, Value};

/// The largest file an import takes (10,000 points are about 1 MB of XLSX).
pub const MAX_IMPORT_BYTES: usize = 16 * 1024 * 1024;

/// Longest lifetime of an enrollment code (the bearer API's `/admin/enroll-codes` too).
pub const MAX_CODE_TTL_MINUTES: u32 = 30 * 24 * 60;

/// Stable codes of setup refusals (`ApiError::code`).
pub mod codes {
    /// The file has errors (`errors` lists them); nothing changed.
    pub const IMPORT_INVALID: &str = "import_invalid";
    /// The file cannot be read at all (format, size, damaged).
    pub const IMPORT_UNREADABLE: &str = "import_unreadable";
    /// The reference data changed since the preview (`base_version` is stale).
    pub const REFERENCE_CHANGED: &str = "reference_changed";
    /// A user record that does not hold (unknown unit or district, empty id, formula text).
    pub const INVALID_USER: &str = "invalid_user";
    /// The user id is taken (add) or unknown (edit, disable, …).
    pub const USER_EXISTS: &str = "user_exists";
    pub const UNKNOWN_USER: &str = "unknown_user";
    /// The action would lock the office out (disabling or demoting oneself).
    pub const SELF_LOCKOUT: &str = "self_lockout";
    /// A point that does not hold (unknown district or unit, bad place, formula text).
    pub const INVALID_POINT: &str = "invalid_point";
    /// The point id is taken (add) or unknown (edit, deactivate).
    pub const POINT_EXISTS: &str = "point_exists";
    pub const UNKNOWN_POINT: &str = "unknown_point";
    /// A calendar that does not hold (periods, weekdays, a day both off and on).
    pub const INVALID_CALENDAR: &str = "invalid_calendar";
    /// A deadline rule that does not hold; a category code nobody has.
    pub const INVALID_CATEGORY: &str = "invalid_category";
    pub const UNKNOWN_CATEGORY: &str = "unknown_category";
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Unreadable(String),
    #[error("the file has {} error(s); nothing changed", .0.len())]
    Invalid(Vec<RowError>),
    #[error(
        "the reference data is at version {current}, the preview was made against {expected}; preview again"
    )]
    VersionChanged { expected: u64, current: u64 },
    #[error("{0}")]
    InvalidUser(String),
    #[error("user {0} exists already")]
    UserExists(String),
    #[error("no user {0}")]
    UnknownUser(String),
    #[error("{0}")]
    SelfLockout(String),
    #[error("{0}")]
    InvalidPoint(String),
    #[error("point {0} exists already")]
    PointExists(String),
    #[error("no point {0}")]
    UnknownPoint(String),
    #[error("{0}")]
    InvalidCalendar(String),
    #[error("{0}")]
    InvalidCategory(String),
    #[error("no category {0}")]
    UnknownCategory(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SetupError {
    pub fn code(&self) -> &'static str {
        match self {
            SetupError::Unreadable(_) => codes::IMPORT_UNREADABLE,
            SetupError::Invalid(_) => codes::IMPORT_INVALID,
            SetupError::VersionChanged { .. } => codes::REFERENCE_CHANGED,
            SetupError::InvalidUser(_) => codes::INVALID_USER,
            SetupError::UserExists(_) => codes::USER_EXISTS,
            SetupError::UnknownUser(_) => codes::UNKNOWN_USER,
            SetupError::SelfLockout(_) => codes::SELF_LOCKOUT,
            SetupError::InvalidPoint(_) => codes::INVALID_POINT,
            SetupError::PointExists(_) => codes::POINT_EXISTS,
            SetupError::UnknownPoint(_) => codes::UNKNOWN_POINT,
            SetupError::InvalidCalendar(_) => codes::INVALID_CALENDAR,
            SetupError::InvalidCategory(_) => codes::INVALID_CATEGORY,
            SetupError::UnknownCategory(_) => codes::UNKNOWN_CATEGORY,
            SetupError::Store(_) => "internal",
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The format of an uploaded file from its name (`.xlsx`, `.csv`, `.json`).
pub fn format_of(name: &str) -> Result<Format, SetupError> {
    Format::from_path(std::path::Path::new(name)).map_err(|e| SetupError::Unreadable(e.to_string()))
}

/// The plan of an import of `bytes` against the current reference data.
pub async fn preview(
    store: &dyn Store,
    bytes: &[u8],
    format: Format,
    name: Option<&str>,
) -> Result<(ImportPreview, ImportPlan), SetupError> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(SetupError::Unreadable(format!(
            "the file is larger than {} MB",
            MAX_IMPORT_BYTES / (1024 * 1024)
        )));
    }
    let (version, current) = store.reference().await?.unwrap_or_default();
    let read = fieldcheck_refdata::read_bytes_report(bytes, format, None, name);
    let plan = match read {
        Ok(report) => plan_import(&current, &report),
        // A fault of the whole file is one error at the file, in the preview's shape.
        Err(e) => ImportPlan {
            errors: vec![reading_error(&e)],
            ..ImportPlan::default()
        },
    };
    Ok((
        ImportPreview {
            base_version: version,
            errors: plan.errors.clone(),
            changes: plan.changes.clone(),
            changes_anything: plan.changes_anything(),
        },
        plan,
    ))
}

/// Applies an import: all or nothing, as one new reference version, only while the current
/// version is still `base_version` (when given). Devices get it on their next sync.
pub async fn apply(
    store: &dyn Store,
    actor: &str,
    bytes: &[u8],
    format: Format,
    name: Option<&str>,
    base_version: Option<u64>,
) -> Result<ImportApplied, SetupError> {
    let (preview, plan) = preview(store, bytes, format, name).await?;
    if let Some(expected) = base_version
        && expected != preview.base_version
    {
        return Err(SetupError::VersionChanged {
            expected,
            current: preview.base_version,
        });
    }
    if !plan.errors.is_empty() {
        return Err(SetupError::Invalid(plan.errors));
    }
    if !plan.changes_anything() {
        return Ok(ImportApplied {
            version: preview.base_version,
            changed: false,
            changes: plan.changes,
        });
    }
    let version = put_if(
        store,
        &plan.bundle,
        preview.base_version,
        SetupError::InvalidUser,
    )
    .await?;
    audit(
        store,
        actor,
        "reference.import",
        &format!("reference v{version}"),
        None,
        Some(serde_json::to_value(&plan.changes).unwrap_or_default()),
    )
    .await?;
    Ok(ImportApplied {
        version,
        changed: true,
        changes: plan.changes,
    })
}

/// Stores `bundle` as the next version while `base` is still the current one; `invalid`
/// says what a refusal of the reference check is about.
async fn put_if(
    store: &dyn Store,
    bundle: &ReferenceBundle,
    base: u64,
    invalid: fn(String) -> SetupError,
) -> Result<u64, SetupError> {
    match store.put_reference_if(bundle, Some(base)).await {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(SetupError::VersionChanged {
            expected: base,
            current: store.reference_version().await?,
        }),
        Err(StoreError::InvalidReference(e)) => Err(invalid(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// The office's workbook of the current reference data (import it back: nothing changes).
pub async fn export_workbook(store: &dyn Store) -> Result<(u64, Vec<u8>), SetupError> {
    let (version, bundle) = store.reference().await?.unwrap_or_default();
    let bytes = fieldcheck_refdata::workbook_zh(&bundle)
        .map_err(|e: RefDataError| SetupError::Unreadable(e.to_string()))?;
    Ok((version, bytes))
}

/// Every checklist template version, by id, newest version first.
pub async fn templates(
    store: &dyn Store,
) -> Result<Vec<fieldcheck_domain::checklist::ChecklistTemplate>, SetupError> {
    let (_, bundle) = store.reference().await?.unwrap_or_default();
    let mut out = bundle.templates;
    out.sort_by(|a, b| a.id.cmp(&b.id).then(b.version.cmp(&a.version)));
    Ok(out)
}

/// The template workbook: one example row per sheet and the sheet explaining each column.
pub fn template_workbook() -> Result<Vec<u8>, SetupError> {
    fieldcheck_refdata::workbook_zh(&fieldcheck_refdata::example_bundle())
        .map_err(|e| SetupError::Unreadable(e.to_string()))
}

// ---------------------------------------------------------------------------------------
// Users and devices

/// Every device token, grouped by device (latest enrollment first).
pub async fn devices(store: &dyn Store) -> Result<Vec<DeviceRow>, SetupError> {
    let rows = store
        .select(&[Select {
            // The app of the token used last (a device enrolled twice keeps both tokens).
            sql: "SELECT device_id, user_id, MAX(device_name), MAX(device_tag), \
                  MIN(created_at), MAX(last_used_at), \
                  CAST(SUM(CASE WHEN revoked_at IS NULL THEN 1 ELSE 0 END) AS BIGINT), \
                  (SELECT a.app_version FROM tokens a WHERE a.device_id = tokens.device_id \
                   AND a.user_id = tokens.user_id AND a.app_version IS NOT NULL \
                   ORDER BY COALESCE(a.last_used_at, a.created_at) DESC LIMIT 1) \
                  FROM tokens WHERE device_id IS NOT NULL \
                  GROUP BY device_id, user_id ORDER BY MIN(created_at) DESC, device_id"
                .into(),
            args: vec![],
            columns: vec![
                Col::Text,
                Col::Text,
                Col::Text,
                Col::Text,
                Col::Int,
                Col::Int,
                Col::Int,
                Col::Text,
            ],
        }])
        .await?;
    Ok(rows[0]
        .iter()
        .map(|r| DeviceRow {
            device_id: text(&r[0]),
            user_id: text(&r[1]),
            name: text(&r[2]),
            tag: r[3].text().map(str::to_owned),
            enrolled_at_ms: r[4].int(),
            last_sync_ms: r[5].opt_int(),
            app_version: r[7].text().map(str::to_owned),
            revoked: r[6].int() == 0,
        })
        .collect())
}

fn text(v: &Value) -> String {
    v.text().unwrap_or_default().to_owned()
}

/// Every user the server knows (in the reference data or left out of it), with their
/// devices, by id.
pub async fn list_users(store: &dyn Store) -> Result<Vec<UserRow>, SetupError> {
    let rows = store
        .select(&[Select {
            sql: "SELECT user_json, disabled_at, removed_at, \
                  CAST(CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) \
                  FROM users ORDER BY id"
                .into(),
            args: vec![],
            columns: vec![Col::Text, Col::Int, Col::Int, Col::Int],
        }])
        .await?;
    let devices = devices(store).await?;
    let mut out = Vec::new();
    for r in &rows[0] {
        let user: User = serde_json::from_str(r[0].text().unwrap_or("{}"))
            .map_err(|e| StoreError::Corrupt(format!("users.user_json: {e}")))?;
        out.push(UserRow {
            devices: devices
                .iter()
                .filter(|d| d.user_id == user.id)
                .cloned()
                .collect(),
            id: user.id,
            name: user.name,
            role: user.role,
            unit_id: user.unit_id,
            district_ids: user.district_ids,
            phone: user.phone,
            disabled: r[1].opt_int().is_some(),
            removed: r[2].opt_int().is_some(),
            has_password: r[3].int() == 1,
        });
    }
    Ok(out)
}

/// A text field as stored: trimmed, and none when nothing is left (`""` clears a field).
fn empty_none(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn check_password(p: &str) -> Result<(), SetupError> {
    let n = p.chars().count();
    if !(8..=1024).contains(&n) {
        return Err(SetupError::InvalidUser(
            "a password needs 8 to 1024 characters".into(),
        ));
    }
    Ok(())
}

/// A user record the reference data can hold: an id of letters, digits, `-`, `_`, `.`;
/// no formula text; units and districts that exist (the bundle check when it is stored).
fn check_user(u: &User) -> Result<(), SetupError> {
    let id_ok = !u.id.is_empty()
        && u.id.len() <= 64
        && u.id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if !id_ok {
        return Err(SetupError::InvalidUser(format!(
            "user id {:?}: 1 to 64 letters, digits, - _ . @",
            u.id
        )));
    }
    if u.name.trim().is_empty() || u.name.chars().count() > 64 {
        return Err(SetupError::InvalidUser(
            "a name of 1 to 64 characters".into(),
        ));
    }
    for v in std::iter::once(&u.name).chain(u.phone.iter()) {
        if looks_like_formula(v) {
            return Err(SetupError::InvalidUser(format!(
                "{v:?} starts like a spreadsheet formula"
            )));
        }
    }
    Ok(())
}

/// Changes the current reference data by `change`, as the next version.
async fn store_reference(
    store: &dyn Store,
    invalid: fn(String) -> SetupError,
    change: impl FnOnce(&mut ReferenceBundle) -> Result<(), SetupError>,
) -> Result<u64, SetupError> {
    let (version, mut bundle) = store.reference().await?.unwrap_or_default();
    change(&mut bundle)?;
    put_if(store, &bundle, version, invalid).await
}

/// Adds a user to the reference data (a new version; devices get them on their next sync),
/// with a password when given.
pub async fn add_user(
    store: &dyn Store,
    actor: &str,
    input: UserInput,
) -> Result<UserRow, SetupError> {
    let user = User {
        id: input.id.clone().unwrap_or_default().trim().to_owned(),
        name: input.name.clone().unwrap_or_default().trim().to_owned(),
        role: input
            .role
            .ok_or_else(|| SetupError::InvalidUser("a role is required".into()))?,
        unit_id: input.unit_id.as_deref().and_then(empty_none),
        district_ids: input.district_ids.clone().unwrap_or_default(),
        phone: input.phone.as_deref().and_then(empty_none),
    };
    check_user(&user)?;
    if let Some(p) = &input.password {
        check_password(p)?;
    }
    if store.user(&user.id).await?.is_some() {
        return Err(SetupError::UserExists(user.id));
    }
    let added = user.clone();
    store_reference(store, SetupError::InvalidUser, |b| {
        b.users.push(added);
        Ok(())
    })
    .await?;
    if let Some(p) = &input.password {
        store.put_user(&user, Some(&auth::hash_password(p))).await?;
    }
    audit(
        store,
        actor,
        "user.add",
        &user.id,
        None,
        Some(serde_json::to_value(&user).unwrap_or_default()),
    )
    .await?;
    user_row(store, &user.id).await
}

/// Changes a user's fields (a new reference version) and, when given, their password.
pub async fn edit_user(
    store: &dyn Store,
    actor: &str,
    id: &str,
    input: UserInput,
) -> Result<UserRow, SetupError> {
    let (_, bundle) = store.reference().await?.unwrap_or_default();
    let before = bundle
        .users
        .iter()
        .find(|u| u.id == id)
        .cloned()
        .ok_or_else(|| SetupError::UnknownUser(id.to_owned()))?;
    if input.id.as_deref().is_some_and(|n| n != id) {
        return Err(SetupError::InvalidUser(
            "a user's id cannot change (records name it); add a new user".into(),
        ));
    }
    let mut user = before.clone();
    if let Some(n) = input.name.clone() {
        user.name = n.trim().to_owned();
    }
    if let Some(r) = input.role {
        if actor == id && before.role == Role::Admin && r != Role::Admin {
            return Err(SetupError::SelfLockout(
                "you cannot take the admin role from yourself; another admin can".into(),
            ));
        }
        user.role = r;
    }
    if let Some(u) = &input.unit_id {
        user.unit_id = empty_none(u);
    }
    if let Some(d) = input.district_ids.clone() {
        user.district_ids = d;
    }
    if let Some(p) = &input.phone {
        user.phone = empty_none(p);
    }
    check_user(&user)?;
    if let Some(p) = &input.password {
        check_password(p)?;
    }
    if user != before {
        let changed = user.clone();
        store_reference(store, SetupError::InvalidUser, |b| {
            if let Some(slot) = b.users.iter_mut().find(|u| u.id == changed.id) {
                *slot = changed;
            }
            Ok(())
        })
        .await?;
    }
    if let Some(p) = &input.password {
        store.put_user(&user, Some(&auth::hash_password(p))).await?;
    }
    audit(
        store,
        actor,
        "user.edit",
        id,
        Some(serde_json::to_value(&before).unwrap_or_default()),
        Some(serde_json::json!({
            "user": user,
            "password_changed": input.password.is_some(),
        })),
    )
    .await?;
    user_row(store, id).await
}

async fn user_row(store: &dyn Store, id: &str) -> Result<UserRow, SetupError> {
    list_users(store)
        .await?
        .into_iter()
        .find(|u| u.id == id)
        .ok_or_else(|| SetupError::UnknownUser(id.to_owned()))
}

/// Disables (or enables) a user: the same store call as `/admin/users/{id}/disable`. A
/// disabled user's every token is refused from the next request (`user_disabled`); their
/// console sessions end.
pub async fn set_disabled(
    store: &dyn Store,
    actor: &str,
    id: &str,
    disabled: bool,
) -> Result<UserRow, SetupError> {
    if disabled && actor == id {
        return Err(SetupError::SelfLockout(
            "you cannot disable yourself; another admin can".into(),
        ));
    }
    let before = store
        .user(id)
        .await?
        .ok_or_else(|| SetupError::UnknownUser(id.to_owned()))?;
    store.set_user_disabled(id, disabled, now_ms()).await?;
    audit(
        store,
        actor,
        if disabled {
            "user.disable"
        } else {
            "user.enable"
        },
        id,
        Some(serde_json::json!({"disabled": before.disabled})),
        Some(serde_json::json!({"disabled": disabled})),
    )
    .await?;
    user_row(store, id).await
}

/// Sets a new password (a random one when none is given, returned once). Enrolled devices
/// keep working (their tokens are not the password); revoke them separately if needed.
pub async fn reset_password(
    store: &dyn Store,
    actor: &str,
    id: &str,
    password: Option<String>,
) -> Result<String, SetupError> {
    let stored = store
        .user(id)
        .await?
        .ok_or_else(|| SetupError::UnknownUser(id.to_owned()))?;
    let password = match password {
        Some(p) => {
            check_password(&p)?;
            p
        }
        None => auth::new_token().chars().take(16).collect(),
    };
    store
        .put_user(&stored.user, Some(&auth::hash_password(&password)))
        .await?;
    audit(store, actor, "user.reset_password", id, None, None).await?;
    Ok(password)
}

/// Issues a one-time enrollment code for `user_id` (the bearer API's
/// `/admin/enroll-codes` calls this too). `server` is the address devices use.
pub async fn issue_enroll_code(
    store: &dyn Store,
    actor: &str,
    user_id: &str,
    ttl_minutes: u32,
    server: &str,
) -> Result<EnrollCode, SetupError> {
    if ttl_minutes == 0 || ttl_minutes > MAX_CODE_TTL_MINUTES {
        return Err(SetupError::InvalidUser(format!(
            "ttl_minutes must be between 1 and {MAX_CODE_TTL_MINUTES}, got {ttl_minutes}"
        )));
    }
    let stored = store
        .user(user_id)
        .await?
        .ok_or_else(|| SetupError::UnknownUser(user_id.to_owned()))?;
    if !stored.active() {
        return Err(SetupError::InvalidUser(format!(
            "user {user_id} is disabled or no longer in the reference data"
        )));
    }
    let code = auth::new_enroll_code();
    let expires_at_ms = now_ms() + i64::from(ttl_minutes) * 60_000;
    store
        .create_enroll_code(
            &auth::hash_secret(&auth::normalize_enroll_code(&code)),
            user_id,
            expires_at_ms,
        )
        .await?;
    let uri = crate::qr::enroll_uri(server, &code);
    let qr_svg = crate::qr::svg(&uri).map_err(|e| SetupError::InvalidUser(e.to_string()))?;
    audit(
        store,
        actor,
        "enroll_code.issue",
        user_id,
        None,
        Some(serde_json::json!({"expires_at_ms": expires_at_ms})),
    )
    .await?;
    Ok(EnrollCode {
        code,
        user_id: user_id.to_owned(),
        expires_at_ms,
        uri,
        qr_svg,
    })
}

/// Revokes every token of a device (the store call `/admin/devices/{id}/revoke` makes).
pub async fn revoke_device(
    store: &dyn Store,
    actor: &str,
    device_id: Uuid,
) -> Result<u64, SetupError> {
    let n = store.revoke_device(device_id, now_ms()).await?;
    audit(
        store,
        actor,
        "device.revoke",
        &device_id.to_string(),
        None,
        Some(serde_json::json!({"tokens_revoked": n})),
    )
    .await?;
    Ok(n)
}

// ---------------------------------------------------------------------------------------
// Audit

/// Notes a setup change.
pub async fn audit(
    store: &dyn Store,
    actor: &str,
    action: &str,
    target: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), SetupError> {
    let json = |v: Option<serde_json::Value>| v.map(|v| v.to_string());
    let mut args = vec![
        Arg::Int(now_ms()),
        Arg::Text(actor.to_owned()),
        Arg::Text(action.to_owned()),
        Arg::Text(target.to_owned()),
    ];
    // NULLs through the generic statement runner: an empty text stands for none.
    args.push(Arg::Text(json(before).unwrap_or_default()));
    args.push(Arg::Text(json(after).unwrap_or_default()));
    store
        .write(&[Select {
            sql: "INSERT INTO audit (at, actor, action, target, before_json, after_json) \
                  VALUES ($1, $2, $3, $4, NULLIF($5, ''), NULLIF($6, ''))"
                .into(),
            args,
            columns: vec![],
        }])
        .await?;
    Ok(())
}

/// The newest audit entries first, `limit` (1..=200) from `offset`.
pub async fn audit_page(
    store: &dyn Store,
    limit: u32,
    offset: u64,
) -> Result<AuditPage, SetupError> {
    let limit = limit.clamp(1, 200);
    let rows = store
        .select(&[
            Select {
                sql: "SELECT COUNT(*) FROM audit".into(),
                args: vec![],
                columns: vec![Col::Int],
            },
            Select {
                sql: "SELECT id, at, actor, action, target, before_json, after_json FROM audit \
                      ORDER BY at DESC, id DESC LIMIT $1 OFFSET $2"
                    .into(),
                args: vec![
                    Arg::Int(i64::from(limit)),
                    Arg::Int(i64::try_from(offset).unwrap_or(i64::MAX)),
                ],
                columns: vec![
                    Col::Int,
                    Col::Int,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                ],
            },
        ])
        .await?;
    let parse = |v: &Value| v.text().and_then(|t| serde_json::from_str(t).ok());
    Ok(AuditPage {
        total: rows[0].first().map_or(0, |r| r[0].count()),
        entries: rows[1]
            .iter()
            .map(|r| AuditEntry {
                id: r[0].int(),
                at_ms: r[1].int(),
                actor: text(&r[2]),
                action: text(&r[3]),
                target: text(&r[4]),
                before: parse(&r[5]),
                after: parse(&r[6]),
            })
            .collect(),
    })
}
