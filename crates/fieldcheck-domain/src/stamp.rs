//! What the evidence stamp (水印) on a photo says: the lines a watermark camera would burn
//! into the picture, in order. Pure text; `fieldcheck-photo` draws it, the device core decides
//! whether to (the city's `WorkCalendar::photo_stamp`) and gathers the facts.

use chrono::{DateTime, Utc};

use crate::calendar::WorkCalendar;
use crate::reference::LatLon;

/// The facts a stamp shows, as known on the device when the photo is attached to a record.
#[derive(Debug, Clone, PartialEq)]
pub struct StampFacts<'a> {
    /// When the photo was taken (came into the device).
    pub taken_at: DateTime<Utc>,
    /// The inspection point's name, if the record is at one.
    pub point_name: Option<&'a str>,
    /// The street address, used when there is no point name.
    pub address: &'a str,
    /// WGS-84 position of the record.
    pub location: Option<LatLon>,
    /// The person attaching the photo (name, or id when the name is unknown).
    pub inspector: &'a str,
    /// The problem's code (`GL-20261123-K7Q2-0007`); none for an inspection's own photos.
    pub problem_code: Option<&'a str>,
}

/// Longest place text on a stamp, in characters: a stamp is a few lines at the bottom of a
/// picture, not a document; the renderer also shortens what does not fit the width.
const PLACE_CHARS: usize = 60;

/// The stamp's lines, top to bottom: time (the city's local time, whatever the phone's zone),
/// place (point name, else address), coordinates (6 decimals, ≈ 0.1 m), inspector, problem
/// code. A line whose fact is unknown is left out rather than printed empty.
pub fn stamp_lines(facts: &StampFacts<'_>, calendar: &WorkCalendar) -> Vec<String> {
    let mut lines = Vec::with_capacity(5);
    let local = facts.taken_at.with_timezone(&calendar.tz());
    lines.push(format!("时间 {}", local.format("%Y-%m-%d %H:%M:%S")));
    let place = facts
        .point_name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| facts.address.trim());
    if !place.is_empty() {
        lines.push(format!("地点 {}", shorten(place, PLACE_CHARS)));
    }
    if let Some(LatLon { lat, lon }) = facts.location {
        lines.push(format!("坐标 {lat:.6}, {lon:.6}"));
    }
    let inspector = facts.inspector.trim();
    if !inspector.is_empty() {
        lines.push(format!("检查员 {}", shorten(inspector, PLACE_CHARS)));
    }
    if let Some(code) = facts.problem_code.map(str::trim).filter(|c| !c.is_empty()) {
        lines.push(format!("问题编号 {code}"));
    }
    lines
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> StampFacts<'static> {
        StampFacts {
            taken_at: "2026-12-03T07:05:09Z".parse().unwrap(),
            point_name: Some("人民路农贸市场"),
            address: "人民路 88 号",
            location: Some(LatLon {
                lat: 30.274_084_4,
                lon: 120.155_070_1,
            }),
            inspector: "张伟",
            problem_code: Some("GL-20261203-K7Q2-0007"),
        }
    }

    #[test]
    fn a_calendar_written_before_the_switch_existed_stamps() {
        let old = r#"{"utc_offset_minutes":480,"periods":[],"working_weekdays":[1]}"#;
        let cal: WorkCalendar = serde_json::from_str(old).unwrap();
        assert!(cal.photo_stamp);
        let off: WorkCalendar = serde_json::from_str(
            r#"{"utc_offset_minutes":480,"periods":[],"working_weekdays":[1],"photo_stamp":false}"#,
        )
        .unwrap();
        assert!(!off.photo_stamp);
        assert!(WorkCalendar::default().photo_stamp);
    }

    #[test]
    fn lines_in_order_in_city_time() {
        assert_eq!(
            stamp_lines(&facts(), &WorkCalendar::default()),
            [
                "时间 2026-12-03 15:05:09",
                "地点 人民路农贸市场",
                "坐标 30.274084, 120.155070",
                "检查员 张伟",
                "问题编号 GL-20261203-K7Q2-0007",
            ]
        );
        // The city's zone decides the time shown, not the phone's.
        let west = WorkCalendar {
            utc_offset_minutes: -300,
            ..WorkCalendar::default()
        };
        assert_eq!(stamp_lines(&facts(), &west)[0], "时间 2026-12-03 02:05:09");
    }

    #[test]
    fn address_stands_in_for_a_missing_point_and_unknowns_are_left_out() {
        let f = StampFacts {
            point_name: None,
            location: None,
            problem_code: None,
            ..facts()
        };
        assert_eq!(
            stamp_lines(&f, &WorkCalendar::default()),
            [
                "时间 2026-12-03 15:05:09",
                "地点 人民路 88 号",
                "检查员 张伟"
            ]
        );
        let long = "很".repeat(100);
        let f = StampFacts {
            point_name: Some(&long),
            ..facts()
        };
        let place = &stamp_lines(&f, &WorkCalendar::default())[1];
        assert_eq!(place.chars().count(), "地点 ".chars().count() + PLACE_CHARS);
        assert!(place.ends_with('…'));
    }
}
