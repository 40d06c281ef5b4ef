//! Crash safety through the real binary: a child process reports problems in a loop and is
//! SIGKILLed at random moments (while opening the database, between transactions, inside
//! one, right after a commit). Whatever it said it saved must be there, whole, exactly once;
//! nothing may be half written; and the file must still open and take new writes.
//!
//! The seed is printed; set `FIELDCHECK_CRASH_SEED` to replay a run and
//! `FIELDCHECK_CRASH_ROUNDS` to change the number of kills (default 120).

#![cfg(unix)]

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use fieldcheck_core::domain::Hlc;
use fieldcheck_core::protocol::ReferenceBundle;
use fieldcheck_core::{NewProblem, ProblemQuery, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::{Connection, OpenFlags};

const USER: &str = "usr-vol-1";

fn demo_bundle() -> ReferenceBundle {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo");
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("cannot read data/demo/{name}: {e}"))
    };
    ReferenceBundle {
        districts: serde_json::from_str(&read("districts.json")).unwrap(),
        units: serde_json::from_str(&read("units.json")).unwrap(),
        points: serde_json::from_str(&read("points.json")).unwrap(),
        users: serde_json::from_str(&read("users.json")).unwrap(),
        calendar: Some(serde_json::from_str(&read("calendar.json")).unwrap()),
        ..Default::default()
    }
}

/// The device database with the demo city and a signed-in volunteer, set up in-process.
fn create_db(path: &Path) {
    let mut store = Store::open(path).unwrap();
    store.import_reference(&demo_bundle()).unwrap();
    store.set_current_user(Some(USER)).unwrap();
}

/// When to pull the plug on one child.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// A fixed time after spawning: often while the child is still opening the database.
    Delay(Duration),
    /// As soon as the child has reported this many saves: lands right after a commit.
    Lines(usize),
    /// A few saves, then a short random pause: lands anywhere in the loop, including
    /// inside a transaction.
    LinesThenDelay(usize, Duration),
}

fn pick_kill(rng: &mut StdRng, round: usize) -> Kill {
    match round % 3 {
        0 => Kill::Delay(Duration::from_micros(rng.random_range(0..=40_000))),
        1 => Kill::Lines(rng.random_range(1..=12)),
        _ => Kill::LinesThenDelay(
            rng.random_range(1..=6),
            Duration::from_micros(rng.random_range(0..=3_000)),
        ),
    }
}

fn spawn_writer(db: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fieldcheck"))
        .arg("--db")
        .arg(db)
        .args(["--as", USER, "dev", "write-loop", "--count", "1000000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fieldcheck")
}

/// A complete "saved <uuid> <code>" line. A line cut short by the kill has no newline and
/// is not counted as a promise.
fn parse_saved(line: &str) -> Option<(String, String)> {
    let line = line.strip_suffix('\n')?;
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("saved"), Some(id), Some(code), None) => {
            uuid::Uuid::parse_str(id).expect("saved line carries a uuid");
            Some((id.to_owned(), code.to_owned()))
        }
        _ => panic!("unexpected output line {line:?}"),
    }
}

struct Round {
    saved: Vec<(String, String)>,
    /// The child ended by itself instead of being killed (an error: it should loop forever).
    exited_alone: Option<String>,
}

