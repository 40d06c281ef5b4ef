//! The store: one SQLite file per device, the event log and its projections.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use fieldcheck_domain::checklist::ChecklistTemplate;
use fieldcheck_domain::code::device_tag;
use fieldcheck_domain::event::EntityKind;
use fieldcheck_domain::fold::{Folded, fold_inspection, fold_problem};
use fieldcheck_domain::inspection::{Inspection, apply_inspection};
use fieldcheck_domain::lifecycle::apply_problem;
use fieldcheck_domain::{Event, EventOutcome, Hlc, HlcClock, Problem};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use uuid::Uuid;

use crate::checkpoint::Checkpointer;
use crate::db;
use crate::error::{CoreError, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub device_id: Uuid,
    /// Short tag used in problem codes; derived from the id until the server assigns one.
    pub tag: String,
}

type NowFn = Box<dyn Fn() -> DateTime<Utc> + Send>;

pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
    device: DeviceInfo,
    clock: HlcClock,
    now: NowFn,
    checkpointer: Checkpointer,
    pub(crate) offline_map: std::sync::Arc<crate::map::OfflineMap>,
    /// The font photo stamps are drawn with, when not the platform's.
    pub(crate) stamp_font: Option<std::sync::Arc<fieldcheck_photo::StampFont>>,
}

impl Drop for Store {
    fn drop(&mut self) {
        self.checkpointer.stop(&self.conn);
    }
}

/// What happened to a batch of events received from elsewhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteApplied {
    pub inserted: usize,
    pub duplicates: usize,
    pub records_refolded: usize,
}

