//! The UI's TypeScript wire types (`ui/src/wire/fieldcheck.ts`) are generated from the Rust
//! types; the committed file must be what the Rust types generate now, or the UI would
//! compile against shapes the bridge no longer sends.

use fieldcheck_bridge::wire_ts;

#[test]
fn committed_typescript_wire_types_are_up_to_date() {
    let path = wire_ts::output_path();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let fresh = wire_ts::typescript();
    if committed == fresh {
        return;
    }
    let (n, (old, new)) = committed
        .lines()
        .chain(std::iter::repeat(""))
        .zip(fresh.lines().chain(std::iter::repeat("")))
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .expect("the texts differ somewhere");
    panic!(
        "{} is out of date (first difference at line {}):\n  committed: {old}\n  generated: {new}\n\
         run `cargo run -p fieldcheck-bridge --features ts --bin gen-ts` and commit the result",
        wire_ts::OUTPUT,
        n + 1
    );
}

#[test]
fn every_command_type_is_declared_once_with_numbers_for_counters() {
    let ts = wire_ts::typescript();
    for name in [
        "Me",
        "Home",
        "ProblemDetail",
        "LedgerRow",
        "Page<T>",
        "EventRecord",
        "InspectionView",
        "SyncStatus",
        "ProblemAction",
        "ProblemQuery",
    ] {
        let decl = format!("export type {name} = ");
        assert_eq!(ts.matches(&decl).count(), 1, "{name} declared once");
    }
    // u64 counts are numbers in the UI (JSON.parse gives numbers), never bigint.
    assert!(!ts.contains("bigint"), "no bigint in the wire types");
    // The record's fold outcome and the event kind are flattened as serde does.
    assert!(ts.contains(r#"{ "outcome": "rejected", code: RefusalCode, message: string, }"#));
    assert!(ts.contains(r#""kind": "problem.dispatched", "payload": {"#));
}
