//! The XLSX ledger (问题台账): one row per problem, photos as pictures over their cells.
//!
//! Pictures are *floating images anchored to the cell* and scaled into it (what
//! rust_xlsxwriter's `insert_image_fit_to_cell` writes), which Excel 2010+, WPS and
//! LibreOffice all show; the "place in cell" images (`embed_image`) are Excel 365 only. Each
//! picture links to the full photo, and the cell under it keeps the link as text.
//!
//! Cells are written by rust_xlsxwriter in constant-memory mode (each row goes to a temporary
//! file when the next starts). Pictures are not given to rust_xlsxwriter, which would hold
//! every one until `save`: they stream to temporary files ([`crate::drawing`]) and are joined
//! with the workbook when it is saved, so memory stays flat whatever the number of photos.
//! See docs/benchmarks.md ("Exports").

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Format, FormatAlign, Workbook};

use crate::drawing::{CellBox, Drawing};
use crate::{AFTER_COL, BEFORE_COL, COLUMNS, ExportError, ExportRow, PhotoSource, TimeFormat};

/// Long edge of a cell picture, in pixels: a little more than the cell (about 117 × 96 px),
/// so it stays sharp when the office widens the column a little.
pub const CELL_IMAGE_PX: u32 = 128;

/// Column widths in characters, in [`COLUMNS`] order.
pub(crate) const WIDTHS: [f64; 19] = [
    6.0, 24.0, 17.0, 28.0, 24.0, 18.0, 24.0, 40.0, 17.0, 20.0, 17.0, 17.0, 30.0, 17.0, 17.0, 10.0,
    9.0, 10.0, 30.0,
];

/// Height of a row with a photo, in points (96 px).
pub(crate) const PHOTO_ROW_PT: f64 = 72.0;

/// Height of the header row, in points.
pub(crate) const HEADER_ROW_PT: f64 = 30.0;

/// Height of a row rust_xlsxwriter leaves at its default, in pixels (15 points).
const DEFAULT_ROW_PX: u32 = 20;

/// A column width in characters as pixels, as rust_xlsxwriter converts it (Calibri 11: 7 px
/// a digit plus 5 px of padding), so pictures are sized to the cells it writes.
fn column_px(chars: f64) -> u32 {
    (chars * 7.0).round() as u32 + 5
}

/// A row height in points as pixels, as rust_xlsxwriter converts it.
fn row_px(points: f64) -> u32 {
    (points * 4.0 / 3.0).round() as u32
}

/// A4 in Excel's paper size numbering.
const A4: u8 = 9;

pub struct XlsxLedger {
    workbook: Workbook,
    tf: TimeFormat,
    rows: u32,
    /// Where the next row starts, in pixels from the sheet's top.
    next_row_top: u32,
    drawing: Drawing,
    tempdir: Option<PathBuf>,
    missing: u64,
    text: Format,
    wrap: Format,
}

impl XlsxLedger {
    /// A ledger whose worksheet rows spill to the system's temporary directory.
    pub fn new(tf: TimeFormat) -> Result<XlsxLedger, ExportError> {
        XlsxLedger::with_tempdir(tf, None)
    }

