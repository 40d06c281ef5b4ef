//! Builds real packages from a real HTTP tile server on 127.0.0.1 and reads them back.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fieldcheck_tiles::{BuildOptions, MbTiles, Progress, TileFormat, TilesError, build, import};

/// Around Fuzhou's old town.
const FUZHOU: [f64; 4] = [119.28, 26.06, 119.32, 26.10];

// ---------------------------------------------------------------------------------------------
// The tile server

#[derive(Default)]
struct Server {
    requests: AtomicU64,
    per_tile: Mutex<HashMap<(u8, u32, u32), u32>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// The server has no tile here (404).
fn is_missing(z: u8, x: u32, y: u32) -> bool {
    z == 15 && (x + y).is_multiple_of(5)
}

/// The server is busy (503) the first time this tile is asked for.
fn is_flaky(z: u8, x: u32, y: u32) -> bool {
    z == 14 && (x + y).is_multiple_of(3)
}

/// A small PNG whose first three pixels spell out its own z, x and y.
fn tile_png(z: u8, x: u32, y: u32) -> Vec<u8> {
    let rgb = |v: u32| image::Rgb([(v >> 16) as u8, (v >> 8) as u8, v as u8]);
    let mut img = image::RgbImage::from_pixel(8, 8, image::Rgb([200, 200, 200]));
    img.put_pixel(0, 0, rgb(u32::from(z)));
    img.put_pixel(1, 0, rgb(x));
    img.put_pixel(2, 0, rgb(y));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn decode_tile(png: &[u8]) -> (u8, u32, u32) {
    let img = image::load_from_memory(png).unwrap().to_rgb8();
    let v = |px: u32| {
        let [r, g, b] = img.get_pixel(px, 0).0;
        (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b)
    };
    (v(0) as u8, v(1), v(2))
}

async fn serve_tile(
    State(st): State<Arc<Server>>,
    UrlPath((z, x, y)): UrlPath<(u8, u32, u32)>,
) -> Response {
    st.requests.fetch_add(1, Ordering::SeqCst);
    let now = st.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    st.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let seen = {
        let mut per_tile = st.per_tile.lock().unwrap();
        let n = per_tile.entry((z, x, y)).or_default();
        *n += 1;
        *n
    };
    // Long enough for requests to overlap, so the concurrency bound is exercised.
    tokio::time::sleep(Duration::from_millis(10)).await;
    st.in_flight.fetch_sub(1, Ordering::SeqCst);
    if is_missing(z, x, y) {
        StatusCode::NOT_FOUND.into_response()
    } else if is_flaky(z, x, y) && seen == 1 {
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    } else {
        ([(header::CONTENT_TYPE, "image/png")], tile_png(z, x, y)).into_response()
    }
}

async fn start_server() -> (String, Arc<Server>) {
    let st = Arc::new(Server::default());
    let app = axum::Router::new()
        .route("/tiles/{z}/{x}/{y}", get(serve_tile))
        .route(
            "/forbidden/{z}/{x}/{y}",
            get(|| async { StatusCode::FORBIDDEN }),
        )
        .route(
            "/html/{z}/{x}/{y}",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html")],
                    "<html>quota exceeded</html>",
                )
            }),
        )
        .route("/none/{z}/{x}/{y}", get(|| async { StatusCode::NOT_FOUND }))
        .with_state(st.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, st)
}

// ---------------------------------------------------------------------------------------------
// Tile math done here independently of the crate (the textbook formula with ln(tan + sec)).

fn lon_to_x(lon: f64, z: u8) -> u32 {
    ((lon + 180.0) / 360.0 * f64::from(1u32 << z)).floor() as u32
}

fn lat_to_y(lat: f64, z: u8) -> u32 {
    let r = lat.to_radians();
    let merc = (r.tan() + 1.0 / r.cos()).ln();
    ((1.0 - merc / std::f64::consts::PI) / 2.0 * f64::from(1u32 << z)).floor() as u32
}

fn expected_tiles(bbox: [f64; 4], zooms: std::ops::RangeInclusive<u8>) -> Vec<(u8, u32, u32)> {
    let mut tiles = Vec::new();
    for z in zooms {
        for x in lon_to_x(bbox[0], z)..=lon_to_x(bbox[2], z) {
            for y in lat_to_y(bbox[3], z)..=lat_to_y(bbox[1], z) {
                tiles.push((z, x, y));
            }
        }
    }
    tiles
}

