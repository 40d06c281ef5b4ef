//! FieldCheck's PDF reports (issue 16): the case sheet (整改通知单), the weekly or monthly
//! bulletin (周通报 / 月通报) and the point compliance list (点位达标清单).
//!
//! Each report is a plain data struct, already resolved to the names people read, turned into
//! PDF bytes: no database, no HTTP. The layout is a Typst template (`templates/*.typ`) that
//! reads the report's data as JSON from a virtual file, so no text of ours is ever parsed as
//! markup; Typst breaks CJK lines, lays out the tables and images, and subsets the font into
//! the file, and the text stays real text (searchable, copyable).
//!
//! The rules that decide numbers are the domain's: the ranking order and rates
//! (`fieldcheck_domain::rates`) and a point's standing (`fieldcheck_domain::compliance`).

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use fieldcheck_domain::compliance::{Compliance, PASS_PERCENT};
use fieldcheck_domain::i18n::Lang;
use fieldcheck_domain::rates::{self, PeriodTally, UnitTally};
use fieldcheck_domain::reference::PointType;
use serde::Serialize;
use serde_json::json;
use typst_layout::PagedDocument;

mod world;

pub use world::{DEFAULT_FONT_DIRS, Fonts};

/// What went wrong making a report; `code()` is stable.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "no CJK font found in {searched}: install Debian's fonts-noto-cjk \
         (`apt-get install fonts-noto-cjk`, SIL Open Font License) or set report_font_dirs to \
         a folder holding a CJK font such as NotoSansCJK-Regular.ttc"
    )]
    NoCjkFont { searched: String },
    #[error("the report could not be laid out: {0}")]
    Layout(String),
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
    #[error("the report's data: {0}")]
    Data(#[from] serde_json::Error),
}

impl ReportError {
    pub fn code(&self) -> &'static str {
        match self {
            ReportError::NoCjkFont { .. } => "report_no_cjk_font",
            ReportError::Layout(_) => "report_layout",
            ReportError::Pdf(_) => "report_pdf",
            ReportError::Data(_) => "report_data",
        }
    }
}

/// Who issues the report, when, and the city's clock for the times it prints.
#[derive(Debug, Clone)]
pub struct Meta {
    /// The issuing office, printed in the title and footer (e.g. 鼓楼区创建文明城市工作办公室).
    pub issuer: String,
    pub generated_at: DateTime<Utc>,
    /// The city's offset from UTC.
    pub tz: FixedOffset,
}

impl Meta {
    fn time(&self, t: Option<DateTime<Utc>>) -> String {
        t.map(|t| {
            t.with_timezone(&self.tz)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
    }

    fn day(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.tz).format("%Y-%m-%d").to_string()
    }
}

/// Photos a case sheet prints on each side (before, after); the rest are in the ledger.
pub const PHOTOS_PER_SIDE: usize = 4;
/// Rows of the bulletin's frequent categories and points.
pub const TOP_N: usize = 10;

/// One line of a problem's history.
#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    /// What happened (`event::kind_label`).
    pub what: String,
    /// Who did it.
    pub who: String,
    /// The note or reason it carried.
    pub note: String,
}

/// 整改通知单: one problem, as a unit receives it on paper.
#[derive(Debug, Clone, Default)]
pub struct CaseSheet {
    pub code: String,
    /// 发现时间
    pub found_at: Option<DateTime<Utc>>,
    /// 点位/地址
    pub place: String,
    /// 区 / 街道 / 社区
    pub area: String,
    /// 类别 (major / minor)
    pub category: String,
    /// 测评条目
    pub item: String,
    pub description: String,
    /// 整改前照片: JPEG or PNG bytes (scaled by the caller), at most [`PHOTOS_PER_SIDE`] print.
    pub before: Vec<Vec<u8>>,
    /// 整改后照片
    pub after: Vec<Vec<u8>>,
    /// 责任单位
    pub unit: String,
    pub dispatched_at: Option<DateTime<Utc>>,
    /// 整改时限
    pub deadline: Option<DateTime<Utc>>,
    /// 状态 (`ProblemStatus::label`)
    pub status: String,
    /// 整改情况
    pub rectification: String,
    /// 核查人
    pub verifier: String,
    pub timeline: Vec<TimelineEntry>,
}

