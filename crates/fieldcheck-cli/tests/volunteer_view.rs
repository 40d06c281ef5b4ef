//! The `fieldcheck` binary acting as a volunteer sees only the volunteer's own reports, as
//! the app does (`Scope::device_reporter`); everyone else sees all the device holds.

mod common;

use common::Device;
use serde_json::Value;

impl Device {
    fn report(&self, who: &str, description: &str, point: &str) -> Value {
        self.json(&[
            "--as",
            who,
            "problem",
            "add",
            "--category",
            "SR-02",
            "--description",
            description,
            "--point",
            point,
        ])
    }

    /// The codes a ledger command lists, sorted.
    fn codes(&self, args: &[&str]) -> Vec<String> {
        let page = self.json(args);
        let mut codes: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap().to_owned())
            .collect();
        codes.sort();
        assert_eq!(page["total"], codes.len(), "{args:?}");
        codes
    }
}

fn code(p: &Value) -> String {
    p["code"].as_str().unwrap().to_owned()
}

#[test]
fn the_cli_acting_as_a_volunteer_sees_only_their_reports() {
    let d = Device::with_demo();
    let mine = code(&d.report("usr-vol-1", "垃圾桶满溢无人清理", "p-009"));
    let theirs = d.report("usr-vol-2", "垃圾堆放在人行道上", "p-001");
    let inspectors = code(&d.report("usr-insp-1", "垃圾散落绿化带", "p-005"));
    let all = {
        let mut v = vec![mine.clone(), code(&theirs), inspectors.clone()];
        v.sort();
        v
    };
    let vol = ["--as", "usr-vol-1"];
    let with = |who: &[&str], args: &[&str]| -> Vec<String> {
        let mut a = who.to_vec();
        a.extend_from_slice(args);
        d.codes(&a)
    };

    // list, search: only the volunteer's own report, whatever reporter is asked for.
    assert_eq!(with(&vol, &["list"]), std::slice::from_ref(&mine));
    assert_eq!(
        with(&vol, &["list", "--reporter", "usr-vol-2"]),
        std::slice::from_ref(&mine)
    );
    assert_eq!(with(&vol, &["search", "垃圾"]), std::slice::from_ref(&mine));
    assert!(with(&vol, &["search", "人行道"]).is_empty());

    // show: someone else's report is not there, by code or by id, as in the app.
    for id in [code(&theirs), theirs["id"].as_str().unwrap().to_owned()] {
        let e = d.error(&["--as", "usr-vol-1", "show", &id]);
        assert_eq!(e["code"], "not_found", "{e}");
        assert_eq!(e["message"], format!("problem {id} not found"));
    }
    assert_eq!(
        d.json(&["--as", "usr-vol-1", "show", &mine])["problem"]["code"],
        mine
    );

    // The person signed in counts as `--as` does.
    d.ok(&["login", "usr-vol-1"]);
    assert_eq!(d.codes(&["list"]), std::slice::from_ref(&mine));
    assert_eq!(d.error(&["show", &inspectors])["code"], "not_found");

    // Everyone else sees everything the device holds, as before; so does nobody signed in.
    for who in ["usr-insp-1", "usr-admin-1"] {
        assert_eq!(with(&["--as", who], &["list"]), all, "{who}");
        assert_eq!(
            d.json(&["--as", who, "show", &code(&theirs)])["problem"]["code"],
            code(&theirs)
        );
    }
    d.ok(&["logout"]);
    assert_eq!(d.codes(&["list"]), all);
    assert_eq!(d.codes(&["search", "垃圾"]), all);
}
