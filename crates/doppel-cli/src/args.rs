//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// doppel: synthetic data that keeps the patterns of real data and none of its people.
#[derive(Debug, Parser)]
#[command(
    name = "doppel",
    version,
    about = "doppel: synthetic data that keeps the patterns of real data and none of its people",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "\
Examples:
  Fit a model and sample as many rows as the input has:
    doppel synth examples/cps1988.csv -o synthetic.csv
  Detect column types and save them as editable metadata:
    doppel inspect data.csv --output data.meta.json
  Fit with edited metadata, then sample 1 M rows on 2 threads:
    doppel fit data.csv -o model.doppel --metadata data.meta.json
    doppel sample model.doppel -n 1000000 -o synthetic.parquet --seed 7 --threads 2
  Sample the first of 4 shards of the same stream (on another machine, say):
    doppel sample model.doppel -n 1000000 -o part0.parquet --seed 7 --shard 0/4";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Detect each column's type and print a summary; optionally write editable metadata
    #[command(after_help = "Example:\n  doppel inspect data.csv --output data.meta.json")]
    Inspect(InspectArgs),
    /// Fit a model on a table and write it to a model file
    #[command(after_help = "Example:\n  doppel fit data.csv -o model.doppel --engine copula --seed 1")]
    Fit(FitArgs),
    /// Sample rows from a model file
    #[command(
        after_help = "Examples:\n  doppel sample model.doppel -n 10000 -o synthetic.csv --seed 1\n  doppel sample model.doppel -n 10000000 -o synthetic.parquet --threads 2\n  doppel sample model.doppel -n 10000 -o part1.csv --seed 1 --shard 1/4\n  doppel sample model.doppel -n 5000 -o seniors.csv --where region=south --where \"age>=65\"\n  doppel sample model.doppel -n 10000 -o balanced.csv --rebalance churn=yes:0.5\n  doppel sample model.doppel -n 10000 -o fair.csv --fair sex --target income=high\n  doppel sample model.doppel -o completed.csv --complete partial-rows.csv"
    )]
    Sample(SampleArgs),
    /// Fit and sample in one go (the main job)
    #[command(
        after_help = "Examples:\n  doppel synth data.csv -o synthetic.csv\n  doppel synth data.parquet -n 50000 -o synthetic.parquet --seed 3"
    )]
    Synth(SynthArgs),
    /// Generate fine-tuning dialogues: two role-played LLM agents talk, following a spec file
    #[command(after_help = crate::chat::CHAT_HELP)]
    Chat(crate::chat::ChatArgs),
    /// Score generated dialogues with the spec's judge (on topic, in role, no AI talk, coherent)
    #[command(name = "chat-judge", after_help = crate::chat::CHAT_JUDGE_HELP)]
    ChatJudge(crate::chat::ChatJudgeArgs),
    /// Judge synthetic data against the real data: fidelity, utility, detectability, privacy
    #[command(after_help = "Examples:
  doppel evaluate --real train.csv --synthetic synthetic.csv --holdout holdout.csv --target churn \\
      --output report.json --html report.html
  doppel evaluate --real train.csv --synthetic synthetic.csv --fail-under quality=0.85,detection=0.6

