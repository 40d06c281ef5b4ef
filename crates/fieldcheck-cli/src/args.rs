//! Command-line grammar.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "fieldcheck",
    version,
    about = "FieldCheck 创文巡查 — a headless device: inspections, problems and the ledger from a shell"
)]
pub struct Cli {
    /// Device database file.
    #[arg(
        long,
        global = true,
        env = "FIELDCHECK_DB",
        default_value = "fieldcheck.db"
    )]
    pub db: PathBuf,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    pub json: bool,
    /// Output language (default from the locale; Chinese unless it is English).
    #[arg(long, global = true, value_enum)]
    pub lang: Option<LangArg>,
    /// Act as this user instead of the one signed in on the device.
    #[arg(long = "as", global = true, value_name = "USER_ID")]
    pub as_user: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LangArg {
    Zh,
    En,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create the device database (done automatically by every command) and show the device.
    Init,
    /// Set up a demo device: the demo city (鼓楼区), sample problems, signed in as an
    /// inspector.
    Demo,
    /// Sign a user in on this device.
    Login { user_id: String },
    /// Sign out.
    Logout,
    /// Show the device and the signed-in user.
    Whoami,
    /// Import reference data (districts, units, points, categories, templates, users,
    /// calendar) from .json, .csv or .xlsx. All or nothing.
    Import {
        file: PathBuf,
        /// What the file holds, when the name does not say (points, units, …).
        #[arg(long)]
        kind: Option<String>,
    },
    /// Export reference data to .json, .csv or .xlsx.
    Export {
        file: PathBuf,
        #[arg(long)]
        kind: Option<String>,
    },
    /// List inspection points.
    Points {
        #[arg(long = "type")]
        point_type: Option<String>,
        #[arg(long)]
        district: Option<String>,
        /// Sort by distance from LAT,LON.
        #[arg(long, value_name = "LAT,LON")]
        near: Option<String>,
    },
    /// Today's tasks: the evaluation-round points assigned to you whose day has come
    /// (fetched by `sync`; not done first, then nearest first).
    Tasks {
        /// Sort by distance from LAT,LON.
        #[arg(long, value_name = "LAT,LON")]
        near: Option<String>,
    },
    /// List responsible units.
    Units,
    /// List problem categories and their deadline rules.
    Categories,
    /// List checklist templates, or show one.
    Templates { id: Option<String> },
    /// Checklist inspections of points.
    #[command(subcommand)]
    Inspect(InspectCmd),
    /// Problems and their lifecycle.
    #[command(subcommand)]
    Problem(ProblemCmd),
    /// The problem ledger (问题台账), filtered and sorted.
    List(ListArgs),
    /// Full-text search of the ledger (Chinese works).
    Search {
        text: String,
        #[command(flatten)]
        list: ListArgs,
    },
    /// A problem or inspection with its full history.
    Show { id: String },
    /// Ledger statistics and the unit ranking by rectification rate.
    Stats,
    /// Photos on the device.
    #[command(subcommand)]
    Photo(PhotoCmd),
    /// Enroll this device with a FieldCheck server using a one-time code from the office.
    Enroll {
        /// Server address, e.g. http://10.0.0.5:8080
        #[arg(long, value_name = "URL")]
        server: String,
        /// One-time enrollment code.
        #[arg(long)]
        code: String,
        /// Name shown to the office in the device list.
        #[arg(long, default_value = "fieldcheck-cli")]
        name: String,
        /// CA certificate (PEM) of a city office that runs its own certificate authority:
        /// trusted for this server besides the built-in roots, kept for every later sync.
        #[arg(long, value_name = "FILE")]
        ca_cert: Option<PathBuf>,
        /// Attempts on network errors and server errors (1 = no retry). Running `enroll`
        /// again with the same code is safe: it repeats this attempt.
        #[arg(long, default_value_t = 6)]
        attempts: u32,
    },
    /// Send this device's events and photos to the server and fetch what changed.
    Sync {
        /// Attempts per request on network errors and server errors (1 = no retry).
        #[arg(long, default_value_t = 6)]
        attempts: u32,
    },
    /// Development aids (hidden).
    #[command(subcommand, hide = true)]
    Dev(DevCmd),
}

