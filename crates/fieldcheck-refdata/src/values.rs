//! Cell values: numbers, booleans, lists and the enums, each accepting what an office
//! spreadsheet is likely to hold (codes, Chinese and English labels) and saying what it
//! expected when it fails.

use chrono::{NaiveDate, NaiveTime};
use fieldcheck_domain::category::DeadlineUnit;
use fieldcheck_domain::checklist::Comparison;
use fieldcheck_domain::i18n::Lang;
use fieldcheck_domain::reference::{DistrictLevel, LatLon, PointType, UnitKind};
use fieldcheck_domain::role::Role;

use crate::table::truncate;

/// Finds the entry one of whose names equals `s` (ASCII case ignored); the error lists the
/// first two names of every entry, which are the code and the Chinese label.
fn choose<T: Copy>(what: &str, s: &str, all: &[(T, &[&str])]) -> Result<T, String> {
    let s = s.trim();
    all.iter()
        .find(|(_, names)| names.iter().any(|n| n.eq_ignore_ascii_case(s)))
        .map(|(v, _)| *v)
        .ok_or_else(|| {
            let expected = all
                .iter()
                .map(|(_, names)| names.iter().take(2).copied().collect::<Vec<_>>().join("/"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "unknown {what} \"{}\" (expected one of {expected})",
                truncate(s)
            )
        })
}

pub(crate) fn point_type(s: &str) -> Result<PointType, String> {
    PointType::parse(s).ok_or_else(|| {
        let expected = PointType::ALL
            .iter()
            .map(|t| format!("{}/{}", t.as_str(), t.label(Lang::Zh)))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "unknown point type \"{}\" (expected one of {expected})",
            truncate(s)
        )
    })
}

pub(crate) fn unit_kind(s: &str) -> Result<UnitKind, String> {
    // UnitKind::parse knows only the codes; offices write the Chinese names.
    let all: Vec<(UnitKind, Vec<&str>)> = UnitKind::ALL
        .iter()
        .map(|k| (*k, vec![k.as_str(), k.label(Lang::Zh), k.label(Lang::En)]))
        .collect();
    let refs: Vec<(UnitKind, &[&str])> = all.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    choose("unit kind", s, &refs)
}

pub(crate) fn role(s: &str) -> Result<Role, String> {
    let extra = |r: Role| -> &'static [&'static str] {
        match r {
            Role::Admin => &["管理员", "文明办", "创城办管理员"],
            Role::Inspector => &["督查员", "检查员"],
            Role::UnitHandler => &["单位经办人", "责任单位经办人", "handler"],
            Role::Volunteer => &["小红帽"],
        }
    };
    let all: Vec<(Role, Vec<&str>)> = Role::ALL
        .iter()
        .map(|r| {
            let mut names = vec![r.as_str(), r.label(Lang::Zh), r.label(Lang::En)];
            names.extend_from_slice(extra(*r));
            (*r, names)
        })
        .collect();
    let refs: Vec<(Role, &[&str])> = all.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    choose("role", s, &refs)
}

pub(crate) fn district_level(s: &str) -> Result<DistrictLevel, String> {
    choose(
        "district level",
        s,
        &[
            (
                DistrictLevel::District,
                &["district", "区", "县", "区县", "区/县"],
            ),
            (
                DistrictLevel::Street,
                &["street", "街道", "镇", "乡镇", "街道/镇"],
            ),
            (
                DistrictLevel::Community,
                &["community", "社区", "村", "社区/村"],
            ),
        ],
    )
}

pub(crate) fn district_level_str(l: DistrictLevel) -> &'static str {
    match l {
        DistrictLevel::District => "district",
        DistrictLevel::Street => "street",
        DistrictLevel::Community => "community",
    }
}

pub(crate) fn deadline_unit(s: &str) -> Result<DeadlineUnit, String> {
    choose(
        "deadline unit",
        s,
        &[
            (
                DeadlineUnit::WorkingHours,
                &["working_hours", "工作小时", "工作时"],
            ),
            (DeadlineUnit::WorkingDays, &["working_days", "工作日"]),
            (
                DeadlineUnit::NaturalHours,
                &["natural_hours", "自然小时", "小时"],
            ),
        ],
    )
}

