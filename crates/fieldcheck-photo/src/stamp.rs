//! The evidence stamp (水印): a semi-transparent dark band across the bottom of a display copy
//! with white text lines (time, place, coordinates, inspector, problem code), the way Chinese
//! field teams' watermark cameras mark their photos.
//!
//! Only the display copy is stamped, into a new content-addressed copy: the photo as captured
//! keeps its bytes and its hash. Text is laid out with `ab_glyph` (outlines from a TrueType /
//! OpenType font or collection, its coverage rasteriser); this module only blends the
//! coverage it reports into the pixels. The font comes from the platform: a CJK face for the
//! Chinese words, then a Latin face for what the CJK face lacks; with no CJK font the digits
//! and Latin letters still print, and a character no face has is skipped, never an error.

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};

use crate::decode::Raster;
use crate::{
    DISPLAY_LONG_EDGE, ExifInfo, Ingested, JPEG_QUALITY, Limits, PhotoError, SourceFormat,
    THUMB_LONG_EDGE, decode, pipeline, sha256_hex, sniff,
};

/// CJK fonts looked for, in order, with the face to use in a collection: Noto Sans CJK's
/// collections hold JP, KR, SC, TC, HK (in that order) on Debian and on Android alike, and
/// face 2 is Simplified Chinese.
pub const PLATFORM_CJK_FONTS: &[(&str, u32)] = &[
    // Android (every release since 5.0 ships it).
    ("/system/fonts/NotoSansCJK-Regular.ttc", 2),
    // Debian and Ubuntu (fonts-noto-cjk), then Arch and Fedora.
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),
    (
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
        2,
    ),
    // Windows (Microsoft YaHei) and macOS (Hiragino Sans GB).
    ("C:\\Windows\\Fonts\\msyh.ttc", 0),
    ("/System/Library/Fonts/Hiragino Sans GB.ttc", 0),
];

/// Latin fonts for digits and letters when there is no CJK font (or it lacks a character).
pub const PLATFORM_LATIN_FONTS: &[(&str, u32)] = &[
    ("/system/fonts/Roboto-Regular.ttf", 0),
    ("/system/fonts/DroidSans.ttf", 0),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0),
    (
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        0,
    ),
    ("C:\\Windows\\Fonts\\arial.ttf", 0),
    ("/System/Library/Fonts/Helvetica.ttc", 0),
];

/// A character every CJK face used for Chinese stamps has (检查员).
const CJK_PROBE: char = '检';

/// The faces a stamp is drawn with: a CJK face first (if one was found), then a Latin one.
/// Loading reads the font files (a CJK collection is ~20 MB): load once and keep.
pub struct StampFont {
    faces: Vec<FontVec>,
    cjk: bool,
    sources: Vec<PathBuf>,
}

impl std::fmt::Debug for StampFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StampFont")
            .field("cjk", &self.cjk)
            .field("sources", &self.sources)
            .finish()
    }
}

fn load_face(path: &Path, index: u32) -> Option<FontVec> {
    let data = std::fs::read(path).ok()?;
    // A plain .ttf has only face 0; a collection without the preferred face still has one.
    FontVec::try_from_vec_and_index(data.clone(), index)
        .or_else(|_| FontVec::try_from_vec_and_index(data, 0))
        .ok()
}

fn has_char(face: &FontVec, c: char) -> bool {
    face.glyph_id(c).0 != 0
}

impl StampFont {
    /// The platform's fonts ([`PLATFORM_CJK_FONTS`], then [`PLATFORM_LATIN_FONTS`]).
    pub fn platform() -> StampFont {
        Self::load(
            PLATFORM_CJK_FONTS
                .iter()
                .chain(PLATFORM_LATIN_FONTS)
                .map(|(p, i)| (PathBuf::from(p), *i)),
        )
    }

    /// The first readable CJK face and the first readable Latin-only face among
    /// `candidates` (path, face index in a collection). Unreadable or missing files are
    /// skipped: a phone without the font still takes photos.
    pub fn load(candidates: impl IntoIterator<Item = (PathBuf, u32)>) -> StampFont {
        let mut cjk: Option<(FontVec, PathBuf)> = None;
        let mut latin: Option<(FontVec, PathBuf)> = None;
        for (path, index) in candidates {
            if cjk.is_some() && latin.is_some() {
                break;
            }
            let Some(face) = load_face(&path, index) else {
                continue;
            };
            if has_char(&face, CJK_PROBE) {
                if cjk.is_none() {
                    cjk = Some((face, path));
                }
            } else if latin.is_none() && has_char(&face, '0') {
                latin = Some((face, path));
            }
        }
        let has_cjk = cjk.is_some();
        let (faces, sources) = cjk.into_iter().chain(latin).unzip();
        StampFont {
            faces,
            cjk: has_cjk,
            sources,
        }
    }

