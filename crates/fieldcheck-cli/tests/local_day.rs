//! The CLI reads and shows times in the city's calendar zone (not a fixed UTC+8, not this
//! machine's zone): a city five hours behind UTC, late in its evening, when it is already the
//! next day in UTC+8. A bare date typed as a deadline or an extension is the close of
//! business of that day there.

mod common;

use common::{Device, data};
use serde_json::Value;

/// The demo city with its calendar moved to UTC−5, the clock at 21:00 there on Monday
/// 2026-11-23 (02:00 UTC on the 24th; 10:00 on the 24th in UTC+8), this machine in UTC+8.
fn west() -> Device {
    let d = Device::new()
        .pinned_at("2026-11-24T02:00:00Z")
        .env("TZ", "Asia/Shanghai");
    d.import_demo(&["districts", "units", "points", "users"]);
    let mut cal: Value =
        serde_json::from_str(&std::fs::read_to_string(data("demo/calendar.json")).unwrap())
            .unwrap();
    cal["utc_offset_minutes"] = (-300).into();
    let file = d.dir().join("calendar.json");
    std::fs::write(&file, cal.to_string()).unwrap();
    d.ok(&["import", file.to_str().unwrap(), "--kind", "calendar"]);
    d
}

#[test]
fn times_are_read_and_shown_in_the_calendar_zone() {
    let d = west();
    let p = d.json(&[
        "--as",
        "usr-insp-1",
        "problem",
        "add",
        "--category",
        "SR-02",
        "--point",
        "p-009",
        "--description",
        "菜市场门口暴露垃圾",
    ]);
    let code = p["code"].as_str().unwrap().to_owned();
    assert_eq!(p["reported_at"], "2026-11-24T02:00:00Z");
    // The code carries the city's day (the 23rd), not UTC+8's (the 24th).
    assert!(code.contains("-20261123-"), "{code}");

    // A bare date as a deadline: 17:30 on that day in the city.
    let admin = ["--as", "usr-admin-1"];
    d.json(&[admin[0], admin[1], "problem", "file", &code]);
    let p = d.json(&[
        admin[0],
        admin[1],
        "problem",
        "dispatch",
        &code,
        "--unit",
        "u-hwc",
        "--deadline",
        "2026-11-30",
    ]);
    assert_eq!(p["deadline"], "2026-11-30T22:30:00Z");
    let handler = ["--as", "usr-hdl-5"];
    d.json(&[handler[0], handler[1], "problem", "accept", &code]);
    // A bare date as an extension: the same rule, applied by the core.
    let p = d.json(&[
        handler[0],
        handler[1],
        "problem",
        "extend",
        &code,
        "--until",
        "2026-12-04",
        "--reason",
        "需协调环卫车辆",
    ]);
    assert_eq!(p["extension"]["until"], "2026-12-04T22:30:00Z");
    // A date and time is local to the city too.
    let p = d.json(&[
        admin[0],
        admin[1],
        "problem",
        "decide-extension",
        &code,
        "--deny",
        "--note",
        "理由不充分",
    ]);
    assert_eq!(p["deadline"], "2026-11-30T22:30:00Z");
    let p = d.json(&[
        handler[0],
        handler[1],
        "problem",
        "extend",
        &code,
        "--until",
        "2026-12-04 09:00",
        "--reason",
        "需协调环卫车辆",
    ]);
    assert_eq!(p["extension"]["until"], "2026-12-04T14:00:00Z");

    // Shown as the city reads them, not in UTC+8 (which would say 10:00 on the 24th).
    let human = d.ok(&["--lang", "en", "show", &code]);
    for local in ["2026-11-23 21:00", "2026-11-30 17:30", "2026-12-04 09:00"] {
        assert!(human.contains(local), "{local} missing in:\n{human}");
    }
    assert!(!human.contains("2026-11-24 10:00"), "{human}");
    let list = d.ok(&["--lang", "en", "list"]);
    assert!(list.contains("2026-11-23 21:00"), "{list}");

    // Days typed in a filter are the city's days: reported on the 23rd there.
    let on = |from: &str, to: &str| -> u64 {
        d.json(&["list", "--from", from, "--to", to])["total"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(on("2026-11-23", "2026-11-23"), 1);
    assert_eq!(on("2026-11-24", "2026-11-24"), 0);
}
