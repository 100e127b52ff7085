//! `doppel evaluate` and `doppel report`.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use doppel_core::Metadata;
use doppel_evaluate::{EvaluateOptions, Evaluation, FailUnder};
use doppel_io::{FileFormat, read_table};

use crate::args::{EvaluateArgs, ReportArgs};
use crate::commands::{check_output, read_options, threads, write_text_atomically};
use crate::{manifest, progress};

/// Some `--fail-under` minimum was not met: `main` prints the one-line summary and exits with 1.
#[derive(Debug)]
pub struct BelowThreshold(pub String);

impl std::fmt::Display for BelowThreshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BelowThreshold {}

/// Parses `8GB`, `512MB`, `1024` (bytes).
fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim().to_ascii_uppercase();
    let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t.as_str(), ""),
    };
    let factor: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "K" | "KB" | "KIB" => 1024.0,
        "M" | "MB" | "MIB" => 1024.0 * 1024.0,
        "G" | "GB" | "GIB" => 1024.0 * 1024.0 * 1024.0,
        "T" | "TB" | "TIB" => 1024.0f64.powi(4),
        other => bail!("`--memory-limit {text}`: unknown unit `{other}`; use B, KB, MB, GB or TB"),
    };
    match number.parse::<f64>() {
        Ok(n) if n > 0.0 && n.is_finite() => Ok((n * factor) as u64),
        _ => bail!("`--memory-limit {text}`: expected a size such as 8GB"),
    }
}

/// The memory available to this process (Linux: MemAvailable), if known.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} GB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.0} KB", (b / 1024.0).max(1.0))
    }
}

/// Refuses files whose tables would not fit in memory: evaluation holds whole tables, as read
/// plus as numbers, which takes about 4× a CSV's size (about 20× a compressed Parquet file's).
fn check_memory(paths: &[&Path], limit: Option<u64>) -> Result<()> {
    let Some(limit) = limit.or_else(|| available_memory().map(|m| m / 10 * 8)) else {
        return Ok(());
    };
    let mut total = 0u64;
    for path in paths {
        let Ok(meta) = std::fs::metadata(path) else { continue };
        let factor = match FileFormat::from_path(path) {
            Ok(FileFormat::Parquet) | Ok(FileFormat::ArrowIpc) => 20,
            _ => 4,
        };
        let need = meta.len().saturating_mul(factor);
        total = total.saturating_add(need);
        if total > limit {
            bail!(
                "{}: {} on disk needs about {} in memory (with the other inputs, {}), more than the {} allowed; \
                 evaluation reads whole tables: pass a random sample of the rows, or raise --memory-limit",
                path.display(),
                human_bytes(meta.len()),
                human_bytes(need),
                human_bytes(total),
                human_bytes(limit)
            );
        }
    }
    Ok(())
}

fn fmt(value: Option<f64>) -> String {
    value.map_or("n/a".to_string(), |v| format!("{v:.3}"))
}

fn percent(value: Option<f64>) -> String {
    value.map_or("n/a".to_string(), |v| format!("{:.2}%", v * 100.0))
}

/// The summary printed on standard output.
fn summary(e: &Evaluation) -> String {
    let q = &e.quality.scores;
    let mut lines = vec![
        format!(
            "quality        {} as shipped, {} all pairs (column shapes {}, pair trends {} / {} all pairs)",
            fmt(q.score),
            fmt(q.score_all_pairs),
            fmt(q.column_shapes),
            fmt(q.column_pair_trends),
            fmt(q.column_pair_trends_all_pairs)
        ),
        format!(
            "accuracy       {} (holdout ceiling {})",
            fmt(e.accuracy.synthetic.overall),
            fmt(e.accuracy.holdout.as_ref().and_then(|a| a.overall))
        ),
    ];
    let u = &e.utility;
    lines.push(match (&u.target, &u.metric) {
        (Some(target), Some(metric)) => format!(
            "utility        TSTR {} / TRTR {} = {} ({metric} on `{target}`){}",
            fmt(u.tstr),
            fmt(u.trtr),
            fmt(u.ratio),
            u.note.as_ref().map_or(String::new(), |n| format!("; {n}"))
        ),
        _ => format!("utility        n/a ({})", u.note.as_deref().unwrap_or("not computed")),
    });
    lines.push(format!(
        "detection      AUC {} ({} folds, {} rows of each)",
        fmt(e.detection.auc),
        e.detection.folds,
        e.detection.rows_per_class
    ));
    let p = &e.privacy;
    lines.push(format!(
        "privacy        DCR share {}, exact copies {} (holdout {}), membership AUC {}",
        fmt(p.dcr_share),
        percent(Some(p.exact_copy_rate)),
        percent(p.holdout_exact_match_rate),
        fmt(p.membership_auc)
    ));
    for a in &p.attribute_inference {
        lines.push(format!(
            "               `{}` inferred right for {} of training rows, {} of holdout rows (baseline {})",
            a.column,
            percent(Some(a.members)),
            percent(a.non_members),
            percent(Some(a.baseline))
        ));
    }
    if let Some(parity) = &e.parity {
        lines.push(format!(
            "parity         `{}` by `{}`: difference {} real, {} synthetic",
            parity.outcome,
            parity.group,
            fmt(parity.real.difference),
            fmt(parity.synthetic.difference)
        ));
    }
    if let Some(groups) = &e.groups {
        for g in &groups.groups {
            lines.push(format!(
                "  {}={}: rows {} real / {} synthetic, quality {}, DCR share {}",
                groups.column,
                g.value,
                g.rows_real,
                g.rows_synthetic,
                fmt(g.quality.as_ref().and_then(|q| q.score)),
                fmt(g.dcr_share)
            ));
        }
    }
    lines.join("\n")
}

