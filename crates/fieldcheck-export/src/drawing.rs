//! The ledger's pictures, written as a stream.
//!
//! rust_xlsxwriter keeps every inserted picture in memory until the file is saved, which a
//! ledger of 100,000 problems with 200,000 photos cannot afford. So the workbook is written
//! without pictures, and the pictures go to temporary files as rows are written: their bytes
//! one after another, the drawing's `<xdr:twoCellAnchor>` elements and its relationships.
//! [`Drawing::finish`] then copies the workbook's package entry by entry into the final file,
//! adding the drawing part (`xl/drawings/drawing1.xml` and its rels), the media, the sheet's
//! `<drawing>` element and relationship, and the content types. The XML is the shape
//! rust_xlsxwriter writes for `insert_image_fit_to_cell(.., true)` with a URL, so Excel 2010+,
//! WPS and LibreOffice read it as they read rust_xlsxwriter's own pictures.
//!
//! Memory per picture: four bytes (its length), plus the output ZIP's directory entry.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::ExportError;

/// English Metric Units per pixel (at 96 DPI).
const EMU_PER_PX: f64 = 9525.0;

const SHEET: &str = "xl/worksheets/sheet1.xml";
const SHEET_RELS: &str = "xl/worksheets/_rels/sheet1.xml.rels";
const DRAWING: &str = "xl/drawings/drawing1.xml";
const DRAWING_RELS: &str = "xl/drawings/_rels/drawing1.xml.rels";
const CONTENT_TYPES: &str = "[Content_Types].xml";
const REL_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// A cell in pixels: where its top-left corner is on the sheet, and its size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CellBox {
    pub row: u32,
    pub col: u16,
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

/// The picture formats a cell picture may have.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Jpeg,
    Png,
}

impl Kind {
    fn of(bytes: &[u8]) -> Option<Kind> {
        if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            Some(Kind::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Kind::Png)
        } else {
            None
        }
    }

    fn ext(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpeg",
            Kind::Png => "png",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
        }
    }
}

/// The pictures written so far, in temporary files.
pub(crate) struct Drawing {
    /// Every picture's bytes, one after another.
    media: BufWriter<File>,
    /// Each picture's length in `media` and its format, in order (`image{i+1}`).
    pictures: Vec<(u32, Kind)>,
    /// The `<xdr:twoCellAnchor>` elements.
    anchors: BufWriter<File>,
    /// The drawing's `<Relationship>` elements.
    rels: BufWriter<File>,
    next_rel: u32,
}

impl Drawing {
    pub fn new(tempdir: Option<&Path>) -> io::Result<Drawing> {
        let temp = || -> io::Result<BufWriter<File>> {
            Ok(BufWriter::new(match tempdir {
                Some(d) => tempfile::tempfile_in(d)?,
                None => tempfile::tempfile()?,
            }))
        };
        Ok(Drawing {
            media: temp()?,
            pictures: Vec::new(),
            anchors: temp()?,
            rels: temp()?,
            next_rel: 1,
        })
    }

    pub fn len(&self) -> usize {
        self.pictures.len()
    }

    /// Adds a picture scaled into `cell` keeping its aspect ratio, linking to `url` when given.
    /// The bytes must be a JPEG or PNG that rust_xlsxwriter can read (it gives the size and
    /// resolution, as it would if it placed the picture itself).
    pub fn add(
        &mut self,
        bytes: &[u8],
        cell: CellBox,
        alt_text: &str,
        url: Option<&str>,
    ) -> Result<(), String> {
        let kind = Kind::of(bytes).ok_or("not a JPEG or PNG picture")?;
        let image = rust_xlsxwriter::Image::new_from_buffer(bytes).map_err(|e| e.to_string())?;
        let len = u32::try_from(bytes.len()).map_err(|_| "picture larger than 4 GB")?;
        let (w, h) = scaled_size(
            image.width(),
            image.height(),
            image.width_dpi(),
            image.height_dpi(),
            cell,
        );
        let write = |d: &mut Drawing| -> io::Result<()> {
            d.media.write_all(bytes)?;
            let n = d.pictures.len() + 1;
            let link = match url {
                Some(url) => {
                    let id = d.next_rel;
                    d.next_rel += 1;
                    write!(
                        d.rels,
                        r#"<Relationship Id="rId{id}" Type="{REL_NS}/hyperlink" Target="{}" TargetMode="External"/>"#,
                        escape(url)
                    )?;
                    Some(id)
                }
                None => None,
            };
            let image_rel = d.next_rel;
            d.next_rel += 1;
            write!(
                d.rels,
                r#"<Relationship Id="rId{image_rel}" Type="{REL_NS}/image" Target="../media/image{n}.{}"/>"#,
                kind.ext()
            )?;
            write_anchor(&mut d.anchors, n, cell, (w, h), alt_text, link, image_rel)?;
            d.pictures.push((len, kind));
            Ok(())
        };
        write(self).map_err(|e| e.to_string())
    }

