//! `fieldcheck`: a headless FieldCheck device. Every core action from a shell, human tables
//! in Chinese or English, `--json` for scripts. A refused action prints one line saying what
//! is wrong, exits non-zero and writes nothing.

mod args;
mod output;
mod parse;
mod sync_cmd;

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use fieldcheck_core::domain::calendar::WorkCalendar;
use fieldcheck_core::domain::checklist::ItemResult;
use fieldcheck_core::domain::event::{EntityKind, ProblemEdit, RejectReason};
use fieldcheck_core::domain::i18n::Lang;
use fieldcheck_core::domain::reference::{LatLon, PointType};
use fieldcheck_core::domain::scope::Scope;
use fieldcheck_core::domain::{Actor, PhotoRole};
use fieldcheck_core::{
    CoreError, NewProblem, ProblemAction, ProblemQuery, ProblemSort, Resend, StartInspection, Store,
};
use uuid::Uuid;

use args::{Cli, Command, DevCmd, InspectCmd, LangArg, ListArgs, PhotoCmd, ProblemCmd};
use output::Out;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let lang = match cli.lang {
        Some(LangArg::En) => Lang::En,
        Some(LangArg::Zh) => Lang::Zh,
        None => sys_locale::get_locale()
            .and_then(|l| Lang::from_locale(&l))
            .unwrap_or(Lang::Zh),
    };
    let out = Out::new(lang, cli.json);
    match run(cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::FAILURE
        }
    }
}

fn open(cli: &Cli) -> Result<Store> {
    let mut store = Store::open(&cli.db)
        .with_context(|| format!("cannot open device database {}", cli.db.display()))?;
    // Reproducible runs (tests, demos): pin the wall clock.
    if let Ok(now) = std::env::var("FIELDCHECK_NOW") {
        let t = chrono::DateTime::parse_from_rfc3339(&now)
            .map_err(|_| anyhow!("FIELDCHECK_NOW {now:?} is not an RFC 3339 time"))?
            .with_timezone(&chrono::Utc);
        store.set_now(move || t);
    }
    Ok(store)
}

fn actor(cli: &Cli, store: &Store) -> Result<Actor> {
    let id = match &cli.as_user {
        Some(u) => u.clone(),
        None => store.current_user()?.ok_or(CoreError::NoUser)?.id,
    };
    Ok(store.actor(&id)?)
}

/// Whose view the ledger commands show: `--as`, else the person signed in. Nobody signed
/// in: all the device holds, as before there were people on it.
fn viewer(cli: &Cli, store: &Store) -> Result<Option<Scope>> {
    let id = match &cli.as_user {
        Some(u) => Some(u.clone()),
        None => store.current_user()?.map(|u| u.id),
    };
    Ok(id.map(|id| store.scope(&id)).transpose()?)
}

/// The ledger query narrowed to what the device shows the viewer (a volunteer: their own
/// reports), exactly as the app's ledger is.
fn within(cli: &Cli, store: &Store, q: ProblemQuery) -> Result<ProblemQuery> {
    Ok(match viewer(cli, store)? {
        Some(scope) => q.within(&scope),
        None => q,
    })
}

fn refdata_kind(kind: Option<&str>) -> Result<Option<fieldcheck_refdata::Kind>> {
    kind.map(|k| {
        fieldcheck_refdata::Kind::parse(k).ok_or_else(|| {
            anyhow!(
                "unknown kind {k:?} (districts, units, points, categories, templates, users, calendar)"
            )
        })
    })
    .transpose()
}

fn calendar(store: &Store) -> Result<WorkCalendar> {
    Ok(store.calendar()?)
}

