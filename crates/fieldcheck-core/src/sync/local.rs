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

use super::plan::{InstanceSeen, PushDecision, instance_seen};
use crate::error::{CoreError, Result};
use crate::store::{Store, apply_remote_in, meta_get, meta_set, refold};

const SERVER: &str = "sync_server";
const TOKEN: &str = "sync_token";
const USER: &str = "sync_user";
const CURSOR: &str = "sync_cursor";
const REF_VERSION: &str = "sync_reference_version";
/// The server's instance id as of the last sync (`plan::instance_seen`).
const INSTANCE: &str = "sync_instance";

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
    /// Sent again after a server restore and refused: kept in the outbox for the next sync
    /// (the record they act on may not be back on the server yet).
    pub deferred: usize,
}

/// What a device did on seeing that its server was restored from a backup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Recovery {
    /// Own events the device had pushed, back in the outbox (the server keeps each once:
    /// those it still has come back as duplicates).
    pub events_resent: u64,
    /// Own photos the device had uploaded, back in the upload queue (the server is asked
    /// which it has before any byte is sent).
    pub photos_rechecked: u64,
    /// The pull cursor the device had, now 0: the restored server numbers its events anew
    /// past its backup, and pulled events are applied once by id.
    pub cursor_was: u64,
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
    /// A stamped display copy made here: uploaded like a photo, counted with its photo.
    pub stamped_copy: bool,
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
                "DELETE FROM meta WHERE key IN (?1, ?2, ?3)",
                params![CURSOR, REF_VERSION, INSTANCE],
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
                        "UPDATE events SET pushed_at = ?2, server_outcome = ?3, resent = 0
                         WHERE id = ?1",
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
                PushDecision::Refused { .. } if is_resent(&tx, *id)? => {
                    // The server took it before it was restored, so the refusal is about
                    // what the restored server lacks (the record's creation, still on its
                    // author's device), not about the event: the next sync sends it again.
                    out.deferred += 1;
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

    /// The outbox after `after_seq` (device order): a push run walks it once, so events kept
    /// in it (deferred refusals) do not come back in the same run.
    pub(crate) fn outbox_after(&self, after_seq: i64, limit: usize) -> Result<Vec<(i64, Event)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, body FROM events
             WHERE pushed_at IS NULL AND origin = 'local' AND seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = st.query_map(params![after_seq, limit as i64], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        rows.map(|row| {
            let (seq, body) = row?;
            Ok((seq, serde_json::from_str(&body)?))
        })
        .collect()
    }

    /// The one place a device handles its server's instance id (sent on every sync answer),
    /// in one transaction. The first id seen is recorded. Another id than the recorded one
    /// means the server was restored from a backup and may have lost anything this device
    /// sent after that backup, while the device's pull cursor may point past the restored
    /// server's newest event. So the device, before pushing:
    /// * puts every own event it had pushed (and the server had stored) back in the outbox,
    ///   flagged `resent`: the server stores each event once by id, so those it still has come
    ///   back as duplicates, and one refused is kept for later instead of being marked refused;
    /// * puts its own uploaded photos back in the upload queue: `blobs/check` tells which the
    ///   server still has (marked uploaded without a byte sent), the rest are uploaded;
    /// * starts pulling from 0: pulled events are applied once by id, so what it already has
    ///   is skipped.
    ///
    /// Returns what it did when the server was restored.
    pub(crate) fn observe_server_instance(&mut self, sent: &str) -> Result<Option<Recovery>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let recorded = meta_get(&tx, INSTANCE)?;
        let seen = instance_seen(recorded.as_deref(), Some(sent));
        let recovery = match seen {
            None | Some(InstanceSeen::Same) => return Ok(None),
            Some(InstanceSeen::First) => None,
            Some(InstanceSeen::Restored) => {
                let events_resent = tx.execute(
                    "UPDATE events SET pushed_at = NULL, resent = 1
                     WHERE origin = 'local' AND pushed_at IS NOT NULL AND refused = 0",
                    [],
                )? as u64;
                let photos_rechecked = tx.execute(
                    "UPDATE photos SET uploaded_at = NULL
                     WHERE uploaded_at IS NOT NULL AND hash IN (
                         SELECT l.photo_hash FROM photo_links l JOIN events e ON e.id = l.event_id
                         WHERE e.origin = 'local' AND e.refused = 0)",
                    [],
                )? as u64;
                let cursor_was = meta_u64(&tx, CURSOR)?.unwrap_or(0);
                tx.execute("DELETE FROM meta WHERE key = ?1", [CURSOR])?;
                Some(Recovery {
                    events_resent,
                    photos_rechecked,
                    cursor_was,
                })
            }
        };
        meta_set(&tx, INSTANCE, sent)?;
        tx.commit()?;
        Ok(recovery)
    }

    /// The server instance id this device last synced with.
    pub fn server_instance(&self) -> Result<Option<String>> {
        meta_get(&self.conn, INSTANCE)
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
            "SELECT p.hash, p.display_bytes, p.stamp_of IS NOT NULL FROM photos p
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
                stamped_copy: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Photos of this device's records that the server does not have yet, whether or not
    /// their records have been pushed (the upload queue holds only the pushed ones).
    pub fn photos_to_upload(&self) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM photos p
             WHERE p.uploaded_at IS NULL AND p.stamp_of IS NULL AND EXISTS (
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
        for key in [
            SERVER,
            TOKEN,
            USER,
            CURSOR,
            REF_VERSION,
            INSTANCE,
            crate::tasks::TASKS,
        ] {
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

fn is_resent(conn: &Connection, id: Uuid) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM events WHERE id = ?1 AND resent = 1")?
        .exists([id.to_string()])?)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problems::NewProblem;

    const PHOTO: &str = "abababababababababababababababababababababababababababababababab";

    /// A device with one own problem (with a photo) pushed and uploaded, a pull cursor at 42
    /// and one event pulled from another device.
    fn synced_device(dir: &tempfile::TempDir) -> (Store, Uuid) {
        let mut s = Store::open(dir.path().join("d.db")).unwrap();
        s.import_reference(&fieldcheck_protocol::demo_bundle())
            .unwrap();
        s.conn
            .execute(
                "INSERT INTO photos (hash, captured_sha256, width, height, display_bytes,
                     created_at) VALUES (?1, ?1, 1, 1, 1, 0)",
                [PHOTO],
            )
            .unwrap();
        let actor = s.actor("usr-insp-1").unwrap();
        let p = s
            .report_problem(
                &actor,
                NewProblem {
                    category: "SR-02".into(),
                    description: "积水".into(),
                    point_id: Some("p-005".into()),
                    photos: vec![PHOTO.into()],
                    ..Default::default()
                },
            )
            .unwrap();
        let ids: Vec<Uuid> = s.outbox(10).unwrap().iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), 1);
        let stored = PushDecision::Stored {
            duplicate: false,
            hlc: None,
            verdict: None,
        };
        s.record_push(&[(ids[0], stored)]).unwrap();
        s.mark_photo_uploaded(PHOTO).unwrap();
        meta_set(&s.conn, CURSOR, "42").unwrap();
        (s, p.id)
    }

    fn outbox_ids(s: &Store) -> Vec<Uuid> {
        s.outbox(100).unwrap().iter().map(|e| e.id).collect()
    }

    #[test]
    fn a_first_or_unchanged_instance_id_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = synced_device(&dir);
        assert_eq!(s.observe_server_instance("e1").unwrap(), None, "first");
        assert_eq!(s.server_instance().unwrap().as_deref(), Some("e1"));
        assert_eq!(s.observe_server_instance("e1").unwrap(), None, "same");
        assert!(outbox_ids(&s).is_empty());
        assert!(s.photo_upload_queue().unwrap().is_empty());
        assert_eq!(s.pull_cursor().unwrap(), 42);
    }

    #[test]
    fn another_instance_id_queues_own_events_and_photos_again_and_pulls_from_zero() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = synced_device(&dir);
        s.observe_server_instance("e1").unwrap();
        let r = s.observe_server_instance("e2").unwrap();
        assert_eq!(
            r,
            Some(Recovery {
                events_resent: 1,
                photos_rechecked: 1,
                cursor_was: 42,
            })
        );
        assert_eq!(s.server_instance().unwrap().as_deref(), Some("e2"));
        assert_eq!(s.pull_cursor().unwrap(), 0);
        let queued = outbox_ids(&s);
        assert_eq!(queued.len(), 1);
        // The photo follows its event: queued again once the event is stored again.
        assert!(s.photo_upload_queue().unwrap().is_empty());
        s.record_push(&[(
            queued[0],
            PushDecision::Stored {
                duplicate: true,
                hlc: None,
                verdict: None,
            },
        )])
        .unwrap();
        assert!(outbox_ids(&s).is_empty());
        let photos = s.photo_upload_queue().unwrap();
        assert_eq!(photos.len(), 1);
        assert_eq!(photos[0].hash, PHOTO);
        // Seen again: already handled.
        assert_eq!(s.observe_server_instance("e2").unwrap(), None);
    }

    #[test]
    fn a_resent_event_refused_stays_in_the_outbox_until_stored() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, problem) = synced_device(&dir);
        s.observe_server_instance("e1").unwrap();
        s.observe_server_instance("e2").unwrap();
        let id = outbox_ids(&s)[0];
        let refused = PushDecision::Refused {
            code: "out_of_scope".into(),
            message: "record not known".into(),
        };
        let rec = s.record_push(&[(id, refused.clone())]).unwrap();
        assert_eq!(rec.deferred, 1);
        assert!(rec.refused.is_empty());
        assert_eq!(outbox_ids(&s), vec![id], "kept for the next sync");
        assert_eq!(s.outbox_after(0, 10).unwrap().len(), 1);
        let seq = s.outbox_after(0, 10).unwrap()[0].0;
        assert!(s.outbox_after(seq, 10).unwrap().is_empty());
        assert!(s.local_rejections().unwrap().is_empty());
        assert!(s.problem(problem).is_ok());

        // Once stored it is an ordinary pushed event again: a later refusal of a new event is
        // final as always.
        s.record_push(&[(
            id,
            PushDecision::Stored {
                duplicate: false,
                hlc: None,
                verdict: None,
            },
        )])
        .unwrap();
        assert!(!is_resent(&s.conn, id).unwrap());
        let actor = s.actor("usr-insp-1").unwrap();
        s.report_problem(
            &actor,
            NewProblem {
                category: "SR-02".into(),
                description: "井盖".into(),
                point_id: Some("p-005".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let new = outbox_ids(&s)[0];
        let rec = s.record_push(&[(new, refused)]).unwrap();
        assert_eq!((rec.deferred, rec.refused.len()), (0, 1));
        assert!(outbox_ids(&s).is_empty());
    }

    #[test]
    fn a_new_enrollment_elsewhere_forgets_the_instance_id() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = synced_device(&dir);
        let e = |server: &str| Enrollment {
            server: server.into(),
            token: "t".into(),
            user_id: "usr-insp-1".into(),
            device_tag: "K7Q2".into(),
        };
        s.save_enrollment(&e("http://a/api/v1")).unwrap();
        s.observe_server_instance("e1").unwrap();
        s.save_enrollment(&e("http://a/api/v1")).unwrap();
        assert_eq!(s.server_instance().unwrap().as_deref(), Some("e1"));
        s.save_enrollment(&e("http://b/api/v1")).unwrap();
        assert_eq!(s.server_instance().unwrap(), None);
        assert_eq!(s.observe_server_instance("e9").unwrap(), None);
    }
}
