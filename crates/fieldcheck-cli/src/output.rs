//! Human tables (Chinese or English) and JSON output.

use std::path::Path;

use chrono::{DateTime, FixedOffset, Utc};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use fieldcheck_core::domain::calendar::WorkCalendar;
use fieldcheck_core::domain::category::{Category, DeadlineUnit};
use fieldcheck_core::domain::checklist::{ChecklistTemplate, ItemKind, ItemResult};
use fieldcheck_core::domain::event::kind_label;
use fieldcheck_core::domain::i18n::Lang;
use fieldcheck_core::domain::inspection::Inspection;
use fieldcheck_core::domain::reference::{Point, Unit, User};
use fieldcheck_core::domain::{EventOutcome, Problem};
use fieldcheck_core::sync::{Enrolled, Rejection, SyncError, SyncReport};
use fieldcheck_core::{CoreError, DeviceInfo, EventRecord, LedgerRow, Page, ServerRefusal, Stats};
use serde::Serialize;
use serde_json::json;

pub struct Out {
    pub lang: Lang,
    pub json: bool,
    /// The city's zone ([`WorkCalendar::tz`]): times are shown as the city reads them, the
    /// zone they are typed in (`parse::instant`), whatever the zone of this machine.
    tz: FixedOffset,
}

fn table(header: Vec<&str>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    t
}

impl Out {
    /// Output in the default calendar's zone until the device's calendar is known
    /// ([`Out::in_zone_of`]).
    pub fn new(lang: Lang, json: bool) -> Self {
        Out {
            lang,
            json,
            tz: WorkCalendar::default().tz(),
        }
    }

    /// The same output, showing times in the calendar's zone.
    pub fn in_zone_of(&self, cal: &WorkCalendar) -> Self {
        Out {
            lang: self.lang,
            json: self.json,
            tz: cal.tz(),
        }
    }

    /// An instant as the city reads it: local date and time in the calendar's zone.
    pub fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    fn t<'a>(&self, en: &'a str, zh: &'a str) -> &'a str {
        if self.lang == Lang::En { en } else { zh }
    }

    fn print_json<T: Serialize>(&self, v: &T) {
        println!(
            "{}",
            serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        );
    }

    /// One line on stderr: what is wrong, with the stable code.
    pub fn error(&self, e: &anyhow::Error) {
        let code = e
            .downcast_ref::<CoreError>()
            .map(CoreError::code)
            .or_else(|| {
                e.downcast_ref::<fieldcheck_refdata::RefDataError>()
                    .map(fieldcheck_refdata::RefDataError::code)
            })
            .or_else(|| e.downcast_ref::<SyncError>().map(SyncError::code))
            .unwrap_or("error");
        let message = format!("{e:#}");
        if self.json {
            eprintln!(
                "{}",
                json!({ "error": { "code": code, "message": message } })
            );
        } else {
            eprintln!("{} [{code}]: {message}", self.t("error", "错误"));
        }
    }

    /// The text in the output language.
    pub fn pick<'a>(&self, en: &'a str, zh: &'a str) -> &'a str {
        self.t(en, zh)
    }

    pub fn enrolled(&self, e: &Enrolled) {
        if self.json {
            return self.print_json(e);
        }
        println!(
            "{}: {} — {} {} ({}), {}: {}",
            self.t("Enrolled with", "已注册到服务器"),
            e.server,
            e.user.id,
            e.user.name,
            e.user.role.label(self.lang),
            self.t("device tag", "设备标识"),
            e.device_tag
        );
        match (&e.reference_version, &e.reference_error) {
            (Some(v), _) => println!(
                "{} {v}",
                self.t("Reference data loaded, version", "基础数据已下载，版本")
            ),
            (None, Some(err)) => self.note(
                &format!("Reference data not loaded yet ({err}); `sync` will fetch it"),
                &format!("基础数据尚未下载（{err}），`sync` 时会再下载"),
            ),
            (None, None) => {}
        }
    }

