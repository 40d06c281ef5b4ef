//! The XLSX ledger (问题台账): one row per problem, photos as pictures over their cells.
//!
//! Pictures are *floating images anchored to the cell* and scaled into it
//! (`insert_image_fit_to_cell`), which Excel 2010+, WPS and LibreOffice all show; the
//! "place in cell" images (`embed_image`) are Excel 365 only. Each picture links to the full
//! photo. Cells are written in constant-memory mode (each row goes to a temporary file when
//! the next starts), but rust_xlsxwriter keeps every inserted picture's bytes until `save`,
//! so pictures cost memory: the cell copies are small ([`CELL_IMAGE_PX`], a few KB each) and
//! at most `max_pictures` are placed; past that a photo cell keeps its link text only (the
//! ZIP export carries every photo). See docs/benchmarks.md ("Exports").

use std::path::Path;

use rust_xlsxwriter::{Format, FormatAlign, Image, Workbook, XlsxError};

use crate::{AFTER_COL, BEFORE_COL, COLUMNS, ExportError, ExportRow, PhotoSource, TimeFormat};

/// Long edge of a cell picture, in pixels: a little more than the cell (about 117 × 96 px),
/// so it stays sharp when the office widens the column a little.
pub const CELL_IMAGE_PX: u32 = 128;

/// Pictures placed by default. rust_xlsxwriter holds every picture until the file is saved:
/// measured about 16 KB of peak RSS per picture with 6 KB cell copies (`examples/export_memory`,
/// docs/benchmarks.md), so 12,000 pictures stay near 200 MB, inside the 300 MB an export may
/// take.
pub const DEFAULT_MAX_PICTURES: u64 = 12_000;

/// Column widths in characters, in [`COLUMNS`] order.
const WIDTHS: [f64; 19] = [
    6.0, 24.0, 17.0, 28.0, 24.0, 18.0, 24.0, 40.0, 17.0, 20.0, 17.0, 17.0, 30.0, 17.0, 17.0, 10.0,
    9.0, 10.0, 30.0,
];

/// Height of a row with a photo, in points (96 px).
const PHOTO_ROW_PT: f64 = 72.0;

/// A4 in Excel's paper size numbering.
const A4: u8 = 9;

pub struct XlsxLedger {
    workbook: Workbook,
    tf: TimeFormat,
    rows: u32,
    pictures: u64,
    max_pictures: u64,
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
        ws.set_row_height(0, 30)?;
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
            pictures: 0,
            max_pictures: DEFAULT_MAX_PICTURES,
            missing: 0,
            text,
            wrap,
        })
    }

    /// At most `n` pictures (each held in memory until [`XlsxLedger::save`]).
    pub fn set_max_pictures(&mut self, n: u64) {
        self.max_pictures = n;
    }

    /// Rows written, pictures placed, photos the store did not have.
    pub fn counts(&self) -> (u32, u64, u64) {
        (self.rows, self.pictures, self.missing)
    }

    pub fn write_row(
        &mut self,
        r: &ExportRow,
        photos: &mut dyn PhotoSource,
    ) -> Result<(), ExportError> {
        self.rows += 1;
        let row = self.rows;
        let cells = crate::text_cells(u64::from(row), r, &self.tf);
        // Pictures first (their bytes are the only thing that can fail halfway), then cells.
        let mut pics: Vec<(u16, Image)> = Vec::new();
        for (col, list) in [(BEFORE_COL, &r.before), (AFTER_COL, &r.after)] {
            let Some(p) = list.first() else { continue };
            if self.pictures >= self.max_pictures {
                continue;
            }
            match photos.cell_image(&p.hash)? {
                None => self.missing += 1,
                Some(bytes) => {
                    let mut image = Image::new_from_buffer(&bytes)
                        .map_err(|e| photo_error(&p.hash, e))?
                        .set_alt_text(format!("{} {}", r.api.code, COLUMNS[col as usize]));
                    // A spreadsheet link must be absolute; without the server's `public_url`
                    // there is no address to point at, and the picture stands alone.
                    if p.url.starts_with("https://") || p.url.starts_with("http://") {
                        image = image.set_url(p.url.as_str())?;
                    }
                    pics.push((col, image));
                    self.pictures += 1;
                }
            }
        }
        let ws = self.workbook.worksheet_from_index(0)?;
        if !r.before.is_empty() || !r.after.is_empty() {
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
        for (col, image) in pics {
            ws.insert_image_fit_to_cell(row, col, &image, true)?;
        }
        Ok(())
    }

    /// Adds the filter over every written row and writes the file.
    pub fn save(mut self, path: &Path) -> Result<(), ExportError> {
        let last = self.rows.max(1);
        let ws = self.workbook.worksheet_from_index(0)?;
        ws.autofilter(0, 0, last, (COLUMNS.len() - 1) as u16)?;
        self.workbook.save(path)?;
        Ok(())
    }
}

fn photo_error(hash: &str, e: XlsxError) -> ExportError {
    ExportError::Photo {
        hash: hash.to_owned(),
        message: e.to_string(),
    }
}
