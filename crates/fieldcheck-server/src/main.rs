//! `fieldcheck-server serve --config fieldcheck.toml` and `fieldcheck-server demo`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fieldcheck_domain::role::Role;
use fieldcheck_server::config::LogFormat;
use fieldcheck_server::setup::cli as setup_cli;
use fieldcheck_server::store::PgStore;
use fieldcheck_server::{Config, Store, backup, demo};

#[derive(Parser)]
#[command(
    name = "fieldcheck-server",
    version,
    about = "FieldCheck central server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the sync API (defaults < TOML file < FIELDCHECK_* environment).
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Demo server: SQLite under ./data, the demo city with eight weeks of problems (on an
    /// empty ledger), printed logins and enrollment codes.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: String,
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
        /// Problems in the demo city's ledger when it starts empty (0: an empty ledger).
        #[arg(long, env = "FIELDCHECK_DEMO_PROBLEMS", default_value_t = 800)]
        problems: usize,
        /// The demo city's seed (the same seed, the same city).
        #[arg(long, default_value_t = 14)]
        seed: u64,
        /// Another database than SQLite under the data directory (`postgres://…`).
        #[arg(long)]
        database_url: Option<String>,
        /// The PostgreSQL schema to keep the demo in (created when missing), e.g. one per test
        /// run.
        #[arg(long, requires = "database_url")]
        pg_schema: Option<String>,
    },
    /// Writes an export of the ledger or a PDF report (the whole city, as an admin sees it) to
    /// a file: `export --kind xlsx --out 台账.xlsx --filter status=dispatched,rectifying`,
    /// `export --kind bulletin --period week --from 2026-11-23 --out 周通报.pdf`.
    Export {
        #[arg(long)]
        config: Option<PathBuf>,
        /// xlsx, csv, geojson, photos_zip, or a report: case_sheets, bulletin, point_compliance
        #[arg(long)]
        kind: String,
        #[arg(long)]
        out: PathBuf,
        /// A ledger filter field as `name=value` (the console ledger's query fields), repeated.
        #[arg(long = "filter", value_name = "NAME=VALUE")]
        filters: Vec<String>,
        /// case_sheets: a problem's id, repeated (instead of a filter).
        #[arg(long = "problem", value_name = "ID")]
        problems: Vec<uuid::Uuid>,
        /// bulletin: week, month (default), quarter or custom.
        #[arg(long)]
        period: Option<String>,
        /// bulletin: any day of the period (default today), or custom's first day (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// bulletin, custom: the last day (YYYY-MM-DD).
        #[arg(long)]
        to: Option<String>,
    },
    /// Imports reference data (XLSX, CSV, JSON) into the configured database as one new
    /// version, after showing what changes; errors are listed and nothing changes.
    Import {
        file: PathBuf,
        /// Show what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        on: SetupOn,
    },
    /// Users: `user list`, `user add ID --name … --role …`, `user edit ID …`,
    /// `user disable ID`, `user enable ID`, `user reset-password ID [--password …]`.
    User {
        #[command(subcommand)]
        action: UserAction,
        #[command(flatten)]
        on: SetupOn,
    },
    /// Issues a one-time enrollment code for a user (printed), with its QR code (`--qr
    /// FILE.png` or `.svg`).
    EnrollCode {
        user: String,
        #[arg(long)]
        qr: Option<PathBuf>,
        #[arg(long, default_value_t = fieldcheck_protocol::console::setup::DEFAULT_CODE_TTL_MINUTES)]
        ttl_minutes: u32,
        #[command(flatten)]
        on: SetupOn,
    },
    /// Open311 api_keys for other city systems: `open311-key add NAME`, `open311-key list`,
    /// `open311-key revoke ID`.
    #[command(name = "open311-key")]
    Open311Key {
        #[command(subcommand)]
        action: Open311KeyAction,
        #[command(flatten)]
        on: SetupOn,
    },
    /// Backs up the database and the photos into a new directory while the server serves:
    /// SQLite with `VACUUM INTO`, PostgreSQL with `pg_dump`, a local blob store copied, then
    /// `manifest.json` (README "Backups").
    Backup {
        #[arg(long)]
        to: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
        /// The PostgreSQL schema to back up (as `demo --pg-schema`).
        #[arg(long)]
        pg_schema: Option<String>,
    },
    /// Restores a backup made by `backup` (with the server stopped) and gives the data a new
    /// instance id, so that every device sends again what came after the backup.
    Restore {
        #[arg(long)]
        from: PathBuf,
        /// Replace a database (and photos) that already hold data.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        pg_schema: Option<String>,
    },
    /// Builds the city's offline map package (MBTiles) from a tile server for an area and zoom
    /// range, e.g. `map-package --bbox 119.20,26.00,119.40,26.15 --zoom 12-17 --url
    /// 'https://tile.openstreetmap.org/{z}/{x}/{y}.png' --out city.mbtiles`; serve it with the
    /// `map_package` setting and the devices download it at their next sync.
    MapPackage {
        /// The area, WGS-84: west,south,east,north.
        #[arg(long)]
        bbox: String,
        /// Zoom levels, `MIN-MAX` or one level.
        #[arg(long, default_value = "12-17")]
        zoom: String,
        /// Tile URL with {z} {x} {y} (and {s} with --subdomains), as in Leaflet.
        #[arg(long)]
        url: String,
        #[arg(long, value_delimiter = ',')]
        subdomains: Vec<String>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "城市离线地图")]
        name: String,
        /// Credit the tile source asks for (shown on the phones' map).
        #[arg(long, default_value = "")]
        attribution: String,
        /// Requests in flight at once (keep it polite for a shared tile server).
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Refuse a larger area before fetching anything.
        #[arg(long, default_value_t = 200_000)]
        max_tiles: u64,
    },
    /// Lists enrolled devices (last sync), or revokes one (`--revoke DEVICE_ID`).
    Devices {
        #[arg(long)]
        revoke: Option<String>,
        #[command(flatten)]
        on: SetupOn,
    },
}

