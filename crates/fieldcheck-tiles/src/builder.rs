use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::grid::{MAX_BUILD_ZOOM, MAX_LATITUDE, TileRange};
use crate::package::temp_next_to;
use crate::{TileFormat, TilesError};

/// Tries per tile: one request and three retries, 200 ms, 400 ms, 800 ms apart.
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Tiles per transaction: large enough that commits are rare, small enough that a city's
/// tiles are never all held in memory.
const BATCH: usize = 256;

/// What to put in a map package and where to get it.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Tile URL with `{z}`, `{x}` and `{y}` (or `{-y}` for a TMS server), and `{s}` when
    /// `subdomains` are given, as in Leaflet.
    pub url_template: String,
    pub subdomains: Vec<String>,
    /// `[min_lon, min_lat, max_lon, max_lat]`, WGS-84; an area crossing 180° is not supported.
    pub bbox: [f64; 4],
    pub min_zoom: u8,
    pub max_zoom: u8,
    /// The package file; replaced only once the whole package is written.
    pub out: PathBuf,
    pub name: String,
    pub attribution: String,
    /// Requests in flight at once; keep it polite for a shared tile server.
    pub concurrency: usize,
    /// A larger job is refused before any request is made.
    pub max_tiles: u64,
    pub user_agent: String,
}

impl BuildOptions {
    /// How many tiles the area covers over all zooms (the validation `build` does first).
    pub fn tile_count(&self) -> Result<u64, TilesError> {
        Ok(self.validate()?.iter().map(TileRange::count).sum())
    }

    fn validate(&self) -> Result<Vec<TileRange>, TilesError> {
        let invalid = |msg: String| Err(TilesError::InvalidOptions(msg));
        let [w, s, e, n] = self.bbox;
        if self.bbox.iter().any(|v| !v.is_finite()) {
            return invalid(format!(
                "bbox {:?} has a value that is not a number",
                self.bbox
            ));
        }
        if !(-180.0..=180.0).contains(&w) || !(-180.0..=180.0).contains(&e) {
            return invalid(format!(
                "bbox longitudes {w} and {e} must be within -180..180"
            ));
        }
        if !(-90.0..=90.0).contains(&s) || !(-90.0..=90.0).contains(&n) {
            return invalid(format!("bbox latitudes {s} and {n} must be within -90..90"));
        }
        if w >= e {
            return invalid(format!(
                "bbox is [min_lon, min_lat, max_lon, max_lat] but min_lon {w} is not less than max_lon {e}"
            ));
        }
        if s >= n {
            return invalid(format!(
                "bbox is [min_lon, min_lat, max_lon, max_lat] but min_lat {s} is not less than max_lat {n}"
            ));
        }
        if self.max_zoom > MAX_BUILD_ZOOM {
            return invalid(format!(
                "max_zoom {} is above {MAX_BUILD_ZOOM}",
                self.max_zoom
            ));
        }
        if self.min_zoom > self.max_zoom {
            return invalid(format!(
                "min_zoom {} is greater than max_zoom {}",
                self.min_zoom, self.max_zoom
            ));
        }
        if self.concurrency == 0 {
            return invalid("concurrency must be at least 1".into());
        }
        if self.name.trim().is_empty() {
            return invalid("the package needs a name".into());
        }
        let t = &self.url_template;
        if !t.contains("{z}") || !t.contains("{x}") || !(t.contains("{y}") || t.contains("{-y}")) {
            return invalid(format!(
                "url_template {t:?} must contain {{z}}, {{x}} and {{y}} (or {{-y}})"
            ));
        }
        if t.contains("{s}") && self.subdomains.is_empty() {
            return invalid(format!(
                "url_template {t:?} uses {{s}} but no subdomains are given"
            ));
        }
        let sample = UrlTemplate::new(self).url(0, 0, 0);
        match reqwest::Url::parse(&sample) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            Ok(_) => return invalid(format!("url_template {t:?} is not an http(s) URL")),
            Err(e) => return invalid(format!("url_template {t:?} is not a valid URL: {e}")),
        }
        Ok((self.min_zoom..=self.max_zoom)
            .map(|z| TileRange::for_bbox(self.bbox, z))
            .collect())
    }
}

/// Reported after every tile, fetched or found missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    pub written: u64,
    pub missing: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildReport {
    /// Tiles in the package.
    pub tiles: u64,
    /// Tiles the server does not have (404): the map shows nothing there.
    pub missing: u64,
    /// Tile bytes written (without SQLite's overhead).
    pub bytes: u64,
    pub seconds: f64,
    pub format: TileFormat,
}

