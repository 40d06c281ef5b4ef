//! What a device shows the person using it, by the domain's scope rule
//! (`fieldcheck_domain::scope`): the ledger, a record looked up by id or code.

use fieldcheck_domain::Problem;
use fieldcheck_domain::scope::{RecordScope, Scope};

use crate::error::{CoreError, Result};
use crate::ledger::ProblemQuery;
use crate::reference::district_tree;
use crate::store::Store;

impl ProblemQuery {
    /// The query narrowed to what the device shows `scope`'s person: a volunteer sees only
    /// their own reports, whatever reporter the query asked for; everyone else sees all the
    /// device holds (`Scope::device_reporter`).
    pub fn within(mut self, scope: &Scope) -> ProblemQuery {
        if let Some(me) = scope.device_reporter() {
            self.reporter = Some(me.to_owned());
        }
        self
    }
}

impl Store {
    /// The person's reach, from their user record and the district tree on this device.
    pub fn scope(&self, user_id: &str) -> Result<Scope> {
        let user = self.user(user_id)?;
        Ok(Scope::of(&user, &district_tree(&self.conn)?))
    }

    /// A problem by id or code as `scope`'s person sees it: one outside what the device shows
    /// them is not found, exactly like one the device does not hold.
    pub fn find_problem_visible(&self, id_or_code: &str, scope: &Scope) -> Result<Problem> {
        let p = self.find_problem(id_or_code)?;
        if !scope.sees_on_device(&RecordScope::of_problem(&p)) {
            return Err(CoreError::not_found("problem", id_or_code));
        }
        Ok(p)
    }
}
