//! The PDF reports (issue 16) as export jobs: `case_sheets` (整改通知单), `bulletin`
//! (周通报 / 月通报) and `point_compliance` (点位达标清单), queued by `POST /console/exports`
//! and run by the same runner as the ledger's exports (`console_exports.rs`).
//!
//! A report's numbers come from the same statements the console shows them with, inside the
//! job owner's [`Scope`] as it is when the job runs: the bulletin's unit figures are the
//! ranking's (`ledger::ranking`, the cohort and rates of `fieldcheck_domain::rates`), its
//! overdue list is the ledger's `overdue` filter over the period's dispatches, a case sheet is
//! the problem and its events as the detail view reads them, and a point's standing is
//! `fieldcheck_domain::compliance`. `fieldcheck-report` lays them out (no database there).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use fieldcheck_domain::EventOutcome;
use fieldcheck_domain::compliance;
use fieldcheck_domain::event::{PhotoRole, kind_label};
use fieldcheck_domain::i18n::Lang;
use fieldcheck_domain::inspection::Inspection;
use fieldcheck_domain::problem::Problem;
use fieldcheck_domain::rates;
use fieldcheck_domain::reference::User;
use fieldcheck_domain::role::Role;
use fieldcheck_domain::scope::{DistrictTree, RecordScope, Scope};
use fieldcheck_protocol::ReferenceBundle;
use fieldcheck_protocol::console::exports::{ExportKind, ExportRequest};
use fieldcheck_protocol::console::stats::RankingPeriod;
use fieldcheck_report::{
    Bulletin, BulletinPeriod, CaseSheet, ComplianceList, Count, Fonts, Meta, OverdueLine,
    PointLine, ReportError, TimelineEntry, UnitLine,
};
use serde::{Deserialize, Serialize};

use super::console::{bad, ledger_filter};
use super::console_exports::{
    FromEvents, Names, ledger_row, page_select, parse_filter, rectification_text, stmt,
};
use super::console_stats::{calendar, report_period, tally_of};
use super::{AppState, now_ms};
use crate::blobs::BlobStore;
use crate::error::ServerError;
use crate::store::Store;
use crate::store::ledger::{
    self, Arg, Col, LedgerFilter, LedgerSort, RankKey, TopBy, reported_top,
};

/// Most problems one case-sheet job prints (each a page with photos).
pub const MAX_CASE_SHEETS: usize = 500;
/// Overdue problems a bulletin lists (the count covers them all).
pub const OVERDUE_LISTED: u32 = 200;
/// Long edge of a photo on a case sheet, in pixels (about 300 dpi at the printed size).
const SHEET_PHOTO_PX: u32 = 800;

/// What a report job was asked for, stored in the job's `filter` column as JSON.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Params {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filter: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ids: Vec<uuid::Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
}

fn today(refs: &ReferenceBundle) -> NaiveDate {
    calendar(refs).local_day(Utc::now())
}