    fn rejection_line(&self, r: &Rejection) -> String {
        let record = r
            .record_code
            .clone()
            .unwrap_or_else(|| r.entity_id.to_string());
        format!(
            "  {record} {}: [{}] {}",
            kind_label(&r.kind, self.lang),
            r.code,
            r.message
        )
    }

    pub fn sync_report(&self, r: &SyncReport) {
        if self.json {
            return self.print_json(r);
        }
        println!(
            "{}: {} {}, {} {}, {} {}, {} {}",
            self.t("Up", "上传"),
            r.pushed,
            self.t("events", "条事件"),
            r.duplicates,
            self.t("already on the server", "条服务器已有"),
            r.refused.len(),
            self.t("refused", "条被拒收"),
            r.rejected.len(),
            self.t("rejected by the workflow", "条未通过流程校验"),
        );
        println!(
            "{}: {} ({} {})",
            self.t("Photos uploaded", "照片上传"),
            r.photos_uploaded,
            r.photo_bytes_uploaded,
            self.t("bytes", "字节"),
        );
        println!(
            "{}: {} {}, {} {}",
            self.t("Down", "下载"),
            r.events_pulled,
            self.t("events", "条事件"),
            r.records_removed,
            self.t(
                "records left your scope and were removed",
                "条记录已移出权限范围"
            ),
        );
        if r.photos_downloaded > 0 {
            println!(
                "{}: {} ({} {})",
                self.t("Photos downloaded", "照片下载"),
                r.photos_downloaded,
                r.photo_bytes_downloaded,
                self.t("bytes", "字节"),
            );
        }
        if let Some(v) = r.reference_version {
            println!(
                "{} {v}",
                self.t("Reference data updated to version", "基础数据已更新到版本")
            );
        }
        if let Some(x) = &r.server_restored {
            println!(
                "{}: {} {}, {} {}",
                self.t(
                    "The server was restored from a backup; sent again",
                    "服务器已从备份恢复，已重新发送"
                ),
                x.events_resent,
                self.t("events", "条事件"),
                x.photos_rechecked,
                self.t("photos checked", "张照片已核对"),
            );
        }
        if r.deferred > 0 {
            println!(
                "{}: {}",
                self.t(
                    "Waiting for another device to resend the record first (sent next time)",
                    "等待其他设备先重新发送该记录（下次同步再发）"
                ),
                r.deferred
            );
        }
        if r.clamped > 0 {
            println!(
                "{}: {}",
                self.t(
                    "Timestamps corrected by the server (device clock ahead)",
                    "服务器校正的时间戳（设备时钟偏快）"
                ),
                r.clamped
            );
        }
        if !r.refused.is_empty() {
            println!("{}", self.t("Refused by the server:", "服务器拒收："));
            for x in &r.refused {
                println!("{}", self.rejection_line(x));
            }
            // A refused report stays on this device: say where it is and what can be done.
            if r.refused.iter().any(|x| x.kind == "problem.reported") {
                println!(
                    "{}",
                    self.t(
                        "  Refused reports stay on this device: `show CODE` says why; `problem resend CODE --district D` or `problem discard CODE --yes`.",
                        "  被拒收的上报仍保存在本设备：`show 编号` 查看原因；`problem resend 编号 --district 区域` 更正后重新发送，或 `problem discard 编号 --yes` 放弃。"
                    )
                );
            }
        }
        if !r.rejected.is_empty() {
            println!(
                "{}",
                self.t(
                    "Rejected (the record had moved on):",
                    "未生效（记录状态已变化）："
                )
            );
            for x in &r.rejected {
                println!("{}", self.rejection_line(x));
            }
        }
        for (hash, why) in &r.photos_failed {
            println!(
                "{} {}: {why}",
                self.t("Photo not uploaded", "照片未上传"),
                &hash[..hash.len().min(12)]
            );
        }
    }

    pub fn ok(&self, en: &str, zh: &str) {
        if self.json {
            self.print_json(&json!({ "ok": true }));
        } else {
            println!("{}", self.t(en, zh));
        }
    }

