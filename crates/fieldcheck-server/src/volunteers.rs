//! Volunteer teams, their volunteers, the public page's sessions and the city's anonymous
//! switch (issue 17; migration 0021). The HTTP edges are `api/volunteer.rs` (the page) and
//! `api/console_volunteers.rs` (the office).
//!
//! A volunteer is a user of role volunteer in the reference data like every user — so devices
//! and the console name their reports — but their phone stays here, never in the reference
//! data that every device pulls.

use std::collections::HashMap;

use fieldcheck_domain::role::Role;
use fieldcheck_protocol::console::setup::UserInput;
use fieldcheck_protocol::volunteer::VolunteerStatus;

use crate::auth;
use crate::error::StoreError;
use crate::setup::{self, SetupError};
use crate::store::Store;
use crate::store::ledger::{Arg, Col, Value, stmt};

/// The user every anonymous citizen report comes from (created when the office first switches
/// anonymous reports on). Whose report it is, is the page session's (`public_reports`).
pub const ANONYMOUS_USER: &str = "citizen-anonymous";
const ANONYMOUS_NAME: &str = "市民（匿名）";

/// How long a page session lasts without use: a volunteer opens the page now and then, and
/// should not have to join again each time.
pub const SESSION_IDLE_MS: i64 = 180 * 24 * 3600 * 1000;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A team as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub district_id: Option<String>,
    pub invite_code: String,
    pub created_at_ms: i64,
}

const TEAM_COLUMNS: &str = "id, name, district_id, invite_code, created_at";
const TEAM_TYPES: [Col; 5] = [Col::Text, Col::Text, Col::Text, Col::Text, Col::Int];

fn team_row(v: &[Value]) -> Option<Team> {
    Some(Team {
        id: v[0].text()?.to_owned(),
        name: v[1].text()?.to_owned(),
        district_id: v[2].text().map(str::to_owned),
        invite_code: v[3].text()?.to_owned(),
        created_at_ms: v[4].int(),
    })
}

/// A volunteer as stored (their name is the user's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volunteer {
    pub user_id: String,
    pub team_id: String,
    pub phone: String,
    pub status: VolunteerStatus,
    pub leader: bool,
    pub joined_at_ms: i64,
}

const VOLUNTEER_COLUMNS: &str = "user_id, team_id, phone, status, leader, joined_at";
const VOLUNTEER_TYPES: [Col; 6] = [
    Col::Text,
    Col::Text,
    Col::Text,
    Col::Text,
    Col::Int,
    Col::Int,
];

fn volunteer_row(v: &[Value]) -> Option<Volunteer> {
    Some(Volunteer {
        user_id: v[0].text()?.to_owned(),
        team_id: v[1].text()?.to_owned(),
        phone: v[2].text()?.to_owned(),
        status: VolunteerStatus::parse(v[3].text()?)?,
        leader: v[4].int() != 0,
        joined_at_ms: v[5].int(),
    })
}

/// An invite code: 128 random bits, URL-safe (the link is shared in chat groups).
fn new_invite_code() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Checks a team's name: 1 to 64 characters, not like a spreadsheet formula.
fn check_team_name(name: &str) -> Result<String, SetupError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(SetupError::InvalidUser(
            "a team name of 1 to 64 characters".into(),
        ));
    }
    if fieldcheck_refdata::plan::looks_like_formula(name) {
        return Err(SetupError::InvalidUser(format!(
            "{name:?} starts like a spreadsheet formula"
        )));
    }
    Ok(name.to_owned())
}