#[derive(Subcommand, Debug)]
pub enum PhotoCmd {
    /// Ingest photo files: check, orient, strip metadata, make display copy and thumbnail.
    Add { files: Vec<PathBuf> },
    /// Show a stored photo and where its files are.
    Show { hash: String },
    /// Photos that records refer to but that are not on this device.
    Missing,
}

#[derive(Subcommand, Debug)]
pub enum DevCmd {
    /// Report problems in a loop, printing "saved <id> <code>" after each commit
    /// (used by the crash test).
    WriteLoop {
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
        #[arg(long, default_value = "SR-01")]
        category: String,
    },
}

#[derive(Args, Debug, Clone)]
pub struct Place {
    /// GPS fix: LAT,LON[,ACCURACY_M] (WGS-84).
    #[arg(long, value_name = "LAT,LON[,ACC]")]
    pub gps: Option<String>,
    /// A pin dropped on a map: LAT,LON (WGS-84).
    #[arg(long, value_name = "LAT,LON", conflicts_with = "gps")]
    pub pin: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum InspectCmd {
    /// Start an inspection of a point with its checklist.
    Start {
        #[arg(long)]
        point: String,
        /// Template id (default: the newest for the point type).
        #[arg(long)]
        template: Option<String>,
        #[arg(long, requires = "template")]
        version: Option<u32>,
        #[command(flatten)]
        place: Place,
    },
    /// Record one checklist item.
    Record {
        inspection: String,
        item: String,
        #[arg(long, group = "result")]
        pass: bool,
        #[arg(long, group = "result")]
        fail: bool,
        /// Not applicable.
        #[arg(long, group = "result")]
        na: bool,
        #[arg(long, group = "result")]
        count: Option<u32>,
        #[arg(long, group = "result")]
        value: Option<f64>,
        #[arg(long)]
        note: Option<String>,
        /// Hash of a photo already on the device.
        #[arg(long = "photo-hash")]
        photo_hashes: Vec<String>,
        /// A photo file (JPEG, PNG, WebP) to ingest and attach; repeatable.
        #[arg(long = "photo")]
        photos: Vec<PathBuf>,
    },
    /// Finish an inspection (every item must be recorded).
    Finish {
        inspection: String,
        #[command(flatten)]
        place: Place,
    },
    /// Raise a problem from a failed item.
    Raise {
        inspection: String,
        item: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Show an inspection with its items and score.
    Show { inspection: String },
    /// Remove an inspection the server refused (e.g. of a point outside your districts) from
    /// this device, with what was recorded in it. Needs --yes: this cannot be undone.
    Discard {
        inspection: String,
        /// Yes, remove it for good.
        #[arg(long)]
        yes: bool,
    },
    /// Inspections of a point, newest first.
    History { point: String },
}

#[derive(Subcommand, Debug)]
pub enum ProblemCmd {
    /// Report a problem.
    Add {
        #[arg(long)]
        category: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        point: Option<String>,
        #[arg(long)]
        district: Option<String>,
        #[arg(long, default_value = "")]
        address: String,
        #[arg(long)]
        severity: Option<String>,
        #[command(flatten)]
        place: Place,
        #[arg(long = "photo-hash")]
        photo_hashes: Vec<String>,
        /// A photo file (JPEG, PNG, WebP) to ingest and attach; repeatable.
        #[arg(long = "photo")]
        photos: Vec<PathBuf>,
    },
    /// Edit descriptive fields.
    Edit {
        id: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        address: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        severity: Option<String>,
        #[arg(long)]
        district: Option<String>,
        #[command(flatten)]
        place: Place,
    },
    /// 立案: accept a report as a case (office).
    File {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// 不予立案: reject as a duplicate of another problem or as invalid (office).
    Reject {
        id: String,
        #[arg(
            long,
            value_name = "CODE",
            conflicts_with = "reason",
            required_unless_present = "reason"
        )]
        duplicate_of: Option<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// 派遣: dispatch to a responsible unit (office). Deadline from the category rule
    /// unless given.
    Dispatch {
        id: String,
        #[arg(long)]
        unit: String,
        /// RFC 3339, or "YYYY-MM-DD HH:MM" / "YYYY-MM-DD" in local (calendar) time.
        #[arg(long)]
        deadline: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// 签收: the unit accepts the case.
    Accept {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// 退回: the unit returns it as not its responsibility.
    Return {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// 整改反馈: the unit reports it fixed, with after-photos.
    Rectify {
        id: String,
        #[arg(long = "photo-hash")]
        photo_hashes: Vec<String>,
        /// A photo file (JPEG, PNG, WebP) to ingest and attach; repeatable.
        #[arg(long = "photo")]
        photos: Vec<PathBuf>,
        #[arg(long)]
        note: Option<String>,
    },
    /// 核查: check on site: --pass, or --fail with a reason (back to the unit).
    Verify {
        id: String,
        #[arg(long, conflicts_with = "fail", required_unless_present = "fail")]
        pass: bool,
        #[arg(long)]
        fail: bool,
        #[arg(long)]
        note: Option<String>,
        #[arg(long = "photo-hash")]
        photo_hashes: Vec<String>,
        /// A photo file (JPEG, PNG, WebP) to ingest and attach; repeatable.
        #[arg(long = "photo")]
        photos: Vec<PathBuf>,
    },
    /// 结案 (office).
    Close {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// 申请延期: the unit asks for a later deadline.
    Extend {
        id: String,
        #[arg(long)]
        until: String,
        #[arg(long)]
        reason: String,
    },
    /// 延期审批: approve or deny the pending extension (office).
    DecideExtension {
        id: String,
        #[arg(long, conflicts_with = "deny", required_unless_present = "deny")]
        approve: bool,
        #[arg(long)]
        deny: bool,
        #[arg(long)]
        note: Option<String>,
    },
    /// 巩固复查: re-check a closed problem: --pass, or --fail to reopen it.
    Recheck {
        id: String,
        #[arg(long, conflicts_with = "fail", required_unless_present = "fail")]
        pass: bool,
        #[arg(long)]
        fail: bool,
        #[arg(long)]
        note: Option<String>,
        #[arg(long = "photo-hash")]
        photo_hashes: Vec<String>,
        /// A photo file (JPEG, PNG, WebP) to ingest and attach; repeatable.
        #[arg(long = "photo")]
        photos: Vec<PathBuf>,
    },
    /// Send a report the server refused once more, corrected: a district you may report in,
    /// or a registered point (which brings its district). Nothing else is needed when the
    /// office has widened your districts meanwhile.
    Resend {
        id: String,
        #[arg(long)]
        district: Option<String>,
        #[arg(long)]
        point: Option<String>,
    },
    /// Remove a report the server refused from this device, with its history (its photo
    /// files stay). Needs --yes: this cannot be undone.
    Discard {
        id: String,
        /// Yes, remove it for good.
        #[arg(long)]
        yes: bool,
    },
    /// Add photos to a problem.
    AddPhotos {
        id: String,
        #[arg(long = "photo-hash")]
        photo_hashes: Vec<String>,
        /// A photo file (JPEG, PNG, WebP) to ingest and attach; repeatable.
        #[arg(long = "photo")]
        photos: Vec<PathBuf>,
        /// before, after or evidence.
        #[arg(long, default_value = "evidence")]
        role: String,
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct ListArgs {
    /// Status (repeatable): reported, filed, dispatched, … or 已派遣 …
    #[arg(long)]
    pub status: Vec<String>,
    /// Category code (SR-02) or major class (SR).
    #[arg(long)]
    pub category: Option<String>,
    #[arg(long)]
    pub unit: Option<String>,
    #[arg(long)]
    pub point: Option<String>,
    #[arg(long)]
    pub district: Option<String>,
    #[arg(long)]
    pub reporter: Option<String>,
    /// Reported on or after this date (YYYY-MM-DD, local).
    #[arg(long)]
    pub from: Option<String>,
    /// Reported before the end of this date (YYYY-MM-DD, local).
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long)]
    pub overdue: bool,
    /// Waiting for the unit with the deadline within the next 24 hours.
    #[arg(long)]
    pub due_soon: bool,
    /// Only records with rejected (conflicting) events.
    #[arg(long)]
    pub conflicts: bool,
    /// newest, oldest, deadline, updated, code
    #[arg(long, default_value = "newest")]
    pub sort: String,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long, default_value_t = 0)]
    pub offset: u32,
}