    /// A remark for people that must not disturb JSON on stdout.
    pub fn note(&self, en: &str, zh: &str) {
        eprintln!("{}", self.t(en, zh));
    }

    pub fn photo_ingested(&self, file: &Path, info: &fieldcheck_core::PhotoInfo) {
        if !self.json {
            eprintln!(
                "{} {} → {} ({}×{}, {} KB{})",
                if info.new {
                    self.t("photo", "照片")
                } else {
                    self.t("photo (already stored)", "照片（已存在）")
                },
                file.display(),
                &info.hash[..12],
                info.width,
                info.height,
                info.display_bytes / 1024,
                info.exif_lat
                    .zip(info.exif_lon)
                    .map(|(a, b)| format!(", EXIF {a:.6},{b:.6}"))
                    .unwrap_or_default()
            );
        }
    }

    pub fn photos(&self, infos: &[fieldcheck_core::PhotoInfo]) {
        if self.json {
            return self.print_json(&infos);
        }
        for i in infos {
            println!("{}", i.hash);
        }
    }

    pub fn photo_detail(&self, info: &fieldcheck_core::PhotoInfo, display: &Path, thumb: &Path) {
        if self.json {
            return self.print_json(
                &json!({ "photo": info, "display_path": display, "thumb_path": thumb }),
            );
        }
        println!("{}: {}", self.t("Photo", "照片"), info.hash);
        println!(
            "  {}: {}×{}",
            self.t("Size", "尺寸"),
            info.width,
            info.height
        );
        println!(
            "  {}: {}",
            self.t("Display copy", "展示图"),
            display.display()
        );
        println!("  {}: {}", self.t("Thumbnail", "缩略图"), thumb.display());
        if let (Some(a), Some(b)) = (info.exif_lat, info.exif_lon) {
            println!("  EXIF GPS: {a:.6}, {b:.6}");
        }
        if let Some(t) = &info.taken_at {
            println!("  {}: {t}", self.t("Taken", "拍摄时间"));
        }
    }

    pub fn imported(&self, s: &fieldcheck_core::reference::ImportSummary) {
        if self.json {
            return self.print_json(s);
        }
        println!(
            "{}: {} {}, {} {}, {} {}, {} {}, {} {}, {} {}{}",
            self.t("Imported", "已导入"),
            s.districts,
            self.t("districts", "个区域"),
            s.units,
            self.t("units", "个单位"),
            s.points,
            self.t("points", "个点位"),
            s.categories,
            self.t("categories", "个问题分类"),
            s.templates,
            self.t("checklists", "个检查表"),
            s.users,
            self.t("users", "个用户"),
            if s.calendar {
                self.t(", work calendar", "，工作日历")
            } else {
                ""
            }
        );
    }

    pub fn demo_hints(&self, db: &Path, created: usize) {
        let db = db.display();
        if created > 0 {
            println!(
                "{} {created}",
                self.t("Sample problems created:", "已创建示例问题：")
            );
        }
        println!(
            "\n{}\n  fieldcheck --db {db} list\n  fieldcheck --db {db} points --type 农贸市场\n  \
             fieldcheck --db {db} search 占道经营\n  fieldcheck --db {db} inspect start --point p-009\n  \
             fieldcheck --db {db} --as usr-admin-1 stats",
            self.t("Try:", "试一试：")
        );
    }

    pub fn device(&self, d: &DeviceInfo, path: &Path, user: Option<&User>, outbox: u64) {
        if self.json {
            self.print_json(&json!({
                "device_id": d.device_id, "device_tag": d.tag, "db": path,
                "user": user, "outbox": outbox,
            }));
            return;
        }
        println!("{}: {} ({})", self.t("Device", "设备"), d.device_id, d.tag);
        println!("{}: {}", self.t("Database", "数据库"), path.display());
        match user {
            Some(u) => println!(
                "{}: {} {} ({})",
                self.t("User", "用户"),
                u.id,
                u.name,
                u.role.label(self.lang)
            ),
            None => println!("{}", self.t("No user signed in", "未登录")),
        }
        println!(
            "{}: {outbox}",
            self.t("Events waiting to sync", "待同步事件")
        );
    }