    /// No face at all: nothing can be written on a stamp.
    pub fn is_empty(&self) -> bool {
        self.faces.is_empty()
    }

    /// Whether Chinese text prints (otherwise only digits and Latin letters do).
    pub fn has_cjk(&self) -> bool {
        self.cjk
    }

    /// The font files in use, CJK first.
    pub fn sources(&self) -> &[PathBuf] {
        &self.sources
    }

    fn face_for(&self, c: char) -> Option<&FontVec> {
        self.faces.iter().find(|f| has_char(f, c))
    }
}

/// Opacity of the dark band: dark enough for white text on a white wall, light enough to
/// see what is under it (watermark cameras use about half).
const BAND_ALPHA: f32 = 0.55;

/// Geometry of the stamp on a `width × height` picture with `lines` lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StampLayout {
    /// Text size in pixels: 1/34 of the short edge, so the stamp reads the same on a
    /// portrait and a landscape photo, within 11–64 px.
    pub px: f32,
    pub line_height: u32,
    pub padding: u32,
    /// First row of the band; the band runs to the bottom edge.
    pub band_top: u32,
}

impl StampLayout {
    pub fn new(width: u32, height: u32, lines: usize) -> StampLayout {
        let short = width.min(height) as f32;
        let px = (short / 34.0).clamp(11.0, 64.0);
        let line_height = (px * 1.3).ceil() as u32;
        let padding = (px * 0.5).ceil() as u32;
        let band = (line_height * lines as u32 + 2 * padding).min(height);
        StampLayout {
            px,
            line_height,
            padding,
            band_top: height - band,
        }
    }
}

const ELLIPSIS: char = '…';

/// Blends one glyph's coverage (from `ab_glyph`'s rasteriser) through `plot`.
fn draw_glyph(
    face: &FontVec,
    id: ab_glyph::GlyphId,
    scale: PxScale,
    x: f32,
    baseline: f32,
    plot: &mut impl FnMut(i64, i64, f32),
) {
    let glyph = id.with_scale_and_position(scale, point(x, baseline));
    if let Some(outline) = face.outline_glyph(glyph) {
        let b = outline.px_bounds();
        outline.draw(|gx, gy, cov| {
            plot(
                b.min.x as i64 + i64::from(gx),
                b.min.y as i64 + i64::from(gy),
                cov,
            )
        });
    }
}

/// Darkens the bottom band and writes `lines` into it, in place.
pub(crate) fn draw(r: &mut Raster, lines: &[String], font: &StampFont) -> StampLayout {
    let layout = StampLayout::new(r.width, r.height, lines.len());
    let bpp = r.channels as usize;
    let (w, h) = (r.width as usize, r.height as usize);
    let keep = 1.0 - BAND_ALPHA;
    for px in &mut r.pixels[layout.band_top as usize * w * bpp..] {
        *px = (f32::from(*px) * keep).round() as u8;
    }
    let Some(primary) = font.faces.first() else {
        return layout;
    };
    let scale = PxScale::from(layout.px);
    let ascent = primary.as_scaled(scale).ascent();
    let right = r.width.saturating_sub(layout.padding) as f32;
    let mut plot = |x: i64, y: i64, coverage: f32| {
        if x < 0 || y < i64::from(layout.band_top) || x >= w as i64 || y >= h as i64 {
            return;
        }
        let at = (y as usize * w + x as usize) * bpp;
        for v in &mut r.pixels[at..at + bpp] {
            // White over the band, weighted by the glyph's coverage of the pixel.
            let f = f32::from(*v);
            *v = (f + (255.0 - f) * coverage.clamp(0.0, 1.0)).round() as u8;
        }
    };
    for (i, line) in lines.iter().enumerate() {
        let baseline = (layout.band_top + layout.padding + layout.line_height * i as u32) as f32
            + ascent
            + (layout.line_height as f32 - layout.px) / 2.0;
        let mut x = layout.padding as f32;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            let Some(face) = font.face_for(c) else {
                continue;
            };
            let id = face.glyph_id(c);
            let advance = face.as_scaled(scale).h_advance(id);
            // Leave room for "…" while more follows, so a cut line shows it was cut.
            let reserve = match (chars.peek(), font.face_for(ELLIPSIS)) {
                (Some(_), Some(f)) => f.as_scaled(scale).h_advance(f.glyph_id(ELLIPSIS)),
                _ => 0.0,
            };
            if x + advance + reserve > right {
                if let Some(f) = font.face_for(ELLIPSIS) {
                    let e = f.glyph_id(ELLIPSIS);
                    if x + f.as_scaled(scale).h_advance(e) <= right {
                        draw_glyph(f, e, scale, x, baseline, &mut plot);
                    }
                }
                break;
            }
            draw_glyph(face, id, scale, x, baseline, &mut plot);
            x += advance;
        }
    }
    layout
}