    /// Writes `out`: the package `workbook` (rust_xlsxwriter's file, without pictures) with
    /// the pictures added (and the sheet's repeated last row dropped, see [`copy_sheet`]).
    pub fn finish<R: Read + Seek, W: Write + Seek>(
        self,
        workbook: R,
        out: W,
    ) -> Result<W, ExportError> {
        let Drawing {
            media,
            pictures,
            anchors,
            rels,
            next_rel: _,
        } = self;
        let mut media = rewind(media)?;
        let mut anchors = rewind(anchors)?;
        let mut rels = rewind(rels)?;

        let xml = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        let mut src = ZipArchive::new(workbook)?;
        let mut zip = ZipWriter::new(out);
        let mut sheet_rels_done = false;
        for i in 0..src.len() {
            let name = src.by_index_raw(i)?.name()?.into_owned();
            match name.as_str() {
                CONTENT_TYPES if !pictures.is_empty() => {
                    let text = read_text(&mut src, i)?;
                    zip.start_file(CONTENT_TYPES, xml)?;
                    zip.write_all(content_types(&text, &pictures).as_bytes())?;
                }
                SHEET_RELS if !pictures.is_empty() => {
                    let text = read_text(&mut src, i)?;
                    let (text, _) = add_drawing_rel(Some(&text));
                    zip.start_file(SHEET_RELS, xml)?;
                    zip.write_all(text.as_bytes())?;
                    sheet_rels_done = true;
                }
                SHEET => {
                    // The sheet names its drawing by the relationship id the rels will give it.
                    let rels_text = match src.index_for_name(SHEET_RELS) {
                        Some(j) => Some(read_text(&mut src, j)?),
                        None => None,
                    };
                    let (_, rel_id) = add_drawing_rel(rels_text.as_deref());
                    let rel_id = (!pictures.is_empty()).then_some(rel_id.as_str());
                    zip.start_file(SHEET, xml)?;
                    copy_sheet(&mut src.by_index(i)?, &mut zip, rel_id)?;
                }
                _ => zip.raw_copy_file(src.by_index_raw(i)?)?,
            }
        }
        if pictures.is_empty() {
            return Ok(zip.finish()?);
        }
        if !sheet_rels_done {
            let (text, _) = add_drawing_rel(None);
            zip.start_file(SHEET_RELS, xml)?;
            zip.write_all(text.as_bytes())?;
        }

        zip.start_file(DRAWING, xml)?;
        zip.write_all(XML_DECLARATION.as_bytes())?;
        zip.write_all(
            br#"<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">"#,
        )?;
        io::copy(&mut anchors, &mut zip)?;
        zip.write_all(b"</xdr:wsDr>")?;

        zip.start_file(DRAWING_RELS, xml)?;
        zip.write_all(XML_DECLARATION.as_bytes())?;
        zip.write_all(
            br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
        )?;
        io::copy(&mut rels, &mut zip)?;
        zip.write_all(b"</Relationships>")?;

        // Pictures are already compressed.
        let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        for (i, (len, kind)) in pictures.iter().enumerate() {
            zip.start_file(format!("xl/media/image{}.{}", i + 1, kind.ext()), stored)?;
            let copied = io::copy(&mut (&mut media).take(u64::from(*len)), &mut zip)?;
            if copied != u64::from(*len) {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "picture file shorter than written",
                )
                .into());
            }
        }
        Ok(zip.finish()?)
    }
}

const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";

fn rewind(w: BufWriter<File>) -> io::Result<BufReader<File>> {
    let mut f = w.into_inner().map_err(|e| e.into_error())?;
    f.seek(SeekFrom::Start(0))?;
    Ok(BufReader::with_capacity(64 * 1024, f))
}

fn read_text<R: Read + Seek>(src: &mut ZipArchive<R>, i: usize) -> Result<String, ExportError> {
    let mut s = String::new();
    src.by_index(i)?.read_to_string(&mut s)?;
    Ok(s)
}

