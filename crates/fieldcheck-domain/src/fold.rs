//! A record's state is the fold of its events in HLC order. The fold is a pure function of
//! the *set* of events: any arrival order gives the same state and the same outcomes.

use uuid::Uuid;

use crate::checklist::ChecklistTemplate;
use crate::event::{Event, EventBody, EventOutcome};
use crate::inspection::{Inspection, apply_inspection};
use crate::lifecycle::apply_problem;
use crate::problem::Problem;

#[derive(Debug, Clone, PartialEq)]
pub struct Folded<T> {
    pub state: Option<T>,
    /// Outcome per event id, in fold order.
    pub outcomes: Vec<(Uuid, EventOutcome)>,
}

impl<T> Folded<T> {
    pub fn outcome(&self, event: Uuid) -> Option<&EventOutcome> {
        self.outcomes
            .iter()
            .find(|(id, _)| *id == event)
            .map(|(_, o)| o)
    }
}

fn in_fold_order<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<&'a Event> {
    let mut v: Vec<&Event> = events.into_iter().collect();
    v.sort_by(|a, b| a.fold_key().cmp(&b.fold_key()));
    // The same event delivered twice counts once.
    v.dedup_by(|a, b| a.id == b.id);
    v
}

pub fn fold_problem<'a>(events: impl IntoIterator<Item = &'a Event>) -> Folded<Problem> {
    let mut state: Option<Problem> = None;
    let mut outcomes = Vec::new();
    for ev in in_fold_order(events) {
        match apply_problem(state.as_ref(), ev) {
            Ok(next) => {
                state = Some(next);
                outcomes.push((ev.id, EventOutcome::Applied));
            }
            Err(r) => outcomes.push((ev.id, Err(r).into())),
        }
    }
    Folded { state, outcomes }
}

/// Folds an inspection. `template` resolves the (id, version) named by the started event.
pub fn fold_inspection<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    template: impl Fn(&str, u32) -> Option<ChecklistTemplate>,
) -> Folded<Inspection> {
    let events = in_fold_order(events);
    let tpl = events.iter().find_map(|e| match &e.body {
        EventBody::InspectionStarted {
            template_id,
            template_version,
            ..
        } => template(template_id, *template_version),
        _ => None,
    });
    let mut state: Option<Inspection> = None;
    let mut outcomes = Vec::new();
    for ev in events {
        match apply_inspection(state.as_ref(), ev, tpl.as_ref()) {
            Ok(next) => {
                state = Some(next);
                outcomes.push((ev.id, EventOutcome::Applied));
            }
            Err(r) => outcomes.push((ev.id, Err(r).into())),
        }
    }
    Folded { state, outcomes }
}
