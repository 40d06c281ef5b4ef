//! The device side of sync: what the client reads from and writes to the store. Every method
//! is synchronous and, where it writes, one transaction, so a sync cancelled or killed
//! between two steps leaves a consistent device that simply resumes next time.

use std::fmt;

use fieldcheck_domain::event::EntityKind;
use fieldcheck_domain::reference::User;
use fieldcheck_domain::{Event, EventOutcome};
use fieldcheck_protocol::ReferenceBundle;
use fieldcheck_protocol::sync::{PullItem, PullResponse};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use uuid::Uuid;

use super::plan::PushDecision;
use crate::error::{CoreError, Result};
use crate::store::{Store, apply_remote_in, meta_get, meta_set, refold};

const SERVER: &str = "sync_server";
const TOKEN: &str = "sync_token";
const USER: &str = "sync_user";
const CURSOR: &str = "sync_cursor";
const REF_VERSION: &str = "sync_reference_version";

/// What a device needs to talk to its server.
#[derive(Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// API base, e.g. `http://10.0.0.5:8080/api/v1`.
    pub server: String,
    pub token: String,
    pub user_id: String,
    pub device_tag: String,
}

/// The token is a credential: it never appears in logs or output.
impl fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enrollment")
            .field("server", &self.server)
            .field("token", &"<redacted>")
            .field("user_id", &self.user_id)
            .field("device_tag", &self.device_tag)
            .finish()
    }
}

/// A local event that did not land as the person meant: refused by the server (not stored),
/// or stored but rejected by the state machine (e.g. it lost a conflict).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Rejection {
    pub event_id: Uuid,
    pub entity_id: Uuid,
    /// The record's human code (problems), when the device has the record.
    pub record_code: Option<String>,
    pub kind: String,
    pub code: String,
    pub message: String,
}

/// What recording one push response did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushRecorded {
    pub applied: usize,
    pub duplicates: usize,
    pub clamped: usize,
    pub refused: Vec<Rejection>,
    /// Stored, but the server's fold rejected them.
    pub rejected: Vec<Rejection>,
}

/// What applying one pull page did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageApplied {
    pub inserted: usize,
    pub duplicates: usize,
    pub removed: usize,
}

/// A photo whose display copy is to be uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPhoto {
    pub hash: String,
    pub bytes: u64,
}

/// What the device knows about its sync state (for status screens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncState {
    pub server: Option<String>,
    pub user_id: Option<String>,
    pub outbox: u64,
    pub photos_pending: u64,
    pub cursor: u64,
    pub reference_version: Option<u64>,
}

fn meta_u64(conn: &Connection, key: &str) -> Result<Option<u64>> {
    meta_get(conn, key)?
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| CoreError::Corrupt(format!("meta {key} = {v:?}")))
        })
        .transpose()
}

impl Store {
    /// The enrollment, when this device has one.
    pub fn enrollment(&self) -> Result<Option<Enrollment>> {
        let get = |k| meta_get(&self.conn, k);
        match (get(SERVER)?, get(TOKEN)?, get(USER)?) {
            (Some(server), Some(token), Some(user_id)) => Ok(Some(Enrollment {
                server,
                token,
                user_id,
                device_tag: self.device().tag.clone(),
            })),
            _ => Ok(None),
        }
    }

    pub fn sync_state(&self) -> Result<SyncState> {
        let e = self.enrollment()?;
        Ok(SyncState {
            server: e.as_ref().map(|e| e.server.clone()),
            user_id: e.map(|e| e.user_id),
            outbox: self.outbox_len()?,
            photos_pending: self.photo_upload_queue()?.len() as u64,
            cursor: meta_u64(&self.conn, CURSOR)?.unwrap_or(0),
            reference_version: meta_u64(&self.conn, REF_VERSION)?,
        })
    }

