//! Problem actions: each one validated against reference data, turned into an event, folded
//! by the domain rules and committed with its projection in one transaction.

use fieldcheck_domain::actions::{ActionError, ActionLookup, action_event};
use fieldcheck_domain::calendar::WorkCalendar;
use fieldcheck_domain::category::DeadlineRule;
use fieldcheck_domain::event::ProblemReported;
use fieldcheck_domain::lifecycle::apply_problem;
use fieldcheck_domain::placement::place;
use fieldcheck_domain::{
    Actor, Event, EventBody, EventOutcome, Location, PhotoRef, PhotoRole, PhotoStamp, Problem,
    Severity,
};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{CoreError, Result};
use crate::ledger::ServerRefusal;
use crate::photos::{StampPlace, stamp_photos};
use crate::reference;
use crate::store::{
    Store, commit_problem_event, creation_refusal, insert_event, link_photos, load_problem,
    next_counter, save_problem,
};
use fieldcheck_domain::event::EntityKind;

/// What a person fills in to report a problem.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct NewProblem {
    pub category: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub district_id: Option<String>,
    #[serde(default)]
    pub point_id: Option<String>,
    #[serde(default)]
    pub item_id: Option<String>,
    #[serde(default)]
    pub inspection_id: Option<Uuid>,
    #[serde(default)]
    pub severity: Severity,
    /// Display-copy hashes of photos already ingested on this device ("before" photos).
    #[serde(default)]
    pub photos: Vec<String>,
}

/// The correction a person makes to a refused report before sending it again: a district
/// they may report in, or a registered point (which brings its district). Neither: as it was
/// (the office may have widened their districts meanwhile).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Resend {
    #[serde(default)]
    pub district_id: Option<String>,
    #[serde(default)]
    pub point_id: Option<String>,
}

/// Every lifecycle action on an existing problem: the domain's, so the phone, the bridge and
/// the office's console send the same thing and it becomes the same event.
pub use fieldcheck_domain::actions::ProblemAction;

/// What [`action_event`] looks up, read from the device's store inside the action's
/// transaction.
struct StoreLookup<'c>(&'c Connection);

impl ActionLookup for StoreLookup<'_> {
    type Error = CoreError;

    fn deadline_rule(&self, category: &str) -> Result<Option<DeadlineRule>> {
        Ok(reference::category(self.0, category)?.map(|c| c.deadline))
    }

    fn calendar(&self) -> Result<WorkCalendar> {
        reference::calendar(self.0)
    }

    fn unit_exists(&self, unit_id: &str) -> Result<bool> {
        reference::unit_exists(self.0, unit_id)
    }

    fn district_exists(&self, district_id: &str) -> Result<bool> {
        Ok(reference::district(self.0, district_id)?.is_some())
    }

    fn problem_code_exists(&self, code: &str) -> Result<bool> {
        Ok(self
            .0
            .prepare_cached("SELECT 1 FROM problems WHERE code = ?1")?
            .exists([code])?)
    }

    fn photo_known(&self, hash: &str) -> Result<bool> {
        Ok(self
            .0
            .prepare_cached("SELECT 1 FROM photos WHERE hash = ?1")?
            .exists([hash])?)
    }
}

fn action_error(e: ActionError<CoreError>) -> CoreError {
    match e {
        ActionError::NotFound { what, id } => CoreError::not_found(what, id),
        ActionError::Invalid(message) => CoreError::Invalid(message),
        ActionError::Lookup(e) => e,
    }
}

pub(crate) fn photo_refs(
    conn: &Connection,
    hashes: &[String],
    role: PhotoRole,
) -> Result<Vec<PhotoRef>> {
    let mut st = conn.prepare_cached("SELECT 1 FROM photos WHERE hash = ?1")?;
    hashes
        .iter()
        .map(|h| {
            if !st.exists([h])? {
                return Err(CoreError::not_found("photo", h));
            }
            Ok(PhotoRef {
                hash: h.clone(),
                role,
            })
        })
        .collect()
}