/// Where a setup subcommand works, and who it is audited as.
#[derive(clap::Args)]
struct SetupOn {
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// A PostgreSQL schema to work in (as `demo --pg-schema`).
    #[arg(long, global = true)]
    pg_schema: Option<String>,
    /// The name the audit records for the change.
    #[arg(long, global = true, default_value = "cli")]
    actor: String,
}

#[derive(Subcommand)]
enum Open311KeyAction {
    /// Issues a key (printed once) with the volunteer user its reports come from.
    Add {
        name: String,
    },
    List,
    Revoke {
        id: String,
    },
}

#[derive(Subcommand)]
enum UserAction {
    List,
    Add {
        id: String,
        #[command(flatten)]
        fields: UserFields,
    },
    Edit {
        id: String,
        #[command(flatten)]
        fields: UserFields,
    },
    Disable {
        id: String,
    },
    Enable {
        id: String,
    },
    ResetPassword {
        id: String,
        /// Without it, a random password is printed.
        #[arg(long)]
        password: Option<String>,
    },
}

#[derive(clap::Args)]
struct UserFields {
    #[arg(long)]
    name: Option<String>,
    /// admin, inspector, unit_handler or volunteer
    #[arg(long)]
    role: Option<String>,
    #[arg(long)]
    unit: Option<String>,
    /// Comma-separated district ids.
    #[arg(long)]
    districts: Option<String>,
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    password: Option<String>,
}

impl From<UserFields> for setup_cli::UserArgs {
    fn from(f: UserFields) -> Self {
        setup_cli::UserArgs {
            name: f.name,
            role: f.role,
            unit: f.unit,
            districts: f.districts,
            phone: f.phone,
            password: f.password,
        }
    }
}