    /// Stores a fresh enrollment in one transaction. A different server (or user) means a
    /// different event stream: the pull cursor and reference version start over.
    pub(crate) fn save_enrollment(&mut self, e: &Enrollment) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let same = meta_get(&tx, SERVER)?.as_deref() == Some(e.server.as_str())
            && meta_get(&tx, USER)?.as_deref() == Some(e.user_id.as_str());
        if !same {
            tx.execute(
                "DELETE FROM meta WHERE key IN (?1, ?2)",
                params![CURSOR, REF_VERSION],
            )?;
        }
        meta_set(&tx, SERVER, &e.server)?;
        meta_set(&tx, TOKEN, &e.token)?;
        meta_set(&tx, USER, &e.user_id)?;
        meta_set(&tx, "device_tag", &e.device_tag)?;
        tx.commit()?;
        self.set_device_tag(&e.device_tag);
        Ok(())
    }

    pub(crate) fn pull_cursor(&self) -> Result<u64> {
        Ok(meta_u64(&self.conn, CURSOR)?.unwrap_or(0))
    }

    pub(crate) fn server_reference_version(&self) -> Result<Option<u64>> {
        meta_u64(&self.conn, REF_VERSION)
    }

    /// Imports the server's reference bundle with its version, in one transaction. The
    /// enrolled user becomes the signed-in user when nobody is (or right after enrollment,
    /// when `sign_in` is set), now that the device knows who they are.
    pub(crate) fn import_server_reference(
        &mut self,
        version: u64,
        bundle: &ReferenceBundle,
        sign_in: bool,
    ) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        crate::reference::import_into(&tx, bundle)?;
        meta_set(&tx, REF_VERSION, &version.to_string())?;
        if let Some(user) = meta_get(&tx, USER)? {
            let known = tx
                .prepare_cached("SELECT 1 FROM ref_users WHERE id = ?1")?
                .exists([&user])?;
            let nobody = meta_get(&tx, "current_user")?.is_none();
            if known && (sign_in || nobody) {
                meta_set(&tx, "current_user", &user)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records the server's answers to a push batch in one transaction: stored events leave
    /// the outbox (adopting a clamped timestamp and the server's verdict), refused ones leave
    /// it too but stay on the record, marked, and out of every fold.
    pub(crate) fn record_push(
        &mut self,
        decisions: &[(Uuid, PushDecision)],
    ) -> Result<PushRecorded> {
        let now = self.now().timestamp_millis();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut out = PushRecorded::default();
        let mut touched: Vec<(EntityKind, Uuid)> = Vec::new();
        for (id, decision) in decisions {
            let Some(mut ev) = local_event(&tx, *id)? else {
                continue;
            };
            match decision {
                PushDecision::Stored {
                    duplicate,
                    hlc,
                    verdict,
                } => {
                    if *duplicate {
                        out.duplicates += 1;
                    } else {
                        out.applied += 1;
                    }
                    if let Some(hlc) = hlc {
                        // The server's timestamp is the one every replica folds with.
                        ev.hlc = hlc.clone();
                        tx.prepare_cached("UPDATE events SET hlc = ?2, body = ?3 WHERE id = ?1")?
                            .execute(params![
                                id.to_string(),
                                ev.hlc.to_string(),
                                serde_json::to_string(&ev)?
                            ])?;
                        out.clamped += 1;
                        push_touched(&mut touched, &ev);
                    }
                    tx.prepare_cached(
                        "UPDATE events SET pushed_at = ?2, server_outcome = ?3 WHERE id = ?1",
                    )?
                    .execute(params![
                        id.to_string(),
                        now,
                        verdict.as_ref().map(serde_json::to_string).transpose()?
                    ])?;
                    if let Some(EventOutcome::Rejected { code, message }) = verdict {
                        out.rejected.push(rejection(
                            &tx,
                            &ev,
                            code.as_str().to_owned(),
                            message.clone(),
                        )?);
                    }
                }
                PushDecision::Refused { code, message } => {
                    tx.prepare_cached(
                        "UPDATE events SET pushed_at = ?2, refused = 1, outcome = 'rejected',
                             reject_code = ?3, reject_message = ?4 WHERE id = ?1",
                    )?
                    .execute(params![id.to_string(), now, code, message])?;
                    push_touched(&mut touched, &ev);
                    out.refused
                        .push(rejection(&tx, &ev, code.clone(), message.clone())?);
                }
            }
        }
        for (kind, id) in &touched {
            refold(&tx, *kind, *id)?;
        }
        tx.commit()?;
        Ok(out)
    }

    /// Applies one pull page in one transaction: records that left the user's scope are
    /// dropped from the device (their synced events and projection, not as an event), new
    /// events are inserted and every touched record refolded with the still-pending local
    /// events on top, and the cursor moves to the page's end.
    pub(crate) fn apply_pull_page(&mut self, page: &PullResponse) -> Result<PageApplied> {
        self.remote_tx(|tx, clock, now_ms| {
            let mut out = PageApplied::default();
            let mut events: Vec<Event> = Vec::new();
            for item in &page.items {
                match item {
                    PullItem::Remove { entity_id, .. } => {
                        drop_record(tx, *entity_id)?;
                        out.removed += 1;
                    }
                    PullItem::Event { event, .. } => events.push((**event).clone()),
                }
            }
            let applied = apply_remote_in(tx, clock, now_ms, &events)?;
            out.inserted = applied.inserted;
            out.duplicates = applied.duplicates;
            meta_set(tx, CURSOR, &page.cursor.to_string())?;
            Ok(out)
        })
    }

    /// Photos to upload: present on the device, not yet on the server, and used by a local
    /// event the server stored (so the record is there before its photos).
    pub(crate) fn photo_upload_queue(&self) -> Result<Vec<PendingPhoto>> {
        let mut st = self.conn.prepare_cached(
            "SELECT p.hash, p.display_bytes FROM photos p
             WHERE p.uploaded_at IS NULL AND EXISTS (
                 SELECT 1 FROM photo_links l JOIN events e ON e.id = l.event_id
                 WHERE l.photo_hash = p.hash AND e.origin = 'local'
                   AND e.pushed_at IS NOT NULL AND e.refused = 0)
             ORDER BY p.created_at, p.hash",
        )?;
        let rows = st.query_map([], |r| {
            Ok(PendingPhoto {
                hash: r.get(0)?,
                bytes: r.get::<_, i64>(1)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Photos of this device's records that the server does not have yet, whether or not
    /// their records have been pushed (the upload queue holds only the pushed ones).
    pub fn photos_to_upload(&self) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM photos p
             WHERE p.uploaded_at IS NULL AND EXISTS (
                 SELECT 1 FROM photo_links l JOIN events e ON e.id = l.event_id
                 WHERE l.photo_hash = p.hash AND e.origin = 'local' AND e.refused = 0)",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    pub(crate) fn mark_photo_uploaded(&mut self, hash: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE photos SET uploaded_at = ?2 WHERE hash = ?1")?
            .execute(params![hash, self.now().timestamp_millis()])?;
        Ok(())
    }

    /// Keeps a display copy downloaded from the server under its hash, after checking the
    /// bytes have that hash, with a thumbnail made here (the server keeps display copies
    /// only). The photo is marked uploaded: the server is where it came from.
    pub(crate) fn store_downloaded_photo(&mut self, hash: &str, bytes: &[u8]) -> Result<()> {
        fieldcheck_photo::validate_hash(hash)?;
        let actual = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
        if actual != hash {
            return Err(fieldcheck_photo::PhotoError::HashMismatch {
                expected: hash.to_owned(),
                actual,
            }
            .into());
        }
        let mut ing = fieldcheck_photo::ingest(bytes, &fieldcheck_photo::Limits::default())?;
        // Re-encoding would give another hash: keep the server's bytes as the display copy.
        ing.display = bytes.to_vec();
        ing.display_sha256 = hash.to_owned();
        fieldcheck_photo::PhotoFiles::new(self.photo_dir()).put(&ing)?;
        let now = self.now().timestamp_millis();
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO photos (hash, captured_sha256, width, height,
                     display_bytes, created_at, uploaded_at)
                 VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?5)",
            )?
            .execute(params![
                hash,
                ing.width,
                ing.height,
                bytes.len() as i64,
                now
            ])?;
        Ok(())
    }

    /// This device's events that currently stand rejected (by the fold or by the server).
    pub fn local_rejections(&self) -> Result<Vec<Rejection>> {
        let mut st = self.conn.prepare_cached(
            "SELECT body, reject_code, reject_message FROM events
             WHERE origin = 'local' AND outcome = 'rejected' ORDER BY seq",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (body, code, message) = row?;
            let ev: Event = serde_json::from_str(&body)?;
            out.push(rejection(
                &self.conn,
                &ev,
                code.unwrap_or_default(),
                message.unwrap_or_default(),
            )?);
        }
        Ok(out)
    }

    /// Forgets the enrollment (server, token, user, pull cursor, reference version) in one
    /// transaction; records stay on the device. Callers decide what to do about an outbox
    /// that is not empty (those events could never be pushed without an enrollment).
    pub fn unenroll(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for key in [SERVER, TOKEN, USER, CURSOR, REF_VERSION] {
            tx.execute("DELETE FROM meta WHERE key = ?1", [key])?;
        }
        // A city CA trusted for that server goes with it.
        tx.execute(
            "DELETE FROM meta WHERE substr(key, 1, length(?1)) = ?1",
            [super::trust::CA],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The user this device is enrolled for, from reference data if known.
    pub fn enrolled_user(&self) -> Result<Option<User>> {
        match meta_get(&self.conn, USER)? {
            Some(id) => Ok(self.user(&id).ok()),
            None => Ok(None),
        }
    }
}

fn push_touched(touched: &mut Vec<(EntityKind, Uuid)>, ev: &Event) {
    let key = (ev.entity(), ev.entity_id);
    if !touched.contains(&key) {
        touched.push(key);
    }
}

fn local_event(conn: &Connection, id: Uuid) -> Result<Option<Event>> {
    conn.prepare_cached("SELECT body FROM events WHERE id = ?1 AND origin = 'local'")?
        .query_row([id.to_string()], |r| r.get::<_, String>(0))
        .optional()?
        .map(|b| Ok(serde_json::from_str(&b)?))
        .transpose()
}

fn rejection(conn: &Connection, ev: &Event, code: String, message: String) -> Result<Rejection> {
    let record_code = conn
        .prepare_cached("SELECT code FROM problems WHERE id = ?1")?
        .query_row([ev.entity_id.to_string()], |r| r.get::<_, String>(0))
        .optional()?;
    Ok(Rejection {
        event_id: ev.id,
        entity_id: ev.entity_id,
        record_code,
        kind: ev.kind().to_owned(),
        code,
        message,
    })
}

/// Drops a record that left the user's scope. Events still waiting to be pushed stay (the
/// person's work is never lost); whatever they fold to on their own is what remains.
fn drop_record(tx: &Connection, entity_id: Uuid) -> Result<()> {
    let id = entity_id.to_string();
    tx.execute(
        "DELETE FROM photo_links WHERE event_id IN (
             SELECT id FROM events WHERE entity_id = ?1
               AND (origin = 'remote' OR pushed_at IS NOT NULL))",
        [&id],
    )?;
    tx.execute(
        "DELETE FROM events WHERE entity_id = ?1 AND (origin = 'remote' OR pushed_at IS NOT NULL)",
        [&id],
    )?;
    tx.execute("DELETE FROM problems WHERE id = ?1", [&id])?;
    tx.execute("DELETE FROM inspections WHERE id = ?1", [&id])?;
    let pending: Option<String> = tx
        .prepare_cached("SELECT entity FROM events WHERE entity_id = ?1 LIMIT 1")?
        .query_row([&id], |r| r.get(0))
        .optional()?;
    if let Some(kind) = pending.as_deref().and_then(EntityKind::parse) {
        refold(tx, kind, entity_id)?;
    }
    Ok(())
}