fn run(cli: Cli, out: &Out) -> Result<()> {
    let mut store = open(&cli)?;
    // Times are shown in the city's zone, the zone they are typed in.
    let out = &out.in_zone_of(&calendar(&store)?);
    match &cli.command {
        Command::Init | Command::Whoami => {
            let user = store.current_user()?;
            out.device(
                store.device(),
                store.path(),
                user.as_ref(),
                store.outbox_len()?,
            );
        }
        Command::Demo => {
            let created = fieldcheck_core::demo::seed_demo(&mut store)?;
            store.set_current_user(Some("usr-insp-1"))?;
            let user = store.current_user()?;
            out.device(
                store.device(),
                store.path(),
                user.as_ref(),
                store.outbox_len()?,
            );
            if !out.json {
                out.demo_hints(&cli.db, created);
            }
        }
        Command::Login { user_id } => {
            store.set_current_user(Some(user_id))?;
            let u = store.user(user_id)?;
            out.device(store.device(), store.path(), Some(&u), store.outbox_len()?);
        }
        Command::Logout => {
            store.set_current_user(None)?;
            out.ok("signed out", "已退出登录");
        }
        Command::Import { file, kind } => {
            let bundle = fieldcheck_refdata::read(file, refdata_kind(kind.as_deref())?)?;
            if bundle.is_empty() {
                bail!("{} holds no reference data", file.display());
            }
            out.imported(&store.import_reference(&bundle)?);
        }
        Command::Export { file, kind } => {
            let bundle = store.export_reference()?;
            fieldcheck_refdata::write(file, &bundle, refdata_kind(kind.as_deref())?)?;
            out.ok(
                &format!("exported to {}", file.display()),
                &format!("已导出到 {}", file.display()),
            );
        }
        Command::Points {
            point_type,
            district,
            near,
        } => {
            let t = point_type
                .as_deref()
                .map(|t| PointType::parse(t).ok_or_else(|| anyhow!("unknown point type {t:?}")))
                .transpose()?;
            let mut pts = store.points(t, district.as_deref())?;
            let from = near.as_deref().map(parse::latlon).transpose()?;
            let dist: Vec<Option<f64>> = match from {
                Some((lat, lon, _)) => {
                    let here = LatLon { lat, lon };
                    pts.sort_by(|a, b| {
                        here.distance_m(&a.location)
                            .total_cmp(&here.distance_m(&b.location))
                    });
                    pts.iter()
                        .map(|p| Some(here.distance_m(&p.location)))
                        .collect()
                }
                None => vec![None; pts.len()],
            };
            out.points(&pts, &dist);
        }
        Command::Tasks { near } => {
            let from = near
                .as_deref()
                .map(parse::latlon)
                .transpose()?
                .map(|(lat, lon, _)| LatLon { lat, lon });
            match store.tasks(from)? {
                Some((list, views)) => out.tasks(list.today, &views),
                None => bail!("no tasks on this device yet: run `fieldcheck sync` first"),
            }
        }
        Command::Units => out.units(&store.units()?),
        Command::Categories => out.categories(&store.categories()?),
        Command::Templates { id } => match id {
            Some(id) => {
                let t = store
                    .templates()?
                    .into_iter()
                    .filter(|t| &t.id == id)
                    .max_by_key(|t| t.version)
                    .ok_or_else(|| anyhow!("checklist template {id} not found"))?;
                out.template(&t);
            }
            None => out.templates(&store.templates()?),
        },
        Command::Inspect(cmd) => inspect(&cli, &mut store, cmd, out)?,
        Command::Problem(cmd) => problem(&cli, &mut store, cmd, out)?,
        Command::List(args) => {
            let q = within(&cli, &store, query(&store, args, None)?)?;
            out.ledger(&store.list_problems(&q)?);
        }
        Command::Search { text, list } => {
            let q = within(&cli, &store, query(&store, list, Some(text.clone()))?)?;
            out.ledger(&store.list_problems(&q)?);
        }
        Command::Show { id } => {
            // An id names a problem or an inspection: the event log says which, so a problem
            // is never looked up (and reported missing) as an inspection.
            let kind = match Uuid::parse_str(id) {
                Ok(uuid) => store.record_kind(uuid)?,
                Err(_) => Some(EntityKind::Problem),
            };
            match kind {
                Some(EntityKind::Inspection) => {
                    let i = store.inspection(Uuid::parse_str(id)?)?;
                    let t = store.template(&i.template_id, i.template_version)?;
                    out.inspection(&i, &t, Some(&store.history(i.id)?));
                }
                Some(EntityKind::Problem) => {
                    let p = match viewer(&cli, &store)? {
                        Some(scope) => store.find_problem_visible(id, &scope)?,
                        None => store.find_problem(id)?,
                    };
                    let hist = store.history(p.id)?;
                    let refused = store.creation_refusal(p.id)?;
                    out.problem_detail(&p, &hist, refused.as_ref(), store.now());
                }
                None => {
                    return Err(CoreError::NotFound {
                        what: "problem or inspection",
                        id: id.clone(),
                    }
                    .into());
                }
            }
        }
        Command::Photo(PhotoCmd::Add { files }) => {
            if files.is_empty() {
                bail!("give one or more photo files");
            }
            let infos = ingest(&mut store, files, out)?;
            out.photos(&infos);
        }
        Command::Photo(PhotoCmd::Show { hash }) => {
            let info = store.photo(hash)?;
            out.photo_detail(&info, &store.display_path(hash)?, &store.thumb_path(hash)?);
        }
        Command::Photo(PhotoCmd::Missing) => {
            let missing = store.missing_photos()?;
            if out.json {
                println!("{}", serde_json::to_string(&missing)?);
            } else {
                for h in missing {
                    println!("{h}");
                }
            }
        }
        Command::Stats => out.stats(&store.stats()?, &store.units()?),
        Command::Enroll {
            server,
            code,
            name,
            ca_cert,
            attempts,
        } => sync_cmd::enroll(
            store,
            sync_cmd::EnrollArgs {
                server,
                code,
                name,
                ca_cert: ca_cert.as_deref(),
                attempts: *attempts,
            },
            out,
        )?,
        Command::Sync { attempts } => sync_cmd::sync(store, *attempts, out)?,
        Command::Dev(DevCmd::WriteLoop { count, category }) => {
            let who = actor(&cli, &store)?;
            let stdout = std::io::stdout();
            for i in 0..*count {
                let p = store.report_problem(
                    &who,
                    NewProblem {
                        category: category.clone(),
                        description: format!("崩溃测试问题 {i} crash-test problem"),
                        address: format!("测试路 {i} 号"),
                        ..Default::default()
                    },
                )?;
                // Printed only after the commit returned: the parent may rely on it.
                let mut h = stdout.lock();
                writeln!(h, "saved {} {}", p.id, p.code)?;
                h.flush()?;
                // As a person searching now and then does, so kills also land in the
                // search index's batched catch-up.
                if i % 7 == 6 {
                    store.catch_up_search()?;
                }
            }
        }
    }
    Ok(())
}

