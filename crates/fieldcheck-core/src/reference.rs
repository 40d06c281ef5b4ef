//! Reference data on the device: import (all-or-nothing, validated), lookups, export.

use std::collections::BTreeSet;

use fieldcheck_domain::calendar::WorkCalendar;
use fieldcheck_domain::category::{Category, default_categories};
use fieldcheck_domain::checklist::{ChecklistTemplate, default_templates};
use fieldcheck_domain::reference::{
    District, DistrictLevel, HeldReference, Point, PointType, Unit, User, validate_reference,
};
use fieldcheck_domain::scope::DistrictTree;
use fieldcheck_protocol::ReferenceBundle;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::de::DeserializeOwned;

use crate::error::{CoreError, Result};
use crate::store::{Store, meta_get, meta_set};

/// How many records an import added or changed, per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub districts: usize,
    pub units: usize,
    pub points: usize,
    pub categories: usize,
    pub templates: usize,
    pub users: usize,
    pub calendar: bool,
}

/// A fresh device knows the shipped categories, checklists and calendar, so that it can be
/// used before it ever talks to a server.
pub(crate) fn seed_defaults(conn: &Connection) -> Result<()> {
    let bundle = ReferenceBundle {
        categories: default_categories(),
        templates: default_templates(),
        calendar: Some(WorkCalendar::default()),
        ..Default::default()
    };
    import_into(conn, &bundle)?;
    Ok(())
}

impl Store {
    /// Imports a bundle in one transaction: either everything is valid and stored, or
    /// nothing is.
    pub fn import_reference(&mut self, bundle: &ReferenceBundle) -> Result<ImportSummary> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let summary = import_into(&tx, bundle)?;
        tx.commit()?;
        Ok(summary)
    }

    pub fn export_reference(&self) -> Result<ReferenceBundle> {
        Ok(ReferenceBundle {
            districts: all(
                &self.conn,
                "SELECT data FROM ref_districts ORDER BY level, id",
            )?,
            units: all(&self.conn, "SELECT data FROM ref_units ORDER BY id")?,
            points: all(&self.conn, "SELECT data FROM ref_points ORDER BY id")?,
            categories: all(&self.conn, "SELECT data FROM ref_categories ORDER BY code")?,
            templates: all(
                &self.conn,
                "SELECT data FROM ref_templates ORDER BY id, version",
            )?,
            users: all(&self.conn, "SELECT data FROM ref_users ORDER BY id")?,
            calendar: Some(calendar(&self.conn)?),
        })
    }

    pub fn point(&self, id: &str) -> Result<Point> {
        point(&self.conn, id)?.ok_or_else(|| CoreError::not_found("point", id))
    }

    pub fn points(
        &self,
        point_type: Option<PointType>,
        district: Option<&str>,
    ) -> Result<Vec<Point>> {
        let mut pts: Vec<Point> = all(
            &self.conn,
            "SELECT data FROM ref_points WHERE active = 1 ORDER BY id",
        )?;
        if let Some(t) = point_type {
            pts.retain(|p| p.point_type == t);
        }
        if let Some(d) = district {
            let within = district_and_descendants(&self.conn, d)?;
            pts.retain(|p| within.contains(&p.district_id));
        }
        Ok(pts)
    }

    pub fn user(&self, id: &str) -> Result<User> {
        by_id(&self.conn, "SELECT data FROM ref_users WHERE id = ?1", id)?
            .ok_or_else(|| CoreError::not_found("user", id))
    }

    pub fn unit(&self, id: &str) -> Result<Unit> {
        by_id(&self.conn, "SELECT data FROM ref_units WHERE id = ?1", id)?
            .ok_or_else(|| CoreError::not_found("unit", id))
    }

    pub fn units(&self) -> Result<Vec<Unit>> {
        all(&self.conn, "SELECT data FROM ref_units ORDER BY id")
    }

    pub fn districts(&self) -> Result<Vec<District>> {
        all(&self.conn, "SELECT data FROM ref_districts ORDER BY id")
    }

    pub fn categories(&self) -> Result<Vec<Category>> {
        all(&self.conn, "SELECT data FROM ref_categories ORDER BY code")
    }

    pub fn category(&self, code: &str) -> Result<Category> {
        category(&self.conn, code)?.ok_or_else(|| CoreError::not_found("category", code))
    }

    pub fn calendar(&self) -> Result<WorkCalendar> {
        calendar(&self.conn)
    }

    /// The newest template for a point type (falling back to a related type, e.g. secondary
    /// roads use the main-road checklist).
    pub fn template_for(&self, point_type: PointType) -> Result<ChecklistTemplate> {
        for t in [point_type, point_type.template_fallback()] {
            let found: Option<ChecklistTemplate> = self
                .conn
                .prepare_cached(
                    "SELECT data FROM ref_templates WHERE point_type = ?1
                     ORDER BY version DESC LIMIT 1",
                )?
                .query_row([t.as_str()], |r| r.get::<_, String>(0))
                .optional()?
                .map(|s| serde_json::from_str(&s))
                .transpose()?;
            if let Some(t) = found {
                return Ok(t);
            }
        }
        Err(CoreError::not_found(
            "checklist template for point type",
            point_type.as_str(),
        ))
    }

    pub fn template(&self, id: &str, version: u32) -> Result<ChecklistTemplate> {
        template(&self.conn, id, version)?
            .ok_or_else(|| CoreError::not_found("checklist template", format!("{id} v{version}")))
    }

    pub fn templates(&self) -> Result<Vec<ChecklistTemplate>> {
        all(
            &self.conn,
            "SELECT data FROM ref_templates ORDER BY id, version",
        )
    }
}

