//! Formats, output sizes, hashes, limits and hostile input.

mod common;

use std::time::{Duration, Instant};

use common::*;
use fieldcheck_photo::{Limits, PhotoError, SourceFormat, ingest};
use image::{ImageBuffer, Rgb, RgbImage, Rgba, RgbaImage};
use jpeg_encoder::{ColorType, Encoder as JpegEncoder, SamplingFactor};
use sha2::{Digest, Sha256};

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn ok(bytes: &[u8]) -> fieldcheck_photo::Ingested {
    ingest(bytes, &Limits::default())
        .unwrap_or_else(|e| panic!("ingest failed: {e} ({})", e.code()))
}

#[track_caller]
fn err(bytes: &[u8], limits: &Limits) -> PhotoError {
    match ingest(bytes, limits) {
        Ok(o) => panic!("expected an error, got {o:?}"),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            e
        }
    }
}

/// A photographic-ish test card: gradients plus the quadrant colours, so resizing has real
/// content to work on.
fn card(w: u32, h: u32) -> RgbImage {
    let q = quadrants(w, h);
    RgbImage::from_fn(w, h, |x, y| {
        let base = q.get_pixel(x, y).0;
        let ripple = (((x / 7) ^ (y / 5)) % 9) as u8;
        Rgb(base.map(|c| c.saturating_add(ripple)))
    })
}

#[test]
fn large_landscape_jpeg_gives_1600_and_320_outputs_and_hashes() {
    let bytes = jpeg(&card(4000, 3000), 90);
    let out = ok(&bytes);
    assert_eq!(out.format, SourceFormat::Jpeg);
    assert_eq!((out.width, out.height), (4000, 3000));
    assert_eq!((out.display_width, out.display_height), (1600, 1200));
    assert_eq!((out.thumbnail_width, out.thumbnail_height), (320, 240));
    let display = decode(&out.display);
    let thumb = decode(&out.thumbnail);
    assert_eq!(display.dimensions(), (1600, 1200));
    assert_eq!(thumb.dimensions(), (320, 240));
    assert_upright_quadrants(&display);
    assert_upright_quadrants(&thumb);

    assert_eq!(out.captured_sha256, sha(&bytes));
    assert_eq!(out.display_sha256, sha(&out.display));
    assert_eq!(out.thumbnail_sha256, sha(&out.thumbnail));
    for h in [
        &out.captured_sha256,
        &out.display_sha256,
        &out.thumbnail_sha256,
    ] {
        assert_eq!(h.len(), 64);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{h}"
        );
    }
    // Baseline JFIF only; the display copy of a 12 MP photo is far below the 400 KB budget.
    assert_eq!(jpeg_markers(&out.display).first(), Some(&0xE0));
    assert!(
        out.display.len() < 400 * 1024,
        "{} bytes",
        out.display.len()
    );
}

#[test]
fn output_is_deterministic_so_the_store_deduplicates() {
    let bytes = jpeg(&card(1000, 700), 90);
    let a = ok(&bytes);
    let b = ok(&bytes);
    assert_eq!(a.display_sha256, b.display_sha256);
    assert_eq!(a.thumbnail_sha256, b.thumbnail_sha256);
}

#[test]
fn portrait_and_odd_sizes_fit_the_long_edge() {
    let out = ok(&jpeg(&card(1800, 2400), 90));
    assert_eq!((out.display_width, out.display_height), (1200, 1600));
    assert_eq!((out.thumbnail_width, out.thumbnail_height), (240, 320));
    assert_eq!(decode(&out.display).dimensions(), (1200, 1600));

    // Not a multiple of 8: DCT scaling rounds up, the output must still be exact.
    let out = ok(&jpeg(&card(3001, 1999), 90));
    assert_eq!((out.display_width, out.display_height), (1600, 1066));
    assert_eq!(decode(&out.display).dimensions(), (1600, 1066));

    // Panorama strip.
    let out = ok(&png_rgb(&card(6000, 40)));
    assert_eq!((out.display_width, out.display_height), (1600, 11));
    assert_eq!((out.thumbnail_width, out.thumbnail_height), (320, 2));
}

#[test]
fn small_images_are_never_upscaled() {
    let out = ok(&jpeg(&card(800, 600), 90));
    assert_eq!((out.display_width, out.display_height), (800, 600));
    assert_eq!((out.thumbnail_width, out.thumbnail_height), (320, 240));
    assert_eq!(decode(&out.display).dimensions(), (800, 600));

    let out = ok(&jpeg(&card(200, 100), 90));
    assert_eq!((out.display_width, out.display_height), (200, 100));
    assert_eq!((out.thumbnail_width, out.thumbnail_height), (200, 100));
    assert_eq!(decode(&out.thumbnail).dimensions(), (200, 100));

    let out = ok(&png_rgb(&card(1, 1)));
    assert_eq!((out.display_width, out.display_height), (1, 1));
}