/// Stamps `lines` onto a display copy (JPEG as stored) and returns the stamped copy with its
/// own thumbnail, ready for [`crate::PhotoFiles::put`]. In the result, `captured_sha256` is the
/// hash of `display` — the copy it was stamped from — and `exif` is empty: the stamped copy is
/// a picture of the evidence, not evidence.
pub fn stamp(
    display: &[u8],
    lines: &[String],
    font: &StampFont,
    limits: &Limits,
) -> Result<Ingested, PhotoError> {
    if display.is_empty() {
        return Err(PhotoError::Empty);
    }
    let format = sniff(display)?;
    // Decoded at full size: a display copy is at most 1600 px already.
    let decoded = decode::decode(display, format, limits, u32::MAX)?;
    let mut raster = decoded.raster;
    if raster.width.max(raster.height) > DISPLAY_LONG_EDGE {
        let (w, h) = pipeline::fit(raster.width, raster.height, DISPLAY_LONG_EDGE);
        raster = pipeline::resize(&raster, w, h)?;
    }
    draw(&mut raster, lines, font);
    let display_jpeg = pipeline::encode_jpeg(&raster, JPEG_QUALITY)?;
    let (tw, th) = pipeline::fit(raster.width, raster.height, THUMB_LONG_EDGE);
    let thumb_jpeg = pipeline::encode_jpeg(&pipeline::resize(&raster, tw, th)?, JPEG_QUALITY)?;
    Ok(Ingested {
        captured_sha256: sha256_hex(display),
        display_sha256: sha256_hex(&display_jpeg),
        display_width: raster.width,
        display_height: raster.height,
        display: display_jpeg,
        thumbnail_sha256: sha256_hex(&thumb_jpeg),
        thumbnail_width: tw,
        thumbnail_height: th,
        thumbnail: thumb_jpeg,
        width: raster.width,
        height: raster.height,
        format: SourceFormat::Jpeg,
        exif: ExifInfo::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Channels;

    fn gray_raster(w: u32, h: u32, v: u8, channels: Channels) -> Raster {
        Raster {
            pixels: vec![v; (w * h) as usize * channels as usize],
            width: w,
            height: h,
            channels,
        }
    }

    fn lines() -> Vec<String> {
        [
            "时间 2026-12-03 15:05:09",
            "地点 人民路农贸市场",
            "坐标 30.274084, 120.155070",
            "检查员 张伟",
            "问题编号 GL-20261203-K7Q2-0007",
        ]
        .map(String::from)
        .to_vec()
    }

    /// Exact, on the raster: above the band nothing changes; in the band every pixel is
    /// darker than the source or white text; text is there.
    #[test]
    fn band_darkens_text_is_light_and_the_rest_is_untouched() {
        let font = StampFont::platform();
        assert!(!font.is_empty(), "no font at all on this machine");
        for channels in [Channels::Rgb, Channels::Gray] {
            let mut r = gray_raster(800, 600, 128, channels);
            let l = draw(&mut r, &lines(), &font);
            let bpp = channels as usize;
            let top = l.band_top as usize * 800 * bpp;
            assert!(l.band_top > 300 && l.band_top < 600, "{l:?}");
            assert!(r.pixels[..top].iter().all(|&v| v == 128));
            let band = &r.pixels[top..];
            let dark = (128.0 * (1.0 - BAND_ALPHA)).round() as u8;
            assert!(band.iter().all(|&v| v >= dark), "only band or text");
            let text = band.iter().filter(|&&v| v >= 200).count();
            assert!(text > 500 * bpp, "{text} light text samples");
            assert!(band.iter().filter(|&&v| v == dark).count() > band.len() / 2);
        }
    }

    #[test]
    fn a_line_too_long_is_cut_at_the_right_margin() {
        let font = StampFont::platform();
        let mut r = gray_raster(200, 200, 128, Channels::Gray);
        let l = draw(&mut r, &["坐标 30.274084, 120.155070 ".repeat(5)], &font);
        let right = 200 - l.padding as usize;
        for y in l.band_top as usize..200 {
            assert!(
                r.pixels[y * 200 + right..(y + 1) * 200]
                    .iter()
                    .all(|&v| v < 128),
                "text past the margin on row {y}"
            );
        }
    }

    #[test]
    fn without_fonts_the_band_is_still_drawn_and_nothing_fails() {
        let none = StampFont::load([(PathBuf::from("/nonexistent/font.ttc"), 2)]);
        assert!(none.is_empty() && !none.has_cjk());
        let mut r = gray_raster(100, 100, 200, Channels::Rgb);
        draw(&mut r, &lines(), &none);
        assert_eq!(r.pixels[0], 200);
        assert_eq!(*r.pixels.last().unwrap(), 90);
    }
}
