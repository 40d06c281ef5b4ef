//! WAL checkpoints on a thread of their own, so a person's save never pays for one.
//!
//! With SQLite's automatic checkpoint, the commit that crosses the threshold copies the whole
//! WAL into the database file and fsyncs it: one save in ~50 took 5–15 ms instead of 0.2 ms
//! (ledger_bench). Here the writer connection only appends to the WAL; this thread, woken by
//! the writer's commits, copies committed frames into the database (PASSIVE: it never blocks
//! the writer). A PASSIVE checkpoint cannot rewind the WAL while writes keep arriving, so once
//! the WAL is large a RESTART checkpoint finishes the few frames left and lets the next write
//! start the WAL from its beginning; only that brief step can make a save wait.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// WAL size (pages) at which the thread also rewinds the WAL.
const RESTART_AT_PAGES: i64 = 8192;
/// The writer's own automatic checkpoint, a safety net should this thread fall behind.
const WRITER_AUTOCHECKPOINT_PAGES: i64 = 20_000;
/// Commits arriving within this time are covered by one checkpoint.
const COALESCE: Duration = Duration::from_millis(100);

pub(crate) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread and hooks it to `writer`'s commits. If the thread cannot open its
    /// own connection, the writer's automatic checkpoint keeps the WAL bounded instead.
    pub(crate) fn start(path: &Path, writer: &Connection) -> Checkpointer {
        let conn = match Connection::open(path).and_then(|c| {
            c.busy_timeout(Duration::from_secs(5))?;
            writer.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)?;
            Ok(c)
        }) {
            Ok(c) => c,
            Err(_) => {
                return Checkpointer {
                    wake: None,
                    thread: None,
                };
            }
        };
        let (wake, rx) = sync_channel::<()>(1);
        let hook_wake = wake.clone();
        writer.commit_hook(Some(move || {
            // A full channel already means "there is work"; never block the commit.
            let _ = match hook_wake.try_send(()) {
                Err(TrySendError::Full(())) => Ok(()),
                other => other,
            };
            false
        }));
        let thread = std::thread::Builder::new()
            .name("fieldcheck-checkpoint".into())
            .spawn(move || run(conn, rx))
            .ok();
        Checkpointer {
            wake: Some(wake),
            thread,
        }
    }
}

fn run(conn: Connection, wake: Receiver<()>) {
    while wake.recv().is_ok() {
        // Let a burst of commits finish first; the channel holds at most one wake-up.
        std::thread::sleep(COALESCE);
        let _ = wake.try_recv();
        let wal_pages = checkpoint(&conn, "PASSIVE");
        if wal_pages.is_some_and(|n| n >= RESTART_AT_PAGES) {
            checkpoint(&conn, "RESTART");
        }
    }
}

/// Runs a checkpoint; the WAL's size in pages, or `None` when it could not run (another
/// checkpoint was running, the database is gone); the next commit tries again.
fn checkpoint(conn: &Connection, mode: &str) -> Option<i64> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        r.get::<_, i64>(1)
    })
    .ok()
}

impl Checkpointer {
    /// Unhooks `writer` and waits for the thread to finish its current checkpoint.
    pub(crate) fn stop(&mut self, writer: &Connection) {
        writer.commit_hook(None::<fn() -> bool>);
        self.wake.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