impl Store {
    /// Opens the device database at `path`, creating and seeding it on first use.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut conn = db::open(&path)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let device = match meta_get(&tx, "device_id")? {
            Some(id) => {
                let device_id = Uuid::parse_str(&id)
                    .map_err(|_| CoreError::Corrupt(format!("device id {id:?}")))?;
                let tag = meta_get(&tx, "device_tag")?.unwrap_or_else(|| device_tag(&device_id));
                DeviceInfo { device_id, tag }
            }
            None => {
                let device_id = Uuid::new_v4();
                let tag = device_tag(&device_id);
                meta_set(&tx, "device_id", &device_id.to_string())?;
                meta_set(&tx, "device_tag", &tag)?;
                crate::reference::seed_defaults(&tx)?;
                DeviceInfo { device_id, tag }
            }
        };
        let last = meta_get(&tx, "hlc_last")?
            .map(|s| s.parse::<Hlc>())
            .transpose()
            .map_err(|e| CoreError::Corrupt(e.to_string()))?;
        tx.commit()?;
        let clock = HlcClock::resume(device.device_id.to_string(), last);
        let checkpointer = Checkpointer::start(&path, &conn);
        let map_path = beside(&path, crate::map::MAP_FILE);
        Ok(Store {
            conn,
            path,
            device,
            clock,
            now: Box::new(Utc::now),
            checkpointer,
            offline_map: std::sync::Arc::new(crate::map::OfflineMap::new(map_path)),
            stamp_font: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The offline map package beside the database (`map::MAP_FILE`), shared outside the
    /// store's lock (see `map`).
    pub fn offline_map(&self) -> std::sync::Arc<crate::map::OfflineMap> {
        self.offline_map.clone()
    }

    pub fn device(&self) -> &DeviceInfo {
        &self.device
    }

    /// Replaces the wall clock (tests, and the CLI's FIELDCHECK_NOW for reproducible runs).
    pub fn set_now(&mut self, now: impl Fn() -> DateTime<Utc> + Send + 'static) {
        self.now = Box::new(now);
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.now)()
    }

    /// Read-only access for queries outside this crate (benchmarks, diagnostics).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Brings the text-search index up to date with every record written since the last
    /// search, in one transaction; the number of records indexed. Text searches call it
    /// first; the app may call it when idle so the next search starts at once.
    pub fn catch_up_search(&self) -> Result<usize> {
        if !crate::search::has_pending(&self.conn)? {
            return Ok(0);
        }
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let n = crate::search::catch_up(&tx)?;
        tx.commit()?;
        Ok(n)
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        meta_get(&self.conn, key)
    }

    /// Runs `f` in one IMMEDIATE transaction that also carries the local HLC tick. On any
    /// error nothing is written and the clock is as it was.
    pub(crate) fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>, &mut LocalCtx<'_>) -> Result<T>,
    ) -> Result<T> {
        let saved = self.clock.clone();
        let now = self.now();
        let device = self.device.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ctx = LocalCtx {
            clock: &mut self.clock,
            now,
            device: &device,
        };
        let out = f(&tx, &mut ctx).and_then(|v| {
            meta_set(&tx, "hlc_last", &ctx.clock.last().to_string())?;
            tx.commit()?;
            Ok(v)
        });
        if out.is_err() {
            self.clock = saved;
        }
        out
    }

    /// Applies events that came from elsewhere (the server). New ones are inserted; every
    /// record they touch is refolded from all its events, so a late event lands in HLC order
    /// and may turn a later status change into a visible rejection.
    pub fn apply_remote(&mut self, events: &[Event]) -> Result<RemoteApplied> {
        self.remote_tx(|tx, clock, now_ms| apply_remote_in(tx, clock, now_ms, events))
    }

    /// Runs `f` in one IMMEDIATE transaction with a copy of the clock for observing remote
    /// timestamps; the clock is kept (and persisted) only if the transaction commits.
    pub(crate) fn remote_tx<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>, &mut HlcClock, i64) -> Result<T>,
    ) -> Result<T> {
        let now_ms = self.now().timestamp_millis();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut clock = self.clock.clone();
        let out = f(&tx, &mut clock, now_ms)?;
        meta_set(&tx, "hlc_last", &clock.last().to_string())?;
        tx.commit()?;
        self.clock = clock;
        Ok(out)
    }

    /// The server assigned this device its code tag at enrollment.
    pub(crate) fn set_device_tag(&mut self, tag: &str) {
        self.device.tag = tag.to_owned();
    }

    /// Local events not yet acknowledged by the server, in device order.
    pub fn outbox(&self, limit: usize) -> Result<Vec<Event>> {
        let mut st = self.conn.prepare_cached(
            "SELECT body FROM events WHERE pushed_at IS NULL AND origin = 'local' ORDER BY seq LIMIT ?1",
        )?;
        let rows = st.query_map([limit as i64], |r| r.get::<_, String>(0))?;
        rows.map(|b| Ok(serde_json::from_str(&b?)?)).collect()
    }

    pub fn outbox_len(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM events WHERE pushed_at IS NULL AND origin = 'local'",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    pub fn mark_pushed(&mut self, ids: &[Uuid]) -> Result<()> {
        let now = self.now().timestamp_millis();
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached("UPDATE events SET pushed_at = ?1 WHERE id = ?2")?;
            for id in ids {
                st.execute(params![now, id.to_string()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// Inserts events received from elsewhere and refolds every record they touch. The refold
/// runs over all of a record's events, including this device's still-pending ones, so those
/// are re-applied on top in HLC order exactly as the server will fold them. A record this
/// device has never seen (most of a first pull) is folded from the events in hand: nothing
/// is read back, and each event is written once, with its outcome.
pub(crate) fn apply_remote_in(
    tx: &Connection,
    clock: &mut HlcClock,
    now_ms: i64,
    events: &[Event],
) -> Result<RemoteApplied> {
    let mut summary = RemoteApplied::default();
    // New events per touched record, records in order of first appearance.
    let mut touched: Vec<(EntityKind, Uuid, bool, Vec<&Event>)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for ev in events {
        clock.observe(&ev.hlc, now_ms);
        if !seen.insert(ev.id) || event_exists(tx, ev.id)? {
            summary.duplicates += 1;
            continue;
        }
        match touched.iter_mut().find(|t| t.1 == ev.entity_id) {
            Some(t) => t.3.push(ev),
            None => {
                let fresh = !entity_has_events(tx, ev.entity_id)?;
                touched.push((ev.entity(), ev.entity_id, fresh, vec![ev]));
            }
        }
        summary.inserted += 1;
    }
    for (entity, id, fresh, new) in &touched {
        if *fresh {
            fold_fresh(tx, *entity, new)?;
        } else {
            for ev in new {
                insert_event(tx, ev, &EventOutcome::Applied, "remote")?;
                link_photos(tx, ev)?;
            }
            refold(tx, *entity, *id)?;
        }
    }
    summary.records_refolded = touched.len();
    crate::search::catch_up(tx)?;
    Ok(summary)
}

fn entity_has_events(conn: &Connection, entity_id: Uuid) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM events WHERE entity_id = ?1")?
        .exists([entity_id.to_string()])?)
}

/// Folds a record that has no other events on this device and writes its events with their
/// outcomes and its projection.
fn fold_fresh(conn: &Connection, entity: EntityKind, events: &[&Event]) -> Result<()> {
    let outcomes = match entity {
        EntityKind::Problem => {
            let f = fold_problem(events.iter().copied());
            if let Some(p) = &f.state {
                save_problem(conn, p, rejected_in(&f))?;
            }
            f.outcomes
        }
        EntityKind::Inspection => {
            let templates = started_templates(conn, events.iter().copied())?;
            let f = fold_inspection(events.iter().copied(), |tid, v| templates.get(tid, v));
            if let Some(i) = &f.state {
                save_inspection(conn, i, rejected_in(&f))?;
            }
            f.outcomes
        }
    };
    for ev in events {
        let outcome = outcomes
            .iter()
            .find(|(id, _)| *id == ev.id)
            .map_or(&EventOutcome::Applied, |(_, o)| o);
        insert_event(conn, ev, outcome, "remote")?;
        link_photos(conn, ev)?;
    }
    Ok(())
}

fn rejected_in<T>(f: &Folded<T>) -> i64 {
    f.outcomes
        .iter()
        .filter(|(_, o)| matches!(o, EventOutcome::Rejected { .. }))
        .count() as i64
}

/// What a local write needs besides the transaction.
pub(crate) struct LocalCtx<'a> {
    clock: &'a mut HlcClock,
    pub now: DateTime<Utc>,
    pub device: &'a DeviceInfo,
}

impl LocalCtx<'_> {
    pub fn tick(&mut self) -> Hlc {
        self.clock.tick(self.now.timestamp_millis())
    }
}

