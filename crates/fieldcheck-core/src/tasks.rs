//! Today's tasks (issue 18): the evaluation-round points the server assigned to this device's
//! inspector whose day has come (`GET /api/v1/tasks`, fetched by every sync). The list is kept
//! offline as the server last sent it — replaced whole, so the device never holds a round's
//! points before the server hands them out on its date — and read sorted by distance.

use chrono::NaiveDate;
use fieldcheck_domain::reference::LatLon;
use fieldcheck_protocol::tasks::{Task, TaskList};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::store::{Store, meta_get, meta_set};

/// The `meta` key of the stored list.
pub(crate) const TASKS: &str = "sync_tasks";

/// A task as the device shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TaskView {
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub task: Task,
    /// Metres from the position asked about, when one was given.
    pub distance_m: Option<f64>,
}

/// The "today's tasks" screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TasksView {
    /// The server's "today" when it last sent the list; `None` before the first sync that
    /// fetched one (the screen says to sync).
    pub today: Option<NaiveDate>,
    /// Not done first, then nearest first (see [`Store::tasks`]).
    pub tasks: Vec<TaskView>,
    /// How many are not done yet.
    pub open: u64,
}

impl Store {
    /// The tasks screen: [`Store::tasks`] with the screen's counts.
    pub fn tasks_view(&self, from: Option<LatLon>) -> Result<TasksView> {
        if let Some(f) = &from
            && !f.is_valid()
        {
            return Err(crate::CoreError::Invalid(
                "invalid position: lat must be within ±90 and lon within ±180".into(),
            ));
        }
        Ok(match self.tasks(from)? {
            Some((list, tasks)) => TasksView {
                today: Some(list.today),
                open: tasks.iter().filter(|t| !t.task.done).count() as u64,
                tasks,
            },
            None => TasksView {
                today: None,
                tasks: vec![],
                open: 0,
            },
        })
    }

    /// Replaces the stored task list with the server's.
    pub fn save_tasks(&mut self, list: &TaskList) -> Result<()> {
        let json = serde_json::to_string(list)
            .map_err(|e| crate::CoreError::Invalid(format!("tasks: {e}")))?;
        meta_set(&self.conn, TASKS, &json)
    }

    /// The stored tasks: those not done first, then by distance from `from` (nearest first),
    /// then by round and point. `None` before the first sync that fetched them.
    pub fn tasks(&self, from: Option<LatLon>) -> Result<Option<(TaskList, Vec<TaskView>)>> {
        let Some(json) = meta_get(&self.conn, TASKS)? else {
            return Ok(None);
        };
        let list: TaskList = serde_json::from_str(&json)
            .map_err(|e| crate::CoreError::Corrupt(format!("stored tasks: {e}")))?;
        let mut views: Vec<TaskView> = list
            .tasks
            .iter()
            .map(|t| TaskView {
                distance_m: from.map(|f| f.distance_m(&t.location)),
                task: t.clone(),
            })
            .collect();
        views.sort_by(|a, b| {
            a.task
                .done
                .cmp(&b.task.done)
                .then_with(|| {
                    a.distance_m
                        .unwrap_or(0.0)
                        .total_cmp(&b.distance_m.unwrap_or(0.0))
                })
                .then_with(|| (a.task.date, &a.task.round_id).cmp(&(b.task.date, &b.task.round_id)))
                .then_with(|| a.task.point_id.cmp(&b.task.point_id))
        });
        Ok(Some((list, views)))
    }
}
