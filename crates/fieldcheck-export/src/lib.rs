//! Exports of the problem ledger (issue 16): the XLSX ledger (问题台账) with photos in their
//! cells, CSV (UTF-8 with BOM), GeoJSON (RFC 7946) and a ZIP of photos.
//!
//! Every writer takes rows one at a time ([`ExportRow`], already resolved to names by the
//! caller) and keeps nothing of a row once it is written, so memory stays bounded whatever the
//! ledger's size: the caller pages through its store and pushes each page. Photo bytes come
//! through [`PhotoSource`], asked for one photo at a time.
//!
//! The words a person reads (column headers, status names, 是/否) come from here and from
//! the domain (`ProblemStatus::label`), the same words the console and the phone show.

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::Path;

use chrono::{DateTime, FixedOffset, Utc};
use fieldcheck_domain::i18n::Lang;
use fieldcheck_protocol::console::ConsoleProblemRow;

mod drawing;
mod xlsx;

pub use xlsx::{CELL_IMAGE_PX, XlsxLedger};

/// What went wrong while writing an export; `code()` is stable.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("XLSX: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("ZIP: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("photo {hash}: {message}")]
    Photo { hash: String, message: String },
    /// A PDF report asked of the ledger's writers (`fieldcheck-report` lays those out).
    #[error("{0} is a PDF report, not a file of the ledger's rows")]
    NotRows(&'static str),
}

impl ExportError {
    pub fn code(&self) -> &'static str {
        match self {
            ExportError::Io(_) => "export_io",
            ExportError::Xlsx(_) => "export_xlsx",
            ExportError::Csv(_) => "export_csv",
            ExportError::Zip(_) => "export_zip",
            ExportError::Json(_) => "export_json",
            ExportError::Photo { .. } => "export_photo",
            ExportError::NotRows(_) => "export_not_rows",
        }
    }
}

pub use fieldcheck_protocol::console::exports::ExportKind;

/// The file name extension of an export.
pub fn extension(kind: ExportKind) -> &'static str {
    match kind {
        ExportKind::Xlsx => "xlsx",
        ExportKind::Csv => "csv",
        ExportKind::Geojson => "geojson",
        ExportKind::PhotosZip => "zip",
        ExportKind::CaseSheets | ExportKind::Bulletin | ExportKind::PointCompliance => "pdf",
    }
}

/// The media type of an export.
pub fn content_type(kind: ExportKind) -> &'static str {
    match kind {
        ExportKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ExportKind::Csv => "text/csv; charset=utf-8",
        ExportKind::Geojson => "application/geo+json",
        ExportKind::PhotosZip => "application/zip",
        ExportKind::CaseSheets | ExportKind::Bulletin | ExportKind::PointCompliance => {
            "application/pdf"
        }
    }
}

/// What the office calls the file (the start of its download name).
pub fn title(kind: ExportKind) -> &'static str {
    match kind {
        ExportKind::Xlsx | ExportKind::Csv => "问题台账",
        ExportKind::Geojson => "问题点位",
        ExportKind::PhotosZip => "问题照片",
        ExportKind::CaseSheets => "整改通知单",
        ExportKind::Bulletin => "工作通报",
        ExportKind::PointCompliance => "点位达标清单",
    }
}

/// A photo of a row: its content hash and the URL of the full photo.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoRef {
    pub hash: String,
    pub url: String,
}

/// One problem as the exports show it. `api` is the console ledger's row (the GeoJSON
/// properties are exactly its fields, as the API names them); the rest is what the office's
/// ledger adds, with references already resolved to names.
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub api: ConsoleProblemRow,
    /// The whole description (the API row carries an excerpt).
    pub description: String,
    /// WGS-84, from the report or else from its point.
    pub lon_lat: Option<(f64, f64)>,
    /// 点位/地址: the point's name and the address.
    pub place: String,
    /// 区/街道/社区: the district's chain of names.
    pub area: String,
    /// 类别: major / minor.
    pub category_name: String,
    /// 测评条目: the checklist item it was found on.
    pub item: String,
    /// 责任单位
    pub unit_name: String,
    /// 整改情况: the unit's rectification note (or the reason it is not being rectified).
    pub rectification: String,
    /// 核查人: who verified it on site.
    pub verifier: String,
    /// 完成时间: when the unit reported it rectified.
    pub rectified_at: Option<DateTime<Utc>>,
    /// 是否按期: rectified no later than the deadline; `None` while undecided.
    pub on_time: Option<bool>,
    /// 备注
    pub remark: String,
    pub before: Vec<PhotoRef>,
    pub after: Vec<PhotoRef>,
}

