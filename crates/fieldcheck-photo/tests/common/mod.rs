//! Fixture builders: every test image is generated here, with EXIF written byte by byte, so the
//! tests control exactly what the pipeline sees and no binary fixtures are committed.
#![allow(dead_code)]

use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage};

pub const RED: [u8; 3] = [220, 30, 30];
pub const GREEN: [u8; 3] = [30, 200, 30];
pub const BLUE: [u8; 3] = [30, 30, 220];
pub const YELLOW: [u8; 3] = [230, 220, 40];

/// Upright reference: top-left red, top-right green, bottom-left blue, bottom-right yellow.
/// Every one of the 8 EXIF orientations permutes these corners differently.
pub fn quadrants(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb(match (x < w / 2, y < h / 2) {
            (true, true) => RED,
            (false, true) => GREEN,
            (true, false) => BLUE,
            (false, false) => YELLOW,
        })
    })
}

/// Where stored pixel (x, y) is shown once EXIF orientation `o` is applied (CIPA DC-008
/// semantics, written out independently of the code under test). `sw`/`sh` are the stored
/// dimensions.
pub fn display_coords(o: u16, x: u32, y: u32, sw: u32, sh: u32) -> (u32, u32) {
    match o {
        1 => (x, y),
        2 => (sw - 1 - x, y),
        3 => (sw - 1 - x, sh - 1 - y),
        4 => (x, sh - 1 - y),
        5 => (y, x),
        6 => (sh - 1 - y, x),
        7 => (sh - 1 - y, sw - 1 - x),
        8 => (y, sw - 1 - x),
        _ => panic!("orientation {o}"),
    }
}

/// The image a camera would store so that, after orientation `o`, the viewer sees `upright`.
pub fn stored_for(upright: &RgbImage, o: u16) -> RgbImage {
    let (uw, uh) = upright.dimensions();
    let (sw, sh) = if o >= 5 { (uh, uw) } else { (uw, uh) };
    RgbImage::from_fn(sw, sh, |x, y| {
        let (dx, dy) = display_coords(o, x, y, sw, sh);
        *upright.get_pixel(dx, dy)
    })
}

pub fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

