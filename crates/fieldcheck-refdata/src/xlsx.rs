//! XLSX: one sheet per kind, named in English or Chinese; read with calamine, written with
//! rust_xlsxwriter.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{DataRef, Reader, Xlsx};
use fieldcheck_protocol::ReferenceBundle;
use rust_xlsxwriter::{Format as CellFormat, Workbook, XlsxError};

use crate::Kind;
use crate::error::{Location, RefDataError};
use crate::kinds;
use crate::table::{Cell, ColType, OutTable, RawTable, column_letter};

/// The most a workbook may unpack to. A zip compresses repetitive XML a thousandfold: a small
/// upload must not become gigabytes of sheet to parse. 10,000 points with every column take
/// about 5 MB unpacked.
pub const MAX_UNPACKED_BYTES: u64 = 200 * 1024 * 1024;

/// The sheet of the template workbook that explains the columns; reading skips it.
pub const NOTES_SHEET: &str = "说明";

/// Refuses a workbook whose parts unpack to more than [`MAX_UNPACKED_BYTES`] (by the sizes
/// its directory declares; the zip reader stops at a declared size, so a part cannot unpack
/// to more than it declares).
fn check_unpacked_size(bytes: &[u8], at: &Location) -> Result<(), RefDataError> {
    let damaged = |e: zip::result::ZipError| RefDataError::Parse {
        at: Box::new(at.clone()),
        message: format!("not a readable XLSX workbook: {e}"),
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(damaged)?;
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let part = zip.by_index_raw(i).map_err(damaged)?;
        total = total.saturating_add(part.size());
        if total > MAX_UNPACKED_BYTES {
            return Err(RefDataError::UnsupportedFormat {
                at: Box::new(at.clone()),
                message: format!(
                    "the workbook unpacks to more than {} MB; split it or remove formatting \
                     and empty rows",
                    MAX_UNPACKED_BYTES / (1024 * 1024)
                ),
            });
        }
    }
    Ok(())
}

pub(crate) fn read(
    bytes: &[u8],
    at: &Location,
    given: Option<Kind>,
    from_name: Option<Kind>,
    sink: &mut kinds::Sink,
) -> Result<ReferenceBundle, RefDataError> {
    if bytes.is_empty() {
        return Err(RefDataError::Empty {
            at: Box::new(at.clone()),
            message: "the file is empty".into(),
        });
    }
    if !bytes.starts_with(b"PK") {
        return Err(not_a_workbook(bytes, at));
    }
    check_unpacked_size(bytes, at)?;
    // The zip and XML layers below are third-party code fed with untrusted bytes; a panic in
    // them must become an error for the person importing, not a crashed server or app.
    catch_unwind(AssertUnwindSafe(|| {
        read_workbook(bytes, at, given, from_name, sink)
    }))
    .unwrap_or_else(|_| {
        Err(RefDataError::Parse {
            at: Box::new(at.clone()),
            message: "the workbook is damaged and could not be read".into(),
        })
    })
}

fn not_a_workbook(bytes: &[u8], at: &Location) -> RefDataError {
    if bytes.starts_with(b"\xd0\xcf\x11\xe0") {
        return RefDataError::UnsupportedFormat {
            at: Box::new(at.clone()),
            message: "this is an Excel 97-2003 workbook (.xls); save it as an Excel workbook \
                      (.xlsx)"
                .into(),
        };
    }
    let texty = !bytes.contains(&0)
        && (std::str::from_utf8(bytes).is_ok()
            || encoding_rs::GB18030
                .decode_without_bom_handling_and_without_replacement(bytes)
                .is_some());
    if texty {
        RefDataError::UnsupportedFormat {
            at: Box::new(at.clone()),
            message: "this file is text, not an XLSX workbook; if it is CSV, give it the .csv \
                      extension"
                .into(),
        }
    } else {
        RefDataError::Parse {
            at: Box::new(at.clone()),
            message: "not an XLSX workbook".into(),
        }
    }
}

