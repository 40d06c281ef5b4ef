//! EXIF: orientation baked into pixels, GPS in every hemisphere, capture time, hostile EXIF.

mod common;

use common::*;
use fieldcheck_photo::{GpsFix, Limits, ingest, read_exif};

#[test]
fn all_eight_orientations_produce_upright_pixels() {
    // 640×480 upright; the stored image is what a camera held in that pose would write.
    let upright = quadrants(640, 480);
    for o in 1..=8u16 {
        let stored = stored_for(&upright, o);
        let bytes = with_exif_jpeg(&jpeg(&stored, 95), &orientation_tiff(o));
        let out =
            ingest(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("orientation {o}: {e}"));
        assert_eq!(out.exif.orientation, o);
        assert_eq!(
            (out.width, out.height),
            (640, 480),
            "orientation {o}: original size after orientation"
        );
        assert_eq!(
            (out.display_width, out.display_height),
            (640, 480),
            "orientation {o}"
        );
        let display = decode(&out.display);
        assert_eq!(display.dimensions(), (640, 480), "orientation {o}");
        assert_upright_quadrants(&display);
        let thumb = decode(&out.thumbnail);
        assert_eq!(thumb.dimensions(), (320, 240), "orientation {o}");
        assert_upright_quadrants(&thumb);
    }
}

#[test]
fn orientation_is_applied_on_the_dct_scaled_path_too() {
    // 4000×3000 stored sideways (orientation 6 and 8): exercises shrink-on-load + resize +
    // rotation together, like a portrait photo from a phone.
    let upright = quadrants(3000, 4000);
    for o in [6u16, 8] {
        let stored = stored_for(&upright, o);
        assert_eq!(stored.dimensions(), (4000, 3000));
        let bytes = with_exif_jpeg(&jpeg(&stored, 85), &orientation_tiff(o));
        let out = ingest(&bytes, &Limits::default()).unwrap();
        assert_eq!((out.width, out.height), (3000, 4000));
        assert_eq!((out.display_width, out.display_height), (1200, 1600));
        assert_eq!((out.thumbnail_width, out.thumbnail_height), (240, 320));
        assert_upright_quadrants(&decode(&out.display));
        assert_upright_quadrants(&decode(&out.thumbnail));
    }
}

#[test]
fn orientation_from_png_and_webp_exif() {
    let upright = quadrants(200, 100);
    let stored = stored_for(&upright, 6);
    let tiff = orientation_tiff(6);
    let png = with_exif_png(&png_rgb(&stored), &tiff);
    let out = ingest(&png, &Limits::default()).unwrap();
    assert_eq!(out.exif.orientation, 6);
    assert_eq!((out.display_width, out.display_height), (200, 100));
    assert_upright_quadrants(&decode(&out.display));

    let webp = with_exif_webp(
        &webp_lossless(&stored),
        &tiff,
        stored.width(),
        stored.height(),
    );
    let out = ingest(&webp, &Limits::default()).unwrap();
    assert_eq!(out.exif.orientation, 6);
    assert_upright_quadrants(&decode(&out.display));
}

#[test]
fn out_of_range_orientation_is_ignored() {
    let img = quadrants(64, 48);
    for bogus in [0u16, 9, 65535] {
        let bytes = with_exif_jpeg(&jpeg(&img, 95), &orientation_tiff(bogus));
        let out = ingest(&bytes, &Limits::default()).unwrap();
        assert_eq!(out.exif.orientation, 1);
        assert_upright_quadrants(&decode(&out.display));
    }
}

fn gps_photo(t: &Tiff, gps: Vec<Entry>) -> Vec<u8> {
    let tiff = t.build(vec![t.ascii(TAG_MAKE, "FieldCam")], None, Some(gps));
    with_exif_jpeg(&jpeg(&quadrants(32, 32), 90), &tiff)
}

#[test]
fn gps_in_all_four_hemispheres() {
    let places = [
        ("Beijing", 39.904_2, 116.407_4),
        ("Sydney", -33.868_8, 151.209_3),
        ("New York", 40.712_8, -74.006_0),
        ("Rio de Janeiro", -22.906_8, -43.172_9),
    ];
    for (name, lat, lon) in places {
        for t in [&LE, &BE] {
            let bytes = gps_photo(t, gps_entries(t, lat, lon));
            let fix = read_exif(&bytes)
                .gps
                .unwrap_or_else(|| panic!("{name}: no fix"));
            assert!(
                (fix.lat - lat).abs() < 1e-6,
                "{name}: lat {} vs {lat}",
                fix.lat
            );
            assert!(
                (fix.lon - lon).abs() < 1e-6,
                "{name}: lon {} vs {lon}",
                fix.lon
            );
            assert_eq!(fix.altitude_m, None);
            // ingest reports the same fix.
            assert_eq!(
                ingest(&bytes, &Limits::default()).unwrap().exif.gps,
                Some(fix)
            );
        }
    }
}

