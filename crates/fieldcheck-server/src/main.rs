//! `fieldcheck-server serve --config fieldcheck.toml` and `fieldcheck-server demo`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fieldcheck_domain::role::Role;
use fieldcheck_server::store::PgStore;
use fieldcheck_server::{Config, Store, demo};

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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => {
            let config = Config::load(config.as_deref())?;
            tracing::info!(?config, "starting");
            let listener = tokio::net::TcpListener::bind(&config.bind)
                .await
                .with_context(|| format!("cannot bind {}", config.bind))?;
            println!(
                "FieldCheck server listening on http://{}",
                listener.local_addr()?
            );
            fieldcheck_server::serve(config, listener, shutdown_signal()).await
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
            fieldcheck_server::serve_with_store(config, store, listener, shutdown_signal()).await
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

async fn shutdown_signal() {
    // If the handler cannot be installed, run until killed.
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
