//! Devices and a real server over real HTTP (port 0): the `fieldcheck` binary enrolls and
//! syncs, the server is `fieldcheck-server` in this process. No mocks.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use common::{Device, Server};
use fieldcheck_core::Store;
use fieldcheck_core::domain::{EventOutcome, Problem};
use fieldcheck_core::protocol::sync::PushResponse;
use serde_json::{Value, json};
use uuid::Uuid;

impl Device {
    /// Enrolls through the binary for `user` with the server's one-time code.
    fn enrolled(server: &Server, user: &str) -> Device {
        let d = Device::new().real_clock();
        let e = d.json(&[
            "enroll",
            "--server",
            &server.base,
            "--code",
            &server.code_of(user),
        ]);
        assert_eq!(e["user"]["id"], user);
        assert!(e["reference_version"].as_u64().is_some(), "{e}");
        d
    }

    /// Reports a littering problem (SR-02) at the demo point p-005, as a volunteer would.
    fn report(&self, description: &str) -> Value {
        self.json(&[
            "problem",
            "add",
            "--category",
            "SR-02",
            "--point",
            "p-005",
            "--description",
            description,
        ])
    }

    fn sync(&self) -> Value {
        self.json(&["sync"])
    }

    fn store(&self) -> Store {
        Store::open(&self.db).unwrap()
    }

    fn problem(&self, id: Uuid) -> Problem {
        self.store().problem(id).unwrap()
    }

    /// Event ids of a record on this device, without events the server refused (those
    /// exist only here, as a visible note).
    fn event_ids(&self, id: Uuid) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = self
            .store()
            .history(id)
            .unwrap()
            .into_iter()
            .filter(|r| r.server_refusal.is_none())
            .map(|r| r.event.id)
            .collect();
        ids.sort();
        ids
    }

    fn photo(&self, name: &str, shade: u8) -> PathBuf {
        let img = image::RgbImage::from_fn(320, 240, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, shade])
        });
        let path = self.dir().join(name);
        img.save(&path).unwrap();
        path
    }
}

fn id_of(v: &Value) -> Uuid {
    Uuid::parse_str(v["id"].as_str().unwrap()).unwrap()
}

fn count(v: &Value, key: &str) -> usize {
    match &v[key] {
        Value::Array(a) => a.len(),
        n => n.as_u64().unwrap_or_else(|| panic!("{key} in {v}")) as usize,
    }
}

fn assert_same_everywhere(server: &Server, devices: &[&Device], id: Uuid) -> Problem {
    let want = server.problem(id);
    let ids = server.event_ids(id);
    for (i, d) in devices.iter().enumerate() {
        assert_eq!(d.problem(id), want, "device {i} state");
        assert_eq!(d.event_ids(id), ids, "device {i} events");
    }
    want
}

