//! An inspection (巡查/测评): one visit to one point with one template version.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::checklist::{ChecklistTemplate, ItemResult, Score, is_failure, score};
use crate::error::{Refusal, RefusalCode};
use crate::event::{Event, EventBody};
use crate::problem::Location;
use crate::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum InspectionStatus {
    InProgress,
    Finished,
}

impl InspectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InspectionStatus::InProgress => "in_progress",
            InspectionStatus::Finished => "finished",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RecordedItem {
    pub result: ItemResult,
    pub failed: bool,
    pub note: Option<String>,
    pub photos: Vec<String>,
    pub recorded_at: DateTime<Utc>,
    pub event_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Inspection {
    pub id: Uuid,
    pub point_id: String,
    pub template_id: String,
    pub template_version: u32,
    pub inspector: String,
    pub status: InspectionStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub start_location: Option<Location>,
    pub end_location: Option<Location>,
    pub items: BTreeMap<String, RecordedItem>,
    pub score: Score,
}

fn refuse(code: RefusalCode, msg: impl Into<String>) -> Refusal {
    Refusal::new(code, msg)
}

/// Applies one inspection event. `template` is the template version the inspection was
/// started with (looked up by the caller from the started event or the current state).
pub fn apply_inspection(
    state: Option<&Inspection>,
    ev: &Event,
    template: Option<&ChecklistTemplate>,
) -> Result<Inspection, Refusal> {
    let kind = ev.kind();
    if !kind.starts_with("inspection.") {
        return Err(refuse(
            RefusalCode::WrongEntity,
            format!("{kind} is not an inspection event"),
        ));
    }
    if !crate::lifecycle::roles_allowed(kind).contains(&ev.role) {
        return Err(refuse(
            RefusalCode::RoleNotAllowed,
            format!("a {} may not send {kind}", ev.role.as_str()),
        ));
    }
    let at = ev.at();
    let template = template.ok_or_else(|| {
        refuse(
            RefusalCode::NotFound,
            "the inspection's checklist template is not known on this device",
        )
    })?;
    match (&ev.body, state) {
        (
            EventBody::InspectionStarted {
                point_id,
                template_id,
                template_version,
                location,
            },
            None,
        ) => {
            if *template_id != template.id || *template_version != template.version {
                return Err(refuse(RefusalCode::NotFound, "template version mismatch"));
            }
            if location.is_some_and(|l| !l.is_valid()) {
                return Err(refuse(
                    RefusalCode::InvalidLocation,
                    "location is outside WGS-84 range",
                ));
            }
            Ok(Inspection {
                id: ev.entity_id,
                point_id: point_id.clone(),
                template_id: template_id.clone(),
                template_version: *template_version,
                inspector: ev.actor.clone(),
                status: InspectionStatus::InProgress,
                started_at: at,
                finished_at: None,
                start_location: *location,
                end_location: None,
                items: BTreeMap::new(),
                score: score(template, std::iter::empty())?,
            })
        }
        (EventBody::InspectionStarted { .. }, Some(_)) => Err(refuse(
            RefusalCode::AlreadyExists,
            format!("inspection {} was already started", ev.entity_id),
        )),
        (_, None) => Err(refuse(
            RefusalCode::NotFound,
            format!("inspection {} does not exist", ev.entity_id),
        )),
        (body, Some(cur)) => {
            if cur.status == InspectionStatus::Finished {
                return Err(refuse(
                    RefusalCode::InspectionFinished,
                    "the inspection is already finished",
                ));
            }
            if ev.role != Role::Admin && ev.actor != cur.inspector {
                return Err(refuse(
                    RefusalCode::NotOwnRecord,
                    "only the inspector who started it may record this inspection",
                ));
            }
            let mut next = cur.clone();
            match body {
                EventBody::InspectionItemRecorded {
                    item_id,
                    result,
                    note,
                } => {
                    let item = template.item(item_id).ok_or_else(|| {
                        refuse(
                            RefusalCode::UnknownItem,
                            format!("template {} has no item {item_id}", template.id),
                        )
                    })?;
                    let failed = is_failure(item, result)?;
                    if failed && item.photo_required_on_fail && ev.photos.is_empty() {
                        return Err(refuse(
                            RefusalCode::PhotoRequired,
                            format!("item {item_id} failed and needs a photo"),
                        ));
                    }
                    next.items.insert(
                        item_id.clone(),
                        RecordedItem {
                            result: result.clone(),
                            failed,
                            note: note.clone(),
                            photos: ev.photos.iter().map(|p| p.hash.clone()).collect(),
                            recorded_at: at,
                            event_id: ev.id,
                        },
                    );
                    next.score = score(
                        template,
                        next.items.iter().map(|(k, v)| (k.as_str(), &v.result)),
                    )?;
                }
                EventBody::InspectionFinished { location } => {
                    let missing: Vec<&str> = template
                        .items
                        .iter()
                        .filter(|i| !cur.items.contains_key(&i.id))
                        .map(|i| i.id.as_str())
                        .collect();
                    if !missing.is_empty() {
                        return Err(refuse(
                            RefusalCode::InvalidTransition,
                            format!(
                                "{} item(s) not recorded yet: {}",
                                missing.len(),
                                missing.join(", ")
                            ),
                        ));
                    }
                    next.status = InspectionStatus::Finished;
                    next.finished_at = Some(at);
                    next.end_location = *location;
                }
                _ => unreachable!("inspection kinds only"),
            }
            Ok(next)
        }
    }
}
