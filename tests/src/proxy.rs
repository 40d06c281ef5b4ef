//! A fault-injecting HTTP/1.1 proxy (tokio) between devices and the server.
//!
//! Every request is read completely (head and `Content-Length` body), then one fault is drawn
//! from an RNG seeded with `(seed, request number)`, so a run's sequence of faults replays
//! from its seed. The request goes upstream on its own connection with `Connection: close`,
//! so the server's answer ends at EOF and the device opens a new connection per request.
//! A test can also force one fault on the next requests to a path ([`Proxy::force`]), to
//! stage an exact failure such as a lost enrollment answer. With several upstreams
//! ([`Proxy::start_many`]) it is also a load balancer that sends each request to one of them
//! at random (drawn from the same seeded RNG), as a city's would with several server
//! instances.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    Pass,
    /// The connection closes before anything is forwarded: the server never sees it.
    DropBefore,
    /// Forwarded and answered (the server committed), then the answer is thrown away.
    DropAfter,
    /// Half the request body goes upstream, then both connections are reset.
    ResetMidBody,
    /// Forwarded after a pause.
    Delay,
    /// Forwarded twice (one after the other, or both at once); one answer goes back.
    Duplicate,
    /// The proxy answers 500 itself.
    Status500,
    /// The proxy answers 503 itself.
    Status503,
    /// The whole request goes upstream, then the connection is closed without waiting for
    /// the answer (a phone killed while the server works on its request). Only by
    /// [`Proxy::force`].
    CutAfterSend,
}

pub const FAULTS: [Fault; 7] = [
    Fault::DropBefore,
    Fault::DropAfter,
    Fault::ResetMidBody,
    Fault::Delay,
    Fault::Duplicate,
    Fault::Status500,
    Fault::Status503,
];

/// Counts of what the proxy did.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub requests: u64,
    pub faults: u64,
    pub by_fault: std::collections::BTreeMap<Fault, u64>,
    /// Request lines that got a fault, for the failure message.
    pub log: Vec<String>,
    /// Requests sent to each upstream (with several).
    pub by_upstream: std::collections::BTreeMap<SocketAddr, u64>,
}

struct State {
    upstreams: Vec<SocketAddr>,
    seed: u64,
    rate: f64,
    enabled: AtomicBool,
    counter: AtomicU64,
    stats: Mutex<Stats>,
    /// (request line contains, fault, requests left)
    forced: Mutex<Vec<(String, Fault, u64)>>,
}

pub struct Proxy {
    pub url: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `upstream` on port 0; `rate` is the share of requests that get a
    /// fault (drawn uniformly from [`FAULTS`]). Faults start disabled.
    pub async fn start(upstream: SocketAddr, seed: u64, rate: f64) -> Proxy {
        Proxy::start_many(vec![upstream], seed, rate).await
    }

    /// [`Proxy::start`] in front of several servers: each request goes to one at random.
    pub async fn start_many(upstreams: Vec<SocketAddr>, seed: u64, rate: f64) -> Proxy {
        assert!(!upstreams.is_empty());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            upstreams,
            seed,
            rate,
            enabled: AtomicBool::new(false),
            counter: AtomicU64::new(0),
            stats: Mutex::new(Stats::default()),
            forced: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = handle(conn, st).await;
                });
            }
        });
        Proxy { url, state, task }
    }

    pub fn set_faults(&self, on: bool) {
        self.state.enabled.store(on, Ordering::SeqCst);
    }

    /// The next `times` requests whose request line contains `path` get `fault`, whether
    /// random faults are on or not.
    pub fn force(&self, path: &str, fault: Fault, times: u64) {
        let mut forced = self.state.forced.lock().unwrap();
        forced.retain(|(p, _, _)| p != path);
        forced.push((path.to_owned(), fault, times));
    }

    pub fn stats(&self) -> Stats {
        self.state.stats.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request: (head with `Connection: close`, body, request line).
async fn read_request(conn: &mut TcpStream) -> std::io::Result<Option<(Vec<u8>, Vec<u8>, String)>> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut tmp).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut length = 0usize;
    let mut new_head = format!("{request_line}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("connection:") || lower.starts_with("keep-alive:") {
            continue;
        }
        new_head.push_str(line);
        new_head.push_str("\r\n");
    }
    new_head.push_str("connection: close\r\n\r\n");
    while buf.len() < head_end + length {
        let n = conn.read(&mut tmp).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let body = buf[head_end..head_end + length].to_vec();
    Ok(Some((new_head.into_bytes(), body, request_line)))
}

