//! `doppel chat-report` (the diversity report of generated dialogues) and `doppel mix` (a
//! training set of real and synthetic dialogues with a fixed real share).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use doppel_chat::DialogueRecord;
use doppel_chat::quality::{ChatReport, ReportOptions, deduplicate, mix, read_records, render_html};

use crate::args::{ChatReportArgs, MixArgs};
use crate::commands::{check_output, write_text_atomically};
use crate::manifest;

/// The scenario weights of a chat spec; every other field is ignored.
#[derive(Debug, Deserialize)]
struct SpecWeights {
    #[serde(default)]
    scenarios: Vec<ScenarioWeight>,
}

#[derive(Debug, Deserialize)]
struct ScenarioWeight {
    name: String,
    #[serde(default = "one")]
    weight: f64,
}

fn one() -> f64 {
    1.0
}

/// The requested scenario weights of a spec file (`[[scenarios]]` name and weight, default 1).
fn spec_weights(path: &Path) -> Result<BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(path).map_err(|e| doppel_core::Error::io(path, e))?;
    let spec: SpecWeights =
        toml::from_str(&text).with_context(|| format!("{}: cannot read the scenarios", path.display()))?;
    let mut weights = BTreeMap::new();
    for scenario in spec.scenarios {
        if !(scenario.weight.is_finite() && scenario.weight >= 0.0) {
            bail!(
                "{}: scenario `{}` has weight {}; expected a positive number",
                path.display(),
                scenario.name,
                scenario.weight
            );
        }
        *weights.entry(scenario.name).or_insert(0.0) += scenario.weight;
    }
    Ok(weights)
}

fn check_threshold(threshold: f64) -> Result<()> {
    if !(threshold.is_finite() && threshold > 0.0 && threshold <= 1.0) {
        bail!("`--near-duplicate-threshold {threshold}`: expected a similarity above 0 and at most 1");
    }
    Ok(())
}

fn fmt(value: Option<f64>, decimals: usize) -> String {
    value.filter(|v| v.is_finite()).map_or("n/a".to_string(), |v| format!("{v:.decimals$}"))
}

fn signed(value: Option<f64>) -> String {
    match value.filter(|v| v.is_finite()) {
        Some(v) => format!("{v:+.3}"),
        None => "n/a".to_string(),
    }
}

/// The summary printed on standard output.
fn summary(report: &ChatReport) -> String {
    let d = &report.diversity;
    let role = |name: &str| d.by_role.get(name).and_then(|r| r.distinct_2);
    let nd = &report.near_duplicates;
    let length = |x: &doppel_chat::quality::Distribution| {
        format!("min {}, median {}, mean {}, max {}", fmt(x.min, 0), fmt(x.median, 1), fmt(x.mean, 1), fmt(x.max, 0))
    };
    let mut lines = vec![
        format!(
            "{}: {} dialogues, {} user and assistant turns",
            report.source.as_deref().unwrap_or("dialogues"),
            report.dialogues,
            report.turns
        ),
        format!(
            "distinct-1/2/3      {} / {} / {} (distinct-2: user {}, assistant {})",
            fmt(d.all.distinct_1, 3),
            fmt(d.all.distinct_2, 3),
            fmt(d.all.distinct_3, 3),
            fmt(role("user"), 3),
            fmt(role("assistant"), 3)
        ),
        format!("self-similarity     {} ({} pairs)", fmt(d.self_similarity, 3), d.self_similarity_pairs),
        format!(
            "near-duplicates     {} pairs at similarity >= {} ({} exact), {} removable ({:.1}%)",
            nd.pairs,
            nd.threshold,
            nd.exact_pairs,
            nd.removable,
            nd.removable_share * 100.0
        ),
        format!("turns per dialogue  {}", length(&report.turns_per_dialogue)),
        format!("words per turn      {}", length(&report.words_per_turn)),
    ];
    match report.scenarios.total_variation {
        Some(tv) => lines.push(format!(
            "scenarios           {} seen or requested, total variation {tv:.3} from the requested weights",
            report.scenarios.rows.len()
        )),
        None => lines.push(format!("scenarios           {} seen", report.scenarios.rows.len())),
    }
    if let Some(judge) = &report.judge {
        lines.push(format!(
            "judge score         mean {}, median {}, min {}, max {} ({} judged)",
            fmt(judge.mean, 3),
            fmt(judge.median, 3),
            fmt(judge.min, 3),
            fmt(judge.max, 3),
            judge.count
        ));
        if !report.judge_questions.is_empty() {
            let means: Vec<String> =
                report.judge_questions.iter().map(|q| format!("{} {:.3}", q.name, q.mean)).collect();
            lines.push(format!("judge questions     mean P(yes): {}", means.join(", ")));
        }
    }
    if let Some(r) = &report.reference {
        lines.push(format!(
            "reference           {} dialogues: distinct-2 gap {}, self-similarity gap {}, KS words per turn {}, KS turns per dialogue {}",
            r.dialogues,
            signed(r.distinct_2_gap),
            signed(r.self_similarity_gap),
            fmt(r.ks_words_per_turn, 3),
            fmt(r.ks_turns_per_dialogue, 3)
        ));
    }
    lines.join("\n")
}

