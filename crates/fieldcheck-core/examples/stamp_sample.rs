//! Writes the sample of the evidence stamp shown in ARCHITECTURE.md: a synthetic street photo
//! attached to a problem at a demo point by a demo inspector, through the real device store,
//! and the stamped display copy the store made copied out.
//!
//! ```text
//! cargo run -p fieldcheck-core --example stamp_sample -- docs/screenshots/stamp/stamped-photo.jpg
//! ```

use fieldcheck_core::NewProblem;
use fieldcheck_core::Store;
use image::{ImageEncoder, Rgb, RgbImage};

/// Sky, a facade with windows, a pavement with a dark puddle: enough of a picture to judge
/// the stamp's legibility against.
fn scene(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let n = ((x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 28) as i32 - 8;
        let c = |v: i32| (v + n).clamp(0, 255) as u8;
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        if fy < 0.3 {
            let t = fy / 0.3;
            Rgb([
                c(140 + (50.0 * t) as i32),
                c(185 + (30.0 * t) as i32),
                c(235),
            ])
        } else if fy < 0.62 {
            let win = (x / 60) % 3 != 0 && (y / 70) % 2 == 0;
            if win && fx > 0.08 && fx < 0.92 {
                Rgb([c(70), c(90), c(105)])
            } else {
                Rgb([c(214), c(196), c(168)])
            }
        } else {
            let (dx, dy) = ((fx - 0.55) / 0.22, (fy - 0.8) / 0.07);
            if dx * dx + dy * dy < 1.0 {
                Rgb([c(70), c(78), c(88)])
            } else {
                Rgb([c(150), c(146), c(140)])
            }
        }
    })
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/screenshots/stamp/stamped-photo.jpg".into());
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("device.db")).unwrap();
    store
        .import_reference(&fieldcheck_protocol::demo_bundle())
        .unwrap();
    // A fixed time, so the sample reads the same each time it is made.
    store.set_now(|| "2026-12-03T07:05:09Z".parse().unwrap());
    let img = scene(1600, 1200);
    let mut photo = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut photo, 90)
        .write_image(img.as_raw(), 1600, 1200, image::ExtendedColorType::Rgb8)
        .unwrap();
    let info = store.add_photo_bytes(&photo).unwrap();
    let actor = store.actor("usr-insp-1").unwrap();
    let p = store
        .report_problem(
            &actor,
            NewProblem {
                category: "SR-02".into(),
                description: "路面积水".into(),
                point_id: Some("p-005".into()),
                photos: vec![info.hash.clone()],
                ..Default::default()
            },
        )
        .unwrap();
    let stamped = p.photos[0]
        .stamped
        .as_deref()
        .expect("the demo city stamps photos");
    std::fs::copy(store.display_path(stamped).unwrap(), &out).unwrap();
    println!(
        "{out}: problem {}, photo {} stamped as {stamped}",
        p.code, info.hash
    );
}
