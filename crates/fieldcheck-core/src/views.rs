//! What the device's screens show, as the store computes it: who is signed in, the home
//! screen's counts and to-do list, a problem's detail with the actions its viewer may take.
//! The bridge and the app only pass these on; the rules they rest on live in the domain crate
//! (`actions::actions_offered`, `WorkCalendar::local_day`).

use chrono::{DateTime, Utc};
use fieldcheck_domain::actions::actions_offered;
use fieldcheck_domain::inspection::Inspection;
use fieldcheck_domain::reference::User;
use fieldcheck_domain::{Actor, Problem};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{CoreError, Result};
use crate::ledger::{EventRecord, LedgerRow, Page, ProblemQuery, ProblemSort, ServerRefusal};
use crate::store::Store;

// The person signed in on this device and what waits to leave it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Me {
    pub user: Option<User>,
    pub device_id: Uuid,
    pub device_tag: String,
    /// Local events not yet pushed to the server (records waiting to sync).
    pub pending_sync: u64,
    /// Photos that records here refer to but whose files are not on this device.
    pub missing_photos: usize,
}

// The home screen of the signed-in person. "Today" is the city's calendar day.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Home {
    pub me: Me,
    pub inspections_today: u64,
    pub reported_today: u64,
    /// What waits for the signed-in person's role (to file, rectify, verify, …).
    pub todo: Page<LedgerRow>,
    // The query behind `todo`, with a full page, for the screen's "show all".
    pub todo_query: ProblemQuery,
    // Overdue records among those the role follows.
    pub overdue: u64,
    /// "Deadlines for me" (`actions::deadlines_watched`): how many are due within 24 hours
    /// and how many are overdue; `deadlines_query` is their ledger query, to which the screen
    /// adds `due_soon` or `overdue`.
    pub my_due_soon: u64,
    pub my_overdue: u64,
    pub deadlines_query: ProblemQuery,
    /// Today's evaluation-round tasks not done yet (0 before a sync fetched any).
    pub tasks_open: u64,
    /// Inspections the signed-in person started and has not finished, newest first.
    pub open_inspections: Vec<OpenInspection>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OpenInspection {
    pub inspection: Inspection,
    // Empty when the point is no longer in the reference data.
    pub point_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProblemDetail {
    pub problem: Problem,
    pub overdue: bool,
    /// Every event in fold order, rejected ones included (shown on the record).
    pub history: Vec<EventRecord>,
    /// The actions (ProblemAction tags) the signed-in person may take now; for a report the
    /// server refused, only `resend` and `discard`.
    pub allowed_actions: Vec<String>,
    /// The server refused this record's report: it exists only on this device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<ServerRefusal>,
}

/// How many unfinished inspections the home screen lists.
const OPEN_INSPECTIONS_SHOWN: u32 = 10;
/// How many to-do records the home screen lists, and how many its "show all" page holds.
const TODO_SHOWN: u32 = 5;
const TODO_PAGE: u32 = 50;

/// The ledger query for "what waits for me" (`actions::todo`).
pub fn todo_query(actor: &Actor) -> ProblemQuery {
    let todo = fieldcheck_domain::actions::todo(actor);
    ProblemQuery {
        limit: TODO_SHOWN,
        sort: ProblemSort::Deadline,
        statuses: todo.statuses,
        unit_id: todo.unit_id,
        reporter: todo.reporter,
        ..Default::default()
    }
}

/// The ledger query for "deadlines for me" (`actions::deadlines_watched`), soonest first.
pub fn deadlines_query(actor: &Actor) -> ProblemQuery {
    let w = fieldcheck_domain::actions::deadlines_watched(actor);
    ProblemQuery {
        limit: TODO_PAGE,
        sort: ProblemSort::Deadline,
        statuses: w.statuses,
        unit_id: w.unit_id,
        reporter: w.reporter,
        ..Default::default()
    }
}

impl Store {
    pub fn me(&self) -> Result<Me> {
        Ok(Me {
            user: self.current_user()?,
            device_id: self.device().device_id,
            device_tag: self.device().tag.clone(),
            pending_sync: self.outbox_len()?,
            missing_photos: self.missing_photos()?.len(),
        })
    }

    /// The person signed in, as the lifecycle sees them; `NoUser` when nobody is.
    pub fn current_actor(&self) -> Result<Actor> {
        let user = self.current_user()?.ok_or(CoreError::NoUser)?;
        self.actor(&user.id)
    }

    /// The first instant of today, the city's calendar day (not the device's time zone).
    pub fn today_start(&self) -> Result<DateTime<Utc>> {
        let cal = self.calendar()?;
        Ok(cal.day_start(cal.local_day(self.now())))
    }

    /// The home screen of the signed-in person.
    pub fn home(&self) -> Result<Home> {
        let me = self.me()?;
        let actor = me.user.as_ref().ok_or(CoreError::NoUser)?.actor();
        let since = self.today_start()?;
        let inspections_today = self.inspections_started_since(&actor.user_id, since)?;
        let reported_today = self
            .list_problems(&ProblemQuery {
                reporter: Some(actor.user_id.clone()),
                reported_from: Some(since),
                limit: 1,
                ..Default::default()
            })?
            .total;
        let q = todo_query(&actor);
        let todo = self.list_problems(&q)?;
        let overdue = self
            .list_problems(&ProblemQuery {
                overdue: true,
                unit_id: q.unit_id.clone(),
                reporter: q.reporter.clone(),
                limit: 1,
                ..Default::default()
            })?
            .total;
        let watched = deadlines_query(&actor);
        let count = |q: ProblemQuery| self.list_problems(&q).map(|p| p.total);
        let my_due_soon = count(ProblemQuery {
            due_soon: true,
            limit: 1,
            ..watched.clone()
        })?;
        let my_overdue = count(ProblemQuery {
            overdue: true,
            limit: 1,
            ..watched.clone()
        })?;
        let tasks_open = self.tasks_view(None)?.open;
        let open_inspections = self
            .open_inspections(&actor.user_id, OPEN_INSPECTIONS_SHOWN)?
            .into_iter()
            .map(|inspection| {
                let point_name = match self.point(&inspection.point_id) {
                    Ok(p) => p.name,
                    Err(CoreError::NotFound { .. }) => String::new(),
                    Err(e) => return Err(e),
                };
                Ok(OpenInspection {
                    inspection,
                    point_name,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Home {
            me,
            inspections_today,
            reported_today,
            todo,
            todo_query: ProblemQuery {
                limit: TODO_PAGE,
                ..q
            },
            overdue,
            my_due_soon,
            my_overdue,
            deadlines_query: watched,
            tasks_open,
            open_inspections,
        })
    }

    /// What the signed-in person may do to `problem` now, as the screen names the actions.
    /// A report the server refused allows only `resend` and `discard`, to its reporter:
    /// anything else would be refused too. Nobody signed in: nothing.
    pub fn allowed_actions(&self, problem: &Problem) -> Result<Vec<String>> {
        let refused = self.creation_refusal(problem.id)?.is_some();
        self.allowed_actions_of(problem, refused)
    }

    fn allowed_actions_of(&self, problem: &Problem, refused: bool) -> Result<Vec<String>> {
        let Some(user) = self.current_user()? else {
            return Ok(vec![]);
        };
        if refused {
            return Ok(if user.id == problem.reporter {
                vec!["resend".to_owned(), "discard".to_owned()]
            } else {
                vec![]
            });
        }
        let actor = self.actor(&user.id)?;
        Ok(actions_offered(problem, &actor)
            .into_iter()
            .map(|a| a.as_str().to_owned())
            .collect())
    }

    /// A problem as its detail screen shows it to the signed-in person.
    pub fn problem_detail(&self, problem: Problem) -> Result<ProblemDetail> {
        let refused = self.creation_refusal(problem.id)?;
        Ok(ProblemDetail {
            overdue: problem.is_overdue(self.now()),
            history: self.history(problem.id)?,
            allowed_actions: self.allowed_actions_of(&problem, refused.is_some())?,
            refused,
            problem,
        })
    }
}
