//! The problem lifecycle (数字城管 closed loop): which event may land on which state, by whom,
//! and what it changes. One function decides for the device (before it writes), the server
//! (when events arrive) and the fold (when a late event lands on a changed record).

use crate::error::{Refusal, RefusalCode};
use crate::event::{Event, EventBody, PhotoRole, RejectReason};
use crate::problem::{ExtensionRequest, Problem, ProblemPhoto, ProblemStatus as S};
use crate::role::{Actor, Role};
use uuid::Uuid;

/// The roles that may send each kind of problem event.
pub fn roles_allowed(kind: &str) -> &'static [Role] {
    use Role::*;
    match kind {
        "problem.reported" => &[Admin, Inspector, UnitHandler, Volunteer],
        "problem.edited" | "problem.photos_added" => &[Admin, Inspector, UnitHandler, Volunteer],
        "problem.filed"
        | "problem.rejected"
        | "problem.dispatched"
        | "problem.closed"
        | "problem.extension_decided" => &[Admin],
        "problem.accepted"
        | "problem.returned"
        | "problem.rectified"
        | "problem.extension_requested" => &[UnitHandler],
        "problem.verified" | "problem.rechecked" => &[Admin, Inspector],
        "inspection.started" | "inspection.item_recorded" | "inspection.finished" => {
            &[Admin, Inspector]
        }
        _ => &[],
    }
}

/// The states a status-changing kind may land on.
pub fn states_allowed(kind: &str) -> &'static [S] {
    match kind {
        "problem.filed" => &[S::Reported],
        "problem.rejected" => &[S::Reported, S::Filed],
        "problem.dispatched" => &[S::Filed, S::Returned, S::Reopened, S::Dispatched],
        "problem.accepted" => &[S::Dispatched],
        "problem.returned" => &[S::Dispatched, S::Rectifying],
        "problem.rectified" => &[S::Rectifying],
        "problem.verified" => &[S::Rectified],
        "problem.closed" => &[S::Verified],
        "problem.extension_requested" => &[S::Dispatched, S::Rectifying],
        "problem.extension_decided" => &[S::Dispatched, S::Rectifying],
        "problem.rechecked" => &[S::Closed],
        // Descriptive changes stop once a record is closed or rejected: the closed ledger is
        // what the office reported upwards.
        "problem.edited" | "problem.photos_added" => &[
            S::Reported,
            S::Filed,
            S::Dispatched,
            S::Rectifying,
            S::Returned,
            S::Rectified,
            S::Verified,
            S::Reopened,
        ],
        _ => &[],
    }
}

fn refuse(code: RefusalCode, msg: impl Into<String>) -> Refusal {
    Refusal::new(code, msg)
}

fn require_reason(text: &str, what: &str) -> Result<(), Refusal> {
    if text.trim().is_empty() {
        Err(refuse(
            RefusalCode::ReasonRequired,
            format!("{what} needs a reason"),
        ))
    } else {
        Ok(())
    }
}

/// Whether `role` may send a problem event of `kind` at all, whatever the record.
fn may_send(kind: &str, role: Role) -> Result<(), Refusal> {
    if !kind.starts_with("problem.") {
        return Err(refuse(
            RefusalCode::WrongEntity,
            format!("{kind} is not a problem event"),
        ));
    }
    if !roles_allowed(kind).contains(&role) {
        return Err(refuse(
            RefusalCode::RoleNotAllowed,
            format!("a {} may not send {kind}", role.as_str()),
        ));
    }
    Ok(())
}

/// Whether `actor` may send an event of `kind` to the existing problem `cur`, as far as that
/// depends on the record and the person alone: role, state, unit assignment, a volunteer's
/// ownership, a pending extension. What remains for [`apply_problem`] depends on the event's
/// own payload (a reason, an after-photo, a later deadline), which every kind can satisfy, so
/// this is also exactly what a screen may offer (`actions::actions_offered`).
pub fn precondition(cur: &Problem, kind: &str, actor: &Actor) -> Result<(), Refusal> {
    may_send(kind, actor.role)?;
    state_allows(
        cur,
        kind,
        Sender {
            user_id: &actor.user_id,
            role: actor.role,
            unit_id: actor.unit_id.as_deref(),
        },
    )
}

