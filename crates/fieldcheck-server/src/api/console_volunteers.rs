//! The office's volunteers page (issue 17): teams with their invite links and QR codes, the
//! volunteers to approve and name leaders of, per-volunteer and per-team counts of reports
//! and of those the office confirmed (the teams' 积分), and the city's anonymous switch.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::DateTime;
use fieldcheck_protocol::ApiError;
use fieldcheck_protocol::volunteer::{
    MemberDecision, TeamInput, TeamRow, VolunteerRow, VolunteerSettings, VolunteersPage,
};
use utoipa::OpenApi;

use super::admin::setup_refusal;
use super::console::ConsoleCaller;
use super::console_setup::admin;
use super::volunteer::{invite_url, member_rows, row_of};
use super::{ApiJson, AppState, LocalAddr, St};
use crate::error::ServerError;
use crate::volunteers::{self as vols, Team};

/// This module's operations, merged into the API document (`openapi.rs`).
#[derive(OpenApi)]
#[openapi(
    paths(page, add_team, rotate_invite, decide, settings),
    components(schemas(TeamRow, TeamInput, VolunteersPage, VolunteerSettings))
)]
pub(super) struct Api;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/volunteers", get(page))
        .route("/console/volunteers/teams", post(add_team))
        .route("/console/volunteers/teams/{id}/invite", post(rotate_invite))
        .route("/console/volunteers/members/{user_id}", post(decide))
        .route("/console/volunteers/settings", put(settings))
}

/// The page's address as people outside reach it: `public_url`, else this server's own.
fn server_url(state: &AppState, local: Option<Extension<LocalAddr>>) -> String {
    let public = state.config.public_url.trim_end_matches('/');
    if !public.is_empty() {
        return public.to_owned();
    }
    match local {
        Some(Extension(LocalAddr(addr))) => format!("http://{addr}"),
        None => format!("http://{}", state.config.bind),
    }
}

fn team_row(t: &Team, server: &str, rows: &[VolunteerRow]) -> Result<TeamRow, ServerError> {
    let url = invite_url(server, &t.invite_code);
    let members: Vec<&VolunteerRow> = rows.iter().filter(|v| v.team_id == t.id).collect();
    Ok(TeamRow {
        id: t.id.clone(),
        name: t.name.clone(),
        district_id: t.district_id.clone(),
        invite_qr: crate::qr::svg(&url).map_err(|e| ServerError::Malformed(e.to_string()))?,
        invite_url: url,
        members: members.len() as u64,
        pending: members
            .iter()
            .filter(|v| v.status == fieldcheck_protocol::volunteer::VolunteerStatus::Pending)
            .count() as u64,
        reports: members.iter().map(|v| v.reports).sum(),
        confirmed: members.iter().map(|v| v.confirmed).sum(),
        created_at: DateTime::from_timestamp_millis(t.created_at_ms).unwrap_or_default(),
    })
}

async fn whole_page(
    state: &AppState,
    local: Option<Extension<LocalAddr>>,
) -> Result<VolunteersPage, ServerError> {
    let store = state.store.as_ref();
    let counts: HashMap<String, (u64, u64)> = vols::report_counts(store).await?;
    let volunteers = member_rows(state, None, &counts, false).await?;
    let server = server_url(state, local);
    let teams = vols::teams(store)
        .await?
        .iter()
        .map(|t| team_row(t, &server, &volunteers))
        .collect::<Result<Vec<_>, _>>()?;
    let (anonymous_count, anonymous_confirmed) = counts
        .get(vols::ANONYMOUS_USER)
        .copied()
        .unwrap_or_default();
    Ok(VolunteersPage {
        anonymous_reports: vols::anonymous_reports(store).await?,
        anonymous_count,
        anonymous_confirmed,
        teams,
        volunteers,
    })
}

/// Teams, volunteers and their counts, and the anonymous switch.
#[utoipa::path(get, path = "/api/v1/console/volunteers", tag = "console",
    responses(
        (status = 200, description = "Teams (with invite link and QR), volunteers (phones in full), counts", body = VolunteersPage),
        (status = 401, description = "Not signed in (`not_signed_in`), session expired (`session_expired`)", body = ApiError),
        (status = 403, description = "Not the office (`forbidden`), or a role without console (`no_console_access`)", body = ApiError),
    ),
    security(("console_session" = [])))]
pub(super) async fn page(
    State(state): St,
    caller: ConsoleCaller,
    local: Option<Extension<LocalAddr>>,
) -> Result<Json<VolunteersPage>, ServerError> {
    admin(&caller)?;
    Ok(Json(whole_page(&state, local).await?))
}

