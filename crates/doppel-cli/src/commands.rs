//! The subcommands.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use doppel_core::{ColumnKind, ColumnProfile, Metadata, Table, Warning};
use doppel_io::{AtomicFile, ReadOptions, open_sink, read_table};
use doppel_synth::{
    Condition, Control, Engine, Fairness, FitOptions, ModelFile, Outcome, Rebalance, SampleOptions, Shard, sample,
};

use crate::args::{
    Cli, Command, CommonArgs, EngineArg, FitArgs, FitSettingsArgs, InspectArgs, ReadArgs, SampleArgs, SynthArgs,
};
use crate::manifest::{
    self, CompletedInfo, ControlInfo, Manifest, ModelInfo, ParityInfo, ShardInfo, Timings, TrainingInfo,
};
use crate::progress;

/// The most rows one command may ask for.
const MAX_ROWS: u64 = 1_000_000_000_000;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Inspect(args) => inspect(args),
        Command::Fit(args) => fit(args),
        Command::Sample(args) => sample_command(args),
        Command::Synth(args) => synth(args),
        Command::Chat(args) => crate::chat::chat(args),
        Command::ChatJudge(args) => crate::chat::chat_judge(args),
        Command::Evaluate(args) => crate::evaluate::evaluate(args),
        Command::Report(args) => crate::evaluate::report(args),
        Command::ChatReport(args) => crate::chat_tools::chat_report(args),
        Command::Mix(args) => crate::chat_tools::mix_command(args),
        Command::Anonymize(args) => crate::anonymize::anonymize(args),
    }
}

pub(crate) fn read_options(args: &ReadArgs) -> Result<ReadOptions> {
    let mut null_values: Vec<String> =
        args.null_values.split(',').map(|s| s.to_string()).filter(|s| !s.is_empty()).collect();
    null_values.push(String::new());
    let delimiter = match args.delimiter {
        None => None,
        Some(c) if c.is_ascii() => Some(c as u8),
        Some(c) => bail!("`--delimiter {c}`: expected a single ASCII character"),
    };
    Ok(ReadOptions { null_values, delimiter })
}

pub(crate) struct Loaded {
    pub(crate) table: Table,
    pub(crate) metadata: Metadata,
    profiles: Option<Vec<ColumnProfile>>,
    pub(crate) fingerprint: String,
    read_seconds: f64,
}

pub(crate) fn load(data: &Path, args: &ReadArgs) -> Result<Loaded> {
    let started = Instant::now();
    let table = read_table(data, &read_options(args)?)?;
    let fingerprint = manifest::fingerprint_file(data).with_context(|| format!("cannot read {}", data.display()))?;
    let (metadata, profiles) = match &args.metadata {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| doppel_core::Error::io(path, e))?;
            let metadata = Metadata::from_json(&text, &path.display().to_string())?;
            metadata.check_against(&table, &data.display().to_string())?;
            doppel_core::constraint::check_definitions(&metadata.constraints, &metadata)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            (metadata, None)
        }
        None => {
            let (metadata, profiles) = Metadata::detect(&table);
            (metadata, Some(profiles))
        }
    };
    Ok(Loaded { table, metadata, profiles, fingerprint, read_seconds: started.elapsed().as_secs_f64() })
}

fn print_warnings(warnings: &[Warning], quiet: bool) {
    if quiet {
        return;
    }
    let mut stderr = std::io::stderr().lock();
    for warning in warnings {
        let _ = writeln!(stderr, "warning: {warning}");
    }
}

/// Fails early when an output exists (without `--force`) or would overwrite an input.
pub(crate) fn check_output(output: &Path, inputs: &[&Path], common: &CommonArgs) -> Result<()> {
    if output.as_os_str() == "-" {
        return Ok(());
    }
    if output.exists() {
        let output_canonical = output.canonicalize().ok();
        for input in inputs {
            if input.canonicalize().ok() == output_canonical {
                bail!("{} is also an input; choose another output path", output.display());
            }
        }
        if !common.force {
            bail!("{} already exists; pass `--force` to overwrite it", output.display());
        }
    }
    Ok(())
}