/// Who sends an event, borrowed from an [`Actor`] or straight from the event (the fold runs
/// for every stored event: no owned copy per event).
#[derive(Clone, Copy)]
struct Sender<'a> {
    user_id: &'a str,
    role: Role,
    unit_id: Option<&'a str>,
}

/// [`precondition`] once the role may send `kind` at all.
fn state_allows(cur: &Problem, kind: &str, actor: Sender<'_>) -> Result<(), Refusal> {
    if kind == "problem.reported" {
        return Err(already_reported(cur.id));
    }
    if !states_allowed(kind).contains(&cur.status) {
        return Err(refuse(
            RefusalCode::InvalidTransition,
            format!(
                "{kind} is not allowed on a problem that is {}",
                cur.status.as_str()
            ),
        ));
    }
    // Unit handlers act only on problems dispatched to their own unit.
    if actor.role == Role::UnitHandler
        && (actor.unit_id.is_none() || actor.unit_id != cur.unit_id.as_deref())
    {
        return Err(refuse(
            RefusalCode::NotAssignedUnit,
            format!(
                "problem {} is not assigned to unit {}",
                cur.code,
                actor.unit_id.unwrap_or("(none)")
            ),
        ));
    }
    match kind {
        "problem.edited" => {
            check_own_if_volunteer(cur, actor)?;
            if actor.role == Role::Volunteer && cur.status != S::Reported {
                return Err(refuse(
                    RefusalCode::InvalidTransition,
                    "a volunteer may edit a report only until the office files it",
                ));
            }
        }
        // A volunteer who finds a problem already reported (已有人上报) adds their photo to
        // it instead of reporting it again — while it is open; on their own reports, always.
        "problem.photos_added"
            if actor.role == Role::Volunteer
                && cur.reporter != actor.user_id
                && cur.status.is_terminal() =>
        {
            return Err(refuse(
                RefusalCode::NotOwnRecord,
                "a volunteer adds photos to another's report only while it is open",
            ));
        }
        "problem.extension_requested" if cur.extension.is_some() => {
            return Err(refuse(
                RefusalCode::ExtensionPending,
                "an extension request is already waiting for a decision",
            ));
        }
        "problem.extension_decided" if cur.extension.is_none() => {
            return Err(no_pending_extension());
        }
        _ => {}
    }
    Ok(())
}

/// Applies one problem event to the current state (None before the problem exists) and
/// returns the new state, or the refusal that leaves the state as it was.
pub fn apply_problem(state: Option<&Problem>, ev: &Event) -> Result<Problem, Refusal> {
    let kind = ev.kind();
    may_send(kind, ev.role)?;
    let at = ev.at();

    let EventBody::ProblemReported(r) = &ev.body else {
        let Some(cur) = state else {
            return Err(refuse(
                RefusalCode::NotFound,
                format!("problem {} does not exist", ev.entity_id),
            ));
        };
        state_allows(
            cur,
            kind,
            Sender {
                user_id: &ev.actor,
                role: ev.role,
                unit_id: ev.actor_unit.as_deref(),
            },
        )?;
        return apply_to_existing(cur, ev);
    };

    if state.is_some() {
        return Err(already_reported(ev.entity_id));
    }
    if r.description.trim().is_empty() && ev.photos.is_empty() {
        return Err(refuse(
            RefusalCode::InvalidField,
            "a report needs a description or a photo",
        ));
    }
    if r.category.trim().is_empty() {
        return Err(refuse(
            RefusalCode::InvalidField,
            "a report needs a category",
        ));
    }
    if r.location.is_some_and(|l| !l.is_valid()) {
        return Err(refuse(
            RefusalCode::InvalidLocation,
            "location is outside WGS-84 range",
        ));
    }
    Ok(Problem {
        id: ev.entity_id,
        code: r.code.clone(),
        status: S::Reported,
        category: r.category.clone(),
        description: r.description.clone(),
        location: r.location,
        address: r.address.clone(),
        district_id: r.district_id.clone(),
        point_id: r.point_id.clone(),
        placement: r.placement,
        item_id: r.item_id.clone(),
        inspection_id: r.inspection_id,
        reporter: ev.actor.clone(),
        reporter_role: ev.role,
        severity: r.severity,
        unit_id: None,
        deadline: None,
        rework_count: 0,
        recheck_count: 0,
        duplicate_of: None,
        status_reason: None,
        extension: None,
        photos: photos_of(ev, PhotoRole::Before),
        reported_at: at,
        dispatched_at: None,
        rectified_at: None,
        closed_at: None,
        updated_at: at,
    })
}

