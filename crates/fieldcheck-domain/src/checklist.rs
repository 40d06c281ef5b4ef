//! Checklist templates (测评标准) per point type, versioned, and the scoring of results.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, Refusal, RefusalCode};
use crate::i18n::Text;
use crate::reference::PointType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Comparison {
    /// The measured value must be at least the threshold (e.g. posters ≥ 5).
    AtLeast,
    /// The measured value must be at most the threshold (e.g. noise ≤ 70 dB).
    AtMost,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ItemKind {
    /// Full points when it passes, none when it fails.
    PassFail,
    /// Each occurrence found deducts `deduction` points, up to `cap`.
    Count { deduction: f64, cap: f64 },
    /// A measured value against a threshold.
    Measured {
        threshold: f64,
        comparison: Comparison,
        #[serde(default)]
        unit: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChecklistItem {
    pub id: String,
    pub text: Text,
    #[serde(flatten)]
    pub kind: ItemKind,
    /// The most this item contributes to the score.
    pub points: f64,
    /// A failed result must carry at least one photo.
    #[serde(default)]
    pub photo_required_on_fail: bool,
    /// Category for a problem raised from a failure of this item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChecklistTemplate {
    pub id: String,
    pub version: u32,
    pub point_type: PointType,
    pub name: Text,
    pub items: Vec<ChecklistItem>,
}

impl ChecklistTemplate {
    pub fn item(&self, id: &str) -> Option<&ChecklistItem> {
        self.items.iter().find(|i| i.id == id)
    }

    pub fn max_points(&self) -> f64 {
        self.items.iter().map(|i| i.points).sum()
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        let bad = |reason: String| DomainError::InvalidTemplate {
            template: format!("{} v{}", self.id, self.version),
            reason,
        };
        if self.items.is_empty() {
            return Err(bad("has no items".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for i in &self.items {
            if !seen.insert(i.id.as_str()) {
                return Err(bad(format!("item id {} appears twice", i.id)));
            }
            if i.text.zh.trim().is_empty() {
                return Err(bad(format!("item {} has no Chinese text", i.id)));
            }
            if !(i.points.is_finite() && i.points > 0.0) {
                return Err(bad(format!(
                    "item {} must be worth more than 0 points",
                    i.id
                )));
            }
            match &i.kind {
                ItemKind::PassFail => {}
                ItemKind::Count { deduction, cap } => {
                    if !(deduction.is_finite() && *deduction > 0.0 && cap.is_finite() && *cap > 0.0)
                    {
                        return Err(bad(format!(
                            "item {} needs a positive deduction and cap",
                            i.id
                        )));
                    }
                }
                ItemKind::Measured { threshold, .. } => {
                    if !threshold.is_finite() {
                        return Err(bad(format!("item {} has no finite threshold", i.id)));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The default templates shipped in `data/templates/*.json`.
pub fn default_templates() -> Vec<ChecklistTemplate> {
    [
        include_str!("../../../data/templates/back_alley.json"),
        include_str!("../../../data/templates/farmers_market.json"),
        include_str!("../../../data/templates/intersection.json"),
        include_str!("../../../data/templates/school_surroundings.json"),
        include_str!("../../../data/templates/community.json"),
        include_str!("../../../data/templates/main_road.json"),
    ]
    .into_iter()
    .map(|s| serde_json::from_str(s).expect("shipped templates are valid (checked by tests)"))
    .collect()
}

/// What the inspector found for one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "result", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ItemResult {
    Pass,
    Fail,
    NotApplicable,
    Count {
        #[serde(deserialize_with = "crate::wire::whole_u32")]
        count: u32,
    },
    Value {
        value: f64,
    },
}

/// Whether a result counts as a failure of the item (and may raise a problem).
pub fn is_failure(item: &ChecklistItem, result: &ItemResult) -> Result<bool, Refusal> {
    let wrong = |what: &str| {
        Refusal::new(
            RefusalCode::InvalidResult,
            format!("item {} expects {what}", item.id),
        )
    };
    match (&item.kind, result) {
        (_, ItemResult::NotApplicable) => Ok(false),
        (ItemKind::PassFail, ItemResult::Pass) => Ok(false),
        (ItemKind::PassFail, ItemResult::Fail) => Ok(true),
        (ItemKind::PassFail, _) => Err(wrong("pass or fail")),
        (ItemKind::Count { .. }, ItemResult::Count { count }) => Ok(*count > 0),
        // "Pass" on a count item means none found; "fail" without a number is ambiguous.
        (ItemKind::Count { .. }, ItemResult::Pass) => Ok(false),
        (ItemKind::Count { .. }, _) => Err(wrong("a count of occurrences")),
        (
            ItemKind::Measured {
                threshold,
                comparison,
                ..
            },
            ItemResult::Value { value },
        ) => {
            if !value.is_finite() {
                return Err(wrong("a finite measured value"));
            }
            Ok(match comparison {
                Comparison::AtLeast => value < threshold,
                Comparison::AtMost => value > threshold,
            })
        }
        (ItemKind::Measured { .. }, _) => Err(wrong("a measured value")),
    }
}

/// Points earned by one item, or None when not applicable.
pub fn item_points(item: &ChecklistItem, result: &ItemResult) -> Result<Option<f64>, Refusal> {
    let failed = is_failure(item, result)?;
    Ok(match (&item.kind, result) {
        (_, ItemResult::NotApplicable) => None,
        (ItemKind::Count { deduction, cap }, ItemResult::Count { count }) => {
            let lost = (f64::from(*count) * deduction).min(*cap);
            Some((item.points - lost).max(0.0))
        }
        _ if failed => Some(0.0),
        _ => Some(item.points),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Score {
    pub earned: f64,
    pub possible: f64,
    /// 0–100, rounded to one decimal; 100 when every item was not applicable.
    pub percent: f64,
    pub failed_items: u32,
    pub recorded_items: u32,
}

/// Scores recorded results against a template. Unrecorded items are left out of the
/// denominator: an inspection can be scored while it is still in progress.
pub fn score<'a>(
    template: &ChecklistTemplate,
    results: impl IntoIterator<Item = (&'a str, &'a ItemResult)>,
) -> Result<Score, Refusal> {
    let (mut earned, mut possible, mut failed, mut recorded) = (0.0, 0.0, 0, 0);
    for (item_id, result) in results {
        let item = template.item(item_id).ok_or_else(|| {
            Refusal::new(
                RefusalCode::UnknownItem,
                format!("template {} has no item {item_id}", template.id),
            )
        })?;
        recorded += 1;
        if is_failure(item, result)? {
            failed += 1;
        }
        if let Some(p) = item_points(item, result)? {
            earned += p;
            possible += item.points;
        }
    }
    let percent = if possible > 0.0 {
        (earned / possible * 1000.0).round() / 10.0
    } else {
        100.0
    };
    Ok(Score {
        earned,
        possible,
        percent,
        failed_items: failed,
        recorded_items: recorded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tpl() -> ChecklistTemplate {
        ChecklistTemplate {
            id: "t".into(),
            version: 1,
            point_type: PointType::FarmersMarket,
            name: Text::new("测试", "test"),
            items: vec![
                ChecklistItem {
                    id: "a".into(),
                    text: Text::new("地面干净", "floor clean"),
                    kind: ItemKind::PassFail,
                    points: 10.0,
                    photo_required_on_fail: true,
                    category: None,
                },
                ChecklistItem {
                    id: "b".into(),
                    text: Text::new("暴露垃圾", "exposed garbage"),
                    kind: ItemKind::Count {
                        deduction: 2.0,
                        cap: 8.0,
                    },
                    points: 10.0,
                    photo_required_on_fail: true,
                    category: None,
                },
                ChecklistItem {
                    id: "c".into(),
                    text: Text::new("公益广告", "posters"),
                    kind: ItemKind::Measured {
                        threshold: 5.0,
                        comparison: Comparison::AtLeast,
                        unit: "处".into(),
                    },
                    points: 5.0,
                    photo_required_on_fail: false,
                    category: None,
                },
            ],
        }
    }

    #[test]
    fn scores_each_kind() {
        let t = tpl();
        let pass = ItemResult::Pass;
        let count = ItemResult::Count { count: 3 };
        let value = ItemResult::Value { value: 4.0 };
        let s = score(&t, [("a", &pass), ("b", &count), ("c", &value)]).unwrap();
        assert_eq!(s.earned, 10.0 + 4.0);
        assert_eq!(s.possible, 25.0);
        assert_eq!(s.percent, 56.0);
        assert_eq!(s.failed_items, 2);
        // The count deduction stops at the cap.
        let many = ItemResult::Count { count: 100 };
        assert_eq!(item_points(&t.items[1], &many).unwrap(), Some(2.0));
    }

    #[test]
    fn not_applicable_leaves_the_denominator() {
        let t = tpl();
        let na = ItemResult::NotApplicable;
        let pass = ItemResult::Pass;
        let s = score(&t, [("a", &pass), ("c", &na)]).unwrap();
        assert_eq!((s.earned, s.possible, s.percent), (10.0, 10.0, 100.0));
    }

    #[test]
    fn wrong_result_kind_and_unknown_item_are_refused() {
        let t = tpl();
        let e = score(&t, [("a", &ItemResult::Count { count: 1 })]).unwrap_err();
        assert_eq!(e.code, RefusalCode::InvalidResult);
        let e = score(&t, [("zz", &ItemResult::Pass)]).unwrap_err();
        assert_eq!(e.code, RefusalCode::UnknownItem);
    }

    #[test]
    fn shipped_templates_are_valid_and_bilingual() {
        let all = default_templates();
        let types: Vec<_> = all.iter().map(|t| t.point_type).collect();
        for want in [
            PointType::BackAlley,
            PointType::FarmersMarket,
            PointType::Intersection,
            PointType::SchoolSurroundings,
            PointType::Community,
            PointType::MainRoad,
        ] {
            assert!(types.contains(&want), "missing template for {want:?}");
        }
        let cats: std::collections::HashSet<_> = crate::category::default_categories()
            .into_iter()
            .map(|c| c.code)
            .collect();
        for t in &all {
            t.validate().unwrap();
            assert!(t.items.len() >= 8, "{} has too few items", t.id);
            for i in &t.items {
                assert!(!i.text.en.is_empty(), "{} {} lacks English", t.id, i.id);
                if let Some(c) = &i.category {
                    assert!(cats.contains(c), "{} {} unknown category {c}", t.id, i.id);
                }
            }
        }
    }
}
