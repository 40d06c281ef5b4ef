//! Reference data the city office maintains and devices pull: districts, units, points, users.

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::i18n::{Lang, Text};
use crate::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
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
pub struct Unit {
    pub id: String,
    pub name: Text,
    pub kind: UnitKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// 测评点位 types. The string codes are stable identifiers used in files and templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

impl District {
    fn level_name(&self) -> &'static str {
        match self.level {
            DistrictLevel::District => "district",
            DistrictLevel::Street => "street",
            DistrictLevel::Community => "community",
        }
    }
}