    pub fn points(&self, pts: &[Point], dist: &[Option<f64>]) {
        if self.json {
            let rows: Vec<_> = pts
                .iter()
                .zip(dist)
                .map(|(p, d)| json!({ "point": p, "distance_m": d }))
                .collect();
            return self.print_json(&rows);
        }
        let mut t = table(vec![
            self.t("ID", "编号"),
            self.t("Name", "名称"),
            self.t("Type", "类型"),
            self.t("Address", "地址"),
            self.t("Distance", "距离"),
        ]);
        for (p, d) in pts.iter().zip(dist) {
            t.add_row(vec![
                p.id.clone(),
                p.name.clone(),
                p.point_type.label(self.lang).to_owned(),
                p.address.clone(),
                d.map(|m| {
                    if m >= 1000.0 {
                        format!("{:.1} km", m / 1000.0)
                    } else {
                        format!("{m:.0} m")
                    }
                })
                .unwrap_or_default(),
            ]);
        }
        println!("{t}");
    }

    pub fn tasks(&self, today: chrono::NaiveDate, tasks: &[fieldcheck_core::tasks::TaskView]) {
        if self.json {
            return self.print_json(&serde_json::json!({ "today": today, "tasks": tasks }));
        }
        let mut t = table(vec![
            self.t("Date", "日期"),
            self.t("Round", "测评轮次"),
            self.t("Point", "点位"),
            self.t("Name", "名称"),
            self.t("Type", "类型"),
            self.t("Address", "地址"),
            self.t("Distance", "距离"),
            self.t("Done", "完成"),
        ]);
        for v in tasks {
            let x = &v.task;
            t.add_row(vec![
                x.date.to_string(),
                x.round_name.clone(),
                x.point_id.clone(),
                x.point_name.clone(),
                x.point_type.label(self.lang).to_owned(),
                x.address.clone(),
                v.distance_m
                    .map(|m| {
                        if m >= 1000.0 {
                            format!("{:.1} km", m / 1000.0)
                        } else {
                            format!("{m:.0} m")
                        }
                    })
                    .unwrap_or_default(),
                if x.done {
                    self.t("yes", "是")
                } else {
                    self.t("no", "否")
                }
                .to_owned(),
            ]);
        }
        println!("{}: {today}", self.t("Today", "今天"));
        println!("{t}");
    }

    pub fn units(&self, units: &[Unit]) {
        if self.json {
            return self.print_json(&units);
        }
        let mut t = table(vec![
            self.t("ID", "编号"),
            self.t("Name", "名称"),
            self.t("Kind", "类别"),
            self.t("Contact", "联系方式"),
        ]);
        for u in units {
            t.add_row(vec![
                u.id.clone(),
                u.name.get(self.lang).to_owned(),
                u.kind.label(self.lang).to_owned(),
                u.contact.clone().unwrap_or_default(),
            ]);
        }
        println!("{t}");
    }

    pub fn categories(&self, cats: &[Category]) {
        if self.json {
            return self.print_json(&cats);
        }
        let mut t = table(vec![
            self.t("Code", "编码"),
            self.t("Class", "大类"),
            self.t("Category", "小类"),
            self.t("Deadline", "处置时限"),
        ]);
        for c in cats {
            let unit = match c.deadline.unit {
                DeadlineUnit::WorkingHours => self.t("working hours", "个工作时"),
                DeadlineUnit::WorkingDays => self.t("working days", "个工作日"),
                DeadlineUnit::NaturalHours => self.t("hours", "小时"),
            };
            t.add_row(vec![
                c.code.clone(),
                c.major.get(self.lang).to_owned(),
                c.minor.get(self.lang).to_owned(),
                format!("{} {unit}", c.deadline.amount),
            ]);
        }
        println!("{t}");
    }