/// Downloads the tiles covering `opts.bbox` at `opts.min_zoom..=opts.max_zoom` into a new
/// MBTiles package at `opts.out`.
///
/// The package is written to a temporary file next to `out` and renamed at the end, so a
/// failed or cancelled (dropped) build never leaves a partial package at `out`. Needs a Tokio
/// runtime; requests run as tasks on it.
pub async fn build(
    opts: BuildOptions,
    mut progress: impl FnMut(Progress),
) -> Result<BuildReport, TilesError> {
    let started = Instant::now();
    let ranges = opts.validate()?;
    let total: u64 = ranges.iter().map(TileRange::count).sum();
    if total > opts.max_tiles {
        return Err(TilesError::TooManyTiles {
            tiles: total,
            max: opts.max_tiles,
        });
    }
    let client = reqwest::Client::builder()
        .user_agent(opts.user_agent.clone())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| TilesError::InvalidOptions(format!("HTTP client: {e}")))?;
    let template = Arc::new(UrlTemplate::new(&opts));

    let tmp = temp_next_to(&opts.out, ".part")?;
    let mut conn = Connection::open(&tmp)?;
    create_schema(&conn)?;

    let mut queue = ranges.into_iter().flat_map(TileRange::tiles);
    // Declared after `conn` and `tmp`, so dropped first: a cancelled build stops its requests
    // before the temporary package is closed and deleted.
    let mut in_flight = JoinSet::new();
    let mut batch = Vec::with_capacity(BATCH);
    let mut format: Option<TileFormat> = None;
    let mut stats = Progress {
        done: 0,
        total,
        written: 0,
        missing: 0,
        bytes: 0,
    };
    loop {
        while in_flight.len() < opts.concurrency {
            let Some((z, x, y)) = queue.next() else { break };
            let client = client.clone();
            let url = template.url(z, x, y);
            in_flight.spawn(async move { ((z, x, y), fetch_tile(&client, url).await) });
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        let ((z, x, y), fetched) =
            joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        match fetched? {
            None => stats.missing += 1,
            Some(bytes) => {
                let bad = |reason: String| TilesError::BadTile { z, x, y, reason };
                let this = TileFormat::sniff(&bytes).ok_or_else(|| {
                    bad("it is not a PNG, JPEG or WebP image (an error page?)".into())
                })?;
                match format {
                    None => format = Some(this),
                    Some(first) if first != this => {
                        return Err(bad(format!(
                            "it is {this} while the package is {first}: a package holds one format"
                        )));
                    }
                    Some(_) => {}
                }
                stats.written += 1;
                stats.bytes += bytes.len() as u64;
                batch.push((z, x, y, bytes));
                if batch.len() >= BATCH {
                    write_batch(&mut conn, &mut batch)?;
                }
            }
        }
        stats.done += 1;
        progress(stats);
    }
    write_batch(&mut conn, &mut batch)?;
    let Some(format) = format else {
        return Err(TilesError::Empty { path: opts.out });
    };
    write_metadata(&conn, &opts, format)?;
    conn.close().map_err(|(_, e)| e)?;
    // The pragmas below skip SQLite's own syncing; make the file durable before it replaces
    // the previous package.
    File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(TilesError::io("write", &*tmp))?;
    tmp.persist(&opts.out)
        .map_err(|e| TilesError::io("replace", &opts.out)(e.error))?;

    Ok(BuildReport {
        tiles: stats.written,
        missing: stats.missing,
        bytes: stats.bytes,
        seconds: started.elapsed().as_secs_f64(),
        format,
    })
}

struct UrlTemplate {
    template: String,
    subdomains: Vec<String>,
}

impl UrlTemplate {
    fn new(opts: &BuildOptions) -> UrlTemplate {
        UrlTemplate {
            template: opts.url_template.clone(),
            subdomains: opts.subdomains.clone(),
        }
    }

    fn url(&self, z: u8, x: u32, y: u32) -> String {
        let tms_y = (1u32 << z) - 1 - y;
        let mut url = self
            .template
            .replace("{z}", &z.to_string())
            .replace("{x}", &x.to_string())
            .replace("{y}", &y.to_string())
            .replace("{-y}", &tms_y.to_string());
        if !self.subdomains.is_empty() {
            // Leaflet's choice, so the browser and the package builder hit the same hosts.
            let s = &self.subdomains[(x as usize + y as usize) % self.subdomains.len()];
            url = url.replace("{s}", s);
        }
        url
    }
}

enum Failure {
    /// Worth another try: the server is busy or the network hiccupped.
    Transient(String),
    Permanent(TilesError),
}

async fn fetch_tile(client: &reqwest::Client, url: String) -> Result<Option<Vec<u8>>, TilesError> {
    let mut attempt = 1;
    loop {
        match fetch_once(client, &url).await {
            Ok(tile) => return Ok(tile),
            Err(Failure::Permanent(e)) => return Err(e),
            Err(Failure::Transient(_)) if attempt < ATTEMPTS => {
                tokio::time::sleep(FIRST_BACKOFF * 2u32.pow(attempt - 1)).await;
                attempt += 1;
            }
            Err(Failure::Transient(reason)) => {
                return Err(TilesError::Fetch {
                    url,
                    attempts: attempt,
                    reason,
                });
            }
        }
    }
}

