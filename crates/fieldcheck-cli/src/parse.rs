//! Parsing of the small value formats people type: coordinates, dates, enum names.

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use fieldcheck_core::domain::calendar::WorkCalendar;
use fieldcheck_core::domain::{Location, LocationSource, ProblemStatus, Severity};

use crate::args::Place;

pub fn latlon(s: &str) -> Result<(f64, f64, Option<f64>)> {
    let parts: Vec<&str> = s.split([',', '，']).map(str::trim).collect();
    if !(2..=3).contains(&parts.len()) {
        bail!("expected LAT,LON[,ACCURACY] but got {s:?}");
    }
    let num = |p: &str, what: &str| -> Result<f64> {
        p.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| anyhow!("{what} {p:?} is not a number"))
    };
    let lat = num(parts[0], "latitude")?;
    let lon = num(parts[1], "longitude")?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        bail!("{lat},{lon} is outside WGS-84 range (latitude first, then longitude)");
    }
    let acc = parts.get(2).map(|a| num(a, "accuracy")).transpose()?;
    if acc.is_some_and(|a| a < 0.0) {
        bail!("accuracy cannot be negative");
    }
    Ok((lat, lon, acc))
}

pub fn place(p: &Place) -> Result<Option<Location>> {
    let (text, source) = match (&p.gps, &p.pin) {
        (Some(g), _) => (g, LocationSource::Gps),
        (None, Some(m)) => (m, LocationSource::Map),
        (None, None) => return Ok(None),
    };
    let (lat, lon, accuracy_m) = latlon(text)?;
    Ok(Some(Location {
        lat,
        lon,
        accuracy_m,
        source,
    }))
}

/// RFC 3339, or a local date-time / date in the city's calendar zone. A bare date means the
/// close of business of that day there ([`WorkCalendar::close_of_business`]): "by the 5th".
pub fn instant(s: &str, cal: &WorkCalendar) -> Result<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d.with_timezone(&Utc));
    }
    if let Some(d) = date(s) {
        return Ok(cal.close_of_business(d));
    }
    let local = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            anyhow!(
                "cannot read {s:?} as a time (use 2026-11-30, \"2026-11-30 17:30\" or RFC 3339)"
            )
        })?;
    Ok(cal
        .tz()
        .from_local_datetime(&local)
        .single()
        .context("ambiguous local time")?
        .with_timezone(&Utc))
}

/// A bare date (`YYYY-MM-DD`), which the core turns into an instant by the calendar.
pub fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// The first instant of a day in the city's calendar zone.
pub fn day_start(s: &str, cal: &WorkCalendar) -> Result<DateTime<Utc>> {
    let d = date(s).ok_or_else(|| anyhow!("cannot read {s:?} as a date (YYYY-MM-DD)"))?;
    Ok(cal.day_start(d))
}

pub fn status(s: &str) -> Result<ProblemStatus> {
    ProblemStatus::parse(s).ok_or_else(|| {
        anyhow!(
            "unknown status {s:?} (expected one of {})",
            ProblemStatus::ALL.map(|s| s.as_str()).join(", ")
        )
    })
}

pub fn severity(s: &str) -> Result<Severity> {
    Severity::parse(s).ok_or_else(|| {
        anyhow!(
            "unknown severity {s:?} (expected one of {})",
            Severity::ALL.map(|s| s.as_str()).join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_and_times() {
        assert_eq!(latlon("26.08, 119.3,8").unwrap(), (26.08, 119.3, Some(8.0)));
        // Longitude first (a common slip) is out of range for latitude and is refused.
        assert!(latlon("119.3,26.08").is_err());
        assert!(latlon("200,26").is_err());
        assert!(latlon("abc,1").is_err());
        let cal = WorkCalendar::default();
        let t = instant("2026-11-30 17:30", &cal).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-30T09:30:00+00:00");
        assert!(instant("next tuesday", &cal).is_err());
    }

    #[test]
    fn dates_are_read_in_the_calendar_zone() {
        let west = WorkCalendar {
            utc_offset_minutes: -300,
            ..WorkCalendar::default()
        };
        // A bare date is the close of business there (17:30), not 23:59:59.
        assert_eq!(
            instant("2026-12-05", &WorkCalendar::default())
                .unwrap()
                .to_rfc3339(),
            "2026-12-05T09:30:00+00:00"
        );
        assert_eq!(
            instant("2026-12-05", &west).unwrap().to_rfc3339(),
            "2026-12-05T22:30:00+00:00"
        );
        assert_eq!(
            instant("2026-12-05 08:00", &west).unwrap().to_rfc3339(),
            "2026-12-05T13:00:00+00:00"
        );
        // RFC 3339 carries its own offset.
        assert_eq!(
            instant("2026-12-05T08:00:00+08:00", &west)
                .unwrap()
                .to_rfc3339(),
            "2026-12-05T00:00:00+00:00"
        );
        assert_eq!(
            day_start("2026-12-05", &west).unwrap().to_rfc3339(),
            "2026-12-05T05:00:00+00:00"
        );
        assert!(day_start("5/12/2026", &west).is_err());
    }
}
