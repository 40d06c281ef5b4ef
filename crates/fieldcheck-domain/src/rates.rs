//! The responsible units' rates — 整改率 (rectification rate), 按期率 (on-time rate), 返工率
//! (rework rate) — and the order the ranking lists units in.
//!
//! A device counts them in SQL over its ledger for speed ([`sql`] gives the text, pinned
//! against [`UnitTally::add`] by the device store's tests); the server and the console count
//! the same from folded problems with [`UnitTally::add`] or [`tally_by_unit`].
//!
//! **Over a period** (the console's 考核排名: a week, month, quarter or any run of days) a
//! unit is judged on the problems it *received* in the period ([`received_in`]: dispatched to
//! it then — the last dispatch counts, so a problem re-dispatched to another unit moves to
//! that unit and that time), counted as of now with [`UnitTally::add`]; besides, how many of
//! those were *due* ([`is_due`]) by the period's end (by now while it runs). A cohort never
//! changes period, so last quarter's figures only improve as its problems get done, and a
//! problem dispatched near a period's end is judged with that period.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::problem::{Problem, ProblemStatus};

/// Problems that never were, or no longer are, a unit's task: rejected by the office, or
/// returned by the unit as not theirs. They count against no unit.
pub const NOT_ASSIGNED: [ProblemStatus; 2] = [ProblemStatus::Rejected, ProblemStatus::Returned];

/// Reports the office has not (yet) accepted as a case: waiting, or rejected. Everything else
/// was filed (立案) at some point, also a problem a unit returned.
pub const NOT_FILED: [ProblemStatus; 2] = [ProblemStatus::Reported, ProblemStatus::Rejected];

/// 立案: the office accepted the report as a case ([`NOT_FILED`]).
pub fn is_filed(status: ProblemStatus) -> bool {
    !NOT_FILED.contains(&status)
}

/// The states that count as rectified: the unit reported the work done, and it may since have
/// been verified and closed. A reopened problem is not rectified (again).
pub const RECTIFIED: [ProblemStatus; 3] = [
    ProblemStatus::Rectified,
    ProblemStatus::Verified,
    ProblemStatus::Closed,
];

/// One unit's counts over the problems assigned to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UnitTally {
    /// Problems assigned to the unit ([`ranked_unit`]).
    pub assigned: u64,
    /// Of those, rectified, verified or closed ([`RECTIFIED`]).
    pub rectified: u64,
    /// Of those, closed.
    pub closed: u64,
    /// Closed, and rectified no later than the deadline (in whole milliseconds).
    pub closed_on_time: u64,
    /// Waiting for the unit past the deadline ([`Problem::is_overdue`]).
    pub overdue_open: u64,
    /// Sent back for rework at least once: the inspector's verification of the rectification
    /// failed (`rework_count` > 0).
    pub reworked: u64,
}

/// The unit a problem counts against in the ranking: its responsible unit, unless the office
/// rejected it or the unit returned it ([`NOT_ASSIGNED`]).
pub fn ranked_unit(p: &Problem) -> Option<&str> {
    if NOT_ASSIGNED.contains(&p.status) {
        return None;
    }
    p.unit_id.as_deref()
}