/// Adds a team with a fresh invite code.
pub async fn add_team(
    store: &dyn Store,
    actor: &str,
    name: &str,
    district_id: Option<&str>,
) -> Result<Team, SetupError> {
    let name = check_team_name(name)?;
    let id = format!("team-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut args = vec![
        Arg::Text(id.clone()),
        Arg::Text(name.clone()),
        Arg::Text(new_invite_code()),
        Arg::Text(actor.to_owned()),
        Arg::Int(now_ms()),
    ];
    let district = match district_id.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => {
            args.push(Arg::Text(d.to_owned()));
            "$6"
        }
        None => "NULL",
    };
    let rows = store
        .write(&[stmt(
            format!(
                "INSERT INTO volunteer_teams (id, name, invite_code, created_by, created_at, \
                 district_id) VALUES ($1, $2, $3, $4, $5, {district}) RETURNING {TEAM_COLUMNS}"
            ),
            args,
            TEAM_TYPES.to_vec(),
        )])
        .await?;
    let team = rows[0]
        .first()
        .and_then(|r| team_row(r))
        .ok_or_else(|| StoreError::Corrupt("team insert returned nothing".into()))?;
    setup::audit(
        store,
        actor,
        "volunteer_team.add",
        &id,
        None,
        Some(serde_json::json!({"name": name, "district_id": team.district_id})),
    )
    .await?;
    Ok(team)
}

/// Gives a team a new invite code: the old link stops working. `None`: no such team.
pub async fn rotate_invite(
    store: &dyn Store,
    actor: &str,
    team_id: &str,
) -> Result<Option<Team>, SetupError> {
    let rows = store
        .write(&[stmt(
            format!(
                "UPDATE volunteer_teams SET invite_code = $1 WHERE id = $2 \
                 RETURNING {TEAM_COLUMNS}"
            ),
            vec![Arg::Text(new_invite_code()), Arg::Text(team_id.to_owned())],
            TEAM_TYPES.to_vec(),
        )])
        .await?;
    let team = rows[0].first().and_then(|r| team_row(r));
    if team.is_some() {
        setup::audit(store, actor, "volunteer_team.invite", team_id, None, None).await?;
    }
    Ok(team)
}

pub async fn teams(store: &dyn Store) -> Result<Vec<Team>, StoreError> {
    let rows = store
        .select(&[stmt(
            format!("SELECT {TEAM_COLUMNS} FROM volunteer_teams ORDER BY created_at, id"),
            vec![],
            TEAM_TYPES.to_vec(),
        )])
        .await?;
    Ok(rows[0].iter().filter_map(|r| team_row(r)).collect())
}

async fn team_where(
    store: &dyn Store,
    column: &str,
    value: &str,
) -> Result<Option<Team>, StoreError> {
    let rows = store
        .select(&[stmt(
            format!("SELECT {TEAM_COLUMNS} FROM volunteer_teams WHERE {column} = $1"),
            vec![Arg::Text(value.to_owned())],
            TEAM_TYPES.to_vec(),
        )])
        .await?;
    Ok(rows[0].first().and_then(|r| team_row(r)))
}

pub async fn team(store: &dyn Store, id: &str) -> Result<Option<Team>, StoreError> {
    team_where(store, "id", id).await
}

/// The team whose current invite code this is.
pub async fn team_by_invite(store: &dyn Store, code: &str) -> Result<Option<Team>, StoreError> {
    // Not a code we make: not worth a lookup.
    if code.len() != 32 || !code.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    team_where(store, "invite_code", code).await
}

/// A mainland China mobile number: 11 digits starting with 1 (spaces and dashes ignored).
pub fn normalize_phone(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (digits.len() == 11 && digits.starts_with('1') && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits)
}

/// The phone with its middle four digits hidden, as a team leader sees a member's.
pub fn masked_phone(phone: &str) -> String {
    if phone.len() == 11 && phone.is_ascii() {
        format!("{}****{}", &phone[..3], &phone[7..])
    } else {
        "****".into()
    }
}