pub(crate) fn deadline_unit_str(u: DeadlineUnit) -> &'static str {
    match u {
        DeadlineUnit::WorkingHours => "working_hours",
        DeadlineUnit::WorkingDays => "working_days",
        DeadlineUnit::NaturalHours => "natural_hours",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKindCode {
    PassFail,
    Count,
    Measured,
}

pub(crate) fn item_kind(s: &str) -> Result<ItemKindCode, String> {
    choose(
        "item kind",
        s,
        &[
            (
                ItemKindCode::PassFail,
                &["pass_fail", "是否", "合格/不合格"],
            ),
            (ItemKindCode::Count, &["count", "计数扣分", "计数"]),
            (ItemKindCode::Measured, &["measured", "测量值", "测量"]),
        ],
    )
}

pub(crate) fn item_kind_str(k: ItemKindCode) -> &'static str {
    match k {
        ItemKindCode::PassFail => "pass_fail",
        ItemKindCode::Count => "count",
        ItemKindCode::Measured => "measured",
    }
}

pub(crate) fn comparison(s: &str) -> Result<Comparison, String> {
    choose(
        "comparison",
        s,
        &[
            (
                Comparison::AtLeast,
                &["at_least", "不少于", ">=", "≥", "至少"],
            ),
            (
                Comparison::AtMost,
                &["at_most", "不超过", "<=", "≤", "至多"],
            ),
        ],
    )
}

pub(crate) fn comparison_str(c: Comparison) -> &'static str {
    match c {
        Comparison::AtLeast => "at_least",
        Comparison::AtMost => "at_most",
    }
}

pub(crate) fn boolean(s: &str) -> Result<bool, String> {
    choose(
        "yes/no value",
        s,
        &[
            (true, &["1", "是", "true", "yes", "y", "启用"]),
            (false, &["0", "否", "false", "no", "n", "停用"]),
        ],
    )
}

pub(crate) fn number(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(n),
        _ => Err(format!("expected a number, found \"{}\"", truncate(s))),
    }
}

pub(crate) fn whole(s: &str) -> Result<u32, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u32>() {
        return Ok(n);
    }
    // Spreadsheets hand over "3.0" for a number cell formatted with decimals.
    match s.parse::<f64>() {
        Ok(f) if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f) => Ok(f as u32),
        _ => Err(format!(
            "expected a whole number from 0 to {}, found \"{}\"",
            u32::MAX,
            truncate(s)
        )),
    }
}

pub(crate) fn integer(s: &str) -> Result<i32, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        return Ok(n);
    }
    match s.parse::<f64>() {
        Ok(f) if f.fract() == 0.0 && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&f) => {
            Ok(f as i32)
        }
        _ => Err(format!(
            "expected a whole number, found \"{}\"",
            truncate(s)
        )),
    }
}

const LIST_SEPARATORS: [char; 5] = [';', '；', ',', '，', '、'];

/// Ids separated by `;`, `；`, `,`, `，` or `、`: whatever the person typing had at hand.
pub(crate) fn list(s: &str) -> Vec<String> {
    s.split(LIST_SEPARATORS)
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) fn join_list(items: &[String]) -> String {
    items.join(";")
}

pub(crate) fn lat_lon(lat: f64, lon: f64) -> Result<LatLon, String> {
    let p = LatLon { lat, lon };
    if p.is_valid() {
        Ok(p)
    } else {
        Err(format!(
            "{lat},{lon} is not a WGS-84 coordinate (latitude -90..90, longitude -180..180)"
        ))
    }
}

