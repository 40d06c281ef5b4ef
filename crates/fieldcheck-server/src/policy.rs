//! Who may see and send what: pure functions over the user, the reference data and a
//! record's scope attributes. Storage calls them inside its transactions; they do no I/O.

use fieldcheck_domain::DomainError;
use fieldcheck_domain::event::{Event, EventBody};
use fieldcheck_domain::lifecycle::roles_allowed;
use fieldcheck_domain::reference::{HeldReference, User, validate_reference};
use fieldcheck_domain::role::Role;
use fieldcheck_domain::scope::{DistrictTree, Scope};
use fieldcheck_protocol::ReferenceBundle;

/// Stable codes of push refusals (`PushStatus::Refused::code`), next to the domain's codes.
pub mod refusal {
    /// `event.actor` is not the token's user.
    pub const ACTOR_MISMATCH: &str = "actor_mismatch";
    /// `event.role` / `event.actor_unit` differ from the user's role / unit on the server.
    pub const ROLE_MISMATCH: &str = "role_mismatch";
    /// The role may never send this kind of event.
    pub const ROLE_NOT_ALLOWED: &str = "role_not_allowed";
    /// The record lies outside the user's districts / unit / own reports.
    pub const OUT_OF_SCOPE: &str = "out_of_scope";
    /// The event is not well formed for the server (e.g. an inspection of an unknown point).
    pub const INVALID_EVENT: &str = "invalid_event";
    /// The event id already exists for a different record or was sent by someone else.
    pub const ID_CONFLICT: &str = "id_conflict";
    /// A new problem claims a code another problem already has.
    pub const CODE_TAKEN: &str = "code_taken";
    /// The record holds as many events as the server keeps for one record.
    pub const RECORD_FULL: &str = "record_full";
    /// The sender's events were rejected by the fold too often lately; this one would be too.
    pub const TOO_MANY_REJECTED: &str = "too_many_rejected";
}

/// The attributes of a record that decide who sees it (the domain's rule). Stored with every
/// event so that a pull can reconstruct what a device could see at any cursor.
pub use fieldcheck_domain::scope::RecordScope as ScopeAttrs;

/// Checks a reference bundle before the server stores it, with the same rules a device
/// applies when it installs one. A server bundle is whole: it may refer only to itself.
pub fn check_bundle(bundle: &ReferenceBundle) -> Result<(), DomainError> {
    validate_reference(bundle.parts(), &HeldReference::default())
}

/// A push refusal: not stored, reported per event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: &'static str,
    pub message: String,
}

fn refused(code: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        code,
        message: message.into(),
    }
}

/// A user together with their scope: their districts expanded to all descendants (a user
/// scoped to a district sees every street and community below it).
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: User,
    pub scope: Scope,
    /// What the caller's token says about the sending device: its id for a device token,
    /// `web` for a web session. The server stores this as every pushed event's `device`,
    /// whatever the event says. `None` (library callers) keeps the event's own.
    pub device: Option<String>,
}

impl Viewer {
    pub fn new(user: User, refs: &ReferenceBundle) -> Viewer {
        Viewer {
            scope: Scope::of(&user, &DistrictTree::new(&refs.districts)),
            user,
            device: None,
        }
    }

    /// The viewer as a token presents it: a device token names its device, a web session is
    /// `web`.
    pub fn with_token_device(mut self, device_id: Option<uuid::Uuid>) -> Viewer {
        self.device = Some(device_id.map_or_else(|| "web".to_owned(), |d| d.to_string()));
        self
    }

    /// Pull visibility, photo downloads: `Scope::sees`.
    pub fn can_see(&self, attrs: &ScopeAttrs) -> bool {
        self.scope.sees(attrs)
    }