async fn forward(upstream: SocketAddr, head: &[u8], body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(head).await?;
    up.write_all(body).await?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp).await?;
    Ok(resp)
}

/// Closes with RST instead of FIN (SO_LINGER 0), as a network that breaks does.
fn reset(conn: TcpStream) {
    let _ = conn.set_zero_linger();
    drop(conn);
}

async fn handle(mut conn: TcpStream, st: Arc<State>) -> std::io::Result<()> {
    let Some((head, body, line)) = read_request(&mut conn).await? else {
        return Ok(());
    };
    let n = st.counter.fetch_add(1, Ordering::SeqCst);
    let mut rng = rand::rngs::StdRng::seed_from_u64(
        st.seed ^ n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    let forced = {
        let mut forced = st.forced.lock().unwrap();
        forced
            .iter_mut()
            .find(|(path, _, left)| *left > 0 && line.contains(path.as_str()))
            .map(|(_, fault, left)| {
                *left -= 1;
                *fault
            })
    };
    // Drawn only with a choice to make, so single-upstream seeds replay as before.
    let upstream = if st.upstreams.len() > 1 {
        let up = st.upstreams[rng.random_range(0..st.upstreams.len())];
        *st.stats.lock().unwrap().by_upstream.entry(up).or_default() += 1;
        up
    } else {
        st.upstreams[0]
    };
    let fault = if let Some(f) = forced {
        f
    } else if st.enabled.load(Ordering::SeqCst) && rng.random_bool(st.rate) {
        FAULTS[rng.random_range(0..FAULTS.len())]
    } else {
        Fault::Pass
    };
    {
        let mut s = st.stats.lock().unwrap();
        s.requests += 1;
        if fault != Fault::Pass {
            s.faults += 1;
            *s.by_fault.entry(fault).or_default() += 1;
            s.log.push(format!("#{n} {fault:?} {line}"));
        }
    }
    let resp = match fault {
        Fault::Pass => forward(upstream, &head, &body).await?,
        Fault::DropBefore => return Ok(()),
        Fault::DropAfter => {
            forward(upstream, &head, &body).await?;
            return Ok(());
        }
        Fault::ResetMidBody => {
            let mut up = TcpStream::connect(upstream).await?;
            if body.is_empty() {
                up.write_all(&head[..head.len() / 2]).await?;
            } else {
                up.write_all(&head).await?;
                up.write_all(&body[..body.len() / 2]).await?;
            }
            up.flush().await?;
            tokio::time::sleep(Duration::from_millis(5)).await;
            reset(up);
            reset(conn);
            return Ok(());
        }
        Fault::CutAfterSend => {
            let mut up = TcpStream::connect(upstream).await?;
            up.write_all(&head).await?;
            up.write_all(&body).await?;
            up.shutdown().await?;
            drop(up);
            reset(conn);
            return Ok(());
        }
        Fault::Delay => {
            tokio::time::sleep(Duration::from_millis(rng.random_range(20..400))).await;
            forward(upstream, &head, &body).await?
        }
        Fault::Duplicate => {
            if rng.random_bool(0.5) {
                let (a, b) = tokio::join!(
                    forward(upstream, &head, &body),
                    forward(upstream, &head, &body)
                );
                if rng.random_bool(0.5) { a? } else { b? }
            } else {
                forward(upstream, &head, &body).await?;
                forward(upstream, &head, &body).await?
            }
        }
        Fault::Status500 | Fault::Status503 => {
            let (code, text) = if fault == Fault::Status500 {
                (500, "Internal Server Error")
            } else {
                (503, "Service Unavailable")
            };
            let msg = format!(r#"{{"code":"injected","message":"injected {code}"}}"#);
            format!(
                "HTTP/1.1 {code} {text}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{msg}",
                msg.len()
            )
            .into_bytes()
        }
    };
    conn.write_all(&resp).await?;
    conn.shutdown().await?;
    Ok(())
}
