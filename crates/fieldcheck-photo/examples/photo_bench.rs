//! Photo pipeline benchmark: FieldCheck's `ingest` vs vipsthumbnail and ImageMagick on
//! camera-like 12 MP JPEGs.
//!
//! ```text
//! cargo run --release -p fieldcheck-photo --example photo_bench -- [--photos 12] [--runs 5]
//!     [--dir /tmp/fieldcheck-photo-bench] [--no-tools] [--no-compare]
//! ```
//!
//! Needs `vipsthumbnail` (Debian libvips-tools) and `/usr/bin/convert` (Debian imagemagick)
//! for the comparison columns; without them, or with `--no-tools`, only our figures print.
//!
//! Photos are synthesised once and cached in `--dir`: sky with fBm clouds, textured facades
//! with window grids, foliage-like ground, per-pixel sensor grain, 4:2:0 JPEG q92 — about
//! 3.5–4.5 MB each, like a phone's 12 MP output. A third carry EXIF orientation 6 (portrait
//! held phone) and GPS, so rotation is part of the measured work for every tool.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fast_image_resize as fr;
use fieldcheck_photo::{Limits, ingest};

const W: u32 = 4000;
const H: u32 = 3000;

// ---------------------------------------------------------------------------------------------
// Synthetic camera photos

fn hash(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

fn lattice(ix: i32, iy: i32, seed: u32) -> f32 {
    let h =
        hash((ix as u32).wrapping_mul(73_856_093) ^ (iy as u32).wrapping_mul(19_349_663) ^ seed);
    (h & 0xffff) as f32 / 65535.0
}

/// Smoothly interpolated value noise.
fn vnoise(x: f32, y: f32, seed: u32) -> f32 {
    let (ix, iy) = (x.floor() as i32, y.floor() as i32);
    let (fx, fy) = (x - ix as f32, y - iy as f32);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let (a, b) = (lattice(ix, iy, seed), lattice(ix + 1, iy, seed));
    let (c, d) = (lattice(ix, iy + 1, seed), lattice(ix + 1, iy + 1, seed));
    let top = a + (b - a) * sx;
    let bottom = c + (d - c) * sx;
    top + (bottom - top) * sy
}

/// Multi-octave noise normalised to 0..1.
fn fbm(x: f32, y: f32, seed: u32, octaves: u32, base: f32, persistence: f32) -> f32 {
    let (mut n, mut amp, mut freq, mut norm) = (0.0, 1.0, 1.0 / base, 0.0);
    for o in 0..octaves {
        n += amp * vnoise(x * freq, y * freq, seed.wrapping_add(o * 1013));
        norm += amp;
        amp *= persistence;
        freq *= 2.0;
    }
    n / norm
}

fn shade(x: u32, y: u32, seed: u32) -> [u8; 3] {
    let (fx, fy) = (x as f32, y as f32);
    let horizon = H as f32 * (0.35 + 0.15 * lattice(1, 2, seed));
    let tex = fbm(fx, fy, seed ^ 0x55, 8, 180.0, 0.7);
    let grain = (hash(x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503) ^ seed) & 0xff) as f32
        / 255.0
        - 0.5;
    let bx = (fx / (260.0 + 80.0 * lattice(0, 9, seed))).floor() as i32;
    let roof = horizon - 900.0 * lattice(bx, 7, seed) - 80.0;
    let (r, g, b) = if fy > roof && bx.rem_euclid(3) != 0 && fy < H as f32 * 0.85 {
        let window = (x % 46) < 26 && (y % 62) < 34;
        let wall = 100.0 + 90.0 * lattice(bx, 3, seed);
        let v = if window {
            40.0 + 60.0 * tex
        } else {
            wall + 90.0 * (tex - 0.5)
        };
        (v * 1.08, v, v * 0.88)
    } else if fy < horizon {
        let t = fy / horizon;
        let cloud = (fbm(fx, fy, seed, 6, 500.0, 0.5) - 0.45).max(0.0) * 510.0;
        (
            80.0 + 70.0 * t + cloud,
            130.0 + 60.0 * t + cloud,
            215.0 - 10.0 * t + cloud * 0.8,
        )
    } else if fy > H as f32 * 0.85 {
        // Road: grey asphalt with a lane marking.
        let v = 70.0 + 50.0 * tex;
        let marking = (x / 200).is_multiple_of(2) && (fy - H as f32 * 0.92).abs() < 14.0;
        if marking {
            (230.0, 220.0, 200.0)
        } else {
            (v, v, v * 1.03)
        }
    } else {
        let t = (fy - horizon) / (H as f32 - horizon);
        let leaf = tex * 140.0;
        (40.0 + leaf * 0.7 + 40.0 * t, 60.0 + leaf, 30.0 + leaf * 0.4)
    };
    let n = 20.0 * grain;
    [
        (r + n).clamp(0.0, 255.0) as u8,
        (g + n).clamp(0.0, 255.0) as u8,
        (b + n).clamp(0.0, 255.0) as u8,
    ]
}