--fail-under keys (each a figure where higher is better; exit status 1 when one falls short):
  quality, quality_all_pairs, column_shapes, column_pair_trends, column_pair_trends_all_pairs,
  accuracy, tstr, utility (TSTR/TRTR), detection (1 = indistinguishable),
  privacy (2*(1 - DCR share), capped at 1), membership (2*(1 - attack AUC), capped at 1),
  exact_copies (1 - exact-copy rate)")]
    Evaluate(EvaluateArgs),
    /// Render an evaluation JSON (from `doppel evaluate --output`) as an HTML report
    #[command(after_help = "Example:\n  doppel report report.json -o report.html")]
    Report(ReportArgs),
    /// Diversity, near-duplicates and coverage of generated dialogues (optionally against real ones)
    #[command(
        after_help = "Examples:\n  doppel chat-report dialogues.jsonl --spec bank.toml --html report.html\n  doppel chat-report dialogues.jsonl --reference real.jsonl --output report.json"
    )]
    ChatReport(ChatReportArgs),
    /// Mix real and synthetic dialogues into a training set with a fixed share of real ones
    #[command(
        after_help = "Example:\n  doppel mix --real real.jsonl --synthetic dialogues.jsonl --ratio 0.3 -o train.jsonl --dedupe"
    )]
    Mix(MixArgs),
    /// Replace the personal data of a table and keep everything else: consistent fake values,
    /// fresh keys, redacted free text, or keyed pseudonyms
    #[command(
        after_help = "Examples:\n  doppel anonymize customers.csv -o customers.anon.csv\n  DOPPEL_SECRET=... doppel anonymize customers.csv -o out.parquet --pseudonymize email --secret-env DOPPEL_SECRET"
    )]
    Anonymize(AnonymizeArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EngineArg {
    /// `tree`, or `copula` for tables under 500 rows (`inspect` says which and why)
    Auto,
    /// Sequential decision trees over discretised columns: the high-fidelity engine
    Tree,
    /// Gaussian copula with empirical marginals: fast and statistical, pairwise relations only
    Copula,
    /// Differentially private: noisy marginals on a tree of column pairs (MST family); needs
    /// `--epsilon`
    Dp,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Comma-separated tokens read as missing values in CSV and JSON Lines (an empty field is
    /// always missing)
    #[arg(long, value_name = "TOKENS", default_value = "NA,NaN,null,N/A,NULL")]
    pub null_values: String,
    /// The CSV delimiter (detected when not given)
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<char>,
    /// An edited metadata file (from `doppel inspect --output`) to use instead of detection
    #[arg(long, value_name = "FILE")]
    pub metadata: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Print nothing but errors
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Overwrite output files that already exist
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct FitSettingsArgs {
    /// The engine
    #[arg(long, value_enum, default_value = "auto")]
    pub engine: EngineArg,
    /// A time budget for fitting: the `tree` engine fits its remaining columns on a row sample
    /// sized to the time left once it would run over (a warning says so)
    #[arg(long, value_name = "SECONDS")]
    pub max_fit_seconds: Option<f64>,
    /// The privacy budget ε of `--engine dp` (smaller is more private; 1 is strong, 10 weak):
    /// every step that reads the data, preprocessing included, is charged to it
    #[arg(long, value_name = "EPSILON", allow_negative_numbers = true)]
    pub epsilon: Option<f64>,
    /// The δ of `--engine dp`: the chance that the ε bound fails; keep it far below 1 / rows
    /// [default: 1e-6]
    #[arg(long, value_name = "DELTA", allow_negative_numbers = true)]
    pub delta: Option<f64>,
    /// Categories (and numeric points) held by fewer training rows than this are left out of
    /// the model, so that rare values cannot be reproduced
    #[arg(long, value_name = "ROWS", default_value_t = 5)]
    pub min_category_count: usize,
    /// Exempt a column from rare-value protection (every value seen is kept, and recorded in
    /// the model and manifests as your decision); repeat for several columns
    #[arg(long, value_name = "COLUMN")]
    pub keep_rare: Vec<String>,
    /// The locale of fake names (and of emails made from them) in personal-data columns: en,
    /// de_DE, fr_FR, it_IT, nl_NL, pt_BR, pt_PT, tr_TR, cy_GB, ja_JP, zh_CN, zh_TW, ar_SA, fa_IR
    #[arg(long, value_name = "LOCALE", default_value = "en")]
    pub locale: String,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The table: .csv, .tsv, .parquet, .arrow/.feather or .jsonl
    pub data: PathBuf,
    /// Write the detected (or given) metadata to this JSON file
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Look for rules the data always follows (ordered columns, columns that determine others,
    /// sums and products, non-negative and unique columns) and suggest them as constraints;
    /// with `--output` they are written into the metadata's `constraints`, to edit
    #[arg(long)]
    pub suggest_constraints: bool,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct FitArgs {
    /// The training table
    pub data: PathBuf,
    /// Where to write the model file
    #[arg(long, short = 'o', value_name = "MODEL")]
    pub output: PathBuf,
    #[command(flatten)]
    pub settings: FitSettingsArgs,
    /// The seed recorded in the model (the default seed of `sample`)
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The model file
    pub model: PathBuf,
    /// How many rows (in all shards together; with `--complete`, as many as there are seed rows)
    #[arg(long, short = 'n', value_name = "ROWS", allow_hyphen_values = true, required_unless_present = "complete")]
    pub rows: Option<String>,
    /// Where to write the rows: .csv, .tsv, .parquet, .jsonl, or - for CSV on standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// The seed (default: the one recorded in the model)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (the output does not depend on it)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Produce only part I of K (0-based) of the seeded stream; the K parts concatenated equal
    /// the unsharded output
    #[arg(long, value_name = "I/K")]
    pub shard: Option<String>,
    /// Only rows that meet a condition, drawn from the model's conditional distribution:
    /// `COL=VALUE`, `COL=A|B`, `COL!=VALUE`, `COL>=X`, `COL>X`, `COL<=X`, `COL<X` (numbers or
    /// dates); `COL=` is missing. Repeat to combine (and)
    #[arg(long = "where", alias = "condition", value_name = "CONDITION")]
    pub conditions: Vec<String>,
    /// Complete partial rows: one output row per row of this table (.csv, .parquet, ...), keeping
    /// its non-empty cells and drawing the rest
    #[arg(long, value_name = "SEEDS")]
    pub complete: Option<PathBuf>,
    /// Set a categorical column's distribution, the other columns following it:
    /// `COL=VALUE:SHARE[,VALUE:SHARE...]` (the rest keep their proportions) or `COL=uniform`
    #[arg(long, value_name = "SPEC")]
    pub rebalance: Vec<String>,
    /// Multiply a value's share: `COL=VALUE:FACTORx`, for example `fraud=true:10x`
    #[arg(long, value_name = "SPEC")]
    pub oversample: Vec<String>,
    /// Statistical parity: every group of this categorical column gets the same distribution of
    /// `--target`, the overall one
    #[arg(long, value_name = "COLUMN", requires = "target")]
    pub fair: Option<String>,
    /// The outcome for `--fair`: a categorical column, or a condition such as `wage>=600`
    #[arg(long, value_name = "OUTCOME", requires = "fair")]
    pub target: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// The training table
    pub data: PathBuf,
    /// How many rows (default: as many as the input has)
    #[arg(long, short = 'n', value_name = "ROWS", allow_hyphen_values = true)]
    pub rows: Option<String>,
    /// Where to write the rows: .csv, .tsv, .parquet, .jsonl, or - for CSV on standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub settings: FitSettingsArgs,
    /// The seed
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (the output does not depend on it)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Also write the fitted model to this file
    #[arg(long, value_name = "MODEL")]
    pub save_model: Option<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The real (training) data the synthetic data was made from
    #[arg(long, value_name = "FILE")]
    pub real: PathBuf,
    /// The synthetic data
    #[arg(long, value_name = "FILE")]
    pub synthetic: PathBuf,
    /// Real rows kept out of training: enables utility, the DCR share and membership inference
    #[arg(long, value_name = "FILE")]
    pub holdout: Option<PathBuf>,
    /// The column to predict for ML utility (train on synthetic, test on real)
    #[arg(long, value_name = "COLUMN")]
    pub target: Option<String>,
    /// Repeat fidelity and privacy per value of this categorical column
    #[arg(long, value_name = "COLUMN")]
    pub by: Option<String>,
    /// A column an attacker tries to infer from the others (repeatable)
    #[arg(long, value_name = "COLUMN")]
    pub sensitive: Vec<String>,
    /// Statistical parity: the rate of an outcome in each group, real and synthetic, and the
    /// largest gap between groups: `GROUP:OUTCOME`, for example `sex:income=high` or
    /// `ethnicity:wage>=600`
    #[arg(long, value_name = "GROUP:OUTCOME")]
    pub parity: Option<String>,
    /// Write the evaluation as JSON to this file (- for standard output)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the HTML report to this file
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Minimum scores, e.g. quality=0.9,detection=0.5; exit status 1 when one falls short
    #[arg(long, value_name = "KEY=MIN,...")]
    pub fail_under: Option<String>,
    /// At most this many rows per table in the distance-based privacy metrics
    #[arg(long, value_name = "ROWS", default_value_t = 5_000)]
    pub privacy_rows: usize,
    /// At most this many rows of each kind in the detection classifier
    #[arg(long, value_name = "ROWS", default_value_t = 10_000)]
    pub detection_rows: usize,
    /// Cross-validation folds of the detection classifier
    #[arg(long, value_name = "K", default_value_t = 5)]
    pub detection_folds: usize,
    /// Seed of subsamples and cross-validation folds
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Refuse inputs whose estimated size in memory exceeds this (e.g. 8GB; default: the
    /// memory available)
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Worker threads (the results do not depend on it)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The evaluation JSON
    pub evaluation: PathBuf,
    /// Where to write the HTML report
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// A minijinja template to use instead of the built-in one
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ChatReportArgs {
    /// The dialogues: JSON Lines in the chat format or ShareGPT
    pub dialogues: PathBuf,
    /// The chat spec the dialogues came from: its scenario weights are the requested shares
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// Real dialogues to compare with (the model-collapse check)
    #[arg(long, value_name = "FILE")]
    pub reference: Option<PathBuf>,
    /// Write the report as JSON to this file (- for standard output)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the HTML report to this file
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Dialogues whose word 5-shingle sets have at least this Jaccard similarity are near-duplicates
    #[arg(long, value_name = "SIMILARITY", default_value_t = 0.8)]
    pub near_duplicate_threshold: f64,
    /// Seed of the pair sample behind the self-similarity
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct MixArgs {
    /// Real dialogues (JSON Lines: chat format or ShareGPT)
    #[arg(long, value_name = "FILE")]
    pub real: PathBuf,
    /// Synthetic dialogues
    #[arg(long, value_name = "FILE")]
    pub synthetic: PathBuf,
    /// The share of real records in the output, between 0 and 1
    #[arg(long, value_name = "SHARE", allow_hyphen_values = true)]
    pub ratio: f64,
    /// Where to write the mix (JSON Lines, chat format; a manifest goes beside it)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// How many records (default: as many as the inputs allow at that ratio)
    #[arg(short = 'n', long = "records", value_name = "N")]
    pub rows: Option<usize>,
    /// The seed of the sampling and the shuffle
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Remove near-duplicates first (across both inputs; real records are kept over synthetic ones)
    #[arg(long)]
    pub dedupe: bool,
    /// The similarity at which `--dedupe` counts two dialogues as near-duplicates
    #[arg(long, value_name = "SIMILARITY", default_value_t = 0.8)]
    pub near_duplicate_threshold: f64,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct AnonymizeArgs {
    /// The table
    pub data: PathBuf,
    /// Where to write the anonymized table: .csv, .tsv, .parquet, .jsonl
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// Replace this column's values by keyed pseudonyms (HMAC-SHA256 with the secret of
    /// `--secret-env`): the same value and key always give the same pseudonym, across tables and
    /// runs; repeat for several columns
    #[arg(long, value_name = "COLUMN")]
    pub pseudonymize: Vec<String>,
    /// The environment variable that holds the secret key for `--pseudonymize` (never a file or
    /// an argument, so it stays out of shell history)
    #[arg(long, value_name = "VAR")]
    pub secret_env: Option<String>,
    /// The seed of the fake values (the same seed maps a value to the same fake value)
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The locale of fake names (and of emails made from them): en, de_DE, fr_FR, it_IT, nl_NL,
    /// pt_BR, pt_PT, tr_TR, cy_GB, ja_JP, zh_CN, zh_TW, ar_SA, fa_IR
    #[arg(long, value_name = "LOCALE", default_value = "en")]
    pub locale: String,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}
