//! Problem text search that works for Chinese, one rule for the device and the server: the
//! index holds every run of letters and digits as overlapping character bigrams, each run
//! closed by its last character.
//!
//! Chinese has no spaces between words and most words are two characters, so a word
//! tokenizer finds nothing and a trigram index cannot answer the commonest queries (积水,
//! 井盖, 垃圾). With bigrams a two-character query is one index term, a longer one is the
//! phrase of its consecutive bigrams, and a single character is a prefix query. The closing
//! unigram keeps a phrase from matching across two runs (`东街 | 路灯` must not match
//! `街路`), because it sits between the last bigram of one run and the first of the next.
//! Latin letters are lower-cased on both sides, so codes and English text match in any case.
//!
//! The index finds a superset of the substring matches: every substring of a field is found,
//! but so is a query whose runs occur apart (`GL-2026` finds `gl … 2026` anywhere). A caller
//! that promises exact substring results checks the few candidates with its substring test.

/// Runs of letters and digits, lower-cased: the units bigrams are taken from.
fn runs(text: &str) -> impl Iterator<Item = Vec<char>> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|r| !r.is_empty())
        .map(|r| r.chars().flat_map(char::to_lowercase).collect())
}

/// The index document for a record's searchable fields: space-separated terms, each made of
/// letters and digits only (so no tokenizer, quoting or escaping can split or change one).
pub fn index_terms(fields: &[&str]) -> String {
    let mut out = String::new();
    for field in fields {
        for run in runs(field) {
            for pair in run.windows(2) {
                out.extend(pair);
                out.push(' ');
            }
            if let Some(last) = run.last() {
                out.push(*last);
                out.push(' ');
            }
        }
    }
    out.pop();
    out
}

/// The full-text query for one search term (a substring of a searched field), or `None` when
/// the term has no letters or digits to search for.
///
/// The syntax is FTS5's — each run a phrase of its bigrams joined by `+`, a one-character run
/// the prefix `"x" *`, runs joined by ` AND ` — spelled so that plain replacements turn it
/// into a PostgreSQL `tsquery` (`"` → `'`, ` + ` → ` <-> `, ` AND ` → ` & `, `' *` → `':*`).
pub fn match_query(term: &str) -> Option<String> {
    let parts: Vec<String> = runs(term)
        .map(|run| {
            if run.len() == 1 {
                format!("\"{}\" *", run[0])
            } else {
                let bigrams: Vec<String> = run
                    .windows(2)
                    .map(|p| format!("\"{}\"", p.iter().collect::<String>()))
                    .collect();
                bigrams.join(" + ")
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

/// Whether the index finds exactly the fields that hold `term` as a substring, not just a
/// superset: the term is one run (no separator the index drops) of characters that case
/// folding neither changes nor produces — ASCII digits and CJK ideographs, which is what
/// office users type most (`垃圾`, `井盖`, `0007`). For any other term the caller checks the
/// candidates with its substring test.
pub fn is_exact(term: &str) -> bool {
    !term.is_empty() && term.chars().all(|c| c.is_ascii_digit() || is_ideograph(c))
}

/// CJK unified ideographs (the basic block, extensions A to H) and the compatibility ones.
fn is_ideograph(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{323AF}')
        && c.is_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigrams_close_each_run_with_its_last_character() {
        assert_eq!(
            index_terms(&["积水严重，东街", "A1-b"]),
            "积水 水严 严重 重 东街 街 a1 1 b"
        );
        assert_eq!(index_terms(&["", "，。"]), "");
        assert_eq!(
            index_terms(&["GL-20261123-K7Q2-0007"]),
            "gl l 20 02 26 61 11 12 23 3 k7 7q q2 2 00 00 07 7"
        );
    }

    #[test]
    fn queries_are_phrases_of_bigrams_or_a_prefix() {
        assert_eq!(match_query("积水").as_deref(), Some("\"积水\""));
        assert_eq!(
            match_query("积水严重").as_deref(),
            Some("\"积水\" + \"水严\" + \"严重\"")
        );
        assert_eq!(match_query("水").as_deref(), Some("\"水\" *"));
        assert_eq!(
            match_query("GL-2026").as_deref(),
            Some("\"gl\" AND \"20\" + \"02\" + \"26\"")
        );
        assert_eq!(match_query(" ，\"* ").as_deref(), None);
        assert_eq!(match_query("%_").as_deref(), None);
        assert_eq!(
            match_query("50%_off").as_deref(),
            Some("\"50\" AND \"of\" + \"ff\"")
        );
    }

    #[test]
    fn exact_terms_are_digits_and_ideographs_in_one_run() {
        for t in ["垃圾", "井", "占道经营", "0007", "2026年"] {
            assert!(is_exact(t), "{t}");
        }
        for t in [
            "",
            "GL",
            "k7q2",
            "积水 严重",
            "积水，",
            "GL-2026",
            "%",
            "Ω",
            "ｱ",
            "１",
        ] {
            assert!(!is_exact(t), "{t}");
        }
    }

    /// No character outside the exact set folds into one inside it, so a folded field holds
    /// an exact term only where the field itself does.
    #[test]
    fn nothing_folds_into_an_exact_character() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            if c.is_ascii_digit() || is_ideograph(c) {
                continue;
            }
            for l in c.to_lowercase() {
                assert!(
                    !(l.is_ascii_digit() || is_ideograph(l)),
                    "{c:?} folds to {l:?}"
                );
            }
        }
        for c in ('\u{4E00}'..='\u{9FFF}').chain('0'..='9') {
            assert_eq!(c.to_lowercase().collect::<String>(), c.to_string());
        }
    }

    /// Every term holds letters and digits only, so neither FTS5 nor `tsquery` syntax can leak
    /// in from what a user typed.
    #[test]
    fn terms_carry_no_syntax() {
        let doc = index_terms(&["a\"b'c\\d:e*f+g(h)i&j|k!l<m>n"]);
        assert!(
            doc.chars().all(|c| c == ' ' || c.is_alphanumeric()),
            "{doc}"
        );
        let q = match_query("a\"b'c\\d:e*f+g(h)").unwrap();
        assert!(!q.contains('\'') && !q.contains('\\'), "{q}");
    }
}
