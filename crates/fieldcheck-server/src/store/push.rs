//! Push with group commit.
//!
//! Concurrent push requests queue here; whoever takes the writer lock drains the queue and
//! applies every queued batch, in arrival order, in **one** write transaction with a handful of
//! set-oriented statements (one dedup lookup, one load of the touched records, multi-row
//! inserts and upserts), then answers each request. The semantics are exactly those of
//! applying the batches one after another, each in its own transaction:
//!
//! * dedup by event id sees the events stored earlier in the same group;
//! * every event is authorized against its record's scope as it stands after the events
//!   before it (in memory, starting from what is stored);
//! * every record is folded with the domain's fold (`fold_problem` / `fold_inspection`); an
//!   event that sorts after every known event of its record is applied incrementally, which is
//!   what the full fold would do with it, otherwise the record is refolded from all its events;
//! * each response is sent only after the transaction committed (crash safety), and carries
//!   the record states as they stood after *its* batch.
//!
//! Limits keep one sender from stalling everyone behind the single writer: a record holds at
//! most [`MAX_RECORD_EVENTS`] events; a group folds at most [`GROUP_FOLD_BUDGET`] events for
//! events that cannot be applied incrementally (backdated ones, first touches), after which a
//! batch stops at its first event that would need more and leaves the rest unanswered (the
//! device keeps them and sends them again); a sender whose events the fold rejected
//! [`MAX_REJECTED_PER_HOUR`] times in the past hour has further rejected events refused
//! instead of stored.
//!
//! Backdating: an event is placed after the newest event of its record that its sender had
//! already been sent by a pull ([`Hlc::not_before`], see ARCHITECTURE.md "Events and scope").
//!
//! A group whose transaction fails is rolled back and its batches are retried one by one, so
//! a failing batch fails only its own request. The work runs on a spawned task: a client that
//! disconnects cannot cancel a transaction that carries other devices' batches.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use fieldcheck_domain::Hlc;
use fieldcheck_domain::event::{EntityKind, Event, EventBody, EventOutcome};
use fieldcheck_domain::fold::{fold_inspection, fold_problem};
use fieldcheck_domain::inspection::Inspection;
use fieldcheck_domain::lifecycle::apply_problem;
use fieldcheck_domain::problem::Problem;
use fieldcheck_protocol::ReferenceBundle;
use fieldcheck_protocol::sync::{PushResponse, PushResult, PushStatus};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::AppendCtx;
use crate::error::StoreError;
use crate::policy::{Refused, ScopeAttrs, Viewer, refusal};

/// A group stops taking queued batches once it holds this many events (a batch is never
/// split; a single batch may be up to `MAX_PUSH_EVENTS`).
const MAX_GROUP_EVENTS: usize = 4_000;

/// Events one record may hold. A real problem has tens; the cap bounds the work of every fold
/// of it (and a sender who edits one report forever).
pub const MAX_RECORD_EVENTS: usize = 2_000;

/// Events a group may fold for events that cannot be applied incrementally, beyond the first
/// event of each batch (which always makes progress).
pub const GROUP_FOLD_BUDGET: usize = 20_000;

/// Fold rejections per sender per hour that are stored; beyond, such events are refused.
pub const MAX_REJECTED_PER_HOUR: u32 = 1_000;

/// An event as received, clamped and serialised by the request's own task (in parallel with
/// other requests), so the writer only decides and writes.
pub(crate) struct Prepared {
    /// With the clamped HLC (what is stored if it is applied).
    pub ev: Arc<Event>,
    pub id: String,
    pub entity: String,
    pub hlc: String,
    pub body: String,
    /// Field sizes or formats the domain refuses (checked on the request's own task).
    pub invalid: Option<Refused>,
}

impl Prepared {
    fn new(ev: Event, invalid: Option<Refused>) -> Result<Prepared, StoreError> {
        Ok(Prepared {
            id: ev.id.to_string(),
            entity: ev.entity_id.to_string(),
            hlc: ev.hlc.to_string(),
            body: serde_json::to_string(&ev)?,
            ev: Arc::new(ev),
            invalid,
        })
    }
}

/// One push request as the writer needs it (owned: another task may apply it).
pub(crate) struct JobInput {
    pub events: Vec<Prepared>,
    pub viewer: Viewer,
    pub refs: Arc<ReferenceBundle>,
    pub now_ms: i64,
    /// The sender's pull mark: every event with a `seq` up to it was sent to them.
    pub mark: i64,
}

struct Job {
    input: JobInput,
    reply: oneshot::Sender<Result<PushResponse, StoreError>>,
}

/// The queue of push requests waiting for the writer, and the writer lock.
#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: Mutex<VecDeque<Job>>,
    writer: tokio::sync::Mutex<()>,
}

const HOUR_MS: i64 = 3_600_000;

/// The `rate_counts` key of a sender's fold rejections.
fn rejected_key(user: &str) -> String {
    format!("fold-rejected:{user}")
}