fn query(store: &Store, a: &ListArgs, text: Option<String>) -> Result<ProblemQuery> {
    let cal = calendar(store)?;
    Ok(ProblemQuery {
        statuses: a
            .status
            .iter()
            .map(|s| parse::status(s))
            .collect::<Result<_>>()?,
        category: a.category.clone(),
        unit_id: a.unit.clone(),
        point_id: a.point.clone(),
        district_id: a.district.clone(),
        reporter: a.reporter.clone(),
        reported_from: a
            .from
            .as_deref()
            .map(|d| parse::day_start(d, &cal))
            .transpose()?,
        reported_to: a
            .to
            .as_deref()
            .map(|d| parse::day_start(d, &cal).map(|t| t + chrono::Duration::days(1)))
            .transpose()?,
        overdue: a.overdue,
        due_soon: a.due_soon,
        with_rejections: a.conflicts,
        text,
        sort: ProblemSort::parse(&a.sort).ok_or_else(|| {
            anyhow!(
                "unknown sort {:?} (newest, oldest, deadline, updated, code)",
                a.sort
            )
        })?,
        limit: a.limit,
        offset: a.offset,
    })
}

/// Ingests photo files, saying which were new and which were already on the device.
fn ingest(
    store: &mut Store,
    files: &[std::path::PathBuf],
    out: &Out,
) -> Result<Vec<fieldcheck_core::PhotoInfo>> {
    files
        .iter()
        .map(|f| {
            let info = store
                .add_photo_file(f)
                .with_context(|| format!("photo {}", f.display()))?;
            out.photo_ingested(f, &info);
            Ok(info)
        })
        .collect()
}