fn rate(n: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

impl UnitTally {
    /// Counts one problem of this unit as of `now`. A problem that counts against no unit
    /// ([`ranked_unit`] is `None`) is left out; which unit it belongs to is the caller's to
    /// group by (see [`tally_by_unit`]).
    pub fn add(&mut self, p: &Problem, now: DateTime<Utc>) {
        if ranked_unit(p).is_none() {
            return;
        }
        self.assigned += 1;
        self.rectified += u64::from(RECTIFIED.contains(&p.status));
        let closed = p.status == ProblemStatus::Closed;
        self.closed += u64::from(closed);
        let on_time = rectified_on_time(p, now) == Some(true);
        self.closed_on_time += u64::from(closed && on_time);
        self.overdue_open += u64::from(p.is_overdue(now));
        self.reworked += u64::from(p.rework_count > 0);
    }

    /// 整改率: rectified, verified or closed ÷ assigned (0 with nothing assigned).
    pub fn rectification_rate(&self) -> f64 {
        rate(self.rectified, self.assigned)
    }

    /// 按期率 (按期结案率): closed with the rectification no later than the deadline ÷
    /// assigned (0 with nothing assigned).
    pub fn on_time_rate(&self) -> f64 {
        rate(self.closed_on_time, self.assigned)
    }

    /// 结案率: closed ÷ assigned (0 with nothing assigned). The same denominator as
    /// [`Self::on_time_rate`], so a bulletin's 结案率 and 按期结案率 read against one count
    /// (the problems the units received) and never pass 100 %; 应结案 (due) is shown beside
    /// them as a count.
    pub fn closure_rate(&self) -> f64 {
        rate(self.closed, self.assigned)
    }

    /// 返工率: problems sent back for rework at least once ÷ assigned (not ÷ rectified: a
    /// problem reworked and not yet rectified again still counts). 0 with nothing assigned.
    pub fn rework_rate(&self) -> f64 {
        rate(self.reworked, self.assigned)
    }
}

/// 是否按期 of one problem: rectified no later than the deadline (in whole milliseconds) is
/// `Some(true)`; rectified later, or overdue now without a rectification, `Some(false)`;
/// otherwise (no deadline, or still within it) undecided. The ranking's 按期率 counts the
/// closed ones that are `Some(true)`; the exported ledger shows it per problem.
pub fn rectified_on_time(p: &Problem, now: DateTime<Utc>) -> Option<bool> {
    match (p.rectified_at, p.deadline) {
        (Some(r), Some(d)) => Some(r.timestamp_millis() <= d.timestamp_millis()),
        _ if p.is_overdue(now) => Some(false),
        _ => None,
    }
}

/// Every unit's tally over a set of folded problems, as of `now`.
pub fn tally_by_unit<'a>(
    problems: impl IntoIterator<Item = &'a Problem>,
    now: DateTime<Utc>,
) -> BTreeMap<String, UnitTally> {
    let mut out: BTreeMap<String, UnitTally> = BTreeMap::new();
    for p in problems {
        if let Some(u) = ranked_unit(p) {
            out.entry(u.to_owned()).or_default().add(p, now);
        }
    }
    out
}

/// Received by its unit in `from..to`: counted against a unit ([`ranked_unit`]) and last
/// dispatched within the period.
pub fn received_in(p: &Problem, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    ranked_unit(p).is_some() && p.dispatched_at.is_some_and(|d| from <= d && d < to)
}

/// Due by `by`: its deadline passed before then (in whole milliseconds, like overdue).
pub fn is_due(p: &Problem, by: DateTime<Utc>) -> bool {
    p.deadline
        .is_some_and(|d| d.timestamp_millis() < by.timestamp_millis())
}

/// A unit's figures over a period: the tally of what it received, and how many were due.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PeriodTally {
    pub tally: UnitTally,
    pub due: u64,
}

impl PeriodTally {
    /// Adds the tallies of two groups (a district's streets into the district).
    pub fn merge(&mut self, o: &PeriodTally) {
        let (t, u) = (&mut self.tally, &o.tally);
        t.assigned += u.assigned;
        t.rectified += u.rectified;
        t.closed += u.closed;
        t.closed_on_time += u.closed_on_time;
        t.overdue_open += u.overdue_open;
        t.reworked += u.reworked;
        self.due += o.due;
    }
}

/// Every unit's figures over the period `from..to` as of `now` ([`received_in`], [`is_due`]
/// by the earlier of `to` and `now`).
pub fn tally_period_by_unit<'a>(
    problems: impl IntoIterator<Item = &'a Problem>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> BTreeMap<String, PeriodTally> {
    let due_by = to.min(now);
    let mut out: BTreeMap<String, PeriodTally> = BTreeMap::new();
    for p in problems {
        if let Some(u) = ranked_unit(p)
            && received_in(p, from, to)
        {
            let e = out.entry(u.to_owned()).or_default();
            e.tally.add(p, now);
            e.due += u64::from(is_due(p, due_by));
        }
    }
    out
}