/// Checks a report request as `POST /console/exports` receives it and gives what the job
/// stores; a wrong one is a 400 naming what is wrong.
pub(super) fn check(
    req: &ExportRequest,
    refs: &ReferenceBundle,
    tree: &DistrictTree,
) -> Result<String, ServerError> {
    let kind = req.kind.as_str();
    let period_given = req.period.is_some() || req.from.is_some() || req.to.is_some();
    let params = match req.kind {
        ExportKind::CaseSheets => {
            if period_given {
                return Err(bad(
                    "period, from and to are for the bulletin, not case_sheets",
                ));
            }
            let ids = req.ids.clone().unwrap_or_default();
            match (&req.ids, &req.filter) {
                (Some(_), Some(f)) if !f.is_null() => {
                    return Err(bad("give case_sheets either ids or a filter, not both"));
                }
                (Some(_), _) if ids.is_empty() => {
                    return Err(bad("ids is empty: name at least one problem"));
                }
                _ => {}
            }
            if ids.len() > MAX_CASE_SHEETS {
                return Err(bad(format!(
                    "case sheets are printed for at most {MAX_CASE_SHEETS} problems at once, \
                     not {}",
                    ids.len()
                )));
            }
            if req.ids.is_none() {
                ledger_filter(parse_filter(req.filter.as_ref())?, refs, tree, now_ms())?;
            }
            Params {
                filter: req.filter.clone().filter(|f| !f.is_null()),
                ids,
                ..Params::default()
            }
        }
        ExportKind::Bulletin => {
            if req.ids.is_some() || req.filter.as_ref().is_some_and(|f| !f.is_null()) {
                return Err(bad(
                    "a bulletin covers a period (period, from, to), not ids or a filter",
                ));
            }
            report_period(
                req.period.clone(),
                req.from.clone(),
                req.to.clone(),
                today(refs),
            )?;
            Params {
                period: req.period.clone(),
                from: req.from.clone(),
                to: req.to.clone(),
                ..Params::default()
            }
        }
        ExportKind::PointCompliance => {
            if req.ids.is_some()
                || period_given
                || req.filter.as_ref().is_some_and(|f| !f.is_null())
            {
                return Err(bad(format!(
                    "{kind} lists every active point in your districts; it takes no ids, \
                     filter or period"
                )));
            }
            Params::default()
        }
        _ => return Err(bad(format!("{kind} is not a report"))),
    };
    serde_json::to_string(&params).map_err(|e| bad(e.to_string()))
}

/// The fonts, found once per server (reading every font file takes a while); a failure is
/// not kept, so installing the font and queueing again works without a restart.
async fn fonts(state: &AppState) -> Result<Arc<Fonts>, ServerError> {
    let dirs = state.config.report_font_dirs.clone();
    state
        .exports
        .fonts
        .get_or_try_init(|| async move {
            tokio::task::spawn_blocking(move || Fonts::load(&dirs))
                .await
                .map_err(|e| ServerError::Io(std::io::Error::other(e.to_string())))?
                .map(Arc::new)
                .map_err(report_failed)
        })
        .await
        .cloned()
}

fn report_failed(e: ReportError) -> ServerError {
    ServerError::Io(std::io::Error::other(format!("[{}] {e}", e.code())))
}

/// Who the report is from: the owner's districts, or the city's top districts.
fn issuer(refs: &ReferenceBundle, tree: &DistrictTree, district_ids: &[String]) -> String {
    let names: Vec<String> = if district_ids.is_empty() {
        refs.districts
            .iter()
            .filter(|d| d.parent_id.is_none())
            .map(|d| d.name.zh.clone())
            .collect()
    } else {
        district_ids
            .iter()
            .filter_map(|id| tree.get(id))
            .map(|d| d.name.zh.clone())
            .collect()
    };
    names.join("、")
}

/// Where a report reads its records and photos.
pub(super) struct Sources<'a> {
    pub store: &'a dyn Store,
    pub blobs: &'a dyn BlobStore,
}

/// Runs a report job: gathers its data in the owner's scope, lays it out on a blocking thread
/// and writes the PDF to `out` (as `.part` first). Returns (download name, rows, bytes).
pub(super) async fn run(
    state: &Arc<AppState>,
    kind: ExportKind,
    stored: &str,
    owner: &User,
    out: &Path,
) -> Result<(String, u64, u64), ServerError> {
    let params: Params = serde_json::from_str(stored).map_err(|e| bad(e.to_string()))?;
    let refs = state.refs().await?;
    let tree = DistrictTree::new(&refs.districts);
    let scope = Scope::of(owner, &tree);
    let issuer = issuer(&refs, &tree, &owner.district_ids);
    let fonts = fonts(state).await?;
    let src = Sources {
        store: state.store.as_ref(),
        blobs: state.blobs.as_ref(),
    };
    render(&src, &refs, &scope, issuer, fonts, kind, &params, out).await
}