fn parse_rows(text: &str) -> Result<u64> {
    let cleaned = text.trim().replace('_', "");
    let rows: u64 = match cleaned.parse() {
        Ok(rows) => rows,
        Err(_) => bail!("`-n {text}`: expected a positive whole number of rows"),
    };
    if rows == 0 {
        bail!("`-n 0`: expected at least 1 row");
    }
    if rows > MAX_ROWS {
        bail!("`-n {text}`: at most {MAX_ROWS} rows can be sampled in one command; use `--shard` to split larger jobs");
    }
    Ok(rows)
}

/// The fit options; `--engine auto` stays `tree` until [`resolve_engine`] sees the table.
fn fit_options(settings: &FitSettingsArgs, seed: u64) -> Result<FitOptions> {
    let engine = match settings.engine {
        EngineArg::Copula => Engine::Copula,
        EngineArg::Tree | EngineArg::Auto => Engine::Tree,
        EngineArg::Dp => Engine::Dp,
    };
    let mut options = FitOptions::new(engine);
    match (engine, settings.epsilon) {
        (Engine::Dp, None) => {
            bail!(
                "`--engine dp` needs a privacy budget: give `--epsilon`, for example `--epsilon 1` (smaller is more private)"
            )
        }
        (Engine::Dp, Some(epsilon)) => {
            let privacy =
                doppel_synth::PrivacySettings::new(epsilon, settings.delta.unwrap_or(doppel_synth::DEFAULT_DELTA));
            privacy.check()?;
            if settings.max_fit_seconds.is_some() {
                bail!("`--max-fit-seconds` applies to the tree engine; the dp engine's fit takes seconds anyway");
            }
            if !settings.keep_rare.is_empty() {
                bail!(
                    "`--keep-rare` cannot be used with `--engine dp`: under differential privacy a category is released only when its noisy count clears a threshold, whatever you decide"
                );
            }
            options.privacy = Some(privacy);
        }
        (_, Some(_)) => bail!(
            "`--epsilon` applies to `--engine dp`; the {} engine has no privacy budget (add `--engine dp`)",
            match settings.engine {
                EngineArg::Auto => "auto-chosen",
                _ => engine.name(),
            }
        ),
        (_, None) if settings.delta.is_some() => bail!("`--delta` applies to `--engine dp` with `--epsilon`"),
        _ => {}
    }
    options.seed = seed;
    if settings.min_category_count == 0 {
        bail!("`--min-category-count 0`: expected at least 1");
    }
    options.transform.min_category_count = settings.min_category_count;
    options.transform.keep_rare = settings.keep_rare.clone();
    options.transform.locale = doppel_transform::Locale::parse(&settings.locale)?;
    if let Some(seconds) = settings.max_fit_seconds
        && !(seconds.is_finite() && seconds > 0.0)
    {
        bail!("`--max-fit-seconds {seconds}`: expected a positive number of seconds");
    }
    options.max_fit_seconds = settings.max_fit_seconds;
    Ok(options)
}

/// Every `--keep-rare` column must be one of the data's.
fn check_keep_rare(options: &FitOptions, metadata: &Metadata) -> Result<()> {
    for column in &options.transform.keep_rare {
        if metadata.column(column).is_none() {
            bail!(
                "`--keep-rare {column}`: the data has no column `{column}`; its columns are {}",
                metadata.columns.iter().map(|c| format!("`{}`", c.name)).collect::<Vec<_>>().join(", ")
            );
        }
    }
    Ok(())
}

/// Settles `--engine auto` once the table's size is known, recording why.
fn resolve_engine(settings: &FitSettingsArgs, options: &mut FitOptions, n_rows: usize) {
    if matches!(settings.engine, EngineArg::Auto) {
        let (engine, reason) = doppel_synth::choose_engine(n_rows);
        options.engine = engine;
        options.engine_reason = Some(reason);
    }
}