    pub fn templates(&self, tpls: &[ChecklistTemplate]) {
        if self.json {
            return self.print_json(&tpls);
        }
        let mut t = table(vec![
            self.t("ID", "编号"),
            self.t("Version", "版本"),
            self.t("Point type", "点位类型"),
            self.t("Name", "名称"),
            self.t("Items", "检查项"),
        ]);
        for x in tpls {
            t.add_row(vec![
                x.id.clone(),
                x.version.to_string(),
                x.point_type.label(self.lang).to_owned(),
                x.name.get(self.lang).to_owned(),
                x.items.len().to_string(),
            ]);
        }
        println!("{t}");
    }

    fn item_kind(&self, k: &ItemKind) -> String {
        match k {
            ItemKind::PassFail => self.t("pass/fail", "合格/不合格").to_owned(),
            ItemKind::Count { deduction, cap } => {
                format!(
                    "{} -{deduction}, {} {cap}",
                    self.t("count", "计数"),
                    self.t("cap", "上限")
                )
            }
            ItemKind::Measured {
                threshold,
                comparison,
                unit,
            } => {
                let op = match comparison {
                    fieldcheck_core::domain::checklist::Comparison::AtLeast => "≥",
                    fieldcheck_core::domain::checklist::Comparison::AtMost => "≤",
                };
                format!("{op} {threshold}{unit}")
            }
        }
    }

    pub fn template(&self, tpl: &ChecklistTemplate) {
        if self.json {
            return self.print_json(tpl);
        }
        println!("{} v{} — {}", tpl.id, tpl.version, tpl.name.get(self.lang));
        let mut t = table(vec![
            self.t("Item", "检查项"),
            self.t("Standard", "标准"),
            self.t("Scoring", "计分"),
            self.t("Points", "分值"),
        ]);
        for i in &tpl.items {
            t.add_row(vec![
                i.id.clone(),
                i.text.get(self.lang).to_owned(),
                self.item_kind(&i.kind),
                i.points.to_string(),
            ]);
        }
        println!("{t}");
    }

    fn result_text(&self, r: &ItemResult) -> String {
        match r {
            ItemResult::Pass => self.t("pass", "合格").into(),
            ItemResult::Fail => self.t("FAIL", "不合格").into(),
            ItemResult::NotApplicable => self.t("n/a", "不适用").into(),
            ItemResult::Count { count } => format!("{} {count}", self.t("count", "计数")),
            ItemResult::Value { value } => format!("{} {value}", self.t("value", "测量值")),
        }
    }

    pub fn inspection(
        &self,
        i: &Inspection,
        tpl: &ChecklistTemplate,
        hist: Option<&[EventRecord]>,
    ) {
        if self.json {
            return self.print_json(&json!({ "inspection": i, "history": hist }));
        }
        println!("{}: {}", self.t("Inspection", "巡查"), i.id);
        println!(
            "{}: {}   {}: {} v{}   {}: {}",
            self.t("Point", "点位"),
            i.point_id,
            self.t("Checklist", "检查表"),
            i.template_id,
            i.template_version,
            self.t("Status", "状态"),
            match i.status {
                fieldcheck_core::domain::inspection::InspectionStatus::InProgress =>
                    self.t("in progress", "进行中"),
                fieldcheck_core::domain::inspection::InspectionStatus::Finished =>
                    self.t("finished", "已完成"),
            }
        );
        println!(
            "{}: {:.1} ({}/{})   {}: {}/{}   {}: {}",
            self.t("Score", "得分"),
            i.score.percent,
            i.score.earned,
            i.score.possible,
            self.t("Recorded", "已记录"),
            i.score.recorded_items,
            tpl.items.len(),
            self.t("Failed", "不合格"),
            i.score.failed_items
        );
        let mut t = table(vec![
            self.t("Item", "检查项"),
            self.t("Standard", "标准"),
            self.t("Result", "结果"),
            self.t("Note", "备注"),
        ]);
        for item in &tpl.items {
            let rec = i.items.get(&item.id);
            t.add_row(vec![
                item.id.clone(),
                item.text.get(self.lang).to_owned(),
                rec.map(|r| self.result_text(&r.result))
                    .unwrap_or_else(|| "—".into()),
                rec.and_then(|r| r.note.clone()).unwrap_or_default(),
            ]);
        }
        println!("{t}");
        if let Some(h) = hist {
            self.history(h);
        }
    }

