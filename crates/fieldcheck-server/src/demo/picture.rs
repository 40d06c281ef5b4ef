//! Demo photos: a small street scene drawn in code and encoded as JPEG, stamped like a
//! watermark camera (水印相机) with the problem code, the role and the time, so that the
//! console's before/after photos are real pictures that differ per photo.

use image::ExtendedColorType;
use image::codecs::jpeg::JpegEncoder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub const WIDTH: usize = 640;
pub const HEIGHT: usize = 480;

/// What one photo shows: a scene from `seed`, litter or not, and the watermark lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoSpec {
    pub seed: u64,
    /// Litter on the ground (整改前) or a clean street (整改后).
    pub dirty: bool,
    /// Large first watermark line (the problem code), then smaller ones.
    pub lines: Vec<String>,
}

type Rgb = [u8; 3];

struct Canvas {
    px: Vec<u8>,
}

impl Canvas {
    fn new() -> Canvas {
        Canvas {
            px: vec![0; WIDTH * HEIGHT * 3],
        }
    }

    fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        let clamp = |v: i64, max: usize| v.clamp(0, max as i64) as usize;
        let (x0, x1) = (clamp(x0, WIDTH), clamp(x1, WIDTH));
        let (y0, y1) = (clamp(y0, HEIGHT), clamp(y1, HEIGHT));
        if x0 >= x1 {
            return;
        }
        for y in y0..y1 {
            let row = &mut self.px[(y * WIDTH + x0) * 3..(y * WIDTH + x1) * 3];
            for p in row.chunks_exact_mut(3) {
                p.copy_from_slice(&c);
            }
        }
    }

    /// Darkens a band (the watermark's background) so white text reads on any scene.
    fn shade(&mut self, y0: usize, y1: usize) {
        for v in &mut self.px[y0 * WIDTH * 3..y1.min(HEIGHT) * WIDTH * 3] {
            *v /= 3;
        }
    }

    fn text(&mut self, x: i64, y: i64, scale: i64, s: &str, c: Rgb) {
        let mut cx = x;
        for ch in s.chars() {
            let rows = glyph(ch.to_ascii_uppercase());
            for (ry, bits) in rows.iter().enumerate() {
                for rx in 0..5 {
                    if bits & (0b10000 >> rx) != 0 {
                        let px = cx + rx * scale;
                        let py = y + ry as i64 * scale;
                        self.rect(px, py, px + scale, py + scale, c);
                    }
                }
            }
            cx += 6 * scale;
        }
    }
}

fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    let m = |x: u8, y: u8| (f32::from(x) + (f32::from(y) - f32::from(x)) * t) as u8;
    [m(a[0], b[0]), m(a[1], b[1]), m(a[2], b[2])]
}

fn color(rng: &mut StdRng, lo: u8, hi: u8) -> Rgb {
    [
        rng.random_range(lo..=hi),
        rng.random_range(lo..=hi),
        rng.random_range(lo..=hi),
    ]
}

