//! What a person may do to a problem now (the buttons a screen offers), what they send
//! ([`ProblemAction`]) and the event that makes of it ([`action_event`]).
//!
//! The offered actions derive only from [`lifecycle::precondition`], so a screen never offers
//! what the lifecycle would refuse, nor hides what it would accept (property-tested in
//! `tests/actions_props.rs`). The event is built here once for every writer — the device store
//! and the office's console on the server: the default dispatch deadline (the category's rule
//! on the work calendar), the deadline of a failed check, an extension typed as a day. Each
//! writer only says how to look up what the action names ([`ActionLookup`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::WorkCalendar;
use crate::category::DeadlineRule;
use crate::event::{EventBody, PhotoRef, PhotoRole, ProblemEdit, RejectReason};
use crate::lifecycle;
use crate::problem::Problem;
use crate::role::Actor;

/// An action on an existing problem, as the screens name it (the tag of the device's
/// `ProblemAction`), in the order a screen offers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ProblemActionKind {
    File,
    Reject,
    Dispatch,
    Accept,
    Return,
    Rectify,
    RequestExtension,
    DecideExtension,
    Verify,
    Close,
    Recheck,
    AddPhotos,
    Edit,
}

impl ProblemActionKind {
    /// Every action, in the order a screen offers them.
    pub const ALL: [ProblemActionKind; 13] = {
        use ProblemActionKind::*;
        [
            File,
            Reject,
            Dispatch,
            Accept,
            Return,
            Rectify,
            RequestExtension,
            DecideExtension,
            Verify,
            Close,
            Recheck,
            AddPhotos,
            Edit,
        ]
    };