/// A new team with its invite link.
#[utoipa::path(post, path = "/api/v1/console/volunteers/teams", tag = "console",
    request_body = TeamInput,
    responses(
        (status = 200, description = "The team", body = TeamRow),
        (status = 400, description = "No name, one over 64 characters, or an unknown district (`malformed_request`)", body = ApiError),
        (status = 403, description = "Not the office (`forbidden`); a bad CSRF token or another site (`csrf_rejected`)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = [])))]
pub(super) async fn add_team(
    State(state): St,
    caller: ConsoleCaller,
    local: Option<Extension<LocalAddr>>,
    ApiJson(input): ApiJson<TeamInput>,
) -> Result<Json<TeamRow>, ServerError> {
    admin(&caller)?;
    let refs = state.refs().await?;
    let district = input
        .district_id
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    if let Some(d) = district
        && !refs.districts.iter().any(|x| x.id == d)
    {
        return Err(ServerError::Malformed(format!(
            "district_id: no district {d:?}"
        )));
    }
    let team = vols::add_team(state.store.as_ref(), &caller.user.id, &input.name, district)
        .await
        .map_err(setup_refusal)?;
    Ok(Json(team_row(&team, &server_url(&state, local), &[])?))
}

/// A new invite link for a team; the old one stops working.
#[utoipa::path(post, path = "/api/v1/console/volunteers/teams/{id}/invite", tag = "console",
    params(("id" = String, Path, description = "The team")),
    responses(
        (status = 200, description = "The team with its new link", body = TeamRow),
        (status = 403, description = "Not the office (`forbidden`); a bad CSRF token (`csrf_rejected`)", body = ApiError),
        (status = 404, description = "No such team (`not_found`)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = [])))]
pub(super) async fn rotate_invite(
    State(state): St,
    caller: ConsoleCaller,
    local: Option<Extension<LocalAddr>>,
    Path(id): Path<String>,
) -> Result<Json<TeamRow>, ServerError> {
    admin(&caller)?;
    let team = vols::rotate_invite(state.store.as_ref(), &caller.user.id, &id)
        .await
        .map_err(setup_refusal)?
        .ok_or_else(|| ServerError::NotFound(format!("team {id}")))?;
    let counts = vols::report_counts(state.store.as_ref()).await?;
    let rows = member_rows(&state, Some(&team.id), &counts, false).await?;
    Ok(Json(team_row(&team, &server_url(&state, local), &rows)?))
}

/// Approves or turns down a volunteer, or names or unnames them their team's leader.
#[utoipa::path(post, path = "/api/v1/console/volunteers/members/{user_id}", tag = "console",
    params(("user_id" = String, Path, description = "The volunteer")),
    request_body = MemberDecision,
    responses(
        (status = 200, description = "The volunteer as decided (a leader is always approved)", body = VolunteerRow),
        (status = 400, description = "A status other than approved/rejected (`malformed_request`)", body = ApiError),
        (status = 403, description = "Not the office (`forbidden`); a bad CSRF token (`csrf_rejected`)", body = ApiError),
        (status = 404, description = "No such volunteer (`not_found`)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = [])))]
pub(super) async fn decide(
    State(state): St,
    caller: ConsoleCaller,
    Path(user_id): Path<String>,
    ApiJson(d): ApiJson<MemberDecision>,
) -> Result<Json<VolunteerRow>, ServerError> {
    admin(&caller)?;
    let store = state.store.as_ref();
    // Naming a leader approves them (a leader approves others).
    let status = match (d.status, d.leader) {
        (None, Some(true)) => Some(fieldcheck_protocol::volunteer::VolunteerStatus::Approved),
        (s, _) => s,
    };
    let after = vols::decide(store, &caller.user.id, &user_id, status, d.leader)
        .await
        .map_err(setup_refusal)?
        .ok_or_else(|| ServerError::NotFound(format!("volunteer {user_id}")))?;
    let refs = state.refs().await?;
    let counts = vols::report_counts(store).await?;
    Ok(Json(row_of(&after, &refs, &counts, false)))
}

/// Switches anonymous citizen reports on the page (off by default).
#[utoipa::path(put, path = "/api/v1/console/volunteers/settings", tag = "console",
    request_body = VolunteerSettings,
    responses(
        (status = 200, description = "The volunteers page as it now stands", body = VolunteersPage),
        (status = 403, description = "Not the office (`forbidden`); a bad CSRF token (`csrf_rejected`)", body = ApiError),
    ),
    security(("console_session" = [], "console_csrf" = [])))]
pub(super) async fn settings(
    State(state): St,
    caller: ConsoleCaller,
    local: Option<Extension<LocalAddr>>,
    ApiJson(s): ApiJson<VolunteerSettings>,
) -> Result<Json<VolunteersPage>, ServerError> {
    admin(&caller)?;
    vols::set_anonymous_reports(state.store.as_ref(), &caller.user.id, s.anonymous_reports)
        .await
        .map_err(setup_refusal)?;
    Ok(Json(whole_page(&state, local).await?))
}