fn fit_model(loaded: &Loaded, options: &FitOptions, quiet: bool) -> Result<ModelFile> {
    let bar = progress::bar(quiet, loaded.metadata.columns.len() as u64, "fitting");
    let mut report = |p: doppel_synth::FitProgress| match p.stage {
        doppel_synth::FitStage::Transforms => bar.set_position(p.done as u64),
        doppel_synth::FitStage::Trees => {
            if p.done == 0 {
                bar.set_message("trees");
                bar.set_length(p.total as u64);
            }
            bar.set_position(p.done as u64);
        }
        doppel_synth::FitStage::Correlations => {}
    };
    let mut model = ModelFile::fit(&loaded.table, loaded.metadata.clone(), options, &mut report)?;
    bar.finish_and_clear();
    // A fingerprint of the data would tell apart training sets that differ in one row, which
    // differential privacy must not: `dp` models carry none.
    if model.engine() != doppel_synth::Engine::Dp {
        model.fit.training_fingerprint = Some(loaded.fingerprint.clone());
    }
    Ok(model)
}

pub(crate) fn write_text_atomically(path: &Path, text: &str, force: bool) -> Result<()> {
    let file = AtomicFile::create(path, force)?;
    let mut handle = file.try_clone_file()?;
    handle.write_all(text.as_bytes()).map_err(|e| doppel_core::Error::io(path, e))?;
    drop(handle);
    file.commit()?;
    Ok(())
}

fn inspect(args: InspectArgs) -> Result<()> {
    if let Some(output) = &args.output {
        check_output(output, &[&args.data], &args.common)?;
    }
    let loaded = load(&args.data, &args.read)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}: {} rows, {} columns", args.data.display(), loaded.table.n_rows(), loaded.table.n_columns())?;
    writeln!(out)?;
    let width = loaded.metadata.columns.iter().map(|c| c.name.chars().count()).max().unwrap_or(6).max(6);
    writeln!(out, "{:<width$}  {:<20}  {:>8}  {:>9}  why", "column", "type", "missing", "distinct")?;
    for (index, meta) in loaded.metadata.columns.iter().enumerate() {
        let column = loaded.table.column(&meta.name)?;
        let n = column.data.len().max(1);
        let missing = 100.0 * column.data.null_count() as f64 / n as f64;
        let (distinct, reason) = match &loaded.profiles {
            Some(profiles) => (profiles[index].n_distinct.to_string(), profiles[index].reason.clone()),
            None => ("-".to_string(), "from the metadata file".to_string()),
        };
        writeln!(
            out,
            "{:<width$}  {:<20}  {:>7.1}%  {:>9}  {}",
            meta.name,
            meta.kind.name(),
            missing,
            distinct,
            reason
        )?;
    }
    let mut inside = Vec::new();
    for meta in &loaded.metadata.columns {
        if let ColumnKind::Text | ColumnKind::Categorical { storage: doppel_core::Storage::Text } = meta.kind {
            let found = crate::anonymize::personal_data_inside(loaded.table.column(&meta.name)?);
            if !found.is_empty() {
                let kinds: Vec<String> = found
                    .iter()
                    .map(|(kind, rows)| format!("{kind} ({rows} {})", if *rows == 1 { "row" } else { "rows" }))
                    .collect();
                inside.push(format!("  {}: {}", meta.name, kinds.join(", ")));
            }
        }
    }
    if !inside.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "personal data inside text columns (free text is generated afresh, but a category held by enough rows is \
             modelled as it is: run `doppel anonymize` first to replace it):"
        )?;
        for line in inside {
            writeln!(out, "{line}")?;
        }
    }
    let (engine, reason) = doppel_synth::choose_engine(loaded.table.n_rows());
    writeln!(out)?;
    writeln!(out, "engine: {}, {reason} (`--engine` overrides)", engine.name())?;
    let mut metadata = loaded.metadata.clone();
    if !metadata.constraints.is_empty() {
        writeln!(out)?;
        writeln!(out, "constraints (from the metadata; every sampled row meets them):")?;
        for constraint in &metadata.constraints {
            writeln!(out, "  {}", constraint.describe())?;
        }
    }
    if args.suggest_constraints {
        let suggestions = doppel_core::constraint::suggest(&loaded.table, &loaded.metadata);
        writeln!(out)?;
        if suggestions.is_empty() {
            writeln!(out, "suggested constraints: none found")?;
        } else {
            let how = if args.output.is_some() {
                "written into the metadata's `constraints`: delete the ones that are not rules"
            } else {
                "add the ones that are rules to the metadata's `constraints`; `--output` writes them there"
            };
            writeln!(out, "suggested constraints ({how}):")?;
            for suggestion in suggestions {
                writeln!(out, "  {}: {}", suggestion.constraint.describe(), suggestion.reason)?;
                if !metadata.constraints.contains(&suggestion.constraint) {
                    metadata.constraints.push(suggestion.constraint);
                }
            }
        }
    }
    if let Some(output) = &args.output {
        write_text_atomically(output, &(metadata.to_json() + "\n"), args.common.force)?;
        if !args.common.quiet {
            eprintln!("wrote metadata to {} (edit it and pass it back with `--metadata`)", output.display());
        }
    }
    Ok(())
}

