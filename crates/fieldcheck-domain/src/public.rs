//! What the public channels — the volunteers' report page and Open311 — tell the person who
//! reported: the status they see, the office's note, and whether the office confirmed the
//! report (the volunteers' and teams' 积分).

use crate::i18n::Lang;
use crate::problem::{Problem, ProblemStatus};

/// The status a reporter sees. A report the office marked a duplicate of another follows the
/// original (`original`, looked up by `Problem::duplicate_of`): the reporter learns what is
/// being done about the problem they saw, not that their copy was set aside.
pub fn shown_status(p: &Problem, original: Option<&Problem>) -> ProblemStatus {
    match (p.status, &p.duplicate_of, original) {
        (ProblemStatus::Rejected, Some(code), Some(o)) if &o.code == code => o.status,
        _ => p.status,
    }
}

/// The office's note to the reporter: the status in words and, when the office gave one, its
/// reason (why it was not taken, what was said when it was returned or reopened). For a
/// duplicate: the case it was merged into.
pub fn public_note(p: &Problem, lang: Lang) -> String {
    if p.status == ProblemStatus::Rejected
        && let Some(of) = &p.duplicate_of
    {
        return match lang {
            Lang::Zh => format!("已合并到 {of}，随原问题处理"),
            Lang::En => format!("Merged into {of}; handled with it"),
        };
    }
    let mut note = p.status.label(lang).to_owned();
    if let Some(reason) = p
        .status_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        note.push_str(if lang == Lang::Zh { "：" } else { ": " });
        note.push_str(reason);
    }
    note
}

/// Has the office confirmed the report as a real problem — filed it as a case, or taken it
/// further? Not while it waits for the office, and not when rejected (a duplicate's credit
/// stays with the original's reporter).
pub fn is_confirmed(status: ProblemStatus) -> bool {
    !matches!(status, ProblemStatus::Reported | ProblemStatus::Rejected)
}

/// The device tag in the codes of reports made on the volunteers' page. Device tags are
/// Crockford base32 ([`crate::code::device_tag`]), which has no `O`, `L` or `U`: no device
/// can make a code with this tag, so the server numbers page reports on its own.
pub const PAGE_TAG: &str = "VOLU";

/// The problem code of the `seq`-th report made on the page, on the city's day `date` in
/// `district_id` (the district's prefix, as a device names its reports).
pub fn page_report_code(
    districts: &[crate::reference::District],
    district_id: Option<&str>,
    date: chrono::NaiveDate,
    seq: u64,
) -> String {
    crate::code::problem_code(
        &crate::open311::code_prefix(districts, district_id),
        date,
        PAGE_TAG,
        seq,
    )
}

/// The SQL forms, for a store with a text `status` column.
pub mod sql {
    use super::ProblemStatus;

    /// `status NOT IN ('reported', 'rejected')`: [`super::is_confirmed`].
    pub fn confirmed() -> String {
        let not: Vec<ProblemStatus> = ProblemStatus::ALL
            .into_iter()
            .filter(|s| !super::is_confirmed(*s))
            .collect();
        format!("NOT ({})", crate::problem::sql::status_in(&not))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::ProblemStatus as S;

    fn problem(code: &str, status: S) -> Problem {
        let mut p = crate::problem::test_problem(status);
        p.code = code.into();
        p
    }

    #[test]
    fn a_duplicate_follows_its_original() {
        let original = problem("GL-1", S::Rectifying);
        let mut dup = problem("GL-2", S::Rejected);
        dup.duplicate_of = Some("GL-1".into());
        assert_eq!(shown_status(&dup, Some(&original)), S::Rectifying);
        assert_eq!(public_note(&dup, Lang::Zh), "已合并到 GL-1，随原问题处理");
        // Another problem passed as the original changes nothing.
        let other = problem("GL-3", S::Closed);
        assert_eq!(shown_status(&dup, Some(&other)), S::Rejected);
        assert_eq!(shown_status(&dup, None), S::Rejected);
        // A rejection for another reason shows itself, with the reason.
        let mut invalid = problem("GL-4", S::Rejected);
        invalid.status_reason = Some("不属于创文范围".into());
        assert_eq!(shown_status(&invalid, Some(&original)), S::Rejected);
        assert_eq!(public_note(&invalid, Lang::Zh), "不予立案：不属于创文范围");
        assert_eq!(public_note(&original, Lang::En), "Rectifying");
    }

    #[test]
    fn page_codes_never_collide_with_a_devices() {
        // A device tag is 20 bits of its id: every one of them, and none has O, L or U.
        assert!(PAGE_TAG.contains(['O', 'L', 'U']));
        for n in 0..(1u128 << 20) {
            let tag = crate::code::device_tag(&uuid::Uuid::from_u128(n << 108));
            assert!(!tag.contains(['O', 'L', 'U']), "{tag}");
        }
        let date = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert_eq!(
            page_report_code(&[], None, date, 7),
            "FC-20261203-VOLU-0007"
        );
    }

    #[test]
    fn confirmed_in_rust_and_sql_agree() {
        let sql = sql::confirmed();
        for s in S::ALL {
            let listed = sql.contains(&format!("'{}'", s.as_str()));
            assert_eq!(is_confirmed(s), !listed, "{s:?} in {sql}");
        }
        assert!(!is_confirmed(S::Reported) && is_confirmed(S::Filed) && is_confirmed(S::Closed));
    }
}
