//! Checklist inspections of registered points, and problems raised from failed items.

use chrono::{DateTime, Utc};
use fieldcheck_domain::checklist::ItemResult;
use fieldcheck_domain::inspection::Inspection;
use fieldcheck_domain::{Actor, Event, EventBody, Location, PhotoRef, PhotoRole, Problem};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{CoreError, Result};
use crate::problems::NewProblem;
use crate::store::{Store, commit_inspection_event, load_inspection};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct StartInspection {
    pub point_id: String,
    /// A specific template (id, version); by default the newest one for the point's type.
    #[serde(default)]
    pub template: Option<(String, u32)>,
    #[serde(default)]
    pub location: Option<Location>,
}

impl Store {
    pub fn start_inspection(
        &mut self,
        actor: &Actor,
        start: StartInspection,
    ) -> Result<Inspection> {
        let point = self.point(&start.point_id)?;
        let tpl = match &start.template {
            Some((id, v)) => self.template(id, *v)?,
            None => self.template_for(point.point_type)?,
        };
        let id = Uuid::now_v7();
        let body = EventBody::InspectionStarted {
            point_id: point.id,
            template_id: tpl.id,
            template_version: tpl.version,
            location: start.location,
        };
        self.inspection_event(actor, id, body, vec![])
    }

    pub fn record_item(
        &mut self,
        actor: &Actor,
        inspection_id: Uuid,
        item_id: &str,
        result: ItemResult,
        note: Option<String>,
        photos: Vec<String>,
    ) -> Result<Inspection> {
        let refs = crate::problems::photo_refs(&self.conn, &photos, PhotoRole::Evidence)?;
        let body = EventBody::InspectionItemRecorded {
            item_id: item_id.to_owned(),
            result,
            note,
        };
        self.inspection_event(actor, inspection_id, body, refs)
    }

    pub fn finish_inspection(
        &mut self,
        actor: &Actor,
        inspection_id: Uuid,
        location: Option<Location>,
    ) -> Result<Inspection> {
        self.inspection_event(
            actor,
            inspection_id,
            EventBody::InspectionFinished { location },
            vec![],
        )
    }

    pub fn inspection(&self, id: Uuid) -> Result<Inspection> {
        load_inspection(&self.conn, id)?
            .ok_or_else(|| CoreError::not_found("inspection", id.to_string()))
    }

    /// Inspections of a point, newest first.
    pub fn inspections_of_point(&self, point_id: &str) -> Result<Vec<Inspection>> {
        let mut st = self.conn.prepare_cached(
            "SELECT state FROM inspections WHERE point_id = ?1 ORDER BY started_at DESC",
        )?;
        let rows = st.query_map([point_id], |r| r.get::<_, String>(0))?;
        rows.map(|s| Ok(serde_json::from_str(&s?)?)).collect()
    }

    /// Inspections `inspector` started and has not finished, newest first, at most `limit`.
    pub fn open_inspections(&self, inspector: &str, limit: u32) -> Result<Vec<Inspection>> {
        let mut st = self.conn.prepare_cached(
            "SELECT state FROM inspections WHERE inspector = ?1 AND status = 'in_progress'
             ORDER BY started_at DESC LIMIT ?2",
        )?;
        let rows = st.query_map((inspector, limit), |r| r.get::<_, String>(0))?;
        rows.map(|s| Ok(serde_json::from_str(&s?)?)).collect()
    }

    /// How many inspections `inspector` started at or after `since`.
    pub fn inspections_started_since(&self, inspector: &str, since: DateTime<Utc>) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM inspections WHERE inspector = ?1 AND started_at >= ?2",
            (inspector, since.timestamp_millis()),
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Raises a problem from a failed item, prefilled with the point, the item, its category,
    /// the inspection's location and the item's photos.
    pub fn raise_problem(
        &mut self,
        actor: &Actor,
        inspection_id: Uuid,
        item_id: &str,
        description: Option<String>,
    ) -> Result<Problem> {
        let insp = self.inspection(inspection_id)?;
        let tpl = self.template(&insp.template_id, insp.template_version)?;
        let item = tpl
            .item(item_id)
            .ok_or_else(|| CoreError::not_found("checklist item", item_id))?;
        let rec = insp
            .items
            .get(item_id)
            .ok_or_else(|| CoreError::Invalid(format!("item {item_id} has not been recorded")))?;
        if !rec.failed {
            return Err(CoreError::Invalid(format!(
                "item {item_id} did not fail; only a failed item raises a problem"
            )));
        }
        let category = match &item.category {
            Some(c) => c.clone(),
            None => {
                return Err(CoreError::Invalid(format!(
                    "item {item_id} has no category; give one with the problem"
                )));
            }
        };
        let mut text = description.unwrap_or_else(|| item.text.zh.clone());
        if let Some(note) = rec.note.as_deref().filter(|n| !n.is_empty()) {
            text = format!("{text}：{note}");
        }
        let point = self.point(&insp.point_id)?;
        self.report_problem(
            actor,
            NewProblem {
                category,
                description: text,
                location: insp.start_location,
                address: point.address.clone(),
                district_id: Some(point.district_id.clone()),
                point_id: Some(point.id.clone()),
                item_id: Some(item_id.to_owned()),
                inspection_id: Some(inspection_id),
                photos: rec.photos.clone(),
                ..Default::default()
            },
        )
    }

    fn inspection_event(
        &mut self,
        actor: &Actor,
        id: Uuid,
        body: EventBody,
        photos: Vec<PhotoRef>,
    ) -> Result<Inspection> {
        self.write(|tx, ctx| {
            let ev = Event::new(
                id,
                actor,
                &ctx.device.device_id.to_string(),
                ctx.tick(),
                body,
            )
            .with_photos(photos);
            commit_inspection_event(tx, &ev)
        })
    }
}