/// Fold rejections per sender in the current hour, as a group sees them: read from
/// `rate_counts` (migration 0014) inside the group's write transaction, counted on in memory
/// while the group is planned, and written back in the same transaction. Every instance on one
/// database takes the same write lock for a group (PostgreSQL's append lock, SQLite's
/// `BEGIN IMMEDIATE`), so the read-count-write is serialised across instances and the quota
/// is one per sender for all of them; a group that rolls back counts nothing. A row's
/// `window_start` holds the *end* of the sender's hour (as the push limiter's holds a future
/// arrival time), so the counters' prunes, which delete rows whose time lies in the past,
/// leave it until the hour is over.
#[derive(Default)]
pub(crate) struct RejectedQuota {
    /// Sender -> (end of their hour, rejections in it).
    by_user: HashMap<String, (i64, u32)>,
    changed: HashSet<String>,
}

impl RejectedQuota {
    fn from_rows(rows: Vec<(String, i64, i64)>) -> RejectedQuota {
        let by_user = rows
            .into_iter()
            .filter_map(|(key, end, n)| {
                let user = key.strip_prefix("fold-rejected:")?;
                Some((
                    user.to_owned(),
                    (end, u32::try_from(n.max(0)).unwrap_or(u32::MAX)),
                ))
            })
            .collect();
        RejectedQuota {
            by_user,
            changed: HashSet::new(),
        }
    }

    fn exhausted(&self, user: &str, now_ms: i64) -> bool {
        self.by_user
            .get(user)
            .is_some_and(|(end, n)| now_ms < *end && *n >= MAX_REJECTED_PER_HOUR)
    }

    fn count(&mut self, user: &str, now_ms: i64) {
        let e = self
            .by_user
            .entry(user.to_owned())
            .or_insert((now_ms + HOUR_MS, 0));
        if now_ms >= e.0 {
            *e = (now_ms + HOUR_MS, 0);
        }
        e.1 += 1;
        self.changed.insert(user.to_owned());
    }

    /// `(key, end of the hour, count)` of the senders this group counted.
    fn changed_rows(&self) -> Vec<(String, i64, i64)> {
        let mut rows: Vec<_> = self
            .changed
            .iter()
            .filter_map(|u| {
                let (end, n) = self.by_user.get(u)?;
                Some((rejected_key(u), *end, i64::from(*n)))
            })
            .collect();
        rows.sort();
        rows
    }
}

/// An event row as stored (dedup lookup).
pub(crate) struct StoredRow {
    pub event_id: String,
    pub entity_id: String,
    pub hlc: String,
    pub outcome: String,
}

/// One stored event of a touched record, in `seq` order per record.
pub(crate) struct RecordRow {
    pub seq: i64,
    pub entity_id: String,
    pub entity_kind: String,
    pub body: String,
    pub outcome: String,
    pub attrs: ScopeAttrs,
}

/// A new event row, in processing order (its `seq` is assigned by the insert).
pub(crate) struct NewRow<'a> {
    pub event: &'a Prepared,
    pub entity_kind: &'static str,
    pub outcome: String,
    pub attrs: ScopeAttrs,
    pub received_at: i64,
}

pub(crate) struct ProblemRow {
    pub id: String,
    pub code: String,
    pub status: &'static str,
    pub district_id: Option<String>,
    pub unit_id: Option<String>,
    pub reporter: String,
    pub state: String,
    pub last_seq: i64,
    /// The ledger's columns (migration 0006, `store/ledger.rs`).
    pub ledger: LedgerCols,
}

/// What the console's ledger filters and sorts on, copied from the folded problem.
pub(crate) struct LedgerCols {
    pub category: String,
    pub description: String,
    pub address: String,
    pub point_id: Option<String>,
    pub inspection_id: Option<String>,
    pub severity: &'static str,
    pub reporter_role: &'static str,
    pub source: &'static str,
    pub rework_count: i64,
    pub deadline: Option<i64>,
    pub reported_at: i64,
    pub updated_at: i64,
    pub dispatched_at: Option<i64>,
    pub closed_at: Option<i64>,
    /// The text search's terms (migration 0008): of what the ledger's `q` searches, code and
    /// description — the same fields as its LIKE, so that for most terms the index alone is
    /// the answer (`store::ledger::text_clause`).
    pub search: String,
}

impl LedgerCols {
    pub fn of(p: &fieldcheck_domain::problem::Problem) -> LedgerCols {
        use super::ledger::ms;
        use fieldcheck_domain::problem::ProblemSource;
        LedgerCols {
            category: p.category.clone(),
            description: p.description.clone(),
            address: p.address.clone(),
            point_id: p.point_id.clone(),
            inspection_id: p.inspection_id.map(|i| i.to_string()),
            severity: p.severity.as_str(),
            reporter_role: p.reporter_role.as_str(),
            source: ProblemSource::of(p).as_str(),
            rework_count: i64::from(p.rework_count),
            deadline: p.deadline.map(ms),
            reported_at: ms(p.reported_at),
            updated_at: ms(p.updated_at),
            dispatched_at: p.dispatched_at.map(ms),
            closed_at: p.closed_at.map(ms),
            search: super::ledger::search_terms(&p.code, &p.description),
        }
    }
}

pub(crate) struct InspectionRow {
    pub id: String,
    pub point_id: String,
    pub district_id: Option<String>,
    pub inspector: String,
    pub status: &'static str,
    pub state: String,
    pub last_seq: i64,
}

