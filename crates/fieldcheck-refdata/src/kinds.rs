//! The table layout of every kind: its columns, and the conversion between rows and records.

use std::collections::HashMap;

use fieldcheck_domain::calendar::{WorkCalendar, WorkPeriod};
use fieldcheck_domain::category::{Category, DeadlineRule};
use fieldcheck_domain::checklist::{ChecklistItem, ChecklistTemplate, ItemKind};
use fieldcheck_domain::i18n::Text;
use fieldcheck_domain::reference::{District, Point, Unit, User};
use fieldcheck_protocol::ReferenceBundle;

use crate::Kind;
use crate::error::Location;
use crate::error::RefDataError;
use crate::table::{Cell, Column, OutTable, RawTable, Row, Seen, Table};
use crate::values::{self as v, CalendarRow, ItemKindCode};

pub(crate) const DISTRICTS: &[Column] = &[
    Column::text("id", "编号")
        .req()
        .aka(&["区域编号", "区域代码"]),
    Column::text("name_zh", "名称")
        .req()
        .aka(&["name", "中文名称", "区域名称"]),
    Column::text("name_en", "英文名称"),
    Column::text("level", "层级").req().aka(&["级别"]),
    Column::text("parent_id", "上级编号").aka(&["上级区域", "parent"]),
    Column::text("code_prefix", "编号前缀").aka(&["问题编号前缀"]),
];

pub(crate) const UNITS: &[Column] = &[
    Column::text("id", "编号").req().aka(&["单位编号"]),
    Column::text("name_zh", "名称")
        .req()
        .aka(&["name", "中文名称", "单位名称"]),
    Column::text("name_en", "英文名称"),
    Column::text("kind", "类型")
        .req()
        .aka(&["单位类型", "type"]),
    Column::text("district_id", "所属区域").aka(&["区域编号"]),
    Column::text("contact", "联系方式").aka(&["联系人", "联系电话"]),
    Column::boolean("active", "启用").aka(&["是否启用"]),
];

pub(crate) const POINTS: &[Column] = &[
    Column::text("id", "编号").req().aka(&["点位编号"]),
    Column::text("name", "名称").req().aka(&["点位名称"]),
    Column::text("type", "类型")
        .req()
        .aka(&["点位类型", "point_type"]),
    Column::number("lat", "纬度").req().aka(&["latitude"]),
    Column::number("lon", "经度")
        .req()
        .aka(&["longitude", "lng"]),
    Column::text("line", "线路").aka(&["走向", "中心线"]),
    Column::text("address", "地址"),
    Column::text("district_id", "所属区域")
        .req()
        .aka(&["区域编号"]),
    Column::text("territorial_unit_id", "属地单位"),
    Column::text("sector_unit_ids", "行业单位"),
    Column::boolean("active", "启用").aka(&["是否启用"]),
];

pub(crate) const CATEGORIES: &[Column] = &[
    Column::text("code", "编码")
        .req()
        .aka(&["分类编码", "小类编码"]),
    Column::text("major_code", "大类编码").req(),
    Column::text("major_zh", "大类").req().aka(&["大类名称"]),
    Column::text("major_en", "大类英文"),
    Column::text("minor_zh", "小类").req().aka(&["小类名称"]),
    Column::text("minor_en", "小类英文"),
    Column::number("deadline_amount", "处置时限")
        .req()
        .aka(&["时限"]),
    Column::text("deadline_unit", "时限单位").req(),
    Column::text("filing_condition_zh", "立案条件"),
    Column::text("filing_condition_en", "立案条件英文"),
    Column::text("closing_condition_zh", "结案条件"),
    Column::text("closing_condition_en", "结案条件英文"),
];

pub(crate) const TEMPLATES: &[Column] = &[
    Column::text("template_id", "检查表编号")
        .req()
        .aka(&["模板编号"]),
    Column::number("version", "版本"),
    Column::text("point_type", "点位类型").req(),
    Column::text("template_name_zh", "检查表名称")
        .req()
        .aka(&["模板名称"]),
    Column::text("template_name_en", "检查表英文名称"),
    Column::text("item_id", "条目编号")
        .req()
        .aka(&["检查项编号"]),
    Column::text("text_zh", "检查内容").req().aka(&["检查项"]),
    Column::text("text_en", "检查内容英文"),
    Column::text("kind", "评分方式").req(),
    Column::number("points", "分值").req(),
    Column::number("deduction", "每处扣分"),
    Column::number("cap", "扣分上限"),
    Column::number("threshold", "标准值").aka(&["阈值"]),
    Column::text("comparison", "比较"),
    Column::text("unit", "计量单位"),
    Column::boolean("photo_required_on_fail", "不合格须拍照").aka(&["不合格需拍照"]),
    Column::text("category", "问题分类").aka(&["分类编码"]),
];

