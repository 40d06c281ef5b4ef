//! What an import would do to the city's reference data, before anything changes: every
//! row that cannot be taken (with its sheet, row and column, in Chinese and English) and
//! what would be added, changed and deactivated per kind. The server's preview and apply,
//! its `import` subcommand and their tests all call [`plan_import`]; applying stores
//! [`ImportPlan::bundle`] as one new reference version, or nothing when there are errors.
//!
//! How an imported kind merges into the current data (a kind the file does not hold is
//! left as it is):
//! - districts, categories: added or updated by id; left-out ones stay (records name them;
//!   renaming a district is changing its name under the same id, so history keeps it);
//! - units, points: added or updated; left-out ones are **deactivated** (`active = false`),
//!   never deleted, so old records and a device's pending work against them still resolve;
//! - checklist templates: a new id or version is added; a stored version is immutable (a
//!   different one under the same id and version is an error); left-out ones stay;
//! - users: added or updated; left-out ones are deactivated (left out of the bundle, which
//!   the server marks removed: their tokens stop), except admins, whom an import neither
//!   adds, changes, demotes nor removes (the office adds admins one by one) — unless the
//!   data has no admin yet: a new city's first import brings its admins;
//! - the calendar: replaced.

use std::collections::{BTreeSet, HashMap};

use fieldcheck_domain::reference::{DistrictLevel, HeldReference, validate_reference};
use fieldcheck_domain::role::Role;
use fieldcheck_protocol::ReferenceBundle;

use crate::{Kind, Location, ReadReport, RefDataError};

// The wire types of a preview: the console shows them as they are.
pub use fieldcheck_protocol::console::setup::{KindChanges, RowError};

/// The preview of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportPlan {
    pub errors: Vec<RowError>,
    /// One entry per kind the file holds.
    pub changes: Vec<KindChanges>,
    /// The reference data after the import (meaningful only without errors).
    pub bundle: ReferenceBundle,
}

impl ImportPlan {
    /// Whether applying would change anything.
    pub fn changes_anything(&self) -> bool {
        self.changes.iter().any(|c| !c.is_empty())
    }
}

/// The Chinese words for a reading error's code (its detail, in English, follows).
fn reading_zh(code: &str) -> &'static str {
    match code {
        "refdata_unsupported_format" => "文件格式不支持",
        "refdata_unknown_kind" => "无法判断工作表或文件的数据类型",
        "refdata_missing_column" => "缺少必填列",
        "refdata_unknown_column" => "有无法识别的列",
        "refdata_duplicate_column" => "列重复",
        "refdata_bad_value" => "取值不正确",
        "refdata_parse" => "文件无法读取",
        "refdata_empty" => "文件为空",
        _ => "文件无法读取",
    }
}

/// A reading error (a whole-file one, or a row the reader left out) as a row error.
pub fn reading_error(e: &RefDataError) -> RowError {
    let at = e.location();
    // The message without the location prefix: the location has its own fields.
    let full = e.to_string();
    let detail = full
        .strip_prefix(&format!("{at}: "))
        .unwrap_or(&full)
        .to_owned();
    RowError {
        sheet: at.sheet.clone(),
        row: at.row,
        column: at.column.clone(),
        code: e.code().to_owned(),
        message_zh: format!("{}：{detail}", reading_zh(e.code())),
        message_en: detail,
    }
}

struct Errors<'a> {
    report: &'a ReadReport,
    out: Vec<RowError>,
}

impl Errors<'_> {
    fn push(&mut self, kind: Kind, index: usize, column: &str, code: &str, zh: String, en: String) {
        let at = self
            .report
            .sources
            .at(kind, index)
            .cloned()
            .unwrap_or_else(|| Location {
                sheet: Some(kind.label_zh().to_owned()),
                ..Location::default()
            });
        let column = kind
            .columns()
            .iter()
            .find(|c| c.name == column)
            .map_or(column.to_owned(), |c| c.zh.to_owned());
        self.out.push(RowError {
            sheet: at.sheet.or_else(|| Some(kind.label_zh().to_owned())),
            row: at.row,
            column: Some(column),
            code: code.to_owned(),
            message_zh: zh,
            message_en: en,
        });
    }
}