#[test]
fn closed_loop_across_devices_through_the_binary() {
    let server = Server::start();
    let vol = Device::enrolled(&server, "usr-vol-1");
    let admin = Device::enrolled(&server, "usr-admin-1");
    let unit = Device::enrolled(&server, "usr-hdl-1");
    let insp = Device::enrolled(&server, "usr-insp-1");
    // Enrollment signed the user in: no --as needed below.
    assert_eq!(vol.json(&["whoami"])["user"]["id"], "usr-vol-1");

    let before = vol.photo("before.png", 10);
    let p = vol.json(&[
        "problem",
        "add",
        "--category",
        "SR-02",
        "--description",
        "巷口暴露垃圾",
        "--point",
        "p-005",
        "--photo",
        before.to_str().unwrap(),
    ]);
    let id = id_of(&p);
    let code = p["code"].as_str().unwrap().to_owned();
    let r = vol.sync();
    assert_eq!(count(&r, "pushed"), 1, "{r}");
    assert_eq!(count(&r, "photos_uploaded"), 1, "{r}");
    assert!(count(&r, "photo_bytes_uploaded") > 0);
    assert_eq!(count(&r, "refused") + count(&r, "rejected"), 0, "{r}");

    let r = admin.sync();
    assert!(count(&r, "events_pulled") >= 1, "{r}");
    admin.json(&["problem", "file", &code]);
    admin.json(&["problem", "dispatch", &code, "--unit", "u-s-dj"]);
    assert_eq!(count(&admin.sync(), "pushed"), 2);

    unit.sync();
    unit.json(&["problem", "accept", &code]);
    let after = unit.photo("after.png", 200);
    unit.json(&[
        "problem",
        "rectify",
        &code,
        "--photo",
        after.to_str().unwrap(),
    ]);
    let r = unit.sync();
    assert_eq!(count(&r, "pushed"), 2, "{r}");
    assert_eq!(count(&r, "photos_uploaded"), 1, "{r}");

    insp.sync();
    insp.json(&["problem", "verify", &code, "--pass"]);
    assert_eq!(count(&insp.sync(), "pushed"), 1);

    admin.sync();
    let closed = admin.json(&["problem", "close", &code]);
    assert_eq!(closed["status"], "closed");
    admin.sync();
    for d in [&vol, &unit, &insp] {
        d.sync();
    }

    let state = assert_same_everywhere(&server, &[&vol, &admin, &unit, &insp], id);
    assert_eq!(state.status.as_str(), "closed");
    // reported, filed, dispatched, accepted, rectified, verified, closed
    assert_eq!(server.event_ids(id).len(), 7);
    // Both photos reached the server and the queue is empty everywhere.
    for d in [&vol, &unit] {
        let s = d.store().sync_state().unwrap();
        assert_eq!((s.outbox, s.photos_pending), (0, 0));
    }
    // And came down to every device that sees the record, thumbnails made locally.
    for d in [&vol, &admin, &unit, &insp] {
        let s = d.store();
        assert!(s.missing_photos().unwrap().is_empty());
        let photos = s.problem(id).unwrap().photos;
        assert_eq!(photos.len(), 2);
        for h in photos.iter().map(|p| p.hash.clone()) {
            assert!(s.thumb_path(&h).unwrap().is_file());
            assert_eq!(s.photo(&h).unwrap().hash, h);
        }
    }
    // A second round moves nothing.
    let r = vol.sync();
    assert_eq!(
        (count(&r, "pushed"), count(&r, "events_pulled")),
        (0, 0),
        "{r}"
    );

    // The human summary speaks Chinese by default and English on request.
    let zh = admin.ok(&["sync"]);
    assert!(zh.contains("上传") && zh.contains("下载"), "{zh}");
    let en = admin.ok(&["--lang", "en", "sync"]);
    assert!(en.contains("Up:") && en.contains("Down:"), "{en}");
}

#[test]
fn conflicting_offline_changes_resolve_the_same_everywhere() {
    let server = Server::start();
    let vol = Device::enrolled(&server, "usr-vol-1");
    let a = Device::enrolled(&server, "usr-admin-1");
    let b = Device::enrolled(&server, "usr-admin-2");
    let p = vol.report("绿化带堆放杂物");
    let id = id_of(&p);
    let code = p["code"].as_str().unwrap().to_owned();
    vol.sync();
    a.sync();
    a.json(&["problem", "file", &code]);
    a.sync();
    b.sync();

    // Offline, A dispatches the case first; a moment later B turns it down.
    let sent = a.json(&["problem", "dispatch", &code, "--unit", "u-s-dj"]);
    assert_eq!(sent["status"], "dispatched");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let rejected = b.json(&["problem", "reject", &code, "--reason", "不属于创城范围"]);
    assert_eq!(rejected["status"], "rejected");

    // B reaches the server first: its change is applied there for now.
    let rb = b.sync();
    assert_eq!(count(&rb, "rejected"), 0, "{rb}");
    // A's change is older (HLC order), so it wins on the server's refold.
    let ra = a.sync();
    assert_eq!(count(&ra, "rejected"), 0, "{ra}");
    // B learns it lost, with the reason.
    let rb = b.sync();
    let lost = rb["rejected"].as_array().unwrap();
    assert_eq!(lost.len(), 1, "{rb}");
    assert_eq!(lost[0]["kind"], "problem.rejected");
    assert_eq!(lost[0]["code"], "invalid_transition");
    vol.sync();

    let state = assert_same_everywhere(&server, &[&vol, &a, &b], id);
    assert_eq!(state.status.as_str(), "dispatched");
    // The loser's event is kept and visibly rejected on B's device.
    let hist = b.store().history(id).unwrap();
    let mine = hist
        .iter()
        .find(|r| r.event.kind() == "problem.rejected")
        .unwrap();
    assert!(matches!(mine.outcome, EventOutcome::Rejected { .. }));
    let shown = b.ok(&["--lang", "en", "show", &code]);
    assert!(shown.to_lowercase().contains("reject"), "{shown}");
}

