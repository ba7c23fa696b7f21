//! The runs state machine (`template.yaml`, `RunStateMachine`), as far as
//! the tests need it. moto keeps Step Functions state machines and
//! executions (so the functions' `StartExecution` is real), but it runs no
//! Lambda function: this stand-in plays an execution as its definition
//! does, invoking the function with the execution's input and then with each
//! answer's `continuation` until it is null.

use std::future::Future;

use chrono::{TimeDelta, Utc};
use lambda_runtime::LambdaEvent;
use lifeboat::domain::outcome::Summary;
use lifeboat::Error;
use serde_json::Value;

use lifeboat::aws::clients::Clients;

use crate::{Account, World};

/// The stack's runs state machine, in moto.
pub struct RunStateMachine {
    pub arn: String,
    sfn: aws_sdk_sfn::Client,
}

impl RunStateMachine {
    /// Creates it in `world`'s account and region.
    pub async fn create(world: &World) -> Self {
        Self::create_in(&world.account, &world.region).await
    }

    /// Creates it in `account`, in `region`.
    pub async fn create_in(account: &Account, region: &str) -> Self {
        let clients = Clients::from_sdk_config(account.sdk_config(region));
        let sfn = aws_sdk_sfn::Client::new(clients.sdk_config());
        let created = sfn
            .create_state_machine()
            .name("lifeboat-runs")
            .definition(r#"{"StartAt": "Route", "States": {"Route": {"Type": "Succeed"}}}"#)
            .role_arn(format!("arn:aws:iam::{}:role/lifeboat-runs", account.id))
            .send()
            .await
            .expect("create the runs state machine in moto");
        RunStateMachine {
            arn: created.state_machine_arn().to_string(),
            sfn,
        }
    }

    /// The setting that names it.
    pub fn setting(&self) -> (&'static str, &str) {
        (lifeboat::lambda::config::RUN_STATE_MACHINE, &self.arn)
    }

    /// Every execution started: (name, input).
    pub async fn executions(&self) -> Vec<(String, Value)> {
        let listed = self
            .sfn
            .list_executions()
            .state_machine_arn(&self.arn)
            .send()
            .await
            .expect("list executions");
        let mut out = Vec::new();
        for e in listed.executions() {
            let described = self
                .sfn
                .describe_execution()
                .execution_arn(e.execution_arn())
                .send()
                .await
                .expect("describe an execution");
            let input =
                serde_json::from_str(described.input().unwrap_or("null")).unwrap_or(Value::Null);
            out.push((e.name().to_string(), input));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The input of the execution named `name` (a run's id).
    pub async fn input_of(&self, name: &str) -> Option<Value> {
        self.executions()
            .await
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, input)| input)
    }

    /// Plays execution `input` to its end: the function's summaries, one
    /// per invocation, or the error the last one ended in.
    pub async fn play<F, Fut>(&self, input: Value, mut invoke: F) -> (Vec<Summary>, Option<Error>)
    where
        F: FnMut(Value) -> Fut,
        Fut: Future<Output = Result<Summary, Error>>,
    {
        let mut summaries = Vec::new();
        let mut next = input;
        loop {
            match invoke(next).await {
                Ok(summary) => {
                    let continuation = summary.continuation.clone().unwrap_or(Value::Null);
                    summaries.push(summary);
                    if continuation.is_null() {
                        return (summaries, None);
                    }
                    next = continuation;
                }
                Err(e) => return (summaries, Some(e)),
            }
        }
    }
}

/// A Lambda event whose deadline leaves `budget` of work: the margin a run
/// keeps (`domain::run::MIN_MARGIN`) and that.
pub fn event_with_budget(
    payload: Value,
    budget: TimeDelta,
    request_id: &str,
) -> LambdaEvent<Value> {
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_string();
    let deadline = Utc::now() + lifeboat::domain::run::MIN_MARGIN + budget;
    context.deadline = u64::try_from(deadline.timestamp_millis()).unwrap_or(0);
    LambdaEvent::new(payload, context)
}
