//! Reference data the city office maintains and devices pull: districts, units, points, users.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::calendar::WorkCalendar;
use crate::category::Category;
use crate::checklist::ChecklistTemplate;
use crate::error::DomainError;
use crate::i18n::{Lang, Text};
use crate::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum DistrictLevel {
    /// 区 / 县
    District,
    /// 街道 / 镇
    Street,
    /// 社区 / 村
    Community,
}

impl DistrictLevel {
    pub fn parent(self) -> Option<DistrictLevel> {
        match self {
            DistrictLevel::District => None,
            DistrictLevel::Street => Some(DistrictLevel::District),
            DistrictLevel::Community => Some(DistrictLevel::Street),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct District {
    pub id: String,
    pub name: Text,
    pub level: DistrictLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Short prefix used in problem codes (e.g. `GL` for 鼓楼区). Only districts need one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_prefix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum UnitKind {
    SubDistrictOffice,
    Community,
    HousingConstruction,
    LawEnforcement,
    TrafficPolice,
    MarketRegulation,
    Education,
    Transport,
    Greening,
    Sanitation,
    PublicSecurity,
    Propaganda,
    PropertyManagement,
    Other,
}

impl UnitKind {
    pub const ALL: [UnitKind; 14] = [
        UnitKind::SubDistrictOffice,
        UnitKind::Community,
        UnitKind::HousingConstruction,
        UnitKind::LawEnforcement,
        UnitKind::TrafficPolice,
        UnitKind::MarketRegulation,
        UnitKind::Education,
        UnitKind::Transport,
        UnitKind::Greening,
        UnitKind::Sanitation,
        UnitKind::PublicSecurity,
        UnitKind::Propaganda,
        UnitKind::PropertyManagement,
        UnitKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::SubDistrictOffice => "sub_district_office",
            UnitKind::Community => "community",
            UnitKind::HousingConstruction => "housing_construction",
            UnitKind::LawEnforcement => "law_enforcement",
            UnitKind::TrafficPolice => "traffic_police",
            UnitKind::MarketRegulation => "market_regulation",
            UnitKind::Education => "education",
            UnitKind::Transport => "transport",
            UnitKind::Greening => "greening",
            UnitKind::Sanitation => "sanitation",
            UnitKind::PublicSecurity => "public_security",
            UnitKind::Propaganda => "propaganda",
            UnitKind::PropertyManagement => "property_management",
            UnitKind::Other => "other",
        }
    }

    /// Accepts the code or the Chinese or English label.
    pub fn parse(s: &str) -> Option<UnitKind> {
        let s = s.trim();
        UnitKind::ALL.into_iter().find(|k| {
            k.as_str() == s || k.label(Lang::Zh) == s || k.label(Lang::En).eq_ignore_ascii_case(s)
        })
    }

    pub fn label(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            UnitKind::SubDistrictOffice => ("街道办事处", "Sub-district office"),
            UnitKind::Community => ("社区居委会", "Community committee"),
            UnitKind::HousingConstruction => ("住建局", "Housing & construction"),
            UnitKind::LawEnforcement => ("综合执法局", "City management law enforcement"),
            UnitKind::TrafficPolice => ("交警大队", "Traffic police"),
            UnitKind::MarketRegulation => ("市场监管局", "Market regulation"),
            UnitKind::Education => ("教育局", "Education"),
            UnitKind::Transport => ("交通运输局", "Transport"),
            UnitKind::Greening => ("园林绿化局", "Parks & greening"),
            UnitKind::Sanitation => ("环卫处", "Sanitation"),
            UnitKind::PublicSecurity => ("公安分局", "Public security"),
            UnitKind::Propaganda => ("宣传部", "Publicity department"),
            UnitKind::PropertyManagement => ("物业公司", "Property management"),
            UnitKind::Other => ("其他单位", "Other"),
        };
        if lang == Lang::En { en } else { zh }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Unit {
    pub id: String,
    pub name: Text,
    pub kind: UnitKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// A unit the city no longer dispatches to (an import left it out): it stays in the data
    /// so that records dispatched to it, and a device's pending work on them, still resolve.
    /// Absent in bundles written before it existed (they mean active). Not in the device UI's
    /// types yet: the device lists units to dispatch to only from the office's data.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub active: bool,
}

/// 测评点位 types. The string codes are stable identifiers used in files and templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum PointType {
    MainRoad,
    SecondaryRoad,
    BackAlley,
    Intersection,
    FarmersMarket,
    CommercialStreet,
    Community,
    SchoolSurroundings,
    ParkSquare,
    PublicToilet,
    Station,
    Hospital,
    ConstructionSite,
    MallSupermarket,
    Hotel,
    Restaurant,
    InternetCafe,
    ServiceHall,
}

impl PointType {
    pub const ALL: [PointType; 18] = [
        PointType::MainRoad,
        PointType::SecondaryRoad,
        PointType::BackAlley,
        PointType::Intersection,
        PointType::FarmersMarket,
        PointType::CommercialStreet,
        PointType::Community,
        PointType::SchoolSurroundings,
        PointType::ParkSquare,
        PointType::PublicToilet,
        PointType::Station,
        PointType::Hospital,
        PointType::ConstructionSite,
        PointType::MallSupermarket,
        PointType::Hotel,
        PointType::Restaurant,
        PointType::InternetCafe,
        PointType::ServiceHall,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PointType::MainRoad => "main_road",
            PointType::SecondaryRoad => "secondary_road",
            PointType::BackAlley => "back_alley",
            PointType::Intersection => "intersection",
            PointType::FarmersMarket => "farmers_market",
            PointType::CommercialStreet => "commercial_street",
            PointType::Community => "community",
            PointType::SchoolSurroundings => "school_surroundings",
            PointType::ParkSquare => "park_square",
            PointType::PublicToilet => "public_toilet",
            PointType::Station => "station",
            PointType::Hospital => "hospital",
            PointType::ConstructionSite => "construction_site",
            PointType::MallSupermarket => "mall_supermarket",
            PointType::Hotel => "hotel",
            PointType::Restaurant => "restaurant",
            PointType::InternetCafe => "internet_cafe",
            PointType::ServiceHall => "service_hall",
        }
    }

    /// Accepts the code, the Chinese name or the English name, so that office spreadsheets
    /// written by hand import without a lookup table.
    pub fn parse(s: &str) -> Option<PointType> {
        let s = s.trim();
        PointType::ALL.into_iter().find(|t| {
            t.as_str() == s
                || t.label(Lang::Zh) == s
                || t.label(Lang::En).eq_ignore_ascii_case(s)
                || t.aliases().contains(&s)
        })
    }

    fn aliases(self) -> &'static [&'static str] {
        match self {
            PointType::FarmersMarket => &["集贸市场", "农贸(集贸)市场"],
            PointType::Community => &["老旧小区", "社区/老旧小区", "住宅小区"],
            PointType::ServiceHall => &["窗口单位", "政务服务大厅"],
            PointType::MainRoad => &["主次干道"],
            _ => &[],
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            PointType::MainRoad => ("主干道", "Main road"),
            PointType::SecondaryRoad => ("次干道", "Secondary road"),
            PointType::BackAlley => ("背街小巷", "Back alley"),
            PointType::Intersection => ("交通路口", "Intersection"),
            PointType::FarmersMarket => ("农贸市场", "Farmers' market"),
            PointType::CommercialStreet => ("商业大街", "Commercial street"),
            PointType::Community => ("社区", "Residential community"),
            PointType::SchoolSurroundings => ("学校周边", "School surroundings"),
            PointType::ParkSquare => ("公园广场", "Park / square"),
            PointType::PublicToilet => ("公共厕所", "Public toilet"),
            PointType::Station => ("车站", "Station"),
            PointType::Hospital => ("医院", "Hospital"),
            PointType::ConstructionSite => ("建筑工地", "Construction site"),
            PointType::MallSupermarket => ("商场超市", "Mall / supermarket"),
            PointType::Hotel => ("宾馆", "Hotel"),
            PointType::Restaurant => ("中小饭馆", "Small restaurant"),
            PointType::InternetCafe => ("网吧", "Internet café"),
            PointType::ServiceHall => ("政务服务大厅", "Service hall"),
        };
        if lang == Lang::En { en } else { zh }
    }

    /// Which checklist applies when a city has no template of this exact type.
    pub fn template_fallback(self) -> PointType {
        match self {
            PointType::SecondaryRoad | PointType::CommercialStreet => PointType::MainRoad,
            other => other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

impl LatLon {
    pub fn is_valid(&self) -> bool {
        self.lat.is_finite()
            && self.lon.is_finite()
            && (-90.0..=90.0).contains(&self.lat)
            && (-180.0..=180.0).contains(&self.lon)
    }

    /// Great-circle distance in metres (haversine; plenty for sorting points by distance).
    pub fn distance_m(&self, other: &LatLon) -> f64 {
        const R: f64 = 6_371_008.8;
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * R * a.sqrt().asin()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Point {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub point_type: PointType,
    /// WGS-84. For a street, a representative point (its middle).
    pub location: LatLon,
    /// For streets and alleys: the centre line, WGS-84.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line: Vec<LatLon>,
    #[serde(default)]
    pub address: String,
    /// The lowest-level district the point lies in (usually a community or street).
    pub district_id: String,
    /// 属地 responsibility: the sub-district office or community.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub territorial_unit_id: Option<String>,
    /// 行业 responsibility: sector units (traffic police for intersections, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sector_unit_ids: Vec<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct User {
    pub id: String,
    pub name: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<String>,
    /// Districts the user may see and act in; empty means the whole city (admins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub district_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl User {
    /// The user as the lifecycle rules see them when they act.
    pub fn actor(&self) -> crate::role::Actor {
        crate::role::Actor {
            user_id: self.id.clone(),
            role: self.role,
            unit_id: self.unit_id.clone(),
        }
    }
}

/// Checks that a district tree is well formed: unique ids, parents exist at the right level,
/// districts carry a code prefix.
pub fn validate_districts(districts: &[District]) -> Result<(), DomainError> {
    use std::collections::HashMap;
    let by_id: HashMap<&str, &District> = districts.iter().map(|d| (d.id.as_str(), d)).collect();
    if by_id.len() != districts.len() {
        return Err(DomainError::InvalidReference(
            "duplicate district id".into(),
        ));
    }
    for d in districts {
        match (d.level.parent(), &d.parent_id) {
            (None, None) => {}
            (None, Some(_)) => {
                return Err(DomainError::InvalidReference(format!(
                    "district {} is a top-level 区 and cannot have a parent",
                    d.id
                )));
            }
            (Some(_), None) => {
                return Err(DomainError::InvalidReference(format!(
                    "{} {} needs a parent",
                    d.level_name(),
                    d.id
                )));
            }
            (Some(level), Some(pid)) => match by_id.get(pid.as_str()) {
                Some(p) if p.level == level => {}
                Some(p) => {
                    return Err(DomainError::InvalidReference(format!(
                        "{} {} has parent {} of level {}, expected {:?}",
                        d.level_name(),
                        d.id,
                        p.id,
                        p.level_name(),
                        level
                    )));
                }
                None => {
                    return Err(DomainError::InvalidReference(format!(
                        "{} {} refers to unknown parent {}",
                        d.level_name(),
                        d.id,
                        pid
                    )));
                }
            },
        }
    }
    Ok(())
}

/// Reference data as it arrives: the parts of a bundle (or of one imported file).
#[derive(Debug, Clone, Copy, Default)]
pub struct ReferenceParts<'a> {
    pub districts: &'a [District],
    pub units: &'a [Unit],
    pub points: &'a [Point],
    pub categories: &'a [Category],
    pub templates: &'a [ChecklistTemplate],
    pub users: &'a [User],
    pub calendar: Option<&'a WorkCalendar>,
}

/// What the arriving data may refer to besides itself: a device merges each bundle into what
/// it holds, so a file of points alone is enough once its districts and units are known. The
/// server stores whole bundles and holds nothing besides (`HeldReference::default()`).
#[derive(Debug, Clone, Default)]
pub struct HeldReference {
    pub districts: Vec<District>,
    pub unit_ids: BTreeSet<String>,
}

/// Checks reference data before anything of it is stored: every record has its id (and
/// name), the district tree holds together with what is held (`validate_districts`), every
/// unit, point and user names districts and units that exist, coordinates are WGS-84,
/// categories have a deadline, templates and the calendar are well formed. The first fault
/// found is the answer, naming the record and what it refers to. Whether a template version
/// differs from a stored one is the store's question (it needs the stored template).
pub fn validate_reference(
    incoming: ReferenceParts<'_>,
    held: &HeldReference,
) -> Result<(), DomainError> {
    let invalid = |msg: String| Err(DomainError::InvalidInput(msg));
    // Arriving districts replace held ones of the same id.
    let mut districts: BTreeMap<&str, &District> =
        held.districts.iter().map(|d| (d.id.as_str(), d)).collect();
    for d in incoming.districts {
        if d.id.trim().is_empty() {
            return invalid("a district has an empty id".into());
        }
        districts.insert(d.id.as_str(), d);
    }
    let tree: Vec<District> = districts.values().map(|d| (*d).clone()).collect();
    validate_districts(&tree)?;
    let mut units: BTreeSet<&str> = held.unit_ids.iter().map(String::as_str).collect();
    for u in incoming.units {
        if u.id.trim().is_empty() {
            return invalid("a unit has an empty id".into());
        }
        if let Some(d) = &u.district_id
            && !districts.contains_key(d.as_str())
        {
            return invalid(format!("unit {} refers to unknown district {d}", u.id));
        }
        units.insert(u.id.as_str());
    }
    for p in incoming.points {
        if p.id.trim().is_empty() || p.name.trim().is_empty() {
            return invalid(format!("point {:?} needs an id and a name", p.id));
        }
        if !districts.contains_key(p.district_id.as_str()) {
            return invalid(format!(
                "point {} refers to unknown district {}",
                p.id, p.district_id
            ));
        }
        if !p.location.is_valid() || p.line.iter().any(|l| !l.is_valid()) {
            return invalid(format!(
                "point {} has a coordinate outside WGS-84 range",
                p.id
            ));
        }
        for u in p.territorial_unit_id.iter().chain(&p.sector_unit_ids) {
            if !units.contains(u.as_str()) {
                return invalid(format!("point {} refers to unknown unit {u}", p.id));
            }
        }
    }
    for c in incoming.categories {
        if c.code.trim().is_empty() || c.minor.zh.trim().is_empty() {
            return invalid(format!("category {:?} needs a code and a name", c.code));
        }
        if c.deadline.amount == 0 {
            return invalid(format!("category {} has a zero deadline", c.code));
        }
    }
    for t in incoming.templates {
        t.validate()?;
    }
    for u in incoming.users {
        if u.id.trim().is_empty() {
            return invalid("a user has an empty id".into());
        }
        match (&u.role, &u.unit_id) {
            (Role::UnitHandler, None) => {
                return invalid(format!("unit handler {} needs a unit", u.id));
            }
            (_, Some(unit)) if !units.contains(unit.as_str()) => {
                return invalid(format!("user {} refers to unknown unit {unit}", u.id));
            }
            _ => {}
        }
        for d in &u.district_ids {
            if !districts.contains_key(d.as_str()) {
                return invalid(format!("user {} refers to unknown district {d}", u.id));
            }
        }
    }
    if let Some(cal) = incoming.calendar {
        cal.validate()?;
    }
    Ok(())
}

impl District {
    fn level_name(&self) -> &'static str {
        match self.level {
            DistrictLevel::District => "district",
            DistrictLevel::Street => "street",
            DistrictLevel::Community => "community",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::WorkCalendar;
    use crate::category::default_categories;
    use crate::checklist::default_templates;

    fn district(id: &str, level: DistrictLevel, parent: Option<&str>) -> District {
        District {
            id: id.into(),
            name: Text::new(id, id),
            level,
            parent_id: parent.map(Into::into),
            code_prefix: (level == DistrictLevel::District).then(|| "GL".into()),
        }
    }

    struct City {
        districts: Vec<District>,
        units: Vec<Unit>,
        points: Vec<Point>,
        users: Vec<User>,
    }

    fn city() -> City {
        City {
            districts: vec![
                district("gl", DistrictLevel::District, None),
                district("s-a", DistrictLevel::Street, Some("gl")),
                district("c-1", DistrictLevel::Community, Some("s-a")),
            ],
            units: vec![Unit {
                id: "u-1".into(),
                name: Text::new("单位", "Unit"),
                kind: UnitKind::Sanitation,
                district_id: Some("gl".into()),
                contact: None,
                active: true,
            }],
            points: vec![Point {
                id: "p-1".into(),
                name: "东街".into(),
                point_type: PointType::MainRoad,
                location: LatLon {
                    lat: 26.08,
                    lon: 119.3,
                },
                line: vec![],
                address: String::new(),
                district_id: "c-1".into(),
                territorial_unit_id: Some("u-1".into()),
                sector_unit_ids: vec![],
                active: true,
            }],
            users: vec![User {
                id: "usr-1".into(),
                name: "张三".into(),
                role: Role::UnitHandler,
                unit_id: Some("u-1".into()),
                district_ids: vec!["s-a".into()],
                phone: None,
            }],
        }
    }

    fn check(c: &City, held: &HeldReference) -> Result<(), DomainError> {
        let (categories, templates) = (default_categories(), default_templates());
        let calendar = WorkCalendar::default();
        validate_reference(
            ReferenceParts {
                districts: &c.districts,
                units: &c.units,
                points: &c.points,
                categories: &categories,
                templates: &templates,
                users: &c.users,
                calendar: Some(&calendar),
            },
            held,
        )
    }

    fn refused(c: &City) -> (String, String) {
        let e = check(c, &HeldReference::default()).unwrap_err();
        (e.code().to_owned(), e.to_string())
    }

    #[test]
    fn a_whole_city_holds_together() {
        check(&city(), &HeldReference::default()).unwrap();
    }

    #[test]
    fn each_fault_names_the_record_and_what_it_refers_to() {
        let mut c = city();
        c.points[0].district_id = "nowhere".into();
        assert_eq!(
            refused(&c),
            (
                "invalid_input".into(),
                "invalid input: point p-1 refers to unknown district nowhere".into()
            )
        );
        let mut c = city();
        c.points[0].sector_unit_ids.push("u-x".into());
        assert_eq!(
            refused(&c).1,
            "invalid input: point p-1 refers to unknown unit u-x"
        );
        let mut c = city();
        c.points[0].location.lat = 91.0;
        assert_eq!(
            refused(&c).1,
            "invalid input: point p-1 has a coordinate outside WGS-84 range"
        );
        let mut c = city();
        c.units[0].district_id = Some("gone".into());
        assert_eq!(
            refused(&c).1,
            "invalid input: unit u-1 refers to unknown district gone"
        );
        let mut c = city();
        c.users[0].unit_id = None;
        assert_eq!(
            refused(&c).1,
            "invalid input: unit handler usr-1 needs a unit"
        );
        let mut c = city();
        c.users[0].district_ids.push("far".into());
        assert_eq!(
            refused(&c).1,
            "invalid input: user usr-1 refers to unknown district far"
        );
        let mut c = city();
        c.districts[0].id = " ".into();
        assert_eq!(refused(&c).1, "invalid input: a district has an empty id");
        // The tree itself: its own code, as before.
        let mut c = city();
        c.districts[2].parent_id = Some("gl".into());
        assert_eq!(
            refused(&c),
            (
                "invalid_reference".into(),
                "invalid reference data: community c-1 has parent gl of level district, \
                 expected Street"
                    .into()
            )
        );
    }

    #[test]
    fn categories_templates_and_the_calendar_are_checked() {
        let mut categories = default_categories();
        categories[0].deadline.amount = 0;
        let code = categories[0].code.clone();
        let e = validate_reference(
            ReferenceParts {
                categories: &categories,
                ..ReferenceParts::default()
            },
            &HeldReference::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("invalid input: category {code} has a zero deadline")
        );
        let mut templates = default_templates();
        templates[0].items.clear();
        let e = validate_reference(
            ReferenceParts {
                templates: &templates,
                ..ReferenceParts::default()
            },
            &HeldReference::default(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "invalid_template");
        let calendar = WorkCalendar {
            utc_offset_minutes: 100_000,
            ..WorkCalendar::default()
        };
        let e = validate_reference(
            ReferenceParts {
                calendar: Some(&calendar),
                ..ReferenceParts::default()
            },
            &HeldReference::default(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "invalid_calendar");
    }

    #[test]
    fn arriving_data_may_refer_to_what_is_held() {
        let c = city();
        // Points and users alone, once the districts and units are held.
        let points_only = City {
            districts: vec![],
            units: vec![],
            ..city()
        };
        assert!(check(&points_only, &HeldReference::default()).is_err());
        let held = HeldReference {
            districts: c.districts.clone(),
            unit_ids: ["u-1".to_owned()].into(),
        };
        check(&points_only, &held).unwrap();
        // An arriving district replaces the held one of the same id.
        let mut moved = city();
        moved.districts = vec![district("c-1", DistrictLevel::Community, Some("gl"))];
        assert_eq!(refused_with(&moved, &held).0, "invalid_reference");
    }

    fn refused_with(c: &City, held: &HeldReference) -> (String, String) {
        let e = check(c, held).unwrap_err();
        (e.code().to_owned(), e.to_string())
    }
}