#[test]
fn progressive_jpeg() {
    let img = card(2000, 1500);
    let mut bytes = Vec::new();
    let mut enc = JpegEncoder::new(&mut bytes, 90);
    enc.set_progressive(true);
    enc.encode(img.as_raw(), 2000, 1500, ColorType::Rgb)
        .unwrap();
    assert!(
        jpeg_markers(&bytes).contains(&0xC2),
        "fixture must be progressive (SOF2)"
    );
    let out = ok(&bytes);
    assert_eq!((out.display_width, out.display_height), (1600, 1200));
    assert_upright_quadrants(&decode(&out.display));
}

#[test]
fn grayscale_jpeg_stays_gray() {
    let gray: Vec<u8> = (0..640 * 480)
        .map(|i| if (i % 640) < 320 { 40 } else { 210 })
        .collect();
    let mut bytes = Vec::new();
    JpegEncoder::new(&mut bytes, 90)
        .encode(&gray, 640, 480, ColorType::Luma)
        .unwrap();
    let out = ok(&bytes);
    assert_eq!((out.display_width, out.display_height), (640, 480));
    let decoded = image::load_from_memory(&out.display).unwrap();
    assert_eq!(
        decoded.color(),
        image::ColorType::L8,
        "a gray photo stays a (smaller) gray JPEG"
    );
    let l = decoded.to_luma8();
    assert!(l.get_pixel(100, 240).0[0].abs_diff(40) < 8);
    assert!(l.get_pixel(500, 240).0[0].abs_diff(210) < 8);
}

fn cmyk_fixture(color: ColorType) -> Vec<u8> {
    // Ink amounts (255 = full ink): left half pure cyan, right half pure magenta+yellow (red),
    // bottom quarter full black.
    let (w, h) = (400u16, 300u16);
    let mut data = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let px = if y >= 225 {
                [0, 0, 0, 255]
            } else if x < 200 {
                [255, 0, 0, 0]
            } else {
                [0, 255, 255, 0]
            };
            data.extend(px);
        }
    }
    let mut bytes = Vec::new();
    let mut enc = JpegEncoder::new(&mut bytes, 95);
    enc.set_sampling_factor(SamplingFactor::F_1_1);
    enc.encode(&data, w, h, color).unwrap();
    bytes
}

#[test]
fn cmyk_and_ycck_jpegs_convert_to_rgb() {
    for color in [ColorType::Cmyk, ColorType::CmykAsYcck] {
        let bytes = cmyk_fixture(color);
        assert!(
            jpeg_markers(&bytes).contains(&0xEE),
            "fixture carries the Adobe APP14 marker"
        );
        let out = ok(&bytes);
        let d = decode(&out.display);
        assert_eq!(d.dimensions(), (400, 300));
        assert_near(&d, 100, 100, [0, 255, 255], 30); // cyan
        assert_near(&d, 300, 100, [255, 0, 0], 30); // magenta + yellow = red
        assert_near(&d, 200, 280, [0, 0, 0], 30); // black
    }
}

#[test]
fn png_16_bit() {
    let img: ImageBuffer<Rgb<u16>, Vec<u16>> = ImageBuffer::from_fn(300, 200, |x, _| {
        if x < 150 {
            Rgb([65535, 0, 0])
        } else {
            Rgb([0, 0, 32768])
        }
    });
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb16(img)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    let out = ok(&bytes);
    assert_eq!(out.format, SourceFormat::Png);
    let d = decode(&out.display);
    assert_near(&d, 50, 100, [255, 0, 0], 20);
    assert_near(&d, 250, 100, [0, 0, 128], 20);
}

#[test]
fn png_alpha_is_flattened_onto_white() {
    let img = RgbaImage::from_fn(300, 200, |x, _| match x {
        0..100 => Rgba([0, 0, 0, 0]),         // fully transparent black → white
        100..200 => Rgba([200, 20, 20, 255]), // opaque red
        _ => Rgba([0, 0, 0, 128]),            // half-transparent black → mid grey
    });
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgba8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    let out = ok(&bytes);
    let d = decode(&out.display);
    assert_near(&d, 50, 100, [255, 255, 255], 6);
    assert_near(&d, 150, 100, [200, 20, 20], 25);
    assert_near(&d, 250, 100, [127, 127, 127], 8);
}

