//! Push benchmark (issue 4, benchmark 1): one device with 1,000 problems carrying 2 photos
//! each syncs to a server over loopback; then `/usr/bin/curl` sends the same requests with
//! the same bytes to a fresh server of the same configuration, in the same run.
//!
//! ```text
//! cargo run --release -p fieldcheck-cli --example push_bench -- [--problems 1000]
//!     [--photos-per 2] [--grain 14] [--curl /usr/bin/curl]
//! ```
//!
//! Photos: a camera-like 1600×1200 texture (fBm "facade" + sky + per-pixel grain), shifted,
//! tinted and re-grained per photo so every photo has distinct pixels and hash, encoded as a
//! q92 JPEG and ingested by the device exactly as a captured photo (display copy re-encoded
//! at q80, ≈ 200–300 KB; the average is printed). Generation and ingest are setup, not timed.
//!
//! Timed, device: `SyncClient::run()` from the filled outbox to done (reference check, push
//! in batches of 200, `blobs/check` + chunked `PUT /blobs/<hash>?offset=&size=` in 256 KiB
//! chunks, pull of the device's own events back, photo download check) — every SQLite
//! bookkeeping step included.
//!
//! Timed, baseline: ONE `curl` process (connection reuse, `-K` config with `next` between
//! requests) sending to a fresh server exactly the upload requests the device sends: the same
//! JSON push bodies (the device's outbox serialised in the same batches), the same
//! `blobs/check` bodies, and every photo chunk as the same `PUT` with the same
//! offset/size/bytes. So the server does identical work for both; the ratio is the device's
//! client overhead (its SQLite store, JSON, reqwest, the reference and pull round-trips that
//! curl skips). A fresh server is needed because the first one already holds these events
//! and blobs (the same requests would only be answered as duplicates).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use fieldcheck_core::protocol::sync::{BlobCheckRequest, PROTOCOL_HEADER, PushRequest};
use fieldcheck_core::sync::{SyncClient, SyncOptions, enroll};
use fieldcheck_core::{NewProblem, Store};

#[path = "common/mod.rs"]
mod common;
use common::{Server, flag, machine_note};

const W: usize = 1600;
const H: usize = 1200;
const BW: usize = 2048;
const BH: usize = 1536;