fn read_workbook(
    bytes: &[u8],
    at: &Location,
    given: Option<Kind>,
    from_name: Option<Kind>,
    sink: &mut kinds::Sink,
) -> Result<ReferenceBundle, RefDataError> {
    let mut wb: Xlsx<Cursor<&[u8]>> =
        calamine::open_workbook_from_rs(Cursor::new(bytes)).map_err(|e| RefDataError::Parse {
            at: Box::new(at.clone()),
            message: format!("not a readable XLSX workbook: {e}"),
        })?;
    let sheets: Vec<(String, Option<Kind>)> = wb
        .sheet_names()
        .into_iter()
        .filter(|n| n.trim() != NOTES_SHEET && !n.trim().eq_ignore_ascii_case("readme"))
        .map(|n| {
            let k = Kind::parse(&n);
            (n, k)
        })
        .collect();
    let listed = || {
        sheets
            .iter()
            .map(|(n, _)| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let unknown_kind = |message: String| RefDataError::UnknownKind {
        at: Box::new(at.clone()),
        message,
    };

    let mut targets: Vec<(String, Kind)> = Vec::new();
    if let Some(k) = given {
        let named: Vec<&String> = sheets
            .iter()
            .filter(|(_, sk)| *sk == Some(k))
            .map(|(n, _)| n)
            .collect();
        match (named.as_slice(), sheets.as_slice()) {
            ([one], _) => targets.push(((*one).clone(), k)),
            // A lone sheet with a default name ("Sheet1") is taken to hold the kind asked for.
            ([], [(only, None)]) => targets.push((only.clone(), k)),
            ([], _) => {
                return Err(unknown_kind(format!(
                    "no sheet is named {}/{} (the sheets are {})",
                    k.as_str(),
                    k.label_zh(),
                    listed()
                )));
            }
            (several, _) => {
                return Err(unknown_kind(format!(
                    "several sheets hold {k}: {}; keep one",
                    several
                        .iter()
                        .map(|n| format!("\"{n}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    } else if sheets.iter().all(|(_, k)| k.is_none()) {
        match (sheets.as_slice(), from_name) {
            ([(only, _)], Some(k)) => targets.push((only.clone(), k)),
            _ => {
                return Err(unknown_kind(format!(
                    "no sheet is named after a kind of reference data (the sheets are {}); \
                     name each sheet after its kind ({}) or name the kind",
                    listed(),
                    Kind::accepted_names()
                )));
            }
        }
    } else {
        for (name, k) in &sheets {
            match k {
                Some(k) => {
                    if let Some((first, _)) = targets.iter().find(|(_, t)| t == k) {
                        return Err(unknown_kind(format!(
                            "sheets \"{first}\" and \"{name}\" both hold {k}; keep one"
                        )));
                    }
                    targets.push((name.clone(), *k));
                }
                // A mistyped sheet name would otherwise drop its data without a word; blank
                // sheets (Excel's "Sheet2") are harmless.
                None => {
                    let raw = load(&mut wb, name, at)?;
                    if !raw.rows.is_empty() {
                        return Err(unknown_kind(format!(
                            "sheet \"{name}\" is not named after a kind of reference data \
                             (expected {}); rename or delete it",
                            Kind::accepted_names()
                        )));
                    }
                }
            }
        }
    }

    let mut bundle = ReferenceBundle::default();
    for (name, kind) in targets {
        match load(&mut wb, &name, at) {
            Ok(raw) => kinds::read_table(kind, &raw, &mut bundle, sink)?,
            Err(e) => sink.fail(e)?,
        }
    }
    Ok(bundle)
}

fn load(wb: &mut Xlsx<Cursor<&[u8]>>, name: &str, at: &Location) -> Result<RawTable, RefDataError> {
    let at = at.clone().with_sheet(name);
    let damaged = |e: calamine::XlsxError| RefDataError::Parse {
        at: Box::new(at.clone()),
        message: format!("the sheet could not be read: {e}"),
    };
    // Streaming the cells keeps memory proportional to the cells present; a whole-sheet range
    // would allocate up to the farthest cell that merely carries formatting.
    let mut reader = wb.worksheet_cells_reader(name).map_err(damaged)?;
    let mut rows: BTreeMap<u32, Vec<(u32, String)>> = BTreeMap::new();
    while let Some(cell) = reader.next_cell().map_err(damaged)? {
        let (r, c) = cell.get_position();
        let text = cell_text(cell.get_value()).map_err(|message| RefDataError::BadValue {
            at: Box::new(
                at.clone()
                    .with_row(u64::from(r) + 1)
                    .with_column(column_letter(c as usize)),
            ),
            message,
        })?;
        if !text.is_empty() {
            rows.entry(r).or_default().push((c, text));
        }
    }
    let mut raw = RawTable {
        at,
        rows: Vec::new(),
    };
    for (r, cells) in rows {
        let width = cells
            .iter()
            .map(|(c, _)| *c as usize + 1)
            .max()
            .unwrap_or(0);
        let mut row = vec![String::new(); width];
        for (c, text) in cells {
            if let Some(slot) = row.get_mut(c as usize) {
                *slot = text;
            }
        }
        raw.push(u64::from(r) + 1, row);
    }
    Ok(raw)
}

fn cell_text(v: &DataRef<'_>) -> Result<String, String> {
    Ok(match v {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.trim().to_string(),
        DataRef::SharedString(s) => s.trim().to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => float_text(*f),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(dt) => {
            let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            let serial = dt.as_f64();
            if dt.is_duration() || serial < 1.0 {
                if s == 0 {
                    format!("{h:02}:{mi:02}")
                } else {
                    format!("{h:02}:{mi:02}:{s:02}")
                }
            } else if serial.fract() == 0.0 {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
            }
        }
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.trim().to_string(),
        DataRef::Error(e) => return Err(format!("the cell holds the Excel error {e}")),
    })
}

/// Excel stores every number as a float: an id typed as 1001 must come back as "1001".
fn float_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

pub(crate) fn write(
    bundle: &ReferenceBundle,
    at: &Location,
    kind: Option<Kind>,
) -> Result<Vec<u8>, RefDataError> {
    let kinds: Vec<Kind> = match kind {
        Some(k) => vec![k],
        None => {
            let present: Vec<Kind> = Kind::ALL
                .into_iter()
                .filter(|k| !k.is_empty_in(bundle))
                .collect();
            // An empty bundle exports as a blank workbook with every sheet's header: a form
            // for the office to fill in.
            if present.is_empty() {
                Kind::ALL.to_vec()
            } else {
                present
            }
        }
    };
    let mut wb = Workbook::new();
    for kind in kinds {
        write_sheet(&mut wb, kind, bundle, at, Titles::Names)?;
    }
    wb.save_to_buffer().map_err(|e| RefDataError::Write {
        at: Box::new(at.clone()),
        message: e.to_string(),
    })
}

/// How a sheet and its columns are titled: by the columns' names (`points`, `lat`) or in
/// Chinese (点位, 纬度) for the office's workbook.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Titles {
    Names,
    Chinese,
}

/// One kind's sheet: a bold header, text columns formatted as text (so an id typed later as
/// 007 stays 007), widths from the contents, the header frozen and filterable. Strings are
/// written as strings: a value beginning with `=` stays text and is never evaluated as a
/// formula when the office opens the file.
fn write_sheet(
    wb: &mut Workbook,
    kind: Kind,
    bundle: &ReferenceBundle,
    at: &Location,
    titles: Titles,
) -> Result<(), RefDataError> {
    let bold = CellFormat::new().set_bold();
    let text = CellFormat::new().set_num_format("@");
    let table = kinds::write_table(kind, bundle);
    let sheet = match titles {
        Titles::Names => kind.as_str(),
        Titles::Chinese => kind.label_zh(),
    };
    let sheet_at = at.clone().with_sheet(sheet);
    let failed = |e: XlsxError| RefDataError::Write {
        at: Box::new(sheet_at.clone()),
        message: e.to_string(),
    };
    let ws = wb.add_worksheet();
    ws.set_name(sheet).map_err(failed)?;
    for (c, col) in table.columns.iter().enumerate() {
        let title = match titles {
            Titles::Names => col.name,
            Titles::Chinese => col.zh,
        };
        let c = col_num(c);
        ws.write_string_with_format(0, c, title, &bold)
            .map_err(failed)?;
        if col.ty == ColType::Text {
            ws.set_column_format(c, &text).map_err(failed)?;
        }
        let min = if titles == Titles::Chinese { 10.0 } else { 0.0 };
        ws.set_column_width(c, column_width(&table, c as usize).max(min))
            .map_err(failed)?;
    }
    for (r, row) in table.rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(|_| RefDataError::Write {
            at: Box::new(sheet_at.clone()),
            message: "too many rows for one sheet".into(),
        })?;
        for (c, cell) in row.iter().enumerate() {
            let c = col_num(c);
            let cell_failed = |e: XlsxError| RefDataError::Write {
                at: Box::new(
                    sheet_at
                        .clone()
                        .with_row(u64::from(r) + 1)
                        .with_column(column_letter(c as usize)),
                ),
                message: e.to_string(),
            };
            match cell {
                Cell::Text(s) => ws.write_string(r, c, s).map(|_| ()),
                Cell::Number(n) => ws.write_number(r, c, *n).map(|_| ()),
                Cell::Bool(b) => ws.write_boolean(r, c, *b).map(|_| ()),
                Cell::Empty => Ok(()),
            }
            .map_err(cell_failed)?;
        }
    }
    ws.set_freeze_panes(1, 0).map_err(failed)?;
    let last_col = col_num(table.columns.len().saturating_sub(1));
    let last_row = u32::try_from(table.rows.len()).unwrap_or(u32::MAX);
    ws.autofilter(0, 0, last_row, last_col).map_err(failed)?;
    Ok(())
}

fn col_num(c: usize) -> u16 {
    u16::try_from(c).unwrap_or(u16::MAX)
}

/// Wide enough for the title and the longest value (CJK characters count double), within
/// limits that keep a sheet of long conditions readable.
fn column_width(table: &OutTable, c: usize) -> f64 {
    let width = |s: &str| -> usize { s.chars().map(|ch| if ch.is_ascii() { 1 } else { 2 }).sum() };
    let title = table.columns.get(c).map_or(0, |col| width(col.name));
    let longest = table
        .rows
        .iter()
        .filter_map(|row| row.get(c))
        .map(|cell| width(&cell.to_csv()))
        .max()
        .unwrap_or(0);
    (title.max(longest) + 2).clamp(8, 60) as f64
}

/// The office's workbook: every kind on its own sheet titled in Chinese (点位, 单位, …) with
/// Chinese column titles, and a sheet [`NOTES_SHEET`] explaining each column. Reading accepts
/// it back as it is (the titles are the columns' Chinese names), so an export re-imported
/// changes nothing. Every sheet is written, empty ones with their header only.
pub fn workbook_zh(bundle: &ReferenceBundle) -> Result<Vec<u8>, RefDataError> {
    let at = Location::file("workbook.xlsx");
    let mut wb = Workbook::new();
    for kind in Kind::ALL {
        write_sheet(&mut wb, kind, bundle, &at, Titles::Chinese)?;
    }
    let bold = CellFormat::new().set_bold();
    let failed = |e: XlsxError| RefDataError::Write {
        at: Box::new(at.clone().with_sheet(NOTES_SHEET)),
        message: e.to_string(),
    };
    let ws = wb.add_worksheet();
    ws.set_name(NOTES_SHEET).map_err(failed)?;
    for (c, title) in ["工作表", "列", "英文列名", "必填", "说明"]
        .iter()
        .enumerate()
    {
        ws.write_string_with_format(0, col_num(c), *title, &bold)
            .map_err(failed)?;
    }
    let mut r = 1u32;
    for kind in Kind::ALL {
        for col in kind.columns() {
            ws.write_string(r, 0, kind.label_zh()).map_err(failed)?;
            ws.write_string(r, 1, col.zh).map_err(failed)?;
            ws.write_string(r, 2, col.name).map_err(failed)?;
            ws.write_string(r, 3, if col.required { "是" } else { "" })
                .map_err(failed)?;
            ws.write_string(r, 4, crate::notes::column_note(kind, col.name))
                .map_err(failed)?;
            r += 1;
        }
    }
    for (c, w) in [10.0, 16.0, 24.0, 6.0, 90.0].into_iter().enumerate() {
        ws.set_column_width(col_num(c), w).map_err(failed)?;
    }
    wb.save_to_buffer().map_err(|e| RefDataError::Write {
        at: Box::new(at.clone()),
        message: e.to_string(),
    })
}