/// `doppel chat-report`.
pub fn chat_report(args: ChatReportArgs) -> Result<()> {
    check_threshold(args.near_duplicate_threshold)?;
    let mut inputs: Vec<&Path> = vec![&args.dialogues];
    if let Some(spec) = &args.spec {
        inputs.push(spec);
    }
    if let Some(reference) = &args.reference {
        inputs.push(reference);
    }
    if let Some(output) = &args.output {
        check_output(output, &inputs, &args.common)?;
    }
    if let Some(html) = &args.html {
        if html.as_os_str() == "-" {
            bail!("`--html -`: write the page to a file");
        }
        check_output(html, &inputs, &args.common)?;
    }
    let records = read_records(&args.dialogues)?;
    let expected = match &args.spec {
        Some(spec) => spec_weights(spec)?,
        None => BTreeMap::new(),
    };
    let reference = match &args.reference {
        Some(path) => Some(read_records(path)?),
        None => None,
    };
    let options = ReportOptions {
        near_duplicate_threshold: args.near_duplicate_threshold,
        expected,
        reference: reference.as_deref(),
        seed: args.seed,
        source: Some(args.dialogues.display().to_string()),
        reference_source: args.reference.as_ref().map(|p| p.display().to_string()),
        ..ReportOptions::default()
    };
    let report = ChatReport::compute(&records, &options);
    let json = serde_json::to_string_pretty(&report)? + "\n";
    let to_stdout = args.output.as_ref().is_some_and(|p| p.as_os_str() == "-");
    if let Some(output) = &args.output {
        if to_stdout {
            std::io::stdout().lock().write_all(json.as_bytes())?;
        } else {
            write_text_atomically(output, &json, args.common.force)?;
        }
    }
    if let Some(html) = &args.html {
        write_text_atomically(html, &render_html(&report)?, args.common.force)?;
    }
    if !args.common.quiet {
        if !to_stdout {
            writeln!(std::io::stdout().lock(), "{}", summary(&report))?;
        }
        let mut stderr = std::io::stderr().lock();
        for warning in &report.warnings {
            writeln!(stderr, "warning: {warning}")?;
        }
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct InputInfo {
    path: String,
    fingerprint: String,
    records: usize,
    removed_as_near_duplicates: usize,
}

#[derive(Debug, Serialize)]
struct DedupeInfo {
    threshold: f64,
    removed: usize,
}

#[derive(Debug, Serialize)]
struct MixManifest {
    format: &'static str,
    version: u32,
    doppel_version: &'static str,
    command: &'static str,
    created_at: String,
    output: String,
    ratio: f64,
    seed: u64,
    requested_records: Option<usize>,
    records: usize,
    real_records: usize,
    synthetic_records: usize,
    real_share: f64,
    dedupe: Option<DedupeInfo>,
    real: InputInfo,
    synthetic: InputInfo,
}

/// `doppel mix`.
pub fn mix_command(args: MixArgs) -> Result<()> {
    if !(0.0..=1.0).contains(&args.ratio) {
        bail!("`--ratio {}`: expected the share of real records, between 0 and 1 (e.g. 0.3)", args.ratio);
    }
    if args.rows == Some(0) {
        bail!("`-n 0`: expected at least 1 record");
    }
    check_threshold(args.near_duplicate_threshold)?;
    if args.output.as_os_str() == "-" {
        bail!("`-o -`: write the mix to a file (a manifest is written beside it)");
    }
    let manifest_path = manifest::path_for(&args.output);
    check_output(&args.output, &[&args.real, &args.synthetic], &args.common)?;
    check_output(&manifest_path, &[&args.real, &args.synthetic], &args.common)?;
    let fingerprint =
        |path: &Path| manifest::fingerprint_file(path).with_context(|| format!("cannot read {}", path.display()));
    let (real_fingerprint, synthetic_fingerprint) = (fingerprint(&args.real)?, fingerprint(&args.synthetic)?);
    let real = read_records(&args.real)?;
    let synthetic = read_records(&args.synthetic)?;
    let (real_count, synthetic_count) = (real.len(), synthetic.len());
    let (real, synthetic, removed) = if args.dedupe {
        // Real records come first, so a synthetic dialogue that nearly copies a real one goes.
        let mut all: Vec<DialogueRecord> = real;
        all.extend(synthetic);
        let (kept, removed) = deduplicate(all, args.near_duplicate_threshold);
        let removed_real = removed.iter().filter(|&&i| i < real_count).count();
        let kept_real = real_count - removed_real;
        let mut kept = kept;
        let synthetic = kept.split_off(kept_real);
        (kept, synthetic, Some((removed_real, removed.len() - removed_real)))
    } else {
        (real, synthetic, None)
    };
    let mixed = mix(real, synthetic, args.ratio, args.rows, args.seed)?;
    let mut text = String::new();
    for record in &mixed {
        text.push_str(&serde_json::to_string(record)?);
        text.push('\n');
    }
    let real_records = mixed.iter().filter(|r| r.metadata.provenance == "real").count();
    let manifest = MixManifest {
        format: "doppel.mix-manifest",
        version: 1,
        doppel_version: env!("CARGO_PKG_VERSION"),
        command: "mix",
        created_at: manifest::now(),
        output: args.output.display().to_string(),
        ratio: args.ratio,
        seed: args.seed,
        requested_records: args.rows,
        records: mixed.len(),
        real_records,
        synthetic_records: mixed.len() - real_records,
        real_share: real_records as f64 / mixed.len() as f64,
        dedupe: removed.map(|(r, s)| DedupeInfo { threshold: args.near_duplicate_threshold, removed: r + s }),
        real: InputInfo {
            path: args.real.display().to_string(),
            fingerprint: real_fingerprint,
            records: real_count,
            removed_as_near_duplicates: removed.map_or(0, |(r, _)| r),
        },
        synthetic: InputInfo {
            path: args.synthetic.display().to_string(),
            fingerprint: synthetic_fingerprint,
            records: synthetic_count,
            removed_as_near_duplicates: removed.map_or(0, |(_, s)| s),
        },
    };
    write_text_atomically(&args.output, &text, args.common.force)?;
    write_text_atomically(&manifest_path, &(serde_json::to_string_pretty(&manifest)? + "\n"), args.common.force)?;
    if !args.common.quiet {
        let mut out = std::io::stdout().lock();
        if let Some((r, s)) = removed {
            writeln!(out, "removed {r} real and {s} synthetic near-duplicates")?;
        }
        writeln!(
            out,
            "wrote {} records to {} ({} real, {} synthetic: real share {:.3})",
            mixed.len(),
            args.output.display(),
            real_records,
            mixed.len() - real_records,
            manifest.real_share
        )?;
    }
    Ok(())
}