/// `name` in the directory of the database file at `db` (photos, the offline map).
pub(crate) fn beside(db: &Path, name: &str) -> PathBuf {
    db.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
        .join(name)
}

pub(crate) fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn meta_set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// Next value of a persistent per-device counter (problem code sequence).
pub(crate) fn next_counter(conn: &Connection, key: &str) -> Result<u64> {
    let n = meta_get(conn, key)?
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    meta_set(conn, key, &n.to_string())?;
    Ok(n)
}

pub(crate) fn event_exists(conn: &Connection, id: Uuid) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM events WHERE id = ?1")?
        .exists([id.to_string()])?)
}

pub(crate) fn insert_event(
    conn: &Connection,
    ev: &Event,
    outcome: &EventOutcome,
    origin: &str,
) -> Result<()> {
    let (code, message) = match outcome {
        EventOutcome::Applied => (None, None),
        EventOutcome::Rejected { code, message } => (Some(code.as_str()), Some(message.as_str())),
    };
    conn.prepare_cached(
        "INSERT INTO events (id, entity, entity_id, kind, actor, role, device, hlc, body,
                             outcome, reject_code, reject_message, origin)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        ev.id.to_string(),
        ev.entity().as_str(),
        ev.entity_id.to_string(),
        ev.kind(),
        ev.actor,
        ev.role.as_str(),
        ev.device,
        ev.hlc.to_string(),
        serde_json::to_string(ev)?,
        if code.is_some() {
            "rejected"
        } else {
            "applied"
        },
        code,
        message,
        origin,
    ])?;
    Ok(())
}

pub(crate) fn link_photos(conn: &Connection, ev: &Event) -> Result<()> {
    if ev.photos.is_empty() {
        return Ok(());
    }
    let item = match &ev.body {
        fieldcheck_domain::EventBody::InspectionItemRecorded { item_id, .. } => {
            Some(item_id.as_str())
        }
        _ => None,
    };
    let mut st = conn.prepare_cached(
        "INSERT OR IGNORE INTO photo_links (event_id, photo_hash, entity, entity_id, role, item_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for p in &ev.photos {
        st.execute(params![
            ev.id.to_string(),
            p.hash,
            ev.entity().as_str(),
            ev.entity_id.to_string(),
            p.role.as_str(),
            item
        ])?;
        // The stamped copy travels like the photo: uploaded once the event is stored,
        // downloaded by devices that pull the record.
        if let Some(stamped) = ev.stamped(&p.hash) {
            st.execute(params![
                ev.id.to_string(),
                stamped,
                ev.entity().as_str(),
                ev.entity_id.to_string(),
                p.role.as_str(),
                item
            ])?;
        }
    }
    Ok(())
}