    /// A ledger whose worksheet rows spill to `tempdir` (the export directory, so a large
    /// export does not fill a small `/tmp`).
    pub fn with_tempdir(tf: TimeFormat, tempdir: Option<&Path>) -> Result<XlsxLedger, ExportError> {
        let mut workbook = Workbook::new();
        if let Some(d) = tempdir {
            workbook.set_tempdir(d)?;
        }
        let header = Format::new()
            .set_bold()
            .set_text_wrap()
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter)
            .set_background_color("D9E1F2")
            .set_border(rust_xlsxwriter::FormatBorder::Thin);
        let text = Format::new()
            .set_align(FormatAlign::Top)
            .set_border(rust_xlsxwriter::FormatBorder::Thin);
        let wrap = text.clone().set_text_wrap();
        let ws = workbook.add_worksheet_with_constant_memory()?;
        ws.set_name("问题台账")?;
        for (i, w) in WIDTHS.iter().enumerate() {
            ws.set_column_width(i as u16, *w)?;
        }
        ws.set_row_height(0, HEADER_ROW_PT)?;
        for (i, c) in COLUMNS.iter().enumerate() {
            ws.write_string_with_format(0, i as u16, *c, &header)?;
        }
        ws.set_freeze_panes(1, 0)?;
        ws.set_landscape();
        ws.set_paper_size(A4);
        ws.set_repeat_rows(0, 0)?;
        // One page wide, as many pages down as it takes.
        ws.set_print_fit_to_pages(1, 0);
        Ok(XlsxLedger {
            workbook,
            tf,
            rows: 0,
            next_row_top: row_px(HEADER_ROW_PT),
            drawing: Drawing::new(tempdir)?,
            tempdir: tempdir.map(Path::to_path_buf),
            missing: 0,
            text,
            wrap,
        })
    }

    /// Rows written, pictures placed, photos the store did not have.
    pub fn counts(&self) -> (u32, u64, u64) {
        (self.rows, self.drawing.len() as u64, self.missing)
    }

    pub fn write_row(
        &mut self,
        r: &ExportRow,
        photos: &mut dyn PhotoSource,
    ) -> Result<(), ExportError> {
        self.rows += 1;
        let row = self.rows;
        let cells = crate::text_cells(u64::from(row), r, &self.tf);
        let has_photos = !r.before.is_empty() || !r.after.is_empty();
        let height = if has_photos {
            row_px(PHOTO_ROW_PT)
        } else {
            DEFAULT_ROW_PX
        };
        let top = self.next_row_top;
        self.next_row_top += height;
        for (col, list) in [(BEFORE_COL, &r.before), (AFTER_COL, &r.after)] {
            let Some(p) = list.first() else { continue };
            let Some(bytes) = photos.cell_image(&p.hash)? else {
                self.missing += 1;
                continue;
            };
            let cell = CellBox {
                row,
                col,
                left: WIDTHS[..col as usize].iter().map(|w| column_px(*w)).sum(),
                top,
                width: column_px(WIDTHS[col as usize]),
                height,
            };
            // A spreadsheet link must be absolute; without the server's `public_url` there is
            // no address to point at, and the picture stands alone.
            let url = (p.url.starts_with("https://") || p.url.starts_with("http://"))
                .then_some(p.url.as_str());
            let alt = format!("{} {}", r.api.code, COLUMNS[col as usize]);
            self.drawing
                .add(&bytes, cell, &alt, url)
                .map_err(|message| ExportError::Photo {
                    hash: p.hash.clone(),
                    message,
                })?;
        }
        let ws = self.workbook.worksheet_from_index(0)?;
        if has_photos {
            ws.set_row_height(row, PHOTO_ROW_PT)?;
        }
        for (i, v) in cells.iter().enumerate() {
            let col = i as u16;
            if i == 0 {
                ws.write_number_with_format(row, col, f64::from(row), &self.text)?;
            } else if v.is_empty() {
                ws.write_blank(row, col, &self.text)?;
            } else {
                let f = if matches!(i, 3 | 7 | 8 | 12 | 13 | 18) {
                    &self.wrap
                } else {
                    &self.text
                };
                ws.write_string_with_format(row, col, v, f)?;
            }
        }
        Ok(())
    }

    /// Adds the filter over every written row and writes the file: the workbook goes to a
    /// temporary file, then is copied into `path` with the pictures added.
    pub fn save(mut self, path: &Path) -> Result<(), ExportError> {
        let last = self.rows.max(1);
        let ws = self.workbook.worksheet_from_index(0)?;
        ws.autofilter(0, 0, last, (COLUMNS.len() - 1) as u16)?;
        let mut book = match &self.tempdir {
            Some(d) => tempfile::tempfile_in(d)?,
            None => tempfile::tempfile()?,
        };
        self.workbook.save_to_writer(&mut book)?;
        book.seek(SeekFrom::Start(0))?;
        let out = BufWriter::with_capacity(256 * 1024, File::create(path)?);
        let mut out = self.drawing.finish(std::io::BufReader::new(book), out)?;
        out.flush()?;
        Ok(())
    }
}
