//! Events: every change to a problem or an inspection is one immutable event. The record is
//! the fold of its events; the events are the audit trail and the sync unit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::checklist::ItemResult;
use crate::error::{Refusal, RefusalCode};
use crate::hlc::Hlc;
use crate::placement::Placement;
use crate::problem::{Location, Severity};
use crate::role::{Actor, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
    /// How the device placed a report made by GPS alone (no point, no district given); absent
    /// when a person chose the point or district. Old events have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
}

/// Descriptive fields; each present field overwrites (last HLC wins, field by field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "payload")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
        #[serde(deserialize_with = "crate::wire::whole_u32")]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
    /// The evidence stamps (水印) of this event's photos: which display copy carries the stamp
    /// of a photo in `photos`. `photos` keeps naming the photo as captured (its hash is the
    /// evidence that it was not altered); the stamped copy is what people are shown. Absent
    /// when the city switched stamps off and in events written before stamps existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stamps: Vec<PhotoStamp>,
}

/// A photo of an event and the display copy carrying its evidence stamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PhotoStamp {
    /// SHA-256 of the photo as captured (a `photos[].hash` of the same event).
    pub photo: String,
    /// SHA-256 of the stamped display copy.
    pub stamped: String,
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
            stamps: Vec::new(),
        }
    }

    /// The event with an id made elsewhere: a report page's client-made id, so that every
    /// resend of one report is the same event and is stored once.
    pub fn with_id(mut self, id: Uuid) -> Event {
        self.id = id;
        self
    }

    pub fn with_photos(mut self, photos: Vec<PhotoRef>) -> Event {
        self.photos = photos;
        self
    }

    pub fn with_stamps(mut self, stamps: Vec<PhotoStamp>) -> Event {
        self.stamps = stamps;
        self
    }

    /// The stamped display copy of one of this event's photos, if it has one.
    pub fn stamped(&self, photo: &str) -> Option<&str> {
        self.stamps
            .iter()
            .find(|s| s.photo == photo)
            .map(|s| s.stamped.as_str())
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

/// Largest sizes of an event's fields, in characters. Big enough for any real report, small
/// enough that one event cannot carry megabytes into every replica's log and every pull page.
pub mod limits {
    /// Identifiers: actor, device, HLC node, unit, district, point, item, category, template.
    pub const ID: usize = 64;
    /// A problem code (`GL-20261123-K7Q2-0007`).
    pub const CODE: usize = 64;
    pub const DESCRIPTION: usize = 2_000;
    pub const ADDRESS: usize = 500;
    /// Notes and reasons of status changes, returns, extensions, rejections.
    pub const TEXT: usize = 1_000;
    /// Photos one event may carry.
    pub const PHOTOS: usize = 30;
}

/// An event field that is too long or not well formed; `field` names it as in the JSON
/// (`payload.description`, `photos[2].hash`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

/// A photo's identity: SHA-256 as 64 lowercase hex characters, nothing else (it also names a
/// blob the devices download).
pub fn is_photo_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn check_len(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    let n = value.chars().count();
    if n > max {
        return Err(FieldError {
            field: field.to_owned(),
            problem: format!("{n} characters; at most {max}"),
        });
    }
    Ok(())
}

fn check_opt(field: &str, value: Option<&str>, max: usize) -> Result<(), FieldError> {
    value.map_or(Ok(()), |v| check_len(field, v, max))
}

impl Event {
    /// Checks sizes and formats that do not depend on any state: field lengths, the number of
    /// photos and that every photo hash is a SHA-256 hex digest. Replicas refuse an event that
    /// fails (it is never stored), so what does pass is bounded everywhere.
    pub fn check_fields(&self) -> Result<(), FieldError> {
        use limits::*;
        check_len("actor", &self.actor, ID)?;
        check_len("device", &self.device, ID)?;
        check_len("hlc (node)", &self.hlc.node, ID)?;
        check_opt("actor_unit", self.actor_unit.as_deref(), ID)?;
        if self.photos.len() > PHOTOS {
            return Err(FieldError {
                field: "photos".into(),
                problem: format!("{} photos; at most {PHOTOS}", self.photos.len()),
            });
        }
        for (i, p) in self.photos.iter().enumerate() {
            if !is_photo_hash(&p.hash) {
                return Err(FieldError {
                    field: format!("photos[{i}].hash"),
                    problem: "not a SHA-256 digest (64 lowercase hex characters)".into(),
                });
            }
        }
        // A stamp belongs to one of the event's own photos, so stamps are bounded by photos
        // and cannot grant anyone read access to a blob the event does not carry.
        if self.stamps.len() > self.photos.len() {
            return Err(FieldError {
                field: "stamps".into(),
                problem: format!(
                    "{} stamps for {} photos; at most one per photo",
                    self.stamps.len(),
                    self.photos.len()
                ),
            });
        }
        for (i, s) in self.stamps.iter().enumerate() {
            if !is_photo_hash(&s.stamped) {
                return Err(FieldError {
                    field: format!("stamps[{i}].stamped"),
                    problem: "not a SHA-256 digest (64 lowercase hex characters)".into(),
                });
            }
            if !self.photos.iter().any(|p| p.hash == s.photo) {
                return Err(FieldError {
                    field: format!("stamps[{i}].photo"),
                    problem: "not one of the event's photos".into(),
                });
            }
        }
        match &self.body {
            EventBody::ProblemReported(r) => {
                check_len("payload.code", &r.code, CODE)?;
                check_len("payload.category", &r.category, ID)?;
                check_len("payload.description", &r.description, DESCRIPTION)?;
                check_len("payload.address", &r.address, ADDRESS)?;
                check_opt("payload.district_id", r.district_id.as_deref(), ID)?;
                check_opt("payload.point_id", r.point_id.as_deref(), ID)?;
                check_opt("payload.item_id", r.item_id.as_deref(), ID)?;
            }
            EventBody::ProblemEdited(e) => {
                check_opt("payload.description", e.description.as_deref(), DESCRIPTION)?;
                check_opt("payload.address", e.address.as_deref(), ADDRESS)?;
                check_opt("payload.category", e.category.as_deref(), ID)?;
                check_opt("payload.district_id", e.district_id.as_deref(), ID)?;
            }
            EventBody::ProblemRejected { reason } => match reason {
                RejectReason::Duplicate { of } => check_len("payload.reason.of", of, CODE)?,
                RejectReason::Invalid { reason } => {
                    check_len("payload.reason.reason", reason, TEXT)?
                }
            },
            EventBody::ProblemDispatched { unit_id, note, .. } => {
                check_len("payload.unit_id", unit_id, ID)?;
                check_opt("payload.note", note.as_deref(), TEXT)?;
            }
            EventBody::ProblemReturned { reason }
            | EventBody::ExtensionRequested { reason, .. } => {
                check_len("payload.reason", reason, TEXT)?
            }
            EventBody::ProblemPhotosAdded { note }
            | EventBody::ProblemFiled { note }
            | EventBody::ProblemAccepted { note }
            | EventBody::ProblemRectified { note }
            | EventBody::ProblemVerified { note, .. }
            | EventBody::ProblemClosed { note }
            | EventBody::ExtensionDecided { note, .. }
            | EventBody::ProblemRechecked { note, .. }
            | EventBody::InspectionItemRecorded { note, .. } => {
                check_opt("payload.note", note.as_deref(), TEXT)?
            }
            EventBody::InspectionStarted {
                point_id,
                template_id,
                ..
            } => {
                check_len("payload.point_id", point_id, ID)?;
                check_len("payload.template_id", template_id, ID)?;
            }
            EventBody::InspectionFinished { .. } => {}
        }
        if let EventBody::InspectionItemRecorded { item_id, .. } = &self.body {
            check_len("payload.item_id", item_id, ID)?;
        }
        Ok(())
    }
}

/// What became of an event when it was folded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Severity;

    fn report(description: &str) -> Event {
        let actor = Actor {
            user_id: "usr-vol-1".into(),
            role: Role::Volunteer,
            unit_id: None,
        };
        Event::new(
            Uuid::now_v7(),
            &actor,
            "dev",
            Hlc::new(1, 0, "dev"),
            EventBody::ProblemReported(Box::new(ProblemReported {
                code: "GL-20261123-K7Q2-0007".into(),
                category: "litter".into(),
                description: description.into(),
                location: None,
                address: String::new(),
                district_id: Some("s-dj".into()),
                point_id: None,
                item_id: None,
                inspection_id: None,
                severity: Severity::default(),
                placement: None,
            })),
        )
    }

    #[test]
    fn field_sizes_are_bounded_and_named() {
        // Characters, not bytes: 2,000 Chinese characters are a legitimate description.
        assert_eq!(
            report(&"垃".repeat(limits::DESCRIPTION)).check_fields(),
            Ok(())
        );
        let e = report(&"垃".repeat(limits::DESCRIPTION + 1))
            .check_fields()
            .unwrap_err();
        assert_eq!(e.field, "payload.description");
        assert!(e.to_string().contains("at most 2000"), "{e}");

        let mut ev = report("x");
        ev.body = EventBody::ProblemReturned {
            reason: "r".repeat(limits::TEXT + 1),
        };
        assert_eq!(ev.check_fields().unwrap_err().field, "payload.reason");
        let mut ev = report("x");
        ev.actor = "a".repeat(limits::ID + 1);
        assert_eq!(ev.check_fields().unwrap_err().field, "actor");
    }

    #[test]
    fn photo_hashes_must_be_sha256_hex() {
        let good = "a".repeat(64);
        let ok = report("x").with_photos(vec![PhotoRef {
            hash: good.clone(),
            role: PhotoRole::Before,
        }]);
        assert_eq!(ok.check_fields(), Ok(()));
        for bad in [
            "../../etc/passwd".to_owned(),
            "A".repeat(64),
            "a".repeat(63),
            format!("{}g", "a".repeat(63)),
        ] {
            let ev = report("x").with_photos(vec![
                PhotoRef {
                    hash: good.clone(),
                    role: PhotoRole::Before,
                },
                PhotoRef {
                    hash: bad.clone(),
                    role: PhotoRole::Before,
                },
            ]);
            let e = ev.check_fields().unwrap_err();
            assert_eq!(e.field, "photos[1].hash", "{bad}");
        }
        let many = report("x").with_photos(
            (0..=limits::PHOTOS)
                .map(|_| PhotoRef {
                    hash: good.clone(),
                    role: PhotoRole::Before,
                })
                .collect(),
        );
        assert_eq!(many.check_fields().unwrap_err().field, "photos");
    }

    #[test]
    fn stamps_belong_to_the_events_own_photos() {
        let (photo, stamped, other) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let with = |stamps: Vec<PhotoStamp>| {
            report("x")
                .with_photos(vec![PhotoRef {
                    hash: photo.clone(),
                    role: PhotoRole::Before,
                }])
                .with_stamps(stamps)
        };
        let stamp = |photo: &str, stamped: &str| PhotoStamp {
            photo: photo.to_owned(),
            stamped: stamped.to_owned(),
        };
        let ok = with(vec![stamp(&photo, &stamped)]);
        assert_eq!(ok.check_fields(), Ok(()));
        assert_eq!(ok.stamped(&photo), Some(stamped.as_str()));
        assert_eq!(ok.stamped(&other), None);
        // A stamp cannot name a blob for a photo the event does not carry: it would make
        // that blob readable by whoever sees the record.
        let e = with(vec![stamp(&other, &stamped)])
            .check_fields()
            .unwrap_err();
        assert_eq!(e.field, "stamps[0].photo");
        let e = with(vec![stamp(&photo, "../x")])
            .check_fields()
            .unwrap_err();
        assert_eq!(e.field, "stamps[0].stamped");
        let e = with(vec![stamp(&photo, &stamped), stamp(&photo, &other)])
            .check_fields()
            .unwrap_err();
        assert_eq!(e.field, "stamps");
        // Absent from the JSON when there are none, so events without stamps read as before.
        let json = serde_json::to_value(report("x")).unwrap();
        assert!(json.get("stamps").is_none());
        let back: Event = serde_json::from_value(serde_json::to_value(&ok).unwrap()).unwrap();
        assert_eq!(back, ok);
    }
}