fn synth_pixels(seed: u32) -> Vec<u8> {
    let mut px = vec![0u8; (W * H * 3) as usize];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rows_per = (H as usize).div_ceil(threads);
    std::thread::scope(|s| {
        for (i, chunk) in px.chunks_mut(rows_per * W as usize * 3).enumerate() {
            s.spawn(move || {
                for (j, p) in chunk.chunks_exact_mut(3).enumerate() {
                    let idx = i * rows_per * W as usize + j;
                    let (x, y) = ((idx % W as usize) as u32, (idx / W as usize) as u32);
                    p.copy_from_slice(&shade(x, y, seed));
                }
            });
        }
    });
    px
}

/// Minimal EXIF APP1: orientation 6 + a GPS fix in Shanghai, as a portrait phone shot has.
fn exif_app1() -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend(8u32.to_le_bytes());
    let entry = |t: &mut Vec<u8>, tag: u16, typ: u16, count: u32, val: u32| {
        t.extend(tag.to_le_bytes());
        t.extend(typ.to_le_bytes());
        t.extend(count.to_le_bytes());
        t.extend(val.to_le_bytes());
    };
    t.extend(2u16.to_le_bytes());
    entry(&mut t, 0x0112, 3, 1, 6);
    entry(&mut t, 0x8825, 4, 1, 8 + 2 + 24 + 4);
    t.extend(0u32.to_le_bytes());
    let data = 38 + 2 + 48 + 4;
    t.extend(4u16.to_le_bytes());
    entry(&mut t, 1, 2, 2, u32::from_le_bytes(*b"N\0\0\0"));
    entry(&mut t, 2, 5, 3, data);
    entry(&mut t, 3, 2, 2, u32::from_le_bytes(*b"E\0\0\0"));
    entry(&mut t, 4, 5, 3, data + 24);
    t.extend(0u32.to_le_bytes());
    for (n, d) in [
        (31u32, 1u32),
        (13, 1),
        (48_600, 1000),
        (121, 1),
        (28, 1),
        (24_400, 1000),
    ] {
        t.extend(n.to_le_bytes());
        t.extend(d.to_le_bytes());
    }
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend(((2 + 6 + t.len()) as u16).to_be_bytes());
    app1.extend(b"Exif\0\0");
    app1.extend(t);
    app1
}