/// A report of the whole city (as an admin sees it) written to `out`: `fieldcheck-server
/// export --kind bulletin|case_sheets|point_compliance`. The request is checked as
/// `POST /console/exports` checks it. Returns (rows, bytes).
pub async fn report_to_file(
    store: Arc<dyn Store>,
    blobs: Arc<dyn BlobStore>,
    config: &crate::Config,
    req: &ExportRequest,
    out: &Path,
) -> Result<(u64, u64), ServerError> {
    let refs = store.reference().await?.map(|(_, b)| b).unwrap_or_default();
    let tree = DistrictTree::new(&refs.districts);
    let params: Params =
        serde_json::from_str(&check(req, &refs, &tree)?).map_err(|e| bad(e.to_string()))?;
    let scope = Scope {
        user_id: String::new(),
        role: Role::Admin,
        unit_id: None,
        districts: None,
    };
    let issuer = issuer(&refs, &tree, &[]);
    let dirs = config.report_font_dirs.clone();
    let fonts = tokio::task::spawn_blocking(move || Fonts::load(&dirs))
        .await
        .map_err(|e| ServerError::Io(std::io::Error::other(e.to_string())))?
        .map(Arc::new)
        .map_err(report_failed)?;
    let src = Sources {
        store: store.as_ref(),
        blobs: blobs.as_ref(),
    };
    let (_, rows, bytes) =
        render(&src, &refs, &scope, issuer, fonts, req.kind, &params, out).await?;
    Ok((rows, bytes))
}

#[allow(clippy::too_many_arguments)]
async fn render(
    src: &Sources<'_>,
    refs: &ReferenceBundle,
    scope: &Scope,
    issuer: String,
    fonts: Arc<Fonts>,
    kind: ExportKind,
    params: &Params,
    out: &Path,
) -> Result<(String, u64, u64), ServerError> {
    let cal = calendar(refs);
    let now = now_ms();
    let meta = Meta {
        issuer,
        generated_at: super::console_exports::ms_time(now),
        tz: cal.tz(),
    };
    let stamp = meta
        .generated_at
        .with_timezone(&meta.tz)
        .format("%Y%m%d-%H%M");
    let (name, rows, pdf) = match kind {
        ExportKind::CaseSheets => {
            let sheets = case_sheets(src, refs, scope, params, now).await?;
            let n = sheets.len() as u64;
            let pdf =
                lay_out(move || fieldcheck_report::case_sheets(&fonts, &meta, &sheets)).await?;
            (format!("整改通知单_{stamp}.pdf"), n, pdf)
        }
        ExportKind::Bulletin => {
            let b = bulletin(src, refs, scope, params, now).await?;
            let name = format!(
                "{}_{}-{}.pdf",
                b.period.title(),
                b.from.format("%Y%m%d"),
                b.to.format("%Y%m%d")
            );
            let n = b.units.len() as u64;
            let pdf = lay_out(move || fieldcheck_report::bulletin(&fonts, &meta, &b)).await?;
            (name, n, pdf)
        }
        ExportKind::PointCompliance => {
            let list = point_compliance(src, refs, scope).await?;
            let n = list.points.len() as u64;
            let pdf =
                lay_out(move || fieldcheck_report::point_compliance(&fonts, &meta, &list)).await?;
            (format!("点位达标清单_{stamp}.pdf"), n, pdf)
        }
        _ => return Err(bad(format!("{} is not a report", kind.as_str()))),
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await?;
    }
    let part = out.with_extension("pdf.part");
    tokio::fs::write(&part, &pdf).await?;
    tokio::fs::rename(&part, out).await?;
    Ok((name, rows, pdf.len() as u64))
}

/// Typst's layout is CPU work: off the async threads.
async fn lay_out(
    f: impl FnOnce() -> Result<Vec<u8>, ReportError> + Send + 'static,
) -> Result<Vec<u8>, ServerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServerError::Io(std::io::Error::other(e.to_string())))?
        .map_err(report_failed)
}