fn hash(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

fn lattice(ix: i32, iy: i32, seed: u32) -> f32 {
    (hash((ix as u32).wrapping_mul(73_856_093) ^ (iy as u32).wrapping_mul(19_349_663) ^ seed)
        & 0xffff) as f32
        / 65535.0
}

fn vnoise(x: f32, y: f32, seed: u32) -> f32 {
    let (ix, iy) = (x.floor() as i32, y.floor() as i32);
    let (fx, fy) = (x - ix as f32, y - iy as f32);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let (a, b) = (lattice(ix, iy, seed), lattice(ix + 1, iy, seed));
    let (c, d) = (lattice(ix, iy + 1, seed), lattice(ix + 1, iy + 1, seed));
    let top = a + (b - a) * sx;
    top + (c + (d - c) * sx - top) * sy
}

/// The shared scene: sky with clouds over a facade with a window grid and stained render.
fn base_texture() -> Vec<u8> {
    let mut px = vec![0u8; BW * BH * 3];
    for y in 0..BH {
        for x in 0..BW {
            let (fx, fy) = (x as f32, y as f32);
            let mut n = 0.0;
            let mut amp = 1.0;
            let mut freq = 1.0 / 180.0;
            for o in 0..5 {
                n += amp * vnoise(fx * freq, fy * freq, 11 + o);
                amp *= 0.55;
                freq *= 2.3;
            }
            let n = n / 2.1;
            let rgb = if y < BH / 3 {
                let t = y as f32 / (BH / 3) as f32;
                let c = (n * 90.0).clamp(0.0, 90.0);
                [110.0 + c + 40.0 * t, 150.0 + c + 30.0 * t, 215.0 + c * 0.4]
            } else {
                let window = (x % 96) > 60 && (y % 128) > 70;
                let base = if window { 70.0 } else { 185.0 };
                let v = base + (n - 0.5) * 120.0;
                [v + 12.0, v, v - 18.0]
            };
            let i = (y * BW + x) * 3;
            for c in 0..3 {
                px[i + c] = rgb[c].clamp(0.0, 255.0) as u8;
            }
        }
    }
    px
}

/// Photo `n`: a shifted, tinted window of the scene with its own sensor grain, as a q92 JPEG.
fn photo(n: u32, base: &[u8], grain: i32) -> Vec<u8> {
    let h = hash(n.wrapping_mul(2_654_435_761).wrapping_add(7));
    let (ox, oy) = (
        (h % (BW - W) as u32) as usize,
        ((h >> 12) % (BH - H) as u32) as usize,
    );
    let tint = [(h >> 3) % 41, (h >> 9) % 41, (h >> 17) % 41].map(|t| t as i32 - 20);
    let mut px = vec![0u8; W * H * 3];
    for y in 0..H {
        for x in 0..W {
            let g = hash(n ^ ((y * W + x) as u32).wrapping_mul(0x9e37_79b9));
            let s = (y + oy) * BW + x + ox;
            for c in 0..3 {
                let noise = ((g >> (c * 8)) & 0xff) as i32 * (2 * grain + 1) / 256 - grain;
                px[(y * W + x) * 3 + c] =
                    (base[s * 3 + c] as i32 + tint[c] + noise).clamp(0, 255) as u8;
            }
        }
    }
    let mut c = turbojpeg::Compressor::new().unwrap();
    c.set_quality(92).unwrap();
    c.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
    c.compress_to_vec(turbojpeg::Image {
        pixels: px.as_slice(),
        width: W,
        pitch: W * 3,
        height: H,
        format: turbojpeg::PixelFormat::RGB,
    })
    .unwrap()
}

fn main() {
    let problems: usize = flag("problems", 1000);
    let per: usize = flag("photos-per", 2);
    let grain: i32 = flag("grain", 14);
    let curl: String = flag("curl", "/usr/bin/curl".to_owned());
    let opts = SyncOptions::default();
    println!(
        "push_bench: {problems} problems x {per} photos; {}",
        machine_note()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(Server::start(None));
    let dev_dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(
        Store::open(dev_dir.path().join("device.db")).unwrap(),
    ));
    let code = rt.block_on(server.enroll_code("usr-vol-1"));
    rt.block_on(enroll(store.clone(), &server.base, &code, &opts))
        .unwrap();

    // Setup (untimed): photos generated two at a time, ingested by the device, problems.
    let t = Instant::now();
    let base = base_texture();
    let mut photos: Vec<(String, u64)> = Vec::with_capacity(problems * per);
    {
        let mut s = store.lock().unwrap();
        let actor = s.actor("usr-vol-1").unwrap();
        let total = (problems * per) as u32;
        let mut n = 0u32;
        while n < total {
            let batch: Vec<u32> = (n..(n + 32).min(total)).collect();
            let jpegs: Vec<Vec<u8>> = std::thread::scope(|sc| {
                let halves: Vec<_> = batch
                    .chunks(batch.len().div_ceil(2))
                    .map(|part| {
                        let base = &base;
                        sc.spawn(move || {
                            part.iter()
                                .map(|&i| photo(i, base, grain))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
            });
            for j in jpegs {
                let info = s.add_photo_bytes(&j).unwrap();
                assert!(info.new, "photo {n} is not distinct");
                photos.push((info.hash, info.display_bytes));
            }
            n += batch.len() as u32;
        }
        for (i, ph) in photos.chunks(per).enumerate() {
            s.report_problem(
                &actor,
                NewProblem {
                    category: "SR-02".into(),
                    description: format!("巷口暴露垃圾 #{i}，周边商户反映多日未清运"),
                    point_id: Some("p-005".into()),
                    photos: ph.iter().map(|p| p.0.clone()).collect(),
                    ..NewProblem::default()
                },
            )
            .unwrap();
        }
    }
    let photo_bytes: u64 = photos.iter().map(|p| p.1).sum();
    println!(
        "setup: {} photos, display copies avg {:.0} KB (min {:.0}, max {:.0}), total {:.1} MB; {:.1} s",
        photos.len(),
        photo_bytes as f64 / photos.len() as f64 / 1024.0,
        photos.iter().map(|p| p.1).min().unwrap() as f64 / 1024.0,
        photos.iter().map(|p| p.1).max().unwrap() as f64 / 1024.0,
        photo_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // The exact bodies curl will send, taken from the outbox before the device syncs.
    let events = store.lock().unwrap().outbox(usize::MAX).unwrap();
    assert_eq!(events.len(), problems);
    let push_bodies: Vec<Vec<u8>> = events
        .chunks(opts.push_batch)
        .map(|c| serde_json::to_vec(&PushRequest { events: c.to_vec() }).unwrap())
        .collect();

    // Timed: the device.
    let client = SyncClient::new(store.clone(), opts.clone()).unwrap();
    let t = Instant::now();
    let report = rt.block_on(client.run()).unwrap();
    let device_s = t.elapsed().as_secs_f64();
    assert_eq!(report.pushed, problems, "{report:?}");
    assert_eq!(report.photos_uploaded, photos.len(), "{report:?}");
    assert!(report.refused.is_empty() && report.rejected.is_empty());
    println!(
        "device sync: {device_s:.2} s — {} events, {} photos, {:.1} MB up, {:.1} MB down",
        report.pushed,
        report.photos_uploaded,
        report.bytes_up as f64 / 1e6,
        report.bytes_down as f64 / 1e6
    );

    // Baseline: curl, same requests, fresh server.
    let server_b = rt.block_on(Server::start(None));
    let http = reqwest::Client::new();
    let (token, _) = rt.block_on(server_b.enroll_raw(&http, "usr-vol-1"));
    let work = tempfile::tempdir().unwrap();
    let mut cfg = String::new();
    let mut requests = 0usize;
    let mut curl_bytes = 0u64;
    let common_headers = |cfg: &mut String, ctype: &str| {
        cfg.push_str(&format!(
            "header = \"Authorization: Bearer {token}\"\nheader = \"{PROTOCOL_HEADER}: 1\"\n\
             header = \"Content-Type: {ctype}\"\nheader = \"Expect:\"\n\
             output = \"/dev/null\"\nwrite-out = \"%{{http_code}}\\n\"\n"
        ));
    };
    let mut add = |cfg: &mut String, method: &str, path: &str, body: &[u8], ctype: &str| {
        let f = work.path().join(format!("r{requests}"));
        std::fs::write(&f, body).unwrap();
        if requests > 0 {
            cfg.push_str("next\n");
        }
        cfg.push_str(&format!(
            "url = \"{}/api/v1{path}\"\nrequest = \"{method}\"\ndata-binary = \"@{}\"\n",
            server_b.base,
            f.display()
        ));
        common_headers(cfg, ctype);
        requests += 1;
        curl_bytes += body.len() as u64;
    };
    for b in &push_bodies {
        add(&mut cfg, "POST", "/push", b, "application/json");
    }
    {
        let s = store.lock().unwrap();
        for group in photos.chunks(100) {
            let check = BlobCheckRequest {
                hashes: group.iter().map(|p| p.0.clone()).collect(),
            };
            add(
                &mut cfg,
                "POST",
                "/blobs/check",
                &serde_json::to_vec(&check).unwrap(),
                "application/json",
            );
            for (h, _) in group {
                let bytes = std::fs::read(s.display_path(h).unwrap()).unwrap();
                let size = bytes.len();
                let mut off = 0usize;
                while off < size {
                    let end = (off + opts.chunk_bytes as usize).min(size);
                    add(
                        &mut cfg,
                        "PUT",
                        &format!("/blobs/{h}?offset={off}&size={size}"),
                        &bytes[off..end],
                        "application/octet-stream",
                    );
                    off = end;
                }
            }
        }
    }
    let cfg_path = work.path().join("curl.cfg");
    std::fs::File::create(&cfg_path)
        .unwrap()
        .write_all(cfg.as_bytes())
        .unwrap();
    // Warm the page cache for curl's files, as the device's photo files are warm too.
    for i in 0..requests {
        let _ = std::fs::read(work.path().join(format!("r{i}"))).unwrap();
    }
    let t = Instant::now();
    let out = std::process::Command::new(&curl)
        .arg("-sS")
        .arg("-K")
        .arg(&cfg_path)
        .output()
        .unwrap();
    let curl_s = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let codes = String::from_utf8_lossy(&out.stdout);
    let bad = codes.lines().filter(|c| !c.starts_with('2')).count();
    assert_eq!(codes.lines().count(), requests);
    assert_eq!(bad, 0, "curl got non-2xx answers: {codes}");
    let b_events = rt.block_on(server_b.store.event_count()).unwrap();
    assert_eq!(b_events as usize, problems, "curl's pushes were all stored");
    println!(
        "curl baseline: {curl_s:.2} s — {requests} requests ({} push, {} blobs/check, {} PUT), {:.1} MB",
        push_bodies.len(),
        photos.len().div_ceil(100),
        requests - push_bodies.len() - photos.len().div_ceil(100),
        curl_bytes as f64 / 1e6
    );
    let ratio = device_s / curl_s;
    println!(
        "RESULT push_bench: device {device_s:.2} s, curl {curl_s:.2} s, ratio {ratio:.2}x (target <= 1.5x: {})",
        if ratio <= 1.5 { "met" } else { "MISSED" }
    );
    println!("machine after: {}", machine_note());
    rt.block_on(server.stop());
    rt.block_on(server_b.stop());
}
