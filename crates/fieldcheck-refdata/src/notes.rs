//! What each column of the office's workbook means, for its explanation sheet (说明).

use crate::Kind;

/// The explanation of one column (Chinese first, the English after it).
pub(crate) fn column_note(kind: Kind, column: &str) -> &'static str {
    match (kind, column) {
        (Kind::Districts, "id") => {
            "区域编号，唯一，导入后不要改（改名只改名称）。Unique id; keep it when renaming."
        }
        (Kind::Districts, "level") => "层级：区 / 街道 / 社区（district / street / community）。",
        (Kind::Districts, "parent_id") => {
            "上级区域的编号：街道填所属区，社区填所属街道；区留空。Parent: a street's district, a community's street."
        }
        (Kind::Districts, "code_prefix") => {
            "问题编号前缀（只有区需要），如 GL。Prefix of problem codes, districts only."
        }
        (Kind::Units, "id") => "单位编号，唯一。Unique unit id.",
        (Kind::Units, "kind") => {
            "单位类型：街道办事处、社区居委会、交警大队、综合执法局等（或英文代码）。Unit kind."
        }
        (Kind::Units, "district_id") => {
            "单位所属区域的编号（可空）。The unit's district, optional."
        }
        (Kind::Units, "contact") => "联系电话或联系人。Contact.",
        (Kind::Units | Kind::Points, "active") => {
            "是否启用：TRUE / FALSE，空为启用。停用的不再派发，历史记录仍可查。Active; inactive ones keep their history."
        }
        (Kind::Points, "id") => {
            "点位编号，唯一；已有记录的点位不会删除，只会停用。Unique; points with history are deactivated, never deleted."
        }
        (Kind::Points, "type") => {
            "点位类型：主干道、背街小巷、农贸市场、学校周边等（或英文代码）。Point type."
        }
        (Kind::Points, "lat") => "纬度（WGS-84，-90 到 90）。Latitude, WGS-84.",
        (Kind::Points, "lon") => "经度（WGS-84，-180 到 180）。Longitude, WGS-84.",
        (Kind::Points, "line") => {
            "道路中心线：纬度,经度;纬度,经度…（可空）。Centre line, optional."
        }
        (Kind::Points, "district_id") => {
            "点位所在区域的编号（通常是社区或街道），必须在区域表中。The point's district."
        }
        (Kind::Points, "territorial_unit_id") => {
            "属地责任单位编号，必须在单位表中。Territorial unit."
        }
        (Kind::Points, "sector_unit_ids") => {
            "行业责任单位编号，多个用逗号或顿号分隔。Sector units, comma separated."
        }
        (Kind::Users, "id") => "账号（登录名），唯一。Login id, unique.",
        (Kind::Users, "role") => {
            "角色：巡查员、责任单位、督办员、志愿者（管理员只能在控制台或命令行逐个添加）。Role; admins are added one by one, not by import."
        }
        (Kind::Users, "unit_id") => {
            "所属单位编号；责任单位人员必填。Unit; required for unit handlers."
        }
        (Kind::Users, "district_ids") => {
            "负责区域编号，多个用逗号分隔；空为全市。Districts, comma separated; empty = whole city."
        }
        (Kind::Users, "phone") => "手机号。Phone.",
        (Kind::Categories, "code") => "小类编码，唯一。Minor class code.",
        (Kind::Categories, "deadline_amount") => "处置时限的数值（大于 0）。Deadline amount.",
        (Kind::Categories, "deadline_unit") => {
            "时限单位：工作小时、工作日、自然小时。Deadline unit."
        }
        (Kind::Templates, "template_id") => {
            "检查表编号；同一编号和版本的多行组成一张检查表。已有版本不可修改，改动请用新版本号。Rows of one id and version form one template; stored versions are immutable."
        }
        (Kind::Templates, "version") => "版本号（整数）。Version.",
        (Kind::Templates, "kind") => "评分方式：合格/不合格、计数扣分、测量值。Item kind.",
        (Kind::Calendar, "type") => {
            "类型：节假日、调休上班、工作时段、每周工作日、时区偏移分钟。Row type."
        }
        (Kind::Calendar, "value") => {
            "值：日期（2026-10-01 或 2026-10-01~2026-10-07）、时段（08:30-12:00）、星期（1-5）或分钟数。Value."
        }
        (_, "name_zh" | "name") => "名称（中文）。Name.",
        (_, "name_en") => "英文名称（可空）。English name, optional.",
        (_, "address") => "地址。Address.",
        _ => "见示例行。See the example row.",
    }
}

/// The template workbook's contents: one example record of each kind, holding together (the
/// point lies in the community, its units exist), so the office sees a filled row per sheet.
pub fn example_bundle() -> fieldcheck_protocol::ReferenceBundle {
    use fieldcheck_domain::calendar::WorkCalendar;
    use fieldcheck_domain::i18n::Text;
    use fieldcheck_domain::reference::{
        District, DistrictLevel, LatLon, Point, PointType, Unit, UnitKind, User,
    };
    use fieldcheck_domain::role::Role;
    let district =
        |id: &str, zh: &str, level, parent: Option<&str>, prefix: Option<&str>| District {
            id: id.into(),
            name: Text::new(zh, ""),
            level,
            parent_id: parent.map(Into::into),
            code_prefix: prefix.map(Into::into),
        };
    let mut template = fieldcheck_domain::checklist::default_templates()
        .into_iter()
        .next()
        .expect("the default templates are not empty");
    template.items.truncate(1);
    // Its own id: a stored template version is immutable, and the example must import
    // into a city that already holds the default templates.
    template.id = format!("example-{}", template.id);
    template.name = Text::new(format!("示例：{}", template.name.zh), "Example");
    fieldcheck_protocol::ReferenceBundle {
        // One per level: a community needs its street and district.
        districts: vec![
            district("gl", "鼓楼区", DistrictLevel::District, None, Some("GL")),
            district("gl-dj", "东街街道", DistrictLevel::Street, Some("gl"), None),
            district(
                "gl-dj-sf",
                "三坊社区",
                DistrictLevel::Community,
                Some("gl-dj"),
                None,
            ),
        ],
        units: vec![Unit {
            id: "u-dj".into(),
            name: Text::new("东街街道办事处", ""),
            kind: UnitKind::SubDistrictOffice,
            district_id: Some("gl-dj".into()),
            contact: Some("0591-87000000".into()),
            active: true,
        }],
        points: vec![Point {
            id: "p-0001".into(),
            name: "南后街".into(),
            point_type: PointType::CommercialStreet,
            location: LatLon {
                lat: 26.0836,
                lon: 119.2938,
            },
            line: vec![],
            address: "鼓楼区南后街".into(),
            district_id: "gl-dj-sf".into(),
            territorial_unit_id: Some("u-dj".into()),
            sector_unit_ids: vec![],
            active: true,
        }],
        categories: fieldcheck_domain::category::default_categories()
            .into_iter()
            .take(1)
            .collect(),
        templates: vec![template],
        users: vec![User {
            id: "zhangsan".into(),
            name: "张三".into(),
            role: Role::Inspector,
            unit_id: None,
            district_ids: vec!["gl".into()],
            phone: Some("13800000000".into()),
        }],
        calendar: Some(WorkCalendar::default()),
    }
}