/// A line as `lat,lon;lat,lon;…` (full-width separators accepted too).
pub(crate) fn line(s: &str) -> Result<Vec<LatLon>, String> {
    let mut out = Vec::new();
    for (i, pair) in s
        .split([';', '；', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .enumerate()
    {
        let parts: Vec<&str> = pair
            .split([',', '，', ' '])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let [lat, lon] = parts.as_slice() else {
            return Err(format!(
                "vertex {} \"{}\" is not \"lat,lon\" (a line is written lat,lon;lat,lon;…)",
                i + 1,
                truncate(pair)
            ));
        };
        let lat = number(lat).map_err(|e| format!("vertex {}: latitude {e}", i + 1))?;
        let lon = number(lon).map_err(|e| format!("vertex {}: longitude {e}", i + 1))?;
        out.push(lat_lon(lat, lon).map_err(|e| format!("vertex {}: {e}", i + 1))?);
    }
    Ok(out)
}

pub(crate) fn line_str(line: &[LatLon]) -> String {
    line.iter()
        .map(|p| format!("{},{}", p.lat, p.lon))
        .collect::<Vec<_>>()
        .join(";")
}

pub(crate) fn date(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
        .ok_or_else(|| format!("expected a date like 2026-10-01, found \"{}\"", truncate(s)))
}

fn time(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    NaiveTime::parse_from_str(s, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
        .ok()
}

pub(crate) fn time_str(t: NaiveTime) -> String {
    if t.format("%S").to_string() == "00" {
        t.format("%H:%M").to_string()
    } else {
        t.format("%H:%M:%S").to_string()
    }
}

/// A working period such as `08:30-12:00`.
pub(crate) fn period(s: &str) -> Result<(NaiveTime, NaiveTime), String> {
    let bad = || {
        format!(
            "expected a working period like 08:30-12:00, found \"{}\"",
            truncate(s)
        )
    };
    let (a, b) = s.split_once(['-', '–', '~', '～', '至']).ok_or_else(bad)?;
    match (time(a), time(b)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(bad()),
    }
}

/// ISO weekday numbers, as `1,2,3,4,5` or a range `1-5`.
pub(crate) fn weekdays(s: &str) -> Result<Vec<u32>, String> {
    let bad = || {
        format!(
            "expected weekday numbers 1 (Monday) to 7 (Sunday) like 1,2,3,4,5 or 1-5, found \"{}\"",
            truncate(s)
        )
    };
    // "none" is how a calendar says it works only on listed make-up days.
    if ["none", "无"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(s.trim()))
    {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in list(s) {
        let day = |x: &str| x.trim().parse::<u32>().ok().filter(|d| (1..=7).contains(d));
        if let Some((a, b)) = part.split_once(['-', '~', '～']) {
            let (a, b) = (day(a).ok_or_else(bad)?, day(b).ok_or_else(bad)?);
            if a > b {
                return Err(bad());
            }
            out.extend(a..=b);
        } else {
            out.push(day(&part).ok_or_else(bad)?);
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CalendarRow {
    Holiday,
    Workday,
    Period,
    Weekdays,
    UtcOffset,
    PhotoStamp,
}

pub(crate) fn calendar_row(s: &str) -> Result<CalendarRow, String> {
    choose(
        "calendar row type",
        s,
        &[
            (CalendarRow::Holiday, &["holiday", "节假日", "假日", "休"]),
            (
                CalendarRow::Workday,
                &["workday", "调休上班", "补班", "上班", "班", "工作日"],
            ),
            (CalendarRow::Period, &["period", "工作时段", "时段"]),
            (
                CalendarRow::Weekdays,
                &["weekdays", "每周工作日", "工作星期"],
            ),
            (
                CalendarRow::UtcOffset,
                &["utc_offset_minutes", "时区偏移分钟", "utc_offset", "时区"],
            ),
            (
                CalendarRow::PhotoStamp,
                &["photo_stamp", "照片水印", "水印"],
            ),
        ],
    )
}

pub(crate) fn calendar_row_str(r: CalendarRow) -> &'static str {
    match r {
        CalendarRow::Holiday => "holiday",
        CalendarRow::Workday => "workday",
        CalendarRow::Period => "period",
        CalendarRow::Weekdays => "weekdays",
        CalendarRow::UtcOffset => "utc_offset_minutes",
        CalendarRow::PhotoStamp => "photo_stamp",
    }
}
