//! The FieldCheck domain: what a problem, a point, an inspection and an event are, and the
//! rules that govern them (lifecycle, fold, scoring, deadline arithmetic).
//!
//! Everything here is a plain function over plain data: no SQL, no HTTP, no files, no clock.
//! The device store, the server and the UI bridge all call into this crate, so that every
//! replica decides the same thing from the same events.

pub mod actions;
pub mod calendar;
pub mod category;
pub mod checklist;
pub mod code;
pub mod compliance;
pub mod error;
pub mod evaluation;
pub mod event;
pub mod fold;
pub mod hlc;
pub mod i18n;
pub mod inspection;
pub mod lifecycle;
pub mod open311;
pub mod placement;
pub mod problem;
pub mod public;
pub mod rates;
pub mod reference;
pub mod role;
pub mod scope;
pub mod search;
pub mod stamp;
pub mod wire;

pub use error::{DomainError, Refusal, RefusalCode};
pub use event::{Event, EventBody, EventOutcome, PhotoRef, PhotoRole, PhotoStamp};
pub use hlc::{Hlc, HlcClock};
pub use problem::{Location, LocationSource, Problem, ProblemStatus, Severity};
pub use role::{Actor, Role};