impl Store {
    /// Reports a new problem. Point, district and category must be known; the district and
    /// location default from the point; the code is unique across devices.
    pub fn report_problem(&mut self, actor: &Actor, new: NewProblem) -> Result<Problem> {
        let id = Uuid::now_v7();
        let stamper = self.stamper();
        self.write(|tx, ctx| {
            let mut n = new;
            if reference::category(tx, &n.category)?.is_none() {
                return Err(CoreError::not_found("category", &n.category));
            }
            if let Some(pid) = &n.point_id {
                let p =
                    reference::point(tx, pid)?.ok_or_else(|| CoreError::not_found("point", pid))?;
                n.district_id.get_or_insert(p.district_id.clone());
                if n.address.is_empty() {
                    n.address = p.address.clone();
                }
                n.location.get_or_insert(Location {
                    lat: p.location.lat,
                    lon: p.location.lon,
                    accuracy_m: None,
                    source: fieldcheck_domain::LocationSource::Map,
                });
            }
            if let Some(d) = &n.district_id
                && reference::district(tx, d)?.is_none()
            {
                return Err(CoreError::not_found("district", d));
            }
            // A report from the street (a GPS fix or a pin, no point, no district) gets its
            // place here, from the reference data on the device, so that scope, ledger and
            // ranking work for it everywhere; how it was placed travels with the report.
            let mut placement = None;
            if let (None, None, Some(loc)) = (&n.point_id, &n.district_id, &n.location) {
                let (points, districts, own) = reference::placement_inputs(tx, &actor.user_id)?;
                if let Some(placed) = place(loc.latlon(), &points, &districts, &own) {
                    if let Some(p) = placed
                        .point_id
                        .as_deref()
                        .and_then(|id| points.iter().find(|p| p.id == id))
                        && n.address.is_empty()
                    {
                        n.address = p.address.clone();
                    }
                    n.district_id = Some(placed.district_id);
                    n.point_id = placed.point_id;
                    placement = Some(placed.placement);
                }
            }
            let photos = photo_refs(tx, &n.photos, PhotoRole::Before)?;
            let prefix = reference::code_prefix(tx, n.district_id.as_deref())?;
            let local_date = reference::calendar(tx)?.local_day(ctx.now);
            let seq = next_counter(tx, "problem_seq")?;
            let code =
                fieldcheck_domain::code::problem_code(&prefix, local_date, &ctx.device.tag, seq);
            let stamps = stamp_photos(
                tx,
                &stamper,
                ctx.now,
                &photos,
                actor,
                &StampPlace {
                    point_id: n.point_id.as_deref(),
                    address: &n.address,
                    location: n.location.as_ref().map(Location::latlon),
                    problem_code: Some(&code),
                },
            )?;
            let body = EventBody::ProblemReported(Box::new(ProblemReported {
                code,
                category: n.category,
                description: n.description.trim().to_owned(),
                location: n.location,
                address: n.address,
                district_id: n.district_id,
                point_id: n.point_id,
                item_id: n.item_id,
                inspection_id: n.inspection_id,
                severity: n.severity,
                placement,
            }));
            let ev = Event::new(
                id,
                actor,
                &ctx.device.device_id.to_string(),
                ctx.tick(),
                body,
            )
            .with_photos(photos)
            .with_stamps(stamps);
            commit_problem_event(tx, &ev)
        })
    }

    /// Applies one lifecycle action as `actor`. A refused action writes nothing.
    pub fn act(
        &mut self,
        actor: &Actor,
        problem_id: Uuid,
        action: ProblemAction,
    ) -> Result<Problem> {
        let stamper = self.stamper();
        self.write(|tx, ctx| {
            let cur = load_problem(tx, problem_id)?
                .ok_or_else(|| CoreError::not_found("problem", problem_id.to_string()))?;
            // The server does not have this record: anything done to it now would be refused
            // too. The way forward is to correct and send it again, or discard it.
            if let Some((code, message)) = creation_refusal(tx, problem_id)? {
                return Err(CoreError::NotOnServer {
                    record: cur.code,
                    code,
                    message,
                });
            }
            let (body, photos) =
                action_event(&cur, action, ctx.now, &StoreLookup(tx)).map_err(action_error)?;
            let stamps = stamp_photos(
                tx,
                &stamper,
                ctx.now,
                &photos,
                actor,
                &StampPlace {
                    point_id: cur.point_id.as_deref(),
                    address: &cur.address,
                    location: cur.location.as_ref().map(Location::latlon),
                    problem_code: Some(&cur.code),
                },
            )?;
            let ev = Event::new(
                problem_id,
                actor,
                &ctx.device.device_id.to_string(),
                ctx.tick(),
                body,
            )
            .with_photos(photos)
            .with_stamps(stamps);
            commit_problem_event(tx, &ev)
        })
    }