fn ensure_photos(dir: &Path, n: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("create photo dir");
    (0..n)
        .map(|i| {
            let path = dir.join(format!("photo-{i:02}.jpg"));
            if !path.exists() {
                let started = Instant::now();
                let px = synth_pixels(1000 + i as u32 * 7919);
                let img = turbojpeg::Image {
                    pixels: px.as_slice(),
                    width: W as usize,
                    pitch: W as usize * 3,
                    height: H as usize,
                    format: turbojpeg::PixelFormat::RGB,
                };
                let jpeg =
                    turbojpeg::compress(img, 92, turbojpeg::Subsamp::Sub2x2).expect("encode");
                let mut bytes = vec![0xFF, 0xD8];
                if i % 3 == 2 {
                    bytes.extend(exif_app1());
                }
                bytes.extend(&jpeg[2..]);
                std::fs::write(&path, &bytes).expect("write photo");
                eprintln!(
                    "generated {} ({} KB) in {:.1}s",
                    path.display(),
                    bytes.len() / 1024,
                    started.elapsed().as_secs_f64()
                );
            }
            path
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

fn vm_hwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[idx]
}

fn median(samples: &[f64]) -> f64 {
    percentile(samples, 0.5)
}

fn run(cmd: &mut Command) -> Duration {
    let started = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("spawn");
    assert!(status.success(), "{cmd:?} failed: {status}");
    started.elapsed()
}

fn tool_available(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Child mode: one ingest of one file, outputs written like the app would, then report the
/// peak RSS of this process (which includes the 4 MB input buffer and the binary itself).
fn child(input: &Path, out_dir: &Path) {
    let bytes = std::fs::read(input).expect("read input");
    let started = Instant::now();
    let out = ingest(&bytes, &Limits::default()).expect("ingest");
    let took = started.elapsed();
    std::fs::write(out_dir.join("display.jpg"), &out.display).expect("write display");
    std::fs::write(out_dir.join("thumb.jpg"), &out.thumbnail).expect("write thumb");
    println!("{} {:.3} {}", vm_hwm_kb(), ms(took), out.display.len());
}

// ---------------------------------------------------------------------------------------------
// Alternative pipelines, for the design record in lib.rs

fn fir_resize(src: &[u8], sw: u32, sh: u32, dw: u32, dh: u32) -> Vec<u8> {
    let view = fr::images::ImageRef::new(sw, sh, src, fr::PixelType::U8x3).unwrap();
    let mut dst = fr::images::Image::new(dw, dh, fr::PixelType::U8x3);
    fr::Resizer::new()
        .resize(
            &view,
            &mut dst,
            &fr::ResizeOptions::new()
                .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3)),
        )
        .unwrap();
    dst.into_vec()
}

fn tj_encode(px: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut c = turbojpeg::Compressor::new().unwrap();
    c.set_quality(80).unwrap();
    c.set_optimize(true).unwrap();
    c.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
    c.compress_to_vec(turbojpeg::Image {
        pixels: px,
        width: w as usize,
        pitch: w as usize * 3,
        height: h as usize,
        format: turbojpeg::PixelFormat::RGB,
    })
    .unwrap()
}

fn tj_decode(bytes: &[u8], factor: turbojpeg::ScalingFactor) -> (Vec<u8>, u32, u32) {
    let mut d = turbojpeg::Decompressor::new().unwrap();
    let h = d.read_header(bytes).unwrap();
    d.set_scaling_factor(factor).unwrap();
    let s = h.scaled(factor);
    let mut px = vec![0u8; s.width * s.height * 3];
    d.decompress(
        bytes,
        turbojpeg::Image {
            pixels: px.as_mut_slice(),
            width: s.width,
            pitch: s.width * 3,
            height: s.height,
            format: turbojpeg::PixelFormat::RGB,
        },
    )
    .unwrap();
    (px, s.width as u32, s.height as u32)
}

fn compare(photos: &[PathBuf], runs: usize) {
    println!(
        "\n## Design alternatives (same photos, display 1600 + thumb 320, no orientation), median ms"
    );
    let mut rows: Vec<(&str, Vec<f64>)> = vec![
        (
            "image crate only: zune-jpeg full decode + imageops Lanczos3 + image JpegEncoder",
            vec![],
        ),
        (
            "zune-jpeg full decode + fast_image_resize + TurboJPEG encode",
            vec![],
        ),
        (
            "TurboJPEG full decode + fast_image_resize + TurboJPEG encode",
            vec![],
        ),
        ("TurboJPEG DCT-scaled decode (shrink-on-load) only", vec![]),
        (
            "fieldcheck_photo::ingest (DCT-scaled decode + fast_image_resize + TurboJPEG + hashes)",
            vec![],
        ),
    ];
    // Photos without EXIF orientation only, so every variant does the same work.
    for path in photos
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 2)
        .map(|(_, p)| p)
        .take(3)
    {
        let bytes = std::fs::read(path).unwrap();
        for _ in 0..runs.min(3) {
            let t = Instant::now();
            let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
                .unwrap()
                .into_rgb8();
            let disp =
                image::imageops::resize(&img, 1600, 1200, image::imageops::FilterType::Lanczos3);
            let thumb =
                image::imageops::resize(&disp, 320, 240, image::imageops::FilterType::Lanczos3);
            for im in [&disp, &thumb] {
                let mut out = Vec::new();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
                    .encode_image(im)
                    .unwrap();
            }
            rows[0].1.push(ms(t.elapsed()));

            let t = Instant::now();
            let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
                .unwrap()
                .into_rgb8();
            let disp = fir_resize(img.as_raw(), W, H, 1600, 1200);
            let thumb = fir_resize(&disp, 1600, 1200, 320, 240);
            tj_encode(&disp, 1600, 1200);
            tj_encode(&thumb, 320, 240);
            rows[1].1.push(ms(t.elapsed()));

            let t = Instant::now();
            let (px, w, h) = tj_decode(&bytes, turbojpeg::ScalingFactor::ONE);
            let disp = fir_resize(&px, w, h, 1600, 1200);
            let thumb = fir_resize(&disp, 1600, 1200, 320, 240);
            tj_encode(&disp, 1600, 1200);
            tj_encode(&thumb, 320, 240);
            rows[2].1.push(ms(t.elapsed()));

            let t = Instant::now();
            tj_decode(&bytes, turbojpeg::ScalingFactor::ONE_HALF);
            rows[3].1.push(ms(t.elapsed()));

            let t = Instant::now();
            ingest(&bytes, &Limits::default()).unwrap();
            rows[4].1.push(ms(t.elapsed()));
        }
    }
    for (name, samples) in rows {
        println!("  {:>7.1} ms  {name}", median(&samples));
    }
}