/// The statements of a group, per backend. All run inside the transaction `begin` opened.
#[async_trait]
pub(crate) trait Backend: Clone + Send + Sync + 'static {
    type Tx: Send;
    /// Opens the write transaction (SQLite `BEGIN IMMEDIATE`; PostgreSQL takes the append
    /// lock, see `sql.rs`).
    async fn begin(&self) -> Result<Self::Tx, StoreError>;
    async fn commit(tx: Self::Tx) -> Result<(), StoreError>;
    /// Stored events among `ids`.
    async fn stored_events(tx: &mut Self::Tx, ids: &[String])
    -> Result<Vec<StoredRow>, StoreError>;
    /// Every stored event of these records, ordered by record then `seq`.
    async fn record_events(
        tx: &mut Self::Tx,
        entities: &[String],
    ) -> Result<Vec<RecordRow>, StoreError>;
    /// Inserts in the given order (so `seq` follows it); returns `(event_id, seq)`.
    async fn insert_events(
        tx: &mut Self::Tx,
        rows: &[NewRow<'_>],
    ) -> Result<Vec<(String, i64)>, StoreError>;
    /// `(event_id, outcome)` for stored events whose outcome changed.
    async fn update_outcomes(
        tx: &mut Self::Tx,
        updates: &[(String, String)],
    ) -> Result<(), StoreError>;
    async fn upsert_problems(tx: &mut Self::Tx, rows: &[ProblemRow]) -> Result<(), StoreError>;
    async fn upsert_inspections(
        tx: &mut Self::Tx,
        rows: &[InspectionRow],
    ) -> Result<(), StoreError>;
    /// `(code, problem id)` of stored problems with any of these codes.
    async fn problem_codes(
        tx: &mut Self::Tx,
        codes: &[String],
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// Which of these blob hashes are stored completely.
    async fn complete_blobs(
        tx: &mut Self::Tx,
        hashes: &[String],
    ) -> Result<HashSet<String>, StoreError>;
    /// `(counter, window_start, n)` of these `rate_counts` keys ([`RejectedQuota`]).
    async fn rejected_counts(
        tx: &mut Self::Tx,
        keys: &[String],
    ) -> Result<Vec<(String, i64, i64)>, StoreError>;
    /// Sets these `rate_counts` rows to `(counter, window_start, n)`.
    async fn put_rejected_counts(
        tx: &mut Self::Tx,
        rows: &[(String, i64, i64)],
    ) -> Result<(), StoreError>;
}

impl JobInput {
    /// `mark`: the sender's pull mark (see [`JobInput::mark`]).
    pub(crate) fn new(
        events: Vec<Event>,
        ctx: &AppendCtx<'_>,
        mark: i64,
    ) -> Result<JobInput, StoreError> {
        let events = events
            .into_iter()
            .map(|mut ev| {
                ev.hlc = ev.hlc.clamped(ctx.now_ms, ctx.max_future_ms);
                // The device is the one the token names, not the one the event claims.
                if let Some(device) = &ctx.viewer.device {
                    ev.device.clone_from(device);
                }
                let invalid = ev.check_fields().err().map(|e| Refused {
                    code: refusal::INVALID_EVENT,
                    message: e.to_string(),
                });
                Prepared::new(ev, invalid)
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(JobInput {
            events,
            viewer: ctx.viewer.clone(),
            refs: ctx.refs.clone(),
            now_ms: ctx.now_ms,
            mark,
        })
    }
}

/// Queues a push and waits for its answer (after the commit that contains it).
pub(crate) async fn submit<B: Backend>(
    backend: B,
    group: Arc<GroupCommit>,
    input: JobInput,
) -> Result<PushResponse, StoreError> {
    let (reply, answer) = oneshot::channel();
    // Detached: dropping this future (the client went away) cancels nothing.
    tokio::spawn(async move {
        group
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(Job { input, reply });
        let _writer = group.writer.lock().await;
        let jobs = take_group(&group);
        if !jobs.is_empty() {
            run_jobs(&backend, jobs).await;
        }
    });
    answer
        .await
        .map_err(|_| StoreError::Corrupt("push writer stopped before answering".into()))?
}

/// Returns once no group is being applied and none waits in the queue: every push accepted
/// before a shutdown is committed and answered (or failed) before the pool closes. Queued
/// jobs each have a task waiting for the writer lock (tokio's lock is fair), so they run
/// before this one gets it again.
pub(crate) async fn drain(group: &GroupCommit) {
    loop {
        {
            let _writer = group.writer.lock().await;
            if group
                .queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
            {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

fn take_group(group: &GroupCommit) -> Vec<Job> {
    let mut queue = group.queue.lock().unwrap_or_else(|e| e.into_inner());
    let mut jobs = Vec::new();
    let mut n = 0;
    while let Some(job) = queue.front() {
        let len = job.input.events.len();
        if !jobs.is_empty() && n + len > MAX_GROUP_EVENTS {
            break;
        }
        n += len;
        jobs.extend(queue.pop_front());
    }
    jobs
}

async fn run_jobs<B: Backend>(backend: &B, jobs: Vec<Job>) {
    let (inputs, replies): (Vec<JobInput>, Vec<_>) =
        jobs.into_iter().map(|j| (j.input, j.reply)).unzip();
    crate::ops::metrics::push_group(inputs.len(), inputs.iter().map(|i| i.events.len()).sum());
    let res = apply_group(backend, &inputs).await;
    match res {
        Ok(responses) => {
            for (reply, resp) in replies.into_iter().zip(responses) {
                crate::ops::metrics::push_results(&resp);
                let _ = reply.send(Ok(resp));
            }
        }
        Err(e) if inputs.len() == 1 => {
            crate::ops::metrics::push_group_failed();
            let _ = replies.into_iter().next().map(|r| r.send(Err(e)));
        }
        Err(e) => {
            // Rolled back: apply each batch alone so only a failing one fails.
            crate::ops::metrics::push_group_failed();
            tracing::warn!(error = %e, batches = inputs.len(), "group commit failed; retrying batches one by one");
            for (input, reply) in inputs.iter().zip(replies) {
                let r = apply_group(backend, std::slice::from_ref(input))
                    .await
                    .map(|mut v| v.remove(0));
                if let Ok(resp) = &r {
                    crate::ops::metrics::push_results(resp);
                }
                let _ = reply.send(r);
            }
        }
    }
}

/// Applies the batches in order in one transaction; one response per batch.
pub(crate) async fn apply_group<B: Backend>(
    backend: &B,
    inputs: &[JobInput],
) -> Result<Vec<PushResponse>, StoreError> {
    let mut tx = backend.begin().await?;
    let mut ids: Vec<String> = Vec::new();
    let mut entities: Vec<String> = Vec::new();
    let mut codes: Vec<String> = Vec::new();
    {
        let mut seen_ids = HashSet::new();
        let mut seen_entities = HashSet::new();
        for p in inputs.iter().flat_map(|i| &i.events) {
            if seen_ids.insert(p.ev.id) {
                ids.push(p.id.clone());
            }
            if seen_entities.insert(p.ev.entity_id) {
                entities.push(p.entity.clone());
            }
            if let EventBody::ProblemReported(r) = &p.ev.body {
                codes.push(r.code.clone());
            }
        }
    }
    codes.sort();
    codes.dedup();
    let stored = B::stored_events(&mut tx, &ids).await?;
    let records = B::record_events(&mut tx, &entities).await?;
    let taken = if codes.is_empty() {
        Vec::new()
    } else {
        B::problem_codes(&mut tx, &codes).await?
    };
    let mut senders: Vec<String> = inputs
        .iter()
        .map(|i| rejected_key(&i.viewer.user.id))
        .collect();
    senders.sort();
    senders.dedup();
    let mut quota = RejectedQuota::from_rows(B::rejected_counts(&mut tx, &senders).await?);
    let mut plan = Planner::new(stored, records, taken)?;
    for input in inputs {
        plan.apply_batch(input, &mut quota)?;
    }
    let counted = quota.changed_rows();
    if !counted.is_empty() {
        B::put_rejected_counts(&mut tx, &counted).await?;
    }
    let rows = plan.new_rows(inputs)?;
    let seqs = B::insert_events(&mut tx, &rows).await?;
    let seqs: HashMap<String, i64> = seqs.into_iter().collect();
    let (updates, problems, inspections) = plan.write_back(inputs, &seqs)?;
    if !updates.is_empty() {
        B::update_outcomes(&mut tx, &updates).await?;
    }
    if !problems.is_empty() {
        B::upsert_problems(&mut tx, &problems).await?;
    }
    if !inspections.is_empty() {
        B::upsert_inspections(&mut tx, &inspections).await?;
    }
    let mut hashes: Vec<String> = plan
        .responses
        .iter()
        .flat_map(|r| r.photo_hashes.iter().cloned())
        .collect();
    hashes.sort();
    hashes.dedup();
    let complete = if hashes.is_empty() {
        HashSet::new()
    } else {
        B::complete_blobs(&mut tx, &hashes).await?
    };
    B::commit(tx).await?;
    Ok(plan
        .responses
        .into_iter()
        .map(|r| {
            let mut missing: Vec<String> = r
                .photo_hashes
                .into_iter()
                .filter(|h| !complete.contains(h))
                .collect();
            missing.sort();
            missing.dedup();
            PushResponse {
                results: r.results,
                missing_blobs: missing,
            }
        })
        .collect())
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn parse_uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| corrupt("uuid", e))
}

fn parse_hlc(s: &str) -> Result<Hlc, StoreError> {
    s.parse::<Hlc>().map_err(|e| corrupt("hlc", e.0))
}

fn refused_result(id: Uuid, r: Refused) -> PushResult {
    PushResult {
        event_id: id,
        status: PushStatus::Refused {
            code: r.code.to_owned(),
            message: r.message,
        },
        outcome: None,
        hlc: None,
        state: None,
    }
}

/// The fold of one record, reduced to what the store writes back.
pub(crate) struct Refolded {
    pub outcomes: Vec<(Uuid, EventOutcome)>,
    pub problem: Option<Problem>,
    pub inspection: Option<Inspection>,
    pub attrs: ScopeAttrs,
}

fn problem_attrs(p: Option<&Problem>) -> ScopeAttrs {
    p.map(|p| ScopeAttrs {
        district: p.district_id.clone(),
        unit: p.unit_id.clone(),
        owner: Some(p.reporter.clone()),
    })
    .unwrap_or_default()
}

/// Folds a record's full event set with exactly the domain's fold and derives its scope.
pub(crate) fn refold<'a>(
    kind: EntityKind,
    events: impl IntoIterator<Item = &'a Event>,
    refs: &ReferenceBundle,
) -> Refolded {
    match kind {
        EntityKind::Problem => {
            let folded = fold_problem(events);
            Refolded {
                attrs: problem_attrs(folded.state.as_ref()),
                outcomes: folded.outcomes,
                problem: folded.state,
                inspection: None,
            }
        }
        EntityKind::Inspection => {
            let folded = fold_inspection(events, |id, version| {
                refs.templates
                    .iter()
                    .find(|t| t.id == id && t.version == version)
                    .cloned()
            });
            let attrs = folded
                .state
                .as_ref()
                .map(|i| ScopeAttrs {
                    district: refs
                        .points
                        .iter()
                        .find(|p| p.id == i.point_id)
                        .map(|p| p.district_id.clone()),
                    unit: None,
                    owner: Some(i.inspector.clone()),
                })
                .unwrap_or_default();
            Refolded {
                outcomes: folded.outcomes,
                problem: None,
                inspection: folded.state,
                attrs,
            }
        }
    }
}

/// A record touched by the group, in memory.
struct Rec {
    kind: EntityKind,
    /// Every known event: stored ones (in `seq` order), then the group's new ones.
    events: Vec<Arc<Event>>,
    /// `seq` of each stored event (the first `seqs.len()` of `events`).
    seqs: Vec<i64>,
    /// Largest fold key among `events`.
    last_key: Option<(Hlc, Uuid)>,
    /// Outcome text as stored, for events stored before the group.
    stored_outcomes: HashMap<Uuid, String>,
    /// Current scope attributes; `None` while the record is unknown to the store.
    attrs: Option<ScopeAttrs>,
    /// The current fold; `None` until the group first needs it.
    fold: Option<Fold>,
    /// Has new events in this group.
    dirty: bool,
    /// Index of its last new row.
    last_row: Option<usize>,
    /// The last [`Rec::floor`] answer, by pull mark.
    floor_cache: Option<(i64, Option<Hlc>)>,
}

#[derive(Clone)]
struct Fold {
    outcomes: HashMap<Uuid, EventOutcome>,
    problem: Option<Problem>,
    inspection: Option<Inspection>,
}

/// A record as it was before an event was added, to take the event back out.
struct Snapshot {
    len: usize,
    last_key: Option<(Hlc, Uuid)>,
    fold: Option<Fold>,
    dirty: bool,
}

impl Rec {
    fn empty(kind: EntityKind) -> Rec {
        Rec {
            kind,
            events: Vec::new(),
            seqs: Vec::new(),
            last_key: None,
            stored_outcomes: HashMap::new(),
            attrs: None,
            fold: None,
            dirty: false,
            last_row: None,
            floor_cache: None,
        }
    }

    fn set_fold(&mut self, r: Refolded) -> ScopeAttrs {
        self.fold = Some(Fold {
            outcomes: r.outcomes.into_iter().collect(),
            problem: r.problem,
            inspection: r.inspection,
        });
        r.attrs
    }

    /// The newest stamp among the stored events with `seq <= mark`: what a sender with this
    /// pull mark had been sent of the record.
    fn floor(&mut self, mark: i64) -> Option<Hlc> {
        if let Some((m, f)) = &self.floor_cache
            && *m == mark
        {
            return f.clone();
        }
        let f = self
            .seqs
            .iter()
            .zip(&self.events)
            .filter(|(seq, _)| **seq <= mark)
            .map(|(_, e)| &e.hlc)
            .max()
            .cloned();
        self.floor_cache = Some((mark, f.clone()));
        f
    }

    /// Events folded to add an event with this key: one when it is applied incrementally,
    /// otherwise the whole record.
    fn fold_cost(&self, key: &(Hlc, Uuid)) -> usize {
        let sorts_last = self.last_key.as_ref().is_none_or(|last| key > last);
        if self.fold.is_some() && self.kind == EntityKind::Problem && sorts_last {
            1
        } else {
            self.events.len() + 1
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            len: self.events.len(),
            last_key: self.last_key.clone(),
            fold: self.fold.clone(),
            dirty: self.dirty,
        }
    }

    fn restore(&mut self, s: Snapshot) {
        self.events.truncate(s.len);
        self.last_key = s.last_key;
        self.fold = s.fold;
        self.dirty = s.dirty;
    }

    /// Adds a new event and folds; returns its outcome and the record's scope after it.
    fn add(&mut self, ev: Arc<Event>, refs: &ReferenceBundle) -> (EventOutcome, ScopeAttrs) {
        let key = (ev.hlc.clone(), ev.id);
        let sorts_last = self.last_key.as_ref().is_none_or(|last| key > *last);
        let id = ev.id;
        self.events.push(ev);
        self.last_key = Some(match self.last_key.take() {
            Some(last) if last > key => last,
            _ => key,
        });
        self.dirty = true;
        let attrs = match (&mut self.fold, self.kind) {
            // The full fold would apply this event last, to the state it already has.
            (Some(fold), EntityKind::Problem) if sorts_last => {
                let ev = self.events.last().expect("just pushed");
                let outcome = match apply_problem(fold.problem.as_ref(), ev) {
                    Ok(next) => {
                        fold.problem = Some(next);
                        EventOutcome::Applied
                    }
                    Err(r) => Err(r).into(),
                };
                fold.outcomes.insert(id, outcome);
                problem_attrs(fold.problem.as_ref())
            }
            // A record first touched by this group (its stored events folded once, or none:
            // a brand-new record), an inspection, or an event that lands before others.
            _ => {
                let r = refold(self.kind, self.events.iter().map(|e| &**e), refs);
                self.set_fold(r)
            }
        };
        let outcome = self
            .fold
            .as_ref()
            .and_then(|f| f.outcomes.get(&id).cloned())
            .expect("the fold has an outcome for every event");
        (outcome, attrs)
    }

    fn ensure_fold(&mut self, refs: &ReferenceBundle) {
        if self.fold.is_none() {
            let r = refold(self.kind, self.events.iter().map(|e| &**e), refs);
            self.set_fold(r);
        }
    }
}

struct BatchOut {
    results: Vec<PushResult>,
    photo_hashes: Vec<String>,
}

/// Where an event id was seen: stored before the group, or new in it.
enum Seen {
    Stored {
        entity: Uuid,
        hlc: String,
        outcome: String,
    },
    New {
        entity: Uuid,
        hlc: Hlc,
    },
}

/// The in-memory part of a group: pure, no I/O.
struct Planner {
    seen: HashMap<Uuid, Seen>,
    recs: HashMap<Uuid, Rec>,
    /// Problem codes in use: stored, and reported earlier in the group.
    codes: HashMap<String, Uuid>,
    /// New events in processing order: (batch, index in the batch, record, scope after it).
    new: Vec<(usize, usize, Uuid, ScopeAttrs)>,
    /// New events placed later than they claimed, by (batch, index).
    replaced: HashMap<(usize, usize), Prepared>,
    /// Events the group may still fold for non-incremental adds.
    budget: usize,
    /// Batches applied so far.
    batches: usize,
    responses: Vec<BatchOut>,
}

impl Planner {
    fn new(
        stored: Vec<StoredRow>,
        records: Vec<RecordRow>,
        taken: Vec<(String, String)>,
    ) -> Result<Planner, StoreError> {
        let mut seen = HashMap::with_capacity(stored.len());
        for s in stored {
            seen.insert(
                parse_uuid(&s.event_id)?,
                Seen::Stored {
                    entity: parse_uuid(&s.entity_id)?,
                    hlc: s.hlc,
                    outcome: s.outcome,
                },
            );
        }
        let mut recs: HashMap<Uuid, Rec> = HashMap::new();
        for row in records {
            let entity = parse_uuid(&row.entity_id)?;
            let kind = EntityKind::parse(&row.entity_kind)
                .ok_or_else(|| corrupt("entity kind", &row.entity_kind))?;
            let ev: Event = serde_json::from_str(&row.body)?;
            let rec = recs.entry(entity).or_insert_with(|| Rec::empty(kind));
            // Rows come in seq order: the last one holds the current kind and scope.
            rec.kind = kind;
            rec.attrs = Some(row.attrs);
            let key = (ev.hlc.clone(), ev.id);
            if rec.last_key.as_ref().is_none_or(|last| key > *last) {
                rec.last_key = Some(key);
            }
            rec.stored_outcomes.insert(ev.id, row.outcome);
            rec.seqs.push(row.seq);
            rec.events.push(Arc::new(ev));
        }
        let mut codes = HashMap::with_capacity(taken.len());
        for (code, id) in taken {
            codes.insert(code, parse_uuid(&id)?);
        }
        Ok(Planner {
            seen,
            recs,
            codes,
            new: Vec::new(),
            replaced: HashMap::new(),
            budget: GROUP_FOLD_BUDGET,
            batches: 0,
            responses: Vec::new(),
        })
    }

    fn apply_batch(
        &mut self,
        input: &JobInput,
        quota: &mut RejectedQuota,
    ) -> Result<(), StoreError> {
        let refs = &input.refs;
        let viewer = &input.viewer;
        let sender = viewer.user.id.as_str();
        let mut results = Vec::with_capacity(input.events.len());
        let mut photo_hashes = Vec::new();
        let batch = self.batches;
        self.batches += 1;
        for (index, prepared) in input.events.iter().enumerate() {
            let ev = &*prepared.ev;
            // 1. Replays: the stored result, never a second copy — and only to its sender.
            if let Some(seen) = self.seen.get(&ev.id) {
                let (entity, hlc) = match seen {
                    Seen::Stored { entity, hlc, .. } => (*entity, parse_hlc(hlc)?),
                    Seen::New { entity, hlc } => (*entity, hlc.clone()),
                };
                let stored_sender = self
                    .recs
                    .get(&entity)
                    .and_then(|r| r.events.iter().find(|e| e.id == ev.id))
                    .map(|e| e.actor.as_str());
                if entity != ev.entity_id || stored_sender != Some(sender) {
                    results.push(refused_result(
                        ev.id,
                        Refused {
                            code: refusal::ID_CONFLICT,
                            message: format!(
                                "event id {} is already stored for another record or sender",
                                ev.id
                            ),
                        },
                    ));
                    continue;
                }
                let current = self
                    .recs
                    .get(&entity)
                    .and_then(|r| r.fold.as_ref())
                    .and_then(|f| f.outcomes.get(&ev.id).cloned());
                let outcome = match (current, seen) {
                    (Some(o), _) => o,
                    (None, Seen::Stored { outcome, .. }) => serde_json::from_str(outcome)?,
                    (None, Seen::New { .. }) => {
                        return Err(corrupt("push", "new event without an outcome"));
                    }
                };
                results.push(PushResult {
                    event_id: ev.id,
                    status: PushStatus::Duplicate,
                    outcome: Some(outcome),
                    hlc: Some(hlc),
                    state: None,
                });
                continue;
            }
            if let Some(r) = &prepared.invalid {
                results.push(refused_result(ev.id, r.clone()));
                continue;
            }
            // 2. Authorization against the record as it stands now.
            let rec = self.recs.get(&ev.entity_id);
            let kind = rec.map(|r| r.kind).unwrap_or(ev.entity());
            if kind != ev.entity() {
                results.push(refused_result(
                    ev.id,
                    Refused {
                        code: refusal::INVALID_EVENT,
                        message: format!(
                            "{} is a {}, not a {}",
                            ev.entity_id,
                            kind.as_str(),
                            ev.entity().as_str()
                        ),
                    },
                ));
                continue;
            }
            let current = rec.and_then(|r| r.attrs.as_ref());
            if let Err(r) = viewer.authorize(ev, current, refs) {
                results.push(refused_result(ev.id, r));
                continue;
            }
            if rec.is_some_and(|r| r.events.len() >= MAX_RECORD_EVENTS) {
                results.push(refused_result(
                    ev.id,
                    Refused {
                        code: refusal::RECORD_FULL,
                        message: format!(
                            "{} already holds {MAX_RECORD_EVENTS} events",
                            ev.entity_id
                        ),
                    },
                ));
                continue;
            }
            if let EventBody::ProblemReported(r) = &ev.body
                && self.codes.get(&r.code).is_some_and(|p| *p != ev.entity_id)
            {
                results.push(refused_result(
                    ev.id,
                    Refused {
                        code: refusal::CODE_TAKEN,
                        message: format!("problem code {} belongs to another problem", r.code),
                    },
                ));
                continue;
            }
            // 3. Placed after what the sender had been sent of the record (the HLC was
            // already clamped out of the future when the request came in).
            let rec = self
                .recs
                .entry(ev.entity_id)
                .or_insert_with(|| Rec::empty(kind));
            let placed = match rec.floor(input.mark) {
                Some(floor) if ev.hlc <= floor => {
                    let mut moved = ev.clone();
                    moved.hlc = ev.hlc.not_before(&floor);
                    let p = Prepared::new(moved, None)?;
                    let arc = p.ev.clone();
                    self.replaced.insert((batch, index), p);
                    arc
                }
                _ => prepared.ev.clone(),
            };
            // Work bound: past the group's fold budget, a batch stops at its first event
            // that needs a refold; the sender sends the rest again.
            let cost = rec.fold_cost(&(placed.hlc.clone(), placed.id));
            if cost > 1 {
                if index > 0 && cost > self.budget {
                    self.replaced.remove(&(batch, index));
                    break;
                }
                self.budget = self.budget.saturating_sub(cost);
            }
            // 4. Fold. A sender over the rejection quota has a rejected event taken back out.
            let undo = quota
                .exhausted(sender, input.now_ms)
                .then(|| rec.snapshot());
            let (id, entity, hlc) = (placed.id, placed.entity_id, placed.hlc.clone());
            let (outcome, attrs) = rec.add(placed.clone(), refs);
            if matches!(outcome, EventOutcome::Rejected { .. }) {
                if let Some(undo) = undo {
                    rec.restore(undo);
                    self.replaced.remove(&(batch, index));
                    results.push(refused_result(
                        id,
                        Refused {
                            code: refusal::TOO_MANY_REJECTED,
                            message: format!(
                                "more than {MAX_REJECTED_PER_HOUR} of your events were \
                                 rejected in the past hour; this one would be too"
                            ),
                        },
                    ));
                    continue;
                }
                quota.count(sender, input.now_ms);
            }
            if let (EventBody::ProblemReported(r), EventOutcome::Applied) = (&placed.body, &outcome)
            {
                self.codes.insert(r.code.clone(), entity);
            }
            photo_hashes.extend(placed.photos.iter().map(|p| p.hash.clone()));
            // A photo's stamped copy is a blob the record needs too (`Event::stamps`).
            photo_hashes.extend(placed.stamps.iter().map(|s| s.stamped.clone()));
            rec.attrs = Some(attrs.clone());
            rec.last_row = Some(self.new.len());
            self.new.push((batch, index, entity, attrs));
            self.seen.insert(
                id,
                Seen::New {
                    entity,
                    hlc: hlc.clone(),
                },
            );
            results.push(PushResult {
                event_id: id,
                status: PushStatus::Applied,
                outcome: Some(outcome),
                hlc: Some(hlc),
                state: None,
            });
        }
        // 5. The state after the whole batch, for every problem the batch touched that the
        // sender may see now (a replay of an old event answers nothing about a record that
        // has since left the sender's scope).
        let mut states: HashMap<Uuid, Option<Box<Problem>>> = HashMap::new();
        for r in &mut results {
            if matches!(r.status, PushStatus::Refused { .. }) {
                continue;
            }
            let entity = match self.seen.get(&r.event_id) {
                Some(Seen::Stored { entity, .. } | Seen::New { entity, .. }) => *entity,
                None => return Err(corrupt("push", "result for an unknown event")),
            };
            let budget = &mut self.budget;
            let recs = &mut self.recs;
            let state = states.entry(entity).or_insert_with(|| {
                let rec = recs.get_mut(&entity)?;
                if rec.kind != EntityKind::Problem
                    || !rec.attrs.as_ref().is_some_and(|a| viewer.can_see(a))
                {
                    return None;
                }
                if rec.fold.is_none() {
                    // Only a replay reaches here; the device does not need the state.
                    if rec.events.len() > *budget {
                        return None;
                    }
                    *budget -= rec.events.len();
                }
                rec.ensure_fold(refs);
                rec.fold
                    .as_ref()
                    .and_then(|f| f.problem.clone())
                    .map(Box::new)
            });
            r.state = state.clone();
        }
        self.responses.push(BatchOut {
            results,
            photo_hashes,
        });
        Ok(())
    }

    /// The new rows in processing order, each with its final outcome.
    fn new_rows<'a>(&'a self, inputs: &'a [JobInput]) -> Result<Vec<NewRow<'a>>, StoreError> {
        let mut rows = Vec::with_capacity(self.new.len());
        for (batch, index, entity, attrs) in &self.new {
            let rec = &self.recs[entity];
            let event = self
                .replaced
                .get(&(*batch, *index))
                .unwrap_or(&inputs[*batch].events[*index]);
            let outcome = rec
                .fold
                .as_ref()
                .and_then(|f| f.outcomes.get(&event.ev.id))
                .ok_or_else(|| corrupt("push", "new event without an outcome"))?;
            rows.push(NewRow {
                event,
                entity_kind: rec.kind.as_str(),
                outcome: serde_json::to_string(outcome)?,
                attrs: attrs.clone(),
                received_at: inputs[*batch].now_ms,
            });
        }
        Ok(rows)
    }

    /// Changed outcomes of stored events and the projections of every changed record.
    #[allow(clippy::type_complexity)]
    fn write_back(
        &self,
        inputs: &[JobInput],
        seqs: &HashMap<String, i64>,
    ) -> Result<(Vec<(String, String)>, Vec<ProblemRow>, Vec<InspectionRow>), StoreError> {
        let mut updates = Vec::new();
        let mut problems = Vec::new();
        let mut inspections = Vec::new();
        for (entity, rec) in &self.recs {
            if !rec.dirty {
                continue;
            }
            let Some(fold) = &rec.fold else { continue };
            for (id, text) in &rec.stored_outcomes {
                if let Some(o) = fold.outcomes.get(id) {
                    let now = serde_json::to_string(o)?;
                    if now != *text {
                        updates.push((id.to_string(), now));
                    }
                }
            }
            let last_row = rec
                .last_row
                .ok_or_else(|| corrupt("push", "changed record without a new row"))?;
            let (batch, index, _, attrs) = &self.new[last_row];
            let last_seq = *seqs
                .get(&inputs[*batch].events[*index].id)
                .ok_or_else(|| corrupt("push", "inserted event without a seq"))?;
            let id = entity.to_string();
            if let Some(p) = &fold.problem {
                problems.push(ProblemRow {
                    id: id.clone(),
                    code: p.code.clone(),
                    status: p.status.as_str(),
                    district_id: p.district_id.clone(),
                    unit_id: p.unit_id.clone(),
                    reporter: p.reporter.clone(),
                    state: serde_json::to_string(p)?,
                    last_seq,
                    ledger: LedgerCols::of(p),
                });
            }
            if let Some(i) = &fold.inspection {
                inspections.push(InspectionRow {
                    id,
                    point_id: i.point_id.clone(),
                    district_id: attrs.district.clone(),
                    inspector: i.inspector.clone(),
                    status: i.status.as_str(),
                    state: serde_json::to_string(i)?,
                    last_seq,
                });
            }
        }
        // Deterministic statement order (and lock order on PostgreSQL).
        updates.sort();
        problems.sort_by(|a, b| a.id.cmp(&b.id));
        inspections.sort_by(|a, b| a.id.cmp(&b.id));
        Ok((updates, problems, inspections))
    }
}