    /// The tag, as in JSON.
    pub fn as_str(self) -> &'static str {
        use ProblemActionKind::*;
        match self {
            File => "file",
            Reject => "reject",
            Dispatch => "dispatch",
            Accept => "accept",
            Return => "return",
            Rectify => "rectify",
            RequestExtension => "request_extension",
            DecideExtension => "decide_extension",
            Verify => "verify",
            Close => "close",
            Recheck => "recheck",
            AddPhotos => "add_photos",
            Edit => "edit",
        }
    }

    /// The kind of the event the action sends.
    pub fn event_kind(self) -> &'static str {
        use ProblemActionKind::*;
        match self {
            File => "problem.filed",
            Reject => "problem.rejected",
            Dispatch => "problem.dispatched",
            Accept => "problem.accepted",
            Return => "problem.returned",
            Rectify => "problem.rectified",
            RequestExtension => "problem.extension_requested",
            DecideExtension => "problem.extension_decided",
            Verify => "problem.verified",
            Close => "problem.closed",
            Recheck => "problem.rechecked",
            AddPhotos => "problem.photos_added",
            Edit => "problem.edited",
        }
    }

    pub fn parse(s: &str) -> Option<ProblemActionKind> {
        ProblemActionKind::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The actions `actor` may take on `p` now, in the order a screen offers them: those for which
/// some well-formed request (a reason given, an after-photo attached, a later deadline) would be
/// accepted by the lifecycle. `add_photos` is offered whenever evidence photos would be
/// accepted; after-photos remain for the unit and the office.
pub fn actions_offered(p: &Problem, actor: &Actor) -> Vec<ProblemActionKind> {
    ProblemActionKind::ALL
        .into_iter()
        .filter(|a| lifecycle::precondition(p, a.event_kind(), actor).is_ok())
        .collect()
}

/// Every lifecycle action a person can take on an existing problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
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
    /// To an instant (`until`), or to a day (`until_date`, what a person picks in a date
    /// field): the close of business of that day in the city's calendar zone, never the
    /// zone of the device it was typed on. Exactly one of the two.
    RequestExtension {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until_date: Option<NaiveDate>,
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

impl ProblemAction {
    /// The action's tag, as [`actions_offered`] names it.
    pub fn kind(&self) -> ProblemActionKind {
        use ProblemActionKind as K;
        match self {
            ProblemAction::Edit(_) => K::Edit,
            ProblemAction::AddPhotos { .. } => K::AddPhotos,
            ProblemAction::File { .. } => K::File,
            ProblemAction::Reject { .. } => K::Reject,
            ProblemAction::Dispatch { .. } => K::Dispatch,
            ProblemAction::Accept { .. } => K::Accept,
            ProblemAction::Return { .. } => K::Return,
            ProblemAction::Rectify { .. } => K::Rectify,
            ProblemAction::Verify { .. } => K::Verify,
            ProblemAction::Close { .. } => K::Close,
            ProblemAction::RequestExtension { .. } => K::RequestExtension,
            ProblemAction::DecideExtension { .. } => K::DecideExtension,
            ProblemAction::Recheck { .. } => K::Recheck,
        }
    }

    /// The photo hashes the action attaches.
    pub fn photos(&self) -> &[String] {
        match self {
            ProblemAction::AddPhotos { photos, .. }
            | ProblemAction::Rectify { photos, .. }
            | ProblemAction::Verify { photos, .. }
            | ProblemAction::Recheck { photos, .. } => photos,
            _ => &[],
        }
    }
}

/// What a writer looks up to turn an action into an event: reference data (categories and
/// their deadline rules, the work calendar, units, districts), the codes of known problems,
/// and the photos it holds. The device reads its SQLite store; the server its reference
/// bundle and its blob store.
pub trait ActionLookup {
    type Error;
    /// The deadline rule of a category; `None` when the category is unknown.
    fn deadline_rule(&self, category: &str) -> Result<Option<DeadlineRule>, Self::Error>;
    fn calendar(&self) -> Result<WorkCalendar, Self::Error>;
    fn unit_exists(&self, unit_id: &str) -> Result<bool, Self::Error>;
    fn district_exists(&self, district_id: &str) -> Result<bool, Self::Error>;
    /// A problem with this code exists (what a duplicate names).
    fn problem_code_exists(&self, code: &str) -> Result<bool, Self::Error>;
    /// The photo is there for this writer to attach (ingested on the device; stored on the
    /// server and readable by the person acting).
    fn photo_known(&self, hash: &str) -> Result<bool, Self::Error>;
}

/// Why an action could not be turned into an event (before the lifecycle has its say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionError<E> {
    /// Something the action names does not exist: `what` (`unit`, `photo`, ...) and its id.
    NotFound { what: &'static str, id: String },
    /// The action is not well formed; the message says how.
    Invalid(String),
    /// The lookup itself failed (a database error): not a verdict on the action.
    Lookup(E),
}

impl<E> From<E> for ActionError<E> {
    fn from(e: E) -> Self {
        ActionError::Lookup(e)
    }
}

/// The deadline the category's rule gives a problem dispatched (or sent back to its unit) at
/// `now`, on the work calendar.
pub fn default_deadline<L: ActionLookup>(
    p: &Problem,
    now: DateTime<Utc>,
    look: &L,
) -> Result<DateTime<Utc>, ActionError<L::Error>> {
    let rule = look
        .deadline_rule(&p.category)?
        .ok_or_else(|| ActionError::NotFound {
            what: "category",
            id: p.category.clone(),
        })?;
    Ok(look.calendar()?.deadline(now, rule))
}

/// An explicit dispatch deadline that differs from the computed one by more than this is an
/// override (the console asks for a reason). A screen that shows the computed deadline and
/// sends it back a few minutes later has not overridden it.
pub const DEADLINE_OVERRIDE_SLACK_MINUTES: i64 = 10;

/// Whether `given` overrides the deadline the rule computed (`computed`).
pub fn is_deadline_override(given: Option<DateTime<Utc>>, computed: DateTime<Utc>) -> bool {
    given.is_some_and(|d| (d - computed).num_minutes().abs() > DEADLINE_OVERRIDE_SLACK_MINUTES)
}

/// The event `action` on problem `p` makes at `now`: its body and the photos it carries. What
/// the action names must exist (unit, district, category, the duplicate's code, photos); a
/// dispatch without a deadline and a failed check get the category's deadline from now; an
/// extension to a day runs to that day's close of business. Whether the person may send it
/// onto the record as it stands is the lifecycle's business (`lifecycle::apply_problem`).
pub fn action_event<L: ActionLookup>(
    p: &Problem,
    action: ProblemAction,
    now: DateTime<Utc>,
    look: &L,
) -> Result<(EventBody, Vec<PhotoRef>), ActionError<L::Error>> {
    let photos =
        |hashes: &[String], role: PhotoRole| -> Result<Vec<PhotoRef>, ActionError<L::Error>> {
            hashes
                .iter()
                .map(|h| {
                    if !look.photo_known(h)? {
                        return Err(ActionError::NotFound {
                            what: "photo",
                            id: h.clone(),
                        });
                    }
                    Ok(PhotoRef {
                        hash: h.clone(),
                        role,
                    })
                })
                .collect()
        };
    Ok(match action {
        ProblemAction::Edit(e) => {
            if let Some(c) = &e.category
                && look.deadline_rule(c)?.is_none()
            {
                return Err(ActionError::NotFound {
                    what: "category",
                    id: c.clone(),
                });
            }
            if let Some(d) = &e.district_id
                && !look.district_exists(d)?
            {
                return Err(ActionError::NotFound {
                    what: "district",
                    id: d.clone(),
                });
            }
            (EventBody::ProblemEdited(e), vec![])
        }
        ProblemAction::AddPhotos {
            photos: hashes,
            role,
            note,
        } => (
            EventBody::ProblemPhotosAdded { note },
            photos(&hashes, role)?,
        ),
        ProblemAction::File { note } => (EventBody::ProblemFiled { note }, vec![]),
        ProblemAction::Reject { reason } => {
            if let RejectReason::Duplicate { of } = &reason
                && !look.problem_code_exists(of)?
            {
                return Err(ActionError::NotFound {
                    what: "problem",
                    id: of.clone(),
                });
            }
            (EventBody::ProblemRejected { reason }, vec![])
        }
        ProblemAction::Dispatch {
            unit_id,
            deadline,
            note,
        } => {
            if !look.unit_exists(&unit_id)? {
                return Err(ActionError::NotFound {
                    what: "unit",
                    id: unit_id,
                });
            }
            let deadline = match deadline {
                Some(d) => d,
                None => default_deadline(p, now, look)?,
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
        ProblemAction::Rectify {
            photos: hashes,
            note,
        } => (
            EventBody::ProblemRectified { note },
            photos(&hashes, PhotoRole::After)?,
        ),
        ProblemAction::Verify {
            passed,
            note,
            photos: hashes,
        } => {
            // A failed check sends the case back to its unit with a fresh deadline.
            let deadline = if passed {
                None
            } else {
                Some(default_deadline(p, now, look)?)
            };
            (
                EventBody::ProblemVerified {
                    passed,
                    note,
                    deadline,
                },
                photos(&hashes, PhotoRole::Evidence)?,
            )
        }
        ProblemAction::Close { note } => (EventBody::ProblemClosed { note }, vec![]),
        ProblemAction::RequestExtension {
            until,
            until_date,
            reason,
        } => {
            let until = match (until, until_date) {
                (Some(at), None) => at,
                (None, Some(day)) => look.calendar()?.close_of_business(day),
                _ => {
                    return Err(ActionError::Invalid(
                        "an extension needs either `until` (an instant) or `until_date` (a day), not both or neither".into(),
                    ));
                }
            };
            (EventBody::ExtensionRequested { until, reason }, vec![])
        }
        ProblemAction::DecideExtension { approved, note } => {
            (EventBody::ExtensionDecided { approved, note }, vec![])
        }
        ProblemAction::Recheck {
            passed,
            note,
            photos: hashes,
        } => (
            EventBody::ProblemRechecked { passed, note },
            photos(&hashes, PhotoRole::Evidence)?,
        ),
    })
}

/// What waits for a person (their to-do list), by role: the office files, re-dispatches, closes
/// and handles reopened records; inspectors check rectifications; a unit works on what was
/// dispatched to it; a volunteer follows their own open reports. The device's home screen and
/// the console's overview both list exactly this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Todo {
    pub statuses: Vec<crate::problem::ProblemStatus>,
    /// Only problems dispatched to this unit.
    pub unit_id: Option<String>,
    /// Only problems this person reported.
    pub reporter: Option<String>,
}

pub fn todo(actor: &Actor) -> Todo {
    use crate::problem::ProblemStatus as S;
    use crate::role::Role;
    let (statuses, unit_id, reporter) = match actor.role {
        Role::Admin => (
            vec![S::Reported, S::Returned, S::Verified, S::Reopened],
            None,
            None,
        ),
        Role::Inspector => (vec![S::Rectified], None, None),
        Role::UnitHandler => (
            vec![S::Dispatched, S::Rectifying],
            actor.unit_id.clone(),
            None,
        ),
        Role::Volunteer => (
            S::ALL.into_iter().filter(|s| !s.is_terminal()).collect(),
            None,
            Some(actor.user_id.clone()),
        ),
    };
    Todo {
        statuses,
        unit_id,
        reporter,
    }
}

/// Whose deadlines a person watches ("deadlines for me": due within 24 h, overdue): a unit
/// handler their unit's dispatched cases; an inspector or a volunteer the problems they
/// reported (an inspector's other to-do, checking rectifications, has no deadline of theirs);
/// the office every case. Only the states waiting for the unit have a running deadline.
pub fn deadlines_watched(actor: &Actor) -> Todo {
    use crate::problem::ProblemStatus as S;
    use crate::role::Role;
    let (unit_id, reporter) = match actor.role {
        Role::Admin => (None, None),
        Role::UnitHandler => (actor.unit_id.clone(), None),
        Role::Inspector | Role::Volunteer => (None, Some(actor.user_id.clone())),
    };
    Todo {
        statuses: S::AWAITING_UNIT.to_vec(),
        unit_id,
        reporter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_match_serde_and_parse_back() {
        for a in ProblemActionKind::ALL {
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::Value::String(a.as_str().into())
            );
            assert_eq!(ProblemActionKind::parse(a.as_str()), Some(a));
            assert!(a.event_kind().starts_with("problem."));
        }
    }

    #[test]
    fn an_action_names_its_kind_and_its_event() {
        let json = serde_json::json!({"action": "dispatch", "unit_id": "U1", "deadline": null, "note": null});
        let a: ProblemAction = serde_json::from_value(json).unwrap();
        assert_eq!(a.kind(), ProblemActionKind::Dispatch);
        assert_eq!(
            serde_json::to_value(&a).unwrap()["action"],
            serde_json::Value::String(a.kind().as_str().into())
        );
    }

    /// A city with one category (SR-02: 2 working days), one unit, one district, one
    /// known problem code and one known photo.
    struct City;

    impl ActionLookup for City {
        type Error = std::convert::Infallible;
        fn deadline_rule(&self, c: &str) -> Result<Option<DeadlineRule>, Self::Error> {
            Ok((c == "SR-02").then_some(DeadlineRule {
                amount: 2,
                unit: crate::category::DeadlineUnit::WorkingDays,
            }))
        }
        fn calendar(&self) -> Result<WorkCalendar, Self::Error> {
            Ok(WorkCalendar::default())
        }
        fn unit_exists(&self, u: &str) -> Result<bool, Self::Error> {
            Ok(u == "u-1")
        }
        fn district_exists(&self, d: &str) -> Result<bool, Self::Error> {
            Ok(d == "d-1")
        }
        fn problem_code_exists(&self, c: &str) -> Result<bool, Self::Error> {
            Ok(c == "GL-1")
        }
        fn photo_known(&self, h: &str) -> Result<bool, Self::Error> {
            Ok(h == "ph")
        }
    }

    fn filed() -> Problem {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        Problem {
            id: uuid::Uuid::nil(),
            code: "GL-2".into(),
            status: crate::ProblemStatus::Filed,
            category: "SR-02".into(),
            description: String::new(),
            location: None,
            address: String::new(),
            district_id: Some("d-1".into()),
            point_id: None,
            placement: None,
            item_id: None,
            inspection_id: None,
            reporter: "usr-1".into(),
            reporter_role: crate::Role::Inspector,
            severity: crate::Severity::Normal,
            unit_id: None,
            deadline: None,
            rework_count: 0,
            recheck_count: 0,
            duplicate_of: None,
            status_reason: None,
            extension: None,
            photos: vec![],
            reported_at: at,
            dispatched_at: None,
            rectified_at: None,
            closed_at: None,
            updated_at: at,
        }
    }

    #[test]
    fn the_event_of_an_action_gets_its_deadlines_from_the_rule_and_the_calendar() {
        let p = filed();
        // Monday 2026-11-23 10:00 in the city.
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        let cal = WorkCalendar::default();
        let dispatch = |deadline| ProblemAction::Dispatch {
            unit_id: "u-1".into(),
            deadline,
            note: None,
        };
        let (body, _) = action_event(&p, dispatch(None), now, &City).unwrap();
        let want = cal.add_working_days(now, 2);
        assert!(matches!(body, EventBody::ProblemDispatched { deadline, .. } if deadline == want));
        assert_eq!(default_deadline(&p, now, &City).unwrap(), want);
        let given = now + chrono::Duration::days(9);
        let (body, _) = action_event(&p, dispatch(Some(given)), now, &City).unwrap();
        assert!(matches!(body, EventBody::ProblemDispatched { deadline, .. } if deadline == given));
        // A failed check: back to the unit with the rule's deadline from now.
        let fail = ProblemAction::Verify {
            passed: false,
            note: Some("仍有垃圾".into()),
            photos: vec!["ph".into()],
        };
        let (body, photos) = action_event(&p, fail, now, &City).unwrap();
        assert!(matches!(body, EventBody::ProblemVerified { deadline: Some(d), .. } if d == want));
        assert_eq!(photos[0].role, PhotoRole::Evidence);
        // An extension to a day: that day's close of business in the city.
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let ext = |until, until_date| ProblemAction::RequestExtension {
            until,
            until_date,
            reason: "施工".into(),
        };
        let (body, _) = action_event(&p, ext(None, Some(day)), now, &City).unwrap();
        assert!(
            matches!(body, EventBody::ExtensionRequested { until, .. } if until == cal.close_of_business(day))
        );
        for bad in [ext(None, None), ext(Some(now), Some(day))] {
            assert!(matches!(
                action_event(&p, bad, now, &City),
                Err(ActionError::Invalid(_))
            ));
        }
    }

    #[test]
    fn what_an_action_names_must_exist() {
        let p = filed();
        let now = p.updated_at;
        let not_found = |a: ProblemAction| match action_event(&p, a, now, &City) {
            Err(ActionError::NotFound { what, .. }) => what,
            other => panic!("{other:?}"),
        };
        let dispatch = ProblemAction::Dispatch {
            unit_id: "u-x".into(),
            deadline: None,
            note: None,
        };
        assert_eq!(not_found(dispatch), "unit");
        let rectify = ProblemAction::Rectify {
            photos: vec!["ph".into(), "nope".into()],
            note: None,
        };
        assert_eq!(not_found(rectify), "photo");
        let dup = |of: &str| ProblemAction::Reject {
            reason: RejectReason::Duplicate { of: of.into() },
        };
        assert_eq!(not_found(dup("GL-9")), "problem");
        assert!(action_event(&p, dup("GL-1"), now, &City).is_ok());
        let edit = |c: Option<&str>, d: Option<&str>| {
            ProblemAction::Edit(ProblemEdit {
                category: c.map(Into::into),
                district_id: d.map(Into::into),
                ..ProblemEdit::default()
            })
        };
        assert_eq!(not_found(edit(Some("XX-1"), None)), "category");
        assert_eq!(not_found(edit(None, Some("d-x"))), "district");
        let mut other = filed();
        other.category = "XX-1".into();
        assert!(matches!(
            default_deadline(&other, now, &City),
            Err(ActionError::NotFound {
                what: "category",
                ..
            })
        ));
    }

    #[test]
    fn a_deadline_a_few_minutes_off_the_rule_is_not_an_override() {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert!(!is_deadline_override(None, t));
        assert!(!is_deadline_override(Some(t), t));
        assert!(!is_deadline_override(
            Some(t + chrono::Duration::minutes(3)),
            t
        ));
        assert!(is_deadline_override(
            Some(t + chrono::Duration::hours(2)),
            t
        ));
        assert!(is_deadline_override(
            Some(t - chrono::Duration::hours(2)),
            t
        ));
    }
}