/// Runs a setup subcommand (`setup::cli`) on the configured database.
async fn setup_command(on: SetupOn, run: SetupRun) -> anyhow::Result<()> {
    let config = Config::load(on.config.as_deref())?;
    let store = setup_cli::open(&config, on.pg_schema.as_deref()).await?;
    let s = store.as_ref();
    let a = on.actor.as_str();
    let done = match run {
        SetupRun::Import { file, dry_run } => setup_cli::import(s, &file, dry_run, a).await,
        SetupRun::User(UserAction::List) => setup_cli::user_list(s).await,
        SetupRun::User(UserAction::Add { id, fields }) => {
            setup_cli::user_add(s, a, id, fields.into()).await
        }
        SetupRun::User(UserAction::Edit { id, fields }) => {
            setup_cli::user_edit(s, a, id, fields.into()).await
        }
        SetupRun::User(UserAction::Disable { id }) => {
            setup_cli::user_disable(s, a, &id, false).await
        }
        SetupRun::User(UserAction::Enable { id }) => setup_cli::user_disable(s, a, &id, true).await,
        SetupRun::User(UserAction::ResetPassword { id, password }) => {
            setup_cli::user_reset_password(s, a, &id, password).await
        }
        SetupRun::EnrollCode { user, qr, ttl } => {
            setup_cli::enroll_code(s, &config, a, &user, ttl, qr.as_deref()).await
        }
        SetupRun::Devices { revoke } => setup_cli::devices(s, a, revoke.as_deref()).await,
        SetupRun::Open311Key(Open311KeyAction::Add { name }) => {
            setup_cli::open311_key_add(s, a, &name).await
        }
        SetupRun::Open311Key(Open311KeyAction::List) => setup_cli::open311_key_list(s).await,
        SetupRun::Open311Key(Open311KeyAction::Revoke { id }) => {
            setup_cli::open311_key_revoke(s, a, &id).await
        }
    };
    store.shutdown().await;
    done
}