/// The size in pixels of a `width` × `height` picture scaled into `cell` keeping its aspect
/// ratio, as rust_xlsxwriter's `Image::set_scale_to_size` computes it.
fn scaled_size(width: f64, height: f64, dpi_x: f64, dpi_y: f64, cell: CellBox) -> (f64, f64) {
    let mut sx = (f64::from(cell.width) / width) * (dpi_x / 96.0);
    let mut sy = (f64::from(cell.height) / height) * (dpi_y / 96.0);
    if sx < sy {
        sy = sx;
    } else {
        sx = sy;
    }
    (width * sx * 96.0 / dpi_x, height * sy * 96.0 / dpi_y)
}

/// One `<xdr:twoCellAnchor>`: from the cell's top-left corner to where a `(w, h)` pixel
/// picture ends (the next column or row at offset 0 when it fills the cell exactly).
fn write_anchor(
    out: &mut impl Write,
    n: usize,
    cell: CellBox,
    (w, h): (f64, f64),
    alt_text: &str,
    link: Option<u32>,
    image_rel: u32,
) -> io::Result<()> {
    let (mut to_col, mut x2) = (u32::from(cell.col), w);
    if x2 >= f64::from(cell.width) {
        x2 -= f64::from(cell.width);
        to_col += 1;
    }
    let (mut to_row, mut y2) = (cell.row, h);
    if y2 >= f64::from(cell.height) {
        y2 -= f64::from(cell.height);
        to_row += 1;
    }
    let emu = |px: f64| (px * EMU_PER_PX).round();
    write!(
        out,
        "<xdr:twoCellAnchor editAs=\"oneCell\">\
         <xdr:from><xdr:col>{}</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>{}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>\
         <xdr:to><xdr:col>{to_col}</xdr:col><xdr:colOff>{}</xdr:colOff><xdr:row>{to_row}</xdr:row><xdr:rowOff>{}</xdr:rowOff></xdr:to>\
         <xdr:pic><xdr:nvPicPr>",
        cell.col,
        cell.row,
        emu(x2),
        emu(y2),
    )?;
    let descr = if alt_text.is_empty() {
        String::new()
    } else {
        format!(" descr=\"{}\"", escape(alt_text))
    };
    let id = n + 1;
    match link {
        Some(rel) => write!(
            out,
            "<xdr:cNvPr id=\"{id}\" name=\"Picture {n}\"{descr}><a:hlinkClick xmlns:r=\"{REL_NS}\" r:id=\"rId{rel}\"/></xdr:cNvPr>"
        )?,
        None => write!(out, "<xdr:cNvPr id=\"{id}\" name=\"Picture {n}\"{descr}/>")?,
    }
    write!(
        out,
        "<xdr:cNvPicPr><a:picLocks noChangeAspect=\"1\"/></xdr:cNvPicPr></xdr:nvPicPr>\
         <xdr:blipFill><a:blip xmlns:r=\"{REL_NS}\" r:embed=\"rId{image_rel}\"/><a:stretch><a:fillRect/></a:stretch></xdr:blipFill>\
         <xdr:spPr><a:xfrm><a:off x=\"{}\" y=\"{}\"/><a:ext cx=\"{}\" cy=\"{}\"/></a:xfrm><a:prstGeom prst=\"rect\"><a:avLst/></a:prstGeom></xdr:spPr>\
         </xdr:pic><xdr:clientData/></xdr:twoCellAnchor>",
        u64::from(cell.left) * 9525,
        u64::from(cell.top) * 9525,
        emu(w),
        emu(h),
    )
}

/// `[Content_Types].xml` with the pictures' formats and the drawing part.
fn content_types(text: &str, pictures: &[(u32, Kind)]) -> String {
    let mut defaults = String::new();
    for kind in [Kind::Jpeg, Kind::Png] {
        let marker = format!("Extension=\"{}\"", kind.ext());
        if pictures.iter().any(|(_, k)| *k == kind) && !text.contains(&marker) {
            defaults.push_str(&format!(
                "<Default {marker} ContentType=\"{}\"/>",
                kind.content_type()
            ));
        }
    }
    let drawing = format!(
        "<Override PartName=\"/{DRAWING}\" ContentType=\"application/vnd.openxmlformats-officedocument.drawing+xml\"/>"
    );
    // Defaults go first (the schema's order is free, but Excel writes them first).
    let mut out = match text.find("<Default ") {
        Some(at) => format!("{}{defaults}{}", &text[..at], &text[at..]),
        None => text.replacen("</Types>", &format!("{defaults}</Types>"), 1),
    };
    out = out.replacen("</Types>", &format!("{drawing}</Types>"), 1);
    out
}

