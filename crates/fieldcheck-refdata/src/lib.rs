//! Reference data (districts, units, points, categories, checklist templates, users, the work
//! calendar) in and out of the files a city office keeps: JSON, CSV and XLSX.
//!
//! Every format goes through one [`ReferenceBundle`]. CSV holds one kind per file; XLSX holds
//! one kind per sheet; JSON holds a whole bundle or an array of one kind. Tables accept English
//! and Chinese column titles in any order and report problems by file, sheet, row and column.
//! This crate only converts: whether the references between records hold is checked by the
//! importer, not here.

mod csv_io;
mod error;
mod json;
mod kinds;
mod notes;
pub mod plan;
mod table;
mod values;
mod xlsx;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write as _;
use std::path::Path;

pub use error::{Location, RefDataError};
pub use fieldcheck_protocol::ReferenceBundle;
pub use notes::example_bundle;
pub use table::Column;
pub use xlsx::{MAX_UNPACKED_BYTES, NOTES_SHEET, workbook_zh};

/// Where the records of a file came from: the kinds it holds (a sheet or CSV file that is
/// present, even without rows: the whole list of that kind) and, per kind, the location of
/// each record in the order of the bundle's list (JSON: the item's position as the row).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    pub kinds: BTreeSet<Kind>,
    pub rows: BTreeMap<Kind, Vec<Location>>,
}

impl Sources {
    /// Where record `index` of `kind` came from, or the file when unknown.
    pub fn at(&self, kind: Kind, index: usize) -> Option<&Location> {
        self.rows.get(&kind).and_then(|r| r.get(index))
    }
}

/// A file read for a preview: everything that could be read, where it came from, and every
/// row that could not (those rows are left out of `bundle`).
#[derive(Debug, Default)]
pub struct ReadReport {
    pub bundle: ReferenceBundle,
    pub sources: Sources,
    pub errors: Vec<RefDataError>,
}

