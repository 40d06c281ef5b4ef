//! CSV: one kind per file, as Excel saves it (UTF-8 with a BOM, or GBK on a Chinese Windows).

use std::borrow::Cow;

use fieldcheck_protocol::ReferenceBundle;

use crate::Kind;
use crate::error::{Location, RefDataError};
use crate::kinds;
use crate::table::{OutTable, RawTable};

pub(crate) fn read(
    bytes: &[u8],
    at: &Location,
    kind: Kind,
    sink: &mut kinds::Sink,
) -> Result<ReferenceBundle, RefDataError> {
    let text = decode(bytes, at)?;
    let raw = parse(&text, at)?;
    if raw.rows.is_empty() {
        return Err(RefDataError::Empty {
            at: Box::new(at.clone()),
            message: format!(
                "the file has no header row (expected columns: {})",
                crate::table::accepted_titles(kind.columns())
            ),
        });
    }
    let mut bundle = ReferenceBundle::default();
    kinds::read_table(kind, &raw, &mut bundle, sink)?;
    Ok(bundle)
}

fn decode<'a>(bytes: &'a [u8], at: &Location) -> Result<Cow<'a, str>, RefDataError> {
    let bad = |message: String| RefDataError::Parse {
        at: Box::new(at.clone()),
        message,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(RefDataError::Empty {
            at: Box::new(at.clone()),
            message: "the file is empty".into(),
        });
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(RefDataError::UnsupportedFormat {
            at: Box::new(at.clone()),
            message: "this is an Excel workbook (.xlsx), not CSV text; give it the .xlsx \
                      extension or save it from Excel as CSV"
                .into(),
        });
    }
    if bytes.starts_with(b"\xd0\xcf\x11\xe0") {
        return Err(RefDataError::UnsupportedFormat {
            at: Box::new(at.clone()),
            message: "this is an Excel 97-2003 workbook (.xls), not CSV text; save it from \
                      Excel as CSV or .xlsx"
                .into(),
        });
    }
    let text: Cow<'a, str> =
        if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
            let body = bytes.get(bom_len..).unwrap_or_default();
            encoding
                .decode_without_bom_handling_and_without_replacement(body)
                .ok_or_else(|| {
                    bad(format!(
                        "the file starts with a {} byte-order mark but is not valid {} text",
                        encoding.name(),
                        encoding.name()
                    ))
                })?
        } else if let Ok(s) = std::str::from_utf8(bytes) {
            Cow::Borrowed(s)
        } else {
            // Excel on a Chinese Windows saves "CSV" in the ANSI code page, GBK; GB18030 is its
            // superset.
            encoding_rs::GB18030
                .decode_without_bom_handling_and_without_replacement(bytes)
                .ok_or_else(|| {
                    bad(
                        "the file is neither UTF-8 nor GBK/GB18030 text; is it really a CSV file?"
                            .into(),
                    )
                })?
        };
    let controls = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
        .count();
    if text.contains('\0') || controls * 100 > text.chars().count() {
        return Err(bad("the file holds binary data, not CSV text".into()));
    }
    Ok(text)
}

/// Excel in some locales writes `;` or tab instead of `,`; the header row tells which.
fn delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or_default();
    if first.contains(',') {
        b','
    } else if first.contains('\t') {
        b'\t'
    } else if first.contains(';') {
        b';'
    } else {
        b','
    }
}

fn parse(text: &str, at: &Location) -> Result<RawTable, RefDataError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(text))
        .from_reader(text.as_bytes());
    let mut raw = RawTable {
        at: at.clone(),
        rows: Vec::new(),
    };
    // Excel shows a quoted cell with line breaks as one row and a blank line as an empty row:
    // the row number is the physical line a record starts on, less the line breaks inside
    // earlier cells. The csv crate's own line numbers skip blank lines, so count here.
    let bytes = text.as_bytes();
    let mut lines = Lines::default();
    let mut inner_breaks: u64 = 0;
    let mut record = csv::StringRecord::new();
    loop {
        let before = usize::try_from(reader.position().byte()).unwrap_or(usize::MAX);
        let start = bytes
            .get(before..)
            .and_then(|rest| rest.iter().position(|b| !matches!(b, b'\r' | b'\n')))
            .map_or(bytes.len(), |p| before + p);
        let row = (lines.line_at(bytes, start) - inner_breaks).max(1);
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                inner_breaks += record
                    .iter()
                    .map(|f| line_breaks(f.as_bytes()))
                    .sum::<u64>();
                raw.push(row, record.iter().map(|c| c.trim().to_string()).collect());
            }
            Err(e) => {
                return Err(RefDataError::Parse {
                    at: Box::new(at.clone().with_row(row)),
                    message: format!("not valid CSV: {e}"),
                });
            }
        }
    }
    Ok(raw)
}

/// Counts lines incrementally so that numbering a file stays linear in its size.
#[derive(Default)]
struct Lines {
    counted_to: usize,
    breaks: u64,
}

impl Lines {
    /// The 1-based physical line of byte `offset` (offsets only move forward).
    fn line_at(&mut self, bytes: &[u8], offset: usize) -> u64 {
        if let Some(chunk) = bytes.get(self.counted_to..offset) {
            self.breaks += line_breaks(chunk);
            self.counted_to = offset;
        }
        self.breaks + 1
    }
}

/// `\n`, `\r\n` and a lone `\r` each end one line.
fn line_breaks(s: &[u8]) -> u64 {
    let lone_cr = s
        .iter()
        .enumerate()
        .filter(|(i, b)| **b == b'\r' && s.get(i + 1) != Some(&b'\n'))
        .count();
    (s.iter().filter(|b| **b == b'\n').count() + lone_cr) as u64
}

pub(crate) fn write(table: &OutTable, at: &Location) -> Result<Vec<u8>, RefDataError> {
    let failed = |e: csv::Error| RefDataError::Write {
        at: Box::new(at.clone()),
        message: e.to_string(),
    };
    // The BOM is what makes Excel open a UTF-8 CSV as UTF-8 rather than as GBK.
    let mut out = b"\xef\xbb\xbf".to_vec();
    {
        let mut w = csv::WriterBuilder::new().from_writer(&mut out);
        w.write_record(table.columns.iter().map(|c| c.name))
            .map_err(failed)?;
        for row in &table.rows {
            w.write_record(row.iter().map(|c| c.to_csv()))
                .map_err(failed)?;
        }
        w.flush().map_err(|e| failed(e.into()))?;
    }
    Ok(out)
}
