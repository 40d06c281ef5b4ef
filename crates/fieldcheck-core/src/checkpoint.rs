//! WAL checkpoints on a thread of their own, so a person's save never pays for one.
//!
//! With SQLite's automatic checkpoint, the commit that crosses the threshold copies the whole
//! WAL into the database file and fsyncs it: one save in ~50 took 5–15 ms instead of 0.2 ms
//! (ledger_bench). Here the writer connection only appends to the WAL; this thread, woken by
//! the writer's commits, copies committed frames into the database (PASSIVE: it never blocks
//! the writer), and goes round again at once while the writer adds frames faster than one
//! pass copies them. When the writer is idle the pass copies everything and the next save
//! starts the WAL from its beginning.
//!
//! Under a continuous stream of saves (a first pull, the benchmark) the WAL is never idle, so
//! the writer keeps SQLite's automatic checkpoint at a large size: the thread has already
//! copied nearly every frame, the writer copies the few left and syncs, and its next save
//! rewinds the WAL. A RESTART checkpoint from this thread was tried and is worse: it waits
//! for the writer through the busy handler while the writer keeps committing, then holds the
//! write lock while it copies everything (1–5 s stalls, the WAL grown to 2 GB in ledger_bench).

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// The writer's own automatic checkpoint (pages): how large the WAL grows under a continuous
/// stream of saves before the writer rewinds it (see the module comment); src/db.rs keeps
/// the file's size limit just above it.
pub(crate) const WRITER_AUTOCHECKPOINT_PAGES: i64 = 8192;
/// Frames a pass may leave uncopied before the next pass starts without waiting.
const CATCH_UP_PAGES: i64 = 1024;
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
        while let Some((wal, copied)) = checkpoint(&conn) {
            if wal - copied <= CATCH_UP_PAGES {
                break;
            }
        }
    }
}

/// Runs a PASSIVE checkpoint; the WAL's size and how much of it is now in the database
/// (pages), or `None` when it could not run (the writer's own checkpoint was running, the
/// database is gone); the next commit tries again.
fn checkpoint(conn: &Connection) -> Option<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
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