/// Hashes to attach: ingested files first, then hashes of photos already on the device.
fn attach(
    store: &mut Store,
    files: &[std::path::PathBuf],
    hashes: &[String],
    out: &Out,
) -> Result<Vec<String>> {
    let mut all: Vec<String> = ingest(store, files, out)?
        .into_iter()
        .map(|i| i.hash)
        .collect();
    all.extend(hashes.iter().cloned());
    Ok(all)
}

fn inspection_id(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| anyhow!("{s:?} is not an inspection id"))
}

fn inspect(cli: &Cli, store: &mut Store, cmd: &InspectCmd, out: &Out) -> Result<()> {
    match cmd {
        InspectCmd::Start {
            point,
            template,
            version,
            place,
        } => {
            let who = actor(cli, store)?;
            let tpl = match (template, version) {
                (Some(t), Some(v)) => Some((t.clone(), *v)),
                (Some(t), None) => Some((
                    t.clone(),
                    store
                        .templates()?
                        .into_iter()
                        .filter(|x| &x.id == t)
                        .map(|x| x.version)
                        .max()
                        .ok_or_else(|| anyhow!("checklist template {t} not found"))?,
                )),
                _ => None,
            };
            let i = store.start_inspection(
                &who,
                StartInspection {
                    point_id: point.clone(),
                    template: tpl,
                    location: parse::place(place)?,
                },
            )?;
            let t = store.template(&i.template_id, i.template_version)?;
            out.inspection(&i, &t, None);
        }
        InspectCmd::Record {
            inspection,
            item,
            pass,
            fail,
            na,
            count,
            value,
            note,
            photo_hashes,
            photos,
        } => {
            let who = actor(cli, store)?;
            let photo_hashes = attach(store, photos, photo_hashes, out)?;
            let result = match (pass, fail, na, count, value) {
                (true, ..) => ItemResult::Pass,
                (_, true, ..) => ItemResult::Fail,
                (_, _, true, ..) => ItemResult::NotApplicable,
                (_, _, _, Some(c), _) => ItemResult::Count { count: *c },
                (_, _, _, _, Some(v)) => ItemResult::Value { value: *v },
                _ => bail!("give a result: --pass, --fail, --na, --count N or --value V"),
            };
            let i = store.record_item(
                &who,
                inspection_id(inspection)?,
                item,
                result,
                note.clone(),
                photo_hashes,
            )?;
            let t = store.template(&i.template_id, i.template_version)?;
            out.inspection(&i, &t, None);
        }
        InspectCmd::Finish { inspection, place } => {
            let who = actor(cli, store)?;
            let i =
                store.finish_inspection(&who, inspection_id(inspection)?, parse::place(place)?)?;
            let t = store.template(&i.template_id, i.template_version)?;
            out.inspection(&i, &t, None);
        }
        InspectCmd::Raise {
            inspection,
            item,
            description,
        } => {
            let who = actor(cli, store)?;
            let p =
                store.raise_problem(&who, inspection_id(inspection)?, item, description.clone())?;
            out.problem_saved(&p);
        }
        InspectCmd::Show { inspection } => {
            let i = store.inspection(inspection_id(inspection)?)?;
            let t = store.template(&i.template_id, i.template_version)?;
            out.inspection(&i, &t, Some(&store.history(i.id)?));
            if let Some(r) = store.creation_refusal(i.id)? {
                out.note(
                    &format!(
                        "the server refused this inspection ({}: {}); it is only on this device: `inspect discard {} --yes` removes it",
                        r.code, r.message, i.id
                    ),
                    &format!(
                        "服务器未接收此巡查（{}：{}），它只保存在本设备上；`inspect discard {} --yes` 可放弃",
                        r.code, r.message, i.id
                    ),
                );
            }
        }
        InspectCmd::Discard { inspection, yes } => {
            let id = inspection_id(inspection)?;
            store.inspection(id)?;
            if !yes {
                return Err(CoreError::Invalid(format!(
                    "discarding removes inspection {id} and what was recorded in it from this device for good: add --yes to confirm"
                ))
                .into());
            }
            let who = actor(cli, store)?;
            let gone = store.discard_inspection(&who, id)?;
            if out.json {
                println!("{}", serde_json::json!({ "discarded": gone.id }));
            } else {
                out.ok(
                    &format!("discarded inspection {}", gone.id),
                    &format!("已放弃巡查 {}", gone.id),
                );
            }
        }
        InspectCmd::History { point } => {
            store.point(point)?;
            out.inspection_list(&store.inspections_of_point(point)?);
        }
    }
    Ok(())
}

