//! Wire types shared by devices and the server. Everything that crosses a process boundary
//! as JSON is defined here once, with the protocol version it belongs to.

use serde::{Deserialize, Serialize};

pub mod console;
pub mod map;
pub mod sync;
pub mod tasks;
pub mod volunteer;

pub use fieldcheck_domain::checklist::ChecklistTemplate;
pub use fieldcheck_domain::event::Event;
pub use fieldcheck_domain::reference::{District, Point, Unit, User};
pub use fieldcheck_domain::{calendar::WorkCalendar, category::Category};

/// Bumped on every incompatible change; the server refuses clients older than its minimum.
pub const PROTOCOL_VERSION: u32 = 1;

/// A full reference-data snapshot: what the office maintains and devices pull.
/// Also the JSON file format of `fieldcheck import` / `export`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReferenceBundle {
    #[serde(default)]
    pub districts: Vec<District>,
    #[serde(default)]
    pub units: Vec<Unit>,
    #[serde(default)]
    pub points: Vec<Point>,
    #[serde(default)]
    pub categories: Vec<Category>,
    #[serde(default)]
    pub templates: Vec<ChecklistTemplate>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<WorkCalendar>,
}

impl ReferenceBundle {
    pub fn is_empty(&self) -> bool {
        self.districts.is_empty()
            && self.units.is_empty()
            && self.points.is_empty()
            && self.categories.is_empty()
            && self.templates.is_empty()
            && self.users.is_empty()
            && self.calendar.is_none()
    }

    /// The bundle as the domain's `validate_reference` takes it.
    pub fn parts(&self) -> fieldcheck_domain::reference::ReferenceParts<'_> {
        fieldcheck_domain::reference::ReferenceParts {
            districts: &self.districts,
            units: &self.units,
            points: &self.points,
            categories: &self.categories,
            templates: &self.templates,
            users: &self.users,
            calendar: self.calendar.as_ref(),
        }
    }
}

/// The error body every API and IPC boundary returns: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

/// The demo city shipped in `data/demo/` (鼓楼区 with streets, communities, units, 37 points
/// and users of every role), embedded so that demos need no files.
pub fn demo_bundle() -> ReferenceBundle {
    fn parse<T: serde::de::DeserializeOwned>(name: &str, s: &str) -> T {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("data/demo/{name} is invalid: {e}"))
    }
    ReferenceBundle {
        districts: parse(
            "districts.json",
            include_str!("../../../data/demo/districts.json"),
        ),
        units: parse("units.json", include_str!("../../../data/demo/units.json")),
        points: parse(
            "points.json",
            include_str!("../../../data/demo/points.json"),
        ),
        users: parse("users.json", include_str!("../../../data/demo/users.json")),
        calendar: Some(parse(
            "calendar.json",
            include_str!("../../../data/demo/calendar.json"),
        )),
        categories: fieldcheck_domain::category::default_categories(),
        templates: fieldcheck_domain::checklist::default_templates(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_bundle_is_complete() {
        let b = super::demo_bundle();
        assert_eq!(b.points.len(), 37);
        assert!(
            b.users
                .iter()
                .any(|u| u.role == fieldcheck_domain::Role::UnitHandler)
        );
        fieldcheck_domain::reference::validate_districts(&b.districts).unwrap();
        b.calendar.unwrap().validate().unwrap();
    }
}