/// Joins `team` as `name` with `phone` (already normalized): a new volunteer, pending; or,
/// when this phone joined the team before (a new phone, a cleared browser), the same volunteer
/// with the new name, pending again and signed out everywhere else — an approval is needed
/// again, so a phone number alone never takes over someone's reports.
pub async fn join(
    store: &dyn Store,
    team: &Team,
    name: &str,
    phone: &str,
) -> Result<Volunteer, SetupError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 32 {
        return Err(SetupError::InvalidUser(
            "a name of 1 to 32 characters".into(),
        ));
    }
    let existing = store
        .select(&[stmt(
            format!("SELECT {VOLUNTEER_COLUMNS} FROM volunteers WHERE team_id = $1 AND phone = $2"),
            vec![Arg::Text(team.id.clone()), Arg::Text(phone.to_owned())],
            VOLUNTEER_TYPES.to_vec(),
        )])
        .await?;
    let now = now_ms();
    if let Some(v) = existing[0].first().and_then(|r| volunteer_row(r)) {
        setup::edit_user(
            store,
            &v.user_id,
            &v.user_id,
            UserInput {
                name: Some(name.to_owned()),
                ..UserInput::default()
            },
        )
        .await?;
        let rows = store
            .write(&[
                stmt(
                    "DELETE FROM volunteer_sessions WHERE user_id = $1",
                    vec![Arg::Text(v.user_id.clone())],
                    vec![],
                ),
                stmt(
                    format!(
                        "UPDATE volunteers SET status = 'pending', leader = 0, joined_at = $1, \
                         decided_by = NULL, decided_at = NULL WHERE user_id = $2 \
                         RETURNING {VOLUNTEER_COLUMNS}"
                    ),
                    vec![Arg::Int(now), Arg::Text(v.user_id.clone())],
                    VOLUNTEER_TYPES.to_vec(),
                ),
            ])
            .await?;
        return rows[1]
            .first()
            .and_then(|r| volunteer_row(r))
            .ok_or_else(|| SetupError::UnknownUser(v.user_id));
    }
    let user_id = format!("vol-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    setup::add_user(
        store,
        &user_id,
        UserInput {
            id: Some(user_id.clone()),
            name: Some(name.to_owned()),
            role: Some(Role::Volunteer),
            unit_id: None,
            district_ids: Some(team.district_id.iter().cloned().collect()),
            // Kept in `volunteers`, not in the reference data every device pulls.
            phone: None,
            password: None,
        },
    )
    .await?;
    let rows = store
        .write(&[stmt(
            format!(
                "INSERT INTO volunteers (user_id, team_id, phone, status, leader, joined_at) \
                 VALUES ($1, $2, $3, 'pending', 0, $4) RETURNING {VOLUNTEER_COLUMNS}"
            ),
            vec![
                Arg::Text(user_id.clone()),
                Arg::Text(team.id.clone()),
                Arg::Text(phone.to_owned()),
                Arg::Int(now),
            ],
            VOLUNTEER_TYPES.to_vec(),
        )])
        .await?;
    rows[0]
        .first()
        .and_then(|r| volunteer_row(r))
        .ok_or(SetupError::UnknownUser(user_id))
}

pub async fn volunteer(store: &dyn Store, user_id: &str) -> Result<Option<Volunteer>, StoreError> {
    let rows = store
        .select(&[stmt(
            format!("SELECT {VOLUNTEER_COLUMNS} FROM volunteers WHERE user_id = $1"),
            vec![Arg::Text(user_id.to_owned())],
            VOLUNTEER_TYPES.to_vec(),
        )])
        .await?;
    Ok(rows[0].first().and_then(|r| volunteer_row(r)))
}

/// Every volunteer (of one team), pending first, then by when they joined.
pub async fn volunteers(
    store: &dyn Store,
    team_id: Option<&str>,
) -> Result<Vec<Volunteer>, StoreError> {
    let (filter, args) = match team_id {
        Some(t) => ("WHERE team_id = $1", vec![Arg::Text(t.to_owned())]),
        None => ("", vec![]),
    };
    let rows = store
        .select(&[stmt(
            format!(
                "SELECT {VOLUNTEER_COLUMNS} FROM volunteers {filter} \
                 ORDER BY CASE status WHEN 'pending' THEN 0 ELSE 1 END, joined_at, user_id"
            ),
            args,
            VOLUNTEER_TYPES.to_vec(),
        )])
        .await?;
    Ok(rows[0].iter().filter_map(|r| volunteer_row(r)).collect())
}

