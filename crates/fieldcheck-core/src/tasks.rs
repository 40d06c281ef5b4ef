//! Today's tasks (issue 18): the evaluation-round points the server assigned to this device's
//! inspector whose day has come (`GET /api/v1/tasks`, fetched by every sync). The list is kept
//! offline as the server last sent it — replaced whole, so the device never holds a round's
//! points before the server hands them out on its date — and read sorted by distance.

use fieldcheck_domain::reference::LatLon;
use fieldcheck_protocol::tasks::{Task, TaskList};
use serde::Serialize;

use crate::Result;
use crate::store::{Store, meta_get, meta_set};

/// The `meta` key of the stored list.
pub(crate) const TASKS: &str = "sync_tasks";

/// A task as the device shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskView {
    #[serde(flatten)]
    pub task: Task,
    /// Metres from the position asked about, when one was given.
    pub distance_m: Option<f64>,
}

impl Store {
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
