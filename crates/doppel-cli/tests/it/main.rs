//! Integration tests of the `doppel` binary, as one test binary.

#![expect(clippy::print_stderr, reason = "the acceptance tests report the figures they measure")]

mod bad_input;
mod chat;
mod chat_server;
mod chat_tools;
mod control;
mod determinism;
mod engines;
mod evaluate;
mod fidelity;
mod formats;
mod privacy;

use std::path::{Path, PathBuf};
use std::process::Command;

/// What a run of the binary returned.
pub struct Output {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `doppel` with `args`.
pub fn doppel(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_doppel")).args(args).output().expect("the binary runs");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `doppel` and asserts success.
pub fn doppel_ok(args: &[&str]) -> Output {
    let output = doppel(args);
    assert_eq!(output.code, 0, "doppel {args:?} failed:\n{}", output.stderr);
    output
}

/// The shared public datasets (`../shared/datasets` beside the repository).
pub fn datasets() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
    assert!(path.is_dir(), "the public datasets are expected at {}", path.display());
    path
}

/// The training split of a public dataset.
pub fn train(name: &str) -> PathBuf {
    datasets().join(name).join(format!("{name}.train.csv"))
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A path inside `dir` as a string.
pub fn path_in(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).display().to_string()
}

/// The five public datasets with train/holdout splits.
pub const DATASETS: [&str; 5] = ["cps1988", "telco_churn", "credit_default", "flchain", "covid_testing"];