pub(crate) const USERS: &[Column] = &[
    Column::text("id", "编号").req().aka(&["工号", "账号"]),
    Column::text("name", "姓名").req().aka(&["名称"]),
    Column::text("role", "角色").req(),
    Column::text("unit_id", "所属单位").aka(&["单位编号"]),
    Column::text("district_ids", "负责区域").aka(&["区域"]),
    Column::text("phone", "电话").aka(&["手机", "手机号", "联系电话"]),
];

pub(crate) const CALENDAR: &[Column] = &[
    Column::text("type", "类型").req(),
    Column::text("value", "值").req().aka(&["date", "日期"]),
];

pub(crate) fn columns(kind: Kind) -> &'static [Column] {
    match kind {
        Kind::Districts => DISTRICTS,
        Kind::Units => UNITS,
        Kind::Points => POINTS,
        Kind::Categories => CATEGORIES,
        Kind::Templates => TEMPLATES,
        Kind::Users => USERS,
        Kind::Calendar => CALENDAR,
    }
}

/// What reading collects besides the records: which kinds the file holds, where each record
/// came from, and (when `collect` is set) the row errors, whose rows are then left out
/// instead of ending the read.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub collect: bool,
    pub errors: Vec<RefDataError>,
    pub sources: crate::Sources,
}

impl Sink {
    /// `Err` ends the read (strict); collecting notes the error and goes on.
    pub fn fail(&mut self, e: RefDataError) -> Result<(), RefDataError> {
        if self.collect {
            self.errors.push(e);
            Ok(())
        } else {
            Err(e)
        }
    }
}

/// Reads one kind's table into `bundle` (replacing that kind).
pub(crate) fn read_table(
    kind: Kind,
    raw: &RawTable,
    bundle: &mut ReferenceBundle,
    sink: &mut Sink,
) -> Result<(), RefDataError> {
    let t = match Table::new(raw, columns(kind)) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(()),
        Err(e) => return sink.fail(e),
    };
    sink.sources.kinds.insert(kind);
    match kind {
        Kind::Districts => bundle.districts = each(&t, kind, sink, district)?,
        Kind::Units => bundle.units = each(&t, kind, sink, unit)?,
        Kind::Points => bundle.points = each(&t, kind, sink, point)?,
        Kind::Categories => bundle.categories = each(&t, kind, sink, category)?,
        Kind::Users => bundle.users = each(&t, kind, sink, user)?,
        Kind::Templates => match templates(&t) {
            Ok(v) => {
                sink.sources
                    .rows
                    .insert(kind, v.iter().map(|_| t.at.clone()).collect());
                bundle.templates = v;
            }
            Err(e) => sink.fail(e)?,
        },
        Kind::Calendar => match calendar(&t) {
            Ok(v) => bundle.calendar = v,
            Err(e) => sink.fail(e)?,
        },
    }
    Ok(())
}