async fn fetch_once(client: &reqwest::Client, url: &str) -> Result<Option<Vec<u8>>, Failure> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| Failure::Transient(error_chain(&e)))?;
    let status = response.status();
    // 204 is how some servers say "no tile here", like 404.
    if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::NO_CONTENT {
        return Ok(None);
    }
    if status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
    {
        return Err(Failure::Transient(format!(
            "the server answered HTTP {status}"
        )));
    }
    if !status.is_success() {
        return Err(Failure::Permanent(TilesError::HttpStatus {
            url: url.to_owned(),
            status: status.as_u16(),
        }));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| Failure::Transient(error_chain(&e)))?;
    Ok(Some(body.to_vec()))
}

/// reqwest's own message is "error sending request for url (...)"; the cause (connection
/// refused, DNS, TLS) is further down the chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

fn create_schema(conn: &Connection) -> Result<(), TilesError> {
    // No journal and no syncing while writing: the file is a temporary one that is deleted,
    // not recovered, if anything goes wrong. 0x4d504258 ("MPBX") is the application_id
    // MBTiles 1.3 suggests.
    conn.execute_batch(
        "PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA application_id = 1297105496;
         CREATE TABLE metadata (name TEXT, value TEXT);
         CREATE UNIQUE INDEX name ON metadata (name);
         CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);
         CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);",
    )?;
    Ok(())
}

fn write_batch(
    conn: &mut Connection,
    batch: &mut Vec<(u8, u32, u32, Vec<u8>)>,
) -> Result<(), TilesError> {
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO tiles (zoom_level, tile_column, tile_row, tile_data) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (z, x, y, data) in batch.drain(..) {
            let tms_row = (1u32 << z) - 1 - y;
            insert.execute((z, x, tms_row, data))?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn write_metadata(
    conn: &Connection,
    opts: &BuildOptions,
    format: TileFormat,
) -> Result<(), TilesError> {
    let [w, s, e, n] = opts.bbox;
    let (s, n) = (s.max(-MAX_LATITUDE), n.min(MAX_LATITUDE));
    let center_zoom = opts.min_zoom + (opts.max_zoom - opts.min_zoom) / 2;
    let mut rows = vec![
        ("name", opts.name.clone()),
        ("format", format.as_str().to_owned()),
        ("bounds", format!("{w},{s},{e},{n}")),
        (
            "center",
            format!("{},{},{center_zoom}", (w + e) / 2.0, (s + n) / 2.0),
        ),
        ("minzoom", opts.min_zoom.to_string()),
        ("maxzoom", opts.max_zoom.to_string()),
        ("type", "baselayer".to_owned()),
        ("version", "1".to_owned()),
    ];
    if !opts.attribution.trim().is_empty() {
        rows.push(("attribution", opts.attribution.clone()));
    }
    let mut insert = conn.prepare("INSERT INTO metadata (name, value) VALUES (?1, ?2)")?;
    for row in rows {
        insert.execute(row)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> BuildOptions {
        BuildOptions {
            url_template: "https://{s}.tiles.example/{z}/{x}/{y}.png".into(),
            subdomains: vec!["a".into(), "b".into()],
            bbox: [119.28, 26.06, 119.32, 26.10],
            min_zoom: 12,
            max_zoom: 15,
            out: PathBuf::from("fuzhou.mbtiles"),
            name: "Fuzhou".into(),
            attribution: String::new(),
            concurrency: 4,
            max_tiles: 1000,
            user_agent: "FieldCheck-test".into(),
        }
    }

    #[test]
    fn url_template_fills_placeholders() {
        let t = UrlTemplate::new(&opts());
        assert_eq!(t.url(1, 0, 1), "https://b.tiles.example/1/0/1.png");
        let mut o = opts();
        o.url_template = "http://h/{z}/{x}/{-y}".into();
        assert_eq!(UrlTemplate::new(&o).url(3, 2, 1), "http://h/3/2/6");
    }

    #[test]
    fn options_errors_say_what_is_wrong() {
        let msg = |f: fn(&mut BuildOptions)| {
            let mut o = opts();
            f(&mut o);
            let e = o.tile_count().unwrap_err();
            assert_eq!(e.code(), "tiles_invalid_options");
            e.to_string()
        };
        assert!(msg(|o| o.bbox = [119.32, 26.06, 119.28, 26.10]).contains("min_lon"));
        assert!(msg(|o| o.bbox = [119.28, 26.10, 119.32, 26.06]).contains("min_lat"));
        assert!(msg(|o| o.bbox = [200.0, 26.06, 201.0, 26.10]).contains("longitudes"));
        assert!(msg(|o| o.bbox = [119.0, -95.0, 119.3, 26.1]).contains("latitudes"));
        assert!(msg(|o| o.bbox[0] = f64::NAN).contains("not a number"));
        assert!(msg(|o| o.max_zoom = 23).contains("max_zoom 23"));
        assert!(msg(|o| o.min_zoom = 16).contains("min_zoom 16"));
        assert!(msg(|o| o.concurrency = 0).contains("concurrency"));
        assert!(msg(|o| o.url_template = "https://h/{z}/{x}.png".into()).contains("{y}"));
        assert!(msg(|o| o.subdomains.clear()).contains("{s}"));
        assert!(msg(|o| o.url_template = "ftp://h/{z}/{x}/{y}".into()).contains("http"));
    }
}
