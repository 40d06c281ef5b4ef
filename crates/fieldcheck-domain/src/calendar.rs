//! Work calendar and deadline arithmetic: working hours and working days, with weekends,
//! public holidays and the weekend days that are made working days (调休).

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::category::{DeadlineRule, DeadlineUnit};
use crate::error::DomainError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WorkPeriod {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WorkCalendar {
    /// Offset of local time from UTC in minutes (China: +480).
    pub utc_offset_minutes: i32,
    /// Working periods of a working day, in local time, sorted, not overlapping.
    pub periods: Vec<WorkPeriod>,
    /// ISO weekday numbers (1 = Monday) that are normally working days.
    pub working_weekdays: Vec<u32>,
    /// Days off that would otherwise be working days (public holidays).
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
    /// Weekend days that are working days (调休).
    #[serde(default)]
    pub extra_working_days: Vec<NaiveDate>,
    /// Whether photos taken for a record carry the evidence stamp (水印: time, place,
    /// inspector, problem code) on their display copy. A city-wide setting kept with the
    /// calendar, the one city-wide block of the reference bundle; absent in bundles written
    /// before it existed, which means on.
    #[serde(default = "stamp_on")]
    pub photo_stamp: bool,
}

fn stamp_on() -> bool {
    true
}

impl Default for WorkCalendar {
    /// A typical Chinese government office: 08:30–12:00 and 14:00–17:30, Monday to Friday.
    fn default() -> Self {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
        WorkCalendar {
            utc_offset_minutes: 480,
            periods: vec![
                WorkPeriod {
                    start: t(8, 30),
                    end: t(12, 0),
                },
                WorkPeriod {
                    start: t(14, 0),
                    end: t(17, 30),
                },
            ],
            working_weekdays: vec![1, 2, 3, 4, 5],
            holidays: vec![],
            extra_working_days: vec![],
            photo_stamp: true,
        }
    }
}

impl WorkCalendar {
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.periods.is_empty() {
            return Err(DomainError::InvalidCalendar("no working periods".into()));
        }
        for w in self.periods.windows(2) {
            if w[0].end > w[1].start {
                return Err(DomainError::InvalidCalendar(
                    "working periods overlap or are not sorted".into(),
                ));
            }
        }
        if self.periods.iter().any(|p| p.start >= p.end) {
            return Err(DomainError::InvalidCalendar(
                "a working period ends before it starts".into(),
            ));
        }
        if self.working_weekdays.is_empty() && self.extra_working_days.is_empty() {
            return Err(DomainError::InvalidCalendar("no working days".into()));
        }
        if self.working_weekdays.iter().any(|d| !(1..=7).contains(d)) {
            return Err(DomainError::InvalidCalendar(
                "a weekday is a number from 1 (Monday) to 7 (Sunday)".into(),
            ));
        }
        if let Some(d) = self
            .holidays
            .iter()
            .find(|d| self.extra_working_days.contains(d))
        {
            return Err(DomainError::InvalidCalendar(format!(
                "{d} is both a holiday and a make-up working day"
            )));
        }
        if !(-720..=840).contains(&self.utc_offset_minutes) {
            return Err(DomainError::InvalidCalendar(
                "UTC offset out of range".into(),
            ));
        }
        Ok(())
    }

    /// The city's local time zone. Every "which day", "today" and "what time" a person reads
    /// or types is in this zone, never in the zone of the machine showing it.
    pub fn tz(&self) -> FixedOffset {
        FixedOffset::east_opt(self.utc_offset_minutes * 60)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"))
    }

    /// The city's calendar day an instant falls on (problem codes, "today" counts, bulletins).
    pub fn local_day(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz()).date_naive()
    }

    /// The first instant of a city calendar day.
    pub fn day_start(&self, day: NaiveDate) -> DateTime<Utc> {
        self.local(day, NaiveTime::MIN)
    }

    /// The close of business of a city calendar day (end of its last working period), which
    /// is what a date typed as a deadline or an extension means ("by the 5th").
    pub fn close_of_business(&self, day: NaiveDate) -> DateTime<Utc> {
        let close = self.periods.last().map(|p| p.end).unwrap_or(NaiveTime::MIN);
        self.local(day, close)
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.extra_working_days.contains(&d) {
            return true;
        }
        if self.holidays.contains(&d) {
            return false;
        }
        self.working_weekdays
            .contains(&d.weekday().number_from_monday())
    }

    fn local(&self, d: NaiveDate, t: NaiveTime) -> DateTime<Utc> {
        self.tz()
            .from_local_datetime(&d.and_time(t))
            .single()
            .expect("fixed offsets have no gaps")
            .with_timezone(&Utc)
    }

    /// The instant `hours` working hours after `start`. Time outside working periods does not
    /// count; a start outside them begins counting at the next period.
    pub fn add_working_hours(&self, start: DateTime<Utc>, hours: u32) -> DateTime<Utc> {
        let mut remaining = Duration::hours(i64::from(hours));
        let mut day = self.local_day(start);
        let mut cursor = start;
        // Bounded: a calendar with at least one working weekday reaches the next one in ≤ 7 days
        // plus however many holidays are listed.
        let max_days = 3660 + self.holidays.len();
        for _ in 0..max_days {
            if self.is_working_day(day) {
                for p in &self.periods {
                    let (ps, pe) = (self.local(day, p.start), self.local(day, p.end));
                    if cursor >= pe {
                        continue;
                    }
                    let from = cursor.max(ps);
                    let available = pe - from;
                    if remaining <= available {
                        return from + remaining;
                    }
                    remaining -= available;
                    cursor = pe;
                }
            }
            day = day.succ_opt().expect("date in range");
        }
        cursor + remaining
    }

    /// Close of business of the `days`-th working day after the day `start` falls on.
    pub fn add_working_days(&self, start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        let mut day = self.local_day(start);
        let mut left = days;
        let max_days = 3660 + self.holidays.len();
        for _ in 0..max_days {
            if left == 0 {
                break;
            }
            day = day.succ_opt().expect("date in range");
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        self.close_of_business(day)
    }

    pub fn deadline(&self, start: DateTime<Utc>, rule: DeadlineRule) -> DateTime<Utc> {
        match rule.unit {
            DeadlineUnit::WorkingHours => self.add_working_hours(start, rule.amount),
            DeadlineUnit::WorkingDays => self.add_working_days(start, rule.amount),
            DeadlineUnit::NaturalHours => start + Duration::hours(i64::from(rule.amount)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cn(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_calendar_says_what_does_not_hold() {
        let day = NaiveDate::from_ymd_opt(2027, 2, 7).unwrap();
        let both = WorkCalendar {
            holidays: vec![day],
            extra_working_days: vec![day],
            ..WorkCalendar::default()
        };
        let e = both.validate().unwrap_err().to_string();
        assert!(e.contains("2027-02-07"), "{e}");
        let eighth_day = WorkCalendar {
            working_weekdays: vec![1, 8],
            ..WorkCalendar::default()
        };
        assert!(eighth_day.validate().is_err());
        assert!(WorkCalendar::default().validate().is_ok());
    }

    #[test]
    fn working_hours_skip_lunch_nights_and_weekends() {
        let cal = WorkCalendar::default();
        // Monday 2026-11-23 10:00 + 4 working hours: 2h until noon, 2h from 14:00 → 16:00.
        assert_eq!(
            cal.add_working_hours(cn(2026, 11, 23, 10, 0), 4),
            cn(2026, 11, 23, 16, 0)
        );
        // Friday 16:30 + 4h: 1h Friday, then Monday 08:30 + 3h → 11:30.
        assert_eq!(
            cal.add_working_hours(cn(2026, 11, 27, 16, 30), 4),
            cn(2026, 11, 30, 11, 30)
        );
        // Reported Saturday night: counting starts Monday morning.
        assert_eq!(
            cal.add_working_hours(cn(2026, 11, 28, 22, 0), 1),
            cn(2026, 11, 30, 9, 30)
        );
        // Lunch break start counts from 14:00.
        assert_eq!(
            cal.add_working_hours(cn(2026, 11, 23, 12, 30), 1),
            cn(2026, 11, 23, 15, 0)
        );
    }

    #[test]
    fn working_days_respect_holidays_and_makeup_days() {
        let mut cal = WorkCalendar::default();
        // Monday + 3 working days → Thursday close of business.
        assert_eq!(
            cal.add_working_days(cn(2026, 11, 23, 10, 0), 3),
            cn(2026, 11, 26, 17, 30)
        );
        cal.holidays
            .push(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
        cal.extra_working_days
            .push(NaiveDate::from_ymd_opt(2026, 11, 28).unwrap());
        // Tuesday is a holiday; Saturday is a makeup working day.
        assert_eq!(
            cal.add_working_days(cn(2026, 11, 23, 10, 0), 3),
            cn(2026, 11, 27, 17, 30)
        );
        assert_eq!(
            cal.add_working_days(cn(2026, 11, 23, 10, 0), 4),
            cn(2026, 11, 28, 17, 30)
        );
        assert!(!cal.is_working_day(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()));
    }

    #[test]
    fn natural_hours_ignore_the_calendar() {
        let cal = WorkCalendar::default();
        let rule = DeadlineRule {
            amount: 2,
            unit: DeadlineUnit::NaturalHours,
        };
        assert_eq!(
            cal.deadline(cn(2026, 11, 28, 23, 0), rule),
            cn(2026, 11, 29, 1, 0)
        );
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_local_day_turns_at_local_midnight() {
        let cal = WorkCalendar::default();
        // 23:30 in Fuzhou is 15:30 UTC: still the 30th there; half an hour later the 1st.
        assert_eq!(
            cal.local_day(utc("2026-11-30T15:30:00Z")),
            day(2026, 11, 30)
        );
        assert_eq!(
            cal.local_day(utc("2026-11-30T15:59:59Z")),
            day(2026, 11, 30)
        );
        assert_eq!(cal.local_day(utc("2026-11-30T16:00:00Z")), day(2026, 12, 1));
        // Early morning in Fuzhou is still the previous day in UTC.
        assert_eq!(cal.local_day(utc("2026-11-30T20:00:00Z")), day(2026, 12, 1));
        assert_eq!(cal.day_start(day(2026, 12, 1)), utc("2026-11-30T16:00:00Z"));
        assert_eq!(cal.tz().local_minus_utc(), 8 * 3600);
    }

    #[test]
    fn another_offset_moves_the_day_and_the_close_of_business() {
        // A city five hours behind UTC, closing at 17:30 local.
        let cal = WorkCalendar {
            utc_offset_minutes: -300,
            ..WorkCalendar::default()
        };
        assert_eq!(
            cal.local_day(utc("2026-12-01T04:59:00Z")),
            day(2026, 11, 30)
        );
        assert_eq!(cal.local_day(utc("2026-12-01T05:00:00Z")), day(2026, 12, 1));
        assert_eq!(cal.day_start(day(2026, 12, 1)), utc("2026-12-01T05:00:00Z"));
        assert_eq!(
            cal.close_of_business(day(2026, 12, 5)),
            utc("2026-12-05T22:30:00Z")
        );
        // Half-hour offsets too (India: +05:30).
        let cal = WorkCalendar {
            utc_offset_minutes: 330,
            ..WorkCalendar::default()
        };
        assert_eq!(
            cal.local_day(utc("2026-11-30T18:29:00Z")),
            day(2026, 11, 30)
        );
        assert_eq!(cal.local_day(utc("2026-11-30T18:30:00Z")), day(2026, 12, 1));
    }

    #[test]
    fn close_of_business_is_the_end_of_the_last_working_period() {
        let mut cal = WorkCalendar::default();
        // "By the 5th" in Fuzhou: 17:30 there, 09:30 UTC, on any day of the week.
        assert_eq!(
            cal.close_of_business(day(2026, 12, 5)),
            utc("2026-12-05T09:30:00Z")
        );
        assert_eq!(
            cal.close_of_business(day(2026, 12, 5)),
            cn(2026, 12, 5, 17, 30)
        );
        cal.periods.push(WorkPeriod {
            start: NaiveTime::from_hms_opt(19, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
        });
        assert_eq!(
            cal.close_of_business(day(2026, 12, 5)),
            cn(2026, 12, 5, 21, 0)
        );
        // The close of business of a day falls on that day.
        assert_eq!(
            cal.local_day(cal.close_of_business(day(2026, 12, 5))),
            day(2026, 12, 5)
        );
    }

    #[test]
    fn an_offset_out_of_range_falls_back_to_utc_rather_than_panicking() {
        // `validate` refuses such a calendar on import; reading one never panics.
        let cal = WorkCalendar {
            utc_offset_minutes: 100_000,
            ..WorkCalendar::default()
        };
        assert!(cal.validate().is_err());
        assert_eq!(cal.tz().local_minus_utc(), 0);
        assert_eq!(
            cal.local_day(utc("2026-11-30T23:59:00Z")),
            day(2026, 11, 30)
        );
    }

    #[test]
    fn bad_calendars_are_refused() {
        let mut cal = WorkCalendar::default();
        cal.periods.reverse();
        assert!(cal.validate().is_err());
        let mut cal = WorkCalendar::default();
        cal.periods.clear();
        assert!(cal.validate().is_err());
        assert!(WorkCalendar::default().validate().is_ok());
    }
}
