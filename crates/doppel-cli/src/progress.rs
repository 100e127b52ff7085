//! Progress bars on standard error: shown only on a terminal and without `--quiet`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar, or nothing when output is quiet or not a terminal.
pub fn bar(quiet: bool, total: u64, message: &str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {human_pos}/{human_len} ({per_sec:0}, {eta} left)")
            .expect("invariant: the template is valid")
            .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}
