//! Step Functions, for runs that outlast their invocation: the rest of a
//! run is handed to the runs state machine, which invokes the function
//! again with it until the run is done (`template.yaml`,
//! `RunStateMachine`).
//!
//! The execution is named after the run, so a redelivered event, a retry
//! or a concurrent twin of the same run hands on to the one execution:
//! Step Functions refuses a second execution of a name
//! (`ExecutionAlreadyExists`, or the first one's ARN when the input is the
//! same), and either is the work already carried on.

use aws_sdk_sfn::error::ProvideErrorMetadata;
use serde_json::Value;

use crate::aws::clients::Clients;
use crate::error::Error;

/// How the rest of a run was handed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandedOn {
    /// A new execution, this ARN.
    Started(String),
    /// Another invocation of the same run handed it on already.
    AlreadyCarried(String),
}

/// Starts execution `name` of `state_machine` with `input`. The Step
/// Functions client is built here, for the rare invocation that needs it,
/// not at every cold start.
pub async fn hand_on(
    clients: &Clients,
    state_machine: &str,
    name: &str,
    input: &Value,
) -> Result<HandedOn, Error> {
    let sfn = aws_sdk_sfn::Client::new(clients.sdk_config());
    let sent = sfn
        .start_execution()
        .state_machine_arn(state_machine)
        .name(name)
        .input(input.to_string())
        .send()
        .await;
    match sent {
        Ok(out) => Ok(HandedOn::Started(out.execution_arn().to_string())),
        Err(e) if e.code() == Some("ExecutionAlreadyExists") => {
            Ok(HandedOn::AlreadyCarried(format!(
                "{}:{name}",
                state_machine.replacen(":stateMachine:", ":execution:", 1)
            )))
        }
        Err(e) => Err(Error::aws("StartExecution", e)),
    }
}