#[test]
fn webp_lossless_and_still_gif() {
    let img = card(500, 400);
    let out = ok(&webp_lossless(&img));
    assert_eq!(out.format, SourceFormat::WebP);
    assert_eq!((out.display_width, out.display_height), (500, 400));
    assert_upright_quadrants(&decode(&out.display));

    let mut gif = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut gif);
        enc.encode(
            quadrants(120, 80).as_raw(),
            120,
            80,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    }
    let out = ok(&gif);
    assert_eq!(out.format, SourceFormat::Gif);
    assert_upright_quadrants(&decode(&out.display));
}

#[test]
fn outputs_carry_no_metadata() {
    let t = &LE;
    let tiff = t.build(
        vec![t.ascii(TAG_MAKE, "SecretPhone")],
        Some(vec![t.ascii(TAG_DATETIME_ORIGINAL, "2024:05:01 09:30:15")]),
        Some(gps_entries(t, 31.2, 121.5)),
    );
    let inputs = [
        with_exif_jpeg(&jpeg(&card(2000, 1500), 90), &tiff),
        with_exif_png(&png_rgb(&card(400, 300)), &tiff),
        with_exif_webp(&webp_lossless(&card(400, 300)), &tiff, 400, 300),
    ];
    for input in inputs {
        let out = ok(&input);
        assert!(
            out.exif.gps.is_some(),
            "fixture has GPS: {:?} {:?}",
            out.format,
            out.exif
        );
        for output in [&out.display, &out.thumbnail] {
            let markers = jpeg_markers(output);
            assert!(
                !markers.iter().any(|m| (0xE1..=0xEF).contains(m)),
                "APPn besides JFIF: {markers:x?}"
            );
            assert!(!markers.contains(&0xFE), "comment segment");
            assert!(output.windows(4).all(|w| w != b"Exif"));
            assert!(output.windows(11).all(|w| w != b"SecretPhone"));
        }
    }
}

#[test]
fn empty_text_and_unknown_inputs_are_refused_with_codes() {
    let e = err(b"", &Limits::default());
    assert!(matches!(e, PhotoError::Empty));
    assert_eq!(e.code(), "photo_empty");

    let e = err(
        b"Inspection notes: pothole on Renmin Road\n",
        &Limits::default(),
    );
    assert_eq!(e.code(), "photo_unsupported_format");
    assert!(e.to_string().contains("text"), "{e}");

    let e = err(&[0x00, 0x01, 0x02, 0x03, 0xfe, 0xfd], &Limits::default());
    assert_eq!(e.code(), "photo_unsupported_format");

    let e = err(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", &Limits::default());
    assert!(e.to_string().contains("HEIC"), "{e}");
}

#[test]
fn garbage_behind_valid_magic_is_corrupt() {
    let mut fake = vec![0xFF, 0xD8, 0xFF, 0xE0];
    fake.extend((0..4000u32).map(|i| (i * 7919 % 256) as u8));
    let e = err(&fake, &Limits::default());
    assert!(
        matches!(e.code(), "photo_corrupt" | "photo_truncated"),
        "{e}"
    );

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(
        b"IHDR",
        &[0, 0, 0, 10, 0, 0, 0, 10, 8, 7, 0, 0, 0],
    )); // colour type 7 is invalid
    png.extend(png_chunk(b"IEND", &[]));
    assert_eq!(err(&png, &Limits::default()).code(), "photo_corrupt");
}

#[test]
fn truncated_files_are_reported_as_truncated() {
    let img = card(1200, 900);
    let jpeg_bytes = jpeg(&img, 90);
    let png_bytes = png_rgb(&img);
    let webp_bytes = webp_lossless(&img);
    for (name, full) in [
        ("jpeg", &jpeg_bytes),
        ("png", &png_bytes),
        ("webp", &webp_bytes),
    ] {
        for frac in [0.3, 0.6, 0.95] {
            let cut = &full[..(full.len() as f64 * frac) as usize];
            let e = err(cut, &Limits::default());
            assert_eq!(e.code(), "photo_truncated", "{name} cut at {frac}: {e}");
        }
    }
    // Cut inside the JPEG header, before any image data.
    let e = err(&jpeg_bytes[..200], &Limits::default());
    assert!(
        matches!(e.code(), "photo_truncated" | "photo_corrupt"),
        "{e}"
    );
    // Every prefix of a small JPEG fails cleanly (no panic, typed error).
    let small = jpeg(&card(40, 30), 80);
    for n in 1..small.len() - 2 {
        let _ = ingest(&small[..n], &Limits::default())
            .map(|_| ())
            .map_err(|e| e.code());
    }
}

