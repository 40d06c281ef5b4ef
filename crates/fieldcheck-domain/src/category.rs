//! Problem categories (数字城管 event classes): a major class and a minor class, each minor
//! class with its filing condition, closing condition and handling deadline rule.

use serde::{Deserialize, Serialize};

use crate::i18n::Text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum DeadlineUnit {
    /// Counted only inside the calendar's working periods.
    WorkingHours,
    /// Due at close of business of the N-th working day after the day of dispatch.
    WorkingDays,
    /// Plain elapsed hours, for emergencies that do not wait for Monday.
    NaturalHours,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DeadlineRule {
    pub amount: u32,
    pub unit: DeadlineUnit,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Category {
    /// Stable code, e.g. `SR-02` (市容环境 / 暴露垃圾).
    pub code: String,
    pub major_code: String,
    pub major: Text,
    pub minor: Text,
    pub deadline: DeadlineRule,
    #[serde(default)]
    pub filing_condition: Text,
    #[serde(default)]
    pub closing_condition: Text,
}

/// The category table shipped with FieldCheck (`data/categories.json`); cities can import
/// their own over it.
pub fn default_categories() -> Vec<Category> {
    serde_json::from_str(include_str!("../../../data/categories.json"))
        .expect("data/categories.json is valid (checked by tests)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_categories_cover_every_major_class() {
        let cats = default_categories();
        let majors: std::collections::BTreeSet<_> =
            cats.iter().map(|c| c.major_code.as_str()).collect();
        for m in ["SR", "XC", "SG", "JM", "TF", "JT", "GY"] {
            assert!(majors.contains(m), "missing major class {m}");
        }
        let codes: std::collections::BTreeSet<_> = cats.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes.len(), cats.len(), "category codes are unique");
        for c in &cats {
            assert!(c.deadline.amount > 0, "{} has a zero deadline", c.code);
            assert!(
                !c.minor.zh.is_empty() && !c.minor.en.is_empty(),
                "{} text",
                c.code
            );
            assert!(c.code.starts_with(&c.major_code), "{} prefix", c.code);
        }
    }
}