/// 周通报 / 月通报, or a bulletin over any run of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulletinPeriod {
    Week,
    Month,
    Quarter,
    Custom,
}

impl BulletinPeriod {
    pub fn title(self) -> &'static str {
        match self {
            BulletinPeriod::Week => "周通报",
            BulletinPeriod::Month => "月通报",
            BulletinPeriod::Quarter => "季度通报",
            BulletinPeriod::Custom => "工作通报",
        }
    }
}

/// A unit's line of the bulletin's ranking.
#[derive(Debug, Clone)]
pub struct UnitLine {
    pub id: String,
    pub name: String,
    pub tally: PeriodTally,
}

/// A name and how often it came up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

/// A problem waiting for its unit past the deadline.
#[derive(Debug, Clone)]
pub struct OverdueLine {
    pub code: String,
    pub unit: String,
    pub category: String,
    pub place: String,
    pub deadline: DateTime<Utc>,
}

/// The bulletin of a period.
#[derive(Debug, Clone)]
pub struct Bulletin {
    pub period: BulletinPeriod,
    /// The first day.
    pub from: NaiveDate,
    /// The last day (inclusive).
    pub to: NaiveDate,
    /// 受理: problems reported in the period.
    pub reported: u64,
    /// 立案: of those, accepted as cases (`rates::is_filed`).
    pub filed: u64,
    /// The units' figures for the problems they received in the period (the ranking's
    /// cohort, `rates::received_in`), in any order: the bulletin ranks them with
    /// `rates::ranking_order`.
    pub units: Vec<UnitLine>,
    /// Most frequent categories and points of the problems reported in the period, most
    /// first (at most [`TOP_N`] print).
    pub categories: Vec<Count>,
    pub points: Vec<Count>,
    /// Problems overdue now, in the order to print.
    pub overdue: Vec<OverdueLine>,
    /// How many are overdue in all (the list may be cut short).
    pub overdue_total: u64,
}

impl Bulletin {
    /// The sum of the units' figures.
    pub fn totals(&self) -> PeriodTally {
        let mut t = PeriodTally::default();
        for u in &self.units {
            t.merge(&u.tally);
        }
        t
    }

    /// The units in the ranking's order (`rates::ranking_order`): best first.
    pub fn ranked(&self) -> Vec<&UnitLine> {
        let mut v: Vec<&UnitLine> = self.units.iter().collect();
        v.sort_by(|a, b| rates::ranking_order((&a.id, &a.tally.tally), (&b.id, &b.tally.tally)));
        v
    }
}

/// One point of the compliance list.
#[derive(Debug, Clone)]
pub struct PointLine {
    pub point_type: PointType,
    /// 区 / 街道 / 社区 of the point.
    pub district: String,
    pub name: String,
    pub address: String,
    /// The last finished inspection's score (0–100) and when it finished.
    pub last_score: Option<f64>,
    pub last_inspected_at: Option<DateTime<Utc>>,
    /// Problems found at the point and still open (`compliance::is_open`).
    pub open_problems: u64,
}

impl PointLine {
    pub fn compliance(&self) -> Compliance {
        Compliance::of(self.last_score, self.open_problems)
    }
}

/// 点位达标清单.
#[derive(Debug, Clone, Default)]
pub struct ComplianceList {
    pub points: Vec<PointLine>,
}

