//! The ledger's text search (`q`) through the bigram index (migration 0008) gives exactly what
//! the plain `LIKE '%q%'` over code and description gives, on SQLite and on PostgreSQL: a few
//! hundred varied problems pushed through the real push path, queried over HTTP, compared with
//! the plain LIKE run on the same store — Chinese words of one, two and many characters, codes,
//! addresses (indexed but not searched), punctuation, `%`, `_` and `\` taken literally, case.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::*;
use fieldcheck_domain::event::{EventBody, ProblemEdit, ProblemReported};
use fieldcheck_domain::reference::User;
use fieldcheck_domain::{Event, Severity};
use fieldcheck_protocol::sync::PushStatus;
use fieldcheck_server::Store;
use fieldcheck_server::demo::DEMO_PASSWORD;
use fieldcheck_server::store::ledger::{self, Arg, Col, Select};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const PHRASES: &[&str] = &[
    "垃圾堆放",
    "暴露垃圾",
    "井盖缺失",
    "井盖破损",
    "占道经营",
    "道路积水",
    "积水严重",
    "广告牌破损",
    "路灯不亮",
    "绿化带杂物",
    "共享单车乱停放",
    "违章搭建",
    "污水外溢",
    "垃圾桶满溢",
    "东街",
    "路灯",
    "Pothole near EXIT",
    "ABC-12 sign",
    "50%_off banner",
    "100% 满溢",
    "under_score",
    "back\\slash",
    "东街|路灯",
    "，。！",
    "GPS坐标偏差",
    "Ω形护栏",
    "第3次复查",
    "编号A7",
];

const ADDRESSES: &[&str] = &[
    "鼓楼区八一七北路 12 号",
    "台江区东街口",
    "仓山区上渡路 88-1",
    "晋安区福新中路",
    "",
];

const QUERIES: &[&str] = &[
    "垃圾",
    "井盖",
    "占道",
    "垃",
    "圾",
    "溢",
    "圾堆",
    "垃圾堆放",
    "暴露垃圾堆放",
    "积水严重",
    "严重积水",
    "八一七",
    "鼓楼区",
    "东街",
    "街路",
    "东街路灯",
    "东街|路灯",
    "GL-20261123",
    "gl-2026",
    "GL-20261123-K7Q2-0007",
    "K7Q2",
    "k7q2",
    "0007",
    "7",
    "A",
    "a",
    "-",
    "%",
    "_",
    "\\",
    "50%",
    "%_",
    "50%_off",
    "0%_o",
    "100% 满",
    "100%满",
    "under_score",
    "under score",
    "back\\slash",
    "Pothole",
    "pothole",
    "exit",
    "EXIT",
    "ole ne",
    "，",
    "！",
    "满溢",
    "Ω",
    "ω",
    "GPS",
    "gps坐标",
    "第3次",
    "3",
    "A7",
    "号A",
    "共享单车乱停放在人行道上",
    "单车乱停放",
    "不存在的词",
    "zz",
    "哈",
    "哈哈",
    "哈哈井盖",
    "哈井盖缺失呵呵",
    "呵哈",
    "LONG",
];

/// A deterministic spread of problems: codes of several days and sequences, one to three
/// phrases joined with or without separators, an address from the list.
fn specs(n: usize) -> Vec<(String, String, String)> {
    let mut seed: u64 = 0x5eed;
    let mut next = |m: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as usize) % m
    };
    let chunks = ["K7Q2", "A1B2", "ZZ09", "k7q3"];
    let seps = ["", "，", " ", "、", "-"];
    (0..n)
        .map(|i| {
            let code = format!(
                "GL-202611{:02}-{}-{:04}",
                20 + next(5),
                chunks[next(chunks.len())],
                i
            );
            let parts = 1 + next(3);
            let sep = seps[next(seps.len())];
            let description: Vec<&str> = (0..parts).map(|_| PHRASES[next(PHRASES.len())]).collect();
            let address = ADDRESSES[next(ADDRESSES.len())].to_owned();
            (code, description.join(sep), address)
        })
        .collect()
}

