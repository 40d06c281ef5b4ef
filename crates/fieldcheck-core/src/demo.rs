//! A demo device: the demo city plus a handful of problems in every stage of the loop, made
//! through the same actions people take (so their history is real).

use chrono::Duration;
use fieldcheck_domain::event::RejectReason;
use fieldcheck_domain::{Location, LocationSource, Severity};
use fieldcheck_protocol::demo_bundle;

use crate::error::Result;
use crate::problems::{NewProblem, ProblemAction};
use crate::store::Store;

/// Imports the demo city and, on an empty ledger, records sample problems. Returns how many
/// problems were created (0 when the ledger already had some).
pub fn seed_demo(store: &mut Store) -> Result<usize> {
    store.import_reference(&demo_bundle())?;
    if store.stats()?.total > 0 {
        return Ok(0);
    }
    let vol = store.actor("usr-vol-1")?;
    let insp = store.actor("usr-insp-1")?;
    let admin = store.actor("usr-admin-1")?;
    let samples = [
        (
            "SR-02",
            "东街农贸市场东门外暴露垃圾，约2平方米",
            "p-009",
            Severity::Normal,
        ),
        ("JM-04", "学校门口流动摊贩占道经营", "p-020", Severity::High),
        ("JT-01", "路口人行道机动车乱停放", "p-014", Severity::Normal),
        ("XC-01", "小巷电线杆张贴小广告多处", "p-001", Severity::Low),
        (
            "SS-01",
            "人行道井盖缺失，存在安全隐患",
            "p-031",
            Severity::Urgent,
        ),
        ("SR-08", "老旧小区楼道堆放杂物", "p-025", Severity::Normal),
    ];
    let mut ids = Vec::new();
    for (i, (cat, desc, point, sev)) in samples.into_iter().enumerate() {
        let who = if i % 2 == 0 { &vol } else { &insp };
        let p = store.point(point)?;
        let id = store
            .report_problem(
                who,
                NewProblem {
                    category: cat.into(),
                    description: desc.into(),
                    point_id: Some(point.into()),
                    location: Some(Location {
                        lat: p.location.lat + 0.00012,
                        lon: p.location.lon - 0.00008,
                        accuracy_m: Some(8.0),
                        source: LocationSource::Gps,
                    }),
                    severity: sev,
                    ..Default::default()
                },
            )?
            .id;
        ids.push((id, p));
    }
    // Move them along the loop to different stages.
    for (n, (id, point)) in ids.iter().enumerate().take(5) {
        store.act(&admin, *id, ProblemAction::File { note: None })?;
        if n == 4 {
            store.act(
                &admin,
                *id,
                ProblemAction::Reject {
                    reason: RejectReason::Invalid {
                        reason: "已由供水公司处理完毕".into(),
                    },
                },
            )?;
            continue;
        }
        let unit = point
            .sector_unit_ids
            .first()
            .or(point.territorial_unit_id.as_ref())
            .cloned()
            .unwrap_or_else(|| "u-hwc".into());
        let deadline = (n == 2).then(|| store.now() + Duration::days(5));
        store.act(
            &admin,
            *id,
            ProblemAction::Dispatch {
                unit_id: unit.clone(),
                deadline,
                note: None,
            },
        )?;
        if n == 1 {
            let handler = store
                .export_reference()?
                .users
                .into_iter()
                .find(|u| u.unit_id.as_deref() == Some(unit.as_str()));
            if let Some(h) = handler {
                store.act(
                    &store.actor(&h.id)?,
                    *id,
                    ProblemAction::Accept { note: None },
                )?;
            }
        }
    }
    Ok(ids.len())
}
