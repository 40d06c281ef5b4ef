//! The device core: an event-log SQLite store whose projections are kept in the same
//! transaction as the events, over the pure rules of `fieldcheck-domain`.
//!
//! Every user action is one `BEGIN IMMEDIATE` transaction that folds the new event onto the
//! record's current state, writes the event (which is its own outbox entry) and the updated
//! projection, or writes nothing at all.

mod checkpoint;
mod db;
pub mod demo;
pub mod error;
mod inspections;
pub mod ledger;
pub mod map;
pub mod nearby;
pub mod notices;
pub mod photos;
mod problems;
pub mod reference;
mod search;
mod store;
pub mod sync;
pub mod tasks;
pub mod views;
mod visibility;

pub use error::{CoreError, Result};
pub use inspections::StartInspection;
pub use ledger::{
    EventRecord, LedgerRow, Page, ProblemQuery, ProblemSort, ServerRefusal, Stats, UnitStats,
};
pub use map::{MapInfo, MapPackage, OfflineMap};
pub use nearby::NearbyProblem;
pub use notices::OverdueNotice;
pub use photos::PhotoInfo;
pub use problems::{NewProblem, ProblemAction, Resend};
pub use store::{DeviceInfo, Store};
pub use tasks::{TaskView, TasksView};
pub use views::{Home, Me, OpenInspection, ProblemDetail, deadlines_query, todo_query};

pub use fieldcheck_domain as domain;
pub use fieldcheck_protocol as protocol;