pub(crate) fn load_problem(conn: &Connection, id: Uuid) -> Result<Option<Problem>> {
    Ok(load_problem_row(conn, id)?.map(|(p, _)| p))
}

/// A problem's folded state and its count of rejected events.
fn load_problem_row(conn: &Connection, id: Uuid) -> Result<Option<(Problem, i64)>> {
    conn.prepare_cached(
        "SELECT s.state, p.rejected_events FROM problems p JOIN problem_states s ON s.rid = p.rid
         WHERE p.id = ?1",
    )?
    .query_row([id.to_string()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })
    .optional()?
    .map(|(s, n)| Ok((serde_json::from_str(&s)?, n)))
    .transpose()
}

pub(crate) fn load_inspection(conn: &Connection, id: Uuid) -> Result<Option<Inspection>> {
    conn.prepare_cached("SELECT state FROM inspections WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get::<_, String>(0))
        .optional()?
        .map(|s| Ok(serde_json::from_str(&s)?))
        .transpose()
}

pub(crate) fn save_problem(conn: &Connection, p: &Problem, rejected_events: i64) -> Result<()> {
    // The SET list leaves out what never changes (id, reporter, report time, inspection), so
    // an update does not rewrite index entries for them.
    let rid: i64 = conn
        .prepare_cached(
            "INSERT INTO problems (id, code, status, category, description, address, lat, lon,
                 district_id, point_id, inspection_id, reporter, severity, unit_id, deadline,
                 rework_count, reported_at, updated_at, closed_at, rejected_events, rectified_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                     ?18, ?19, ?20, ?21)
             ON CONFLICT(id) DO UPDATE SET code = excluded.code, status = excluded.status,
                 category = excluded.category, description = excluded.description,
                 address = excluded.address, lat = excluded.lat, lon = excluded.lon,
                 district_id = excluded.district_id, point_id = excluded.point_id,
                 severity = excluded.severity, unit_id = excluded.unit_id,
                 deadline = excluded.deadline, rework_count = excluded.rework_count,
                 updated_at = excluded.updated_at, closed_at = excluded.closed_at,
                 rejected_events = excluded.rejected_events,
                 rectified_at = excluded.rectified_at
             RETURNING rid",
        )?
        .query_row(
            params![
                p.id.to_string(),
                p.code,
                p.status.as_str(),
                p.category,
                p.description,
                p.address,
                p.location.map(|l| l.lat),
                p.location.map(|l| l.lon),
                p.district_id,
                p.point_id,
                p.inspection_id.map(|i| i.to_string()),
                p.reporter,
                p.severity.as_str(),
                p.unit_id,
                p.deadline.map(|d| d.timestamp_millis()),
                p.rework_count,
                p.reported_at.timestamp_millis(),
                p.updated_at.timestamp_millis(),
                p.closed_at.map(|d| d.timestamp_millis()),
                rejected_events,
                p.rectified_at.map(|d| d.timestamp_millis()),
            ],
            |r| r.get(0),
        )?;
    conn.prepare_cached(
        "INSERT INTO problem_states (rid, state) VALUES (?1, ?2)
         ON CONFLICT(rid) DO UPDATE SET state = excluded.state",
    )?
    .execute(params![rid, serde_json::to_string(p)?])?;
    Ok(())
}

pub(crate) fn save_inspection(
    conn: &Connection,
    i: &Inspection,
    rejected_events: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO inspections (id, point_id, template_id, template_version, inspector, status,
             started_at, finished_at, score_percent, failed_items, rejected_events, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT(id) DO UPDATE SET status = excluded.status,
             finished_at = excluded.finished_at, score_percent = excluded.score_percent,
             failed_items = excluded.failed_items, rejected_events = excluded.rejected_events,
             state = excluded.state",
    )?
    .execute(params![
        i.id.to_string(),
        i.point_id,
        i.template_id,
        i.template_version,
        i.inspector,
        i.status.as_str(),
        i.started_at.timestamp_millis(),
        i.finished_at.map(|d| d.timestamp_millis()),
        i.score.percent,
        i.score.failed_items,
        rejected_events,
        serde_json::to_string(i)?,
    ])?;
    Ok(())
}