    pub fn inspection_list(&self, list: &[Inspection]) {
        if self.json {
            return self.print_json(&list);
        }
        let mut t = table(vec![
            self.t("Inspection", "巡查"),
            self.t("Started", "开始时间"),
            self.t("Inspector", "巡查员"),
            self.t("Score", "得分"),
            self.t("Failed", "不合格项"),
        ]);
        for i in list {
            t.add_row(vec![
                i.id.to_string(),
                self.local(i.started_at),
                i.inspector.clone(),
                format!("{:.1}", i.score.percent),
                i.score.failed_items.to_string(),
            ]);
        }
        println!("{t}");
    }

    pub fn problem_saved(&self, p: &Problem) {
        if self.json {
            return self.print_json(p);
        }
        println!(
            "{} {} — {}",
            p.code,
            p.status.label(self.lang),
            p.description
        );
        if let Some(d) = p.deadline {
            println!("{}: {}", self.t("Deadline", "整改时限"), self.local(d));
        }
    }

    pub fn ledger(&self, page: &Page<LedgerRow>) {
        if self.json {
            return self.print_json(page);
        }
        let mut t = table(vec![
            self.t("Code", "编号"),
            self.t("Status", "状态"),
            self.t("Category", "类别"),
            self.t("Description", "描述"),
            self.t("Unit", "责任单位"),
            self.t("Deadline", "时限"),
            self.t("Reported", "上报时间"),
        ]);
        for r in &page.items {
            let p = &r.problem;
            let mut status = p.status.label(self.lang).to_owned();
            if r.overdue {
                status.push_str(self.t(" (overdue)", "（超期）"));
            }
            if r.refused.is_some() {
                status.push_str(self.t(" (refused by server)", "（服务器拒收）"));
            } else if r.rejected_events > 0 {
                status.push_str(self.t(" (conflict)", "（有冲突）"));
            }
            t.add_row(vec![
                p.code.clone(),
                status,
                p.category.clone(),
                p.description.chars().take(30).collect(),
                p.unit_id.clone().unwrap_or_default(),
                p.deadline.map(|d| self.local(d)).unwrap_or_default(),
                self.local(p.reported_at),
            ]);
        }
        println!("{t}");
        println!(
            "{} {}–{} / {}",
            self.t("Showing", "显示"),
            if page.items.is_empty() {
                0
            } else {
                page.offset + 1
            },
            page.offset as usize + page.items.len(),
            page.total
        );
    }