/// One record per row, ids unique within the table (the first column of every such kind).
fn each<T>(
    t: &Table<'_>,
    kind: Kind,
    sink: &mut Sink,
    f: fn(&Row<'_>) -> Result<(String, T), RefDataError>,
) -> Result<Vec<T>, RefDataError> {
    let key = columns(kind)[0].name;
    let mut seen = Seen::new();
    let mut out = Vec::new();
    let mut at: Vec<Location> = Vec::new();
    for r in t.rows() {
        let read = f(&r).and_then(|(id, v)| seen.check(&r, key, &id).map(|()| v));
        match read {
            Ok(v) => {
                out.push(v);
                at.push(r.at());
            }
            Err(e) => sink.fail(e)?,
        }
    }
    sink.sources.rows.insert(kind, at);
    Ok(out)
}

pub(crate) fn write_table(kind: Kind, bundle: &ReferenceBundle) -> OutTable {
    let rows = match kind {
        Kind::Districts => bundle.districts.iter().map(district_row).collect(),
        Kind::Units => bundle.units.iter().map(unit_row).collect(),
        Kind::Points => bundle.points.iter().map(point_row).collect(),
        Kind::Categories => bundle.categories.iter().map(category_row).collect(),
        Kind::Templates => bundle.templates.iter().flat_map(template_rows).collect(),
        Kind::Users => bundle.users.iter().map(user_row).collect(),
        Kind::Calendar => bundle
            .calendar
            .as_ref()
            .map(calendar_rows)
            .unwrap_or_default(),
    };
    OutTable {
        columns: columns(kind),
        rows,
    }
}

fn text(row: &Row<'_>, zh: &str, en: &str) -> Result<Text, RefDataError> {
    Ok(Text::new(row.required(zh)?, row.get(en)))
}

/// Like [`text`] but for optional bilingual fields: both halves may be blank.
fn opt_text(row: &Row<'_>, zh: &str, en: &str) -> Text {
    Text::new(row.get(zh), row.get(en))
}

fn district(r: &Row<'_>) -> Result<(String, District), RefDataError> {
    let id = r.required("id")?;
    Ok((
        id.to_string(),
        District {
            id: id.to_string(),
            name: text(r, "name_zh", "name_en")?,
            level: r.parse_req("level", v::district_level)?,
            parent_id: r.opt("parent_id"),
            code_prefix: r.opt("code_prefix"),
        },
    ))
}

fn district_row(d: &District) -> Vec<Cell> {
    vec![
        Cell::text(&d.id),
        Cell::text(&d.name.zh),
        Cell::text(&d.name.en),
        Cell::text(v::district_level_str(d.level)),
        Cell::opt(&d.parent_id),
        Cell::opt(&d.code_prefix),
    ]
}

fn unit(r: &Row<'_>) -> Result<(String, Unit), RefDataError> {
    let id = r.required("id")?;
    Ok((
        id.to_string(),
        Unit {
            id: id.to_string(),
            name: text(r, "name_zh", "name_en")?,
            kind: r.parse_req("kind", v::unit_kind)?,
            district_id: r.opt("district_id"),
            contact: r.opt("contact"),
            active: r.parse_opt("active", v::boolean)?.unwrap_or(true),
        },
    ))
}

fn unit_row(u: &Unit) -> Vec<Cell> {
    vec![
        Cell::text(&u.id),
        Cell::text(&u.name.zh),
        Cell::text(&u.name.en),
        Cell::text(u.kind.as_str()),
        Cell::opt(&u.district_id),
        Cell::opt(&u.contact),
        Cell::Bool(u.active),
    ]
}

fn point(r: &Row<'_>) -> Result<(String, Point), RefDataError> {
    let id = r.required("id")?;
    Ok((id.to_string(), {
        let line = r.parse_opt("line", v::line)?.unwrap_or_default();
        let lat = r.parse_opt("lat", v::number)?;
        let lon = r.parse_opt("lon", v::number)?;
        let location = match (lat, lon) {
            (Some(lat), Some(lon)) => v::lat_lon(lat, lon)
                .map_err(|m| r.bad(if lat.abs() > 90.0 { "lat" } else { "lon" }, m))?,
            // A street drawn as a line needs no separate point: its middle vertex stands in.
            (None, None) if !line.is_empty() => line[line.len() / 2],
            (None, _) => return Err(r.bad("lat", "a latitude is required (or a line)")),
            (_, None) => return Err(r.bad("lon", "a longitude is required (or a line)")),
        };
        Point {
            id: id.to_string(),
            name: r.required("name")?.to_string(),
            point_type: r.parse_req("type", v::point_type)?,
            location,
            line,
            address: r.get("address").to_string(),
            district_id: r.required("district_id")?.to_string(),
            territorial_unit_id: r.opt("territorial_unit_id"),
            sector_unit_ids: v::list(r.get("sector_unit_ids")),
            active: r.parse_opt("active", v::boolean)?.unwrap_or(true),
        }
    }))
}

fn point_row(p: &Point) -> Vec<Cell> {
    vec![
        Cell::text(&p.id),
        Cell::text(&p.name),
        Cell::text(p.point_type.as_str()),
        Cell::Number(p.location.lat),
        Cell::Number(p.location.lon),
        Cell::text(v::line_str(&p.line)),
        Cell::text(&p.address),
        Cell::text(&p.district_id),
        Cell::opt(&p.territorial_unit_id),
        Cell::text(v::join_list(&p.sector_unit_ids)),
        Cell::Bool(p.active),
    ]
}

fn category(r: &Row<'_>) -> Result<(String, Category), RefDataError> {
    let code = r.required("code")?;
    Ok((code.to_string(), {
        Category {
            code: code.to_string(),
            major_code: r.required("major_code")?.to_string(),
            major: text(r, "major_zh", "major_en")?,
            minor: text(r, "minor_zh", "minor_en")?,
            deadline: DeadlineRule {
                amount: r.parse_req("deadline_amount", v::whole)?,
                unit: r.parse_req("deadline_unit", v::deadline_unit)?,
            },
            filing_condition: opt_text(r, "filing_condition_zh", "filing_condition_en"),
            closing_condition: opt_text(r, "closing_condition_zh", "closing_condition_en"),
        }
    }))
}

fn category_row(c: &Category) -> Vec<Cell> {
    vec![
        Cell::text(&c.code),
        Cell::text(&c.major_code),
        Cell::text(&c.major.zh),
        Cell::text(&c.major.en),
        Cell::text(&c.minor.zh),
        Cell::text(&c.minor.en),
        Cell::Number(f64::from(c.deadline.amount)),
        Cell::text(v::deadline_unit_str(c.deadline.unit)),
        Cell::text(&c.filing_condition.zh),
        Cell::text(&c.filing_condition.en),
        Cell::text(&c.closing_condition.zh),
        Cell::text(&c.closing_condition.en),
    ]
}

const ITEM_COLUMNS: [&str; 11] = [
    "text_zh",
    "text_en",
    "kind",
    "points",
    "deduction",
    "cap",
    "threshold",
    "comparison",
    "unit",
    "photo_required_on_fail",
    "category",
];

/// One row per item; rows with the same template id and version form one template, in the
/// order the rows come. The template's own cells may be left blank after its first row.
/// A row with a blank item id declares a template without adding an item to it.
fn templates(t: &Table<'_>) -> Result<Vec<ChecklistTemplate>, RefDataError> {
    let mut out: Vec<(ChecklistTemplate, u64)> = Vec::new();
    let mut by_key: HashMap<(String, u32), usize> = HashMap::new();
    let mut last_version: HashMap<String, u32> = HashMap::new();
    let mut items: HashMap<(String, u32, String), u64> = HashMap::new();
    for r in t.rows() {
        let tid = r.required("template_id")?.to_string();
        let version = match r.parse_opt("version", v::whole)? {
            Some(n) => n,
            None => last_version.get(&tid).copied().unwrap_or(1),
        };
        last_version.insert(tid.clone(), version);
        let key = (tid.clone(), version);
        let idx = match by_key.get(&key) {
            Some(&i) => {
                let (tpl, first) = &out[i];
                let same = |col: &str, have: &str| -> Result<(), RefDataError> {
                    let cell = r.get(col);
                    if !cell.is_empty() && cell != have {
                        return Err(r.bad(
                            col,
                            format!(
                                "\"{cell}\" differs from \"{have}\" given for template {tid} v{version} on row {first}"
                            ),
                        ));
                    }
                    Ok(())
                };
                if let Some(pt) = r.parse_opt("point_type", v::point_type)?
                    && pt != tpl.point_type
                {
                    return Err(r.bad(
                        "point_type",
                        format!(
                            "\"{}\" differs from \"{}\" given for template {tid} v{version} on row {first}",
                            r.get("point_type"),
                            tpl.point_type.as_str()
                        ),
                    ));
                }
                same("template_name_zh", &tpl.name.zh)?;
                same("template_name_en", &tpl.name.en)?;
                i
            }
            None => {
                out.push((
                    ChecklistTemplate {
                        id: tid.clone(),
                        version,
                        point_type: r.parse_req("point_type", v::point_type)?,
                        name: text(&r, "template_name_zh", "template_name_en")?,
                        items: Vec::new(),
                    },
                    r.row,
                ));
                by_key.insert(key, out.len() - 1);
                out.len() - 1
            }
        };
        let item_id = r.get("item_id");
        if item_id.is_empty() {
            if let Some(col) = ITEM_COLUMNS.iter().find(|c| !r.get(c).is_empty()) {
                return Err(r.bad(
                    "item_id",
                    format!("the row has a value in \"{col}\" but no item id"),
                ));
            }
            continue;
        }
        let item_key = (tid.clone(), version, item_id.to_string());
        if let Some(first) = items.get(&item_key) {
            return Err(r.bad(
                "item_id",
                format!(
                    "item \"{item_id}\" of template {tid} v{version} appears again (first on row {first})"
                ),
            ));
        }
        items.insert(item_key, r.row);
        let item = item(&r, item_id)?;
        if let Some((tpl, _)) = out.get_mut(idx) {
            tpl.items.push(item);
        }
    }
    Ok(out.into_iter().map(|(t, _)| t).collect())
}

fn item(r: &Row<'_>, id: &str) -> Result<ChecklistItem, RefDataError> {
    let code = r.parse_req("kind", v::item_kind)?;
    let (needed, unused): (&[&str], &[&str]) = match code {
        ItemKindCode::PassFail => (
            &[],
            &["deduction", "cap", "threshold", "comparison", "unit"],
        ),
        ItemKindCode::Count => (&["deduction", "cap"], &["threshold", "comparison", "unit"]),
        ItemKindCode::Measured => (&["threshold", "comparison"], &["deduction", "cap"]),
    };
    // A stale value left from another kind of item usually means the kind is wrong.
    if let Some(col) = unused.iter().find(|c| !r.get(c).is_empty()) {
        return Err(r.bad(
            col,
            format!(
                "a {} item takes no \"{col}\" (it is for {})",
                v::item_kind_str(code),
                if matches!(*col, "deduction" | "cap") {
                    "count items"
                } else {
                    "measured items"
                }
            ),
        ));
    }
    for col in needed {
        if r.get(col).is_empty() {
            return Err(r.bad(
                col,
                format!("a {} item needs a value here", v::item_kind_str(code)),
            ));
        }
    }
    let kind = match code {
        ItemKindCode::PassFail => ItemKind::PassFail,
        ItemKindCode::Count => ItemKind::Count {
            deduction: r.parse_req("deduction", v::number)?,
            cap: r.parse_req("cap", v::number)?,
        },
        ItemKindCode::Measured => ItemKind::Measured {
            threshold: r.parse_req("threshold", v::number)?,
            comparison: r.parse_req("comparison", v::comparison)?,
            unit: r.get("unit").to_string(),
        },
    };
    Ok(ChecklistItem {
        id: id.to_string(),
        text: text(r, "text_zh", "text_en")?,
        kind,
        points: r.parse_req("points", v::number)?,
        photo_required_on_fail: r
            .parse_opt("photo_required_on_fail", v::boolean)?
            .unwrap_or(false),
        category: r.opt("category"),
    })
}

fn template_rows(t: &ChecklistTemplate) -> Vec<Vec<Cell>> {
    let head = || {
        vec![
            Cell::text(&t.id),
            Cell::Number(f64::from(t.version)),
            Cell::text(t.point_type.as_str()),
            Cell::text(&t.name.zh),
            Cell::text(&t.name.en),
        ]
    };
    if t.items.is_empty() {
        let mut row = head();
        row.resize(TEMPLATES.len(), Cell::Empty);
        return vec![row];
    }
    t.items
        .iter()
        .map(|i| {
            let mut row = head();
            let (code, deduction, cap, threshold, comparison, unit) = match &i.kind {
                ItemKind::PassFail => (
                    ItemKindCode::PassFail,
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                ),
                ItemKind::Count { deduction, cap } => (
                    ItemKindCode::Count,
                    Cell::Number(*deduction),
                    Cell::Number(*cap),
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                ),
                ItemKind::Measured {
                    threshold,
                    comparison,
                    unit,
                } => (
                    ItemKindCode::Measured,
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Number(*threshold),
                    Cell::text(v::comparison_str(*comparison)),
                    Cell::text(unit),
                ),
            };
            row.extend([
                Cell::text(&i.id),
                Cell::text(&i.text.zh),
                Cell::text(&i.text.en),
                Cell::text(v::item_kind_str(code)),
                Cell::Number(i.points),
                deduction,
                cap,
                threshold,
                comparison,
                unit,
                Cell::Bool(i.photo_required_on_fail),
                Cell::opt(&i.category),
            ]);
            row
        })
        .collect()
}

fn user(r: &Row<'_>) -> Result<(String, User), RefDataError> {
    let id = r.required("id")?;
    Ok((
        id.to_string(),
        User {
            id: id.to_string(),
            name: r.required("name")?.to_string(),
            role: r.parse_req("role", v::role)?,
            unit_id: r.opt("unit_id"),
            district_ids: v::list(r.get("district_ids")),
            phone: r.opt("phone"),
        },
    ))
}

fn user_row(u: &User) -> Vec<Cell> {
    vec![
        Cell::text(&u.id),
        Cell::text(&u.name),
        Cell::text(u.role.as_str()),
        Cell::opt(&u.unit_id),
        Cell::text(v::join_list(&u.district_ids)),
        Cell::opt(&u.phone),
    ]
}

/// One row per setting or date. Settings left out keep the defaults of a Chinese government
/// office (08:30–12:00, 14:00–17:30, Monday to Friday, UTC+8), so a list of holiday dates
/// alone is a complete calendar.
fn calendar(t: &Table<'_>) -> Result<Option<WorkCalendar>, RefDataError> {
    if t.is_empty() {
        return Ok(None);
    }
    let mut cal = WorkCalendar::default();
    let mut periods: Option<Vec<WorkPeriod>> = None;
    let mut weekdays_row: Option<u64> = None;
    let mut offset_row: Option<u64> = None;
    let mut stamp_row: Option<u64> = None;
    let mut dates: HashMap<chrono::NaiveDate, u64> = HashMap::new();
    for r in t.rows() {
        let kind = r.parse_req("type", v::calendar_row)?;
        let once = |seen: &mut Option<u64>| -> Result<(), RefDataError> {
            if let Some(first) = seen {
                return Err(r.bad(
                    "type",
                    format!(
                        "\"{}\" may appear once (first on row {first})",
                        v::calendar_row_str(kind)
                    ),
                ));
            }
            *seen = Some(r.row);
            Ok(())
        };
        match kind {
            CalendarRow::Holiday | CalendarRow::Workday => {
                let d = r.parse_req("value", v::date)?;
                if let Some(first) = dates.insert(d, r.row) {
                    return Err(r.bad("value", format!("{d} appears again (first on row {first})")));
                }
                if kind == CalendarRow::Holiday {
                    cal.holidays.push(d);
                } else {
                    cal.extra_working_days.push(d);
                }
            }
            CalendarRow::Period => {
                let (start, end) = r.parse_req("value", v::period)?;
                periods
                    .get_or_insert_default()
                    .push(WorkPeriod { start, end });
            }
            CalendarRow::Weekdays => {
                once(&mut weekdays_row)?;
                cal.working_weekdays = r.parse_req("value", v::weekdays)?;
            }
            CalendarRow::UtcOffset => {
                once(&mut offset_row)?;
                cal.utc_offset_minutes = r.parse_req("value", v::integer)?;
            }
            CalendarRow::PhotoStamp => {
                once(&mut stamp_row)?;
                cal.photo_stamp = r.parse_req("value", v::boolean)?;
            }
        }
    }
    if let Some(p) = periods {
        cal.periods = p;
    }
    Ok(Some(cal))
}

fn calendar_rows(c: &WorkCalendar) -> Vec<Vec<Cell>> {
    let row =
        |k: CalendarRow, value: String| vec![Cell::text(v::calendar_row_str(k)), Cell::text(value)];
    let mut rows = vec![
        row(CalendarRow::UtcOffset, c.utc_offset_minutes.to_string()),
        // Written as 1/0, which `v::boolean` reads back, like the other yes/no columns.
        row(
            CalendarRow::PhotoStamp,
            if c.photo_stamp { "1" } else { "0" }.to_string(),
        ),
        row(
            CalendarRow::Weekdays,
            if c.working_weekdays.is_empty() {
                "none".to_string()
            } else {
                c.working_weekdays
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            },
        ),
    ];
    rows.extend(c.periods.iter().map(|p| {
        row(
            CalendarRow::Period,
            format!("{}-{}", v::time_str(p.start), v::time_str(p.end)),
        )
    }));
    rows.extend(
        c.holidays
            .iter()
            .map(|d| row(CalendarRow::Holiday, d.format("%Y-%m-%d").to_string())),
    );
    rows.extend(
        c.extra_working_days
            .iter()
            .map(|d| row(CalendarRow::Workday, d.format("%Y-%m-%d").to_string())),
    );
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_columns_of_a_kind_share_a_title() {
        for kind in Kind::ALL {
            let mut titles = std::collections::HashSet::new();
            for c in columns(kind) {
                for t in [c.name, c.zh].iter().chain(c.aliases) {
                    let norm = t.to_ascii_lowercase();
                    assert!(titles.insert(norm), "{kind:?}: title {t} used twice");
                }
            }
        }
    }
}
