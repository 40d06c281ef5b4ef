//! What a report from outside the enrolled devices needs, whichever edge it came through (the
//! volunteers' page, `volunteer.rs`; Open311, `open311.rs`): its photo through the devices'
//! pipeline, its place from the reference data as a phone places a GPS report, and the store's
//! push under the reporter's own scope.

use axum::body::Bytes;
use fieldcheck_domain::event::{EventBody, ProblemReported};
use fieldcheck_domain::placement::{Placement, place};
use fieldcheck_domain::reference::{LatLon, Point, User};
use fieldcheck_domain::{Event, EventOutcome, Location, LocationSource, Severity};
use fieldcheck_protocol::ReferenceBundle;
use fieldcheck_protocol::sync::PushStatus;

use super::AppState;
use crate::error::ServerError;
use crate::policy::Viewer;
use crate::store::AppendCtx;

/// Stores an uploaded photo's display copy (orientation applied, decode bounded, metadata
/// such as EXIF and GPS stripped, re-encoded) as `user`'s complete upload; its hash. A file
/// that is not a photo we take is `Malformed`, saying why.
pub(super) async fn store_photo(
    state: &AppState,
    user: &User,
    refs: &ReferenceBundle,
    bytes: Bytes,
) -> Result<String, ServerError> {
    let max = state
        .config
        .max_blob_bytes
        .min(fieldcheck_photo::Limits::default().max_bytes);
    let limits = fieldcheck_photo::Limits {
        max_bytes: max,
        ..fieldcheck_photo::Limits::default()
    };
    let photo = tokio::task::spawn_blocking(move || fieldcheck_photo::ingest(&bytes, &limits))
        .await
        .map_err(|e| ServerError::Io(std::io::Error::other(e.to_string())))?
        .map_err(|e| ServerError::Malformed(format!("the photo is not one we take: {e}")))?;
    let hash = photo.display_sha256.clone();
    let size = photo.display.len() as u64;
    let viewer = Viewer::new(user.clone(), refs);
    let readable = state.uploads.may_read(&viewer, &hash).await?;
    match state
        .uploads
        .put(
            &hash,
            &user.id,
            readable,
            0,
            Some(size),
            Bytes::from(photo.display),
        )
        .await
    {
        Ok(crate::blobs::Put::Stored(_) | crate::blobs::Put::Completed(_)) => Ok(hash),
        // The same photo half-sent before: finished from what is staged.
        Err(ServerError::BadOffset { .. }) | Ok(crate::blobs::Put::Staged(_)) => {
            let size_now = state.blobs.size(&hash).await?;
            let st = state
                .uploads
                .check(&hash, &user.id, size_now, readable)
                .await?;
            if st.complete {
                Ok(hash)
            } else {
                Err(ServerError::Malformed(
                    "an earlier upload of this photo is still in progress; try again".into(),
                ))
            }
        }
        Err(e) => Err(e),
    }
}

/// Where a report from outside is: its district, point, placement, address and location.
#[derive(Debug, Clone, Default)]
pub(super) struct Placed {
    pub district_id: Option<String>,
    pub point_id: Option<String>,
    pub placement: Option<Placement>,
    pub address: String,
    pub location: Option<Location>,
}

impl Placed {
    /// The report of a problem here: `code`, `category`, `description` (normal severity; no
    /// checklist item behind it).
    pub fn report(self, code: String, category: String, description: String) -> EventBody {
        EventBody::ProblemReported(Box::new(ProblemReported {
            code,
            category,
            description,
            location: self.location,
            address: self.address,
            district_id: self.district_id,
            point_id: self.point_id,
            item_id: None,
            inspection_id: None,
            severity: Severity::Normal,
            placement: self.placement,
        }))
    }
}

/// Places a report given a position (`fix`, WGS-84, with its accuracy), a registered point,
/// and/or a typed address, as a phone places a GPS report (`placement::place`); a point given
/// is the place itself.
pub(super) fn place_report(
    refs: &ReferenceBundle,
    reporter: &User,
    fix: Option<(LatLon, Option<f64>)>,
    point: Option<&Point>,
    address: String,
) -> Placed {
    let mut out = Placed {
        address,
        location: fix.map(|(f, accuracy_m)| Location {
            lat: f.lat,
            lon: f.lon,
            accuracy_m,
            source: LocationSource::Gps,
        }),
        ..Placed::default()
    };
    if let Some(p) = point {
        out.district_id = Some(p.district_id.clone());
        out.point_id = Some(p.id.clone());
        if out.address.is_empty() {
            out.address = p.address.clone();
        }
        if out.location.is_none() {
            out.location = Some(Location {
                lat: p.location.lat,
                lon: p.location.lon,
                accuracy_m: None,
                source: LocationSource::Typed,
            });
        }
    } else if let Some((f, _)) = fix
        && let Some(placed) = place(f, &refs.points, &refs.districts, &reporter.district_ids)
    {
        if let Some(p) = placed
            .point_id
            .as_deref()
            .and_then(|id| refs.points.iter().find(|p| p.id == id))
            && out.address.is_empty()
        {
            out.address = p.address.clone();
        }
        out.district_id = Some(placed.district_id);
        out.point_id = placed.point_id;
        out.placement = Some(placed.placement);
    }
    out
}

/// How the store took one event pushed from an outside edge.
pub(super) enum Taken {
    /// Stored (or stored before: a resend).
    Stored { already: bool },
    /// Refused: the code and the sentence saying why; nothing stored.
    Refused { code: String, message: String },
}

/// Pushes one event as `reporter` from the edge `device` (stored as the event's device),
/// through the same checks as a device's push.
pub(super) async fn push_one(
    state: &AppState,
    refs: &std::sync::Arc<ReferenceBundle>,
    reporter: &User,
    device: &str,
    ev: Event,
) -> Result<Taken, ServerError> {
    let mut viewer = Viewer::new(reporter.clone(), refs);
    viewer.device = Some(device.to_owned());
    let ctx = AppendCtx {
        viewer: &viewer,
        refs,
        now_ms: super::now_ms(),
        max_future_ms: (state.config.max_clock_skew_secs as i64).saturating_mul(1000),
    };
    let answer = state.store.push(vec![ev], &ctx).await?;
    Ok(
        match answer
            .results
            .into_iter()
            .next()
            .map(|r| (r.status, r.outcome))
        {
            // Kept in the record's history as rejected (it was checked before, so only a change
            // that landed meanwhile does this): the person is told, as for a refusal.
            Some((PushStatus::Applied, Some(EventOutcome::Rejected { code, message }))) => {
                Taken::Refused {
                    code: code.as_str().to_owned(),
                    message,
                }
            }
            Some((PushStatus::Applied, _)) => Taken::Stored { already: false },
            Some((PushStatus::Duplicate, _)) => Taken::Stored { already: true },
            Some((PushStatus::Refused { code, message }, _)) => Taken::Refused { code, message },
            None => Taken::Refused {
                code: "internal".into(),
                message: "the server did not take the report; send it again".into(),
            },
        },
    )
}
