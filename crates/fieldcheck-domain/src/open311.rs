//! Open311 GeoReport v2 (the city's standard exchange of service requests) seen from the
//! problem lifecycle: the two states the standard knows, and the problem codes of requests that
//! come in through it. The server's `open311` edge calls these; nothing else decides them.

use chrono::NaiveDate;

use crate::code::problem_code;
use crate::problem::ProblemStatus;
use crate::reference::{District, DistrictLevel};

/// A service request's `status` in GeoReport v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Open311Status {
    Open,
    Closed,
}

impl Open311Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Open311Status::Open => "open",
            Open311Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Open311Status> {
        [Open311Status::Open, Open311Status::Closed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }

    /// Every problem status that shows as this one (what a `status=` filter selects).
    pub fn problem_statuses(self) -> Vec<ProblemStatus> {
        ProblemStatus::ALL
            .into_iter()
            .filter(|s| status_of(*s) == self)
            .collect()
    }
}

/// A problem is `closed` to Open311 once the office has finished with it: closed (after
/// verification) or rejected (not filed: a duplicate, not the city's business). Everything else,
/// a reopened case included, is still `open`.
pub fn status_of(status: ProblemStatus) -> Open311Status {
    if status.is_terminal() {
        Open311Status::Closed
    } else {
        Open311Status::Open
    }
}

/// The device tag in the codes of requests that came in through Open311. Device tags are
/// Crockford base32 ([`crate::code::device_tag`]), which has no `O`: no device can ever make
/// a code with this tag, so the server numbers these requests on its own without colliding.
pub const REQUEST_TAG: &str = "OPEN";

/// The problem code of the `seq`-th Open311 request, reported on the city's day `date` in
/// `district_id` (see [`code_prefix`]).
pub fn request_code(
    districts: &[District],
    district_id: Option<&str>,
    date: NaiveDate,
    seq: u64,
) -> String {
    problem_code(&code_prefix(districts, district_id), date, REQUEST_TAG, seq)
}

/// The code prefix of the district-level ancestor of `district_id` (`FC` when there is none
/// or it has no prefix), as a device names its reports.
pub fn code_prefix(districts: &[District], district_id: Option<&str>) -> String {
    let find = |id: &str| districts.iter().find(|d| d.id == id);
    let mut cur = district_id.and_then(find);
    // A tree is at most three levels deep; the bound guards against a corrupt cycle.
    for _ in 0..8 {
        match cur {
            Some(d) if d.level == DistrictLevel::District => {
                return d.code_prefix.clone().unwrap_or_else(|| "FC".into());
            }
            Some(d) => cur = d.parent_id.as_deref().and_then(find),
            None => break,
        }
    }
    "FC".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::device_tag;

    #[test]
    fn only_closed_and_rejected_problems_are_closed() {
        for s in ProblemStatus::ALL {
            let want = matches!(s, ProblemStatus::Closed | ProblemStatus::Rejected);
            assert_eq!(status_of(s) == Open311Status::Closed, want, "{s:?}");
        }
        assert_eq!(
            Open311Status::Closed.problem_statuses(),
            vec![ProblemStatus::Rejected, ProblemStatus::Closed]
        );
        assert_eq!(Open311Status::Open.problem_statuses().len(), 8);
        assert_eq!(Open311Status::parse("open"), Some(Open311Status::Open));
        assert_eq!(Open311Status::parse("Open"), None);
    }

    #[test]
    fn request_codes_never_take_a_device_tag() {
        for i in 0..5000u128 {
            let tag = device_tag(&uuid::Uuid::from_u128(
                i.wrapping_mul(0x9e37_79b9_7f4a_7c15) << 64,
            ));
            assert_ne!(tag, REQUEST_TAG);
        }
        let d = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let district = |id: &str, level, parent: Option<&str>, prefix: Option<&str>| District {
            id: id.into(),
            name: crate::i18n::Text::new(id, id),
            level,
            parent_id: parent.map(Into::into),
            code_prefix: prefix.map(Into::into),
        };
        let city = vec![
            district("gl", DistrictLevel::District, None, Some("gl")),
            district("gl-s1", DistrictLevel::Street, Some("gl"), None),
            district("gl-s1-c1", DistrictLevel::Community, Some("gl-s1"), None),
        ];
        assert_eq!(
            request_code(&city, Some("gl-s1-c1"), d, 7),
            "GL-20261202-OPEN-0007"
        );
        assert_eq!(request_code(&city, None, d, 7), "FC-20261202-OPEN-0007");
    }
}
