//! One invocation's part of a run (`domain::run`): its items worked through
//! in run order, no new one started once the Lambda deadline is near; the
//! rest handed on; the run recorded.
//!
//! The rest is carried on by Step Functions rather than by the function
//! invoking itself or a queue that feeds it: Lambda stops a chain of a
//! function re-invoking itself through SQS after a few rounds (recursive
//! loop detection), and an execution shows a run's invocations, their
//! answers and their retries in one place. The first invocation (a
//! schedule, an alarm, a request) starts an execution of the runs state
//! machine named after the run; the state machine invokes the function with
//! `{"continue": ...}` and again with each answer's `continuation` until it
//! is null. Invocations run one after another, never side by side: RDS's
//! throttle is the account's, and one invocation at a time is what the
//! function's pace is sized for.

use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::{stream, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};

use crate::aws::catalog::Catalog;
use crate::aws::runs::{self, HandedOn};
use crate::domain::outcome::{Outcome, RunReport, Summary};
use crate::domain::record::{self, Record, RecordKind, RunBatchRecord, RunRecord};
use crate::domain::run::{self, Run};
use crate::domain::trigger::Trigger;
use crate::error::Error;
use crate::lambda::config::RUN_STATE_MACHINE;
use crate::lambda::context::Context;

/// The payload key of an invocation that carries a run on.
pub const CONTINUE: &str = "continue";

/// `{"continue": {"run": ..., "request": ...}}`: the event of a run's next
/// invocation. `R` is the function's own request, as it parsed the first
/// event.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Continuation<R> {
    pub run: Run,
    pub request: R,
}

/// This invocation's part of a run.
#[derive(Debug)]
pub struct Batch {
    pub run: Run,
    deadline: Option<DateTime<Utc>>,
    /// Invoked by the runs state machine: the next event goes back in the
    /// answer, not to a new execution.
    carried: bool,
}

/// What `Batch::work` got through.
#[derive(Debug)]
pub struct Worked<R> {
    pub results: Vec<R>,
    /// Items were left for the next invocation.
    pub more: bool,
    /// The key of the last item started (or where this invocation began).
    pub after: Option<String>,
    /// Items started by this invocation.
    pub started: usize,
}

/// What a run is about, for its records and its next invocation.
pub struct About<'a, R: Serialize> {
    pub trigger: &'a Trigger,
    /// The run's time: its recovery point, or its "now".
    pub time: DateTime<Utc>,
    /// The request, as the next invocation gets it back.
    pub request: &'a R,
}

impl Batch {
    /// This invocation's part of a run of `function` at `time` (its
    /// recovery point, or its "now"): the first, named after what
    /// triggered it (the event's id, else the Lambda request's), or
    /// (`continued`) a later one; `deadline` is the invocation's (none: no
    /// limit).
    pub fn begin(
        function: &str,
        trigger: &Trigger,
        time: DateTime<Utc>,
        request_id: &str,
        continued: Option<Run>,
        deadline: Option<DateTime<Utc>>,
    ) -> Self {
        let carried = continued.is_some();
        let run = continued.unwrap_or_else(|| {
            let cause = trigger.event_id.as_deref().unwrap_or(request_id);
            Run::first(function, time, cause, Utc::now())
        });
        Batch {
            run,
            deadline,
            carried,
        }
    }

    /// Whether this is a later invocation of its run.
    pub fn is_carried_on(&self) -> bool {
        self.carried
    }