fn run_round(db: &Path, kill: Kill) -> Round {
    let start = Instant::now();
    let mut child = spawn_writer(db);
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    // The receiver may be gone once the kill decision is made; keep reading
                    // so that every line written before the kill is collected.
                    let _ = tx.send(line.clone());
                    lines.push(line);
                }
            }
        }
        lines
    });
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });

    let wait_lines = |n: usize| {
        let mut seen = 0;
        while seen < n {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(_) => seen += 1,
                // The child died or hung: kill it anyway and let the checks tell.
                Err(_) => break,
            }
        }
    };
    match kill {
        Kill::Delay(d) => {
            thread::sleep(d.saturating_sub(start.elapsed()));
        }
        Kill::Lines(n) => wait_lines(n),
        Kill::LinesThenDelay(n, d) => {
            wait_lines(n);
            thread::sleep(d);
        }
    }
    // `kill` sends SIGKILL on Unix; an error means the child already exited.
    let _ = child.kill();
    let status = child.wait().unwrap();
    let lines = reader.join().unwrap();
    let err = err_reader.join().unwrap();
    let exited_alone = (status.signal() != Some(9)).then(|| format!("{status}: {err}"));
    Round {
        saved: lines.iter().filter_map(|l| parse_saved(l)).collect(),
        exited_alone,
    }
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn killed_writer_never_loses_or_half_writes_a_record() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("device.db");
    create_db(&db);

    let seed: u64 = std::env::var("FIELDCHECK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let rounds: usize = std::env::var("FIELDCHECK_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    println!("crash test: seed {seed} (FIELDCHECK_CRASH_SEED), {rounds} rounds");
    let mut rng = StdRng::seed_from_u64(seed);

    let mut saved: Vec<(String, String)> = Vec::new();
    let mut rounds_without_save = 0;
    let mut committed_unreported = 0i64;
    let mut last_total = 0i64;
    for round in 0..rounds {
        let kill = pick_kill(&mut rng, round);
        let r = run_round(&db, kill);
        if let Some(why) = r.exited_alone {
            panic!("round {round} ({kill:?}): the writer was not killed but exited: {why}");
        }
        if r.saved.is_empty() {
            rounds_without_save += 1;
        }
        saved.extend(r.saved);
        // Commits that returned but whose line never got out (killed between the commit and
        // the print) are allowed: the record is whole, the child just could not say so.
        let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let total = count(&conn, "SELECT count(*) FROM problems");
        assert!(
            total >= saved.len() as i64,
            "round {round} ({kill:?}): {total} problems stored but {} reported saved",
            saved.len()
        );
        committed_unreported = total - saved.len() as i64;
        assert!(total >= last_total, "round {round}: problems disappeared");
        last_total = total;
    }
    let loop_time = t0.elapsed();

    let conn = Connection::open(&db).unwrap();
    let ic: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ic, vec!["ok".to_string()], "PRAGMA integrity_check");

    // Every promise kept: the record with its code, and exactly one report event.
    {
        let mut code_of = conn
            .prepare("SELECT code FROM problems WHERE id = ?1")
            .unwrap();
        let mut reported = conn
            .prepare(
                "SELECT count(*) FROM events
                 WHERE entity_id = ?1 AND entity = 'problem' AND kind = 'problem.reported'",
            )
            .unwrap();
        for (id, code) in &saved {
            let stored: String = code_of
                .query_row([id], |r| r.get(0))
                .unwrap_or_else(|e| panic!("saved problem {id} ({code}) is missing: {e}"));
            assert_eq!(&stored, code, "code of saved problem {id}");
            let n: i64 = reported.query_row([id], |r| r.get(0)).unwrap();
            assert_eq!(n, 1, "problem.reported events for saved problem {id}");
        }
        let distinct: BTreeSet<&str> = saved.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            distinct.len(),
            saved.len(),
            "an id was reported saved twice"
        );
    }

    // Nothing half written: events and projections come in pairs.
    let problems = count(&conn, "SELECT count(*) FROM problems");
    assert_eq!(
        problems,
        count(
            &conn,
            "SELECT count(DISTINCT entity_id) FROM events WHERE entity = 'problem'"
        ),
        "problems vs. distinct problem entities in the event log"
    );
    assert_eq!(
        problems,
        count(&conn, "SELECT count(*) FROM events"),
        "only report events were written, one per problem"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM problems p
             WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.entity_id = p.id)"
        ),
        0,
        "problems without an event"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM events e
             WHERE NOT EXISTS (SELECT 1 FROM problems p WHERE p.id = e.entity_id)"
        ),
        0,
        "events without a projection"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM events WHERE pushed_at IS NULL AND origin = 'local'"
        ),
        problems,
        "every event is in the outbox"
    );

    // Every projection row has its folded state, and the search index matches the
    // projection: its own bookkeeping (one docsize row per document), the FTS5 integrity
    // check, and a real MATCH (the bigram phrase of the text) that must find every record.
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM problems p JOIN problem_states s ON s.rid = p.rid"
        ),
        problems,
        "every problem has its state"
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM problem_states"),
        problems,
        "no state without its problem"
    );
    // Every record is in the search index or noted for its next catch-up, never both and
    // never neither; the index passes FTS5's own integrity check.
    assert_eq!(
        count(&conn, "SELECT count(*) FROM problems_search_docsize")
            + count(&conn, "SELECT count(*) FROM search_pending"),
        problems,
        "indexed + pending records"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM search_pending s JOIN problems_search_docsize d ON d.id = s.rid
             WHERE s.reindex = 0"
        ),
        0,
        "a record both indexed and pending as new"
    );
    conn.execute(
        "INSERT INTO problems_search(problems_search) VALUES('integrity-check')",
        [],
    )
    .expect("fts5 integrity-check");

    // The code counter moved in the same transactions as the records: codes are unique and
    // their sequence numbers are exactly 1..=problem_seq, no gap, no reuse.
    let seq: i64 = conn
        .query_row(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'problem_seq'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(seq >= problems, "problem_seq {seq} < {problems} problems");
    assert_eq!(
        count(&conn, "SELECT count(DISTINCT code) FROM problems"),
        problems,
        "problem codes are unique"
    );
    let seqs: BTreeSet<i64> = conn
        .prepare("SELECT code FROM problems")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|c| {
            let c = c.unwrap();
            c.rsplit('-').next().unwrap().parse::<i64>().unwrap()
        })
        .collect();
    assert_eq!(
        seqs,
        (1..=seq).collect::<BTreeSet<_>>(),
        "code sequence numbers vs problem_seq {seq}"
    );

    // The clock was saved with the events: no event is newer than the persisted HLC, so a
    // restarted device cannot issue a timestamp that sorts before one it already used.
    let hlc_last: Hlc = conn
        .query_row("SELECT value FROM meta WHERE key = 'hlc_last'", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap()
        .parse()
        .unwrap();
    let newest: Option<Hlc> = conn
        .prepare("SELECT hlc FROM events")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|h| h.unwrap().parse::<Hlc>().unwrap())
        .max();
    if let Some(newest) = newest {
        assert!(
            newest <= hlc_last,
            "event HLC {newest} > hlc_last {hlc_last}"
        );
    }
    drop(conn);

    // And the device goes on working.
    let mut store = Store::open(&db).unwrap();
    let vol = store.actor(USER).unwrap();
    let p = store
        .report_problem(
            &vol,
            NewProblem {
                category: "SR-02".into(),
                description: "崩溃之后的新问题".into(),
                point_id: Some("p-009".into()),
                ..Default::default()
            },
        )
        .expect("write after the crashes");
    let codes: HashMap<String, String> = saved.iter().cloned().map(|(i, c)| (c, i)).collect();
    assert!(!codes.contains_key(&p.code), "new code {} reused", p.code);
    assert!(p.code.ends_with(&format!("-{:04}", seq + 1)), "{}", p.code);
    assert_eq!(store.problem(p.id).unwrap().code, p.code);
    assert_eq!(store.outbox_len().unwrap(), problems as u64 + 1);
    // After a catch-up the text search finds every record the killed writer saved.
    store.catch_up_search().unwrap();
    let found = store
        .list_problems(&ProblemQuery {
            text: Some("崩溃测试问题".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        found.total, problems as u64,
        "text search finds every record"
    );

    println!(
        "crash test: {rounds} kills in {:.1}s; {} saved records checked ({} stored, {} \
         committed but killed before the line got out), {rounds_without_save} rounds killed \
         before any save; total {:.1}s",
        loop_time.as_secs_f64(),
        saved.len(),
        problems,
        committed_unreported,
        t0.elapsed().as_secs_f64(),
    );
}