#[test]
fn byte_limit_is_checked_first() {
    let bytes = jpeg(&card(100, 100), 90);
    let limits = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    let e = err(&bytes, &limits);
    assert!(matches!(e, PhotoError::TooLarge { max: 100, .. }), "{e:?}");
    assert_eq!(e.code(), "photo_too_large");
}

#[test]
fn png_decompression_bomb_is_refused_from_the_header() {
    let bomb = png_bomb(100_000, 100_000);
    assert!(
        bomb.len() < 1024,
        "the bomb is tiny on disk: {} bytes",
        bomb.len()
    );
    let start = Instant::now();
    let e = err(&bomb, &Limits::default());
    assert!(start.elapsed() < Duration::from_secs(1));
    match e {
        PhotoError::TooManyPixels { width, height, max } => {
            assert_eq!((width, height, max), (100_000, 100_000, 64_000_000));
        }
        other => panic!("expected TooManyPixels, got {other:?}"),
    }
    // Also a plausible-looking size that is merely above a tighter limit.
    let limits = Limits {
        max_pixels: 4_000_000,
        ..Limits::default()
    };
    assert_eq!(
        err(&png_bomb(3000, 3000), &limits).code(),
        "photo_too_many_pixels"
    );
}

#[test]
fn jpeg_pixel_limit_is_checked_from_the_header() {
    let bytes = jpeg(&card(2100, 2000), 80);
    let limits = Limits {
        max_pixels: 4_000_000,
        ..Limits::default()
    };
    let e = err(&bytes, &limits);
    assert!(
        matches!(
            e,
            PhotoError::TooManyPixels {
                width: 2100,
                height: 2000,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn gif_bombs_are_refused() {
    let start = Instant::now();
    let e = err(
        &gif_bytes((65_535, 65_535), (65_535, 65_535)),
        &Limits::default(),
    );
    assert_eq!(e.code(), "photo_too_many_pixels", "{e}");
    // Small screen, huge frame: must not allocate the frame.
    let r = ingest(&gif_bytes((16, 16), (65_535, 65_535)), &Limits::default());
    assert!(r.is_err(), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn error_codes_are_stable() {
    let cases: Vec<(PhotoError, &str)> = vec![
        (PhotoError::Empty, "photo_empty"),
        (PhotoError::TooLarge { bytes: 2, max: 1 }, "photo_too_large"),
        (
            PhotoError::TooManyPixels {
                width: 1,
                height: 2,
                max: 1,
            },
            "photo_too_many_pixels",
        ),
        (
            PhotoError::UnsupportedFormat("x".into()),
            "photo_unsupported_format",
        ),
        (PhotoError::Corrupt("x".into()), "photo_corrupt"),
        (PhotoError::Truncated, "photo_truncated"),
        (PhotoError::Encode("x".into()), "photo_encode_failed"),
        (PhotoError::InvalidHash("x".into()), "photo_invalid_hash"),
        (
            PhotoError::HashMismatch {
                expected: "a".into(),
                actual: "b".into(),
            },
            "photo_hash_mismatch",
        ),
    ];
    for (e, code) in cases {
        assert_eq!(e.code(), code);
    }
    let msg = PhotoError::TooManyPixels {
        width: 100_000,
        height: 100_000,
        max: 64_000_000,
    }
    .to_string();
    assert!(
        msg.contains("100000×100000") && msg.contains("64000000"),
        "{msg}"
    );
}

/// Found by `cargo fuzz run ingest`: a JPEG with a benign header warning (so it goes to the
/// pure-Rust decoder) whose sampling factors made zune-jpeg's AVX2 upsampler assert. Whatever
/// the CPU, ingest must answer with a result or a typed error, never a panic.
#[test]
fn fuzz_finding_decoder_panic_is_a_typed_error() {
    let bytes = include_bytes!("data/fuzz-zune-upsample-panic.jpg");
    let outcome = std::panic::catch_unwind(|| ingest(bytes, &Limits::default()));
    match outcome {
        Err(_) => panic!("ingest panicked on the fuzz finding"),
        Ok(Ok(out)) => assert!(out.display_width.max(out.display_height) <= 1600),
        Ok(Err(e)) => assert!(
            matches!(e, PhotoError::Corrupt(_) | PhotoError::Truncated),
            "unexpected error {e:?}"
        ),
    }
}
