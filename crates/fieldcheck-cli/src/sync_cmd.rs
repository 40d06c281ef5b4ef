//! `enroll` and `sync`: the async sync client driven from a one-shot runtime, with a progress
//! bar on stderr (hidden when stderr is not a terminal or with --json) and Ctrl-C cancelling
//! between steps.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use fieldcheck_core::Store;
use fieldcheck_core::sync::{self, CaCert, Phase, Progress, SyncClient, SyncOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::Out;

fn runtime() -> Result<tokio::runtime::Runtime> {
    // One thread drives the HTTP; store steps go to the blocking pool.
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub struct EnrollArgs<'a> {
    pub server: &'a str,
    pub code: &'a str,
    pub name: &'a str,
    pub ca_cert: Option<&'a Path>,
    pub attempts: u32,
}

pub fn enroll(store: Store, a: EnrollArgs<'_>, out: &Out) -> Result<()> {
    // A warning, not a refusal: a city may run its server on a closed network. A bad address
    // is left to the enrollment itself, which names what is wrong.
    if sync::sends_in_cleartext(a.server) == Ok(true) {
        let server = a.server.trim();
        eprintln!(
            "{}",
            out.pick(
                &format!(
                    "warning: {server} is not https: this device's token, records and photos \
                     will cross the network unencrypted"
                ),
                &format!(
                    "警告：{server} 不是 https 地址，本设备的令牌、记录和照片将以明文在网络上传输"
                ),
            )
        );
    }
    let ca = match a.ca_cert {
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read CA certificate {}", path.display()))?;
            Some(
                CaCert::from_pem(&pem)
                    .with_context(|| format!("CA certificate {}", path.display()))?,
            )
        }
        None => None,
    };
    let store = Arc::new(Mutex::new(store));
    let mut opts = SyncOptions {
        device_name: a.name.to_owned(),
        ..SyncOptions::default()
    };
    opts.retry.max_attempts = a.attempts.max(1);
    let enrolled = runtime()?.block_on(sync::enroll_with_ca(store, a.server, a.code, ca, &opts))?;
    out.enrolled(&enrolled);
    Ok(())
}

pub fn sync(store: Store, attempts: u32, out: &Out) -> Result<()> {
    let store = Arc::new(Mutex::new(store));
    let mut opts = SyncOptions::default();
    opts.retry.max_attempts = attempts.max(1);
    let bar = if out.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    };
    let labels = PhaseLabels::new(out);
    let cb_bar = bar.clone();
    let client = SyncClient::new(store, opts)?
        .with_progress(Arc::new(move |p: &Progress| show(&cb_bar, &labels, p)));
    let cancel = client.cancel_token();
    let rt = runtime()?;
    let report = rt.block_on(async {
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        });
        client.run().await
    });
    bar.finish_and_clear();
    out.sync_report(&report?);
    Ok(())
}

struct PhaseLabels {
    reference: String,
    push: String,
    photos: String,
    pull: String,
}

impl PhaseLabels {
    fn new(out: &Out) -> Self {
        let t = |en: &str, zh: &str| out.pick(en, zh).to_owned();
        PhaseLabels {
            reference: t("reference data", "基础数据"),
            push: t("sending events", "上传事件"),
            photos: t("uploading photos", "上传照片"),
            pull: t("fetching changes", "下载更新"),
        }
    }
}

fn show(bar: &ProgressBar, l: &PhaseLabels, p: &Progress) {
    let counted = |tpl: &str| {
        ProgressStyle::with_template(tpl).unwrap_or_else(|_| ProgressStyle::default_bar())
    };
    match p.phase {
        Phase::Reference => {
            bar.set_style(counted("{spinner} {msg}"));
            bar.set_message(l.reference.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Phase::Push => {
            bar.set_style(counted("{msg} [{bar:30}] {pos}/{len}"));
            bar.set_message(l.push.clone());
            bar.set_length(p.events_up_total.max(p.events_up));
            bar.set_position(p.events_up);
        }
        Phase::Photos => {
            bar.set_style(counted(
                "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec})",
            ));
            bar.set_message(l.photos.clone());
            bar.set_length(p.photo_bytes_total.max(p.photo_bytes_up));
            bar.set_position(p.photo_bytes_up);
        }
        Phase::Pull => {
            bar.set_style(counted("{spinner} {msg}: {pos}"));
            bar.set_message(l.pull.clone());
            bar.set_position(p.events_down);
        }
        Phase::Done => {}
    }
}