/// The bounds every replica holds events to (`Event::check_fields`), checked when the person
/// acts: an over-long description is refused at once with the field named, instead of being
/// saved here and refused by the server at the next sync.
fn check_event_fields(ev: &Event) -> Result<()> {
    ev.check_fields()
        .map_err(|e| CoreError::Invalid(e.to_string()))
}

/// Applies a local event to the record's current projection and writes both. Local events
/// carry the newest HLC this device has issued, so applying on top equals a full refold, and
/// the record's count of rejected events stays what it was (a refused local action is an
/// error and writes nothing).
pub(crate) fn commit_problem_event(conn: &Connection, ev: &Event) -> Result<Problem> {
    check_event_fields(ev)?;
    let (cur, rejected) = match load_problem_row(conn, ev.entity_id)? {
        Some((p, n)) => (Some(p), n),
        None => (None, 0),
    };
    let next = apply_problem(cur.as_ref(), ev)?;
    insert_event(conn, ev, &EventOutcome::Applied, "local")?;
    save_problem(conn, &next, rejected)?;
    link_photos(conn, ev)?;
    Ok(next)
}

/// As [`commit_problem_event`], for inspections.
pub(crate) fn commit_inspection_event(conn: &Connection, ev: &Event) -> Result<Inspection> {
    check_event_fields(ev)?;
    let cur = load_inspection(conn, ev.entity_id)?;
    let tpl = template_for_event(conn, cur.as_ref(), ev)?;
    let next = apply_inspection(cur.as_ref(), ev, tpl.as_ref())?;
    insert_event(conn, ev, &EventOutcome::Applied, "local")?;
    save_inspection(conn, &next, rejected_count(conn, ev.entity_id)?)?;
    link_photos(conn, ev)?;
    Ok(next)
}

fn template_for_event(
    conn: &Connection,
    cur: Option<&Inspection>,
    ev: &Event,
) -> Result<Option<ChecklistTemplate>> {
    let key = match (cur, &ev.body) {
        (Some(i), _) => Some((i.template_id.clone(), i.template_version)),
        (
            None,
            fieldcheck_domain::EventBody::InspectionStarted {
                template_id,
                template_version,
                ..
            },
        ) => Some((template_id.clone(), *template_version)),
        _ => None,
    };
    match key {
        Some((id, v)) => crate::reference::template(conn, &id, v),
        None => Ok(None),
    }
}

fn rejected_count(conn: &Connection, entity_id: Uuid) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM events WHERE entity_id = ?1 AND outcome = 'rejected'",
        )?
        .query_row([entity_id.to_string()], |r| r.get(0))?)
}

fn refused_count(conn: &Connection, entity_id: Uuid) -> Result<i64> {
    // A refusal answered by sending the record again is settled: no longer a mark on it.
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM events
             WHERE entity_id = ?1 AND refused = 1 AND superseded_by IS NULL",
        )?
        .query_row([entity_id.to_string()], |r| r.get(0))?)
}

pub(crate) fn entity_events(conn: &Connection, entity_id: Uuid) -> Result<Vec<Event>> {
    let mut st =
        // Events the server refused are history only: no other replica has them. Events a
        // re-sent report replaced are history too: the new report carries their content.
        conn.prepare_cached(
            "SELECT body FROM events
             WHERE entity_id = ?1 AND refused = 0 AND superseded_by IS NULL ORDER BY hlc, id",
        )?;
    let rows = st.query_map([entity_id.to_string()], |r| r.get::<_, String>(0))?;
    rows.map(|b| Ok(serde_json::from_str(&b?)?)).collect()
}

