//! `fieldcheck-bridge`: serves a device database and the web UI on one local URL.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use fieldcheck_bridge::{BridgeConfig, serve};
use fieldcheck_core::Store;

#[derive(Parser, Debug)]
#[command(
    name = "fieldcheck-bridge",
    version,
    about = "FieldCheck local HTTP bridge for the web UI"
)]
struct Cli {
    /// The device database (created on first use).
    #[arg(
        long,
        env = "FIELDCHECK_DB",
        default_value = "data-dev/bridge/device.sqlite3"
    )]
    db: PathBuf,
    /// Address to listen on; port 0 picks a free port. Loopback only, unless --allow-remote.
    #[arg(long, env = "FIELDCHECK_BRIDGE_BIND", default_value = "127.0.0.1:8787")]
    bind: SocketAddr,
    /// Listen on a non-loopback --bind address: anyone on that network can then act as this
    /// device (there is no password). Only for a trusted test network.
    #[arg(long)]
    allow_remote: bool,
    /// The built UI directory (ui/dist).
    #[arg(long, env = "FIELDCHECK_UI_DIR")]
    ui: Option<PathBuf>,
    /// Load the demo city and sample problems, signed in as the demo inspector.
    #[arg(long)]
    demo: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    // Before opening anything: a refused address changes nothing on disk.
    match fieldcheck_bridge::guard::check_bind(cli.bind, cli.allow_remote) {
        Ok(None) => {}
        Ok(Some(warning)) => {
            eprintln!("{warning}");
            if cli.bind.ip().is_unspecified() {
                eprintln!(
                    "note: requests are answered only when they name 127.0.0.1, localhost or \
                     [::1]; bind the machine's own address to be reached under it"
                );
            }
        }
        Err(refusal) => anyhow::bail!(refusal),
    }
    let mut store =
        Store::open(&cli.db).with_context(|| format!("opening {}", cli.db.display()))?;
    if cli.demo {
        fieldcheck_core::demo::seed_demo(&mut store)?;
        if store.current_user()?.is_none() {
            store.set_current_user(Some("usr-insp-1"))?;
        }
    }
    if let Some(ui) = &cli.ui
        && !ui.join("index.html").exists()
    {
        anyhow::bail!(
            "{} has no index.html: build the UI first (cd ui && npm ci && npm run build)",
            ui.display()
        );
    }
    let listener = tokio::net::TcpListener::bind(cli.bind)
        .await
        .with_context(|| format!("binding {}", cli.bind))?;
    let addr = listener.local_addr()?;
    // The one line scripts and tests wait for.
    println!("FieldCheck bridge: http://{addr}/");
    serve(store, BridgeConfig { ui_dir: cli.ui }, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