/// Draws and encodes one photo (JPEG, 640 × 480).
pub fn render(spec: &PhotoSpec) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut c = Canvas::new();
    let (w, h) = (WIDTH as i64, HEIGHT as i64);
    // Sky: a vertical gradient whose colours vary with the weather of the day.
    let top = [
        rng.random_range(60..120),
        rng.random_range(120..170),
        rng.random_range(190..240),
    ];
    let bottom = mix(top, [235, 235, 225], 0.7);
    let horizon = rng.random_range(170..230);
    for y in 0..horizon {
        let t = y as f32 / horizon as f32;
        c.rect(0, y, w, y + 1, mix(top, bottom, t));
    }
    // Trees in the distance behind the gaps between buildings.
    c.rect(0, horizon, w, horizon + 40, mix(bottom, [70, 110, 70], 0.6));
    // Buildings along the street, each with a grid of windows.
    let mut x = -rng.random_range(0..40);
    while x < w {
        let bw = rng.random_range(70..160);
        let bh = rng.random_range(90..horizon + 40);
        let wall = color(&mut rng, 120, 220);
        c.rect(x, horizon + 40 - bh, x + bw, horizon + 40, wall);
        let glass = mix(wall, [40, 60, 90], 0.6);
        let mut wy = horizon + 40 - bh + 12;
        while wy + 14 < horizon + 30 {
            let mut wx = x + 10;
            while wx + 14 < x + bw - 6 {
                c.rect(wx, wy, wx + 12, wy + 14, glass);
                wx += 22;
            }
            wy += 26;
        }
        x += bw + rng.random_range(0..12);
    }
    // Pavement and road.
    let ground = horizon + 40;
    c.rect(0, ground, w, ground + 30, [170, 165, 155]);
    c.rect(0, ground + 30, w, h, [85, 88, 92]);
    let mut lx = rng.random_range(0..60);
    while lx < w {
        c.rect(lx, ground + 120, lx + 50, ground + 128, [230, 230, 230]);
        lx += 110;
    }
    if spec.dirty {
        // Litter, a heap and stains: what the report is about.
        for _ in 0..rng.random_range(18..40) {
            let lx = rng.random_range(0..w);
            let ly = rng.random_range(ground..h - 90);
            let s = rng.random_range(6..22);
            let col = color(&mut rng, 30, 250);
            c.rect(lx, ly, lx + s, ly + s / 2 + 3, col);
        }
        let hx = rng.random_range(40..w - 200);
        let hy = rng.random_range(ground + 10..h - 140);
        for i in 0..8 {
            let d = i * 6;
            c.rect(
                hx + d,
                hy + d,
                hx + 160 - d,
                hy + 50,
                [110 - i as u8 * 6, 90, 60],
            );
        }
    } else {
        // Clean, with new planters: the rectified street.
        let mut px = rng.random_range(10..80);
        while px < w - 40 {
            c.rect(px, ground - 6, px + 34, ground + 24, [120, 90, 60]);
            c.rect(
                px - 4,
                ground - 30,
                px + 38,
                ground - 6,
                [50, 140 + (px % 60) as u8, 60],
            );
            px += rng.random_range(120..200);
        }
    }
    // The watermark: shaded band, the code large, the other lines small.
    let lines = spec.lines.len() as i64;
    let band = 14 + 40 + (lines - 1).max(0) * 26;
    c.shade((h - band) as usize, HEIGHT);
    let mut y = h - band + 8;
    for (i, line) in spec.lines.iter().enumerate() {
        let scale = if i == 0 { 5 } else { 3 };
        let fg = if i == 0 {
            [255, 255, 255]
        } else {
            [255, 214, 90]
        };
        c.text(14, y, scale, line, fg);
        y += if i == 0 { 44 } else { 26 };
    }
    c.text(w - 6 * 2 * 15 - 8, 8, 2, "FIELDCHECK DEMO", [255, 255, 255]);
    let mut out = Vec::with_capacity(40 * 1024);
    JpegEncoder::new_with_quality(&mut out, 80)
        .encode(&c.px, WIDTH as u32, HEIGHT as u32, ExtendedColorType::Rgb8)
        .expect("encoding an in-memory RGB image cannot fail");
    out
}

/// A 5 × 7 bitmap font for what the watermark writes: codes, dates, times, role words.
fn glyph(ch: char) -> [u8; 7] {
    match ch {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        '/' => [0x01, 0x02, 0x02, 0x04, 0x08, 0x08, 0x10],
        '+' => [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00],
        _ => [0; 7],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_are_jpegs_that_differ() {
        let a = render(&PhotoSpec {
            seed: 1,
            dirty: true,
            lines: vec![
                "GL-20261123-K7Q2-0007".into(),
                "BEFORE 2026-11-23 10:32".into(),
            ],
        });
        let b = render(&PhotoSpec {
            seed: 2,
            dirty: false,
            lines: vec![
                "GL-20261123-K7Q2-0007".into(),
                "AFTER 2026-11-24 15:02".into(),
            ],
        });
        assert_ne!(a, b);
        let img = image::load_from_memory(&a).unwrap();
        assert_eq!((img.width(), img.height()), (640, 480));
        assert_eq!(&a[..2], &[0xFF, 0xD8], "JPEG SOI");
    }
}