fn read_manifest(synthetic: &Path) -> Option<serde_json::Value> {
    let path = manifest::path_for(synthetic);
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn evaluate(args: EvaluateArgs) -> Result<()> {
    let started = Instant::now();
    let fail_under = args.fail_under.as_deref().map(FailUnder::parse).transpose()?;
    if let Some(f) = &fail_under {
        f.check_inputs(args.holdout.is_some(), args.target.is_some())?;
    }
    let mut inputs: Vec<&Path> = vec![&args.real, &args.synthetic];
    if let Some(h) = &args.holdout {
        inputs.push(h);
    }
    for output in args.output.iter().chain(&args.html) {
        check_output(output, &inputs, &args.common)?;
    }
    if args.privacy_rows == 0 || args.detection_rows == 0 {
        bail!("`--privacy-rows` and `--detection-rows` must be at least 1");
    }
    if !(2..=20).contains(&args.detection_folds) {
        bail!("`--detection-folds {}`: expected 2 to 20", args.detection_folds);
    }
    let limit = args.memory_limit.as_deref().map(parse_size).transpose()?;
    check_memory(&inputs, limit)?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads(args.threads)?).build()?;

    let options = read_options(&args.read)?;
    let real = read_table(&args.real, &options)?;
    let synthetic = read_table(&args.synthetic, &options)?;
    let holdout = args.holdout.as_ref().map(|h| read_table(h, &options)).transpose()?;
    let metadata = match &args.read.metadata {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| doppel_core::Error::io(path, e))?;
            let metadata = Metadata::from_json(&text, &path.display().to_string())?;
            metadata.check_against(&real, &args.real.display().to_string())?;
            metadata
        }
        None => Metadata::detect(&real).0,
    };

    let eval_options = EvaluateOptions {
        target: args.target.clone(),
        by: args.by.clone(),
        sensitive: args.sensitive.clone(),
        privacy_rows: args.privacy_rows,
        detection_rows: args.detection_rows,
        detection_folds: args.detection_folds,
        seed: args.seed,
        parity: args.parity.as_deref().map(doppel_evaluate::parity::ParitySpec::parse).transpose()?,
        ..EvaluateOptions::default()
    };
    let bar = progress::bar(args.common.quiet, doppel_evaluate::STAGES.len() as u64, "evaluating");
    let report = |stage: &str| {
        bar.set_message(stage.to_string());
        if let Some(i) = doppel_evaluate::STAGES.iter().position(|s| *s == stage) {
            bar.set_position(i as u64);
        }
    };
    let (real_name, synth_name) = (args.real.display().to_string(), args.synthetic.display().to_string());
    let holdout_name = args.holdout.as_ref().map(|h| h.display().to_string());
    let mut evaluation = pool.install(|| {
        doppel_evaluate::evaluate(
            &metadata,
            (&real, &real_name),
            (&synthetic, &synth_name),
            holdout.as_ref().zip(holdout_name.as_deref()),
            &eval_options,
            &report,
        )
    })?;
    bar.finish_and_clear();
    evaluation.provenance = read_manifest(&args.synthetic);

    let json = evaluation.to_json();
    let mut stdout = std::io::stdout().lock();
    match &args.output {
        Some(path) if path.as_os_str() == "-" => writeln!(stdout, "{json}")?,
        Some(path) => write_text_atomically(path, &format!("{json}\n"), args.common.force)?,
        None => {}
    }
    if let Some(path) = &args.html {
        let html = doppel_evaluate::html::render(&evaluation)?;
        write_text_atomically(path, &html, args.common.force)?;
    }
    let json_on_stdout = args.output.as_ref().is_some_and(|p| p.as_os_str() == "-");
    if !args.common.quiet && !json_on_stdout {
        writeln!(stdout, "{}", summary(&evaluation))?;
    }
    drop(stdout);
    if !args.common.quiet {
        let mut stderr = std::io::stderr().lock();
        for warning in &evaluation.warnings {
            let _ = writeln!(stderr, "note: {warning}");
        }
        let _ = writeln!(stderr, "evaluated in {:.1} s", started.elapsed().as_secs_f64());
    }
    if let Some(f) = &fail_under {
        let shortfalls = f.shortfalls(&evaluation);
        if !shortfalls.is_empty() {
            let parts: Vec<String> = shortfalls
                .iter()
                .map(|s| match s.value {
                    Some(v) => format!("{} {v:.3} < {}", s.key, s.minimum),
                    None => format!("{} n/a (minimum {})", s.key, s.minimum),
                })
                .collect();
            return Err(BelowThreshold(format!("below --fail-under: {}", parts.join(", "))).into());
        }
    }
    Ok(())
}

pub fn report(args: ReportArgs) -> Result<()> {
    let mut inputs: Vec<&Path> = vec![&args.evaluation];
    if let Some(t) = &args.template {
        inputs.push(t);
    }
    check_output(&args.output, &inputs, &args.common)?;
    let text = std::fs::read_to_string(&args.evaluation).map_err(|e| doppel_core::Error::io(&args.evaluation, e))?;
    let evaluation = Evaluation::from_json(&text, &args.evaluation.display().to_string())?;
    let html = match &args.template {
        None => doppel_evaluate::html::render(&evaluation)?,
        Some(path) => {
            let template = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            doppel_evaluate::html::render_with_template(&evaluation, &template)?
        }
    };
    write_text_atomically(&args.output, &html, args.common.force)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1024").ok(), Some(1024));
        assert_eq!(parse_size("2KB").ok(), Some(2048));
        assert_eq!(parse_size("1.5 GB").ok(), Some(1_610_612_736));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
