//! The evidence stamp on real JPEGs: the stamped display copy shows a dark band with light
//! text at the bottom, the rest of the picture is the picture, and the photo it was made from
//! keeps its bytes and its hash.

mod common;

use common::{decode, jpeg, quadrants};
use fieldcheck_photo::{Limits, PhotoFiles, StampFont, StampLayout, ingest, stamp};
use image::{Rgb, RgbImage};
use sha2::{Digest, Sha256};

fn lines() -> Vec<String> {
    [
        "时间 2026-12-03 15:05:09",
        "地点 东门后巷",
        "坐标 26.085650, 119.302410",
        "检查员 张伟",
        "问题编号 GL-20261203-K7Q2-0007",
    ]
    .map(String::from)
    .to_vec()
}

fn luma(p: &Rgb<u8>) -> f32 {
    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
}

#[test]
fn the_stamp_is_visible_in_the_band_and_nowhere_else() {
    let font = StampFont::platform();
    assert!(
        font.has_cjk(),
        "fonts-noto-cjk is installed on the test machine"
    );
    let captured = jpeg(&quadrants(2000, 1500), 92);
    let ing = ingest(&captured, &Limits::default()).unwrap();
    let display_before = ing.display.clone();

    let st = stamp(&ing.display, &lines(), &font, &Limits::default()).unwrap();

    // The photo is untouched: same bytes, same hash; the stamp is a new copy of it.
    assert_eq!(ing.display, display_before);
    assert_eq!(
        hex::encode(Sha256::digest(&ing.display)),
        ing.display_sha256
    );
    assert_eq!(st.captured_sha256, ing.display_sha256);
    assert_ne!(st.display_sha256, ing.display_sha256);
    assert_eq!(hex::encode(Sha256::digest(&st.display)), st.display_sha256);
    assert_eq!(
        (st.display_width, st.display_height),
        (ing.display_width, ing.display_height)
    );
    assert_eq!(
        st.exif,
        Default::default(),
        "the stamped copy carries no metadata"
    );

    let (a, b) = (decode(&ing.display), decode(&st.display));
    let (w, h) = a.dimensions();
    let layout = StampLayout::new(w, h, lines().len());
    // JPEG blocks are 16×16 with 4:2:0 chroma: keep a block's distance from the band edge.
    let clear = layout.band_top.saturating_sub(16);
    let mut max_diff = 0.0f32;
    for y in 0..clear {
        for x in 0..w {
            max_diff = max_diff.max((luma(a.get_pixel(x, y)) - luma(b.get_pixel(x, y))).abs());
        }
    }
    assert!(
        max_diff <= 12.0,
        "outside the band: max luma change {max_diff}"
    );

    // In the band: darker than the source wherever there is no text, and light text pixels.
    let (mut darker, mut light, mut total) = (0u32, 0u32, 0u32);
    for y in layout.band_top + 2..h {
        for x in 0..w {
            let (la, lb) = (luma(a.get_pixel(x, y)), luma(b.get_pixel(x, y)));
            total += 1;
            if lb < la * 0.6 {
                darker += 1;
            }
            if lb > 230.0 && la < 200.0 {
                light += 1;
            }
        }
    }
    assert!(
        darker > total * 3 / 4,
        "{darker} of {total} band pixels darker"
    );
    assert!(light > 3_000, "{light} light text pixels");
    // The text starts at the left margin and the first line is where the layout puts it.
    let first_line =
        layout.band_top + layout.padding..layout.band_top + layout.padding + layout.line_height;
    let text_in_first_line = first_line
        .flat_map(|y| (0..w / 2).map(move |x| (x, y)))
        .filter(|&(x, y)| luma(b.get_pixel(x, y)) > 230.0)
        .count();
    assert!(text_in_first_line > 300, "{text_in_first_line}");

    // The thumbnail is of the stamped copy: its bottom is dark too.
    let t = decode(&st.thumbnail);
    assert_eq!(t.dimensions(), (st.thumbnail_width, st.thumbnail_height));
    let ty = t.height() - 2;
    let dark_row: f32 = (0..t.width())
        .map(|x| luma(t.get_pixel(x, ty)))
        .sum::<f32>()
        / t.width() as f32;
    let orig_thumb = decode(&ing.thumbnail);
    let orig_row: f32 = (0..orig_thumb.width())
        .map(|x| luma(orig_thumb.get_pixel(x, ty)))
        .sum::<f32>()
        / orig_thumb.width() as f32;
    assert!(dark_row < orig_row * 0.7, "{dark_row} vs {orig_row}");
}

#[test]
fn both_copies_live_side_by_side_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let files = PhotoFiles::new(dir.path());
    let ing = ingest(&jpeg(&quadrants(800, 600), 90), &Limits::default()).unwrap();
    files.put(&ing).unwrap();
    let original = std::fs::read(files.display_path(&ing.display_sha256).unwrap()).unwrap();
    let st = stamp(
        &original,
        &lines(),
        &StampFont::platform(),
        &Limits::default(),
    )
    .unwrap();
    let stored = files.put(&st).unwrap();
    assert!(stored.newly_written);
    assert_eq!(
        std::fs::read(files.display_path(&ing.display_sha256).unwrap()).unwrap(),
        original
    );
    assert!(files.exists(&st.display_sha256) && files.thumb_exists(&st.display_sha256));
}

#[test]
fn a_portrait_and_a_gray_photo_are_stamped_too() {
    let font = StampFont::platform();
    let portrait = ingest(&jpeg(&quadrants(900, 1600), 90), &Limits::default()).unwrap();
    let st = stamp(&portrait.display, &lines(), &font, &Limits::default()).unwrap();
    assert_eq!((st.display_width, st.display_height), (900, 1600));
    let gray = image::GrayImage::from_pixel(640, 480, image::Luma([150]));
    let mut bytes = Vec::new();
    image::DynamicImage::ImageLuma8(gray)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let ing = ingest(&bytes, &Limits::default()).unwrap();
    let st = stamp(&ing.display, &lines(), &font, &Limits::default()).unwrap();
    let b: RgbImage = decode(&st.display);
    assert!(luma(b.get_pixel(320, 478)) < 100.0);
    assert!(luma(b.get_pixel(320, 10)) > 140.0);
}

#[test]
fn what_is_not_a_photo_is_refused_with_the_usual_codes() {
    let font = StampFont::platform();
    let e = stamp(&[], &lines(), &font, &Limits::default()).unwrap_err();
    assert_eq!(e.code(), "photo_empty");
    let e = stamp(b"not a jpeg at all", &lines(), &font, &Limits::default()).unwrap_err();
    assert_eq!(e.code(), "photo_unsupported_format");
}
