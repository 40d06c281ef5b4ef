//! 创文巡查 — the FieldCheck inspector app: a Tauri v2 shell around the device core.
//!
//! - Commands: `invoke(command, args)` from the webview runs the bridge's command of the same
//!   name in process ([`core::Core`]); one implementation serves the app and the HTTP bridge.
//! - Photos: `invoke('photo_upload', ArrayBuffer)` carries the file once as the raw IPC body
//!   (`InvokeBody::Raw`); images come back through the `photo` URI scheme ([`photo`]).
//! - Offline map: `invoke('map_package_import', ArrayBuffer)` (an MBTiles file, raw), tiles
//!   through the `tiles` URI scheme ([`tiles`]).
//! - Sync: on start, on resume/focus, on `sync_now`, and every few minutes, through the
//!   bridge's sync runner, with progress events ([`sync`]).
//! - Deadlines: a local notification when one of the person's cases becomes overdue, checked
//!   every minute ([`notify`]).
//! - The database lives in the app data directory; a fresh install is seeded with the demo
//!   city (like `fieldcheck-bridge --demo`) until the device is enrolled with a server.

pub mod core;
pub mod error;
pub mod notify;
pub mod photo;
pub mod sync;
pub mod tiles;

use std::path::Path;
use std::sync::Arc;

use fieldcheck_core::Store;
use serde::Serialize;
use tauri::ipc::{Invoke, InvokeBody, InvokeError, InvokeResponseBody};
use tauri::{Manager, RunEvent, Runtime, WebviewWindowBuilder, WindowEvent};

use crate::core::Core;
use crate::error::AppError;
use crate::sync::{FOCUS_MIN_GAP, SYNC_EVERY, Syncer, Trigger};

/// The device database file inside the app data directory.
pub const DB_FILE: &str = "device.sqlite3";

/// Opens (or creates) the device store. A store that is neither enrolled nor signed in (a
/// fresh install) gets the demo city with the demo inspector signed in, like
/// `fieldcheck-bridge --demo`, so a fresh app is usable at once; later starts skip it.
pub fn open_store(path: &Path) -> Result<Store, AppError> {
    let mut store = Store::open(path)?;
    if store.enrollment()?.is_none() && store.current_user()?.is_none() {
        fieldcheck_core::demo::seed_demo(&mut store)?;
        store.set_current_user(Some("usr-insp-1"))?;
    }
    Ok(store)
}

/// What `app_info` answers (the settings screen, tests).
#[derive(Debug, Serialize)]
struct AppInfo {
    version: &'static str,
    data_dir: String,
    platform: &'static str,
}

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();

    let builder = tauri::Builder::default();
    #[cfg(mobile)]
    let builder = builder
        .plugin(tauri_plugin_geolocation::init())
        .plugin(tauri_plugin_notification::init());
    let app = builder
        .setup(|app| {
            let dir = app.path().app_data_dir()?;
            std::fs::create_dir_all(&dir)?;
            let store = open_store(&dir.join(DB_FILE))?;
            let core = Core::new(store);
            let core_for_notices = core.clone();
            let syncer = Arc::new(Syncer::new(core.clone()));
            app.manage(core);
            app.manage(syncer.clone());
            // The window is created only now (`create: false` in tauri.conf.json), so every
            // command and photo request finds the store ready.
            let config = app
                .config()
                .app
                .windows
                .first()
                .cloned()
                .ok_or("no window in tauri.conf.json")?;
            let window = WebviewWindowBuilder::from_config(app.handle(), &config)?.build()?;
            allow_geolocation(&window);
            let handle = app.handle().clone();
            let watcher = core_for_notices;
            tauri::async_runtime::spawn(async move {
                loop {
                    notify::check(&handle, &watcher).await;
                    tokio::time::sleep(notify::CHECK_EVERY).await;
                }
            });
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                syncer.run(&handle, Trigger::Start).await;
                loop {
                    tokio::time::sleep(SYNC_EVERY).await;
                    syncer.run(&handle, Trigger::Interval).await;
                }
            });
            Ok(())
        })
        .register_asynchronous_uri_scheme_protocol("photo", |ctx, request, responder| {
            let core = ctx.app_handle().state::<Core>().inner().clone();
            let path = request.uri().path().to_owned();
            tauri::async_runtime::spawn(async move {
                responder.respond(photo::respond(&core, &path).await);
            });
        })
        .register_asynchronous_uri_scheme_protocol("tiles", |ctx, request, responder| {
            let core = ctx.app_handle().state::<Core>().inner().clone();
            let path = request.uri().path().to_owned();
            tauri::async_runtime::spawn(async move {
                responder.respond(tiles::respond(&core, &path).await);
            });
        })
        .invoke_handler(handle_invoke)
        .build(tauri::generate_context!())
        .expect("error while starting 创文巡查");

    app.run(|handle, event| {
        let resumed = match &event {
            RunEvent::Resumed => true,
            RunEvent::WindowEvent {
                event: WindowEvent::Focused(true),
                ..
            } => handle
                .try_state::<Arc<Syncer>>()
                .is_some_and(|s| s.due(FOCUS_MIN_GAP)),
            _ => false,
        };
        if resumed && let Some(syncer) = handle.try_state::<Arc<Syncer>>() {
            let syncer = syncer.inner().clone();
            let handle = handle.clone();
            tauri::async_runtime::spawn(async move {
                syncer.run(&handle, Trigger::Resume).await;
            });
        }
    });
}