/// The problems of a case-sheet job: the named ones (each must be visible to the owner), or
/// the filter's in the ledger's order.
async fn case_sheets(
    src: &Sources<'_>,
    refs: &ReferenceBundle,
    scope: &Scope,
    params: &Params,
    now: i64,
) -> Result<Vec<CaseSheet>, ServerError> {
    let tree = DistrictTree::new(&refs.districts);
    let ids: Vec<uuid::Uuid> = if params.ids.is_empty() {
        let f = ledger_filter(parse_filter(params.filter.as_ref())?, refs, &tree, now)?;
        filtered_ids(src, &f, scope).await?
    } else {
        params.ids.clone()
    };
    let names = Names::new(refs);
    let mut sheets = Vec::with_capacity(ids.len());
    for id in ids {
        let p = src
            .store
            .problem(id)
            .await?
            .filter(|p| scope.sees(&RecordScope::of_problem(p)))
            .ok_or_else(|| {
                ServerError::NotFound(format!(
                    "problem {id} (it does not exist, or it is not yours to see)"
                ))
            })?;
        let events = src.store.problem_events(id).await?;
        sheets.push(case_sheet(src, &names, p, &events).await?);
    }
    Ok(sheets)
}

/// The ids the filter matches in `scope`, in the ledger's order; more than
/// [`MAX_CASE_SHEETS`] is an error that says to narrow the filter.
async fn filtered_ids(
    src: &Sources<'_>,
    f: &LedgerFilter,
    scope: &Scope,
) -> Result<Vec<uuid::Uuid>, ServerError> {
    let mut ids = Vec::new();
    let mut last = None;
    loop {
        let page = src
            .store
            .select(&[page_select(f, scope, last.as_ref())])
            .await?
            .pop()
            .unwrap_or_default();
        let n = page.len();
        for v in &page {
            let r = ledger_row(v);
            if let Ok(id) = uuid::Uuid::parse_str(&r.id) {
                ids.push(id);
            }
            last = Some(r);
        }
        if ids.len() > MAX_CASE_SHEETS {
            return Err(bad(format!(
                "the filter matches more than {MAX_CASE_SHEETS} problems; case sheets are \
                 printed for at most {MAX_CASE_SHEETS} at once: narrow the filter"
            )));
        }
        if n < super::console_exports::PAGE as usize {
            return Ok(ids);
        }
    }
}

async fn case_sheet(
    src: &Sources<'_>,
    names: &Names<'_>,
    p: Problem,
    events: &[(fieldcheck_domain::Event, EventOutcome)],
) -> Result<CaseSheet, ServerError> {
    let mut noted = FromEvents::default();
    let mut timeline = Vec::new();
    for (e, outcome) in events {
        if !matches!(outcome, EventOutcome::Applied) {
            continue;
        }
        let body = serde_json::to_value(&e.body).unwrap_or_default();
        noted.note(&e.actor, &body);
        let payload = &body["payload"];
        let note = ["note", "reason", "comment"]
            .iter()
            .find_map(|k| payload[*k].as_str())
            .unwrap_or_default()
            .to_owned();
        timeline.push(TimelineEntry {
            at: e.at(),
            what: kind_label(e.kind(), Lang::Zh).to_owned(),
            who: names.user(&e.actor),
            note,
        });
    }
    let mut before = Vec::new();
    let mut after = Vec::new();
    for ph in &p.photos {
        let side = match ph.role {
            PhotoRole::Before => &mut before,
            PhotoRole::After => &mut after,
            #[allow(unreachable_patterns)]
            _ => continue,
        };
        if side.len() >= fieldcheck_report::PHOTOS_PER_SIDE {
            continue;
        }
        // The stamped copy when there is one; the photo itself while the stamped copy has
        // not been uploaded yet.
        let jpeg = match sheet_photo(src, ph.shown()).await? {
            Some(jpeg) => Some(jpeg),
            None if ph.stamped.is_some() => sheet_photo(src, &ph.hash).await?,
            None => None,
        };
        if let Some(jpeg) = jpeg {
            side.push(jpeg);
        }
    }
    Ok(CaseSheet {
        code: p.code.clone(),
        found_at: Some(p.reported_at),
        place: names.place(p.point_id.as_deref(), &p.address),
        area: names.area(p.district_id.as_deref()),
        category: names.category(&p.category),
        item: names.item(p.item_id.as_deref()),
        description: p.description.clone(),
        before,
        after,
        unit: names.unit(p.unit_id.as_deref()),
        dispatched_at: p.dispatched_at,
        deadline: p.deadline,
        status: p.status.label(Lang::Zh).to_owned(),
        rectification: rectification_text(p.status, p.status_reason.as_deref(), Some(&noted)),
        verifier: noted
            .verifier
            .as_deref()
            .map(|u| names.user(u))
            .unwrap_or_default(),
        timeline,
    })
}