/// The ranking order: highest rectification rate first, then fewest overdue, then unit id
/// (so that equal units always list the same way).
pub fn ranking_order(a: (&str, &UnitTally), b: (&str, &UnitTally)) -> Ordering {
    b.1.rectification_rate()
        .total_cmp(&a.1.rectification_rate())
        .then(a.1.overdue_open.cmp(&b.1.overdue_open))
        .then(a.0.cmp(b.0))
}

/// The SQL forms of the counts, over the device ledger's `problems` table (see
/// [`crate::problem::sql`]). Each column is a 0/1 (or NULL) expression for `sum(…)`, in the
/// order of [`UnitTally`]'s fields after `assigned` (which is `count(*)` under
/// [`sql::assigned_where`]); `now` is a placeholder or literal in Unix milliseconds.
pub mod sql {
    use super::{NOT_ASSIGNED, RECTIFIED};
    use crate::problem::sql::{overdue, status_in};

    /// Which rows count against their `unit_id` ([`super::ranked_unit`]).
    pub fn assigned_where() -> String {
        format!("unit_id IS NOT NULL AND NOT ({})", status_in(&NOT_ASSIGNED))
    }

    /// [`super::is_filed`].
    pub fn filed_where() -> String {
        format!("NOT ({})", status_in(&super::NOT_FILED))
    }

    /// [`super::received_in`] between two instants (placeholders or literals, Unix ms).
    pub fn received_in(from: &str, to: &str) -> String {
        format!("dispatched_at >= {from} AND dispatched_at < {to}")
    }

    /// [`super::is_due`] by an instant; NULL (never due) without a deadline.
    pub fn due(by: &str) -> String {
        format!("deadline < {by}")
    }

    /// `[rectified, closed, closed_on_time, overdue_open, reworked]`.
    pub fn counts(now: &str) -> [String; 5] {
        [
            status_in(&RECTIFIED),
            "status = 'closed'".into(),
            "status = 'closed' AND rectified_at IS NOT NULL AND rectified_at <= deadline".into(),
            overdue(now),
            "rework_count > 0".into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProblemStatus as S;
    use crate::role::Role;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, 0, 0).unwrap()
    }

    fn problem(unit: Option<&str>, status: S) -> Problem {
        let mut p = crate::problem::test_problem(status);
        p.location = None;
        p.reporter = "usr-vol-1".into();
        p.reporter_role = Role::Volunteer;
        p.unit_id = unit.map(Into::into);
        p.deadline = Some(at(10));
        p.reported_at = at(1);
        p.dispatched_at = Some(at(2));
        p.updated_at = at(2);
        p
    }

    fn done(status: S, rectified_h: u32, rework: u32) -> Problem {
        let mut p = problem(Some("u-a"), status);
        p.rectified_at = Some(at(rectified_h));
        p.rework_count = rework;
        p
    }

    #[test]
    fn four_assigned_three_rectified_two_on_time_one_reworked() {
        let now = at(12);
        let ps = [
            done(S::Closed, 9, 0),               // on time
            done(S::Closed, 10, 0),              // on time: exactly at the deadline
            done(S::Verified, 11, 1),            // late, reworked once
            problem(Some("u-a"), S::Rectifying), // overdue
            problem(Some("u-a"), S::Returned),   // not theirs
            problem(Some("u-a"), S::Rejected),   // not a task
            problem(None, S::Filed),
        ];
        let by_unit = tally_by_unit(&ps, now);
        assert_eq!(by_unit.len(), 1);
        let t = by_unit["u-a"];
        assert_eq!(
            t,
            UnitTally {
                assigned: 4,
                rectified: 3,
                closed: 2,
                closed_on_time: 2,
                overdue_open: 1,
                reworked: 1,
            }
        );
        assert_eq!(t.rectification_rate(), 0.75);
        assert_eq!(t.on_time_rate(), 0.5);
        assert_eq!(t.rework_rate(), 0.25);
    }

