//! The server's setup subcommands (`import`, `user`, `enroll-code`, `devices`): parse in
//! `main.rs`, run here over the configured database through the same functions as the
//! console (`setup.rs`), print for a shell. Safe while a server runs on the database: every
//! change is one transaction, and the server reads the reference version on each request.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use fieldcheck_domain::role::Role;
use uuid::Uuid;

use super::SetupError;
use crate::Config;
use crate::store::Store;
use fieldcheck_protocol::console::setup::UserInput;

/// Opens the store the config names; `pg_schema` picks a PostgreSQL schema (tests, several
/// cities on one database).
pub async fn open(config: &Config, pg_schema: Option<&str>) -> anyhow::Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = match pg_schema {
        Some(schema) => {
            Arc::new(crate::store::PgStore::open(&config.database_url, Some(schema)).await?)
        }
        None => crate::open_store(&config.database_url).await?,
    };
    Ok(store)
}

fn fail(e: SetupError) -> anyhow::Error {
    match e {
        SetupError::Invalid(errors) => {
            let mut msg = format!(
                "[import_invalid] {} error(s); nothing changed:",
                errors.len()
            );
            for e in &errors {
                msg.push_str(&format!("\n  {}", row_error(e)));
            }
            anyhow::anyhow!(msg)
        }
        e => anyhow::anyhow!("[{}] {e}", e.code()),
    }
}

fn row_error(e: &fieldcheck_refdata::plan::RowError) -> String {
    let mut at = Vec::new();
    if let Some(s) = &e.sheet {
        at.push(format!("sheet {s}"));
    }
    if let Some(r) = e.row {
        at.push(format!("row {r}"));
    }
    if let Some(c) = &e.column {
        at.push(format!("column {c}"));
    }
    format!(
        "{} [{}] {} / {}",
        at.join(", "),
        e.code,
        e.message_zh,
        e.message_en
    )
}