fn all<T: DeserializeOwned>(conn: &Connection, sql: &str) -> Result<Vec<T>> {
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    rows.map(|s| Ok(serde_json::from_str(&s?)?)).collect()
}

fn by_id<T: DeserializeOwned>(conn: &Connection, sql: &str, id: &str) -> Result<Option<T>> {
    conn.prepare_cached(sql)?
        .query_row([id], |r| r.get::<_, String>(0))
        .optional()?
        .map(|s| Ok(serde_json::from_str(&s)?))
        .transpose()
}

pub(crate) fn user(conn: &Connection, id: &str) -> Result<Option<User>> {
    by_id(conn, "SELECT data FROM ref_users WHERE id = ?1", id)
}

pub(crate) fn point(conn: &Connection, id: &str) -> Result<Option<Point>> {
    by_id(conn, "SELECT data FROM ref_points WHERE id = ?1", id)
}

/// What placing a street report needs: the active points, the district tree, and the
/// reporter's own districts (none for an unknown user or an admin).
pub(crate) fn placement_inputs(
    conn: &Connection,
    user_id: &str,
) -> Result<(Vec<Point>, Vec<District>, Vec<String>)> {
    let user: Option<User> = by_id(conn, "SELECT data FROM ref_users WHERE id = ?1", user_id)?;
    Ok((
        all(conn, "SELECT data FROM ref_points WHERE active = 1")?,
        all(conn, "SELECT data FROM ref_districts")?,
        user.map(|u| u.district_ids).unwrap_or_default(),
    ))
}

pub(crate) fn district(conn: &Connection, id: &str) -> Result<Option<District>> {
    by_id(conn, "SELECT data FROM ref_districts WHERE id = ?1", id)
}

pub(crate) fn category(conn: &Connection, code: &str) -> Result<Option<Category>> {
    by_id(
        conn,
        "SELECT data FROM ref_categories WHERE code = ?1",
        code,
    )
}

pub(crate) fn unit_exists(conn: &Connection, id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM ref_units WHERE id = ?1")?
        .exists([id])?)
}

pub(crate) fn template(
    conn: &Connection,
    id: &str,
    version: u32,
) -> Result<Option<ChecklistTemplate>> {
    conn.prepare_cached("SELECT data FROM ref_templates WHERE id = ?1 AND version = ?2")?
        .query_row(params![id, version], |r| r.get::<_, String>(0))
        .optional()?
        .map(|s| Ok(serde_json::from_str(&s)?))
        .transpose()
}

pub(crate) fn calendar(conn: &Connection) -> Result<WorkCalendar> {
    match meta_get(conn, "calendar")? {
        Some(s) => Ok(serde_json::from_str(&s)?),
        None => Ok(WorkCalendar::default()),
    }
}

/// The code prefix of the top-level district containing `district_id`.
pub(crate) fn code_prefix(conn: &Connection, district_id: Option<&str>) -> Result<String> {
    let mut cur = match district_id {
        Some(id) => district(conn, id)?,
        None => None,
    };
    // A tree is at most three levels deep; the bound guards against a corrupt cycle.
    for _ in 0..8 {
        match cur {
            Some(d) if d.level == DistrictLevel::District => {
                return Ok(d.code_prefix.unwrap_or_else(|| "FC".into()));
            }
            Some(d) => {
                cur = match d.parent_id {
                    Some(p) => district(conn, &p)?,
                    None => None,
                }
            }
            None => break,
        }
    }
    Ok("FC".into())
}

/// The district tree as the device holds it.
pub(crate) fn district_tree(conn: &Connection) -> Result<DistrictTree> {
    Ok(DistrictTree::new(&all::<District>(
        conn,
        "SELECT data FROM ref_districts",
    )?))
}

/// The district and everything under it (a street's communities), for ledger filters.
pub(crate) fn district_and_descendants(conn: &Connection, id: &str) -> Result<Vec<String>> {
    let tree = district_tree(conn)?;
    if !tree.contains(id) {
        return Err(CoreError::not_found("district", id));
    }
    Ok(tree.descendants_of([id]).into_iter().collect())
}