#[test]
fn gps_altitude_above_and_below_sea_level() {
    let mut gps = gps_entries(&LE, 31.230_4, 121.473_7);
    gps.push(LE.byte(GPS_ALT_REF, 0));
    gps.push(LE.rationals(GPS_ALT, &[(435, 10)]));
    let fix = read_exif(&gps_photo(&LE, gps)).gps.unwrap();
    assert_eq!(fix.altitude_m, Some(43.5));

    let mut gps = gps_entries(&LE, 31.230_4, 121.473_7);
    gps.push(LE.byte(GPS_ALT_REF, 1));
    gps.push(LE.rationals(GPS_ALT, &[(12, 1)]));
    assert_eq!(
        read_exif(&gps_photo(&LE, gps)).gps.unwrap().altitude_m,
        Some(-12.0)
    );
}

#[test]
fn malformed_gps_gives_no_fix_but_keeps_the_rest() {
    let t = &LE;
    let lat = dms(30.0);
    let lon = dms(120.0);
    let cases: Vec<(&str, Vec<Entry>)> = vec![
        (
            "missing latitude ref",
            vec![
                t.rationals(GPS_LAT, &lat),
                t.ascii(GPS_LON_REF, "E"),
                t.rationals(GPS_LON, &lon),
            ],
        ),
        (
            "bogus ref letter",
            vec![
                t.ascii(GPS_LAT_REF, "Q"),
                t.rationals(GPS_LAT, &lat),
                t.ascii(GPS_LON_REF, "E"),
                t.rationals(GPS_LON, &lon),
            ],
        ),
        (
            "zero denominator",
            vec![
                t.ascii(GPS_LAT_REF, "N"),
                t.rationals(GPS_LAT, &[(30, 0), (0, 1), (0, 1)]),
                t.ascii(GPS_LON_REF, "E"),
                t.rationals(GPS_LON, &lon),
            ],
        ),
        (
            "latitude beyond the pole",
            vec![
                t.ascii(GPS_LAT_REF, "N"),
                t.rationals(GPS_LAT, &[(95, 1), (0, 1), (0, 1)]),
                t.ascii(GPS_LON_REF, "E"),
                t.rationals(GPS_LON, &lon),
            ],
        ),
        (
            "minutes out of range",
            vec![
                t.ascii(GPS_LAT_REF, "N"),
                t.rationals(GPS_LAT, &[(30, 1), (75, 1), (0, 1)]),
                t.ascii(GPS_LON_REF, "E"),
                t.rationals(GPS_LON, &lon),
            ],
        ),
        (
            "latitude written as text",
            vec![
                t.ascii(GPS_LAT_REF, "N"),
                t.ascii(GPS_LAT, "30.5"),
                t.ascii(GPS_LON_REF, "E"),
                t.rationals(GPS_LON, &lon),
            ],
        ),
        (
            "longitude missing",
            vec![t.ascii(GPS_LAT_REF, "N"), t.rationals(GPS_LAT, &lat)],
        ),
        (
            "null island placeholder",
            vec![
                t.ascii(GPS_LAT_REF, "N"),
                t.rationals(GPS_LAT, &[(0, 1), (0, 1), (0, 1)]),
                t.ascii(GPS_LON_REF, "E"),
                t.rationals(GPS_LON, &[(0, 1), (0, 1), (0, 1)]),
            ],
        ),
    ];
    for (name, gps) in cases {
        let tiff = t.build(
            vec![t.short(TAG_ORIENTATION, 3)],
            Some(vec![t.ascii(TAG_DATETIME_ORIGINAL, "2024:05:01 09:30:15")]),
            Some(gps),
        );
        let bytes = with_exif_jpeg(&jpeg(&quadrants(64, 48), 90), &tiff);
        let out = ingest(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out.exif.gps, None, "{name}");
        assert_eq!(out.exif.orientation, 3, "{name}");
        assert_eq!(
            out.exif.taken_at.as_deref(),
            Some("2024-05-01T09:30:15"),
            "{name}"
        );
    }
}

#[test]
fn gps_ifd_pointer_out_of_bounds_is_tolerated() {
    let t = &LE;
    let tiff = t.build(
        vec![t.short(TAG_ORIENTATION, 3), t.long(0x8825, 0xFFFF_FF00)],
        None,
        None,
    );
    let bytes = with_exif_jpeg(&jpeg(&quadrants(64, 48), 90), &tiff);
    let out = ingest(&bytes, &Limits::default()).unwrap();
    assert_eq!(out.exif.gps, None);
    assert_eq!(out.exif.orientation, 3);

    // GPS IFD that points back at IFD0 (a loop): still no panic, no hang.
    let tiff = t.build(
        vec![t.short(TAG_ORIENTATION, 1), t.long(0x8825, 8)],
        None,
        None,
    );
    let bytes = with_exif_jpeg(&jpeg(&quadrants(64, 48), 90), &tiff);
    assert_eq!(ingest(&bytes, &Limits::default()).unwrap().exif.gps, None);
}