// ---------------------------------------------------------------------------------------------

struct Args {
    photos: usize,
    runs: usize,
    dir: PathBuf,
    tools: bool,
    compare: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        photos: 12,
        runs: 5,
        dir: std::env::temp_dir().join("fieldcheck-photo-bench"),
        tools: true,
        compare: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--photos" => a.photos = it.next().and_then(|v| v.parse().ok()).expect("--photos N"),
            "--runs" => a.runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--dir" => a.dir = it.next().map(PathBuf::from).expect("--dir PATH"),
            "--no-tools" => a.tools = false,
            "--no-compare" => a.compare = false,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn main() {
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some("--child") {
        child(Path::new(&raw[2]), Path::new(&raw[3]));
        return;
    }
    let args = parse_args();
    let photos = ensure_photos(&args.dir, args.photos);
    let out_dir = args.dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let sizes: Vec<u64> = photos
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .collect();
    println!(
        "# photo_bench: {} photos {W}×{H}, JPEG q92 4:2:0, {:.1}–{:.1} MB (median {:.1} MB), {} runs each, {} CPUs",
        photos.len(),
        *sizes.iter().min().unwrap() as f64 / 1e6,
        *sizes.iter().max().unwrap() as f64 / 1e6,
        median(&sizes.iter().map(|&s| s as f64).collect::<Vec<_>>()) / 1e6,
        args.runs,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );

    // In-process: the cost the app pays per photo (bytes already in memory).
    let mut inproc = Vec::new();
    let mut display_sizes = Vec::new();
    let mut thumb_sizes = Vec::new();
    for path in &photos {
        let bytes = std::fs::read(path).unwrap();
        let warm = ingest(&bytes, &Limits::default()).unwrap();
        display_sizes.push(warm.display.len() as f64);
        thumb_sizes.push(warm.thumbnail.len() as f64);
        for _ in 0..args.runs {
            let t = Instant::now();
            std::hint::black_box(ingest(std::hint::black_box(&bytes), &Limits::default()).unwrap());
            inproc.push(ms(t.elapsed()));
        }
    }

    // One process per photo: comparable with the CLI tools (exec + read + write included),
    // and isolates each photo's peak RSS.
    let exe = std::env::current_exe().unwrap();
    let mut process = Vec::new();
    let mut rss_kb = Vec::new();
    for path in &photos {
        for _ in 0..args.runs {
            let t = Instant::now();
            let out = Command::new(&exe)
                .arg("--child")
                .arg(path)
                .arg(&out_dir)
                .output()
                .expect("spawn child");
            process.push(ms(t.elapsed()));
            assert!(
                out.status.success(),
                "child failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = String::from_utf8_lossy(&out.stdout);
            rss_kb.push(
                line.split_whitespace()
                    .next()
                    .unwrap()
                    .parse::<f64>()
                    .unwrap(),
            );
        }
    }

    println!("\n## fieldcheck_photo::ingest (display 1600 q80 + thumb 320 q80 + 3×SHA-256)");
    println!(
        "  in-process       p50 {:>7.1} ms   p95 {:>7.1} ms",
        percentile(&inproc, 0.5),
        percentile(&inproc, 0.95)
    );
    println!(
        "  one process/photo p50 {:>6.1} ms   p95 {:>7.1} ms   (exec + read + ingest + write both files)",
        percentile(&process, 0.5),
        percentile(&process, 0.95)
    );
    println!(
        "  peak RSS per photo (VmHWM, whole process)  max {:.1} MB   median {:.1} MB",
        rss_kb.iter().copied().fold(0.0, f64::max) / 1024.0,
        median(&rss_kb) / 1024.0
    );
    println!(
        "  display copy size median {:.0} KB (max {:.0} KB); thumbnail median {:.1} KB",
        median(&display_sizes) / 1024.0,
        display_sizes.iter().copied().fold(0.0, f64::max) / 1024.0,
        median(&thumb_sizes) / 1024.0
    );

    let have_vips = args.tools && tool_available("vipsthumbnail", "--version");
    let have_im = args.tools && tool_available("/usr/bin/convert", "-version");
    let mut vips = Vec::new();
    let mut vips_display = Vec::new();
    if have_vips {
        for path in &photos {
            for _ in 0..args.runs {
                let d = out_dir.join("vips-1600.jpg");
                let t = out_dir.join("vips-320.jpg");
                let a = run(Command::new("vipsthumbnail")
                    .arg(path)
                    .args(["-s", "1600", "-o"])
                    .arg(format!("{}[Q=80,strip]", d.display())));
                let b = run(Command::new("vipsthumbnail")
                    .arg(path)
                    .args(["-s", "320", "-o"])
                    .arg(format!("{}[Q=80,strip]", t.display())));
                vips.push(ms(a + b));
            }
            vips_display.push(
                std::fs::metadata(out_dir.join("vips-1600.jpg"))
                    .unwrap()
                    .len() as f64,
            );
        }
        println!("\n## vipsthumbnail (two invocations: -s 1600 and -s 320, [Q=80,strip])");
        println!(
            "  p50 {:>7.1} ms   p95 {:>7.1} ms",
            percentile(&vips, 0.5),
            percentile(&vips, 0.95)
        );
        println!(
            "  display copy size median {:.0} KB",
            median(&vips_display) / 1024.0
        );
    } else {
        println!("\n(vipsthumbnail not run: install libvips-tools)");
    }
    let mut im = Vec::new();
    if have_im {
        let im_runs = args.runs.min(2);
        for path in &photos {
            for _ in 0..im_runs {
                let mut t = Duration::ZERO;
                for (size, name) in [("1600x1600", "im-1600.jpg"), ("320x320", "im-320.jpg")] {
                    t += run(Command::new("/usr/bin/convert")
                        .arg(path)
                        .args(["-auto-orient", "-resize", size, "-strip", "-quality", "80"])
                        .arg(out_dir.join(name)));
                }
                im.push(ms(t));
            }
        }
        println!(
            "\n## ImageMagick convert (two invocations: -auto-orient -resize 1600x1600 / 320x320 -strip -quality 80)"
        );
        println!(
            "  p50 {:>7.1} ms   p95 {:>7.1} ms",
            percentile(&im, 0.5),
            percentile(&im, 0.95)
        );
    } else {
        println!("\n(ImageMagick not run: install imagemagick)");
    }

    println!("\n## Ratios (p50)");
    if have_vips {
        println!(
            "  fieldcheck / vipsthumbnail: {:.2}× process-to-process, {:.2}× in-process   (target ≤ 1.3×)",
            percentile(&process, 0.5) / percentile(&vips, 0.5),
            percentile(&inproc, 0.5) / percentile(&vips, 0.5)
        );
    }
    if have_im {
        println!(
            "  ImageMagick / fieldcheck:   {:.1}× process-to-process, {:.1}× in-process   (target ≥ 3×)",
            percentile(&im, 0.5) / percentile(&process, 0.5),
            percentile(&im, 0.5) / percentile(&inproc, 0.5)
        );
    }
    println!(
        "  peak RSS {:.0} MB (target ≤ 200 MB); median display {:.0} KB (target ≤ 400 KB)",
        rss_kb.iter().copied().fold(0.0, f64::max) / 1024.0,
        median(&display_sizes) / 1024.0
    );

    if args.compare {
        compare(&photos, args.runs);
    }
}