    /// Runs `work` over `items` (key, item) in their order, `concurrency`
    /// at once, starting none once the deadline is within the margin
    /// (twice the slowest item so far, `run::margin`).
    pub async fn work<T, R, F, Fut>(
        &self,
        items: Vec<(String, T)>,
        concurrency: usize,
        work: F,
    ) -> Worked<R>
    where
        F: Fn(T) -> Fut,
        Fut: Future<Output = R>,
    {
        let slowest = Mutex::new(TimeDelta::zero());
        let slowest_now = || *slowest.lock().unwrap_or_else(|e| e.into_inner());
        let mut pending = items.into_iter();
        let mut last: Option<String> = None;
        let mut started = 0;
        let results: Vec<R> = {
            let next = std::iter::from_fn(|| {
                let margin = run::margin(slowest_now());
                if !run::time_for_more(self.deadline, Utc::now(), margin) {
                    return None;
                }
                let (key, item) = pending.next()?;
                last = Some(key);
                started += 1;
                Some(item)
            });
            stream::iter(next)
                .map(|item| {
                    let began = Instant::now();
                    let done = work(item);
                    let slowest = &slowest;
                    async move {
                        let result = done.await;
                        let took =
                            TimeDelta::from_std(began.elapsed()).unwrap_or(TimeDelta::zero());
                        let mut slowest = slowest.lock().unwrap_or_else(|e| e.into_inner());
                        *slowest = (*slowest).max(took);
                        result
                    }
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await
        };
        let more = pending.next().is_some();
        Worked {
            results,
            more,
            after: last.or_else(|| self.run.after.clone()),
            started,
        }
    }

    /// Ends this invocation's part: records it (the run's record on its
    /// last invocation), and hands the rest on when `worked` left some.
    /// Whatever cannot be done goes into `summary.errors`, so the
    /// invocation fails and says so.
    pub async fn end<R: Serialize, W>(
        self,
        ctx: &Context,
        summary: &mut Summary,
        worked: &Worked<W>,
        about: About<'_, R>,
        request_id: &str,
    ) {
        let catalog = ctx.catalog();
        let run = &self.run;
        let next = match (worked.more, &worked.after) {
            (false, _) => None,
            // Not one item started: handing on would only go round again.
            (true, _) if worked.started == 0 => {
                summary.errors.push(format!(
                    "run {}: no time to start any item before the Lambda deadline (the function's timeout leaves less than the {} s margin): nothing was handed on",
                    run.id,
                    run::MIN_MARGIN.num_seconds()
                ));
                None
            }
            (true, after) => Some(run.next(after.clone().unwrap_or_default())),
        };
        let mut report = RunReport {
            id: run.id.clone(),
            batch: run.batch,
            record: None,
            left_after: next.as_ref().and_then(|n| n.after.clone()),
            execution: None,
        };

        if next.is_none() && run.batch == 1 {
            // A run of one invocation: its record is this summary.
            let body = run_record(run, &about, summary, Vec::new(), 1);
            report.record = write(
                &catalog,
                summary,
                record::run_key(catalog.prefix(), &run.function, about.time, &run.id),
                RecordKind::Run,
                body,
                request_id,
            )
            .await;
        } else {
            let body = RunBatchRecord {
                function: run.function.clone(),
                run_id: run.id.clone(),
                batch: run.batch,
                after: run.after.clone(),
                left_after: report.left_after.clone(),
                counts: counts(summary),
                outcomes: summary
                    .outcomes
                    .iter()
                    .filter_map(|e| serde_json::to_value(e).ok())
                    .collect(),
                errors: summary.errors.clone(),
            };
            let key = record::run_batch_key(
                catalog.prefix(),
                &run.function,
                run.started_at,
                &run.id,
                run.batch,
            );
            report.record = write(
                &catalog,
                summary,
                key,
                RecordKind::RunBatch,
                body,
                request_id,
            )
            .await;
            match &next {
                Some(next) => {
                    let event = json!({CONTINUE: Continuation { run: next.clone(), request: about.request }});
                    if self.carried {
                        summary.continuation = Some(event);
                    } else {
                        report.execution = hand_on(ctx, summary, next, &event).await;
                    }
                }
                None => {
                    report.record = finish(&catalog, summary, run, &about, request_id).await;
                }
            }
        }
        if self.carried {
            summary.continuation.get_or_insert(Value::Null);
            // The state machine keeps the answer (256 KiB at most): the
            // batch record has every outcome, the answer the failures.
            let all = summary.outcomes.len();
            summary
                .outcomes
                .retain(|e| matches!(e.outcome, Outcome::Failed { .. }));
            if summary.outcomes.len() < all {
                let note = format!(
                    "{all} outcomes in {} (this answer lists the failures)",
                    report.record.as_deref().unwrap_or("this invocation's log")
                );
                summary.message = Some(match summary.message.take() {
                    Some(message) => format!("{message}; {note}"),
                    None => note,
                });
            }
        }
        summary.run = Some(report);
    }
}

/// Starts the run's execution with its next invocation's event.
async fn hand_on(
    ctx: &Context,
    summary: &mut Summary,
    next: &Run,
    event: &Value,
) -> Option<String> {
    let left = format!(
        "the rest of run {} (after {})",
        next.id,
        next.after.as_deref().unwrap_or("the start")
    );
    let Some(state_machine) = &ctx.config.run_state_machine else {
        summary.errors.push(format!(
            "{left} was not started before the Lambda deadline, and {RUN_STATE_MACHINE} is not set to carry it on: set it (the template does), or give the function a longer timeout"
        ));
        return None;
    };
    match runs::hand_on(&ctx.clients, state_machine, &next.id, event).await {
        Ok(HandedOn::Started(arn)) => {
            tracing::info!(execution = %arn, "{left} is handed on");
            Some(arn)
        }
        Ok(HandedOn::AlreadyCarried(arn)) => {
            tracing::info!(execution = %arn, "{left} was handed on already, by another invocation of the same run");
            Some(arn)
        }
        Err(e) => {
            summary
                .errors
                .push(format!("{left} could not be handed on: {e}"));
            None
        }
    }
}

/// The last invocation of a longer run: reads the earlier batches' records
/// and writes the run's. Earlier failures fail this invocation too, so the
/// run ends in an error when any part of it failed.
async fn finish<R: Serialize>(
    catalog: &Catalog,
    summary: &mut Summary,
    run: &Run,
    about: &About<'_, R>,
    request_id: &str,
) -> Option<String> {
    let mut body = run_record(run, about, summary, Vec::new(), run.batch);
    for batch in 1..run.batch {
        let key = record::run_batch_key(
            catalog.prefix(),
            &run.function,
            run.started_at,
            &run.id,
            batch,
        );
        body.batches.push(key.clone());
        match catalog.find::<Record<RunBatchRecord>>(&key).await {
            Ok(Some(earlier)) => {
                for (name, n) in &earlier.body.counts {
                    *body.counts.entry(name.clone()).or_insert(0) += n;
                }
                for failure in earlier
                    .body
                    .outcomes
                    .iter()
                    .filter(|o| o["outcome"] == "failed")
                {
                    summary.errors.push(format!(
                        "invocation {batch} of the run: {} {}: {}",
                        failure["database"].as_str().unwrap_or_default(),
                        failure["snapshot_id"].as_str().unwrap_or_default(),
                        failure["error"].as_str().unwrap_or_default()
                    ));
                    body.failures.push(failure.clone());
                }
                for error in &earlier.body.errors {
                    summary
                        .errors
                        .push(format!("invocation {batch} of the run: {error}"));
                    body.errors.push(error.clone());
                }
            }
            Ok(None) => {
                let missing = format!("the record of invocation {batch} of the run ({key}) is missing: its outcomes are in that invocation's log");
                body.errors.push(missing.clone());
                summary.errors.push(missing);
            }
            Err(e) => {
                let unread =
                    format!("the record of invocation {batch} of the run could not be read: {e}");
                body.errors.push(unread.clone());
                summary.errors.push(unread);
            }
        }
    }
    body.batches.push(record::run_batch_key(
        catalog.prefix(),
        &run.function,
        run.started_at,
        &run.id,
        run.batch,
    ));
    let key = record::run_key(catalog.prefix(), &run.function, about.time, &run.id);
    write(catalog, summary, key, RecordKind::Run, body, request_id).await
}

/// The run's record as far as `summary` (this invocation) goes.
fn run_record<R: Serialize>(
    run: &Run,
    about: &About<'_, R>,
    summary: &Summary,
    batches: Vec<String>,
    invocations: u32,
) -> RunRecord {
    RunRecord {
        function: run.function.clone(),
        run_id: run.id.clone(),
        trigger: about.trigger.clone(),
        run_time: about.time,
        started_at: run.started_at,
        finished_at: Utc::now(),
        invocations,
        counts: counts(summary),
        failures: summary
            .failures()
            .filter_map(|e| serde_json::to_value(e).ok())
            .collect(),
        errors: summary.errors.clone(),
        batches,
    }
}

fn counts(summary: &Summary) -> std::collections::BTreeMap<String, usize> {
    summary
        .counts
        .iter()
        .map(|(name, n)| (name.to_string(), *n))
        .collect()
}

/// Writes a run's record (once: a retry finds its own); its key, or the
/// error in `summary`.
async fn write<T: Serialize>(
    catalog: &Catalog,
    summary: &mut Summary,
    key: String,
    kind: RecordKind,
    body: T,
    request_id: &str,
) -> Option<String> {
    let record = Record::new(kind, Utc::now(), body).by_request(request_id);
    match catalog.put_own(&key, &record).await {
        Ok(_) => Some(key),
        Err(e) => {
            summary
                .errors
                .push(format!("the run's record {key} was not written: {e}"));
            None
        }
    }
}

/// The `continue` payload of a function's event, read strictly: the
/// function's own, a run id of its shape.
pub fn continuation<R: serde::de::DeserializeOwned>(
    function: &str,
    payload: &Value,
) -> Result<Option<Continuation<R>>, Error> {
    let Some(object) = payload.as_object() else {
        return Ok(None);
    };
    let Some(inner) = object.get(CONTINUE) else {
        return Ok(None);
    };
    if object.len() > 1 {
        return Err(Error::InvalidEvent(format!(
            "a continuation has \"{CONTINUE}\" and nothing else"
        )));
    }
    let next: Continuation<R> = serde_json::from_value(inner.clone())
        .map_err(|e| Error::InvalidEvent(format!("invalid continuation: {e}")))?;
    if next.run.function != function
        || !run::is_run_id(function, &next.run.id)
        || next.run.batch < 2
    {
        return Err(Error::InvalidEvent(format!(
            "a continuation for lifeboat-{}, run {:?}, batch {}: this is lifeboat-{function}, whose runs carry on from batch 2",
            next.run.function, next.run.id, next.run.batch
        )));
    }
    Ok(Some(next))
}
