//! The `doppel` command line: arguments become settings, settings become library calls, and all
//! terminal output (progress, warnings, errors) happens here.

#![expect(clippy::print_stderr, reason = "the CLI is where doppel talks to the terminal")]

mod anonymize;
mod args;
mod chat;
mod chat_tools;
mod commands;
mod evaluate;
mod manifest;
mod progress;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { 2 } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            let mut stderr = std::io::stderr().lock();
            if let Some(below) = error.downcast_ref::<evaluate::BelowThreshold>() {
                let _ = writeln!(stderr, "{below}");
                return ExitCode::from(1);
            }
            let _ = writeln!(stderr, "error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || cause.to_string().contains("Broken pipe")
    })
}