#[test]
fn capture_time_with_offset_and_subseconds() {
    let t = &LE;
    let photo = |exif: Vec<Entry>| {
        let tiff = t.build(vec![], Some(exif), None);
        with_exif_jpeg(&jpeg(&quadrants(32, 32), 90), &tiff)
    };
    let info = read_exif(&photo(vec![
        t.ascii(TAG_DATETIME_ORIGINAL, "2024:05:01 09:30:15"),
        t.ascii(TAG_OFFSET_TIME_ORIGINAL, "+08:00"),
    ]));
    assert_eq!(info.taken_at.as_deref(), Some("2024-05-01T09:30:15+08:00"));

    let info = read_exif(&photo(vec![
        t.ascii(TAG_DATETIME_ORIGINAL, "2023:12:31 23:59:59"),
        t.ascii(TAG_OFFSET_TIME_ORIGINAL, "-05:30"),
        t.ascii(TAG_SUBSEC_ORIGINAL, "120"),
    ]));
    assert_eq!(
        info.taken_at.as_deref(),
        Some("2023-12-31T23:59:59.12-05:30")
    );

    let info = read_exif(&photo(vec![
        t.ascii(TAG_DATETIME_ORIGINAL, "2024:05:01 09:30:15"),
    ]));
    assert_eq!(info.taken_at.as_deref(), Some("2024-05-01T09:30:15"));

    // Placeholders and garbage are "unknown", not errors.
    for bad in [
        "    :  :     :  :  ",
        "0000:00:00 00:00:00",
        "2024:13:01 09:30:15",
        "yesterday",
        "2024-05-01 09:30:15",
    ] {
        let info = read_exif(&photo(vec![t.ascii(TAG_DATETIME_ORIGINAL, bad)]));
        assert_eq!(info.taken_at, None, "{bad:?}");
    }
    // A broken offset drops just the offset.
    let info = read_exif(&photo(vec![
        t.ascii(TAG_DATETIME_ORIGINAL, "2024:05:01 09:30:15"),
        t.ascii(TAG_OFFSET_TIME_ORIGINAL, "   :  "),
    ]));
    assert_eq!(info.taken_at.as_deref(), Some("2024-05-01T09:30:15"));
}

#[test]
fn huge_exif_block_is_read_and_stripped() {
    // ~60 KB APP1: a giant maker note, as some phones write, with the useful tags around it.
    let t = &LE;
    let maker_note: Vec<u8> = (0..60_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let tiff = t.build(
        vec![t.short(TAG_ORIENTATION, 3), t.ascii(TAG_MAKE, "FieldCam")],
        Some(vec![
            t.ascii(TAG_DATETIME_ORIGINAL, "2024:05:01 09:30:15"),
            t.ascii(TAG_OFFSET_TIME_ORIGINAL, "+08:00"),
            t.undefined(TAG_MAKER_NOTE, maker_note),
        ]),
        Some(gps_entries(t, 22.543_1, 114.057_9)),
    );
    assert!(tiff.len() > 60_000);
    let upright = quadrants(800, 600);
    let bytes = with_exif_jpeg(&jpeg(&stored_for(&upright, 3), 92), &tiff);
    let out = ingest(&bytes, &Limits::default()).unwrap();
    assert_eq!(out.exif.orientation, 3);
    assert_eq!(
        out.exif.taken_at.as_deref(),
        Some("2024-05-01T09:30:15+08:00")
    );
    let fix = out.exif.gps.unwrap();
    assert!((fix.lat - 22.543_1).abs() < 1e-6 && (fix.lon - 114.057_9).abs() < 1e-6);
    assert_upright_quadrants(&decode(&out.display));
    for output in [&out.display, &out.thumbnail] {
        assert!(
            !jpeg_markers(output).contains(&0xE1),
            "output has an APP1 segment"
        );
        assert!(
            output.windows(6).all(|w| w != b"Exif\0\0"),
            "output contains an Exif header"
        );
        assert!(
            output.windows(8).all(|w| w != b"FieldCam"),
            "output leaks the camera make"
        );
        assert_eq!(read_exif(output).gps, None);
    }
}

#[test]
fn exif_info_serialises_for_the_api() {
    let info = fieldcheck_photo::ExifInfo {
        gps: Some(GpsFix {
            lat: 39.9,
            lon: 116.4,
            altitude_m: None,
        }),
        taken_at: Some("2024-05-01T09:30:15+08:00".into()),
        orientation: 6,
    };
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "gps": {"lat": 39.9, "lon": 116.4, "altitude_m": null},
            "taken_at": "2024-05-01T09:30:15+08:00",
            "orientation": 6
        })
    );
}

#[test]
fn read_exif_never_fails_on_junk() {
    for junk in [
        &b""[..],
        b"not an image",
        b"\xff\xd8\xff\xe1\xff\xffExif\0\0II*\0",
        b"\x89PNG\r\n\x1a\n\0\0\xff\xffeXIf",
    ] {
        let info = read_exif(junk);
        assert_eq!(info, fieldcheck_photo::ExifInfo::default());
    }
}