pub fn png_rgb(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

pub fn webp_lossless(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

pub fn decode(jpeg: &[u8]) -> RgbImage {
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .expect("output must be a valid JPEG")
        .to_rgb8()
}

#[track_caller]
pub fn assert_near(img: &RgbImage, x: u32, y: u32, want: [u8; 3], tol: u8) {
    let got = img.get_pixel(x, y).0;
    let ok = got.iter().zip(want).all(|(&g, w)| g.abs_diff(w) <= tol);
    assert!(
        ok,
        "pixel ({x},{y}) is {got:?}, expected ≈{want:?} (±{tol}) in {}×{}",
        img.width(),
        img.height()
    );
}

/// Checks the four quadrant centres of an output against the upright reference layout.
#[track_caller]
pub fn assert_upright_quadrants(img: &RgbImage) {
    let (w, h) = img.dimensions();
    assert_near(img, w / 4, h / 4, RED, 40);
    assert_near(img, 3 * w / 4, h / 4, GREEN, 40);
    assert_near(img, w / 4, 3 * h / 4, BLUE, 40);
    assert_near(img, 3 * w / 4, 3 * h / 4, YELLOW, 40);
}

// ---------------------------------------------------------------------------------------------
// TIFF / EXIF writer

pub const BYTE: u16 = 1;
pub const ASCII: u16 = 2;
pub const SHORT: u16 = 3;
pub const LONG: u16 = 4;
pub const RATIONAL: u16 = 5;
pub const UNDEFINED: u16 = 7;

/// One IFD entry with its value already serialised (in the byte order of the file).
#[derive(Clone)]
pub struct Entry {
    pub tag: u16,
    pub typ: u16,
    pub count: u32,
    pub data: Vec<u8>,
}

pub struct Tiff {
    pub big_endian: bool,
}

impl Tiff {
    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    pub fn ascii(&self, tag: u16, s: &str) -> Entry {
        let mut data = s.as_bytes().to_vec();
        data.push(0);
        Entry {
            tag,
            typ: ASCII,
            count: data.len() as u32,
            data,
        }
    }
    pub fn short(&self, tag: u16, v: u16) -> Entry {
        Entry {
            tag,
            typ: SHORT,
            count: 1,
            data: self.u16(v).to_vec(),
        }
    }
    pub fn long(&self, tag: u16, v: u32) -> Entry {
        Entry {
            tag,
            typ: LONG,
            count: 1,
            data: self.u32(v).to_vec(),
        }
    }
    pub fn byte(&self, tag: u16, v: u8) -> Entry {
        Entry {
            tag,
            typ: BYTE,
            count: 1,
            data: vec![v],
        }
    }
    pub fn rationals(&self, tag: u16, vals: &[(u32, u32)]) -> Entry {
        let mut data = Vec::new();
        for &(n, d) in vals {
            data.extend(self.u32(n));
            data.extend(self.u32(d));
        }
        Entry {
            tag,
            typ: RATIONAL,
            count: vals.len() as u32,
            data,
        }
    }
    pub fn undefined(&self, tag: u16, bytes: Vec<u8>) -> Entry {
        Entry {
            tag,
            typ: UNDEFINED,
            count: bytes.len() as u32,
            data: bytes,
        }
    }

    fn ifd_size(entries: &[Entry]) -> u32 {
        let data: usize = entries
            .iter()
            .filter(|e| e.data.len() > 4)
            .map(|e| e.data.len() + e.data.len() % 2)
            .sum();
        (2 + 12 * entries.len() + 4 + data) as u32
    }

    fn write_ifd(&self, out: &mut Vec<u8>, entries: &[Entry]) {
        let start = out.len() as u32;
        let mut data_off = start + 2 + 12 * entries.len() as u32 + 4;
        let mut data = Vec::new();
        let mut sorted = entries.to_vec();
        sorted.sort_by_key(|e| e.tag);
        out.extend(self.u16(sorted.len() as u16));
        for e in &sorted {
            out.extend(self.u16(e.tag));
            out.extend(self.u16(e.typ));
            out.extend(self.u32(e.count));
            if e.data.len() <= 4 {
                let mut inline = e.data.clone();
                inline.resize(4, 0);
                out.extend(inline);
            } else {
                out.extend(self.u32(data_off));
                data.extend(&e.data);
                if e.data.len() % 2 == 1 {
                    data.push(0);
                }
                data_off += (e.data.len() + e.data.len() % 2) as u32;
            }
        }
        out.extend(self.u32(0)); // no next IFD
        out.extend(data);
    }

    /// A complete TIFF structure: IFD0, then the Exif sub-IFD and GPS IFD when given (their
    /// pointer entries are added to IFD0 automatically).
    pub fn build(
        &self,
        ifd0: Vec<Entry>,
        exif: Option<Vec<Entry>>,
        gps: Option<Vec<Entry>>,
    ) -> Vec<u8> {
        let mut ifd0 = ifd0;
        let pointers = usize::from(exif.is_some()) + usize::from(gps.is_some());
        // Sizes are needed before offsets can be written; pointer entries are inline LONGs.
        let placeholder: Vec<Entry> = (0..pointers).map(|_| self.long(0xFFFF, 0)).collect();
        let ifd0_size = Self::ifd_size(&[ifd0.clone(), placeholder].concat());
        let mut next = 8 + ifd0_size;
        let mut exif_off = None;
        if let Some(e) = &exif {
            exif_off = Some(next);
            next += Self::ifd_size(e);
        }
        let gps_off = gps.as_ref().map(|_| next);
        if let Some(o) = exif_off {
            ifd0.push(self.long(0x8769, o));
        }
        if let Some(o) = gps_off {
            ifd0.push(self.long(0x8825, o));
        }
        let mut out = Vec::new();
        out.extend(if self.big_endian { b"MM" } else { b"II" });
        out.extend(self.u16(42));
        out.extend(self.u32(8));
        self.write_ifd(&mut out, &ifd0);
        if let Some(e) = &exif {
            self.write_ifd(&mut out, e);
        }
        if let Some(g) = &gps {
            self.write_ifd(&mut out, g);
        }
        out
    }
}

pub const LE: Tiff = Tiff { big_endian: false };
pub const BE: Tiff = Tiff { big_endian: true };

pub const TAG_ORIENTATION: u16 = 0x0112;
pub const TAG_MAKE: u16 = 0x010F;
pub const TAG_DATETIME_ORIGINAL: u16 = 0x9003;
pub const TAG_OFFSET_TIME_ORIGINAL: u16 = 0x9011;
pub const TAG_SUBSEC_ORIGINAL: u16 = 0x9291;
pub const TAG_MAKER_NOTE: u16 = 0x927C;
pub const GPS_LAT_REF: u16 = 1;
pub const GPS_LAT: u16 = 2;
pub const GPS_LON_REF: u16 = 3;
pub const GPS_LON: u16 = 4;
pub const GPS_ALT_REF: u16 = 5;
pub const GPS_ALT: u16 = 6;

/// Decimal degrees → (deg, min, sec×1000) rationals as cameras write them.
pub fn dms(deg: f64) -> [(u32, u32); 3] {
    let d = deg.abs();
    let whole = d.floor();
    let minutes = (d - whole) * 60.0;
    let m = minutes.floor();
    let s = (minutes - m) * 60.0;
    [
        (whole as u32, 1),
        (m as u32, 1),
        ((s * 1000.0).round() as u32, 1000),
    ]
}

pub fn gps_entries(t: &Tiff, lat: f64, lon: f64) -> Vec<Entry> {
    vec![
        t.ascii(GPS_LAT_REF, if lat >= 0.0 { "N" } else { "S" }),
        t.rationals(GPS_LAT, &dms(lat)),
        t.ascii(GPS_LON_REF, if lon >= 0.0 { "E" } else { "W" }),
        t.rationals(GPS_LON, &dms(lon)),
    ]
}

/// Inserts an APP1 Exif segment right after SOI.
pub fn with_exif_jpeg(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let len = 2 + 6 + tiff.len();
    assert!(len <= 0xFFFF, "APP1 segment too long: {len}");
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend((len as u16).to_be_bytes());
    out.extend(b"Exif\0\0");
    out.extend(tiff);
    out.extend(&jpeg[2..]);
    out
}

pub fn orientation_tiff(o: u16) -> Vec<u8> {
    LE.build(vec![LE.short(TAG_ORIENTATION, o)], None, None)
}

// ---------------------------------------------------------------------------------------------
// PNG / WebP / GIF / zlib byte builders

pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend(data);
    out.extend(&body);
    out.extend(crc32(&body).to_be_bytes());
    out
}

/// Adds an eXIf chunk right after IHDR.
pub fn with_exif_png(png: &[u8], tiff: &[u8]) -> Vec<u8> {
    let ihdr_end = 8 + 4 + 4 + 13 + 4;
    let mut out = png[..ihdr_end].to_vec();
    out.extend(png_chunk(b"eXIf", tiff));
    out.extend(&png[ihdr_end..]);
    out
}

/// zlib stream holding `data` in stored (uncompressed) deflate blocks.
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65535).collect()
    };
    for (i, c) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        out.extend((c.len() as u16).to_le_bytes());
        out.extend((!(c.len() as u16)).to_le_bytes());
        out.extend(*c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend(((b << 16) | a).to_be_bytes());
    out
}

