//! What the evidence stamp adds to a capture: `ingest` of a camera-sized JPEG alone, then
//! `ingest` followed by `stamp` of its display copy, in the same process, and their ratio.
//!
//! ```text
//! cargo run -p fieldcheck-photo --example stamp_bench -- [--runs 7] [--release-note]
//! ```
//!
//! The photo is synthesised (a 4000×3000 street-like scene with grain, JPEG q92, ~3 MB);
//! the font is the platform's (Debian: fonts-noto-cjk), loaded once before timing, as the
//! device core does.

use std::time::{Duration, Instant};

use fieldcheck_photo::{Limits, StampFont, ingest, stamp};
use image::{ImageEncoder, Rgb, RgbImage};

fn grain(x: u32, y: u32) -> i32 {
    let mut h = x.wrapping_mul(0x9e37_79b1) ^ y.wrapping_mul(0x85eb_ca77);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    (h >> 27) as i32 - 16
}

fn scene(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let g = grain(x, y);
        let c = |v: i32| (v + g).clamp(0, 255) as u8;
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        if fy < 0.35 {
            // Sky.
            let t = fy / 0.35;
            Rgb([
                c(120 + (60.0 * t) as i32),
                c(170 + (40.0 * t) as i32),
                c(230),
            ])
        } else if fy < 0.75 {
            // A facade with a grid of windows.
            let win = (x / 50) % 4 != 0 && (y / 60) % 3 != 0;
            if win && fx > 0.1 && fx < 0.9 {
                Rgb([c(60), c(80), c(95)])
            } else {
                Rgb([c(200), c(185), c(160)])
            }
        } else {
            // The street.
            Rgb([c(105), c(105), c(110)])
        }
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .map(|s| s.parse().expect("--runs N"))
        .unwrap_or(7);
    let img = scene(4000, 3000);
    let mut photo = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut photo, 92)
        .write_image(img.as_raw(), 4000, 3000, image::ExtendedColorType::Rgb8)
        .unwrap();
    let t = Instant::now();
    let font = StampFont::platform();
    let font_load = t.elapsed();
    let lines: Vec<String> = [
        "时间 2026-12-03 15:05:09",
        "地点 东门后巷",
        "坐标 26.085650, 119.302410",
        "检查员 张伟",
        "问题编号 GL-20261203-K7Q2-0007",
    ]
    .map(String::from)
    .to_vec();
    let limits = Limits::default();
    // One untimed round warms caches and allocators.
    let ing = ingest(&photo, &limits).unwrap();
    stamp(&ing.display, &lines, &font, &limits).unwrap();
    let (mut plain, mut stamped, mut stamp_only) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(ingest(&photo, &limits).unwrap());
        plain.push(t.elapsed());
        let t = Instant::now();
        let ing = ingest(&photo, &limits).unwrap();
        let s = Instant::now();
        std::hint::black_box(stamp(&ing.display, &lines, &font, &limits).unwrap());
        stamp_only.push(s.elapsed());
        stamped.push(t.elapsed());
    }
    let (p, s, o) = (median(plain), median(stamped), median(stamp_only));
    println!(
        "profile: {}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!(
        "photo: {} bytes, 4000x3000 JPEG q92; font: {:?} (cjk: {}), loaded once in {:.0?}",
        photo.len(),
        font.sources(),
        font.has_cjk(),
        font_load
    );
    println!("runs: {runs} (medians)");
    println!("ingest:          {p:>10.1?}");
    println!("ingest + stamp:  {s:>10.1?}  (stamp alone {o:.1?})");
    println!(
        "ratio stamped/plain: {:.2}",
        s.as_secs_f64() / p.as_secs_f64()
    );
}
