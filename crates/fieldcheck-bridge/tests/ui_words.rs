//! Every refusal the lifecycle can give reaches the person as words in both UI languages, not
//! as the raw English message: the UI's dictionary (`ui/src/lib/i18n.ts`) must have an
//! `err_<code>` entry in its zh-CN and its English table for each `RefusalCode`.

use fieldcheck_core::domain::RefusalCode;

#[test]
fn every_refusal_code_has_words_in_both_languages() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/src/lib/i18n.ts");
    let dict = std::fs::read_to_string(path).expect("ui/src/lib/i18n.ts");
    // The English table starts at `export const en`; everything before it is zh-CN.
    let split = dict.find("export const en").expect("the English table");
    let (zh, en) = dict.split_at(split);
    let mut missing = Vec::new();
    for code in RefusalCode::ALL {
        let key = format!("\n  err_{}: ", code.as_str());
        for (lang, table) in [("zh", zh), ("en", en)] {
            if !table.contains(&key) {
                missing.push(format!("{lang}: err_{}", code.as_str()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "refusal codes without words: {missing:?}"
    );
}
