//! Property test of convergence, as a seeded loop (the seed is printed; FIELDCHECK_SEED
//! replays it): per case 2–4 devices of different roles, each with its own clock skew, take
//! random lifecycle actions on random problems (each device only what its role may do; the
//! lifecycle still decides), syncs interleave at random through a proxy with random faults.
//! After final syncs every replica converges and no event is lost or doubled.

use fieldcheck_core::ProblemAction;
use fieldcheck_core::domain::event::RejectReason;
use fieldcheck_e2e::proxy::Proxy;
use fieldcheck_e2e::{Device, Server, assert_converged, quick_options, sync_all_until_quiescent};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const CASES: u64 = 6;
const STEPS: usize = 50;

fn random_action(rng: &mut impl Rng, d: &Device) -> Option<ProblemAction> {
    let note = || Some("随机".to_owned());
    Some(match d.actor.role.as_str() {
        "admin" => match rng.random_range(0..6) {
            0 | 1 => ProblemAction::File { note: None },
            2 => ProblemAction::Reject {
                reason: RejectReason::Invalid {
                    reason: "重复上报".into(),
                },
            },
            3 | 4 => ProblemAction::Dispatch {
                unit_id: "u-s-dj".into(),
                deadline: None,
                note: None,
            },
            _ => ProblemAction::Close { note: None },
        },
        "unit_handler" => match rng.random_range(0..5) {
            0 | 1 => ProblemAction::Accept { note: None },
            2 => ProblemAction::Return {
                reason: "非本单位职责".into(),
            },
            _ => ProblemAction::Rectify {
                photos: vec![d.photo(160, 120, rng.random_range(0..100_000))],
                note: note(),
            },
        },
        "inspector" => ProblemAction::Verify {
            passed: rng.random_bool(0.7),
            note: note(),
            photos: vec![],
        },
        _ => return None,
    })
}

async fn one_case(seed: u64) -> (u64, u64, u64, usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let server = Server::start().await;
    let proxy = Proxy::start(server.addr, seed, rng.random_range(0.3..0.5)).await;
    // The office is always there (nothing moves without it); 1–3 others join.
    let mut users = vec!["usr-vol-1", "usr-hdl-1", "usr-insp-1", "usr-admin-2"];
    users.shuffle(&mut rng);
    users.truncate(rng.random_range(1..=3));
    users.insert(0, "usr-admin-1");
    let mut devices = Vec::new();
    for u in &users {
        let d = Device::enroll(&proxy.url, &server.code_of(u), u, quick_options()).await;
        // Clock skew from 3 h behind to 2 h ahead (beyond the server's clamp).
        let skew = chrono::Duration::seconds(rng.random_range(-3 * 3600..2 * 3600));
        d.store
            .lock()
            .unwrap()
            .set_now(move || chrono::Utc::now() + skew);
        devices.push(d);
    }
    proxy.set_faults(true);
    let mut refused_locally = 0usize;
    for step in 0..STEPS {
        let d = &devices[rng.random_range(0..devices.len())];
        let known = d.problem_ids();
        if known.is_empty() || rng.random_bool(0.12) {
            // Anyone may report, sometimes with a photo.
            let photos = if rng.random_bool(0.3) {
                vec![d.photo(200, 150, rng.random_range(0..100_000))]
            } else {
                vec![]
            };
            d.report(&format!("随机问题 {seed} {step}"), photos);
        } else if let Some(action) = random_action(&mut rng, d) {
            let id = known[rng.random_range(0..known.len())];
            if d.act(id, action).is_err() {
                refused_locally += 1;
            }
        }
        if rng.random_bool(0.4) {
            let d = &devices[rng.random_range(0..devices.len())];
            let _ = d.sync().await;
        }
    }
    let all: Vec<&Device> = devices.iter().collect();
    sync_all_until_quiescent(&all, 12).await;
    let c = assert_converged(&server.base, &server.db_path, server.store.as_ref(), &all).await;
    let s = proxy.stats();
    eprintln!(
        "case seed {seed}: users {users:?}, {} requests, {} faults, {} events, {} records, {refused_locally} actions refused locally",
        s.requests, s.faults, c.server_events, c.records
    );
    (s.requests, s.faults, c.server_events, c.records)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_actions_faults_and_clocks_converge() {
    let seed = fieldcheck_e2e::seed("convergence");
    let mut totals = (0, 0, 0, 0);
    for case in 0..CASES {
        let case_seed = seed.wrapping_add(case.wrapping_mul(0x2545_F491_4F6C_DD1D));
        eprintln!("case {case}: seed {case_seed} (FIELDCHECK_SEED={seed})");
        let (r, f, e, n) = one_case(case_seed).await;
        totals = (totals.0 + r, totals.1 + f, totals.2 + e, totals.3 + n);
    }
    eprintln!(
        "seed {seed}: {CASES} cases, {} requests, {} faults, {} events, {} records",
        totals.0, totals.1, totals.2, totals.3
    );
    assert!(totals.1 * 10 >= totals.0 * 3, "{totals:?}");
}