/// Text a spreadsheet would run as a formula when someone opens an export of it (`=`, `@`,
/// or `+`/`-` before something that is not a number): refused, not silently altered.
pub fn looks_like_formula(s: &str) -> bool {
    let s = s.trim_start();
    let mut chars = s.chars();
    match chars.next() {
        Some('=' | '@') => true,
        Some('+' | '-') => !chars
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '.' || c == ' '),
        Some('\t' | '\r') => true,
        _ => false,
    }
}

/// Merges `report` (an imported file, possibly holding some kinds only) into `current`
/// and checks the result; see the module's documentation for the rules.
pub fn plan_import(current: &ReferenceBundle, report: &ReadReport) -> ImportPlan {
    let mut errors = Errors {
        report,
        out: report.errors.iter().map(reading_error).collect(),
    };
    let inc = &report.bundle;
    let has = |k: Kind| report.sources.kinds.contains(&k);
    let mut next = current.clone();
    let mut changes = Vec::new();

    // Formula text in any free-text cell of the kinds with rows.
    let formula = |errors: &mut Errors<'_>, kind: Kind, i: usize, col: &str, v: &str| {
        if looks_like_formula(v) {
            errors.push(
                kind,
                i,
                col,
                "formula_text",
                format!("“{v}” 以 = + - @ 开头，会被表格软件当作公式执行，请删除开头的符号"),
                format!("\"{v}\" starts like a spreadsheet formula (= + - @); remove that sign"),
            );
        }
    };

    if has(Kind::Districts) {
        let mut c = KindChanges::default();
        merge(
            &mut next.districts,
            &inc.districts,
            |d| &d.id,
            &mut c,
            None::<fn(&mut _)>,
        );
        changes.push(named(c, Kind::Districts));
    }
    if has(Kind::Units) {
        let mut c = KindChanges::default();
        merge(
            &mut next.units,
            &inc.units,
            |u| &u.id,
            &mut c,
            Some(unit_off as fn(&mut fieldcheck_domain::reference::Unit)),
        );
        changes.push(named(c, Kind::Units));
    }
    if has(Kind::Points) {
        let mut c = KindChanges::default();
        merge(
            &mut next.points,
            &inc.points,
            |p| &p.id,
            &mut c,
            Some(point_off as fn(&mut fieldcheck_domain::reference::Point)),
        );
        changes.push(named(c, Kind::Points));
    }
    if has(Kind::Categories) {
        let mut c = KindChanges::default();
        merge(
            &mut next.categories,
            &inc.categories,
            |x| &x.code,
            &mut c,
            None::<fn(&mut _)>,
        );
        changes.push(named(c, Kind::Categories));
    }
    if has(Kind::Templates) {
        let mut c = KindChanges::default();
        for (i, t) in inc.templates.iter().enumerate() {
            let key = format!("{} v{}", t.id, t.version);
            match next
                .templates
                .iter()
                .find(|x| x.id == t.id && x.version == t.version)
            {
                Some(x) if x == t => c.unchanged += 1,
                Some(_) => errors.push(
                    Kind::Templates,
                    i,
                    "version",
                    "template_version_changed",
                    format!("检查表 {key} 已存在且内容不同；已有版本不可修改，请使用新的版本号"),
                    format!("template {key} is stored with other content; versions are immutable, give it a new version"),
                ),
                None => {
                    c.added.push(key);
                    next.templates.push(t.clone());
                }
            }
        }
        changes.push(named(c, Kind::Templates));
    }
    if has(Kind::Users) {
        let mut c = KindChanges::default();
        let mut listed: BTreeSet<&str> = BTreeSet::new();
        let mut users = next.users.clone();
        // A new city's first import brings its admins; after that they are managed one by one.
        let bootstrap = !users.iter().any(|u| u.role == Role::Admin);
        for (i, u) in inc.users.iter().enumerate() {
            listed.insert(u.id.as_str());
            let was = users.iter().position(|x| x.id == u.id);
            let was_admin = was.is_some_and(|w| users[w].role == Role::Admin);
            if (u.role == Role::Admin || was_admin) && !bootstrap {
                let same = was.is_some_and(|w| users[w] == *u);
                if !same {
                    errors.push(
                        Kind::Users,
                        i,
                        "role",
                        "admin_by_import",
                        format!("用户 {} ：管理员不能通过导入添加、修改或降级，请在控制台或命令行逐个操作", u.id),
                        format!("user {}: an import may not add, change or demote an admin; do it one by one in the console or the `user` command", u.id),
                    );
                    continue;
                }
            }
            match was {
                Some(w) if users[w] == *u => c.unchanged += 1,
                Some(w) => {
                    c.changed.push(u.id.clone());
                    users[w] = u.clone();
                }
                None => {
                    c.added.push(u.id.clone());
                    users.push(u.clone());
                }
            }
        }
        users.retain(|u| {
            let keep = listed.contains(u.id.as_str()) || u.role == Role::Admin;
            if !keep {
                c.deactivated.push(u.id.clone());
            }
            keep
        });
        next.users = users;
        changes.push(named(c, Kind::Users));
    }
    if has(Kind::Calendar) {
        let mut c = KindChanges::default();
        if next.calendar == inc.calendar {
            c.unchanged = 1;
        } else {
            c.changed.push("calendar".into());
            next.calendar = inc.calendar.clone();
        }
        changes.push(named(c, Kind::Calendar));
    }

    // References of the rows the file brings, against the data after the import.
    let districts: HashMap<&str, DistrictLevel> = next
        .districts
        .iter()
        .map(|d| (d.id.as_str(), d.level))
        .collect();
    let units: BTreeSet<&str> = next.units.iter().map(|u| u.id.as_str()).collect();
    for (i, d) in inc
        .districts
        .iter()
        .enumerate()
        .filter(|_| has(Kind::Districts))
    {
        formula(&mut errors, Kind::Districts, i, "name_zh", &d.name.zh);
        match (d.level.parent(), &d.parent_id) {
            (None, None) => {}
            (None, Some(_)) => errors.push(
                Kind::Districts, i, "parent_id", "bad_parent",
                format!("区 {} 是最高层级，不能有上级", d.id),
                format!("district {} is top-level and cannot have a parent", d.id),
            ),
            (Some(_), None) => errors.push(
                Kind::Districts, i, "parent_id", "bad_parent",
                format!("{} 需要填写上级区域", d.id),
                format!("{} needs a parent", d.id),
            ),
            (Some(level), Some(p)) => match districts.get(p.as_str()) {
                Some(l) if *l == level => {}
                Some(_) => errors.push(
                    Kind::Districts, i, "parent_id", "bad_parent",
                    format!("{} 的上级 {p} 层级不对（街道的上级是区，社区的上级是街道）", d.id),
                    format!("{}'s parent {p} is of the wrong level (a street's parent is a district, a community's a street)", d.id),
                ),
                None => errors.push(
                    Kind::Districts, i, "parent_id", "unknown_district",
                    format!("上级区域 {p} 不存在"),
                    format!("parent district {p} does not exist"),
                ),
            },
        }
    }
    for (i, u) in inc.units.iter().enumerate().filter(|_| has(Kind::Units)) {
        formula(&mut errors, Kind::Units, i, "name_zh", &u.name.zh);
        if let Some(c) = &u.contact {
            formula(&mut errors, Kind::Units, i, "contact", c);
        }
        if let Some(d) = &u.district_id
            && !districts.contains_key(d.as_str())
        {
            errors.push(
                Kind::Units,
                i,
                "district_id",
                "unknown_district",
                format!("单位 {} 的所属区域 {d} 不存在", u.id),
                format!("unit {}: district {d} does not exist", u.id),
            );
        }
    }
    for (i, p) in inc.points.iter().enumerate().filter(|_| has(Kind::Points)) {
        formula(&mut errors, Kind::Points, i, "name", &p.name);
        formula(&mut errors, Kind::Points, i, "address", &p.address);
        if !districts.contains_key(p.district_id.as_str()) {
            errors.push(
                Kind::Points,
                i,
                "district_id",
                "unknown_district",
                format!("点位 {} 的所属区域 {} 不存在", p.id, p.district_id),
                format!("point {}: district {} does not exist", p.id, p.district_id),
            );
        }
        let loc = p.location;
        if !loc.is_valid() || (loc.lat == 0.0 && loc.lon == 0.0) {
            errors.push(
                Kind::Points,
                i,
                "lat",
                "bad_coordinates",
                format!(
                    "点位 {} 的坐标 ({}, {}) 无效（应为 WGS-84 纬度、经度）",
                    p.id, loc.lat, loc.lon
                ),
                format!(
                    "point {}: coordinates ({}, {}) are not a WGS-84 latitude and longitude",
                    p.id, loc.lat, loc.lon
                ),
            );
        }
        if let Some(t) = &p.territorial_unit_id
            && !units.contains(t.as_str())
        {
            errors.push(
                Kind::Points,
                i,
                "territorial_unit_id",
                "unknown_unit",
                format!("点位 {} 的属地单位 {t} 不存在", p.id),
                format!("point {}: territorial unit {t} does not exist", p.id),
            );
        }
        for s in p
            .sector_unit_ids
            .iter()
            .filter(|s| !units.contains(s.as_str()))
        {
            errors.push(
                Kind::Points,
                i,
                "sector_unit_ids",
                "unknown_unit",
                format!("点位 {} 的行业单位 {s} 不存在", p.id),
                format!("point {}: sector unit {s} does not exist", p.id),
            );
        }
    }
    for (i, u) in inc.users.iter().enumerate().filter(|_| has(Kind::Users)) {
        formula(&mut errors, Kind::Users, i, "name", &u.name);
        if let Some(ph) = &u.phone {
            formula(&mut errors, Kind::Users, i, "phone", ph);
        }
        match (&u.role, &u.unit_id) {
            (Role::UnitHandler, None) => errors.push(
                Kind::Users,
                i,
                "unit_id",
                "unit_required",
                format!("用户 {} 是责任单位人员，必须填写所属单位", u.id),
                format!("user {} is a unit handler and needs a unit", u.id),
            ),
            (_, Some(unit)) if !units.contains(unit.as_str()) => errors.push(
                Kind::Users,
                i,
                "unit_id",
                "unknown_unit",
                format!("用户 {} 的所属单位 {unit} 不存在", u.id),
                format!("user {}: unit {unit} does not exist", u.id),
            ),
            _ => {}
        }
        for d in u
            .district_ids
            .iter()
            .filter(|d| !districts.contains_key(d.as_str()))
        {
            errors.push(
                Kind::Users,
                i,
                "district_ids",
                "unknown_district",
                format!("用户 {} 的负责区域 {d} 不存在", u.id),
                format!("user {}: district {d} does not exist", u.id),
            );
        }
    }
    // What the rows above cannot say (a record the file keeps from before that now refers to
    // nothing, a template's own rules): the same whole-bundle check the server's store runs.
    if errors.out.is_empty()
        && let Err(e) = validate_reference(next.parts(), &HeldReference::default())
    {
        errors.out.push(RowError {
            sheet: None,
            row: None,
            column: None,
            code: "invalid_reference".into(),
            message_zh: format!("导入后的基础数据不一致：{e}"),
            message_en: format!("the reference data after the import would not hold together: {e}"),
        });
    }
    ImportPlan {
        errors: errors.out,
        changes,
        bundle: next,
    }
}