fn problem(cli: &Cli, store: &mut Store, cmd: &ProblemCmd, out: &Out) -> Result<()> {
    let who = actor(cli, store)?;
    let cal = calendar(store)?;
    let (id, action) = match cmd {
        ProblemCmd::Add {
            category,
            description,
            point,
            district,
            address,
            severity,
            place,
            photo_hashes,
            photos,
        } => {
            let infos = ingest(store, photos, out)?;
            let mut location = parse::place(place)?;
            if location.is_none()
                && let Some((lat, lon)) = infos.iter().find_map(|i| i.exif_lat.zip(i.exif_lon))
            {
                location = Some(fieldcheck_core::domain::Location {
                    lat,
                    lon,
                    accuracy_m: None,
                    source: fieldcheck_core::domain::LocationSource::Exif,
                });
                out.note(
                    &format!("no GPS given: using the photo's EXIF location {lat:.6},{lon:.6}"),
                    &format!("未提供定位：使用照片 EXIF 位置 {lat:.6},{lon:.6}"),
                );
            }
            let mut hashes: Vec<String> = infos.into_iter().map(|i| i.hash).collect();
            hashes.extend(photo_hashes.iter().cloned());
            let p = store.report_problem(
                &who,
                NewProblem {
                    category: category.clone(),
                    description: description.clone(),
                    location,
                    address: address.clone(),
                    district_id: district.clone(),
                    point_id: point.clone(),
                    severity: severity
                        .as_deref()
                        .map(parse::severity)
                        .transpose()?
                        .unwrap_or_default(),
                    photos: hashes,
                    ..Default::default()
                },
            )?;
            out.problem_saved(&p);
            return Ok(());
        }
        ProblemCmd::Resend {
            id,
            district,
            point,
        } => {
            let p = store.find_problem(id)?;
            let p = store.resend_problem(
                &who,
                p.id,
                Resend {
                    district_id: district.clone(),
                    point_id: point.clone(),
                },
            )?;
            out.problem_saved(&p);
            out.note(
                "corrected; it goes to the server with the next sync",
                "已更正，下次同步时重新发送",
            );
            return Ok(());
        }
        ProblemCmd::Discard { id, yes } => {
            let p = store.find_problem(id)?;
            if !yes {
                return Err(CoreError::Invalid(format!(
                    "discarding removes {} and its history from this device for good: add --yes to confirm",
                    p.code
                ))
                .into());
            }
            let gone = store.discard_problem(&who, p.id)?;
            if out.json {
                println!(
                    "{}",
                    serde_json::json!({ "discarded": gone.id, "code": gone.code })
                );
            } else {
                out.ok(
                    &format!("discarded {}", gone.code),
                    &format!("已放弃 {}", gone.code),
                );
            }
            return Ok(());
        }
        ProblemCmd::Edit {
            id,
            description,
            address,
            category,
            severity,
            district,
            place,
        } => (
            id,
            ProblemAction::Edit(ProblemEdit {
                description: description.clone(),
                address: address.clone(),
                location: parse::place(place)?,
                category: category.clone(),
                severity: severity.as_deref().map(parse::severity).transpose()?,
                district_id: district.clone(),
            }),
        ),
        ProblemCmd::File { id, note } => (id, ProblemAction::File { note: note.clone() }),
        ProblemCmd::Reject {
            id,
            duplicate_of,
            reason,
        } => (
            id,
            ProblemAction::Reject {
                reason: match (duplicate_of, reason) {
                    (Some(of), _) => RejectReason::Duplicate { of: of.clone() },
                    (None, Some(r)) => RejectReason::Invalid { reason: r.clone() },
                    (None, None) => bail!("give --duplicate-of CODE or --reason TEXT"),
                },
            },
        ),
        ProblemCmd::Dispatch {
            id,
            unit,
            deadline,
            note,
        } => (
            id,
            ProblemAction::Dispatch {
                unit_id: unit.clone(),
                deadline: deadline
                    .as_deref()
                    .map(|d| parse::instant(d, &cal))
                    .transpose()?,
                note: note.clone(),
            },
        ),
        ProblemCmd::Accept { id, note } => (id, ProblemAction::Accept { note: note.clone() }),
        ProblemCmd::Return { id, reason } => (
            id,
            ProblemAction::Return {
                reason: reason.clone(),
            },
        ),
        ProblemCmd::Rectify {
            id,
            photo_hashes,
            photos,
            note,
        } => (
            id,
            ProblemAction::Rectify {
                photos: attach(store, photos, photo_hashes, out)?,
                note: note.clone(),
            },
        ),
        ProblemCmd::Verify {
            id,
            pass,
            fail: _,
            note,
            photo_hashes,
            photos,
        } => (
            id,
            ProblemAction::Verify {
                passed: *pass,
                note: note.clone(),
                photos: attach(store, photos, photo_hashes, out)?,
            },
        ),
        ProblemCmd::Close { id, note } => (id, ProblemAction::Close { note: note.clone() }),
        ProblemCmd::Extend { id, until, reason } => (
            id,
            // A bare date goes to the core as a day, which it turns into the close of
            // business there, as it does for the app.
            match parse::date(until) {
                Some(day) => ProblemAction::RequestExtension {
                    until: None,
                    until_date: Some(day),
                    reason: reason.clone(),
                },
                None => ProblemAction::RequestExtension {
                    until: Some(parse::instant(until, &cal)?),
                    until_date: None,
                    reason: reason.clone(),
                },
            },
        ),
        ProblemCmd::DecideExtension {
            id,
            approve,
            deny: _,
            note,
        } => (
            id,
            ProblemAction::DecideExtension {
                approved: *approve,
                note: note.clone(),
            },
        ),
        ProblemCmd::Recheck {
            id,
            pass,
            fail: _,
            note,
            photo_hashes,
            photos,
        } => (
            id,
            ProblemAction::Recheck {
                passed: *pass,
                note: note.clone(),
                photos: attach(store, photos, photo_hashes, out)?,
            },
        ),
        ProblemCmd::AddPhotos {
            id,
            photo_hashes,
            photos,
            role,
            note,
        } => (
            id,
            ProblemAction::AddPhotos {
                photos: attach(store, photos, photo_hashes, out)?,
                role: PhotoRole::parse(role).ok_or_else(|| {
                    anyhow!("unknown photo role {role:?} (before, after, evidence)")
                })?,
                note: note.clone(),
            },
        ),
    };
    let p = store.find_problem(id)?;
    let p = store.act(&who, p.id, action)?;
    out.problem_saved(&p);
    Ok(())
}