/// A PNG whose header claims `w`×`h` but whose data is a few hundred bytes: the classic
/// decompression bomb shape.
pub fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    out.extend(png_chunk(b"IDAT", &zlib_stored(&[0u8; 256])));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

/// Minimal GIF: `screen` is the logical screen size, `frame` the first image's size.
pub fn gif_bytes(screen: (u16, u16), frame: (u16, u16)) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend(screen.0.to_le_bytes());
    out.extend(screen.1.to_le_bytes());
    out.extend([0xF0, 0, 0]); // global colour table of 2 entries
    out.extend([0, 0, 0, 255, 255, 255]);
    out.push(0x2C);
    out.extend([0, 0, 0, 0]);
    out.extend(frame.0.to_le_bytes());
    out.extend(frame.1.to_le_bytes());
    out.push(0);
    out.extend([0x02, 0x02, 0x44, 0x01, 0x00]); // min code size 2, one tiny LZW block
    out.push(0x3B);
    out
}

/// Rewraps a simple (VP8L) WebP as extended WebP with an EXIF chunk.
pub fn with_exif_webp(webp: &[u8], tiff: &[u8], w: u32, h: u32) -> Vec<u8> {
    assert_eq!(&webp[..4], b"RIFF");
    assert_eq!(&webp[8..12], b"WEBP");
    let image_chunk = &webp[12..];
    let mut vp8x = b"VP8X".to_vec();
    vp8x.extend(10u32.to_le_bytes());
    vp8x.extend([0x08, 0, 0, 0]); // EXIF present
    vp8x.extend(&(w - 1).to_le_bytes()[..3]);
    vp8x.extend(&(h - 1).to_le_bytes()[..3]);
    let mut exif = b"EXIF".to_vec();
    exif.extend((tiff.len() as u32).to_le_bytes());
    exif.extend(tiff);
    if tiff.len() % 2 == 1 {
        exif.push(0);
    }
    let mut body = b"WEBP".to_vec();
    body.extend(vp8x);
    body.extend(image_chunk);
    body.extend(exif);
    let mut out = b"RIFF".to_vec();
    out.extend((body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

/// JPEG marker types present in a file, walking segment headers up to the first scan.
pub fn jpeg_markers(jpeg: &[u8]) -> Vec<u8> {
    let mut markers = Vec::new();
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let m = jpeg[i + 1];
        markers.push(m);
        if m == 0xDA {
            break;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        i += 2 + len;
    }
    markers
}
