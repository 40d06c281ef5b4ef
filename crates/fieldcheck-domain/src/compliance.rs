//! 点位达标: whether a point meets the standard before an evaluation round (the point
//! compliance list, issue 16).
//!
//! A point is compliant (达标) when its last finished inspection scored at least
//! [`PASS_PERCENT`] ([`crate::checklist::Score::percent`]) and no problem found at it is still
//! open. A point never inspected is not compliant: nobody has shown that it is.

use serde::{Deserialize, Serialize};

use crate::problem::ProblemStatus;

/// The lowest score (0–100, [`crate::checklist::Score::percent`]) of a compliant point.
pub const PASS_PERCENT: f64 = 90.0;

/// A problem that still stands against its point: not closed, not rejected by the office.
/// (Rectified and verified ones wait for closing, so they still count: the office has not
/// closed them yet.)
pub fn is_open(status: ProblemStatus) -> bool {
    !matches!(status, ProblemStatus::Closed | ProblemStatus::Rejected)
}

/// The SQL form of [`is_open`] over a `problems` table's `status` column.
pub fn open_where() -> String {
    format!(
        "NOT ({})",
        crate::problem::sql::status_in(&[ProblemStatus::Closed, ProblemStatus::Rejected])
    )
}

/// One point's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compliance {
    /// 达标
    Compliant,
    /// 未达标: the last score is below [`PASS_PERCENT`] or problems are open.
    NotCompliant,
    /// 未测评: no finished inspection.
    NotInspected,
}

impl Compliance {
    /// The point's standing from its last finished inspection's score and its open problems.
    pub fn of(last_score_percent: Option<f64>, open_problems: u64) -> Compliance {
        match last_score_percent {
            None => Compliance::NotInspected,
            Some(s) if s >= PASS_PERCENT && open_problems == 0 => Compliance::Compliant,
            Some(_) => Compliance::NotCompliant,
        }
    }

    pub fn is_compliant(self) -> bool {
        self == Compliance::Compliant
    }

    /// What the list prints.
    pub fn label(self, lang: crate::i18n::Lang) -> &'static str {
        let (zh, en) = match self {
            Compliance::Compliant => ("达标", "Compliant"),
            Compliance::NotCompliant => ("未达标", "Not compliant"),
            Compliance::NotInspected => ("未测评", "Not inspected"),
        };
        if lang == crate::i18n::Lang::En {
            en
        } else {
            zh
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_passes_on_its_score_and_no_open_problems() {
        assert_eq!(Compliance::of(None, 0), Compliance::NotInspected);
        assert_eq!(Compliance::of(Some(PASS_PERCENT), 0), Compliance::Compliant);
        assert_eq!(Compliance::of(Some(100.0), 1), Compliance::NotCompliant);
        assert_eq!(Compliance::of(Some(89.9), 0), Compliance::NotCompliant);
        assert!(is_open(ProblemStatus::Rectified));
        assert!(!is_open(ProblemStatus::Closed));
        assert!(!is_open(ProblemStatus::Rejected));
    }
}
