//! Events: every change to a problem or an inspection is one immutable event. The record is
//! the fold of its events; the events are the audit trail and the sync unit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::checklist::ItemResult;
use crate::error::{Refusal, RefusalCode};
use crate::hlc::Hlc;
use crate::problem::{Location, Severity};
use crate::role::{Actor, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoRole {
    /// 整改前
    Before,
    /// 整改后
    After,
    /// Any other evidence (inspection item photos, extra context).
    Evidence,
}

impl PhotoRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoRole::Before => "before",
            PhotoRole::After => "after",
            PhotoRole::Evidence => "evidence",
        }
    }

    pub fn parse(s: &str) -> Option<PhotoRole> {
        [PhotoRole::Before, PhotoRole::After, PhotoRole::Evidence]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoRef {
    /// SHA-256 (hex) of the display copy: the photo's identity across devices.
    pub hash: String,
    pub role: PhotoRole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Problem,
    Inspection,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Problem => "problem",
            EntityKind::Inspection => "inspection",
        }
    }

    pub fn parse(s: &str) -> Option<EntityKind> {
        match s {
            "problem" => Some(EntityKind::Problem),
            "inspection" => Some(EntityKind::Inspection),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemReported {
    pub code: String,
    pub category: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default)]
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspection_id: Option<Uuid>,
    #[serde(default)]
    pub severity: Severity,
}

/// Descriptive fields; each present field overwrites (last HLC wins, field by field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ProblemEdit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district_id: Option<String>,
}