    #[test]
    fn closed_late_or_without_deadline_is_not_on_time() {
        let now = at(12);
        let mut late = done(S::Closed, 11, 0);
        let mut no_deadline = done(S::Closed, 9, 0);
        no_deadline.deadline = None;
        let mut t = UnitTally::default();
        t.add(&late, now);
        t.add(&no_deadline, now);
        assert_eq!((t.closed, t.closed_on_time), (2, 0));
        // Verified on time but not closed yet: rectified, not (yet) on time.
        late.status = S::Verified;
        late.rectified_at = Some(at(9));
        t.add(&late, now);
        assert_eq!((t.rectified, t.closed_on_time), (3, 0));
        assert_eq!(t.on_time_rate(), 0.0);
    }

    #[test]
    fn a_reopened_problem_is_assigned_but_not_rectified() {
        let mut p = done(S::Reopened, 9, 0);
        p.deadline = Some(at(20));
        let mut t = UnitTally::default();
        t.add(&p, at(12));
        assert_eq!((t.assigned, t.rectified, t.overdue_open), (1, 0, 0));
        assert_eq!(t.rectification_rate(), 0.0);
    }

    #[test]
    fn nothing_assigned_means_zero_rates() {
        let t = UnitTally::default();
        assert_eq!(
            (t.rectification_rate(), t.on_time_rate(), t.rework_rate()),
            (0.0, 0.0, 0.0)
        );
        let mut t = UnitTally::default();
        t.add(&problem(Some("u-a"), S::Returned), at(12));
        assert_eq!(t, UnitTally::default());
    }

    #[test]
    fn ranking_by_rate_then_overdue_then_unit() {
        let t = |assigned, rectified, overdue_open| UnitTally {
            assigned,
            rectified,
            overdue_open,
            ..Default::default()
        };
        let mut rows = [
            ("u-c", t(4, 2, 0)), // 50 %, none overdue
            ("u-b", t(2, 1, 1)), // 50 %, one overdue
            ("u-a", t(4, 2, 0)), // 50 %, none overdue: before u-c by id
            ("u-d", t(3, 3, 0)), // 100 %
            ("u-e", t(0, 0, 0)), // nothing assigned: 0 %
        ];
        rows.sort_by(|a, b| ranking_order((a.0, &a.1), (b.0, &b.1)));
        let order: Vec<_> = rows.iter().map(|r| r.0).collect();
        assert_eq!(order, ["u-d", "u-a", "u-c", "u-b", "u-e"]);
    }

    #[test]
    fn a_period_counts_what_was_received_in_it() {
        let now = at(12);
        let mut early = done(S::Closed, 9, 0); // dispatched at 02:00
        early.dispatched_at = Some(at(1));
        let mut late = problem(Some("u-a"), S::Rectifying); // dispatched at 02:00, due 10:00
        late.dispatched_at = Some(at(3));
        late.deadline = Some(at(11));
        let mut returned = problem(Some("u-a"), S::Returned);
        returned.dispatched_at = Some(at(3));
        let ps = [early, late, returned];
        let t = tally_period_by_unit(&ps, at(2), at(12), now);
        assert_eq!(
            t["u-a"].tally.assigned, 1,
            "only the one dispatched in the period"
        );
        assert_eq!((t["u-a"].due, t["u-a"].tally.overdue_open), (1, 1));
        // Ends before the deadline: received, not yet due.
        let t = tally_period_by_unit(&ps, at(2), at(10), now);
        assert_eq!((t["u-a"].tally.assigned, t["u-a"].due), (1, 0));
        // A running period is due by now.
        let t = tally_period_by_unit(&ps, at(2), at(20), at(10));
        assert_eq!(t["u-a"].due, 0);
        let mut sum = t["u-a"];
        sum.merge(&t["u-a"]);
        assert_eq!(sum.tally.assigned, 2);
        assert_eq!(
            sql::received_in("$1", "$2"),
            "dispatched_at >= $1 AND dispatched_at < $2"
        );
        assert_eq!(sql::due("$3"), "deadline < $3");
    }

    #[test]
    fn sql_counts_name_the_same_states() {
        assert_eq!(
            sql::assigned_where(),
            "unit_id IS NOT NULL AND NOT (status IN ('rejected', 'returned'))"
        );
        let c = sql::counts("?1");
        assert_eq!(c[0], "status IN ('rectified', 'verified', 'closed')");
        assert_eq!(
            c[3],
            "status IN ('dispatched', 'rectifying') AND deadline < ?1"
        );
    }
}