    /// Sends a report the server refused once more, corrected: a new report event for the
    /// same record (a new event id, the original report time) carrying what the person
    /// recorded — description, place, photos, and anything added while it waited — with the
    /// district and/or point given here. The refused events stay in the history, marked as
    /// replaced. The server never stored the refused report, so it sees exactly one.
    pub fn resend_problem(
        &mut self,
        actor: &Actor,
        problem_id: Uuid,
        fix: Resend,
    ) -> Result<Problem> {
        self.write(|tx, ctx| {
            let cur = load_problem(tx, problem_id)?
                .ok_or_else(|| CoreError::not_found("problem", problem_id.to_string()))?;
            if creation_refusal(tx, problem_id)?.is_none() {
                return Err(CoreError::Invalid(format!(
                    "problem {} was not refused by the server: there is nothing to send again",
                    cur.code
                )));
            }
            if cur.reporter != actor.user_id {
                return Err(CoreError::Invalid(format!(
                    "only {} who reported problem {} can send it again",
                    cur.reporter, cur.code
                )));
            }
            let mut r = ProblemReported {
                code: cur.code.clone(),
                category: cur.category.clone(),
                description: cur.description.clone(),
                location: cur.location,
                address: cur.address.clone(),
                district_id: cur.district_id.clone(),
                point_id: cur.point_id.clone(),
                item_id: cur.item_id.clone(),
                inspection_id: cur.inspection_id,
                severity: cur.severity,
                placement: cur.placement,
            };
            if let Some(pid) = &fix.point_id {
                let p =
                    reference::point(tx, pid)?.ok_or_else(|| CoreError::not_found("point", pid))?;
                r.district_id = Some(p.district_id.clone());
                r.point_id = Some(p.id.clone());
                if r.address.is_empty() {
                    r.address = p.address;
                }
                r.placement = None;
            }
            if let Some(d) = &fix.district_id {
                if reference::district(tx, d)?.is_none() {
                    return Err(CoreError::not_found("district", d));
                }
                // A point outside the district the person chose is no longer where it is.
                if let Some(pid) = &r.point_id
                    && let Some(p) = reference::point(tx, pid)?
                    && !reference::district_and_descendants(tx, d)?.contains(&p.district_id)
                {
                    if fix.point_id.is_some() {
                        return Err(CoreError::Invalid(format!(
                            "point {pid} is not in district {d}"
                        )));
                    }
                    r.point_id = None;
                }
                r.district_id = Some(d.clone());
                r.placement = None;
            }
            let photos: Vec<PhotoRef> = cur
                .photos
                .iter()
                .map(|p| PhotoRef {
                    hash: p.hash.clone(),
                    role: p.role,
                })
                .collect();
            // The photos keep the stamps they were taken with.
            let mut stamps: Vec<PhotoStamp> = Vec::new();
            for p in &cur.photos {
                if let Some(stamped) = &p.stamped
                    && !stamps.iter().any(|s| s.photo == p.hash)
                {
                    stamps.push(PhotoStamp {
                        photo: p.hash.clone(),
                        stamped: stamped.clone(),
                    });
                }
            }
            // The report keeps the time it was made: that is when the problem was seen.
            let first_hlc: String = tx
                .prepare_cached(
                    "SELECT hlc FROM events WHERE entity_id = ?1 AND kind = 'problem.reported'
                     AND origin = 'local' AND superseded_by IS NULL ORDER BY hlc LIMIT 1",
                )?
                .query_row([problem_id.to_string()], |row| row.get(0))?;
            let ev = Event::new(
                problem_id,
                actor,
                &ctx.device.device_id.to_string(),
                first_hlc
                    .parse()
                    .map_err(|e| CoreError::Corrupt(format!("hlc {first_hlc:?}: {e}")))?,
                EventBody::ProblemReported(Box::new(r)),
            )
            .with_photos(photos)
            .with_stamps(stamps);
            let next = apply_problem(None, &ev)?;
            let id = problem_id.to_string();
            // Everything of this record not on the server is replaced by the new report: the
            // refused events, and any still waiting to be sent (which would be refused for a
            // record the server does not know). Their photos now belong to the new report.
            tx.prepare_cached(
                "DELETE FROM photo_links WHERE event_id IN (
                     SELECT id FROM events WHERE entity_id = ?1 AND origin = 'local'
                       AND superseded_by IS NULL)",
            )?
            .execute([&id])?;
            tx.prepare_cached(
                "UPDATE events SET superseded_by = ?2, pushed_at = coalesce(pushed_at, ?3)
                 WHERE entity_id = ?1 AND origin = 'local' AND superseded_by IS NULL",
            )?
            .execute(rusqlite::params![
                id,
                ev.id.to_string(),
                ctx.now.timestamp_millis()
            ])?;
            insert_event(tx, &ev, &EventOutcome::Applied, "local")?;
            save_problem(tx, &next, 0)?;
            link_photos(tx, &ev)?;
            Ok(next)
        })
    }

    /// Removes a record the server refused, with everything recorded on it, from this
    /// device, knowingly: only a record no replica has (its creation refused, none of its
    /// events stored by the server), only by its reporter. Photo files stay (they may be
    /// shared); nothing refers to them from this record any more.
    pub fn discard_problem(&mut self, actor: &Actor, problem_id: Uuid) -> Result<Problem> {
        self.write(|tx, _| {
            let cur = load_problem(tx, problem_id)?
                .ok_or_else(|| CoreError::not_found("problem", problem_id.to_string()))?;
            if cur.reporter != actor.user_id {
                return Err(CoreError::Invalid(format!(
                    "only {} who reported problem {} can discard it",
                    cur.reporter, cur.code
                )));
            }
            discard_unsent(
                tx,
                EntityKind::Problem,
                problem_id,
                &format!("problem {}", cur.code),
            )?;
            Ok(cur)
        })
    }

    /// As [`Store::discard_problem`], for an inspection whose start the server refused (an
    /// inspection of a point outside the inspector's districts): only by its inspector.
    pub fn discard_inspection(
        &mut self,
        actor: &Actor,
        inspection_id: Uuid,
    ) -> Result<crate::domain::inspection::Inspection> {
        self.write(|tx, _| {
            let cur = crate::store::load_inspection(tx, inspection_id)?
                .ok_or_else(|| CoreError::not_found("inspection", inspection_id.to_string()))?;
            if cur.inspector != actor.user_id {
                return Err(CoreError::Invalid(format!(
                    "only {} who made inspection {inspection_id} can discard it",
                    cur.inspector
                )));
            }
            discard_unsent(
                tx,
                EntityKind::Inspection,
                inspection_id,
                &format!("inspection {inspection_id}"),
            )?;
            Ok(cur)
        })
    }

    /// The server's refusal of this problem's report, while it stands (the record then
    /// exists only on this device).
    pub fn creation_refusal(&self, id: Uuid) -> Result<Option<ServerRefusal>> {
        Ok(
            creation_refusal(&self.conn, id)?
                .map(|(code, message)| ServerRefusal { code, message }),
        )
    }

    /// Which kind of record an id names on this device, if any.
    pub fn record_kind(&self, id: Uuid) -> Result<Option<EntityKind>> {
        let kind: Option<String> = rusqlite::OptionalExtension::optional(
            self.conn
                .prepare_cached("SELECT entity FROM events WHERE entity_id = ?1 LIMIT 1")?
                .query_row([id.to_string()], |r| r.get(0)),
        )?;
        Ok(kind.as_deref().and_then(EntityKind::parse))
    }

    pub fn problem(&self, id: Uuid) -> Result<Problem> {
        load_problem(&self.conn, id)?.ok_or_else(|| CoreError::not_found("problem", id.to_string()))
    }

    /// Finds a problem by its id or its human code.
    pub fn find_problem(&self, id_or_code: &str) -> Result<Problem> {
        if let Ok(id) = Uuid::parse_str(id_or_code) {
            return self.problem(id);
        }
        let id: Option<String> = rusqlite::OptionalExtension::optional(
            self.conn
                .prepare_cached("SELECT id FROM problems WHERE code = ?1")?
                .query_row([id_or_code], |r| r.get(0)),
        )?;
        match id {
            Some(id) => {
                self.problem(Uuid::parse_str(&id).map_err(|e| CoreError::Corrupt(e.to_string()))?)
            }
            None => Err(CoreError::not_found("problem", id_or_code)),
        }
    }
}

/// Removes every trace of a record no replica has — its creation refused by the server and
/// none of its events stored there — from this device. Photo files stay (they may be shared).
fn discard_unsent(tx: &Connection, kind: EntityKind, id: Uuid, label: &str) -> Result<()> {
    let key = id.to_string();
    let on_server = tx
        .prepare_cached(
            "SELECT 1 FROM events WHERE entity_id = ?1 AND (origin = 'remote'
             OR (pushed_at IS NOT NULL AND refused = 0 AND superseded_by IS NULL))",
        )?
        .exists([&key])?;
    if creation_refusal(tx, id)?.is_none() || on_server {
        return Err(CoreError::Invalid(format!(
            "{label} was not refused by the server: only a record the server refused can be discarded"
        )));
    }
    tx.prepare_cached("DELETE FROM photo_links WHERE entity_id = ?1")?
        .execute([&key])?;
    tx.prepare_cached("DELETE FROM events WHERE entity_id = ?1")?
        .execute([&key])?;
    let projection = match kind {
        EntityKind::Problem => "DELETE FROM problems WHERE id = ?1",
        EntityKind::Inspection => "DELETE FROM inspections WHERE id = ?1",
    };
    tx.prepare_cached(projection)?.execute([&key])?;
    Ok(())
}