/// The server's refusal of a record's creation (`code`, `message`) while it stands: the
/// record then exists only on this device, until it is corrected and sent again or discarded.
pub(crate) fn creation_refusal(
    conn: &Connection,
    entity_id: Uuid,
) -> Result<Option<(String, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT coalesce(reject_code, ''), coalesce(reject_message, '') FROM events
             WHERE entity_id = ?1 AND kind IN ('problem.reported', 'inspection.started')
               AND refused = 1 AND superseded_by IS NULL
             ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([entity_id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// What the person recorded, as they see it, for a record whose creation the server refused:
/// the fold of all this device's events of it that were not replaced, refused ones included
/// (no replica has any of them, so nothing else could be folded with them).
fn unsent_events(conn: &Connection, entity_id: Uuid) -> Result<Vec<Event>> {
    let mut st = conn.prepare_cached(
        "SELECT body FROM events
         WHERE entity_id = ?1 AND origin = 'local' AND superseded_by IS NULL ORDER BY hlc, id",
    )?;
    let rows = st.query_map([entity_id.to_string()], |r| r.get::<_, String>(0))?;
    rows.map(|b| Ok(serde_json::from_str(&b?)?)).collect()
}

/// The checklists that an inspection's `started` events name, read *before* folding: the
/// fold's lookup cannot fail, so reading inside it would turn a transient database error into
/// "template missing", which the fold records as a permanent rejection of the inspection.
/// Here the error fails the write instead, and the write is tried again.
struct StartedTemplates(Vec<ChecklistTemplate>);

impl StartedTemplates {
    fn get(&self, id: &str, version: u32) -> Option<ChecklistTemplate> {
        self.0
            .iter()
            .find(|t| t.id == id && t.version == version)
            .cloned()
    }
}

fn started_templates<'a>(
    conn: &Connection,
    events: impl IntoIterator<Item = &'a Event>,
) -> Result<StartedTemplates> {
    let mut found: Vec<ChecklistTemplate> = Vec::new();
    for ev in events {
        if let fieldcheck_domain::EventBody::InspectionStarted {
            template_id,
            template_version,
            ..
        } = &ev.body
            && !found
                .iter()
                .any(|t| &t.id == template_id && t.version == *template_version)
            && let Some(t) = crate::reference::template(conn, template_id, *template_version)?
        {
            found.push(t);
        }
    }
    Ok(StartedTemplates(found))
}

/// Recomputes a record from all its events and stores the projection and every outcome.
pub(crate) fn refold(conn: &Connection, entity: EntityKind, id: Uuid) -> Result<()> {
    let events = entity_events(conn, id)?;
    match entity {
        EntityKind::Problem => {
            let f = fold_problem(&events);
            let rejected = store_outcomes(conn, &f)? + refused_count(conn, id)?;
            // A record whose creation the server refused stays on its author's device as they
            // recorded it, marked; it is never folded out of view.
            let unsent = match &f.state {
                None if creation_refusal(conn, id)?.is_some() => {
                    fold_problem(&unsent_events(conn, id)?).state
                }
                _ => None,
            };
            match f.state.as_ref().or(unsent.as_ref()) {
                Some(p) => save_problem(conn, p, rejected)?,
                None => {
                    conn.execute("DELETE FROM problems WHERE id = ?1", [id.to_string()])?;
                }
            }
        }
        EntityKind::Inspection => {
            let templates = started_templates(conn, &events)?;
            let f = fold_inspection(&events, |tid, v| templates.get(tid, v));
            let rejected = store_outcomes(conn, &f)? + refused_count(conn, id)?;
            let unsent = match &f.state {
                None if creation_refusal(conn, id)?.is_some() => {
                    let unsent = unsent_events(conn, id)?;
                    let templates = started_templates(conn, &unsent)?;
                    fold_inspection(&unsent, |tid, v| templates.get(tid, v)).state
                }
                _ => None,
            };
            match f.state.as_ref().or(unsent.as_ref()) {
                Some(i) => save_inspection(conn, i, rejected)?,
                None => {
                    conn.execute("DELETE FROM inspections WHERE id = ?1", [id.to_string()])?;
                }
            }
        }
    }
    Ok(())
}

fn store_outcomes<T>(conn: &Connection, f: &Folded<T>) -> Result<i64> {
    let mut st = conn.prepare_cached(
        "UPDATE events SET outcome = ?2, reject_code = ?3, reject_message = ?4 WHERE id = ?1",
    )?;
    let mut rejected = 0;
    for (id, o) in &f.outcomes {
        match o {
            EventOutcome::Applied => st.execute(params![
                id.to_string(),
                "applied",
                None::<String>,
                None::<String>
            ])?,
            EventOutcome::Rejected { code, message } => {
                rejected += 1;
                st.execute(params![id.to_string(), "rejected", code.as_str(), message])?
            }
        };
    }
    Ok(rejected)
}
