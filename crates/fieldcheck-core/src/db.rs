//! Connection setup and embedded migrations.

use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use crate::error::Result;

static MIGRATIONS: LazyLock<Migrations<'static>> = LazyLock::new(|| {
    Migrations::new(vec![
        M::up(include_str!("../../../migrations/device/0001_initial.sql")),
        M::up(include_str!("../../../migrations/device/0002_sync.sql")),
        M::up(include_str!(
            "../../../migrations/device/0003_thin_ledger.sql"
        )),
        M::up(include_str!(
            "../../../migrations/device/0004_refused_records.sql"
        )),
        M::up(include_str!(
            "../../../migrations/device/0005_server_restore.sql"
        )),
        M::up(include_str!(
            "../../../migrations/device/0006_photo_stamps.sql"
        )),
    ])
});

/// Opens (creating if needed) and migrates a device database. Pragmas are per connection, so
/// every connection goes through here.
pub fn open(path: &Path) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    crate::search::register(&conn)?;
    MIGRATIONS.to_latest(&mut conn)?;
    // Planner statistics for the ledger's indexes, cheap when nothing changed (SQLite's advice
    // for long-lived connections: 0x10002 = analyse what needs it, with a row limit).
    conn.execute_batch("PRAGMA optimize = 0x10002")?;
    Ok(conn)
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // WAL + NORMAL survives a killed process (the crash test proves it); only an OS crash or
    // power loss can lose the last commits, and a phone keeps running on battery.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Hot ledger pages (thin rows, indexes, search index) stay in the process instead of
    // being read from the OS for every query; the 2 MB default is small for 100,000 records.
    conn.pragma_update(None, "cache_size", -16_384)?;
    // After the WAL is rewound (src/checkpoint.rs) its file is cut back to this size: just
    // above the size a continuous stream of saves reaches, so such a stream reuses the file
    // instead of cutting and regrowing it every few thousand saves.
    conn.pragma_update(
        None,
        "journal_size_limit",
        (crate::checkpoint::WRITER_AUTOCHECKPOINT_PAGES + 2048) * 4096,
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

#[cfg(test)]
mod tests {
    /// `Migrations::validate` would run them on a connection without `fc_search_terms`.
    #[test]
    fn migrations_are_valid() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::search::register(&conn).unwrap();
        super::MIGRATIONS.to_latest(&mut conn).unwrap();
        conn.execute_batch("PRAGMA foreign_key_check; PRAGMA integrity_check")
            .unwrap();
    }
}