/// One kind of reference data: one CSV file, one XLSX sheet, one key of the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Districts,
    Units,
    Points,
    Categories,
    Templates,
    Users,
    Calendar,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Districts,
        Kind::Units,
        Kind::Points,
        Kind::Categories,
        Kind::Templates,
        Kind::Users,
        Kind::Calendar,
    ];

    /// The bundle key, also the English file stem and sheet name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Districts => "districts",
            Kind::Units => "units",
            Kind::Points => "points",
            Kind::Categories => "categories",
            Kind::Templates => "templates",
            Kind::Users => "users",
            Kind::Calendar => "calendar",
        }
    }

    /// The Chinese sheet name.
    pub fn label_zh(self) -> &'static str {
        match self {
            Kind::Districts => "区域",
            Kind::Units => "单位",
            Kind::Points => "点位",
            Kind::Categories => "问题分类",
            Kind::Templates => "检查表",
            Kind::Users => "用户",
            Kind::Calendar => "工作日历",
        }
    }

    fn aliases(self) -> &'static [&'static str] {
        match self {
            Kind::Districts => &["district", "行政区划", "区划"],
            Kind::Units => &["unit", "责任单位"],
            Kind::Points => &["point", "测评点位"],
            Kind::Categories => &["category", "分类"],
            Kind::Templates => &["template", "checklists", "checklist", "测评标准"],
            Kind::Users => &["user", "人员"],
            Kind::Calendar => &["日历", "work_calendar"],
        }
    }

    /// Accepts the English name (singular or plural, any case) or the Chinese name.
    pub fn parse(s: &str) -> Option<Kind> {
        let s = s.trim();
        Kind::ALL.into_iter().find(|k| {
            k.as_str().eq_ignore_ascii_case(s)
                || k.label_zh() == s
                || k.aliases().iter().any(|a| a.eq_ignore_ascii_case(s))
        })
    }

    /// The table columns of this kind, in the order they are written.
    pub fn columns(self) -> &'static [Column] {
        kinds::columns(self)
    }

    fn is_empty_in(self, b: &ReferenceBundle) -> bool {
        match self {
            Kind::Districts => b.districts.is_empty(),
            Kind::Units => b.units.is_empty(),
            Kind::Points => b.points.is_empty(),
            Kind::Categories => b.categories.is_empty(),
            Kind::Templates => b.templates.is_empty(),
            Kind::Users => b.users.is_empty(),
            Kind::Calendar => b.calendar.is_none(),
        }
    }

    fn len_in(self, b: &ReferenceBundle) -> usize {
        match self {
            Kind::Districts => b.districts.len(),
            Kind::Units => b.units.len(),
            Kind::Points => b.points.len(),
            Kind::Categories => b.categories.len(),
            Kind::Templates => b.templates.len(),
            Kind::Users => b.users.len(),
            Kind::Calendar => usize::from(b.calendar.is_some()),
        }
    }

    /// A bundle holding only this kind's data from `b`.
    fn take(self, b: ReferenceBundle) -> ReferenceBundle {
        let mut out = ReferenceBundle::default();
        match self {
            Kind::Districts => out.districts = b.districts,
            Kind::Units => out.units = b.units,
            Kind::Points => out.points = b.points,
            Kind::Categories => out.categories = b.categories,
            Kind::Templates => out.templates = b.templates,
            Kind::Users => out.users = b.users,
            Kind::Calendar => out.calendar = b.calendar,
        }
        out
    }

    pub(crate) fn accepted_names() -> String {
        Kind::ALL
            .iter()
            .map(|k| format!("{}/{}", k.as_str(), k.label_zh()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

impl Format {
    /// By extension, ignoring case: `.json`, `.csv`, `.xlsx`.
    pub fn from_path(path: &Path) -> Result<Format, RefDataError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some("xlsx") => Ok(Format::Xlsx),
            Some("xls") => Err(RefDataError::UnsupportedFormat {
                at: Box::new(Location::file(path.display().to_string())),
                message: "Excel 97-2003 workbooks (.xls) are not supported; save the file as \
                          an Excel workbook (.xlsx)"
                    .into(),
            }),
            other => Err(RefDataError::UnsupportedFormat {
                at: Box::new(Location::file(path.display().to_string())),
                message: format!(
                    "unsupported file type {} (expected .json, .csv or .xlsx)",
                    other.map_or("without an extension".to_string(), |e| format!("\".{e}\""))
                ),
            }),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// The kind a file name stands for: its stem (`points.csv`, `点位.xlsx`, `2026-points.csv`),
/// or else its folder (`templates/back_alley.json`).
pub fn kind_from_path(path: &Path) -> Option<Kind> {
    let stem = path.file_stem().and_then(|s| s.to_str())?;
    kind_from_name(stem).or_else(|| {
        path.parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
            .and_then(Kind::parse)
    })
}

fn kind_from_name(stem: &str) -> Option<Kind> {
    if let Some(k) = Kind::parse(stem) {
        return Some(k);
    }
    // Accept decorated names like `gulou-points-2026` or `鼓楼区点位`, but only when exactly
    // one kind is named, so `单位点位` is not silently read as either.
    let mut found: Vec<Kind> = stem
        .split(|c: char| !c.is_alphanumeric() || c == '_')
        .filter_map(Kind::parse)
        .collect();
    for k in Kind::ALL {
        let zh = std::iter::once(k.label_zh())
            .chain(k.aliases().iter().copied().filter(|a| !a.is_ascii()));
        if zh.into_iter().any(|n| stem.contains(n)) {
            found.push(k);
        }
    }
    found.sort();
    found.dedup();
    match found.as_slice() {
        [k] => Some(*k),
        _ => None,
    }
}

/// Reads a file; the format comes from the extension. `kind` picks one kind (required for
/// a CSV file or a JSON array whose name does not say which kind it holds); `None` reads
/// everything the file holds.
pub fn read(path: &Path, kind: Option<Kind>) -> Result<ReferenceBundle, RefDataError> {
    let format = Format::from_path(path)?;
    let at = Location::file(path.display().to_string());
    let bytes = std::fs::read(path).map_err(|source| RefDataError::Io {
        at: Box::new(at.clone()),
        source,
    })?;
    read_source(&bytes, format, &at, kind, kind_from_path(path))
}

/// Reads file contents already in memory (an upload). Errors name the file `input.<ext>`.
pub fn read_bytes(
    bytes: &[u8],
    format: Format,
    kind: Option<Kind>,
) -> Result<ReferenceBundle, RefDataError> {
    let at = Location::file(format!("input.{}", format.extension()));
    read_source(bytes, format, &at, kind, None)
}

/// Reads file contents for a preview: errors in rows (a bad value, a repeated id, a damaged
/// sheet) are collected with their location and their rows left out, so one reading reports
/// them all; an error about the whole file (not a workbook, an unknown column) is `Err`.
/// `name` (the uploaded file's name) says the kind of a CSV file, like [`read`]'s path.
pub fn read_bytes_report(
    bytes: &[u8],
    format: Format,
    kind: Option<Kind>,
    name: Option<&str>,
) -> Result<ReadReport, RefDataError> {
    let file = name.map_or_else(|| format!("input.{}", format.extension()), str::to_owned);
    let at = Location::file(file);
    let from_name = name.and_then(|n| kind_from_path(Path::new(n)));
    let mut sink = kinds::Sink {
        collect: true,
        ..kinds::Sink::default()
    };
    let bundle = read_with(bytes, format, &at, kind, from_name, &mut sink)?;
    if format == Format::Json {
        // No rows in JSON: a kind is present when it holds anything; its items count as rows.
        for k in Kind::ALL.into_iter().filter(|k| !k.is_empty_in(&bundle)) {
            sink.sources.kinds.insert(k);
            let n = k.len_in(&bundle);
            sink.sources.rows.insert(
                k,
                (1..=n as u64)
                    .map(|i| at.clone().with_sheet(k.as_str()).with_row(i))
                    .collect(),
            );
        }
    }
    Ok(ReadReport {
        bundle,
        sources: sink.sources,
        errors: sink.errors,
    })
}

fn read_source(
    bytes: &[u8],
    format: Format,
    at: &Location,
    given: Option<Kind>,
    from_name: Option<Kind>,
) -> Result<ReferenceBundle, RefDataError> {
    read_with(
        bytes,
        format,
        at,
        given,
        from_name,
        &mut kinds::Sink::default(),
    )
}

fn read_with(
    bytes: &[u8],
    format: Format,
    at: &Location,
    given: Option<Kind>,
    from_name: Option<Kind>,
    sink: &mut kinds::Sink,
) -> Result<ReferenceBundle, RefDataError> {
    match format {
        Format::Json => json::read(bytes, at, given, from_name),
        Format::Csv => {
            let kind = given
                .or(from_name)
                .ok_or_else(|| RefDataError::UnknownKind {
                    at: Box::new(at.clone()),
                    message: format!(
                        "a CSV file holds one kind of reference data and its name does not say \
                     which; name the kind or the file after it (e.g. points.csv, 点位.csv). \
                     Kinds: {}",
                        Kind::accepted_names()
                    ),
                })?;
            csv_io::read(bytes, at, kind, sink)
        }
        Format::Xlsx => xlsx::read(bytes, at, given, from_name, sink),
    }
}

/// Writes `bundle` (or only `kind` of it) to `path`, atomically: the file is written beside
/// the target and renamed over it, so a crash never leaves half a spreadsheet.
pub fn write(
    path: &Path,
    bundle: &ReferenceBundle,
    kind: Option<Kind>,
) -> Result<(), RefDataError> {
    let format = Format::from_path(path)?;
    let at = Location::file(path.display().to_string());
    let kind = match (format, kind) {
        (Format::Csv, None) => kind_from_path(path),
        (_, k) => k,
    };
    let bytes = write_source(bundle, format, &at, kind)?;
    let io = |source| RefDataError::Io {
        at: Box::new(at.clone()),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".refdata-")
        .tempfile_in(dir)
        .map_err(io)?;
    // A temporary file is private (0600); the export should be as readable as the file it
    // replaces, or as an ordinary new file.
    let permissions = std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions())
        .or_else(new_file_permissions);
    if let Some(p) = permissions {
        tmp.as_file().set_permissions(p).map_err(io)?;
    }
    tmp.write_all(&bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(unix)]
fn new_file_permissions() -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn new_file_permissions() -> Option<std::fs::Permissions> {
    None
}

/// The bytes [`write`] would put in a file of `format` (for downloads).
pub fn write_bytes(
    bundle: &ReferenceBundle,
    format: Format,
    kind: Option<Kind>,
) -> Result<Vec<u8>, RefDataError> {
    let at = Location::file(format!("output.{}", format.extension()));
    write_source(bundle, format, &at, kind)
}

fn write_source(
    bundle: &ReferenceBundle,
    format: Format,
    at: &Location,
    kind: Option<Kind>,
) -> Result<Vec<u8>, RefDataError> {
    match format {
        Format::Json => json::write(bundle, at, kind),
        Format::Csv => {
            let non_empty: Vec<Kind> = Kind::ALL
                .into_iter()
                .filter(|k| !k.is_empty_in(bundle))
                .collect();
            let kind = match (kind, non_empty.as_slice()) {
                (Some(k), _) => k,
                (None, [k]) => *k,
                (None, _) => {
                    return Err(RefDataError::UnknownKind {
                        at: Box::new(at.clone()),
                        message: format!(
                            "a CSV file holds one kind of reference data; name the kind or the \
                             file after it (e.g. points.csv), or write .xlsx or .json for \
                             several. Kinds: {}",
                            Kind::accepted_names()
                        ),
                    });
                }
            };
            csv_io::write(&kinds::write_table(kind, bundle), at)
        }
        Format::Xlsx => xlsx::write(bundle, at, kind),
    }
}
