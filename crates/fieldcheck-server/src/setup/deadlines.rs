//! What a deadline is computed from (issue 15): the work calendar (holidays, make-up working
//! days 调休, working hours and the lunch break, for this year and the next ones) and each
//! category's deadline rule. A change is a new reference version and an audit entry. A case
//! already dispatched keeps its deadline: the dispatch event carries the instant computed then,
//! so only dispatches after the change use the new rule or calendar.

use fieldcheck_domain::calendar::WorkCalendar;
use fieldcheck_domain::category::{Category, DeadlineRule};
use fieldcheck_protocol::console::setup::CalendarPage;

use super::{SetupError, audit, store_reference};
use crate::store::Store;

/// The city's calendar; the built-in one (08:30–12:00, 14:00–17:30, Monday to Friday, no
/// holidays) until the office sets its own.
pub async fn calendar(store: &dyn Store) -> Result<CalendarPage, SetupError> {
    let (version, bundle) = store.reference().await?.unwrap_or_default();
    Ok(CalendarPage {
        version,
        set: bundle.calendar.is_some(),
        calendar: bundle.calendar.unwrap_or_default(),
    })
}

/// Replaces the calendar (checked as an import's is: periods in order, working days, offset,
/// no day both a holiday and a make-up working day). Dates are kept sorted.
pub async fn set_calendar(
    store: &dyn Store,
    actor: &str,
    mut calendar: WorkCalendar,
) -> Result<CalendarPage, SetupError> {
    for days in [&mut calendar.holidays, &mut calendar.extra_working_days] {
        days.sort();
        days.dedup();
    }
    calendar.working_weekdays.sort();
    calendar.working_weekdays.dedup();
    calendar
        .validate()
        .map_err(|e| SetupError::InvalidCalendar(e.to_string()))?;
    let (mut version, bundle) = store.reference().await?.unwrap_or_default();
    let before = bundle.calendar;
    if before.as_ref() != Some(&calendar) {
        let stored = calendar.clone();
        version = store_reference(store, SetupError::InvalidCalendar, |b| {
            b.calendar = Some(stored);
            Ok(())
        })
        .await?;
        audit(
            store,
            actor,
            "calendar.edit",
            "calendar",
            before.map(|c| serde_json::to_value(c).unwrap_or_default()),
            Some(serde_json::to_value(&calendar).unwrap_or_default()),
        )
        .await?;
    }
    Ok(CalendarPage {
        version,
        set: true,
        calendar,
    })
}

/// The city's categories, by code.
pub async fn categories(store: &dyn Store) -> Result<Vec<Category>, SetupError> {
    let (_, bundle) = store.reference().await?.unwrap_or_default();
    let mut out = bundle.categories;
    out.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(out)
}

/// The longest deadline a rule may give (a year of working days is far past any campaign).
const MAX_DEADLINE: u32 = 366;

/// Sets one category's deadline rule.
pub async fn set_deadline(
    store: &dyn Store,
    actor: &str,
    code: &str,
    rule: DeadlineRule,
) -> Result<Category, SetupError> {
    if rule.amount == 0 || rule.amount > MAX_DEADLINE {
        return Err(SetupError::InvalidCategory(format!(
            "a deadline of 1 to {MAX_DEADLINE}, not {}",
            rule.amount
        )));
    }
    let (_, bundle) = store.reference().await?.unwrap_or_default();
    let before = bundle
        .categories
        .into_iter()
        .find(|c| c.code == code)
        .ok_or_else(|| SetupError::UnknownCategory(code.to_owned()))?;
    if before.deadline == rule {
        return Ok(before);
    }
    let mut after = before.clone();
    after.deadline = rule;
    let stored = after.clone();
    store_reference(store, SetupError::InvalidCategory, |b| {
        if let Some(slot) = b.categories.iter_mut().find(|c| c.code == stored.code) {
            *slot = stored;
        }
        Ok(())
    })
    .await?;
    audit(
        store,
        actor,
        "category.deadline",
        code,
        Some(serde_json::to_value(before.deadline).unwrap_or_default()),
        Some(serde_json::to_value(after.deadline).unwrap_or_default()),
    )
    .await?;
    Ok(after)
}
