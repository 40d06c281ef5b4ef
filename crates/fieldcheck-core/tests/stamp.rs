//! The evidence stamp (水印) through the device store: a photo attached to a problem gets a
//! stamped display copy beside it, the event keeps naming the photo as captured, and the
//! city's switch turns stamping off.

use fieldcheck_core::NewProblem;
use fieldcheck_core::Store;
use fieldcheck_domain::calendar::WorkCalendar;
use image::{ImageEncoder, Rgb, RgbImage};
use sha2::{Digest, Sha256};

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A mid-grey picture with a gentle gradient: every pixel well away from black and white,
/// so a darkened band and white text are unmistakable.
fn photo_jpeg() -> Vec<u8> {
    photo_jpeg_blue(130)
}

fn photo_jpeg_blue(blue: u8) -> Vec<u8> {
    let img = RgbImage::from_fn(1200, 900, |x, y| {
        Rgb([110 + (x % 40) as u8, 120 + (y % 30) as u8, blue])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .write_image(img.as_raw(), 1200, 900, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn decode(bytes: &[u8]) -> RgbImage {
    image::load_from_memory(bytes).unwrap().to_rgb8()
}

fn luma(p: &Rgb<u8>) -> f32 {
    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
}

fn device(dir: &tempfile::TempDir, stamp: bool) -> Store {
    let mut s = Store::open(dir.path().join("d.db")).unwrap();
    let mut bundle = fieldcheck_protocol::demo_bundle();
    bundle.calendar = Some(WorkCalendar {
        photo_stamp: stamp,
        ..bundle.calendar.unwrap_or_default()
    });
    s.import_reference(&bundle).unwrap();
    s
}

fn report(s: &mut Store, photo: &str) -> fieldcheck_domain::Problem {
    let actor = s.actor("usr-insp-1").unwrap();
    s.report_problem(
        &actor,
        NewProblem {
            category: "SR-02".into(),
            description: "积水".into(),
            point_id: Some("p-005".into()),
            photos: vec![photo.into()],
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn a_photo_attached_to_a_problem_gets_a_stamped_display_copy_and_keeps_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = device(&dir, true);
    let info = s.add_photo_bytes(&photo_jpeg()).unwrap();
    let original_path = s.display_path(&info.hash).unwrap();
    let original = std::fs::read(&original_path).unwrap();
    assert_eq!(sha(&original), info.hash);

    let p = report(&mut s, &info.hash);

    // The record and its event name the photo as captured; the stamp is beside it.
    assert_eq!(p.photos.len(), 1);
    assert_eq!(p.photos[0].hash, info.hash);
    let stamped = p.photos[0].stamped.clone().expect("a stamped copy");
    assert_ne!(stamped, info.hash);
    assert_eq!(p.photos[0].shown(), stamped);
    let outbox = s.outbox(10).unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].photos[0].hash, info.hash);
    assert_eq!(outbox[0].stamped(&info.hash), Some(stamped.as_str()));
    outbox[0].check_fields().unwrap();

    // The original is untouched, byte for byte; the stamped copy is stored under its hash.
    assert_eq!(std::fs::read(&original_path).unwrap(), original);
    let stamped_bytes = std::fs::read(s.display_path(&stamped).unwrap()).unwrap();
    assert_eq!(sha(&stamped_bytes), stamped);
    assert!(s.thumb_path(&stamped).unwrap().is_file());

    // The stamp is visible: the bottom band is darker, with light text in it; the top of
    // the picture is the same picture (up to JPEG re-encoding).
    let (a, b) = (decode(&original), decode(&stamped_bytes));
    assert_eq!(a.dimensions(), b.dimensions());
    let (w, h) = a.dimensions();
    let rows = |img: &RgbImage, ys: std::ops::Range<u32>| {
        let (mut sum, mut n) = (0.0, 0.0);
        for y in ys {
            for x in 0..w {
                sum += luma(img.get_pixel(x, y));
                n += 1.0;
            }
        }
        sum / n
    };
    let bottom = h - 20..h - 2;
    assert!(
        rows(&b, bottom.clone()) < rows(&a, bottom) * 0.6,
        "the band is darker"
    );
    let top = 0..h / 2;
    assert!((rows(&b, top.clone()) - rows(&a, top)).abs() < 1.5);
    let band = (h * 3 / 4)..h;
    let light = band
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| luma(b.get_pixel(x, y)) > 220.0 && luma(a.get_pixel(x, y)) < 160.0)
        .count();
    assert!(light > 2_000, "{light} light text pixels in the band");

    // Both copies go to the server (the photo, the evidence, and the copy people see: the
    // upload queue's unit test), counted as the one photo the person took.
    assert_eq!(s.photos_to_upload().unwrap(), 1);

    // The same photo given again is the same photo: found by its captured bytes.
    let again = s.add_photo_bytes(&photo_jpeg()).unwrap();
    assert_eq!(again.hash, info.hash);
    assert!(!again.new);
}

#[test]
fn after_photos_are_stamped_with_the_problem_code_too() {
    use fieldcheck_domain::actions::ProblemAction;
    let dir = tempfile::tempdir().unwrap();
    let mut s = device(&dir, true);
    let before = s.add_photo_bytes(&photo_jpeg()).unwrap();
    let p = report(&mut s, &before.hash);
    let after = s.add_photo_bytes(&photo_jpeg_blue(90)).unwrap();
    assert_ne!(after.hash, before.hash);
    let actor = s.actor("usr-insp-1").unwrap();
    let p = s
        .act(
            &actor,
            p.id,
            ProblemAction::AddPhotos {
                photos: vec![after.hash.clone()],
                role: fieldcheck_domain::PhotoRole::Evidence,
                note: None,
            },
        )
        .unwrap();
    let added = p.photos.iter().find(|x| x.hash == after.hash).unwrap();
    assert!(added.stamped.is_some());
    assert_ne!(added.stamped, p.photos[0].stamped);
}

#[test]
fn a_city_that_switched_stamps_off_gets_the_photo_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = device(&dir, false);
    let info = s.add_photo_bytes(&photo_jpeg()).unwrap();
    let p = report(&mut s, &info.hash);
    assert_eq!(p.photos[0].hash, info.hash);
    assert_eq!(p.photos[0].stamped, None);
    assert_eq!(p.photos[0].shown(), info.hash);
    assert!(s.outbox(10).unwrap()[0].stamps.is_empty());
    assert_eq!(s.photos_to_upload().unwrap(), 1);
}

#[test]
fn without_the_cjk_font_the_photo_is_still_stamped() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = device(&dir, true);
    // A font path that does not exist: the platform's Latin font prints digits and letters.
    s.set_stamp_font(std::path::Path::new("/nonexistent/NotoSansCJK.ttc"), 2);
    let info = s.add_photo_bytes(&photo_jpeg()).unwrap();
    let p = report(&mut s, &info.hash);
    let stamped = p.photos[0]
        .stamped
        .clone()
        .expect("stamped with Latin glyphs");
    let b = decode(&std::fs::read(s.display_path(&stamped).unwrap()).unwrap());
    let (w, h) = b.dimensions();
    let light = (h * 3 / 4..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| luma(b.get_pixel(x, y)) > 220.0)
        .count();
    assert!(light > 500, "{light} light pixels: the digits printed");
}