/// Approves or turns down a volunteer and/or makes them their team's leader. A volunteer
/// turned down is signed out of the page. `None`: no such volunteer.
pub async fn decide(
    store: &dyn Store,
    actor: &str,
    user_id: &str,
    status: Option<VolunteerStatus>,
    leader: Option<bool>,
) -> Result<Option<Volunteer>, SetupError> {
    let Some(before) = volunteer(store, user_id).await? else {
        return Ok(None);
    };
    if let Some(s) = status
        && !matches!(s, VolunteerStatus::Approved | VolunteerStatus::Rejected)
    {
        return Err(SetupError::InvalidUser(format!(
            "a volunteer is approved or rejected, not {}",
            s.as_str()
        )));
    }
    let status = status.unwrap_or(before.status);
    // Only an approved volunteer leads a team.
    let leader = leader.unwrap_or(before.leader) && status == VolunteerStatus::Approved;
    let mut stmts = vec![stmt(
        format!(
            "UPDATE volunteers SET status = $1, leader = $2, decided_by = $3, decided_at = $4 \
             WHERE user_id = $5 RETURNING {VOLUNTEER_COLUMNS}"
        ),
        vec![
            Arg::Text(status.as_str().to_owned()),
            Arg::Int(i64::from(leader)),
            Arg::Text(actor.to_owned()),
            Arg::Int(now_ms()),
            Arg::Text(user_id.to_owned()),
        ],
        VOLUNTEER_TYPES.to_vec(),
    )];
    if status == VolunteerStatus::Rejected {
        stmts.push(stmt(
            "DELETE FROM volunteer_sessions WHERE user_id = $1",
            vec![Arg::Text(user_id.to_owned())],
            vec![],
        ));
    }
    let rows = store.write(&stmts).await?;
    let after = rows[0].first().and_then(|r| volunteer_row(r));
    setup::audit(
        store,
        actor,
        "volunteer.decide",
        user_id,
        Some(serde_json::json!({"status": before.status.as_str(), "leader": before.leader})),
        Some(serde_json::json!({"status": status.as_str(), "leader": leader})),
    )
    .await?;
    Ok(after)
}

/// Reports made and confirmed (`fieldcheck_domain::public::is_confirmed`) per volunteer user.
pub async fn report_counts(store: &dyn Store) -> Result<HashMap<String, (u64, u64)>, StoreError> {
    let rows = store
        .select(&[stmt(
            format!(
                "SELECT reporter, COUNT(*), CAST(SUM(CASE WHEN {} THEN 1 ELSE 0 END) AS BIGINT) \
                 FROM problems WHERE reporter_role = 'volunteer' GROUP BY reporter",
                fieldcheck_domain::public::sql::confirmed()
            ),
            vec![],
            vec![Col::Text, Col::Int, Col::Int],
        )])
        .await?;
    Ok(rows[0]
        .iter()
        .filter_map(|r| Some((r[0].text()?.to_owned(), (r[1].count(), r[2].count()))))
        .collect())
}

/// Whether citizens may report without joining a team.
pub async fn anonymous_reports(store: &dyn Store) -> Result<bool, StoreError> {
    let rows = store
        .select(&[stmt(
            "SELECT anonymous_reports FROM public_settings WHERE id = 1",
            vec![],
            vec![Col::Int],
        )])
        .await?;
    Ok(rows[0].first().is_some_and(|r| r[0].int() != 0))
}

/// Switches anonymous citizen reports; switching on the first time creates the user they
/// come from.
pub async fn set_anonymous_reports(
    store: &dyn Store,
    actor: &str,
    on: bool,
) -> Result<(), SetupError> {
    if on && store.user(ANONYMOUS_USER).await?.is_none() {
        setup::add_user(
            store,
            actor,
            UserInput {
                id: Some(ANONYMOUS_USER.into()),
                name: Some(ANONYMOUS_NAME.into()),
                role: Some(Role::Volunteer),
                ..UserInput::default()
            },
        )
        .await?;
    }
    store
        .write(&[stmt(
            "UPDATE public_settings SET anonymous_reports = $1 WHERE id = 1",
            vec![Arg::Int(i64::from(on))],
            vec![],
        )])
        .await?;
    setup::audit(
        store,
        actor,
        "public.anonymous_reports",
        "city",
        None,
        Some(serde_json::json!({"on": on})),
    )
    .await?;
    Ok(())
}

