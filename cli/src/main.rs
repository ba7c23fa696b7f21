//! `lifeboat`: the operator's command line.
//!
//! Built on the same library as the functions, and calling the functions'
//! own handlers in this process: `lifeboat snapshot` is the snapshot
//! function's manual request, `lifeboat restore` the restore function's
//! plan and start, `lifeboat restore-status` its status request, with the
//! operator's AWS credentials and the stack's settings. What the command
//! line does is what the functions do.

mod args;
mod commands;
mod failure;
mod invoke;
mod settings;
mod show;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use serde_json::json;

use crate::args::{Cli, Command, Format, Shell};
use crate::failure::Failure;
use crate::settings::Stacks;
use crate::show::Out;

/// How a command that ran ended, when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Done,
    /// Refused or failed, and already said so (with what it had found).
    Refused,
    /// Ctrl-C stopped the watching; what was being watched goes on.
    StoppedWatching,
}

impl Finished {
    fn exit_code(self) -> u8 {
        match self {
            Finished::Done => 0,
            Finished::Refused => 1,
            Finished::StoppedWatching => 130,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    let out = Out::detect(cli.global.output);
    // The functions' metrics are EMF lines on stdout, for Lambda; here
    // stdout is what the operator reads.
    lifeboat::lambda::metrics::disable();
    if cli.global.verbose {
        // The functions' own log lines, for a person, on standard error.
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .with_target(false)
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            out.failure(
                &Failure::failed("Runtime", format!("could not start: {e}")),
                None,
            );
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(&out, &cli)) {
        Ok(finished) => ExitCode::from(finished.exit_code()),
        Err(failure) => {
            out.failure(&failure, None);
            ExitCode::from(failure.exit_code())
        }
    }
}

async fn run(out: &Out, cli: &Cli) -> Result<Finished, Failure> {
    let global = &cli.global;
    let regions = &global.region;
    let profile = global.profile.as_deref();
    if let Command::Completions(args) = &cli.command {
        completions(out, args.shell);
        return Ok(Finished::Done);
    }
    let stacks = Stacks::load(global).await?;
    match &cli.command {
        Command::Status => commands::status::run(out, &stacks, regions).await,
        Command::Snapshots(args) => commands::snapshots::run(out, &stacks, regions, args).await,
        Command::Snapshot(args) => {
            commands::snapshot::run(out, &stacks, regions, args).await?;
            Ok(Finished::Done)
        }
        Command::Restore(args) => {
            commands::restore::restore(out, &stacks, regions, profile, args).await
        }
        Command::RestoreStatus(args) => {
            commands::restore::status(out, &stacks, regions, profile, args).await
        }
        Command::Drill(args) => commands::drill::drill(out, &stacks, regions, args).await,
        Command::Drills(args) => commands::drill::drills(out, &stacks, regions, args).await,
        Command::Completions(_) => Ok(Finished::Done),
    }
}

fn completions(out: &Out, shell: Shell) {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "lifeboat", &mut script);
    let script = String::from_utf8_lossy(&script);
    if out.is_json() {
        out.json(&json!({"shell": shell.to_string(), "script": script}));
    } else {
        print!("{script}");
    }
}

/// Help and version are printed as asked (exit 0); anything else the
/// command line did not understand is a usage error (exit 2), also as the
/// JSON document when JSON was asked for.
fn usage_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = error.print();
        return ExitCode::from(
            if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                2
            } else {
                0
            },
        );
    }
    let _ = error.print();
    if json_asked(std::env::args()) {
        let out = Out::detect(Format::Json);
        let message = plain_message(&error.to_string());
        out.json(&json!({"error": {"type": "UsageError", "message": message, "exit_code": 2}}));
    }
    ExitCode::from(2)
}

/// clap's message on one line, without its usage and its hint.
fn plain_message(text: &str) -> String {
    text.lines()
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_string()
}

/// Whether `--output json` is on a command line clap could not parse.
fn json_asked(args: impl Iterator<Item = String>) -> bool {
    let args: Vec<String> = args.collect();
    args.windows(2)
        .any(|w| w[0] == "--output" && w[1] == "json")
        || args.iter().any(|a| a == "--output=json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_found_on_a_command_line_that_did_not_parse() {
        let args = |s: &str| {
            s.split(' ')
                .map(String::from)
                .collect::<Vec<_>>()
                .into_iter()
        };
        assert!(json_asked(args("lifeboat restore --output json")));
        assert!(json_asked(args("lifeboat --output=json restore")));
        assert!(!json_asked(args("lifeboat restore --output text")));
    }

    #[test]
    fn a_usage_error_reads_on_one_line() {
        let text = "error: the following required arguments were not provided:\n  --target <DB>\n\nUsage: lifeboat restore --target <DB> <DB>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            plain_message(text),
            "the following required arguments were not provided: --target <DB>"
        );
    }

    #[test]
    fn exit_codes_are_the_documented_ones() {
        assert_eq!(Finished::Done.exit_code(), 0);
        assert_eq!(Finished::Refused.exit_code(), 1);
        assert_eq!(Finished::StoppedWatching.exit_code(), 130);
        assert_eq!(Failure::usage("x").exit_code(), 2);
    }
}
