use serde::{Deserialize, Serialize};

use crate::i18n::{Lang, Text};

/// Who may do what. `Admin` is the city office (创城办); `UnitHandler` acts for one
/// responsible unit; `Volunteer` reports and follows their own reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Role {
    Admin,
    Inspector,
    UnitHandler,
    Volunteer,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Admin,
        Role::Inspector,
        Role::UnitHandler,
        Role::Volunteer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Inspector => "inspector",
            Role::UnitHandler => "unit_handler",
            Role::Volunteer => "volunteer",
        }
    }

    /// Accepts the code or the Chinese or English label.
    pub fn parse(s: &str) -> Option<Role> {
        let s = s.trim();
        Role::ALL.into_iter().find(|r| {
            r.as_str() == s || r.label(Lang::Zh) == s || r.label(Lang::En).eq_ignore_ascii_case(s)
        })
    }

    pub fn label(self, lang: Lang) -> &'static str {
        let t = match self {
            Role::Admin => ("创城办", "City office"),
            Role::Inspector => ("巡查员", "Inspector"),
            Role::UnitHandler => ("责任单位", "Unit handler"),
            Role::Volunteer => ("志愿者", "Volunteer"),
        };
        if lang == Lang::En { t.1 } else { t.0 }
    }

    pub fn text(self) -> Text {
        Text::new(self.label(Lang::Zh), self.label(Lang::En))
    }
}

/// The person behind an action, as the lifecycle rules need to see them.
/// `unit_id` is set for unit handlers: they may act only on problems dispatched to that unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user_id: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<String>,
}

impl Actor {
    pub fn new(user_id: impl Into<String>, role: Role) -> Self {
        Actor {
            user_id: user_id.into(),
            role,
            unit_id: None,
        }
    }

    pub fn with_unit(mut self, unit_id: impl Into<String>) -> Self {
        self.unit_id = Some(unit_id.into());
        self
    }
}