/// The sheet's relationships with the drawing added, and the drawing's relationship id (one
/// past the highest `rIdN` already there).
fn add_drawing_rel(existing: Option<&str>) -> (String, String) {
    let max = existing
        .map(|t| {
            t.split("Id=\"rId")
                .skip(1)
                .filter_map(|s| s.split('"').next()?.parse::<u32>().ok())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    let id = format!("rId{}", max + 1);
    let rel = format!(
        "<Relationship Id=\"{id}\" Type=\"{REL_NS}/drawing\" Target=\"../drawings/drawing1.xml\"/>"
    );
    let text = match existing {
        Some(t) => t.replacen("</Relationships>", &format!("{rel}</Relationships>"), 1),
        None => format!(
            "{XML_DECLARATION}<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">{rel}</Relationships>"
        ),
    };
    (text, id)
}

/// The elements that follow `<drawing>` in a worksheet (ECMA-376 CT_Worksheet order); the
/// drawing goes before the first of them present, else before the end tag.
const AFTER_DRAWING: [&str; 8] = [
    "<legacyDrawing",
    "<picture",
    "<oleObjects",
    "<controls",
    "<webPublishItems",
    "<tableParts",
    "<extLst",
    "</worksheet>",
];

/// How much of the sheet is held back while streaming: more than a row's XML, so the last
/// rows are still at hand when `</sheetData>` arrives.
const WINDOW: usize = 256 * 1024;

/// Copies the worksheet XML, streaming its (large) `<sheetData>` and adding
/// `<drawing r:id=…/>` (when `rel_id` is given) in its place among the (small) elements after
/// it. Cell text is escaped, so `</sheetData>` can only be the element's end.
///
/// rust_xlsxwriter 0.102 in constant-memory mode writes the last row twice when it has a
/// height of its own (with its cells, then again as an empty `<row r=N ht=…/>`): a repeated
/// row number Excel reports as damaged content, so the repeat is dropped here.
fn copy_sheet(
    src: &mut impl Read,
    out: &mut impl Write,
    rel_id: Option<&str>,
) -> Result<(), ExportError> {
    const END: &[u8] = b"</sheetData>";
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::with_capacity(WINDOW + buf.len());
    let found = loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break None;
        }
        // Only the new bytes (and a marker's length before them) can hold the end.
        let from = pending.len().saturating_sub(END.len() - 1);
        pending.extend_from_slice(&buf[..n]);
        if let Some(at) = find(&pending[from..], END) {
            break Some(from + at);
        }
        if pending.len() > WINDOW {
            let flush = pending.len() - WINDOW;
            out.write_all(&pending[..flush])?;
            pending.drain(..flush);
        }
    };
    let Some(at) = found else {
        return Err(bad_sheet("worksheet without </sheetData>"));
    };
    let rows_end = without_repeated_last_row(&pending[..at]);
    out.write_all(&pending[..rows_end])?;
    let mut tail = pending[at..].to_vec();
    src.read_to_end(&mut tail)?;
    let tail = String::from_utf8(tail).map_err(|_| bad_sheet("worksheet is not UTF-8"))?;
    let pos = match rel_id {
        Some(_) => AFTER_DRAWING
            .iter()
            .filter_map(|t| tail.find(t))
            .min()
            .ok_or_else(|| bad_sheet("worksheet without end"))?,
        None => tail.len(),
    };
    out.write_all(&tail.as_bytes()[..pos])?;
    if let Some(id) = rel_id {
        write!(out, "<drawing r:id=\"{id}\"/>")?;
    }
    out.write_all(&tail.as_bytes()[pos..])?;
    Ok(())
}

/// The end of `rows` without a last, empty `<row r="N" …/>` whose number the row before it
/// already has.
fn without_repeated_last_row(rows: &[u8]) -> usize {
    let Some(last) = rfind(rows, b"<row ") else {
        return rows.len();
    };
    let element = &rows[last..];
    // An empty row element: one tag, self-closed.
    if !element.ends_with(b"/>") || element.iter().filter(|b| **b == b'>').count() != 1 {
        return rows.len();
    }
    let number = |e: &[u8]| -> Option<Vec<u8>> {
        let rest = &e[find(e, b" r=\"")? + 4..];
        Some(rest[..find(rest, b"\"")?].to_vec())
    };
    let Some(before) = rfind(&rows[..last], b"<row ") else {
        return rows.len();
    };
    match (number(element), number(&rows[before..last])) {
        (Some(a), Some(b)) if a == b => last,
        _ => rows.len(),
    }
}

fn bad_sheet(what: &str) -> ExportError {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned()).into()
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Text for an XML attribute value.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#xA;"),
            c => out.push(c),
        }
    }
    out
}