fn fit(args: FitArgs) -> Result<()> {
    check_output(&args.output, &[&args.data], &args.common)?;
    let mut options = fit_options(&args.settings, args.seed)?;
    let loaded = load(&args.data, &args.read)?;
    resolve_engine(&args.settings, &mut options, loaded.table.n_rows());
    check_keep_rare(&options, &loaded.metadata)?;
    let model = fit_model(&loaded, &options, args.common.quiet)?;
    print_warnings(&model.fit.warnings, args.common.quiet);
    write_text_atomically(&args.output, &model.to_json(), args.common.force)?;
    if !args.common.quiet {
        eprintln!(
            "fitted the {} engine on {} rows x {} columns in {:.2}s; wrote {}",
            model.engine().name(),
            loaded.table.n_rows(),
            loaded.table.n_columns(),
            model.fit.fit_seconds,
            args.output.display()
        );
    }
    Ok(())
}

struct SampleJob<'a> {
    model: &'a ModelFile,
    model_json: &'a str,
    model_path: Option<&'a Path>,
    training_path: Option<&'a Path>,
    output: &'a Path,
    options: SampleOptions,
    control: Option<ControlInfo>,
    force: bool,
    quiet: bool,
    command: &'static str,
}

fn run_sample(job: SampleJob<'_>, mut timings: Timings, started: Instant) -> Result<()> {
    let (start, end) = job.options.rows();
    let n_rows = end - start;
    let template = doppel_synth::template(job.model)?;
    let mut sink = open_sink(job.output, job.force, &template)?;
    let encoder = sink.encoder();
    let manifest_path = manifest::path_for(job.output);
    let bar = progress::bar(job.quiet, n_rows, "sampling");
    let sampling = Instant::now();
    sample(
        job.model,
        &job.options,
        &|batch, index| encoder.encode(batch, index),
        &mut |encoded| sink.write_encoded(encoded),
        &|done| bar.set_position(done),
    )?;
    sink.finish()?;
    bar.finish_and_clear();
    timings.sample_seconds = sampling.elapsed().as_secs_f64();
    timings.total_seconds = started.elapsed().as_secs_f64();
    if job.output.as_os_str() != "-" {
        let manifest = Manifest {
            format: manifest::MANIFEST_FORMAT,
            version: 1,
            doppel_version: env!("CARGO_PKG_VERSION"),
            command: job.command,
            created_at: manifest::now(),
            output: job.output.display().to_string(),
            engine: job.model.engine().name().to_string(),
            engine_settings: job.model.fit.options.clone(),
            engine_reason: job.model.fit.options.engine_reason.clone(),
            privacy: manifest::PrivacyInfo::of(job.model),
            control: job.control,
            constraints: job.model.constraints.as_ref().map(|c| c.describe_all()).unwrap_or_default(),
            rare_values_kept: job.model.fit.options.transform.keep_rare.clone(),
            seed: job.options.seed,
            shard: job.options.shard.map(|s| ShardInfo { index: s.index, count: s.count, first_row: start }),
            rows: n_rows,
            total_rows: job.options.n_rows,
            threads: job.options.threads,
            training_data: TrainingInfo {
                path: job.training_path.map(|p| p.display().to_string()),
                fingerprint: job.model.fit.training_fingerprint.clone(),
                rows: job.model.fit.training_rows,
            },
            model: ModelInfo {
                path: job.model_path.map(|p| p.display().to_string()),
                fingerprint: manifest::fingerprint(job.model_json.as_bytes()),
            },
            timings,
            warnings: job.model.fit.warnings.clone(),
        };
        let text = serde_json::to_string_pretty(&manifest)? + "\n";
        write_text_atomically(&manifest_path, &text, true)?;
        if !job.quiet {
            let seconds = manifest.timings.sample_seconds.max(1e-9);
            eprintln!(
                "wrote {n_rows} rows to {} in {:.2}s ({:.0} rows/s); provenance in {}",
                job.output.display(),
                seconds,
                n_rows as f64 / seconds,
                manifest_path.display()
            );
        }
    }
    Ok(())
}