    /// The part of an event a person reads in the history: reasons, notes, unit, deadline.
    fn event_detail(&self, e: &fieldcheck_core::domain::Event) -> String {
        use fieldcheck_core::domain::EventBody as B;
        use fieldcheck_core::domain::event::RejectReason;
        let note = |n: &Option<String>| n.clone().unwrap_or_default();
        let mut s = match &e.body {
            B::ProblemReported(r) => format!("{} {}", r.category, r.description),
            B::ProblemEdited(ed) => [
                ed.description.clone(),
                ed.address.clone(),
                ed.category.clone(),
                ed.severity.map(|v| v.label(self.lang).to_owned()),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; "),
            B::ProblemRejected {
                reason: RejectReason::Duplicate { of },
            } => format!("{} {of}", self.t("duplicate of", "重复，同")),
            B::ProblemRejected {
                reason: RejectReason::Invalid { reason },
            } => reason.clone(),
            B::ProblemDispatched {
                unit_id,
                deadline,
                note: n,
            } => format!(
                "→ {unit_id}, {} {} {}",
                self.t("due", "时限"),
                self.local(*deadline),
                note(n)
            ),
            B::ProblemReturned { reason } => reason.clone(),
            B::ProblemVerified {
                passed, note: n, ..
            }
            | B::ProblemRechecked { passed, note: n } => {
                format!(
                    "{} {}",
                    if *passed {
                        self.t("passed", "通过")
                    } else {
                        self.t("failed", "不通过")
                    },
                    note(n)
                )
            }
            B::ExtensionRequested { until, reason } => format!("{} {reason}", self.local(*until)),
            B::ExtensionDecided { approved, note: n } => format!(
                "{} {}",
                if *approved {
                    self.t("approved", "批准")
                } else {
                    self.t("denied", "驳回")
                },
                note(n)
            ),
            B::ProblemFiled { note: n }
            | B::ProblemAccepted { note: n }
            | B::ProblemRectified { note: n }
            | B::ProblemClosed { note: n }
            | B::ProblemPhotosAdded { note: n } => note(n),
            B::InspectionItemRecorded {
                item_id,
                result,
                note: n,
            } => {
                format!("{item_id}: {} {}", self.result_text(result), note(n))
            }
            B::InspectionStarted { point_id, .. } => point_id.clone(),
            B::InspectionFinished { .. } => String::new(),
        };
        if !e.photos.is_empty() {
            s.push_str(&format!(
                " [{} {}]",
                e.photos.len(),
                self.t("photo(s)", "张照片")
            ));
        }
        s.trim().to_owned()
    }

    fn history(&self, hist: &[EventRecord]) {
        let mut t = table(vec![
            self.t("Time", "时间"),
            self.t("Who", "操作人"),
            self.t("What", "操作"),
            self.t("Detail", "内容"),
            self.t("Result", "结果"),
        ]);
        for h in hist {
            let e = &h.event;
            t.add_row(vec![
                self.local(e.at()),
                format!("{} ({})", e.actor, e.role.label(self.lang)),
                kind_label(e.kind(), self.lang).to_owned(),
                self.event_detail(e),
                match (&h.server_refusal, &h.outcome) {
                    (Some(r), _) => format!(
                        "{} [{}] {}{}",
                        self.t("REFUSED BY SERVER", "服务器拒收"),
                        r.code,
                        r.message,
                        if h.superseded_by.is_some() {
                            self.t(" — corrected and sent again", "——已更正并重新发送")
                        } else {
                            ""
                        }
                    ),
                    (None, _) if h.superseded_by.is_some() => self
                        .t("replaced by the report sent again", "已并入重新发送的上报")
                        .to_owned(),
                    (None, EventOutcome::Applied) => self.t("applied", "已生效").to_owned(),
                    (None, EventOutcome::Rejected { code, message }) => format!(
                        "{} [{}] {message}",
                        self.t("REJECTED", "被驳回"),
                        code.as_str()
                    ),
                },
            ]);
        }
        println!("{t}");
    }

    pub fn problem_detail(
        &self,
        p: &Problem,
        hist: &[EventRecord],
        refused: Option<&ServerRefusal>,
        now: DateTime<Utc>,
    ) {
        if self.json {
            return self.print_json(&json!({
                "problem": p,
                "overdue": p.is_overdue(now),
                "refused": refused,
                "history": hist,
            }));
        }
        println!("{} — {}", p.code, p.status.label(self.lang));
        if let Some(r) = refused {
            // The record exists only here: say why, in plain words, and what can be done.
            println!(
                "  {}: {} [{}: {}]",
                self.t(
                    "NOT ACCEPTED BY THE SERVER — only on this device",
                    "服务器拒收——仅保存在本设备"
                ),
                r.plain_words(self.lang),
                r.code,
                r.message
            );
            println!(
                "  {} fieldcheck problem resend {} [--district D | --point P]",
                self.t("Correct and send again:", "更正后重新发送："),
                p.code
            );
            println!(
                "  {} fieldcheck problem discard {} --yes",
                self.t("Or discard it:", "或放弃此记录："),
                p.code
            );
        }
        let line = |k: (&str, &str), v: String| {
            if !v.is_empty() {
                println!("  {}: {v}", self.t(k.0, k.1));
            }
        };
        line(("Category", "类别"), p.category.clone());
        line(("Description", "描述"), p.description.clone());
        line(("Address", "地址"), p.address.clone());
        if let Some(l) = p.location {
            line(
                ("Location", "位置"),
                format!(
                    "{:.6}, {:.6} ({}{})",
                    l.lat,
                    l.lon,
                    l.source.as_str(),
                    l.accuracy_m
                        .map(|a| format!(", ±{a:.0} m"))
                        .unwrap_or_default()
                ),
            );
        }
        line(
            ("District", "所属区域"),
            p.district_id.clone().unwrap_or_default(),
        );
        line(("Point", "点位"), p.point_id.clone().unwrap_or_default());
        if let Some(pl) = p.placement {
            use fieldcheck_core::domain::placement::PlacementSource as S;
            let how = match pl.source {
                S::NearPoint => self.t("by the registered point nearby", "按附近的点位"),
                S::NearbyPoints => self.t("by the registered points around", "按周边点位"),
                S::ReporterDistrict => self.t("the reporter's own district", "按上报人所属区域"),
            };
            line(
                ("Placed", "定位归属"),
                match pl.distance_m {
                    Some(m) => format!("{how} ({m} m)"),
                    None => how.to_owned(),
                },
            );
        }
        line(
            ("Reporter", "上报人"),
            format!("{} ({})", p.reporter, p.reporter_role.label(self.lang)),
        );
        line(("Unit", "责任单位"), p.unit_id.clone().unwrap_or_default());
        line(
            ("Deadline", "整改时限"),
            p.deadline.map(|d| self.local(d)).unwrap_or_default(),
        );
        if p.is_overdue(now) {
            line(("Overdue", "超期"), self.t("yes", "是").into());
        }
        line(("Rework", "返工次数"), p.rework_count.to_string());
        line(
            ("Reason", "原因"),
            p.status_reason.clone().unwrap_or_default(),
        );
        if let Some(x) = &p.extension {
            line(
                ("Extension requested", "延期申请"),
                format!("{} — {}", self.local(x.until), x.reason),
            );
        }
        for ph in &p.photos {
            line(
                ("Photo", "照片"),
                format!("{} {}", ph.role.as_str(), ph.hash),
            );
        }
        self.history(hist);
    }

    pub fn stats(&self, s: &Stats, units: &[Unit]) {
        if self.json {
            return self.print_json(s);
        }
        println!(
            "{}: {}   {}: {}",
            self.t("Problems", "问题总数"),
            s.total,
            self.t("Overdue", "超期未办"),
            s.overdue
        );
        let mut t = table(vec![self.t("Status", "状态"), self.t("Count", "数量")]);
        for (st, n) in &s.by_status {
            t.add_row(vec![st.label(self.lang).to_owned(), n.to_string()]);
        }
        println!("{t}");
        let mut t = table(vec![
            self.t("Rank", "排名"),
            self.t("Unit", "责任单位"),
            self.t("Assigned", "派遣数"),
            self.t("Rectified", "已整改"),
            self.t("Rate", "整改率"),
            self.t("On time", "按期结案率"),
            self.t("Overdue", "超期未办"),
            self.t("Reworked", "返工"),
            self.t("Rework rate", "返工率"),
        ]);
        for (i, u) in s.units.iter().enumerate() {
            let name = units
                .iter()
                .find(|x| x.id == u.unit_id)
                .map(|x| x.name.get(self.lang).to_owned())
                .unwrap_or_else(|| u.unit_id.clone());
            t.add_row(vec![
                (i + 1).to_string(),
                name,
                u.tally.assigned.to_string(),
                u.tally.rectified.to_string(),
                format!("{:.1}%", u.rectification_rate * 100.0),
                format!("{:.1}%", u.on_time_rate * 100.0),
                u.tally.overdue_open.to_string(),
                u.tally.reworked.to_string(),
                format!("{:.1}%", u.rework_rate * 100.0),
            ]);
        }
        println!("{t}");
    }
}
