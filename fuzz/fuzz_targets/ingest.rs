#![no_main]

use fieldcheck_photo::{Limits, ingest, read_exif};
use libfuzzer_sys::fuzz_target;

// Small limits keep every input's worst case at a few tens of MB, so the fuzzer explores
// parsers rather than waiting on legitimately large decodes.
const LIMITS: Limits = Limits {
    max_bytes: 2 * 1024 * 1024,
    max_pixels: 4_000_000,
};

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts in its panic hook, before any `catch_unwind` can run. `ingest`
    // deliberately catches decoder panics and turns them into `photo_corrupt`, so restore the
    // default hook; a panic that escapes `ingest` still aborts (libfuzzer-sys aborts on any
    // unwind out of the target), and that is the finding we look for.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| drop(std::panic::take_hook()));
    // Metadata reading is public on its own and must tolerate anything.
    let _ = read_exif(data);
    match ingest(data, &LIMITS) {
        Ok(out) => {
            // Invariants that must hold for every accepted input.
            assert!(out.display_width.max(out.display_height) <= 1600);
            assert!(out.thumbnail_width.max(out.thumbnail_height) <= 320);
            assert!(u64::from(out.width) * u64::from(out.height) <= LIMITS.max_pixels);
            assert!((1..=8).contains(&out.exif.orientation));
            assert_eq!(out.display_sha256.len(), 64);
            assert!(out.display.starts_with(&[0xFF, 0xD8]) && out.thumbnail.starts_with(&[0xFF, 0xD8]));
            if let Some(gps) = out.exif.gps {
                assert!(gps.lat.abs() <= 90.0 && gps.lon.abs() <= 180.0);
            }
        }
        Err(e) => {
            // Every error has a stable code and a readable message.
            assert!(e.code().starts_with("photo_"));
            assert!(!e.to_string().is_empty());
        }
    }
});