enum SetupRun {
    Import {
        file: PathBuf,
        dry_run: bool,
    },
    User(UserAction),
    EnrollCode {
        user: String,
        qr: Option<PathBuf>,
        ttl: u32,
    },
    Devices {
        revoke: Option<String>,
    },
    Open311Key(Open311KeyAction),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => {
            let config = Config::load(config.as_deref())?;
            fieldcheck_server::ops::logging::init(config.log_format);
            tracing::info!(?config, "starting");
            let listener = tokio::net::TcpListener::bind(&config.bind)
                .await
                .with_context(|| format!("cannot bind {}", config.bind))?;
            let addr = listener.local_addr()?;
            match config.log_format {
                // Every line of a JSON log is JSON: the address is a log event.
                LogFormat::Json => tracing::info!(addr = %addr, "FieldCheck server listening"),
                LogFormat::Text => println!("FieldCheck server listening on http://{addr}"),
            }
            fieldcheck_server::serve(config, listener, shutdown_signal()).await
        }
        Command::Import { file, dry_run, on } => {
            setup_command(on, SetupRun::Import { file, dry_run }).await
        }
        Command::User { action, on } => setup_command(on, SetupRun::User(action)).await,
        Command::EnrollCode {
            user,
            qr,
            ttl_minutes,
            on,
        } => {
            setup_command(
                on,
                SetupRun::EnrollCode {
                    user,
                    qr,
                    ttl: ttl_minutes,
                },
            )
            .await
        }
        Command::Devices { revoke, on } => setup_command(on, SetupRun::Devices { revoke }).await,
        Command::MapPackage {
            bbox,
            zoom,
            url,
            subdomains,
            out,
            name,
            attribution,
            concurrency,
            max_tiles,
        } => {
            let bbox: Vec<f64> = bbox
                .split(',')
                .map(|v| v.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .with_context(|| format!("--bbox {bbox:?}: expected west,south,east,north"))?;
            let bbox: [f64; 4] = bbox
                .try_into()
                .map_err(|_| anyhow::anyhow!("--bbox: expected four numbers"))?;
            let (min, max) = zoom.split_once('-').unwrap_or((&zoom, &zoom));
            let zoom_of = |z: &str| {
                z.trim()
                    .parse::<u8>()
                    .with_context(|| format!("--zoom {zoom:?}: expected MIN-MAX, e.g. 12-17"))
            };
            let opts = fieldcheck_tiles::BuildOptions {
                url_template: url,
                subdomains,
                bbox,
                min_zoom: zoom_of(min)?,
                max_zoom: zoom_of(max)?,
                out: out.clone(),
                name,
                attribution,
                concurrency,
                max_tiles,
                user_agent: format!("fieldcheck-server/{}", env!("CARGO_PKG_VERSION")),
            };
            let total = opts.tile_count()?;
            println!("{total} tiles to fetch into {}", out.display());
            let mut shown = 0u64;
            let report = fieldcheck_tiles::build(opts, |p| {
                // About every 5 %, and the end.
                if p.done == p.total || p.done >= shown + p.total.div_ceil(20) {
                    shown = p.done;
                    println!(
                        "  {}/{} tiles ({} not on the server)",
                        p.done, p.total, p.missing
                    );
                }
            })
            .await?;
            println!(
                "wrote {} ({} tiles, {} missing, {:.1} MiB of {} tiles) in {:.1} s",
                out.display(),
                report.tiles,
                report.missing,
                report.bytes as f64 / 1024.0 / 1024.0,
                report.format.as_str(),
                report.seconds
            );
            Ok(())
        }
        Command::Open311Key { action, on } => setup_command(on, SetupRun::Open311Key(action)).await,
        Command::Backup {
            to,
            config,
            pg_schema,
        } => {
            let config = Config::load(config.as_deref())?;
            let started = std::time::Instant::now();
            let m = backup::backup(&config, pg_schema.as_deref(), &to).await?;
            println!(
                "backup of {} events (newest seq {}, instance {}) written to {} in {:.1} s",
                m.events,
                m.newest_seq,
                m.instance,
                to.display(),
                started.elapsed().as_secs_f64()
            );
            match &m.blobs {
                backup::BlobsBackup::Copied { files, bytes, .. } => {
                    println!("photos: {files} files, {bytes} bytes copied");
                }
                backup::BlobsBackup::External { store } => println!(
                    "photos: not copied; back up {store} with the object store's own tools"
                ),
            }
            Ok(())
        }
        Command::Restore {
            from,
            force,
            config,
            pg_schema,
        } => {
            let config = Config::load(config.as_deref())?;
            let r = backup::restore(&config, pg_schema.as_deref(), &from, force).await?;
            println!(
                "restored the backup of {} ({} events, newest seq {}, {} photos copied)",
                r.manifest.created_at, r.manifest.events, r.manifest.newest_seq, r.blobs_copied
            );
            println!(
                "new instance id {}: devices send again what came after the backup on their \
                 next sync; devices enrolled after it must enroll again",
                r.instance
            );
            Ok(())
        }
        Command::Export {
            config,
            kind,
            out,
            filters,
            problems,
            period,
            from,
            to,
        } => {
            let config = Config::load(config.as_deref())?;
            let kind = fieldcheck_export::ExportKind::parse(&kind).with_context(|| {
                format!(
                    "--kind {kind:?}: expected xlsx, csv, geojson, photos_zip, case_sheets, \
                     bulletin or point_compliance"
                )
            })?;
            let mut filter = serde_json::Map::new();
            for f in filters {
                let (k, v) = f
                    .split_once('=')
                    .with_context(|| format!("--filter {f:?}: expected NAME=VALUE"))?;
                // Booleans (`overdue`, `conflicts`) as JSON booleans, everything else as text.
                let v = match v {
                    "true" => serde_json::Value::Bool(true),
                    "false" => serde_json::Value::Bool(false),
                    _ => serde_json::Value::String(v.to_owned()),
                };
                filter.insert(k.to_owned(), v);
            }
            let store = fieldcheck_server::open_store(&config.database_url).await?;
            let blobs = fieldcheck_server::blobs::from_config(&config)?;
            let started = std::time::Instant::now();
            let rows = if kind.is_report() {
                let req = fieldcheck_protocol::console::exports::ExportRequest {
                    kind,
                    filter: (!filter.is_empty()).then_some(serde_json::Value::Object(filter)),
                    ids: (!problems.is_empty()).then_some(problems),
                    period,
                    from,
                    to,
                };
                let (rows, _) = fieldcheck_server::api::console_reports::report_to_file(
                    store, blobs, &config, &req, &out,
                )
                .await
                .map_err(|e| anyhow::anyhow!("[{}] {e}", e.code()))?;
                rows
            } else {
                if !problems.is_empty() || period.is_some() || from.is_some() || to.is_some() {
                    anyhow::bail!(
                        "--problem, --period, --from and --to are for the PDF reports; \
                         a {} export takes --filter",
                        kind.as_str()
                    );
                }
                fieldcheck_server::api::console_exports::export_to_file(
                    store,
                    blobs,
                    &config,
                    kind,
                    Some(serde_json::Value::Object(filter)),
                    &out,
                )
                .await
                .map_err(|e| anyhow::anyhow!("[{}] {e}", e.code()))?
            };
            println!(
                "{rows} {} written to {} in {:.1} s",
                if kind.is_report() { "records" } else { "rows" },
                out.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Demo {
            bind,
            data_dir,
            problems,
            seed,
            database_url,
            pg_schema,
        } => {
            let mut config = Config::load(None)?;
            fieldcheck_server::ops::logging::init(config.log_format);
            config.bind = bind;
            config.database_url = database_url
                .unwrap_or_else(|| format!("sqlite://{}/fieldcheck.db", data_dir.display()));
            config.blob_dir = data_dir.join("blobs");
            let store: Arc<dyn Store> = match &pg_schema {
                Some(schema) => {
                    create_pg_schema(&config.database_url, schema).await?;
                    Arc::new(PgStore::open(&config.database_url, Some(schema)).await?)
                }
                None => fieldcheck_server::open_store(&config.database_url).await?,
            };
            let logins = demo::seed(store.as_ref(), chrono::Utc::now().timestamp_millis()).await?;
            let team = demo::seed_volunteer_team(store.as_ref()).await?;
            let blobs = fieldcheck_server::blobs::from_config(&config)?;
            let started = std::time::Instant::now();
            let plan = demo::city::CityPlan {
                seed,
                problems,
                ..demo::city::CityPlan::demo(chrono::Utc::now())
            };
            let city =
                demo::seed_city_if_empty(store.as_ref(), blobs.as_ref(), &config.blob_dir, &plan)
                    .await
                    .map_err(|e| anyhow::anyhow!("[{}] demo city: {e}", e.code()))?;
            let listener = tokio::net::TcpListener::bind(&config.bind)
                .await
                .with_context(|| format!("cannot bind {}", config.bind))?;
            let addr = listener.local_addr()?;
            println!("FieldCheck demo server");
            println!("  API:       http://{addr}/api/v1");
            println!(
                "  database:  {}{}",
                fieldcheck_server::config::redact_url(&config.database_url),
                pg_schema
                    .as_deref()
                    .map(|s| format!(" (schema {s})"))
                    .unwrap_or_default()
            );
            match &city {
                Some(r) => println!(
                    "  city:      {} problems, {} inspections, {} events, {} photos over the \
                     last {} days (seed {seed}, {:.1} s)",
                    r.problems,
                    r.inspections,
                    r.events,
                    r.photos,
                    plan.days,
                    started.elapsed().as_secs_f64()
                ),
                None if problems == 0 => println!("  city:      none (--problems 0)"),
                None => println!("  city:      the ledger already holds data; kept as it is"),
            }
            println!("  password of every demo user: {}", demo::DEMO_PASSWORD);
            println!();
            // Each row starts with "login": scripts pick enrollment codes from rows that start
            // with the user id.
            println!("  Console (city office, units, inspectors): http://{addr}/console/");
            println!(
                "  Volunteers' report page ({}): {}",
                team.name,
                fieldcheck_server::api::volunteer::invite_url(
                    &format!("http://{addr}"),
                    &team.invite_code
                )
            );
            println!(
                "  {:<6} {:<16} {:<12} {:<14} password",
                "", "user", "name", "role"
            );
            for l in logins.iter().filter(|l| l.role != Role::Volunteer) {
                println!(
                    "  login  {:<16} {:<12} {:<14} {}",
                    l.user_id,
                    l.name,
                    l.role.as_str(),
                    demo::DEMO_PASSWORD
                );
            }
            println!();
            println!(
                "  {:<16} {:<12} {:<14} enrollment code",
                "user", "name", "role"
            );
            let qr_paths = demo::write_qr_pngs(
                &logins,
                &data_dir.join("enroll-qr"),
                &format!("http://{addr}"),
            )?;
            for (l, qr) in logins.iter().zip(&qr_paths) {
                println!(
                    "  {:<16} {:<12} {:<14} {}  QR: {}",
                    l.user_id,
                    l.name,
                    l.role.as_str(),
                    l.enroll_code,
                    qr.display()
                );
            }
            println!();
            println!("  device: fieldcheck enroll --server http://{addr} --code <code>");
            let served = fieldcheck_server::serve_with_store(
                config,
                store.clone(),
                listener,
                shutdown_signal(),
            )
            .await;
            store.shutdown().await;
            served
        }
    }
}

/// Creates the demo's PostgreSQL schema when it does not exist yet. The name goes into SQL
/// text, so only lower-case letters, digits and `_` are taken.
async fn create_pg_schema(url: &str, schema: &str) -> anyhow::Result<()> {
    let valid = !schema.is_empty()
        && schema.len() <= 63
        && !schema.starts_with(|c: char| c.is_ascii_digit())
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        anyhow::bail!("--pg-schema {schema:?}: lower-case letters, digits and _ only");
    }
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .with_context(|| {
            format!(
                "cannot connect to {}",
                fieldcheck_server::config::redact_url(url)
            )
        })?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}"
    )))
    .execute(&pool)
    .await?;
    pool.close().await;
    Ok(())
}