#[test]
fn a_lost_push_response_doubles_nothing() {
    let server = Server::start();
    let vol = Device::enrolled(&server, "usr-vol-1");
    for i in 0..3 {
        vol.json(&[
            "problem",
            "add",
            "--category",
            "SR-02",
            "--point",
            "p-005",
            "--description",
            &format!("问题 {i}"),
        ]);
    }
    // The server commits a push whose answer never reaches the device.
    let (outbox, token, api) = {
        let s = vol.store();
        let e = s.enrollment().unwrap().unwrap();
        (s.outbox(100).unwrap(), e.token, e.server)
    };
    assert_eq!(outbox.len(), 3);
    let http = server.http();
    let resp: PushResponse = server.rt.block_on(async {
        http.post(format!("{api}/push"))
            .bearer_auth(&token)
            .json(&json!({ "events": outbox }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(resp.results.len(), 3);
    let stored = server.event_count();
    let local_events = vol.store().history(outbox[0].entity_id).unwrap().len();

    // The device pushes the same batch again: the server answers "duplicate".
    let r = vol.sync();
    assert_eq!(count(&r, "pushed"), 0, "{r}");
    assert_eq!(count(&r, "duplicates"), 3, "{r}");
    assert_eq!(count(&r, "events_pulled"), 0, "{r}");
    assert_eq!(server.event_count(), stored);
    // And once more, for good measure: nothing left to send.
    let r = vol.sync();
    assert_eq!(count(&r, "duplicates"), 0, "{r}");
    assert_eq!(server.event_count(), stored);
    assert_eq!(
        vol.store().history(outbox[0].entity_id).unwrap().len(),
        local_events
    );
    for ev in &outbox {
        assert_same_everywhere(&server, &[&vol], ev.entity_id);
    }
}

#[test]
fn bad_server_code_or_token_fail_cleanly_and_write_nothing() {
    let server = Server::start();
    let d = Device::new().real_clock();
    d.ok(&["init"]);
    let meta = |d: &Device| -> Vec<(String, String)> {
        let s = d.store();
        let mut st = s
            .connection()
            .prepare("SELECT key, value FROM meta WHERE key LIKE 'sync_%' OR key = 'device_tag' ORDER BY key")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let before = meta(&d);
    let one_line = |o: &Output, code: &str| {
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(&format!("[{code}]")), "{err}");
    };
    one_line(
        &d.run(&["enroll", "--server", "not a url", "--code", "x"]),
        "invalid_server_url",
    );
    // Nothing listens on port 9 (discard); one attempt is enough to know.
    one_line(
        &d.run(&["enroll", "--server", "http://127.0.0.1:9", "--code", "x"]),
        "network",
    );
    one_line(
        &d.run(&["enroll", "--server", &server.base, "--code", "WRONG-CODE"]),
        "enroll_code_invalid",
    );
    one_line(&d.run(&["sync"]), "not_enrolled");
    assert_eq!(meta(&d), before);

    // A token the server does not know (revoked, or a different server's).
    let e = Device::enrolled(&server, "usr-vol-2");
    e.store()
        .connection()
        .execute(
            "UPDATE meta SET value = 'not-a-valid-token' WHERE key = 'sync_token'",
            [],
        )
        .unwrap();
    e.json(&[
        "problem",
        "add",
        "--category",
        "SR-02",
        "--district",
        "s-nj",
        "--description",
        "路面坑洼",
    ]);
    one_line(&e.run(&["sync", "--attempts", "1"]), "unauthorized");
    assert_eq!(e.store().outbox_len().unwrap(), 1);
    // The token never shows in any output.
    let who = e.ok(&["whoami"]);
    assert!(!who.contains("not-a-valid-token"));
}

#[test]
fn a_refused_event_stays_visible_and_does_not_block_the_queue() {
    let server = Server::start();
    let vol = Device::enrolled(&server, "usr-vol-1");
    let first = vol.report("共享单车乱停放");
    let code = first["code"].as_str().unwrap().to_owned();
    // Someone uses the volunteer's phone to act as an admin: the device allows it (it knows
    // the user), the server will not take an event from a token that is not that user's.
    vol.json(&["--as", "usr-admin-1", "problem", "file", &code]);
    let last = vol.report("墙面小广告");
    let r = vol.sync();
    assert_eq!(count(&r, "pushed"), 2, "{r}");
    let refused = r["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{r}");
    assert_eq!(refused[0]["code"], "actor_mismatch");
    assert_eq!(refused[0]["kind"], "problem.filed");
    assert_eq!(vol.store().outbox_len().unwrap(), 0);

    // The record is as the server has it (the refused event is not folded) and its history
    // shows the refusal with the server's code.
    let id = id_of(&first);
    let state = assert_same_everywhere(&server, &[&vol], id);
    assert_eq!(state.status.as_str(), "reported");
    let rejected_events: i64 = vol
        .store()
        .connection()
        .query_row(
            "SELECT rejected_events FROM problems WHERE id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rejected_events, 1);
    let hist = vol.store().history(id).unwrap();
    let refusal = hist.iter().find_map(|h| h.server_refusal.clone()).unwrap();
    assert_eq!(refusal.code, "actor_mismatch");
    let shown = vol.ok(&["--lang", "en", "show", &code]);
    assert!(shown.contains("REFUSED BY SERVER"), "{shown}");
    assert_same_everywhere(&server, &[&vol], id_of(&last));
    // Nothing is sent again.
    let r = vol.sync();
    assert_eq!(count(&r, "pushed") + count(&r, "refused"), 0, "{r}");
}

#[test]
fn a_device_clock_far_ahead_is_clamped_and_adopted() {
    let server = Server::start();
    let vol = Device::enrolled(&server, "usr-vol-1");
    let ahead = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let o = Command::new(env!("CARGO_BIN_EXE_fieldcheck"))
        .arg("--db")
        .arg(&vol.db)
        .args([
            "--json",
            "problem",
            "add",
            "--category",
            "SR-02",
            "--point",
            "p-005",
            "--description",
            "时钟超前",
        ])
        .env("FIELDCHECK_NOW", &ahead)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p: Value = serde_json::from_slice(&o.stdout).unwrap();
    let id = id_of(&p);
    let r = vol.sync();
    assert_eq!(count(&r, "clamped"), 1, "{r}");
    // The device now folds with the server's timestamp.
    let hist = vol.store().history(id).unwrap();
    let limit = chrono::Utc::now().timestamp_millis() + 700_000;
    assert!(
        hist[0].event.hlc.wall_ms <= limit,
        "{:?}",
        hist[0].event.hlc
    );
    assert_same_everywhere(&server, &[&vol], id);
}

#[test]
fn photo_upload_resumes_from_the_server_offset() {
    let server = Server::start();
    let vol = Device::enrolled(&server, "usr-vol-1");
    let photo = vol.photo("p.png", 77);
    let p = vol.json(&[
        "problem",
        "add",
        "--category",
        "SR-02",
        "--point",
        "p-005",
        "--description",
        "断点续传",
        "--photo",
        photo.to_str().unwrap(),
    ]);
    let hash = p["photos"][0]["hash"].as_str().unwrap().to_owned();
    let (bytes, token, api) = {
        let s = vol.store();
        let e = s.enrollment().unwrap().unwrap();
        (
            std::fs::read(s.display_path(&hash).unwrap()).unwrap(),
            e.token,
            e.server,
        )
    };
    // An earlier upload broke off after the first part.
    let part = bytes.len() / 3;
    let http = server.http();
    let status = server.rt.block_on(async {
        http.put(format!("{api}/blobs/{hash}?offset=0&size={}", bytes.len()))
            .bearer_auth(&token)
            .body(bytes[..part].to_vec())
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "{status}");

    // The photo's stamped display copy (水印) goes up with it, whole: it was never sent.
    let stamped = p["photos"][0]["stamped"].as_str().unwrap().to_owned();
    let stamped_len = std::fs::metadata(vol.store().display_path(&stamped).unwrap())
        .unwrap()
        .len() as usize;
    let r = vol.sync();
    assert_eq!(count(&r, "photos_uploaded"), 1, "counted as one photo: {r}");
    assert_eq!(
        count(&r, "photo_bytes_uploaded"),
        bytes.len() - part + stamped_len,
        "{r}"
    );
    let stored = server.rt.block_on(async {
        http.get(format!("{api}/blobs/{hash}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    });
    assert_eq!(stored.as_ref(), bytes.as_slice());
}

#[test]
fn a_cancelled_run_stops_and_changes_nothing() {
    let server = Server::start();
    let vol = Device::enrolled(&server, "usr-vol-1");
    vol.report("取消同步");
    let stored = server.event_count();
    let store = Arc::new(std::sync::Mutex::new(vol.store()));
    let token = fieldcheck_core::sync::CancellationToken::new();
    let client = fieldcheck_core::sync::SyncClient::new(store.clone(), Default::default())
        .unwrap()
        .with_cancel(token.clone());
    token.cancel();
    let err = server.rt.block_on(client.run()).unwrap_err();
    assert_eq!(err.code(), "cancelled");
    assert_eq!(server.event_count(), stored);
    assert_eq!(store.lock().unwrap().outbox_len().unwrap(), 1);
    // The next run picks it up.
    drop(client);
    let client = fieldcheck_core::sync::SyncClient::new(store.clone(), Default::default()).unwrap();
    let report = server.rt.block_on(client.run()).unwrap();
    assert_eq!(report.pushed, 1);
}

#[test]
fn sync_retries_until_a_restarted_server_answers() {
    let mut server = Server::start();
    let vol = Device::enrolled(&server, "usr-vol-1");
    let p = vol.report("服务器重启");
    // Connections are refused for a while; backoff keeps trying (0.25 s, 0.5 s, 1 s, ...).
    server.restart_after(std::time::Duration::from_millis(800));
    let r = vol.sync();
    assert_eq!(count(&r, "pushed"), 1, "{r}");
    assert_same_everywhere(&server, &[&vol], id_of(&p));
}

#[test]
fn a_record_that_leaves_the_scope_is_removed_from_the_device() {
    let server = Server::start();
    let vol = Device::enrolled(&server, "usr-vol-1");
    let admin = Device::enrolled(&server, "usr-admin-1");
    let unit = Device::enrolled(&server, "usr-hdl-1");
    let p = vol.report("改派");
    let code = p["code"].as_str().unwrap().to_owned();
    vol.sync();
    admin.sync();
    admin.json(&["problem", "file", &code]);
    admin.json(&["problem", "dispatch", &code, "--unit", "u-s-dj"]);
    admin.sync();
    let r = unit.sync();
    assert!(count(&r, "events_pulled") >= 3, "{r}");
    assert!(unit.store().problem(id_of(&p)).is_ok());

    // The office re-dispatches to another unit: the case leaves this unit's scope.
    admin.json(&["problem", "dispatch", &code, "--unit", "u-hwc"]);
    admin.sync();
    let r = unit.sync();
    assert_eq!(count(&r, "records_removed"), 1, "{r}");
    assert!(unit.store().problem(id_of(&p)).is_err());
    assert!(unit.store().history(id_of(&p)).unwrap().is_empty());
    // Removal is not deletion: the others still have it.
    vol.sync();
    assert_same_everywhere(&server, &[&vol, &admin], id_of(&p));
}

/// GPS fixes in 东街街道 (s-dj), where usr-vol-1 and usr-hdl-1 may report: at 东门后巷
/// (p-005), at 东大路与井大路交叉口 (p-016), between points, and near 井大集贸市场 (p-012).
const DONGJIE_FIXES: [&str; 4] = [
    "26.08570,119.30630,8",
    "26.08803,119.30402,10",
    "26.08600,119.30250,15",
    "26.08350,119.30400,12",
];

impl Device {
    /// A littering report (SR-02) with a new photo `name`, placed by `place` (`--gps`,
    /// `--point` or `--district` and its value).
    fn report_with_photo(
        &self,
        place: [&str; 2],
        description: &str,
        name: &str,
        shade: u8,
    ) -> Value {
        let photo = self.photo(name, shade);
        self.json(&[
            "problem",
            "add",
            "--category",
            "SR-02",
            place[0],
            place[1],
            "--description",
            description,
            "--photo",
            photo.to_str().unwrap(),
        ])
    }

    /// A quick report from the street: a GPS fix and a photo, no point, no district.
    fn street_report(&self, gps: &str, description: &str, shade: u8) -> Value {
        self.report_with_photo(
            ["--gps", gps],
            description,
            &format!("street-{shade}.png"),
            shade,
        )
    }

    fn ledger_total(&self, extra: &[&str]) -> u64 {
        let mut args = vec!["list", "--limit", "200"];
        args.extend_from_slice(extra);
        self.json(&args)["total"].as_u64().unwrap()
    }
}

/// Every GPS-only report reaches the server once, with its photo, placed in a district.
fn assert_on_server_once_with_photo(server: &Server, d: &Device, p: &Value) {
    let id = id_of(p);
    assert_eq!(server.event_ids(id).len(), 1, "one report event for {p}");
    let on_server = server.problem(id);
    assert!(on_server.district_id.is_some(), "{on_server:?}");
    assert_eq!(on_server.photos.len(), 1);
    let hash = &on_server.photos[0].hash;
    let local = std::fs::read(d.store().display_path(hash).unwrap()).unwrap();
    assert_eq!(
        server
            .blob(&d.store().enrollment().unwrap().unwrap().token, hash)
            .as_deref(),
        Some(local.as_slice()),
        "photo {hash} complete on the server"
    );
}

#[test]
fn street_reports_by_gps_alone_reach_the_server_once_with_their_photos() {
    let server = Server::start();
    let vol = Device::enrolled(&server, "usr-vol-1");
    let unit = Device::enrolled(&server, "usr-hdl-1");
    let admin = Device::enrolled(&server, "usr-admin-1");

    // Reports and syncs interleaved, as a day in the street goes.
    let mut reports: Vec<(&Device, Value)> = Vec::new();
    let mut shade = 0u8;
    for round in 0..3 {
        for (who, d) in [("志愿者", &vol), ("单位", &unit)] {
            for fix in DONGJIE_FIXES.iter().skip(round).take(2) {
                shade += 7;
                let p = d.street_report(fix, &format!("{who}街面问题 {shade}"), shade);
                // Placed on the device when it was made.
                assert!(p["district_id"].is_string(), "{p}");
                assert!(p["placement"]["source"].is_string(), "{p}");
                reports.push((d, p));
            }
            let r = d.sync();
            assert_eq!(count(&r, "refused") + count(&r, "rejected"), 0, "{r}");
            assert_eq!(count(&r, "pushed"), 2, "{r}");
        }
    }
    // A fix at a registered point takes the point; between points, the district only.
    let at_point = &reports[0].1;
    assert_eq!(at_point["point_id"], "p-005", "{at_point}");
    assert_eq!(at_point["district_id"], "c-dm");
    assert_eq!(at_point["placement"]["source"], "near_point");
    // One more round moves nothing.
    for d in [&vol, &unit] {
        let r = d.sync();
        assert_eq!(
            (count(&r, "pushed"), count(&r, "photos_uploaded")),
            (0, 0),
            "{r}"
        );
        let s = d.store().sync_state().unwrap();
        assert_eq!((s.outbox, s.photos_pending), (0, 0));
    }
    for (d, p) in &reports {
        assert_on_server_once_with_photo(&server, d, p);
    }
    // In the reporter's own ledger, and the office's.
    assert_eq!(vol.ledger_total(&[]), 6);
    assert_eq!(unit.ledger_total(&["--reporter", "usr-hdl-1"]), 6);
    admin.sync();
    assert_eq!(admin.ledger_total(&["--reporter", "usr-vol-1"]), 6);
    assert_eq!(admin.ledger_total(&["--reporter", "usr-hdl-1"]), 6);
    assert_eq!(admin.ledger_total(&["--district", "s-dj"]), 12);
    assert!(admin.store().missing_photos().unwrap().is_empty());
    for (_, p) in &reports {
        assert_same_everywhere(&server, &[&admin], id_of(p));
    }
}

#[test]
fn a_refused_report_stays_with_its_reason_and_is_corrected_sent_again_or_discarded() {
    let server = Server::start();
    let vol = Device::enrolled(&server, "usr-vol-1");
    let unit = Device::enrolled(&server, "usr-hdl-1");
    let admin = Device::enrolled(&server, "usr-admin-1");

    // The volunteer of 东街 reports at 三坊七巷南后街 (p-001, 南街 c-tx): placed truthfully there,
    // outside their districts. A report in their own street goes with it.
    let away = vol.street_report("26.08366,119.29156,6", "南街的问题", 40);
    assert_eq!(away["district_id"], "c-tx", "{away}");
    let home = vol.street_report(DONGJIE_FIXES[0], "东街的问题", 41);
    let id = id_of(&away);
    let code = away["code"].as_str().unwrap().to_owned();
    let r = vol.sync();
    let refused = r["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{r}");
    assert_eq!(refused[0]["code"], "out_of_scope");
    assert_eq!(refused[0]["record_code"], code.as_str());
    assert!(!server.has_problem(id));
    assert_on_server_once_with_photo(&server, &vol, &home);

    // Still in the volunteer's ledger, marked with the server's reason.
    let list = vol.json(&["list"]);
    assert_eq!(list["total"], 2, "{list}");
    let row = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code.as_str())
        .unwrap_or_else(|| panic!("refused report missing from the ledger: {list}"));
    assert_eq!(row["refused"]["code"], "out_of_scope", "{row}");
    let zh = vol.ok(&["list"]);
    assert!(zh.contains("服务器拒收"), "{zh}");
    // `show` by id or code: the record, the reason in plain words, the way forward.
    for key in [id.to_string(), code.clone()] {
        let en = vol.ok(&["--lang", "en", "show", &key]);
        assert!(en.contains("NOT ACCEPTED BY THE SERVER"), "{en}");
        assert!(en.contains("outside the area you may report in"), "{en}");
        assert!(
            en.contains("problem resend") && en.contains("problem discard"),
            "{en}"
        );
        assert!(!en.contains("not found"), "{en}");
    }
    let zh = vol.ok(&["show", &id.to_string()]);
    assert!(zh.contains("不在你可以上报的区域内"), "{zh}");
    let shown = vol.json(&["show", &code]);
    assert_eq!(shown["refused"]["code"], "out_of_scope", "{shown}");
    assert_eq!(shown["problem"]["photos"].as_array().unwrap().len(), 1);
    // Nothing else can be done to it: it would be refused too.
    let o = vol.run(&["problem", "edit", &code, "--description", "改"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("[refused_by_server]"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A correction outside the district chosen is caught on the device.
    let o = vol.run(&[
        "problem",
        "resend",
        &code,
        "--district",
        "s-dj",
        "--point",
        "p-001",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not in district"));

    // Corrected to the volunteer's own street and sent again: the server gets it once.
    let fixed = vol.json(&["problem", "resend", &code, "--district", "s-dj"]);
    assert_eq!(fixed["district_id"], "s-dj", "{fixed}");
    assert!(fixed["point_id"].is_null(), "{fixed}");
    assert!(
        fixed["placement"].is_null(),
        "a person chose the district: {fixed}"
    );
    assert_eq!(
        fixed["reported_at"], away["reported_at"],
        "the report keeps its time"
    );
    let r = vol.sync();
    assert_eq!(count(&r, "pushed"), 1, "{r}");
    assert_eq!(count(&r, "refused") + count(&r, "rejected"), 0, "{r}");
    assert_eq!(count(&r, "photos_uploaded"), 1, "{r}");
    assert_on_server_once_with_photo(&server, &vol, &away);
    assert_eq!(server.problem(id).district_id.as_deref(), Some("s-dj"));
    assert_same_everywhere(&server, &[&vol], id);
    // The refusal stays in the history, settled.
    let hist = vol.store().history(id).unwrap();
    assert_eq!(hist.len(), 2);
    assert!(hist[0].server_refusal.is_some() && hist[0].superseded_by == Some(hist[1].event.id));
    let row = vol.json(&["list"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code.as_str())
        .cloned()
        .unwrap();
    assert!(row["refused"].is_null(), "{row}");
    assert_eq!(row["rejected_events"], 0, "{row}");
    let en = vol.ok(&["--lang", "en", "show", &code]);
    assert!(en.contains("corrected and sent again"), "{en}");
    // Nothing to send again now.
    let o = vol.run(&["problem", "resend", &code]);
    assert!(!o.status.success());
    // The office sees it.
    admin.sync();
    assert_same_everywhere(&server, &[&admin], id);

    // A unit handler's report with a district typed outside their own: refused, then
    // discarded knowingly.
    let wrong = unit.report_with_photo(["--district", "s-nj"], "选错了区域", "wrong.png", 90);
    let wid = id_of(&wrong);
    let wcode = wrong["code"].as_str().unwrap().to_owned();
    let r = unit.sync();
    assert_eq!(count(&r, "refused"), 1, "{r}");
    assert_eq!(count(&r, "photos_uploaded"), 0, "{r}");
    assert_eq!(unit.ledger_total(&[]), 1);
    let o = unit.run(&["problem", "discard", &wcode]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--yes"));
    assert_eq!(unit.ledger_total(&[]), 1);
    // Someone else's device cannot discard what the server has: only refused records go.
    let o = vol.run(&["problem", "discard", &code, "--yes"]);
    assert!(!o.status.success());
    let gone = unit.json(&["problem", "discard", &wcode, "--yes"]);
    assert_eq!(gone["code"], wcode.as_str());
    assert_eq!(unit.ledger_total(&[]), 0);
    assert!(unit.store().history(wid).unwrap().is_empty());
    let o = unit.run(&["show", &wid.to_string()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("[not_found]"), "{err}");
    assert!(err.contains("problem or inspection"), "{err}");
    let r = unit.sync();
    assert_eq!(count(&r, "pushed") + count(&r, "refused"), 0, "{r}");
    assert!(!server.has_problem(wid));
}

#[test]
fn a_refused_inspection_stays_with_its_reason_and_is_discarded_knowingly() {
    let server = Server::start();
    // A point the inspector's device knows and the city's server does not (a local import
    // the office never published): the device lets her inspect it, the server refuses it.
    let insp = Device::enrolled(&server, "usr-insp-1");
    let points: Vec<Value> =
        serde_json::from_str(include_str!("../../../data/demo/points.json")).unwrap();
    let mut local = points.iter().find(|p| p["id"] == "p-005").unwrap().clone();
    local["id"] = "p-local-1".into();
    let file = insp.dir().join("points.json");
    std::fs::write(&file, serde_json::to_string(&vec![local]).unwrap()).unwrap();
    insp.ok(&["import", file.to_str().unwrap()]);
    let started = insp.json(&["inspect", "start", "--point", "p-local-1"]);
    let id = started["inspection"]["id"].as_str().unwrap().to_owned();
    let r = insp.sync();
    let refused = r["refused"].as_array().unwrap();
    assert!(refused.iter().any(|x| x["code"] == "invalid_event"), "{r}");
    // Still on the device, with the reason and the way forward.
    let shown = insp.run(&["--lang", "en", "inspect", "show", &id]);
    assert!(shown.status.success());
    let note = String::from_utf8_lossy(&shown.stderr);
    assert!(
        note.contains("the server refused this inspection"),
        "{note}"
    );
    assert!(
        note.contains("invalid_event") && note.contains("inspect discard"),
        "{note}"
    );
    // Discarding needs --yes, and only a refused record can go.
    let o = insp.run(&["inspect", "discard", &id]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--yes"));
    insp.ok(&["inspect", "discard", &id, "--yes"]);
    assert!(!insp.run(&["inspect", "show", &id]).status.success());
    // An inspection the server took cannot be discarded.
    let home = insp.json(&["inspect", "start", "--point", "p-005"]);
    let home_id = home["inspection"]["id"].as_str().unwrap().to_owned();
    insp.sync();
    let o = insp.run(&["inspect", "discard", &home_id, "--yes"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not refused by the server"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