/// A new page session for `user_id`: the cookie's value (only its hash is stored).
pub async fn create_session(store: &dyn Store, user_id: &str) -> Result<String, StoreError> {
    let id = auth::new_token();
    let now = now_ms();
    store
        .write(&[
            // Sessions unused for longer than they last go whenever one is made.
            stmt(
                "DELETE FROM volunteer_sessions WHERE last_used_at < $1",
                vec![Arg::Int(now - SESSION_IDLE_MS)],
                vec![],
            ),
            stmt(
                "INSERT INTO volunteer_sessions (id_hash, user_id, created_at, last_used_at) \
                 VALUES ($1, $2, $3, $3)",
                vec![
                    Arg::Text(auth::hash_secret(&id)),
                    Arg::Text(user_id.to_owned()),
                    Arg::Int(now),
                ],
                vec![],
            ),
        ])
        .await?;
    Ok(id)
}

/// The user of a live session (by the id's hash), its use noted at most once an hour.
pub async fn session_user(store: &dyn Store, id_hash: &str) -> Result<Option<String>, StoreError> {
    let now = now_ms();
    let rows = store
        .select(&[stmt(
            "SELECT user_id, last_used_at FROM volunteer_sessions WHERE id_hash = $1",
            vec![Arg::Text(id_hash.to_owned())],
            vec![Col::Text, Col::Int],
        )])
        .await?;
    let Some(r) = rows[0].first() else {
        return Ok(None);
    };
    let last = r[1].int();
    if now - last >= SESSION_IDLE_MS {
        end_session(store, id_hash).await?;
        return Ok(None);
    }
    if now - last >= 3_600_000 {
        store
            .write(&[stmt(
                "UPDATE volunteer_sessions SET last_used_at = $1 WHERE id_hash = $2",
                vec![Arg::Int(now), Arg::Text(id_hash.to_owned())],
                vec![],
            )])
            .await?;
    }
    Ok(r[0].text().map(str::to_owned))
}

pub async fn end_session(store: &dyn Store, id_hash: &str) -> Result<(), StoreError> {
    store
        .write(&[stmt(
            "DELETE FROM volunteer_sessions WHERE id_hash = $1",
            vec![Arg::Text(id_hash.to_owned())],
            vec![],
        )])
        .await?;
    Ok(())
}

/// A report made on the page, as reserved before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageReport {
    pub seq: i64,
    pub problem_id: String,
    pub user_id: String,
    pub session_hash: String,
    pub created_at_ms: i64,
}

const REPORT_COLUMNS: &str = "seq, problem_id, user_id, session_hash, created_at";
const REPORT_TYPES: [Col; 5] = [Col::Int, Col::Text, Col::Text, Col::Text, Col::Int];

fn report_row(v: &[Value]) -> Option<PageReport> {
    Some(PageReport {
        seq: v[0].int(),
        problem_id: v[1].text()?.to_owned(),
        user_id: v[2].text()?.to_owned(),
        session_hash: v[3].text()?.to_owned(),
        created_at_ms: v[4].int(),
    })
}

/// Reserves the page report `problem_id` (the client-made id) for this user and session, or
/// finds the reservation a copy of it made before: its number (the problem code's) and time
/// stay those of the first copy, so every resend builds the same report.
pub async fn reserve_report(
    store: &dyn Store,
    problem_id: &str,
    user_id: &str,
    session_hash: &str,
) -> Result<PageReport, StoreError> {
    let rows = store
        .write(&[
            stmt(
                "INSERT INTO public_reports (problem_id, user_id, session_hash, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (problem_id) DO NOTHING",
                vec![
                    Arg::Text(problem_id.to_owned()),
                    Arg::Text(user_id.to_owned()),
                    Arg::Text(session_hash.to_owned()),
                    Arg::Int(now_ms()),
                ],
                vec![],
            ),
            stmt(
                format!("SELECT {REPORT_COLUMNS} FROM public_reports WHERE problem_id = $1"),
                vec![Arg::Text(problem_id.to_owned())],
                REPORT_TYPES.to_vec(),
            ),
        ])
        .await?;
    rows[1]
        .first()
        .and_then(|r| report_row(r))
        .ok_or_else(|| StoreError::Corrupt(format!("page report {problem_id} not reserved")))
}