/// Where photo bytes come from, one at a time (the caller's blob store).
pub trait PhotoSource {
    /// The photo as stored (the display copy devices upload), or `None` when it is missing.
    fn photo(&mut self, hash: &str) -> Result<Option<Vec<u8>>, ExportError>;
    /// A JPEG sized for a spreadsheet cell (long edge about [`CELL_IMAGE_PX`]), or `None`.
    fn cell_image(&mut self, hash: &str) -> Result<Option<Vec<u8>>, ExportError>;
}

/// The ledger's columns, in the order Chinese offices use.
pub const COLUMNS: [&str; 19] = [
    "序号",
    "编号",
    "发现时间",
    "点位/地址",
    "区/街道/社区",
    "类别",
    "测评条目",
    "问题描述",
    "整改前照片",
    "责任单位",
    "派遣时间",
    "整改时限",
    "整改情况",
    "整改后照片",
    "完成时间",
    "核查人",
    "是否按期",
    "状态",
    "备注",
];

/// Index of the before-photo column.
pub const BEFORE_COL: u16 = 8;
/// Index of the after-photo column.
pub const AFTER_COL: u16 = 13;

/// How instants are written: the city's local time, to the minute.
#[derive(Debug, Clone, Copy)]
pub struct TimeFormat {
    pub tz: FixedOffset,
}

impl TimeFormat {
    pub fn format(&self, t: Option<DateTime<Utc>>) -> String {
        t.map(|t| {
            t.with_timezone(&self.tz)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
    }
}

/// 是 / 否 / empty.
pub fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "是",
        Some(false) => "否",
        None => "",
    }
}