/// `navigator.geolocation` in the desktop webview: WebKitGTK denies the permission request
/// unless the embedder allows it; the position then comes from GeoClue when the system runs it
/// (otherwise the UI falls back to the photo's EXIF position or a map pin). Other permission
/// requests keep WebKit's default (denied).
#[cfg(target_os = "linux")]
fn allow_geolocation<R: Runtime>(window: &tauri::WebviewWindow<R>) {
    let _ = window.with_webview(|wv| {
        use webkit2gtk::glib::object::Cast;
        use webkit2gtk::{GeolocationPermissionRequest, PermissionRequestExt, WebViewExt};
        wv.inner().connect_permission_request(|_, request| {
            match request.downcast_ref::<GeolocationPermissionRequest>() {
                Some(geo) => {
                    geo.allow();
                    true
                }
                None => false,
            }
        });
    });
}

/// Elsewhere the webview (macOS, Windows) or tauri-plugin-geolocation (mobile) handles it.
#[cfg(not(target_os = "linux"))]
fn allow_geolocation<R: Runtime>(_window: &tauri::WebviewWindow<R>) {}

/// Every app command: the app's own few, else the bridge command of the same name.
fn handle_invoke<R: Runtime>(invoke: Invoke<R>) -> bool {
    let Invoke {
        message, resolver, ..
    } = invoke;
    let app = message.webview().app_handle().clone();
    let Some(core) = app.try_state::<Core>().map(|c| c.inner().clone()) else {
        resolver.reject(AppError::internal("the store is not open yet"));
        return true;
    };
    let command = message.command().to_owned();
    let payload = message.payload();
    let task: std::pin::Pin<Box<dyn Future<Output = Result<String, AppError>> + Send>> =
        match command.as_str() {
            "photo_upload" => match payload {
                InvokeBody::Raw(bytes) => {
                    let bytes = bytes.clone();
                    Box::pin(async move { core.upload_photo(bytes).await })
                }
                InvokeBody::Json(_) => {
                    resolver.reject(AppError::new(
                        "invalid_input",
                        "photo_upload takes the file's raw bytes (an ArrayBuffer), not JSON",
                    ));
                    return true;
                }
            },
            "map_package_import" => match payload {
                InvokeBody::Raw(bytes) => {
                    let bytes = bytes.clone();
                    Box::pin(async move { core.import_map_package(bytes).await })
                }
                InvokeBody::Json(_) => {
                    resolver.reject(AppError::new(
                        "invalid_input",
                        "map_package_import takes the .mbtiles file's raw bytes, not JSON",
                    ));
                    return true;
                }
            },
            "sync_now" => {
                let syncer = app.state::<Arc<Syncer>>().inner().clone();
                Box::pin(async move {
                    let out = syncer.run(&app, Trigger::Manual).await;
                    serde_json::to_string(&out).map_err(AppError::internal)
                })
            }
            "app_info" => {
                let info = AppInfo {
                    version: env!("CARGO_PKG_VERSION"),
                    data_dir: app
                        .path()
                        .app_data_dir()
                        .map(|d| d.display().to_string())
                        .unwrap_or_default(),
                    platform: std::env::consts::OS,
                };
                Box::pin(async move { serde_json::to_string(&info).map_err(AppError::internal) })
            }
            _ => {
                let args = match payload {
                    InvokeBody::Json(v) if v.is_null() => serde_json::json!({}),
                    InvokeBody::Json(v) => v.clone(),
                    InvokeBody::Raw(_) => {
                        resolver.reject(AppError::new(
                            "invalid_input",
                            format!("{command} takes a JSON object"),
                        ));
                        return true;
                    }
                };
                Box::pin(async move { core.call(&command, args).await })
            }
        };
    resolver.respond_async_serialized(async move {
        task.await
            .map(InvokeResponseBody::Json)
            .map_err(InvokeError::from)
    });
    true
}
