//! Writes a small seed corpus (one file per format/variant, a few KB each) so the fuzzer
//! starts from valid structure: `cargo run --bin seeds -- corpus/ingest`.

use std::path::PathBuf;

use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};
use jpeg_encoder::{ColorType, Encoder};

fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, ((x ^ y) * 8) as u8]))
}

/// Little-endian TIFF with Orientation in IFD0, DateTimeOriginal in the Exif IFD and a GPS IFD.
fn exif_tiff() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(b"II*\0");
    t.extend(8u32.to_le_bytes());
    let entry = |t: &mut Vec<u8>, tag: u16, typ: u16, count: u32, val: u32| {
        t.extend(tag.to_le_bytes());
        t.extend(typ.to_le_bytes());
        t.extend(count.to_le_bytes());
        t.extend(val.to_le_bytes());
    };
    // IFD0 at 8: 3 entries → ends at 8 + 2 + 36 + 4 = 50.
    t.extend(3u16.to_le_bytes());
    entry(&mut t, 0x0112, 3, 1, 6);
    entry(&mut t, 0x8769, 4, 1, 50);
    entry(&mut t, 0x8825, 4, 1, 50 + 18 + 20);
    t.extend(0u32.to_le_bytes());
    // Exif IFD at 50: 1 entry (DateTimeOriginal, 20 bytes at 68).
    t.extend(1u16.to_le_bytes());
    entry(&mut t, 0x9003, 2, 20, 68);
    t.extend(0u32.to_le_bytes());
    t.extend(b"2024:05:01 09:30:15\0");
    // GPS IFD at 88: 4 entries → data at 88 + 2 + 48 + 4 = 142.
    t.extend(4u16.to_le_bytes());
    entry(&mut t, 1, 2, 2, u32::from_le_bytes(*b"N\0\0\0"));
    entry(&mut t, 2, 5, 3, 142);
    entry(&mut t, 3, 2, 2, u32::from_le_bytes(*b"E\0\0\0"));
    entry(&mut t, 4, 5, 3, 166);
    t.extend(0u32.to_le_bytes());
    for (n, d) in [(31u32, 1u32), (13, 1), (5000, 1000), (121, 1), (28, 1), (3000, 1000)] {
        t.extend(n.to_le_bytes());
        t.extend(d.to_le_bytes());
    }
    t
}

fn with_app1(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend(((2 + 6 + tiff.len()) as u16).to_be_bytes());
    out.extend(b"Exif\0\0");
    out.extend(tiff);
    out.extend(&jpeg[2..]);
    out
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus/ingest".into()));
    std::fs::create_dir_all(&dir).unwrap();
    let img = picture(48, 32);
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();

    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 75)
        .write_image(img.as_raw(), 48, 32, ExtendedColorType::Rgb8)
        .unwrap();
    write("baseline.jpg", &jpeg);
    write("exif.jpg", &with_app1(&jpeg, &exif_tiff()));

    let jenc = |color: ColorType, data: &[u8], progressive: bool| {
        let mut out = Vec::new();
        let mut e = Encoder::new(&mut out, 75);
        e.set_progressive(progressive);
        e.encode(data, 48, 32, color).unwrap();
        out
    };
    write("progressive.jpg", &jenc(ColorType::Rgb, img.as_raw(), true));
    let gray: Vec<u8> = img.pixels().map(|p| p.0[0]).collect();
    write("gray.jpg", &jenc(ColorType::Luma, &gray, false));
    let cmyk: Vec<u8> = img.pixels().flat_map(|p| [p.0[0], p.0[1], p.0[2], 40]).collect();
    write("cmyk.jpg", &jenc(ColorType::Cmyk, &cmyk, false));
    write("ycck.jpg", &jenc(ColorType::CmykAsYcck, &cmyk, true));

    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(img.as_raw(), 48, 32, ExtendedColorType::Rgb8)
        .unwrap();
    write("rgb.png", &png);
    let rgba = RgbaImage::from_fn(48, 32, |x, y| Rgba([x as u8 * 5, y as u8 * 7, 90, (x * 5) as u8]));
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(rgba.as_raw(), 48, 32, ExtendedColorType::Rgba8)
        .unwrap();
    write("rgba.png", &png);

    let mut webp = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
        .write_image(img.as_raw(), 48, 32, ExtendedColorType::Rgb8)
        .unwrap();
    write("lossless.webp", &webp);

    let mut gif = Vec::new();
    image::codecs::gif::GifEncoder::new(&mut gif)
        .encode(img.as_raw(), 48, 32, ExtendedColorType::Rgb8)
        .unwrap();
    write("still.gif", &gif);
    println!("seeds written to {}", dir.display());
}