fn report(u: &User, id: Uuid, at: i64, code: &str, description: &str, address: &str) -> Event {
    ev(
        u,
        id,
        at,
        EventBody::ProblemReported(Box::new(ProblemReported {
            code: code.to_owned(),
            category: "SR-02".into(),
            description: description.to_owned(),
            location: None,
            address: address.to_owned(),
            district_id: Some("c-dm".into()),
            point_id: None,
            item_id: None,
            inspection_id: None,
            severity: Severity::default(),
            placement: None,
        })),
    )
}

fn edit(u: &User, id: Uuid, at: i64, description: &str) -> Event {
    ev(
        u,
        id,
        at,
        EventBody::ProblemEdited(ProblemEdit {
            description: Some(description.to_owned()),
            ..ProblemEdit::default()
        }),
    )
}

async fn push_ok(s: &Server, token: &str, events: Vec<Event>) {
    for batch in events.chunks(40) {
        let r = s.push(token, batch.to_vec()).await;
        for res in &r.results {
            assert!(matches!(res.status, PushStatus::Applied), "{res:?}");
        }
    }
}

async fn cookie(s: &Server) -> String {
    let r = s
        .http
        .post(s.url("/console/session"))
        .json(&json!({"username": "usr-admin-1", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let c = r.headers()["set-cookie"].to_str().unwrap();
    c.split(';').next().unwrap().to_owned()
}

/// Every problem the ledger finds for `q` (all pages), checked against its total.
async fn found(s: &Server, cookie: &str, q: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut offset = 0;
    loop {
        let r = s
            .http
            .get(s.url("/console/problems"))
            .query(&[("q", q), ("limit", "200"), ("offset", &offset.to_string())])
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{q:?}");
        let page: Value = r.json().await.unwrap();
        let rows = page["rows"].as_array().unwrap();
        for row in rows {
            ids.insert(row["id"].as_str().unwrap().to_owned());
        }
        let total = page["total"].as_u64().unwrap() as usize;
        offset += 200;
        if offset >= total {
            assert_eq!(ids.len(), total, "{q:?}");
            return ids;
        }
    }
}

/// The plain LIKE of before the index, run on the same store: the reference.
async fn plain_like(store: &dyn Store, q: &str) -> BTreeSet<String> {
    let q = q.trim();
    let escaped = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let stmt = Select {
        sql: "SELECT id FROM problems \
              WHERE code LIKE $1 ESCAPE '\\' OR description LIKE $1 ESCAPE '\\'"
            .to_owned(),
        args: vec![Arg::Text(format!("%{escaped}%"))],
        columns: vec![Col::Text],
    };
    let rows = store.select(&[stmt]).await.unwrap();
    rows[0]
        .iter()
        .map(|r| r[0].text().unwrap().to_owned())
        .collect()
}

async fn assert_same_as_like(s: &Server, cookie: &str, queries: &[&str]) -> usize {
    let mut hits = 0;
    for q in queries {
        let want = plain_like(s.store.as_ref(), q).await;
        let got = found(s, cookie, q).await;
        assert_eq!(got, want, "q = {q:?}");
        hits += usize::from(!want.is_empty());
    }
    hits
}

async fn index_search_equals_plain_like(pg: bool) {
    let e = Env::new(pg, |_| {})
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (db test) must be reachable");
    let s = &e.s;
    let inspector = user("usr-insp-1");
    let token = s.enroll("usr-insp-1").await;
    let t0 = now_ms() - 86_400_000;
    let specs = specs(320);
    let ids: Vec<Uuid> = specs.iter().map(|_| Uuid::now_v7()).collect();
    let events = specs
        .iter()
        .zip(&ids)
        .enumerate()
        .map(|(i, ((code, d, a), id))| report(&inspector, *id, t0 + i as i64, code, d, a))
        .collect();
    push_ok(s, &token, events).await;
    // Too long for a PostgreSQL tsvector (more than 256 of one term): matched on its text.
    let long = Uuid::now_v7();
    let text = format!("{}井盖缺失{}", "哈".repeat(600), "呵呵".repeat(600));
    let event = report(&inspector, long, t0 - 1, "GL-20261201-LONG-0001", &text, "");
    push_ok(s, &token, vec![event]).await;
    let admin = cookie(s).await;
    assert!(found(s, &admin, "哈哈哈").await.contains(&long.to_string()));

    let hits = assert_same_as_like(s, &admin, QUERIES).await;
    assert!(hits >= 40, "only {hits} queries found anything");
    // Every phrase, and every two-character piece of one, too.
    let mut pieces: Vec<String> = PHRASES.iter().map(|p| (*p).to_owned()).collect();
    for p in PHRASES {
        let cs: Vec<char> = p.chars().collect();
        pieces.extend(cs.windows(2).map(|w| w.iter().collect::<String>()));
    }
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    assert_same_as_like(s, &admin, &pieces).await;

    // A description rewritten by an edit leaves the index with its old text.
    let edits = ids[..20]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            edit(
                &inspector,
                *id,
                t0 + 1_000_000 + i as i64,
                "改为：消防通道堵塞",
            )
        })
        .collect();
    push_ok(s, &token, edits).await;
    assert_eq!(
        found(s, &admin, "消防通道").await,
        ids[..20].iter().map(Uuid::to_string).collect()
    );
    assert_same_as_like(s, &admin, QUERIES).await;
    e.finish().await;
}
both_backends!(index_search_equals_plain_like);

/// Problems stored before migration 0008 have no terms; the backfill gives them theirs.
async fn backfill_indexes_older_problems(pg: bool) {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let url = std::env::var("FIELDCHECK_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_owned());
    let schema = format!("t_{}", Uuid::new_v4().simple());
    let (s, pool) = if pg {
        let admin = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let store = fieldcheck_server::store::PgStore::open(&url, Some(&schema))
            .await
            .unwrap();
        store.put_reference(&bundle()).await.unwrap();
        let s = Server::start_on(config, Arc::new(store), None, true).await;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_with(
                url.parse::<sqlx::postgres::PgConnectOptions>()
                    .unwrap()
                    .options([("search_path", schema.as_str())]),
            )
            .await
            .unwrap();
        (s, Err(pool))
    } else {
        let db = config.database_url.clone();
        let s = Server::start_with(config, None, true).await;
        let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
        (s, Ok(pool))
    };
    let inspector = user("usr-insp-1");
    let token = s.enroll("usr-insp-1").await;
    let id = Uuid::now_v7();
    let event = report(
        &inspector,
        id,
        now_ms() - 1_000,
        "GL-20261201-OLD1-0001",
        "旧台账里的井盖缺失",
        "鼓楼区",
    );
    push_ok(&s, &token, vec![event]).await;
    let admin = cookie(&s).await;
    let mine = BTreeSet::from([id.to_string()]);
    assert_eq!(found(&s, &admin, "井盖缺失").await, mine);

    let forget = "UPDATE problems SET search = NULL";
    let done = match &pool {
        Ok(p) => {
            sqlx::query(forget).execute(p).await.unwrap();
            assert!(found(&s, &admin, "井盖缺失").await.is_empty());
            let n = ledger::backfill_search(p).await.unwrap();
            assert_eq!(ledger::backfill_search(p).await.unwrap(), 0);
            n
        }
        Err(p) => {
            sqlx::query(forget).execute(p).await.unwrap();
            assert!(found(&s, &admin, "井盖缺失").await.is_empty());
            let n = ledger::backfill_search(p).await.unwrap();
            assert_eq!(ledger::backfill_search(p).await.unwrap(), 0);
            n
        }
    };
    assert!(done >= 1);
    assert_eq!(found(&s, &admin, "井盖缺失").await, mine);
    assert_eq!(found(&s, &admin, "OLD1").await, mine);
    s.stop().await;
    match pool {
        Ok(p) => p.close().await,
        Err(p) => {
            p.close().await;
            let admin = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
        }
    }
}
both_backends!(backfill_indexes_older_problems);