/// A stored photo scaled for print; one missing or not decoding is left out, not a failed
/// report.
async fn sheet_photo(src: &Sources<'_>, hash: &str) -> Result<Option<Vec<u8>>, ServerError> {
    if !super::valid_hash(hash) {
        return Ok(None);
    }
    let Some(bytes) = src.blobs.get(hash).await? else {
        return Ok(None);
    };
    let scaled = tokio::task::spawn_blocking(move || {
        fieldcheck_photo::thumbnail(&bytes, SHEET_PHOTO_PX, &fieldcheck_photo::Limits::default())
            .ok()
            .map(|(jpeg, _, _)| jpeg)
    })
    .await
    .map_err(|e| ServerError::Io(std::io::Error::other(e.to_string())))?;
    Ok(scaled)
}

async fn bulletin(
    src: &Sources<'_>,
    refs: &ReferenceBundle,
    scope: &Scope,
    params: &Params,
    now: i64,
) -> Result<Bulletin, ServerError> {
    let cal = calendar(refs);
    let (period, span) = report_period(
        params.period.clone(),
        params.from.clone(),
        params.to.clone(),
        today(refs),
    )?;
    let from_ms = cal.day_start(span.start).timestamp_millis();
    let to_ms = cal.day_start(span.end).timestamp_millis();
    let reported_in = |w: &mut ledger::Where| {
        let a = w.arg(Arg::Int(from_ms));
        let b = w.arg(Arg::Int(to_ms));
        format!("reported_at >= {a} AND reported_at < {b}")
    };
    let statements = [
        ledger::ranking(scope, RankKey::Unit, &[from_ms, to_ms], to_ms.min(now), now),
        ledger::count_where(scope, reported_in),
        ledger::count_where(scope, |w| {
            format!("{} AND {}", reported_in(w), rates::sql::filed_where())
        }),
        reported_top(
            scope,
            TopBy::Category,
            from_ms,
            to_ms,
            fieldcheck_report::TOP_N as u32,
        ),
        reported_top(
            scope,
            TopBy::Point,
            from_ms,
            to_ms,
            fieldcheck_report::TOP_N as u32,
        ),
    ];
    let res = src.store.select(&statements).await?;
    let names = Names::new(refs);
    let units = res[0]
        .iter()
        .filter_map(|r| {
            let id = r[0].text()?;
            Some(UnitLine {
                id: id.to_owned(),
                name: names.unit(Some(id)),
                tally: tally_of(r),
            })
        })
        .collect();
    let one = |i: usize| res[i].first().map(|r| r[0].count()).unwrap_or(0);
    let counts = |i: usize, name: &dyn Fn(&str) -> String| -> Vec<Count> {
        res[i]
            .iter()
            .filter_map(|r| {
                Some(Count {
                    name: name(r[0].text()?),
                    count: r[1].count(),
                })
            })
            .collect()
    };
    let categories = counts(3, &|c| names.category(c));
    let points = counts(4, &|p| {
        names
            .point(Some(p))
            .map(|pt| pt.name.clone())
            .unwrap_or_else(|| p.to_owned())
    });
    // The period's problems waiting past their deadline now: the ledger's own filter.
    let overdue_f = LedgerFilter {
        statuses: Vec::new(),
        categories: Vec::new(),
        unit: None,
        districts: None,
        point: None,
        points: None,
        source: None,
        reporter: None,
        reported_from_ms: None,
        reported_before_ms: None,
        dispatched_from_ms: Some(from_ms),
        dispatched_before_ms: Some(to_ms),
        overdue: Some(true),
        text: None,
        conflicts: None,
        sort: LedgerSort::Deadline,
        descending: false,
        limit: OVERDUE_LISTED,
        offset: 0,
        now_ms: now,
    };
    let page = src.store.ledger(&overdue_f, scope).await?;
    let overdue = page
        .rows
        .iter()
        .map(|r| OverdueLine {
            code: r.code.clone(),
            unit: names.unit(r.unit_id.as_deref()),
            category: names.category(&r.category),
            place: names.place(r.point_id.as_deref(), &r.address),
            deadline: super::console_exports::ms_time(r.deadline_ms.unwrap_or(now)),
        })
        .collect();
    Ok(Bulletin {
        period: match period {
            RankingPeriod::Week => BulletinPeriod::Week,
            RankingPeriod::Month => BulletinPeriod::Month,
            RankingPeriod::Quarter => BulletinPeriod::Quarter,
            RankingPeriod::Custom => BulletinPeriod::Custom,
        },
        from: span.start,
        to: span.end.pred_opt().unwrap_or(span.end),
        reported: one(1),
        filed: one(2),
        units,
        categories,
        points,
        overdue,
        overdue_total: page.total,
    })
}