pub(crate) fn threads(requested: Option<usize>) -> Result<usize> {
    match requested {
        Some(0) => bail!("`--threads 0`: expected at least 1"),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

fn sample_command(args: SampleArgs) -> Result<()> {
    let started = Instant::now();
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let mut inputs: Vec<&Path> = vec![&args.model];
    if let Some(seeds) = &args.complete {
        inputs.push(seeds);
    }
    check_output(&args.output, &inputs, &args.common)?;
    let model_text = ModelFile::read_text(&args.model)?;
    let model = ModelFile::from_json(&model_text, &args.model.display().to_string())?;
    let (control, mut info) = control_of(&args)?;
    let n_rows = match (&args.rows, &control.complete) {
        (Some(rows), None) => parse_rows(rows)?,
        (None, Some(seeds)) => seeds.n_rows() as u64,
        (Some(rows), Some(seeds)) => {
            let n_rows = parse_rows(rows)?;
            if n_rows != seeds.n_rows() as u64 {
                bail!(
                    "`-n {rows}` with `--complete`: the seed file has {} rows, and every seed row makes one output row; \
                     leave out `-n`",
                    seeds.n_rows()
                );
            }
            n_rows
        }
        (None, None) => bail!("`-n ROWS` is required (unless `--complete` gives the rows)"),
    };
    if !control.conditions.is_empty() {
        let share = doppel_synth::estimate(&model, &control)?;
        if share <= 0.0 {
            bail!(
                "no row the model generates meets {} (none in {} draws): the condition is impossible or too rare under \
                 the model",
                args.conditions.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(" and "),
                doppel_synth::control::ESTIMATE_ROWS
            );
        }
        if share < 0.05 && !args.common.quiet {
            eprintln!(
                "note: the conditions are rare: about {} of the rows the model generates meet them; rows are drawn \
                 from the conditional distribution, so this costs no extra time",
                percent(share)
            );
        }
        info.condition_share = Some(share);
    }
    let options = SampleOptions {
        n_rows,
        seed: args.seed.unwrap_or(model.fit.options.seed),
        shard,
        threads: threads(args.threads)?,
        control,
    };
    let job = SampleJob {
        model: &model,
        model_json: &model_text,
        model_path: Some(&args.model),
        training_path: None,
        output: &args.output,
        options,
        control: (!info.is_empty()).then_some(info),
        force: args.common.force,
        quiet: args.common.quiet,
        command: "sample",
    };
    let seeds = args.complete.clone();
    run_sample(job, Timings::default(), started).map_err(|error| match &seeds {
        Some(path) if error.to_string().starts_with("seed row") => {
            anyhow::anyhow!("{}: {error}", path.display())
        }
        _ => error,
    })
}

fn percent(share: f64) -> String {
    if share >= 0.001 { format!("{:.2}%", share * 100.0) } else { format!("{:.2e} ({:.4}%)", share, share * 100.0) }
}

/// The library's [`Control`] for `sample`'s options, and what the manifest records of it.
fn control_of(args: &SampleArgs) -> Result<(Control, ControlInfo)> {
    let mut control = Control::default();
    let mut info = ControlInfo::default();
    for text in &args.conditions {
        control.conditions.push(Condition::parse(text)?);
        info.conditions.push(text.clone());
    }
    for text in &args.rebalance {
        control.rebalance.push(Rebalance::parse(text)?);
        info.rebalance.push(text.clone());
    }
    for text in &args.oversample {
        control.rebalance.push(Rebalance::parse_oversample(text)?);
        info.oversample.push(text.clone());
    }
    if let (Some(group), Some(target)) = (&args.fair, &args.target) {
        control.fairness = Some(Fairness { group: group.clone(), outcome: Outcome::parse(target)? });
        info.parity = Some(ParityInfo { group: group.clone(), target: target.clone() });
    }
    if let Some(path) = &args.complete {
        let seeds = read_table(path, &ReadOptions::default())?;
        if seeds.n_rows() == 0 {
            bail!("{}: the seed file has no rows; expected one row per row to complete", path.display());
        }
        let fingerprint =
            manifest::fingerprint_file(path).with_context(|| format!("cannot read {}", path.display()))?;
        info.completed =
            Some(CompletedInfo { path: path.display().to_string(), fingerprint, rows: seeds.n_rows() as u64 });
        control.complete = Some(std::sync::Arc::new(seeds));
    }
    Ok((control, info))
}

fn synth(args: SynthArgs) -> Result<()> {
    let started = Instant::now();
    let requested_rows = args.rows.as_deref().map(parse_rows).transpose()?;
    let threads = threads(args.threads)?;
    let mut inputs: Vec<&Path> = vec![&args.data];
    if let Some(metadata) = &args.read.metadata {
        inputs.push(metadata);
    }
    check_output(&args.output, &inputs, &args.common)?;
    if let Some(path) = &args.save_model {
        check_output(path, &inputs, &args.common)?;
    }
    let mut options = fit_options(&args.settings, args.seed)?;
    let loaded = load(&args.data, &args.read)?;
    resolve_engine(&args.settings, &mut options, loaded.table.n_rows());
    check_keep_rare(&options, &loaded.metadata)?;
    let fitting = Instant::now();
    let model = fit_model(&loaded, &options, args.common.quiet)?;
    let fit_seconds = fitting.elapsed().as_secs_f64();
    print_warnings(&model.fit.warnings, args.common.quiet);
    let model_json = model.to_json();
    let model_path: Option<PathBuf> = args.save_model.clone();
    if let Some(path) = &model_path {
        write_text_atomically(path, &model_json, args.common.force)?;
    }
    // For `dp` the default is the model's noisy row count: the output must not release the true one.
    let n_rows = requested_rows.unwrap_or(match model.engine() {
        doppel_synth::Engine::Dp => model.fit.training_rows,
        _ => loaded.table.n_rows() as u64,
    });
    let job = SampleJob {
        model: &model,
        model_json: &model_json,
        model_path: model_path.as_deref(),
        training_path: Some(&args.data),
        output: &args.output,
        options: SampleOptions { n_rows, seed: args.seed, shard: None, threads, control: Control::default() },
        control: None,
        force: args.common.force,
        quiet: args.common.quiet,
        command: "synth",
    };
    let timings = Timings { read_seconds: loaded.read_seconds, fit_seconds, ..Timings::default() };
    run_sample(job, timings, started)
}
