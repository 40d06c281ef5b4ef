//! The city's points one at a time (issue 15): list with filters, add, edit, move the pin,
//! set the territorial and sector units, deactivate. Each change is a new reference version
//! (devices get it on their next sync) and an audit entry. A point is never deleted: records
//! name it, so deactivating only takes it off the lists devices offer for new work, while
//! work already done there (or still pending on a device) lands as before.

use fieldcheck_domain::reference::{Point, PointType};
use fieldcheck_domain::scope::DistrictTree;
use fieldcheck_protocol::ReferenceBundle;
use fieldcheck_protocol::console::setup::{PointInput, PointPage};
use fieldcheck_refdata::plan::looks_like_formula;

use super::{SetupError, audit, empty_none, store_reference};
use crate::store::Store;

/// What the list shows: every field optional, all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct PointFilter {
    /// This district and every district below it.
    pub district_id: Option<String>,
    pub point_type: Option<PointType>,
    /// The territorial unit or one of the sector units.
    pub unit_id: Option<String>,
    pub active: Option<bool>,
    /// Part of the id, name or address.
    pub q: Option<String>,
}

/// The most points one page holds (the console's map asks for all of a city's at once).
pub const MAX_PAGE: u32 = 20_000;

/// The points matching `filter`, by id, `limit` from `offset`.
pub async fn list(
    store: &dyn Store,
    filter: &PointFilter,
    limit: u32,
    offset: u64,
) -> Result<PointPage, SetupError> {
    let (version, bundle) = store.reference().await?.unwrap_or_default();
    let districts = filter
        .district_id
        .as_ref()
        .map(|d| DistrictTree::new(&bundle.districts).descendants_of(std::iter::once(d.as_str())));
    let q = filter
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    let mut points: Vec<&Point> = bundle
        .points
        .iter()
        .filter(|p| {
            districts
                .as_ref()
                .is_none_or(|d| d.contains(&p.district_id))
        })
        .filter(|p| filter.point_type.is_none_or(|t| p.point_type == t))
        .filter(|p| {
            filter.unit_id.as_ref().is_none_or(|u| {
                p.territorial_unit_id.as_ref() == Some(u) || p.sector_unit_ids.contains(u)
            })
        })
        .filter(|p| filter.active.is_none_or(|a| p.active == a))
        .filter(|p| {
            q.as_ref().is_none_or(|q| {
                [&p.id, &p.name, &p.address]
                    .iter()
                    .any(|f| f.to_lowercase().contains(q.as_str()))
            })
        })
        .collect();
    points.sort_by(|a, b| a.id.cmp(&b.id));
    let total = points.len() as u64;
    Ok(PointPage {
        version,
        total,
        points: points
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(limit.clamp(1, MAX_PAGE) as usize)
            .cloned()
            .collect(),
    })
}

/// A point code of letters, digits, `-`, `_`, `.`: it is printed on QR cards and in files.
fn check_id(id: &str) -> Result<(), SetupError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(SetupError::InvalidPoint(format!(
            "point id {id:?}: 1 to 64 letters, digits, - _ ."
        )))
    }
}

/// What the reference check does not say: lengths, and no text a spreadsheet would run.
fn check_point(p: &Point) -> Result<(), SetupError> {
    if p.name.trim().is_empty() || p.name.chars().count() > 100 {
        return Err(SetupError::InvalidPoint(
            "a name of 1 to 100 characters".into(),
        ));
    }
    if p.address.chars().count() > 200 {
        return Err(SetupError::InvalidPoint(
            "an address of at most 200 characters".into(),
        ));
    }
    for v in [&p.name, &p.address] {
        if looks_like_formula(v) {
            return Err(SetupError::InvalidPoint(format!(
                "{v:?} starts like a spreadsheet formula"
            )));
        }
    }
    if !p.location.is_valid() || (p.location.lat == 0.0 && p.location.lon == 0.0) {
        return Err(SetupError::InvalidPoint(format!(
            "location {}, {} is not a WGS-84 place",
            p.location.lat, p.location.lon
        )));
    }
    Ok(())
}

/// The first `p-NNNN` no point has.
fn next_id(bundle: &ReferenceBundle) -> String {
    (bundle.points.len() + 1..)
        .map(|n| format!("p-{n:04}"))
        .find(|id| !bundle.points.iter().any(|p| &p.id == id))
        .unwrap_or_default()
}

