//! Problem actions: each one validated against reference data, turned into an event, folded
//! by the domain rules and committed with its projection in one transaction.

use chrono::{DateTime, Utc};
use fieldcheck_domain::event::{ProblemEdit, ProblemReported, RejectReason};
use fieldcheck_domain::{
    Actor, Event, EventBody, Location, PhotoRef, PhotoRole, Problem, Severity,
};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{CoreError, Result};
use crate::reference;
use crate::store::{Store, commit_problem_event, load_problem, next_counter};

/// What a person fills in to report a problem.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

/// Every lifecycle action a person can take on an existing problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ProblemAction {
    Edit(ProblemEdit),
    AddPhotos {
        photos: Vec<String>,
        role: PhotoRole,
        note: Option<String>,
    },
    File {
        note: Option<String>,
    },
    Reject {
        reason: RejectReason,
    },
    /// Without a deadline, it is computed from the category's rule on the work calendar.
    Dispatch {
        unit_id: String,
        deadline: Option<DateTime<Utc>>,
        note: Option<String>,
    },
    Accept {
        note: Option<String>,
    },
    Return {
        reason: String,
    },
    Rectify {
        photos: Vec<String>,
        note: Option<String>,
    },
    Verify {
        passed: bool,
        note: Option<String>,
        photos: Vec<String>,
    },
    Close {
        note: Option<String>,
    },
    RequestExtension {
        until: DateTime<Utc>,
        reason: String,
    },
    DecideExtension {
        approved: bool,
        note: Option<String>,
    },
    Recheck {
        passed: bool,
        note: Option<String>,
        photos: Vec<String>,
    },
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
            let photos = photo_refs(tx, &n.photos, PhotoRole::Before)?;
            let prefix = reference::code_prefix(tx, n.district_id.as_deref())?;
            let local_date = ctx
                .now
                .with_timezone(
                    &chrono::FixedOffset::east_opt(
                        reference::calendar(tx)?.utc_offset_minutes * 60,
                    )
                    .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("zero")),
                )
                .date_naive();
            let seq = next_counter(tx, "problem_seq")?;
            let code =
                fieldcheck_domain::code::problem_code(&prefix, local_date, &ctx.device.tag, seq);
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
            }));
            let ev = Event::new(
                id,
                actor,
                &ctx.device.device_id.to_string(),
                ctx.tick(),
                body,
            )
            .with_photos(photos);
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
        self.write(|tx, ctx| {
            let cur = load_problem(tx, problem_id)?
                .ok_or_else(|| CoreError::not_found("problem", problem_id.to_string()))?;
            let (body, photos) = match action {
                ProblemAction::Edit(e) => {
                    if let Some(c) = &e.category
                        && reference::category(tx, c)?.is_none()
                    {
                        return Err(CoreError::not_found("category", c));
                    }
                    if let Some(d) = &e.district_id
                        && reference::district(tx, d)?.is_none()
                    {
                        return Err(CoreError::not_found("district", d));
                    }
                    (EventBody::ProblemEdited(e), vec![])
                }
                ProblemAction::AddPhotos { photos, role, note } => (
                    EventBody::ProblemPhotosAdded { note },
                    photo_refs(tx, &photos, role)?,
                ),
                ProblemAction::File { note } => (EventBody::ProblemFiled { note }, vec![]),
                ProblemAction::Reject { reason } => {
                    if let RejectReason::Duplicate { of } = &reason {
                        let exists = tx
                            .prepare_cached("SELECT 1 FROM problems WHERE code = ?1")?
                            .exists([of])?;
                        if !exists {
                            return Err(CoreError::not_found("problem", of));
                        }
                    }
                    (EventBody::ProblemRejected { reason }, vec![])
                }
                ProblemAction::Dispatch {
                    unit_id,
                    deadline,
                    note,
                } => {
                    if !reference::unit_exists(tx, &unit_id)? {
                        return Err(CoreError::not_found("unit", &unit_id));
                    }
                    let deadline = match deadline {
                        Some(d) => d,
                        None => default_deadline(tx, &cur, ctx.now)?,
                    };
                    (
                        EventBody::ProblemDispatched {
                            unit_id,
                            deadline,
                            note,
                        },
                        vec![],
                    )
                }
                ProblemAction::Accept { note } => (EventBody::ProblemAccepted { note }, vec![]),
                ProblemAction::Return { reason } => (EventBody::ProblemReturned { reason }, vec![]),
                ProblemAction::Rectify { photos, note } => (
                    EventBody::ProblemRectified { note },
                    photo_refs(tx, &photos, PhotoRole::After)?,
                ),
                ProblemAction::Verify {
                    passed,
                    note,
                    photos,
                } => {
                    let deadline = if passed {
                        None
                    } else {
                        Some(default_deadline(tx, &cur, ctx.now)?)
                    };
                    (
                        EventBody::ProblemVerified {
                            passed,
                            note,
                            deadline,
                        },
                        photo_refs(tx, &photos, PhotoRole::Evidence)?,
                    )
                }
                ProblemAction::Close { note } => (EventBody::ProblemClosed { note }, vec![]),
                ProblemAction::RequestExtension { until, reason } => {
                    (EventBody::ExtensionRequested { until, reason }, vec![])
                }
                ProblemAction::DecideExtension { approved, note } => {
                    (EventBody::ExtensionDecided { approved, note }, vec![])
                }
                ProblemAction::Recheck {
                    passed,
                    note,
                    photos,
                } => (
                    EventBody::ProblemRechecked { passed, note },
                    photo_refs(tx, &photos, PhotoRole::Evidence)?,
                ),
            };
            let ev = Event::new(
                problem_id,
                actor,
                &ctx.device.device_id.to_string(),
                ctx.tick(),
                body,
            )
            .with_photos(photos);
            commit_problem_event(tx, &ev)
        })
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

/// The deadline a category's rule gives when counted from `now` on the work calendar.
fn default_deadline(conn: &Connection, p: &Problem, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let cat = reference::category(conn, &p.category)?
        .ok_or_else(|| CoreError::not_found("category", &p.category))?;
    Ok(reference::calendar(conn)?.deadline(now, cat.deadline))
}