/// `import FILE [--dry-run]`: the preview, then (unless a dry run) the apply against the
/// version the preview saw. Errors are listed and nothing changes (exit status 1).
pub async fn import(
    store: &dyn Store,
    file: &Path,
    dry_run: bool,
    actor: &str,
) -> anyhow::Result<()> {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .context("the file needs a name")?
        .to_owned();
    let format = super::format_of(&name).map_err(fail)?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let started = std::time::Instant::now();
    let (preview, _) = super::preview(store, &bytes, format, Some(&name))
        .await
        .map_err(fail)?;
    for c in &preview.changes {
        println!(
            "{:<11} added {:>6}  changed {:>6}  deactivated {:>6}  unchanged {:>6}",
            c.kind,
            c.added.len(),
            c.changed.len(),
            c.deactivated.len(),
            c.unchanged
        );
    }
    if !preview.errors.is_empty() {
        return Err(fail(SetupError::Invalid(preview.errors)));
    }
    if dry_run {
        println!(
            "dry run: nothing changed (reference version {}; {:.2} s)",
            preview.base_version,
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let applied = super::apply(
        store,
        actor,
        &bytes,
        format,
        Some(&name),
        Some(preview.base_version),
    )
    .await
    .map_err(fail)?;
    if applied.changed {
        println!(
            "applied: reference version {} ({:.2} s)",
            applied.version,
            started.elapsed().as_secs_f64()
        );
    } else {
        println!("nothing to change: reference version {}", applied.version);
    }
    Ok(())
}

/// `user list`.
pub async fn user_list(store: &dyn Store) -> anyhow::Result<()> {
    let users = super::list_users(store).await.map_err(fail)?;
    println!(
        "{:<16} {:<12} {:<13} {:<12} {:<9} {:>7}  last sync",
        "id", "name", "role", "unit", "state", "devices"
    );
    for u in users {
        let state = if u.removed {
            "removed"
        } else if u.disabled {
            "disabled"
        } else {
            "active"
        };
        let last = u.devices.iter().filter_map(|d| d.last_sync_ms).max();
        println!(
            "{:<16} {:<12} {:<13} {:<12} {:<9} {:>7}  {}",
            u.id,
            u.name,
            u.role.as_str(),
            u.unit_id.as_deref().unwrap_or("-"),
            state,
            u.devices.iter().filter(|d| !d.revoked).count(),
            last.and_then(chrono::DateTime::from_timestamp_millis)
                .map_or("-".to_owned(), |t| t.to_rfc3339())
        );
    }
    Ok(())
}

/// The fields of `user add|edit` as given on the command line.
#[derive(Debug, Default)]
pub struct UserArgs {
    pub name: Option<String>,
    pub role: Option<String>,
    pub unit: Option<String>,
    pub districts: Option<String>,
    pub phone: Option<String>,
    pub password: Option<String>,
}

impl UserArgs {
    fn input(self, id: Option<String>) -> anyhow::Result<UserInput> {
        let role = match self.role {
            Some(r) => Some(
                Role::ALL
                    .into_iter()
                    .find(|x| x.as_str() == r.trim())
                    .with_context(|| {
                        format!("--role {r:?}: admin, inspector, unit_handler or volunteer")
                    })?,
            ),
            None => None,
        };
        Ok(UserInput {
            id,
            name: self.name,
            role,
            unit_id: self.unit,
            district_ids: self.districts.map(|d| {
                d.split([',', '，', '、'])
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            }),
            phone: self.phone,
            password: self.password,
        })
    }
}

pub async fn user_add(
    store: &dyn Store,
    actor: &str,
    id: String,
    args: UserArgs,
) -> anyhow::Result<()> {
    let u = super::add_user(store, actor, args.input(Some(id))?)
        .await
        .map_err(fail)?;
    println!("added {} ({}, {})", u.id, u.name, u.role.as_str());
    Ok(())
}

pub async fn user_edit(
    store: &dyn Store,
    actor: &str,
    id: String,
    args: UserArgs,
) -> anyhow::Result<()> {
    let u = super::edit_user(store, actor, &id, args.input(None)?)
        .await
        .map_err(fail)?;
    println!("changed {} ({}, {})", u.id, u.name, u.role.as_str());
    Ok(())
}

pub async fn user_disable(
    store: &dyn Store,
    actor: &str,
    id: &str,
    enable: bool,
) -> anyhow::Result<()> {
    super::set_disabled(store, actor, id, !enable)
        .await
        .map_err(fail)?;
    println!(
        "{id} {}",
        if enable {
            "enabled"
        } else {
            "disabled: every token refused from now"
        }
    );
    Ok(())
}

pub async fn user_reset_password(
    store: &dyn Store,
    actor: &str,
    id: &str,
    password: Option<String>,
) -> anyhow::Result<()> {
    let given = password.is_some();
    let p = super::reset_password(store, actor, id, password)
        .await
        .map_err(fail)?;
    if given {
        println!("password of {id} changed");
    } else {
        println!("new password of {id}: {p}");
    }
    Ok(())
}

/// `enroll-code USER [--qr FILE]`: the code, and its QR code as PNG or SVG by the file's
/// extension.
pub async fn enroll_code(
    store: &dyn Store,
    config: &Config,
    actor: &str,
    user: &str,
    ttl_minutes: u32,
    qr: Option<&Path>,
) -> anyhow::Result<()> {
    let server = if config.public_url.is_empty() {
        format!("http://{}", config.bind)
    } else {
        config.public_url.clone()
    };
    let code = super::issue_enroll_code(store, actor, user, ttl_minutes, &server)
        .await
        .map_err(fail)?;
    println!("{}", code.code);
    eprintln!(
        "enrollment code of {user}, valid until {} for {server}",
        chrono::DateTime::from_timestamp_millis(code.expires_at_ms)
            .map_or(String::new(), |t| t.to_rfc3339())
    );
    if let Some(path) = qr {
        let svg = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
        let bytes = if svg {
            code.qr_svg.into_bytes()
        } else {
            crate::qr::png(&code.uri).map_err(|e| anyhow::anyhow!("{e}"))?
        };
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("QR code written to {}", path.display());
    }
    Ok(())
}

/// `devices [--revoke ID]`.
pub async fn devices(store: &dyn Store, actor: &str, revoke: Option<&str>) -> anyhow::Result<()> {
    if let Some(id) = revoke {
        let id = Uuid::parse_str(id)
            .with_context(|| format!("--revoke {id:?}: not a device id (UUID)"))?;
        let n = super::revoke_device(store, actor, id).await.map_err(fail)?;
        if n == 0 {
            bail!("device {id}: no working token (unknown or already revoked)");
        }
        println!("device {id} revoked ({n} token(s))");
        return Ok(());
    }
    println!(
        "{:<36} {:<16} {:<16} {:<6} {:<25} state",
        "device", "user", "name", "tag", "last sync"
    );
    for d in super::devices(store).await.map_err(fail)? {
        println!(
            "{:<36} {:<16} {:<16} {:<6} {:<25} {}",
            d.device_id,
            d.user_id,
            d.name,
            d.tag.as_deref().unwrap_or("-"),
            d.last_sync_ms
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map_or("-".to_owned(), |t| t.to_rfc3339()),
            if d.revoked { "revoked" } else { "active" }
        );
    }
    Ok(())
}

/// `open311-key add NAME`: prints the new key once (the server keeps only its hash).
pub async fn open311_key_add(store: &dyn Store, actor: &str, name: &str) -> anyhow::Result<()> {
    let issued = crate::open311::add_key(store, actor, name)
        .await
        .map_err(fail)?;
    println!("id:      {}", issued.key.id);
    println!("name:    {}", issued.key.name);
    println!(
        "user:    {} (volunteer; its reports show under this name)",
        issued.key.user_id
    );
    println!("api_key: {}", issued.api_key);
    println!("(shown only now: the server keeps its hash)");
    Ok(())
}

/// `open311-key list`.
pub async fn open311_key_list(store: &dyn Store) -> anyhow::Result<()> {
    println!("{:<14} {:<25} {:<25} state", "id", "name", "created");
    for k in crate::open311::list_keys(store).await? {
        println!(
            "{:<14} {:<25} {:<25} {}",
            k.id,
            k.name,
            chrono::DateTime::from_timestamp_millis(k.created_at_ms)
                .map_or("-".to_owned(), |t| t.to_rfc3339()),
            if k.revoked_at_ms.is_some() {
                "revoked"
            } else {
                "active"
            }
        );
    }
    Ok(())
}

/// `open311-key revoke ID`.
pub async fn open311_key_revoke(store: &dyn Store, actor: &str, id: &str) -> anyhow::Result<()> {
    match crate::open311::revoke_key(store, actor, id)
        .await
        .map_err(fail)?
    {
        Some(k) => println!("open311 key {} ({}) revoked", k.id, k.name),
        None => bail!("no open311 key {id}"),
    }
    Ok(())
}