impl ProblemEdit {
    pub fn is_empty(&self) -> bool {
        self == &ProblemEdit::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RejectReason {
    /// Same problem as an existing record (its code).
    Duplicate {
        of: String,
    },
    Invalid {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload")]
pub enum EventBody {
    #[serde(rename = "problem.reported")]
    ProblemReported(Box<ProblemReported>),
    #[serde(rename = "problem.edited")]
    ProblemEdited(ProblemEdit),
    #[serde(rename = "problem.photos_added")]
    ProblemPhotosAdded { note: Option<String> },
    #[serde(rename = "problem.filed")]
    ProblemFiled { note: Option<String> },
    #[serde(rename = "problem.rejected")]
    ProblemRejected { reason: RejectReason },
    #[serde(rename = "problem.dispatched")]
    ProblemDispatched {
        unit_id: String,
        deadline: DateTime<Utc>,
        note: Option<String>,
    },
    #[serde(rename = "problem.accepted")]
    ProblemAccepted { note: Option<String> },
    #[serde(rename = "problem.returned")]
    ProblemReturned { reason: String },
    #[serde(rename = "problem.rectified")]
    ProblemRectified { note: Option<String> },
    #[serde(rename = "problem.verified")]
    ProblemVerified {
        passed: bool,
        note: Option<String>,
        /// New deadline when the check fails and the case goes back to the unit.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<DateTime<Utc>>,
    },
    #[serde(rename = "problem.closed")]
    ProblemClosed { note: Option<String> },
    #[serde(rename = "problem.extension_requested")]
    ExtensionRequested {
        until: DateTime<Utc>,
        reason: String,
    },
    #[serde(rename = "problem.extension_decided")]
    ExtensionDecided {
        approved: bool,
        note: Option<String>,
    },
    #[serde(rename = "problem.rechecked")]
    ProblemRechecked { passed: bool, note: Option<String> },
    #[serde(rename = "inspection.started")]
    InspectionStarted {
        point_id: String,
        template_id: String,
        template_version: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<Location>,
    },
    #[serde(rename = "inspection.item_recorded")]
    InspectionItemRecorded {
        item_id: String,
        result: ItemResult,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    #[serde(rename = "inspection.finished")]
    InspectionFinished {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<Location>,
    },
}

impl EventBody {
    pub fn entity(&self) -> EntityKind {
        match self {
            EventBody::InspectionStarted { .. }
            | EventBody::InspectionItemRecorded { .. }
            | EventBody::InspectionFinished { .. } => EntityKind::Inspection,
            _ => EntityKind::Problem,
        }
    }

    /// The stable wire name, e.g. `problem.dispatched`.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::ProblemReported(_) => "problem.reported",
            EventBody::ProblemEdited(_) => "problem.edited",
            EventBody::ProblemPhotosAdded { .. } => "problem.photos_added",
            EventBody::ProblemFiled { .. } => "problem.filed",
            EventBody::ProblemRejected { .. } => "problem.rejected",
            EventBody::ProblemDispatched { .. } => "problem.dispatched",
            EventBody::ProblemAccepted { .. } => "problem.accepted",
            EventBody::ProblemReturned { .. } => "problem.returned",
            EventBody::ProblemRectified { .. } => "problem.rectified",
            EventBody::ProblemVerified { .. } => "problem.verified",
            EventBody::ProblemClosed { .. } => "problem.closed",
            EventBody::ExtensionRequested { .. } => "problem.extension_requested",
            EventBody::ExtensionDecided { .. } => "problem.extension_decided",
            EventBody::ProblemRechecked { .. } => "problem.rechecked",
            EventBody::InspectionStarted { .. } => "inspection.started",
            EventBody::InspectionItemRecorded { .. } => "inspection.item_recorded",
            EventBody::InspectionFinished { .. } => "inspection.finished",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: Uuid,
    pub entity_id: Uuid,
    pub actor: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_unit: Option<String>,
    pub device: String,
    pub hlc: Hlc,
    #[serde(flatten)]
    pub body: EventBody,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<PhotoRef>,
}

impl Event {
    pub fn new(entity_id: Uuid, actor: &Actor, device: &str, hlc: Hlc, body: EventBody) -> Event {
        Event {
            id: Uuid::now_v7(),
            entity_id,
            actor: actor.user_id.clone(),
            role: actor.role,
            actor_unit: actor.unit_id.clone(),
            device: device.to_owned(),
            hlc,
            body,
            photos: Vec::new(),
        }
    }

    pub fn with_photos(mut self, photos: Vec<PhotoRef>) -> Event {
        self.photos = photos;
        self
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.actor.clone(),
            role: self.role,
            unit_id: self.actor_unit.clone(),
        }
    }

    pub fn entity(&self) -> EntityKind {
        self.body.entity()
    }

    pub fn kind(&self) -> &'static str {
        self.body.kind()
    }

    pub fn at(&self) -> DateTime<Utc> {
        self.hlc.to_datetime()
    }

    /// The fold order: HLC, then event id so that even two identical clocks order the same
    /// way everywhere.
    pub fn fold_key(&self) -> (&Hlc, &Uuid) {
        (&self.hlc, &self.id)
    }
}

/// What became of an event when it was folded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum EventOutcome {
    Applied,
    Rejected { code: RefusalCode, message: String },
}

impl From<Result<(), Refusal>> for EventOutcome {
    fn from(r: Result<(), Refusal>) -> Self {
        match r {
            Ok(()) => EventOutcome::Applied,
            Err(r) => EventOutcome::Rejected {
                code: r.code,
                message: r.message,
            },
        }
    }
}

/// What an event kind is called in the ledger's history, for people.
pub fn kind_label(kind: &str, lang: crate::i18n::Lang) -> &'static str {
    let (zh, en) = match kind {
        "problem.reported" => ("上报", "Reported"),
        "problem.edited" => ("修改信息", "Edited"),
        "problem.photos_added" => ("补充照片", "Photos added"),
        "problem.filed" => ("立案", "Filed"),
        "problem.rejected" => ("不予立案", "Rejected"),
        "problem.dispatched" => ("派遣", "Dispatched"),
        "problem.accepted" => ("签收", "Accepted"),
        "problem.returned" => ("退回", "Returned"),
        "problem.rectified" => ("整改反馈", "Rectified"),
        "problem.verified" => ("核查", "Verified"),
        "problem.closed" => ("结案", "Closed"),
        "problem.extension_requested" => ("申请延期", "Extension requested"),
        "problem.extension_decided" => ("延期审批", "Extension decided"),
        "problem.rechecked" => ("巩固复查", "Re-checked"),
        "inspection.started" => ("开始巡查", "Inspection started"),
        "inspection.item_recorded" => ("记录检查项", "Item recorded"),
        "inspection.finished" => ("完成巡查", "Inspection finished"),
        _ => ("未知", "Unknown"),
    };
    if lang == crate::i18n::Lang::En {
        en
    } else {
        zh
    }
}