fn percent(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

fn tally_json(t: &UnitTally, due: u64) -> serde_json::Value {
    json!({
        "received": t.assigned,
        "due": due,
        "rectified": t.rectified,
        "closed": t.closed,
        "closed_on_time": t.closed_on_time,
        "overdue": t.overdue_open,
        "rectification_rate": percent(t.rectification_rate()),
        "closure_rate": percent(t.closure_rate()),
        "on_time_rate": percent(t.on_time_rate()),
        "bar": t.rectification_rate(),
    })
}

/// Lays out `template` over `data` and writes the PDF.
fn render(
    fonts: &Fonts,
    template: &str,
    data: &impl Serialize,
    images: Vec<Vec<u8>>,
) -> Result<Vec<u8>, ReportError> {
    let data = serde_json::to_vec(data)?;
    let world = world::ReportWorld::new(fonts, template, data, images);
    let compiled = typst::compile::<PagedDocument>(&world);
    let pdf = compiled
        .output
        .map_err(|errs| ReportError::Layout(diagnostics(&errs)))
        .and_then(|doc| {
            typst_pdf::pdf(&doc, &typst_pdf::PdfOptions::default())
                .map_err(|errs| ReportError::Pdf(diagnostics(&errs)))
        });
    // Typst memoizes across compilations; a server making reports for months must not keep
    // every one of them.
    typst::comemo::evict(2);
    pdf
}

fn diagnostics(errs: &[typst::diag::SourceDiagnostic]) -> String {
    errs.iter()
        .map(|e| e.message.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Keeps the images Typst can place (JPEG, PNG) and names them `/img/<n>` in order.
struct Images {
    bytes: Vec<Vec<u8>>,
}

impl Images {
    fn add(&mut self, img: &[u8]) -> Option<String> {
        let known = img.starts_with(&[0xFF, 0xD8, 0xFF]) || img.starts_with(b"\x89PNG\r\n\x1a\n");
        if !known {
            return None;
        }
        let path = world::image_path(self.bytes.len());
        self.bytes.push(img.to_vec());
        Some(path)
    }
}

/// 整改通知单: one page per problem (more when its history is long).
pub fn case_sheets(
    fonts: &Fonts,
    meta: &Meta,
    sheets: &[CaseSheet],
) -> Result<Vec<u8>, ReportError> {
    let mut images = Images { bytes: Vec::new() };
    let sheets_json: Vec<serde_json::Value> = sheets
        .iter()
        .map(|s| {
            let mut side = |photos: &[Vec<u8>]| -> Vec<String> {
                photos
                    .iter()
                    .filter_map(|p| images.add(p))
                    .take(PHOTOS_PER_SIDE)
                    .collect()
            };
            let before = side(&s.before);
            let after = side(&s.after);
            json!({
                "code": s.code,
                "found_at": meta.time(s.found_at),
                "place": s.place,
                "area": s.area,
                "category": s.category,
                "item": s.item,
                "description": s.description,
                "unit": s.unit,
                "dispatched_at": meta.time(s.dispatched_at),
                "deadline": meta.time(s.deadline),
                "status": s.status,
                "rectification": s.rectification,
                "verifier": s.verifier,
                "before": before,
                "after": after,
                "timeline": s.timeline.iter().map(|t| json!({
                    "at": meta.time(Some(t.at)),
                    "what": t.what,
                    "who": t.who,
                    "note": t.note,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let data = json!({
        "font": fonts.family(),
        "issuer": meta.issuer,
        "generated_at": meta.time(Some(meta.generated_at)),
        "sheets": sheets_json,
    });
    render(
        fonts,
        include_str!("../templates/case_sheet.typ"),
        &data,
        images.bytes,
    )
}

/// 周通报 / 月通报.
pub fn bulletin(fonts: &Fonts, meta: &Meta, b: &Bulletin) -> Result<Vec<u8>, ReportError> {
    let totals = b.totals();
    let ranked = b.ranked();
    let unit_json = |(i, u): (usize, &&UnitLine)| {
        let mut v = tally_json(&u.tally.tally, u.tally.due);
        v["rank"] = json!(i + 1);
        v["name"] = json!(u.name);
        v
    };
    let units: Vec<serde_json::Value> = ranked.iter().enumerate().map(unit_json).collect();
    let best = units.first().cloned();
    let worst = (units.len() > 1).then(|| units.last().cloned()).flatten();
    let counts = |c: &[Count]| -> Vec<serde_json::Value> {
        c.iter()
            .take(TOP_N)
            .map(|c| json!({"name": c.name, "count": c.count}))
            .collect()
    };
    let now = meta.generated_at;
    let overdue: Vec<serde_json::Value> = b
        .overdue
        .iter()
        .map(|o| {
            json!({
                "code": o.code,
                "unit": o.unit,
                "category": o.category,
                "place": o.place,
                "deadline": meta.time(Some(o.deadline)),
                "days": ((now - o.deadline).num_hours() as f64 / 24.0 * 10.0).round() / 10.0,
            })
        })
        .collect();
    let data = json!({
        "font": fonts.family(),
        "issuer": meta.issuer,
        "title": b.period.title(),
        "from": b.from.format("%Y-%m-%d").to_string(),
        "to": b.to.format("%Y-%m-%d").to_string(),
        "generated_at": meta.time(Some(now)),
        "reported": b.reported,
        "filed": b.filed,
        "totals": tally_json(&totals.tally, totals.due),
        "units": units,
        "best": best,
        "worst": worst,
        "categories": counts(&b.categories),
        "points": counts(&b.points),
        "overdue": overdue,
        "overdue_total": b.overdue_total,
    });
    render(
        fonts,
        include_str!("../templates/bulletin.typ"),
        &data,
        Vec::new(),
    )
}

/// 点位达标清单: grouped by point type, then district.
pub fn point_compliance(
    fonts: &Fonts,
    meta: &Meta,
    list: &ComplianceList,
) -> Result<Vec<u8>, ReportError> {
    let mut points: Vec<&PointLine> = list.points.iter().collect();
    points.sort_by(|a, b| {
        (a.point_type, &a.district, &a.name).cmp(&(b.point_type, &b.district, &b.name))
    });
    let mut groups: Vec<serde_json::Value> = Vec::new();
    let (mut ok, mut not_ok, mut none) = (0u64, 0u64, 0u64);
    for group in points.chunk_by(|a, b| (a.point_type, &a.district) == (b.point_type, &b.district))
    {
        let mut rows = Vec::with_capacity(group.len());
        let mut group_ok = 0u64;
        for p in group {
            let c = p.compliance();
            match c {
                Compliance::Compliant => ok += 1,
                Compliance::NotCompliant => not_ok += 1,
                Compliance::NotInspected => none += 1,
            }
            group_ok += u64::from(c.is_compliant());
            rows.push(json!({
                "name": p.name,
                "address": p.address,
                "score": p.last_score.map(|s| format!("{s:.1}")).unwrap_or_default(),
                "date": p.last_inspected_at.map(|t| meta.day(t)).unwrap_or_default(),
                "open": p.open_problems,
                "verdict": c.label(Lang::Zh),
                "ok": c.is_compliant(),
            }));
        }
        groups.push(json!({
            "point_type": group[0].point_type.label(Lang::Zh),
            "district": group[0].district,
            "count": group.len(),
            "compliant": group_ok,
            "rows": rows,
        }));
    }
    let total = ok + not_ok + none;
    let data = json!({
        "font": fonts.family(),
        "issuer": meta.issuer,
        "generated_at": meta.time(Some(meta.generated_at)),
        "pass_percent": format!("{PASS_PERCENT:.0}"),
        "total": total,
        "compliant": ok,
        "not_compliant": not_ok,
        "not_inspected": none,
        "rate": percent(if total == 0 { 0.0 } else { ok as f64 / total as f64 }),
        "groups": groups,
    });
    render(
        fonts,
        include_str!("../templates/point_compliance.typ"),
        &data,
        Vec::new(),
    )
}

#[cfg(test)]
mod tests;