pub(crate) fn import_into(conn: &Connection, b: &ReferenceBundle) -> Result<ImportSummary> {
    // Validate against what is stored plus what arrives, so a bundle may refer to records
    // imported earlier and a file of points alone is enough once districts are known.
    let held = HeldReference {
        districts: all(conn, "SELECT data FROM ref_districts")?,
        unit_ids: conn
            .prepare("SELECT id FROM ref_units")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<BTreeSet<String>>>()?,
    };
    validate_reference(b.parts(), &held)?;
    // A template version is immutable: devices keep inspections scored against it.
    for t in &b.templates {
        if let Some(existing) = template(conn, &t.id, t.version)?
            && existing != *t
        {
            return Err(CoreError::Invalid(format!(
                "checklist template {} v{} already exists with different content; \
                 give the changed template a new version",
                t.id, t.version
            )));
        }
    }

    // Parents before children so that the foreign keys hold at every statement.
    let mut ds: Vec<&District> = b.districts.iter().collect();
    ds.sort_by_key(|d| d.level);
    for d in &ds {
        conn.prepare_cached(
            "INSERT INTO ref_districts (id, parent_id, level, data) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET parent_id = excluded.parent_id,
                 level = excluded.level, data = excluded.data",
        )?
        .execute(params![
            d.id,
            d.parent_id,
            serde_json::to_value(d.level)?.as_str(),
            serde_json::to_string(d)?
        ])?;
    }
    for u in &b.units {
        conn.prepare_cached(
            "INSERT INTO ref_units (id, kind, district_id, data) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET kind = excluded.kind,
                 district_id = excluded.district_id, data = excluded.data",
        )?
        .execute(params![
            u.id,
            u.kind.as_str(),
            u.district_id,
            serde_json::to_string(u)?
        ])?;
    }
    for p in &b.points {
        conn.prepare_cached(
            "INSERT INTO ref_points (id, point_type, district_id, lat, lon, active, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(id) DO UPDATE SET point_type = excluded.point_type,
                 district_id = excluded.district_id, lat = excluded.lat, lon = excluded.lon,
                 active = excluded.active, data = excluded.data",
        )?
        .execute(params![
            p.id,
            p.point_type.as_str(),
            p.district_id,
            p.location.lat,
            p.location.lon,
            p.active,
            serde_json::to_string(p)?
        ])?;
    }
    for c in &b.categories {
        conn.prepare_cached(
            "INSERT INTO ref_categories (code, major_code, data) VALUES (?1, ?2, ?3)
             ON CONFLICT(code) DO UPDATE SET major_code = excluded.major_code,
                 data = excluded.data",
        )?
        .execute(params![c.code, c.major_code, serde_json::to_string(c)?])?;
    }
    for t in &b.templates {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO ref_templates (id, version, point_type, data)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            t.id,
            t.version,
            t.point_type.as_str(),
            serde_json::to_string(t)?
        ])?;
    }
    for u in &b.users {
        conn.prepare_cached(
            "INSERT INTO ref_users (id, role, unit_id, data) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET role = excluded.role, unit_id = excluded.unit_id,
                 data = excluded.data",
        )?
        .execute(params![
            u.id,
            u.role.as_str(),
            u.unit_id,
            serde_json::to_string(u)?
        ])?;
    }
    if let Some(cal) = &b.calendar {
        meta_set(conn, "calendar", &serde_json::to_string(cal)?)?;
    }
    let version = meta_get(conn, "reference_version")?
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    meta_set(conn, "reference_version", &version.to_string())?;
    Ok(ImportSummary {
        districts: b.districts.len(),
        units: b.units.len(),
        points: b.points.len(),
        categories: b.categories.len(),
        templates: b.templates.len(),
        users: b.users.len(),
        calendar: b.calendar.is_some(),
    })
}

impl Store {
    /// The person signed in on this device.
    pub fn current_user(&self) -> Result<Option<User>> {
        match meta_get(&self.conn, "current_user")? {
            Some(id) => Ok(Some(self.user(&id)?)),
            None => Ok(None),
        }
    }

    pub fn set_current_user(&mut self, user_id: Option<&str>) -> Result<()> {
        match user_id {
            Some(id) => {
                self.user(id)?;
                meta_set(&self.conn, "current_user", id)
            }
            None => {
                self.conn
                    .execute("DELETE FROM meta WHERE key = 'current_user'", [])?;
                Ok(())
            }
        }
    }

    /// The acting person as the lifecycle rules see them.
    pub fn actor(&self, user_id: &str) -> Result<fieldcheck_domain::Actor> {
        Ok(self.user(user_id)?.actor())
    }
}