fn unit_off(u: &mut fieldcheck_domain::reference::Unit) {
    u.active = false;
}

fn point_off(p: &mut fieldcheck_domain::reference::Point) {
    p.active = false;
}

fn named(mut c: KindChanges, kind: Kind) -> KindChanges {
    c.kind = kind.as_str().to_owned();
    c
}

/// Adds or updates `incoming` records in `held` by key, in place (new ones at the end, in
/// the file's order); with `deactivate`, held records the file leaves out are deactivated.
fn merge<T: Clone + PartialEq>(
    held: &mut Vec<T>,
    incoming: &[T],
    key: impl Fn(&T) -> &String,
    c: &mut KindChanges,
    deactivate: Option<fn(&mut T)>,
) {
    let mut at: HashMap<String, usize> = held
        .iter()
        .enumerate()
        .map(|(i, x)| (key(x).clone(), i))
        .collect();
    let listed: BTreeSet<&String> = incoming.iter().map(&key).collect();
    if let Some(off) = deactivate {
        for x in held.iter_mut().filter(|x| !listed.contains(key(x))) {
            let before = x.clone();
            off(x);
            if *x != before {
                c.deactivated.push(key(x).clone());
            }
        }
    }
    for x in incoming {
        match at.get(key(x)) {
            Some(&i) if held[i] == *x => c.unchanged += 1,
            Some(&i) => {
                c.changed.push(key(x).clone());
                held[i] = x.clone();
            }
            None => {
                c.added.push(key(x).clone());
                at.insert(key(x).clone(), held.len());
                held.push(x.clone());
            }
        }
    }
}