/// Every active point the owner's districts hold, its last finished inspection and its open
/// problems (inside the owner's scope).
async fn point_compliance(
    src: &Sources<'_>,
    refs: &ReferenceBundle,
    scope: &Scope,
) -> Result<ComplianceList, ServerError> {
    let whole_city = scope.role == Role::Admin;
    let points: Vec<&fieldcheck_domain::reference::Point> = refs
        .points
        .iter()
        .filter(|p| p.active && (whole_city || scope.in_districts(Some(&p.district_id))))
        .collect();
    let res = src
        .store
        .select(&[
            stmt(
                "SELECT point_id, state FROM inspections WHERE status = 'finished'",
                Vec::new(),
                vec![Col::Text, Col::Text],
            ),
            ledger::per_point(scope, &compliance::open_where()),
        ])
        .await?;
    let mut last: HashMap<String, (DateTime<Utc>, f64)> = HashMap::new();
    for r in &res[0] {
        let Some(i) = r[1]
            .text()
            .and_then(|s| serde_json::from_str::<Inspection>(s).ok())
        else {
            continue;
        };
        let Some(done) = i.finished_at else { continue };
        let slot = last
            .entry(i.point_id.clone())
            .or_insert((done, i.score.percent));
        if done > slot.0 {
            *slot = (done, i.score.percent);
        }
    }
    let open: BTreeMap<&str, u64> = res[1]
        .iter()
        .filter_map(|r| Some((r[0].text()?, r[1].count())))
        .collect();
    let names = Names::new(refs);
    Ok(ComplianceList {
        points: points
            .into_iter()
            .map(|p| {
                let l = last.get(&p.id);
                PointLine {
                    point_type: p.point_type,
                    district: names.area(Some(&p.district_id)),
                    name: p.name.clone(),
                    address: p.address.clone(),
                    last_score: l.map(|l| l.1),
                    last_inspected_at: l.map(|l| l.0),
                    open_problems: open.get(p.id.as_str()).copied().unwrap_or(0),
                }
            })
            .collect(),
    })
}