/// Photos carried by an event; a report's photos are "before" photos whatever the client said
/// unless it said "evidence", and rectification photos must say "after" explicitly.
fn photos_of(ev: &Event, default_role: PhotoRole) -> Vec<ProblemPhoto> {
    ev.photos
        .iter()
        .map(|p| ProblemPhoto {
            hash: p.hash.clone(),
            role: if default_role == PhotoRole::Before && p.role == PhotoRole::After {
                PhotoRole::Before
            } else {
                p.role
            },
            event_id: ev.id,
            added_by: ev.actor.clone(),
            stamped: ev.stamped(&p.hash).map(str::to_owned),
        })
        .collect()
}

/// The payload's part of applying `ev` to `cur`, once [`precondition`] has passed.
fn apply_to_existing(cur: &Problem, ev: &Event) -> Result<Problem, Refusal> {
    let at = ev.at();
    let mut p = cur.clone();
    p.updated_at = at;
    match &ev.body {
        EventBody::ProblemReported(_) => unreachable!("handled by apply_problem"),
        EventBody::ProblemEdited(edit) => {
            if edit.is_empty() {
                return Err(refuse(
                    RefusalCode::InvalidField,
                    "the edit changes nothing",
                ));
            }
            if edit.location.is_some_and(|l| !l.is_valid()) {
                return Err(refuse(
                    RefusalCode::InvalidLocation,
                    "location is outside WGS-84 range",
                ));
            }
            if let Some(v) = &edit.description {
                p.description = v.clone();
            }
            if let Some(v) = &edit.address {
                p.address = v.clone();
            }
            if let Some(v) = edit.location {
                p.location = Some(v);
            }
            if let Some(v) = &edit.category {
                if v.trim().is_empty() {
                    return Err(refuse(
                        RefusalCode::InvalidField,
                        "category cannot be empty",
                    ));
                }
                p.category = v.clone();
            }
            if let Some(v) = edit.severity {
                p.severity = v;
            }
            if let Some(v) = &edit.district_id {
                p.district_id = Some(v.clone());
                // A person has now decided the district: it is no longer the device's guess.
                p.placement = None;
            }
        }
        EventBody::ProblemPhotosAdded { .. } => {
            if ev.photos.is_empty() {
                return Err(refuse(RefusalCode::PhotoRequired, "no photos to add"));
            }
            if ev.photos.iter().any(|ph| ph.role == PhotoRole::After)
                && ev.role != Role::UnitHandler
                && ev.role != Role::Admin
            {
                return Err(refuse(
                    RefusalCode::RoleNotAllowed,
                    "only the responsible unit or the office adds after-photos",
                ));
            }
            p.photos.extend(photos_of(ev, PhotoRole::Evidence));
        }
        EventBody::ProblemFiled { .. } => {
            p.status = S::Filed;
            p.status_reason = None;
        }
        EventBody::ProblemRejected { reason } => {
            match reason {
                RejectReason::Duplicate { of } => {
                    if of.trim().is_empty() || *of == cur.code {
                        return Err(refuse(
                            RefusalCode::InvalidField,
                            "a duplicate must name the other problem",
                        ));
                    }
                    p.duplicate_of = Some(of.clone());
                    p.status_reason = Some(format!("duplicate of {of}"));
                }
                RejectReason::Invalid { reason } => {
                    require_reason(reason, "rejecting a report")?;
                    p.status_reason = Some(reason.clone());
                }
            }
            p.status = S::Rejected;
            p.closed_at = Some(at);
        }
        EventBody::ProblemDispatched {
            unit_id, deadline, ..
        } => {
            if unit_id.trim().is_empty() {
                return Err(refuse(RefusalCode::UnitRequired, "dispatch needs a unit"));
            }
            if *deadline <= at {
                return Err(refuse(
                    RefusalCode::DeadlineNotLater,
                    "the deadline must be after the dispatch",
                ));
            }
            p.status = S::Dispatched;
            p.unit_id = Some(unit_id.clone());
            p.deadline = Some(*deadline);
            p.dispatched_at = Some(at);
            p.extension = None;
            p.status_reason = None;
        }
        EventBody::ProblemAccepted { .. } => {
            p.status = S::Rectifying;
        }
        EventBody::ProblemReturned { reason } => {
            require_reason(reason, "returning a problem")?;
            p.status = S::Returned;
            p.status_reason = Some(reason.clone());
            p.extension = None;
        }
        EventBody::ProblemRectified { .. } => {
            if !ev.photos.iter().any(|ph| ph.role == PhotoRole::After) {
                return Err(refuse(
                    RefusalCode::AfterPhotoRequired,
                    "rectification needs at least one after-photo (整改后照片)",
                ));
            }
            p.status = S::Rectified;
            p.rectified_at = Some(at);
            p.extension = None;
            p.photos.extend(photos_of(ev, PhotoRole::After));
        }
        EventBody::ProblemVerified {
            passed,
            note,
            deadline,
        } => {
            if *passed {
                p.status = S::Verified;
                p.status_reason = None;
            } else {
                require_reason(note.as_deref().unwrap_or(""), "a failed check")?;
                if let Some(d) = deadline {
                    if *d <= at {
                        return Err(refuse(
                            RefusalCode::DeadlineNotLater,
                            "the new deadline must be after the check",
                        ));
                    }
                    p.deadline = Some(*d);
                }
                p.status = S::Dispatched;
                p.rework_count += 1;
                p.rectified_at = None;
                p.status_reason = note.clone();
            }
            p.photos.extend(photos_of(ev, PhotoRole::Evidence));
        }
        EventBody::ProblemClosed { .. } => {
            p.status = S::Closed;
            p.closed_at = Some(at);
        }
        EventBody::ExtensionRequested { until, reason } => {
            require_reason(reason, "an extension request")?;
            if cur.deadline.is_some_and(|d| *until <= d) {
                return Err(refuse(
                    RefusalCode::DeadlineNotLater,
                    "the requested deadline must be later than the current one",
                ));
            }
            p.extension = Some(ExtensionRequest {
                until: *until,
                reason: reason.clone(),
                requested_by: ev.actor.clone(),
                requested_at: at,
            });
        }
        EventBody::ExtensionDecided { approved, note } => {
            // Checked by `precondition`; refused again rather than trusted, never a panic.
            let Some(req) = &cur.extension else {
                return Err(no_pending_extension());
            };
            if *approved {
                p.deadline = Some(req.until);
            } else {
                require_reason(note.as_deref().unwrap_or(""), "denying an extension")?;
            }
            p.extension = None;
        }
        EventBody::ProblemRechecked { passed, note } => {
            p.recheck_count += 1;
            if !*passed {
                require_reason(note.as_deref().unwrap_or(""), "reopening a problem")?;
                p.status = S::Reopened;
                p.status_reason = note.clone();
                p.closed_at = None;
                p.rectified_at = None;
            }
            p.photos.extend(photos_of(ev, PhotoRole::Evidence));
        }
        EventBody::InspectionStarted { .. }
        | EventBody::InspectionItemRecorded { .. }
        | EventBody::InspectionFinished { .. } => unreachable!("kind checked above"),
    }
    Ok(p)
}

fn already_reported(id: Uuid) -> Refusal {
    refuse(
        RefusalCode::AlreadyExists,
        format!("problem {id} was already reported"),
    )
}

fn no_pending_extension() -> Refusal {
    refuse(
        RefusalCode::NoPendingExtension,
        "there is no extension request to decide",
    )
}

fn check_own_if_volunteer(cur: &Problem, actor: Sender<'_>) -> Result<(), Refusal> {
    if actor.role == Role::Volunteer && cur.reporter != actor.user_id {
        return Err(refuse(
            RefusalCode::NotOwnRecord,
            "a volunteer may change only their own reports",
        ));
    }
    Ok(())
}