/// The text cells of a row in [`COLUMNS`] order (photo columns: the full photos' URLs, one a
/// line), `n` being its 序号.
pub fn text_cells(n: u64, r: &ExportRow, tf: &TimeFormat) -> [String; 19] {
    let urls = |p: &[PhotoRef]| {
        p.iter()
            .map(|p| p.url.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    [
        n.to_string(),
        r.api.code.clone(),
        tf.format(Some(r.api.reported_at)),
        r.place.clone(),
        r.area.clone(),
        r.category_name.clone(),
        r.item.clone(),
        r.description.clone(),
        urls(&r.before),
        r.unit_name.clone(),
        tf.format(r.api.dispatched_at),
        tf.format(r.api.deadline),
        r.rectification.clone(),
        urls(&r.after),
        tf.format(r.rectified_at),
        r.verifier.clone(),
        yes_no(r.on_time).to_owned(),
        r.api.status.label(Lang::Zh).to_owned(),
        r.remark.clone(),
    ]
}

/// The CSV ledger: UTF-8 with a byte-order mark (so Excel reads Chinese), the same columns as
/// the XLSX, photos as their URLs.
pub struct CsvLedger<W: Write> {
    out: csv::Writer<W>,
    tf: TimeFormat,
    rows: u64,
}

impl<W: Write> CsvLedger<W> {
    pub fn new(mut out: W, tf: TimeFormat) -> Result<Self, ExportError> {
        out.write_all("\u{feff}".as_bytes())?;
        let mut out = csv::Writer::from_writer(out);
        out.write_record(COLUMNS)?;
        Ok(CsvLedger { out, tf, rows: 0 })
    }

    pub fn write_row(&mut self, r: &ExportRow) -> Result<(), ExportError> {
        self.rows += 1;
        self.out.write_record(text_cells(self.rows, r, &self.tf))?;
        Ok(())
    }

    /// Flushes and gives the writer back.
    pub fn finish(self) -> Result<W, ExportError> {
        self.out
            .into_inner()
            .map_err(|e| ExportError::Io(e.into_error()))
    }
}

/// A GeoJSON FeatureCollection (RFC 7946): WGS-84 `[lon, lat]` points, a problem without a
/// place has a `null` geometry; `properties` are the console ledger row as the API names it.
pub struct GeoJsonLedger<W: Write> {
    out: W,
    first: bool,
}

impl<W: Write> GeoJsonLedger<W> {
    pub fn new(mut out: W) -> Result<Self, ExportError> {
        out.write_all(br#"{"type":"FeatureCollection","features":["#)?;
        Ok(GeoJsonLedger { out, first: true })
    }

    pub fn write_row(&mut self, r: &ExportRow) -> Result<(), ExportError> {
        let geometry = match r.lon_lat {
            Some((lon, lat)) => serde_json::json!({"type": "Point", "coordinates": [lon, lat]}),
            None => serde_json::Value::Null,
        };
        let feature = serde_json::json!({
            "type": "Feature",
            "id": r.api.id,
            "geometry": geometry,
            "properties": r.api,
        });
        if !self.first {
            self.out.write_all(b",\n")?;
        }
        self.first = false;
        serde_json::to_writer(&mut self.out, &feature)?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<W, ExportError> {
        self.out.write_all(b"]}\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A ZIP of the photos as stored, named `<problem code>_before_<n>.jpg` /
/// `_after_<n>.jpg`. JPEGs do not compress, so entries are stored as they are.
pub struct PhotoZip<W: Write + Seek> {
    zip: zip::ZipWriter<W>,
    photos: u64,
    missing: u64,
}

impl<W: Write + Seek> PhotoZip<W> {
    pub fn new(out: W) -> Self {
        PhotoZip {
            zip: zip::ZipWriter::new(out),
            photos: 0,
            missing: 0,
        }
    }

    /// Adds the row's photos; a photo the store no longer has is counted, not fatal.
    pub fn write_row(
        &mut self,
        r: &ExportRow,
        photos: &mut dyn PhotoSource,
    ) -> Result<(), ExportError> {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(false);
        for (role, list) in [("before", &r.before), ("after", &r.after)] {
            for (i, p) in list.iter().enumerate() {
                let Some(bytes) = photos.photo(&p.hash)? else {
                    self.missing += 1;
                    continue;
                };
                let name = format!("{}_{role}_{}.jpg", safe_name(&r.api.code), i + 1);
                self.zip.start_file(name, opts)?;
                self.zip.write_all(&bytes)?;
                self.photos += 1;
            }
        }
        Ok(())
    }

    /// Photos written and photos missing from the store.
    pub fn counts(&self) -> (u64, u64) {
        (self.photos, self.missing)
    }

    pub fn finish(self) -> Result<W, ExportError> {
        Ok(self.zip.finish()?)
    }
}

/// A problem code as a file name: codes are letters, digits and `-`, but a code comes from a
/// device, so anything else becomes `_`.
pub fn safe_name(code: &str) -> String {
    let s: String = code
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "_".to_owned() } else { s }
}

/// Writes every row of `rows` as `kind` to `path` (the CLI's and the tests' one call; the
/// server's job pushes pages through the writers itself). Returns the rows written.
pub fn write_file(
    kind: ExportKind,
    path: &Path,
    rows: impl IntoIterator<Item = Result<ExportRow, ExportError>>,
    photos: &mut dyn PhotoSource,
    tf: TimeFormat,
) -> Result<u64, ExportError> {
    let mut n = 0u64;
    match kind {
        ExportKind::Xlsx => {
            let mut w = XlsxLedger::new(tf)?;
            for r in rows {
                w.write_row(&r?, photos)?;
                n += 1;
            }
            w.save(path)?;
        }
        ExportKind::Csv => {
            let mut w = CsvLedger::new(BufWriter::new(File::create(path)?), tf)?;
            for r in rows {
                w.write_row(&r?)?;
                n += 1;
            }
            w.finish()?.flush()?;
        }
        ExportKind::Geojson => {
            let mut w = GeoJsonLedger::new(BufWriter::new(File::create(path)?))?;
            for r in rows {
                w.write_row(&r?)?;
                n += 1;
            }
            w.finish()?;
        }
        ExportKind::PhotosZip => {
            let mut w = PhotoZip::new(BufWriter::new(File::create(path)?));
            for r in rows {
                w.write_row(&r?, photos)?;
                n += 1;
            }
            w.finish()?.flush()?;
        }
        ExportKind::CaseSheets | ExportKind::Bulletin | ExportKind::PointCompliance => {
            return Err(ExportError::NotRows(kind.as_str()));
        }
    }
    Ok(n)
}

/// The download name of an export: `问题台账_20261202-0315.xlsx` (the city's local time).
pub fn file_name(kind: ExportKind, at: DateTime<Utc>, tf: &TimeFormat) -> String {
    format!(
        "{}_{}.{}",
        title(kind),
        at.with_timezone(&tf.tz).format("%Y%m%d-%H%M"),
        extension(kind)
    )
}

#[cfg(test)]
mod tests;