/// Ctrl-C or SIGTERM (what systemd, Docker and Kubernetes send to stop a service).
async fn shutdown_signal() {
    // If a handler cannot be installed, that signal is not waited for (the process stays
    // until killed by it).
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shell words of a command line: quotes group, an unquoted `#` starts a comment.
    fn words(line: &str) -> Vec<String> {
        let (mut out, mut word, mut quote, mut in_word) = (Vec::new(), String::new(), None, false);
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.push(c),
                (None, '\'' | '"') => {
                    quote = Some(c);
                    in_word = true;
                }
                (None, '#') if !in_word => break,
                (None, c) if c.is_whitespace() => {
                    if in_word {
                        out.push(std::mem::take(&mut word));
                    }
                    in_word = false;
                }
                (None, c) => {
                    word.push(c);
                    in_word = true;
                }
            }
        }
        if in_word {
            out.push(word);
        }
        out
    }

    /// The server's invocations a shell block of `text` holds (`sudo -u USER` dropped).
    fn invocations(text: &str) -> Vec<Vec<String>> {
        let mut in_block = false;
        let mut found = Vec::new();
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                in_block = !in_block;
                continue;
            }
            let mut w = words(line.trim().trim_start_matches("ExecStart="));
            if w.first().is_some_and(|s| s == "sudo") && w.get(1).is_some_and(|s| s == "-u") {
                w.drain(..3);
            }
            if (in_block || line.starts_with("ExecStart="))
                && w.first().is_some_and(|s| s.ends_with("fieldcheck-server"))
            {
                found.push(w);
            }
        }
        found
    }

    /// The deploy files and README's production section name real subcommands and flags.
    #[test]
    fn deploy_commands_parse() {
        let unit = include_str!("../../../deploy/fieldcheck-server.service");
        let serve = invocations(unit);
        assert_eq!(serve.len(), 1, "one ExecStart");
        match Cli::try_parse_from(&serve[0]).map(|c| c.command) {
            Ok(Command::Serve { config: Some(path) }) => {
                assert_eq!(
                    path,
                    PathBuf::from("/etc/fieldcheck/fieldcheck-server.toml")
                );
            }
            Ok(_) => panic!("ExecStart does not run `serve --config`"),
            Err(e) => panic!("ExecStart: {e}"),
        }

        let readme = include_str!("../../../README.md");
        let section = readme
            .split("\n## ")
            .find(|s| s.starts_with("Running it in production"))
            .expect("README: a section `## Running it in production`");
        let commands = invocations(section);
        assert!(commands.len() >= 5, "{commands:?}");
        for c in &commands {
            if let Err(e) = Cli::try_parse_from(c) {
                panic!("README: `{}`: {e}", c.join(" "));
            }
        }
    }
}