/// Applies the given fields of `input` to `p`.
fn apply(p: &mut Point, input: &PointInput) {
    if let Some(n) = &input.name {
        p.name = n.trim().to_owned();
    }
    if let Some(t) = input.point_type {
        p.point_type = t;
    }
    if let Some(l) = input.location {
        p.location = l;
    }
    if let Some(a) = &input.address {
        p.address = a.trim().to_owned();
    }
    if let Some(d) = &input.district_id {
        p.district_id = d.trim().to_owned();
    }
    if let Some(u) = &input.territorial_unit_id {
        p.territorial_unit_id = empty_none(u);
    }
    if let Some(us) = &input.sector_unit_ids {
        let mut us: Vec<String> = us.iter().filter_map(|u| empty_none(u)).collect();
        us.dedup();
        p.sector_unit_ids = us;
    }
}

async fn find(store: &dyn Store, id: &str) -> Result<Point, SetupError> {
    let (_, bundle) = store.reference().await?.unwrap_or_default();
    bundle
        .points
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| SetupError::UnknownPoint(id.to_owned()))
}

/// Stores `point` in place of the one with its id (or as a new one) as a new version.
async fn put(store: &dyn Store, point: &Point) -> Result<(), SetupError> {
    store_reference(store, SetupError::InvalidPoint, |b| {
        match b.points.iter_mut().find(|p| p.id == point.id) {
            Some(slot) => *slot = point.clone(),
            None => b.points.push(point.clone()),
        }
        Ok(())
    })
    .await
    .map(|_| ())
}

/// Adds a point (name, type, location and district are required).
pub async fn add(store: &dyn Store, actor: &str, input: PointInput) -> Result<Point, SetupError> {
    let (_, bundle) = store.reference().await?.unwrap_or_default();
    let id = match input.id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => next_id(&bundle),
    };
    check_id(&id)?;
    if bundle.points.iter().any(|p| p.id == id) {
        return Err(SetupError::PointExists(id));
    }
    let required = |what: &str| SetupError::InvalidPoint(format!("a new point needs {what}"));
    let mut point = Point {
        id,
        name: String::new(),
        point_type: input.point_type.ok_or_else(|| required("a type"))?,
        location: input.location.ok_or_else(|| required("a location"))?,
        line: Vec::new(),
        address: String::new(),
        district_id: input
            .district_id
            .clone()
            .ok_or_else(|| required("a district"))?,
        territorial_unit_id: None,
        sector_unit_ids: Vec::new(),
        active: true,
    };
    apply(&mut point, &input);
    check_point(&point)?;
    put(store, &point).await?;
    audit(
        store,
        actor,
        "point.add",
        &point.id,
        None,
        Some(serde_json::to_value(&point).unwrap_or_default()),
    )
    .await?;
    Ok(point)
}

/// Changes the given fields of a point; its id never changes (records name it).
pub async fn edit(
    store: &dyn Store,
    actor: &str,
    id: &str,
    input: PointInput,
) -> Result<Point, SetupError> {
    let before = find(store, id).await?;
    if input.id.as_deref().is_some_and(|n| n.trim() != id) {
        return Err(SetupError::InvalidPoint(
            "a point's id cannot change (records name it); add a new point".into(),
        ));
    }
    let mut point = before.clone();
    apply(&mut point, &input);
    check_point(&point)?;
    if point != before {
        put(store, &point).await?;
        audit(
            store,
            actor,
            "point.edit",
            id,
            Some(serde_json::to_value(&before).unwrap_or_default()),
            Some(serde_json::to_value(&point).unwrap_or_default()),
        )
        .await?;
    }
    Ok(point)
}

/// Deactivates (or activates again) a point.
pub async fn set_active(
    store: &dyn Store,
    actor: &str,
    id: &str,
    active: bool,
) -> Result<Point, SetupError> {
    let mut point = find(store, id).await?;
    if point.active != active {
        point.active = active;
        put(store, &point).await?;
        audit(
            store,
            actor,
            if active {
                "point.activate"
            } else {
                "point.deactivate"
            },
            id,
            Some(serde_json::json!({"active": !active})),
            Some(serde_json::json!({"active": active})),
        )
        .await?;
    }
    Ok(point)
}
