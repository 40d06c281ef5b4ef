//! `fieldcheck-server serve --config fieldcheck.toml` and `fieldcheck-server demo`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fieldcheck_server::{Config, demo};

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
    /// Demo server: SQLite under ./data, the demo city, printed logins and enrollment codes.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: String,
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
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
        Command::Demo { bind, data_dir } => {
            let mut config = Config::load(None)?;
            config.bind = bind;
            config.database_url = format!("sqlite://{}/fieldcheck.db", data_dir.display());
            config.blob_dir = data_dir.join("blobs");
            let store = fieldcheck_server::open_store(&config.database_url).await?;
            let logins = demo::seed(store.as_ref(), chrono::Utc::now().timestamp_millis()).await?;
            let listener = tokio::net::TcpListener::bind(&config.bind)
                .await
                .with_context(|| format!("cannot bind {}", config.bind))?;
            let addr = listener.local_addr()?;
            println!("FieldCheck demo server");
            println!("  API:       http://{addr}/api/v1");
            println!("  database:  {}", config.database_url);
            println!("  password of every demo user: {}", demo::DEMO_PASSWORD);
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

async fn shutdown_signal() {
    // If the handler cannot be installed, run until killed.
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