fn options(url_template: String, out: &Path) -> BuildOptions {
    BuildOptions {
        url_template,
        subdomains: vec![],
        bbox: FUZHOU,
        min_zoom: 12,
        max_zoom: 15,
        out: out.to_owned(),
        name: "Fuzhou Gulou".into(),
        attribution: "© test tiles".into(),
        concurrency: 3,
        max_tiles: 1000,
        user_agent: "FieldCheck-tiles-test".into(),
    }
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------------

#[test]
fn independent_tile_math_matches_known_tiles() {
    // Worked out by hand (and with Python's math module) for Fuzhou.
    assert_eq!((lon_to_x(119.3, 12), lat_to_y(26.08, 12)), (3405, 1740));
    let z15 = expected_tiles(FUZHOU, 15..=15);
    assert_eq!(z15.first(), Some(&(15, 27241, 13921)));
    assert_eq!(z15.last(), Some(&(15, 27244, 13925)));
    // 1 + 2×2 + 3×3 + 4×5 tiles.
    assert_eq!(expected_tiles(FUZHOU, 12..=15).len(), 34);
    assert_eq!(
        fieldcheck_tiles::grid::lon_to_x(119.3, 12),
        lon_to_x(119.3, 12)
    );
    assert_eq!(
        fieldcheck_tiles::grid::lat_to_y(26.08, 12),
        lat_to_y(26.08, 12)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_fuzhou_package_and_reads_it_back() {
    let (base, server) = start_server().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fuzhou.mbtiles");
    let expected = expected_tiles(FUZHOU, 12..=15);
    let missing: Vec<_> = expected
        .iter()
        .filter(|&&(z, x, y)| is_missing(z, x, y))
        .collect();
    let flaky: Vec<_> = expected
        .iter()
        .filter(|&&(z, x, y)| is_flaky(z, x, y))
        .collect();
    assert!(!missing.is_empty() && !flaky.is_empty());

    let opts = options(format!("{base}/tiles/{{z}}/{{x}}/{{y}}"), &out);
    assert_eq!(opts.tile_count().unwrap(), expected.len() as u64);
    let mut updates: Vec<Progress> = Vec::new();
    let report = build(opts, |p| updates.push(p)).await.unwrap();

    assert_eq!(report.tiles, (expected.len() - missing.len()) as u64);
    assert_eq!(report.missing, missing.len() as u64);
    assert_eq!(report.format, TileFormat::Png);
    let served_bytes: usize = expected
        .iter()
        .filter(|&&(z, x, y)| !is_missing(z, x, y))
        .map(|&(z, x, y)| tile_png(z, x, y).len())
        .sum();
    assert_eq!(report.bytes, served_bytes as u64);
    assert_eq!(updates.len(), expected.len());
    assert_eq!(
        updates.last().unwrap(),
        &Progress {
            done: 34,
            total: 34,
            written: report.tiles,
            missing: report.missing,
            bytes: report.bytes,
        }
    );

    // Every tile asked for once, the flaky ones once more after their 503.
    let per_tile = server.per_tile.lock().unwrap().clone();
    assert_eq!(per_tile.len(), expected.len());
    for t in &expected {
        let want = if flaky.contains(&t) { 2 } else { 1 };
        assert_eq!(per_tile[t], want, "requests for tile {t:?}");
    }
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        (expected.len() + flaky.len()) as u64
    );
    let max_in_flight = server.max_in_flight.load(Ordering::SeqCst);
    assert!(
        (1..=3).contains(&max_in_flight),
        "max in flight {max_in_flight}"
    );
    // Only the package: no temporary file left behind.
    assert_eq!(dir_entries(dir.path()), vec!["fuzhou.mbtiles"]);

    let package = MbTiles::open(&out).unwrap();
    let meta = package.metadata();
    assert_eq!(meta.name, "Fuzhou Gulou");
    assert_eq!(meta.format, TileFormat::Png);
    assert_eq!(meta.bounds, Some(FUZHOU));
    let [lon, lat, zoom] = meta.center.unwrap();
    assert!((lon - 119.30).abs() < 1e-9 && (lat - 26.08).abs() < 1e-9);
    assert_eq!(zoom, 13.0);
    assert_eq!((meta.minzoom, meta.maxzoom), (12, 15));
    assert_eq!(meta.attribution.as_deref(), Some("© test tiles"));
    assert_eq!(meta.layer_type.as_deref(), Some("baselayer"));
    assert_eq!(meta.version.as_deref(), Some("1"));
    assert_eq!(package.content_type(), "image/png");
    let json = serde_json::to_value(meta).unwrap();
    assert_eq!(json["format"], "png");
    assert_eq!(json["type"], "baselayer");

    for &(z, x, y) in &expected {
        let got = package.tile(z, x, y).unwrap();
        if is_missing(z, x, y) {
            assert_eq!(got, None, "tile {z}/{x}/{y} was a 404");
        } else {
            let got = got.unwrap_or_else(|| panic!("tile {z}/{x}/{y} missing"));
            assert_eq!(got, tile_png(z, x, y));
            assert_eq!(decode_tile(&got), (z, x, y));
        }
    }
    // The known tile over the old town, and its TMS row in the file: 2^12 - 1 - 1740.
    let known = package.tile(12, 3405, 1740).unwrap().unwrap();
    assert_eq!(decode_tile(&known), (12, 3405, 1740));
    let raw = rusqlite::Connection::open(&out).unwrap();
    let stored: Vec<u8> = raw
        .query_row(
            "SELECT tile_data FROM tiles WHERE zoom_level = 12 AND tile_column = 3405 AND tile_row = 2355",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, known);
    let rows: u64 = raw
        .query_row("SELECT COUNT(*) FROM tiles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, report.tiles);
    let app_id: u32 = raw
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app_id, 0x4d50_4258);

    // Outside the area, and outside the world.
    assert_eq!(package.tile(12, 0, 0).unwrap(), None);
    assert_eq!(package.tile(16, 54484, 27844).unwrap(), None);
    for (z, x, y) in [(12, 4096, 0), (12, 0, 4096), (0, 1, 0), (31, 0, 0)] {
        let err = package.tile(z, x, y).unwrap_err();
        assert_eq!(err.code(), "tiles_out_of_range", "{z}/{x}/{y}");
    }
}

#[test]
fn build_can_run_as_a_spawned_task() {
    // The server runs builds with tokio::spawn, which needs a Send future.
    fn assert_send<T: Send>(_: &T) {}
    let dir = tempfile::tempdir().unwrap();
    let fut = build(
        options("http://h/{z}/{x}/{y}".into(), &dir.path().join("x.mbtiles")),
        |_| {},
    );
    assert_send(&fut);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_job_over_max_tiles_before_any_request() {
    let (base, server) = start_server().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fuzhou.mbtiles");
    let mut opts = options(format!("{base}/tiles/{{z}}/{{x}}/{{y}}"), &out);
    opts.max_tiles = 33;
    let err = build(opts, |_| {}).await.unwrap_err();
    assert_eq!(err.code(), "tiles_too_many");
    assert!(matches!(
        err,
        TilesError::TooManyTiles { tiles: 34, max: 33 }
    ));
    assert!(err.to_string().contains("34 tiles"), "{err}");
    assert_eq!(server.requests.load(Ordering::SeqCst), 0);
    assert!(dir_entries(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_bad_options_before_any_request() {
    let (base, server) = start_server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(
        format!("{base}/tiles/{{z}}/{{x}}/{{y}}"),
        &dir.path().join("x.mbtiles"),
    );
    opts.bbox = [119.32, 26.06, 119.28, 26.10];
    let err = build(opts, |_| {}).await.unwrap_err();
    assert_eq!(err.code(), "tiles_invalid_options");
    assert!(err.to_string().contains("min_lon 119.32"), "{err}");
    assert_eq!(server.requests.load(Ordering::SeqCst), 0);
    assert!(dir_entries(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_fails_clearly_and_leaves_nothing() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fuzhou.mbtiles");
    let opts = options(
        format!("http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png"),
        &out,
    );
    let err = build(opts, |_| {}).await.unwrap_err();
    assert_eq!(err.code(), "tiles_fetch_failed", "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("http://127.0.0.1:{port}/")), "{msg}");
    assert!(msg.contains("after 4 attempts"), "{msg}");
    assert!(msg.to_lowercase().contains("connect"), "{msg}");
    assert!(!out.exists());
    assert!(
        dir_entries(dir.path()).is_empty(),
        "{:?}",
        dir_entries(dir.path())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_build_leaves_nothing() {
    let (base, server) = start_server().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fuzhou.mbtiles");
    let mut opts = options(format!("{base}/tiles/{{z}}/{{x}}/{{y}}"), &out);
    // One request at a time, 10 ms each: 34 tiles take well over the 100 ms allowed.
    opts.concurrency = 1;
    let outcome = tokio::time::timeout(Duration::from_millis(100), build(opts, |_| {})).await;
    assert!(outcome.is_err(), "the build should still have been running");
    assert!(server.requests.load(Ordering::SeqCst) > 0);
    assert!(!out.exists());
    assert!(
        dir_entries(dir.path()).is_empty(),
        "{:?}",
        dir_entries(dir.path())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_refusals_and_non_images_fail_the_build() {
    let (base, _server) = start_server().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fuzhou.mbtiles");
    let cases = [
        ("forbidden", "tiles_http_status", "HTTP 403"),
        ("html", "tiles_bad_tile", "not a PNG, JPEG or WebP"),
        ("none", "tiles_empty", "no tiles"),
    ];
    for (route, code, text) in cases {
        let opts = options(format!("{base}/{route}/{{z}}/{{x}}/{{y}}"), &out);
        let err = build(opts, |_| {}).await.unwrap_err();
        assert_eq!(err.code(), code, "{route}: {err}");
        assert!(err.to_string().contains(text), "{route}: {err}");
        assert!(
            dir_entries(dir.path()).is_empty(),
            "{route}: {:?}",
            dir_entries(dir.path())
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Import on the device

fn sqlite_file(path: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(sql).unwrap();
}

const SCHEMA: &str = "CREATE TABLE metadata (name TEXT, value TEXT);
    CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_replaces_the_package_only_when_the_new_one_is_valid() {
    let (base, _server) = start_server().await;
    let server_dir = tempfile::tempdir().unwrap();
    let built = server_dir.path().join("fuzhou.mbtiles");
    let mut opts = options(format!("{base}/tiles/{{z}}/{{x}}/{{y}}"), &built);
    opts.max_zoom = 13;
    build(opts, |_| {}).await.unwrap();

    let device = tempfile::tempdir().unwrap();
    let usb = tempfile::tempdir().unwrap();
    let dest = device.path().join("map.mbtiles");

    // The first import onto an empty device.
    let meta = import(&built, &dest).unwrap();
    assert_eq!(meta.name, "Fuzhou Gulou");
    assert_eq!((meta.minzoom, meta.maxzoom), (12, 13));
    let installed = std::fs::read(&dest).unwrap();
    assert_eq!(installed, std::fs::read(&built).unwrap());
    {
        let package = MbTiles::open(&dest).unwrap();
        assert_eq!(package.metadata(), &meta);
        let tile = package.tile(12, 3405, 1740).unwrap().unwrap();
        assert_eq!(decode_tile(&tile), (12, 3405, 1740));
    }

    let not_sqlite = usb.path().join("photo.mbtiles");
    std::fs::write(&not_sqlite, tile_png(1, 2, 3).repeat(20)).unwrap();
    let no_tables = usb.path().join("notes.mbtiles");
    sqlite_file(&no_tables, "CREATE TABLE notes (body TEXT);");
    let no_tile_data = usb.path().join("half.mbtiles");
    sqlite_file(
        &no_tile_data,
        "CREATE TABLE metadata (name TEXT, value TEXT);
         CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER);",
    );
    let empty = usb.path().join("empty.mbtiles");
    sqlite_file(
        &empty,
        &format!("{SCHEMA} INSERT INTO metadata VALUES ('format', 'png');"),
    );
    let tiff = usb.path().join("tiff.mbtiles");
    sqlite_file(
        &tiff,
        &format!(
            "{SCHEMA} INSERT INTO metadata VALUES ('format', 'tiff');
             INSERT INTO tiles VALUES (0, 0, 0, x'49492A00');"
        ),
    );
    let zero_bytes = usb.path().join("zero.mbtiles");
    std::fs::write(&zero_bytes, b"").unwrap();

    let cases = [
        (&not_sqlite, "tiles_not_mbtiles", "not an SQLite database"),
        (&no_tables, "tiles_not_mbtiles", "no `metadata` table"),
        (&no_tile_data, "tiles_not_mbtiles", "tile_data"),
        (&zero_bytes, "tiles_not_mbtiles", "no `metadata` table"),
        (&empty, "tiles_empty", "holds no tiles"),
        (&tiff, "tiles_bad_format", "\"tiff\""),
    ];
    for (src, code, text) in cases {
        let err = import(src, &dest).unwrap_err();
        assert_eq!(err.code(), code, "{}: {err}", src.display());
        let msg = err.to_string();
        assert!(msg.contains(text), "{msg}");
        if code != "tiles_bad_format" {
            // The error names the file the inspector picked, not the temporary copy.
            assert!(msg.contains(&src.display().to_string()), "{msg}");
        }
        // The previous package is untouched and still works; no temporary copy is left.
        assert_eq!(std::fs::read(&dest).unwrap(), installed);
        assert_eq!(MbTiles::open(&dest).unwrap().metadata(), &meta);
        assert_eq!(dir_entries(device.path()), vec!["map.mbtiles"]);
    }

    let err = import(&usb.path().join("gone.mbtiles"), &dest).unwrap_err();
    assert_eq!(err.code(), "tiles_io");
    assert_eq!(std::fs::read(&dest).unwrap(), installed);

    // Importing over an existing package.
    let meta2 = import(&built, &dest).unwrap();
    assert_eq!(meta2, meta);
    assert_eq!(dir_entries(device.path()), vec!["map.mbtiles"]);
}

#[test]
fn tolerates_sparse_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old-style.mbtiles");
    let png = tile_png(3, 6, 3);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        // No metadata rows at all: name from the file, format from the tiles, zooms from the
        // tiles table. XYZ 3/6/3 is TMS row 4; 5/0/0 is TMS row 31.
        for (z, x, row) in [(3u8, 6u32, 4u32), (5, 0, 31)] {
            conn.execute(
                "INSERT INTO tiles VALUES (?1, ?2, ?3, ?4)",
                (z, x, row, &png),
            )
            .unwrap();
        }
    }
    let package = MbTiles::open(&path).unwrap();
    let meta = package.metadata();
    assert_eq!(meta.name, "old-style");
    assert_eq!(meta.format, TileFormat::Png);
    assert_eq!((meta.minzoom, meta.maxzoom), (3, 5));
    assert_eq!(
        (meta.bounds, meta.center, meta.attribution.clone()),
        (None, None, None)
    );
    assert_eq!(package.tile(3, 6, 3).unwrap(), Some(png.clone()));
    assert_eq!(package.tile(5, 0, 0).unwrap(), Some(png));
    assert_eq!(package.tile(3, 6, 4).unwrap(), None);

    // A missing file is an I/O error, not a new empty database.
    let err = MbTiles::open(dir.path().join("missing.mbtiles")).unwrap_err();
    assert_eq!(err.code(), "tiles_io");
    assert!(!dir.path().join("missing.mbtiles").exists());
}

#[test]
fn accepts_a_tiles_view() {
    // Deduplicating tools (mbutil, tilelive) expose `tiles` as a view over two tables.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dedup.mbtiles");
    let jpeg_like = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10];
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE metadata (name TEXT, value TEXT);
             INSERT INTO metadata VALUES ('name', 'dedup'), ('format', 'jpg'),
                 ('minzoom', 0), ('maxzoom', 2), ('bounds', '-180,-85,180,85');
             CREATE TABLE map (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_id TEXT);
             CREATE TABLE images (tile_data BLOB, tile_id TEXT);
             CREATE VIEW tiles AS SELECT map.zoom_level AS zoom_level, map.tile_column AS tile_column,
                 map.tile_row AS tile_row, images.tile_data AS tile_data
                 FROM map JOIN images ON images.tile_id = map.tile_id;
             INSERT INTO map VALUES (0, 0, 0, 'a');",
        )
        .unwrap();
        conn.execute("INSERT INTO images VALUES (?1, 'a')", [&jpeg_like[..]])
            .unwrap();
    }
    let package = MbTiles::open(&path).unwrap();
    assert_eq!(package.format(), TileFormat::Jpg);
    assert_eq!(package.content_type(), "image/jpeg");
    assert_eq!(
        package.metadata().bounds,
        Some([-180.0, -85.0, 180.0, 85.0])
    );
    // Zooms stored as integers, and the package's word taken over the tiles it holds.
    assert_eq!(
        (package.metadata().minzoom, package.metadata().maxzoom),
        (0, 2)
    );
    assert_eq!(package.tile(0, 0, 0).unwrap(), Some(jpeg_like.to_vec()));
}