    /// May this user send this event onto a record whose current scope is `current` (`None`
    /// for a new record)? Lifecycle rules proper (state, assigned unit, own record) are the
    /// fold's business: a stale but legitimate event is stored and marked rejected, while an
    /// event its sender could never send is refused and not stored.
    pub fn authorize(
        &self,
        ev: &Event,
        current: Option<&ScopeAttrs>,
        refs: &ReferenceBundle,
    ) -> Result<(), Refused> {
        let user = &self.user;
        if ev.actor != user.id {
            return Err(refused(
                refusal::ACTOR_MISMATCH,
                format!(
                    "event actor {:?} is not the signed-in user {:?}",
                    ev.actor, user.id
                ),
            ));
        }
        if ev.role != user.role {
            return Err(refused(
                refusal::ROLE_MISMATCH,
                format!(
                    "event role {} is not the user's role {}",
                    ev.role.as_str(),
                    user.role.as_str()
                ),
            ));
        }
        // Every role: the unit an event names is the one the server knows for its sender.
        if ev.actor_unit != user.unit_id {
            return Err(refused(
                refusal::ROLE_MISMATCH,
                format!(
                    "event unit {:?} is not the user's unit {:?}",
                    ev.actor_unit, user.unit_id
                ),
            ));
        }
        if !roles_allowed(ev.kind()).contains(&ev.role) {
            return Err(refused(
                refusal::ROLE_NOT_ALLOWED,
                format!("a {} may not send {}", ev.role.as_str(), ev.kind()),
            ));
        }
        check_references(ev, refs)?;
        if user.role == Role::Admin {
            return Ok(());
        }
        // The districts the event touches: the record's, and the one it claims or moves to.
        let mut target = current.cloned();
        match &ev.body {
            EventBody::ProblemReported(r) if current.is_none() => {
                target = Some(ScopeAttrs {
                    district: r.district_id.clone(),
                    unit: None,
                    owner: Some(ev.actor.clone()),
                });
            }
            // Moving a problem is moving it into the mover's own districts, for unit
            // handlers too (a handler scoped to a street cannot send it across the city).
            EventBody::ProblemEdited(edit) => {
                if let Some(d) = &edit.district_id
                    && !self.scope.in_districts(Some(d))
                {
                    return Err(refused(
                        refusal::OUT_OF_SCOPE,
                        format!("district {d} is outside your districts"),
                    ));
                }
            }
            EventBody::InspectionStarted { point_id, .. } => {
                let Some(point) = refs.points.iter().find(|p| &p.id == point_id) else {
                    return Err(refused(
                        refusal::INVALID_EVENT,
                        format!("unknown point {point_id}"),
                    ));
                };
                if current.is_none() {
                    target = Some(ScopeAttrs {
                        district: Some(point.district_id.clone()),
                        unit: None,
                        owner: Some(ev.actor.clone()),
                    });
                }
            }
            _ => {}
        }
        let Some(target) = target else {
            // An event on a record the server does not know yet (its creation may still be in
            // flight from another device): let the fold mark it rejected (not_found) only if it
            // is the sender's to send, which for non-admins we cannot tell. Refuse: the device
            // retries after pulling.
            return Err(refused(
                refusal::OUT_OF_SCOPE,
                format!("record {} is not known to the server", ev.entity_id),
            ));
        };
        let allowed = match (&ev.body, current) {
            (EventBody::ProblemPhotosAdded { .. }, Some(_)) => self.scope.may_add_photos(&target),
            _ => self.scope.may_act_on(&target, current.is_none()),
        };
        if !allowed {
            return Err(refused(
                refusal::OUT_OF_SCOPE,
                format!("{} is outside your scope", ev.entity_id),
            ));
        }
        Ok(())
    }
}

/// What an event names must exist in the reference data: the district a report is filed in
/// or a problem is moved to, the point it was found at, the unit it is dispatched to. A
/// record placed in a district nobody has would be visible to nobody but admins.
fn check_references(ev: &Event, refs: &ReferenceBundle) -> Result<(), Refused> {
    let district = |d: &str| {
        if refs.districts.iter().any(|x| x.id == d) {
            Ok(())
        } else {
            Err(refused(
                refusal::INVALID_EVENT,
                format!("unknown district {d:?}"),
            ))
        }
    };
    match &ev.body {
        EventBody::ProblemReported(r) => {
            if let Some(d) = &r.district_id {
                district(d)?;
            }
            if let Some(p) = &r.point_id
                && !refs.points.iter().any(|x| &x.id == p)
            {
                return Err(refused(
                    refusal::INVALID_EVENT,
                    format!("unknown point {p:?}"),
                ));
            }
        }
        EventBody::ProblemEdited(edit) => {
            if let Some(d) = &edit.district_id {
                district(d)?;
            }
        }
        EventBody::ProblemDispatched { unit_id, .. }
            if !refs.units.iter().any(|u| &u.id == unit_id) =>
        {
            return Err(refused(
                refusal::INVALID_EVENT,
                format!("unknown unit {unit_id:?}"),
            ));
        }
        _ => {}
    }
    Ok(())
}
