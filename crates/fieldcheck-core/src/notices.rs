//! Local notifications of deadlines (issue 18, "In the field"): the phone tells its person
//! once when one of *their* cases (`actions::deadlines_watched`: a unit handler's unit, an
//! inspector's or volunteer's own reports) becomes overdue, with no server involved — a
//! deadline passes offline too.
//!
//! "Once" is per case and deadline: what was notified is kept in `meta` (a small map of
//! problem id → deadline per person, pruned to the cases still overdue), so a case whose deadline is
//! extended and then missed again notifies again, and a restart does not repeat a notice.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ledger::ProblemQuery;
use crate::store::{meta_get, meta_set};
use crate::views::deadlines_query;
use crate::{CoreError, Result, Store};

/// `meta` key prefix; the user id follows (each person is told about their own cases).
const NOTIFIED_KEY: &str = "overdue_notified:";
/// At most this many overdue cases are looked at per run (soonest deadline first): a notice
/// per case is for a handful; a person with hundreds overdue sees them on Home.
const NOTICE_SCAN: u32 = 500;

/// One case of mine that has just become overdue: what the notification says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverdueNotice {
    pub problem_id: Uuid,
    pub code: String,
    pub description: String,
    pub address: String,
    pub deadline: DateTime<Utc>,
}

impl OverdueNotice {
    /// The notification's title and body, in the UI's default language.
    pub fn text(&self) -> (String, String) {
        let place = if self.address.is_empty() {
            String::new()
        } else {
            format!("（{}）", self.address)
        };
        (
            format!("整改超期：{}", self.code),
            format!("{}{place}，已超过整改时限", self.description),
        )
    }
}

impl Store {
    /// The signed-in person's cases that became overdue since they were last told, and marks
    /// them told. Nobody signed in: nothing (and nothing is marked).
    pub fn take_overdue_notices(&self) -> Result<Vec<OverdueNotice>> {
        let actor = match self.current_actor() {
            Ok(a) => a,
            Err(CoreError::NoUser) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let overdue = self.list_problems(&ProblemQuery {
            overdue: true,
            limit: NOTICE_SCAN,
            ..deadlines_query(&actor)
        })?;
        let key = format!("{NOTIFIED_KEY}{}", actor.user_id);
        let told: BTreeMap<Uuid, i64> = meta_get(self.connection(), &key)?
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default();
        let mut still = BTreeMap::new();
        let mut notices = Vec::new();
        for row in overdue.items {
            let p = row.problem;
            let Some(deadline) = p.deadline else { continue };
            let at = deadline.timestamp_millis();
            if told.get(&p.id) != Some(&at) {
                notices.push(OverdueNotice {
                    problem_id: p.id,
                    code: p.code,
                    description: p.description,
                    address: p.address,
                    deadline,
                });
            }
            still.insert(p.id, at);
        }
        if still != told {
            let json = serde_json::to_string(&still)
                .map_err(|e| CoreError::Corrupt(format!("overdue notices: {e}")))?;
            meta_set(self.connection(), &key, &json)?;
        }
        Ok(notices)
    }
}
