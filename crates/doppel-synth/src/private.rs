//! The `dp` engine: differentially private marginals, in the family of MST (McKenna, Miklau and
//! Sheldon, the NIST 2018 winner), PrivBayes and AIM.
//!
//! Every step that reads the data is a noisy measurement charged to one privacy ledger, the
//! preprocessing included:
//!
//! 1. **Domains.** A categorical column's categories are released by a thresholded Gaussian
//!    histogram: a category appears in the model only when its noisy count clears a threshold
//!    that a single row clears with probability below its share of δ. Booleans have a public
//!    domain. A numeric column (numbers, dates, datetimes) first gets noisy counts per octave
//!    (sign and power of two), which bound its range without reading any value; then a noisy
//!    histogram of fine cells inside those bounds gives its marginal (a piecewise-linear CDF) and
//!    the quantile bins that the model works on.
//! 2. **One-way marginals** of every column's codes (bins or categories, plus "missing" and, for
//!    categories, "other"), with Gaussian noise.
//! 3. **Small domains: the whole joint distribution** (module `joint`). When the product of the
//!    columns' code counts is small enough to enumerate, rounds in the manner of AIM (McKenna et
//!    al. 2022) each choose a two- or three-way marginal by the exponential mechanism (score: its
//!    L1 error under the current estimate, minus the L1 error its own measurement noise would
//!    carry), measure it with Gaussian noise, and refit a dense distribution to all measurements
//!    so far by Private-PGM's estimator (mirror descent on the inverse-variance weighted squared
//!    error). The model stores the result as a log-linear model, one log-potential per
//!    measurement; sampling draws whole rows from it.
//! 4. **Larger domains: a Bayesian network, one family at a time.** A network is grown from the
//!    pair chosen first: each round picks a column not yet in the network and its parents among
//!    those that are (one parent, or a parent and that parent's own first parent) by the
//!    exponential mechanism (Gumbel noise). A family's score is the L1 distance between its true
//!    counts and the current model's estimate; a second parent also pays the L1 error its extra
//!    cells' noise would carry (AIM's penalty), so three-way families are chosen only when worth
//!    their noise. The chosen family's joint counts are measured with Gaussian noise, then made
//!    consistent (projection onto the simplex, inverse-variance weighting of the one-way
//!    estimates, iterative proportional fitting of each family to the model's distribution of its
//!    parents and to the column's own marginal), which is post-processing and costs nothing.
//!    Sampling follows the network: each column is drawn given its parents.
//!
//! Either way the codes are then decoded by the same transforms as the other engines use, which
//! restore formats and rounding.
//!
//! Accounting is in zero-concentrated DP (ρ-zCDP, Bun and Steinke): the user's (ε, δ) becomes a
//! ρ by the tight conversion of Canonne, Kamath and Steinke (2020), with half of δ kept for the
//! thresholded domains when the table has categorical columns. Gaussian noise of scale σ on a
//! histogram where a row adds one count costs ρ = 1 / (2σ²); the exponential mechanism with
//! parameter ε' costs ε'² / 8.
//!
//! Column names, types and formats (the metadata) are treated as public, as every differentially
//! private synthesizer does: give them with `--metadata` to keep them out of the data entirely.
//! Generated columns (identifiers, free text, personal data) take their layout from the data like
//! the other engines, and are replaced by fresh values; they carry no modelled information.

use std::collections::HashMap;

use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use doppel_core::{ColumnKind, Error, Metadata, NumberFormat, Result, SeededRng, Storage, Table, Warning};
use doppel_transform::cdf::PiecewiseCdf;
use doppel_transform::numeric::{NumericOutput, NumericState};
use doppel_transform::values::{label_values, numeric_values};
use doppel_transform::{CategoricalState, FitSettings, TransformState};

use crate::{FitContext, FitStage, decode_scores};

mod discrete;
mod joint;
pub use joint::{Factor, Joint};

/// The default δ of `--engine dp`.
pub const DEFAULT_DELTA: f64 = 1e-6;

/// The privacy budget and settings of the `dp` engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacySettings {
    /// The ε of (ε, δ)-differential privacy: smaller is more private.
    pub epsilon: f64,
    /// The δ of (ε, δ)-differential privacy: the chance that the ε bound fails; keep it far
    /// below 1 / rows.
    pub delta: f64,
    /// The most bins of a numeric column in the model (fewer are used when the noise is large).
    #[serde(default = "default_max_bins")]
    pub max_bins: usize,
    /// For tests only: draws the noise from this seed instead of the operating system's entropy.
    /// The seed is written into the model, so anyone with the file could remove the noise: a model
    /// fitted so has no privacy guarantee, and its ledger says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_noise_seed: Option<u64>,
}

/// Sixteen bins keep a numeric column's shape (decoded through its fine CDF) while leaving room
/// for three-way families: at 32 bins a family of three numeric columns has 32 768 cells, too
/// many to measure at any ε tried (cps1988's TSTR/TRTR at ε = 10 went from 0.92 to 0.94).
fn default_max_bins() -> usize {
    16
}

impl PrivacySettings {
    /// ε and δ with the default settings.
    pub fn new(epsilon: f64, delta: f64) -> Self {
        PrivacySettings { epsilon, delta, max_bins: default_max_bins(), insecure_noise_seed: None }
    }

    /// Checks the budget: ε > 0 and finite, 0 < δ < 1.
    pub fn check(&self) -> Result<()> {
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return Err(Error::InvalidConfig(format!(
                "`--epsilon {}`: expected a privacy budget ε greater than 0, for example 1.0 (smaller is more private; 0 would allow no measurement at all)",
                self.epsilon
            )));
        }
        if !(self.delta.is_finite() && self.delta > 0.0 && self.delta < 1.0) {
            return Err(Error::InvalidConfig(format!(
                "`--delta {}`: expected 0 < δ < 1, and far below 1 / rows (the default is {DEFAULT_DELTA}); δ is the chance that the ε bound fails",
                self.delta
            )));
        }
        if !(2..=256).contains(&self.max_bins) {
            return Err(Error::InvalidConfig(format!("dp engine: `max_bins` is {}; expected 2 to 256", self.max_bins)));
        }
        Ok(())
    }
}

/// One noisy measurement (or one release step) charged to the budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// What was measured: `domain`, `bounds`, `marginal`, `one_way`, `selection`, `two_way`.
    pub step: String,
    /// The columns it reads.
    pub columns: Vec<String>,
    /// The mechanism: `discrete_gaussian`, `thresholded_discrete_gaussian` or `exponential`.
    pub mechanism: String,
    /// The noise scale: σ of the Gaussian, or the ε' of the exponential mechanism.
    pub noise: f64,
    /// The ρ (zCDP) it costs.
    pub rho: f64,
    /// The δ it costs on top (thresholded releases), 0 otherwise.
    pub delta: f64,
}

/// Every measurement the `dp` engine made, and what the budget allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacyLedger {
    /// The ε asked for.
    pub epsilon: f64,
    /// The δ asked for.
    pub delta: f64,
    /// The zCDP budget ρ that (ε, δ − `delta_thresholds`) allows.
    pub rho: f64,
    /// The part of δ kept for thresholded domain releases.
    pub delta_thresholds: f64,
    /// The ρ spent (at most `rho`).
    pub rho_spent: f64,
    /// The ε that the spent ρ and δ amount to (at most `epsilon`).
    pub epsilon_spent: f64,
    /// The δ spent (at most `delta`).
    pub delta_spent: f64,
    /// Whether the noise came from the operating system's entropy (`false` for models fitted
    /// with a test seed: those have no guarantee).
    pub secure_noise: bool,
    /// What is treated as public and not charged.
    pub public: Vec<String>,
    /// The measurements, in order.
    pub entries: Vec<LedgerEntry>,
}

/// The `dp` engine's configuration.
#[derive(Debug, Clone)]
pub struct PrivateMarginals {
    /// Settings for the generated columns' transforms.
    pub transform: FitSettings,
    /// The budget.
    pub privacy: PrivacySettings,
}

/// How a variable's codes map to values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Codes {
    /// Codes `0..categories` are the released categories (in the transform's order), then
    /// "other" (rows whose category was not released: decoded as a released one, drawn by its
    /// share), then "missing".
    Categories {
        /// How many categories were released.
        categories: usize,
    },
    /// Codes `0..bins` are intervals of the transform's uniform score, then "missing".
    Bins {
        /// The bin edges in score space, from 0 to 1 (`bins + 1` values).
        edges: Vec<f64>,
    },
}

impl Codes {
    fn size(&self) -> usize {
        match self {
            Codes::Categories { categories } => categories + 2,
            Codes::Bins { edges } => edges.len(),
        }
    }

    fn missing_code(&self) -> usize {
        self.size() - 1
    }
}

/// A modelled column of the `dp` engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variable {
    /// The column's index (in the transforms).
    pub column: usize,
    /// Its codes.
    pub codes: Codes,
    /// The variables it is drawn given (positions in the model's order, all before it): none,
    /// one, or a parent and that parent's own first parent.
    pub parents: Vec<usize>,
    /// Cumulative probabilities of the codes, one row of `codes` values per combination of the
    /// parents' codes (the first parent's code is the slowest index), concatenated.
    pub cumulative: Vec<f64>,
}

/// A fitted `dp` model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivateMarginalsModel {
    /// One transform per column, in the table's order.
    pub transforms: Vec<TransformState>,
    /// The modelled columns, in sampling order (every parent before its children).
    pub variables: Vec<Variable>,
    /// What was measured and what it cost.
    pub ledger: PrivacyLedger,
    /// The number of training rows, estimated from the noisy measurements (the true count is not
    /// released).
    pub rows: u64,
    /// On a small domain, the whole joint distribution of the variables' codes; the variables are
    /// then drawn from it together (their `parents` are empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joint: Option<Joint>,
}

// ---- accounting ---------------------------------------------------------------------------------

/// The δ of (ε, δ)-DP that ρ-zCDP gives for `epsilon` (Canonne, Kamath and Steinke 2020,
/// Proposition 12, as MST's reference code computes it).
pub fn zcdp_delta(rho: f64, epsilon: f64) -> f64 {
    if rho <= 0.0 {
        return 0.0;
    }
    let (mut low, mut high) = (1.01_f64, (epsilon + 1.0) / (2.0 * rho) + 2.0);
    let mut alpha = low;
    for _ in 0..1000 {
        alpha = (low + high) / 2.0;
        let derivative = (2.0 * alpha - 1.0) * rho - epsilon + (-1.0 / alpha).ln_1p();
        if derivative < 0.0 {
            low = alpha;
        } else {
            high = alpha;
        }
    }
    let delta = ((alpha - 1.0) * (alpha * rho - epsilon) + alpha * (-1.0 / alpha).ln_1p()).exp() / (alpha - 1.0);
    delta.min(1.0)
}

/// The largest ρ whose zCDP guarantee gives (ε, δ)-DP.
pub fn zcdp_rho(epsilon: f64, delta: f64) -> f64 {
    let (mut low, mut high) = (0.0_f64, epsilon + 1.0);
    for _ in 0..1000 {
        let rho = (low + high) / 2.0;
        if zcdp_delta(rho, epsilon) <= delta {
            low = rho;
        } else {
            high = rho;
        }
    }
    low
}

/// The smallest ε with (ε, δ)-DP under ρ-zCDP.
pub fn zcdp_epsilon(rho: f64, delta: f64) -> f64 {
    if rho <= 0.0 {
        return 0.0;
    }
    let (mut low, mut high) = (0.0_f64, rho + 2.0 * (rho * (1.0 / delta).ln()).sqrt() + 1.0);
    for _ in 0..200 {
        let epsilon = (low + high) / 2.0;
        if zcdp_delta(rho, epsilon) <= delta {
            high = epsilon;
        } else {
            low = epsilon;
        }
    }
    high
}

/// The scale of Gaussian noise on counts (sensitivity 1) that costs `rho` in zCDP.
fn sigma_for(rho: f64) -> f64 {
    (1.0 / (2.0 * rho)).sqrt()
}

/// Draws the noise and keeps the books.
struct Noise {
    rng: SeededRng,
    ledger: Vec<LedgerEntry>,
}

impl Noise {
    /// Noise for a count: the discrete Gaussian with variance parameter σ² (rounded up to a
    /// multiple of 1/1024), sampled exactly.
    fn gaussian(&mut self, sigma: f64) -> f64 {
        discrete::sample(&mut self.rng, sigma) as f64
    }

    /// Adds discrete Gaussian noise of scale σ = √(1/2ρ) to every count and records the
    /// measurement.
    fn measure(&mut self, step: &str, columns: &[&str], counts: &[f64], rho: f64) -> (Vec<f64>, f64) {
        let sigma = sigma_for(rho);
        let noisy = counts.iter().map(|c| c + self.gaussian(sigma)).collect();
        self.record(step, columns, "discrete_gaussian", discrete::variance(sigma).sqrt(), rho, 0.0);
        (noisy, sigma)
    }

    fn record(&mut self, step: &str, columns: &[&str], mechanism: &str, noise: f64, rho: f64, delta: f64) {
        self.ledger.push(LedgerEntry {
            step: step.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            mechanism: mechanism.into(),
            noise,
            rho,
            delta,
        });
    }

    fn gumbel(&mut self) -> f64 {
        let u: f64 = self.rng.random::<f64>().clamp(1e-300, 1.0 - 1e-16);
        -(-u.ln()).ln()
    }

    /// The exponential mechanism with parameter ε and sensitivity 1: candidate `i` is chosen
    /// with probability proportional to `exp(ε · scores[i] / 2)`, by the Gumbel-max trick.
    fn choose(&mut self, scores: &[f64], epsilon: f64) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for (i, score) in scores.iter().enumerate() {
            let key = epsilon * score / 2.0 + self.gumbel();
            if best.is_none_or(|(_, k)| key > k) {
                best = Some((i, key));
            }
        }
        best.map(|(i, _)| i)
    }
}

/// The threshold a noisy count (discrete Gaussian noise of scale σ) must clear for its category
/// to be released, so that a category held by one row is released with probability at most
/// `delta`: 1 + the smallest k with P(noise ≥ k) ≤ δ.
fn release_threshold(sigma: f64, delta: f64) -> f64 {
    let mut k = ((sigma * crate::normal::inverse_cdf(1.0 - delta)).floor() as i64 - 2).max(0);
    while discrete::upper_tail(sigma, k) > delta {
        k += 1;
    }
    1.0 + k as f64
}

fn secure_seed() -> Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| {
        Error::InvalidConfig(format!("dp engine: cannot read the operating system's random numbers for the noise: {e}"))
    })?;
    Ok(seed)
}

// ---- consistency (post-processing) --------------------------------------------------------------

/// The Euclidean projection of `v` onto `{x >= 0, sum x = total}` (Duchi et al. 2008).
fn project_simplex(v: &[f64], total: f64) -> Vec<f64> {
    if v.is_empty() {
        return Vec::new();
    }
    let mut sorted: Vec<f64> = v.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut running = 0.0;
    let mut theta = 0.0;
    for (i, x) in sorted.iter().enumerate() {
        running += x;
        let candidate = (running - total) / (i + 1) as f64;
        if x - candidate > 0.0 {
            theta = candidate;
        }
    }
    v.iter().map(|x| (x - theta).max(0.0)).collect()
}

/// Fits a `rows × cols` table to the given margins by iterative proportional fitting; rows or
/// columns with no mass where the margin wants some are filled with the product of the margins.
fn fit_margins(table: &mut [f64], rows: usize, cols: usize, row_margin: &[f64], col_margin: &[f64]) {
    let total: f64 = row_margin.iter().sum();
    let floor = 1e-9 * total.max(1.0) / (rows * cols) as f64;
    for i in 0..rows {
        for j in 0..cols {
            if row_margin[i] > 0.0 && col_margin[j] > 0.0 {
                table[i * cols + j] += floor;
            } else {
                table[i * cols + j] = 0.0;
            }
        }
    }
    for _ in 0..100 {
        let mut change: f64 = 0.0;
        for i in 0..rows {
            let sum: f64 = table[i * cols..(i + 1) * cols].iter().sum();
            if sum > 0.0 {
                let factor = row_margin[i] / sum;
                change = change.max((factor - 1.0).abs());
                table[i * cols..(i + 1) * cols].iter_mut().for_each(|x| *x *= factor);
            }
        }
        for j in 0..cols {
            let sum: f64 = (0..rows).map(|i| table[i * cols + j]).sum();
            if sum > 0.0 {
                let factor = col_margin[j] / sum;
                change = change.max((factor - 1.0).abs());
                (0..rows).for_each(|i| table[i * cols + j] *= factor);
            }
        }
        if change < 1e-9 {
            break;
        }
    }
}

fn cumulative_of(weights: &[f64]) -> Vec<f64> {
    let total: f64 = weights.iter().sum();
    let mut running = 0.0;
    let mut out: Vec<f64> = weights
        .iter()
        .map(|w| {
            running += w;
            if total > 0.0 { running / total } else { 0.0 }
        })
        .collect();
    if total <= 0.0 {
        // No mass: uniform (never drawn in practice).
        let k = out.len() as f64;
        out.iter_mut().enumerate().for_each(|(i, c)| *c = (i + 1) as f64 / k);
    }
    if let Some(last) = out.last_mut() {
        *last = 1.0;
    }
    out
}

fn draw_code(cumulative: &[f64], u: f64) -> usize {
    cumulative.partition_point(|&c| c <= u).min(cumulative.len() - 1)
}

// ---- numeric columns ------------------------------------------------------------------------------

const LOW_OCTAVE: i32 = -30;
const HIGH_OCTAVE: i32 = 62;
const N_OCTAVES: usize = (HIGH_OCTAVE - LOW_OCTAVE + 1) as usize;

/// The octave bucket of a value: negative octaves (most negative first), zero, positive octaves.
fn octave_bucket(x: f64) -> usize {
    if x == 0.0 {
        return N_OCTAVES;
    }
    let k = (x.abs().log2().floor() as i32).clamp(LOW_OCTAVE, HIGH_OCTAVE);
    if x < 0.0 { (HIGH_OCTAVE - k) as usize } else { N_OCTAVES + 1 + (k - LOW_OCTAVE) as usize }
}

/// The interval `[low, high]` a bucket covers.
fn octave_range(bucket: usize) -> (f64, f64) {
    if bucket == N_OCTAVES {
        return (0.0, 0.0);
    }
    if bucket < N_OCTAVES {
        let k = HIGH_OCTAVE - bucket as i32;
        (-(2f64.powi(k + 1)), -(2f64.powi(k)))
    } else {
        let k = LOW_OCTAVE + (bucket - N_OCTAVES - 1) as i32;
        (2f64.powi(k), 2f64.powi(k + 1))
    }
}

/// Fine cells `[low, high]` in increasing order; `low == high` is an atom (zero).
fn fine_cells(buckets: &[(usize, f64)], n_cells: usize, unit: Option<f64>) -> Vec<(f64, f64)> {
    let mass: f64 = buckets.iter().map(|(_, m)| m.max(0.0)).sum::<f64>().max(1e-12);
    let mut cells = Vec::new();
    for &(bucket, m) in buckets {
        let (low, high) = octave_range(bucket);
        if low == high {
            cells.push((low, high));
            continue;
        }
        let wanted = ((n_cells as f64 * m.max(0.0) / mass).round() as usize).max(1);
        match unit {
            Some(unit) => {
                // Whole multiples of `unit` in the bucket, cells with edges halfway between them.
                let (first, last) = if low < 0.0 {
                    ((low / unit).ceil() + if (low / unit).fract() == 0.0 { 1.0 } else { 0.0 }, (high / unit).floor())
                } else {
                    ((low / unit).ceil(), (high / unit).ceil() - 1.0)
                };
                if last < first {
                    continue;
                }
                let count = last - first + 1.0;
                let per_cell = (count / wanted as f64).ceil().max(1.0);
                let mut start = first;
                while start <= last {
                    let end = (start + per_cell - 1.0).min(last);
                    cells.push(((start - 0.5) * unit, (end + 0.5) * unit));
                    start = end + 1.0;
                }
            }
            None => {
                for i in 0..wanted {
                    let a = low + (high - low) * i as f64 / wanted as f64;
                    let b = low + (high - low) * (i + 1) as f64 / wanted as f64;
                    cells.push((a, b));
                }
            }
        }
    }
    cells
}

fn cell_of(cells: &[(f64, f64)], x: f64) -> usize {
    // First cell whose upper end is not below x.
    cells.partition_point(|&(_, high)| high < x).min(cells.len() - 1)
}

/// The numbers a column's values are whole multiples of, from the metadata alone.
fn unit_of(kind: &ColumnKind) -> Option<f64> {
    match kind {
        ColumnKind::Numerical { integer: true, format } => Some(format.step.max(1) as f64),
        ColumnKind::Date { .. } => Some(1.0),
        _ => None,
    }
}

fn numeric_output(kind: &ColumnKind) -> NumericOutput {
    match kind {
        ColumnKind::Numerical { integer: true, format } => NumericOutput::Integer { step: format.step.max(1) },
        ColumnKind::Numerical { format, .. } => NumericOutput::Float { format: format.clone() },
        ColumnKind::Date { pattern, storage } => NumericOutput::Date { pattern: pattern.clone(), storage: *storage },
        ColumnKind::Datetime { pattern, offset_seconds, .. } => {
            // The granularity comes from the pattern, not from the values.
            let step_micros = if pattern.contains("%f") || pattern.contains("%.f") {
                1
            } else if pattern.contains("%S") || pattern.contains("%T") || pattern.contains("%s") {
                1_000_000
            } else if pattern.contains("%M") || pattern.contains("%R") {
                60_000_000
            } else if pattern.contains("%H") || pattern.contains("%I") {
                3_600_000_000
            } else {
                86_400_000_000
            };
            NumericOutput::Datetime { pattern: pattern.clone(), offset_seconds: *offset_seconds, step_micros }
        }
        _ => NumericOutput::Float { format: NumberFormat::default() },
    }
}

/// A numeric column after preprocessing: its fine cells and CDF, and the code of every row.
struct NumericPrep {
    cdf: PiecewiseCdf,
    edges: Vec<f64>,
    codes: Vec<u32>,
}

// ---- fitting ------------------------------------------------------------------------------------

enum Prepared {
    Categorical { labels: Vec<String>, codes: Vec<u32> },
    Boolean { codes: Vec<u32> },
    Numeric(Option<NumericPrep>),
}

impl PrivateMarginals {
    /// Fits the engine on a table whose columns match `metadata`.
    pub fn fit(&self, table: &Table, metadata: &Metadata, context: &mut FitContext) -> Result<PrivateMarginalsModel> {
        let privacy = &self.privacy;
        privacy.check()?;
        let n_rows = table.n_rows();
        let seed = match privacy.insecure_noise_seed {
            Some(seed) => {
                let mut bytes = [0u8; 32];
                bytes[..8].copy_from_slice(&seed.to_le_bytes());
                bytes
            }
            None => secure_seed()?,
        };
        let mut noise = Noise { rng: SeededRng::from_seed(seed), ledger: Vec::new() };

        let kinds: Vec<&ColumnKind> = metadata.columns.iter().map(|c| &c.kind).collect();
        let is_categorical = |k: &ColumnKind| matches!(k, ColumnKind::Categorical { .. });
        let is_numeric = |k: &ColumnKind| {
            matches!(k, ColumnKind::Numerical { .. } | ColumnKind::Date { .. } | ColumnKind::Datetime { .. })
        };
        let n_categorical = kinds.iter().filter(|k| is_categorical(k)).count();
        let n_numeric = kinds.iter().filter(|k| is_numeric(k)).count();
        let n_modelled =
            n_categorical + n_numeric + kinds.iter().filter(|k| matches!(k, ColumnKind::Boolean { .. })).count();

        // The budget: half of δ for the thresholded domains (when there are any), ρ from the rest.
        let delta_thresholds = if n_categorical > 0 { privacy.delta / 2.0 } else { 0.0 };
        let rho = zcdp_rho(privacy.epsilon, privacy.delta - delta_thresholds);
        let n_pre = n_categorical + 2 * n_numeric;
        let share_pre = if n_pre > 0 { 0.1 } else { 0.0 };
        let share_select = if n_modelled >= 3 { 0.1 } else { 0.0 };
        let share_one = 0.2;
        let rho_pre = rho * share_pre / n_pre.max(1) as f64;
        let mut rho_spent = 0.0;

        // 1. Preprocessing: domains and bounds.
        let mut transforms: Vec<TransformState> = Vec::with_capacity(kinds.len());
        let mut prepared: Vec<Option<Prepared>> = Vec::with_capacity(kinds.len());
        for (index, meta) in metadata.columns.iter().enumerate() {
            context.report(FitStage::Transforms, index, kinds.len());
            let column = table.column(&meta.name)?;
            let name = meta.name.as_str();
            match &meta.kind {
                ColumnKind::Categorical { .. } | ColumnKind::Boolean { .. } => {
                    let labels = label_values(name, &column.data, &meta.kind)?;
                    if let ColumnKind::Boolean { .. } = meta.kind {
                        let codes = labels
                            .iter()
                            .map(|l| match l.as_deref() {
                                Some("true") => 0,
                                Some(_) => 1,
                                None => 3,
                            })
                            .collect();
                        prepared.push(Some(Prepared::Boolean { codes }));
                        transforms.push(TransformState::Categorical(placeholder_categorical(
                            meta,
                            vec!["true".into(), "false".into()],
                        )));
                        continue;
                    }
                    let mut counts: HashMap<&str, f64> = HashMap::new();
                    for label in labels.iter().flatten() {
                        *counts.entry(label.as_ref()).or_default() += 1.0;
                    }
                    let mut entries: Vec<(&str, f64)> = counts.into_iter().collect();
                    entries.sort_by(|a, b| a.0.cmp(b.0)); // noise drawn in a fixed order
                    let sigma = sigma_for(rho_pre);
                    let delta_column = delta_thresholds / n_categorical as f64;
                    let threshold = release_threshold(sigma, delta_column);
                    let mut released: Vec<(&str, f64)> = entries
                        .iter()
                        .map(|&(label, count)| (label, count + noise.gaussian(sigma)))
                        .filter(|&(_, noisy)| noisy >= threshold)
                        .collect();
                    noise.record("domain", &[name], "thresholded_discrete_gaussian", sigma, rho_pre, delta_column);
                    rho_spent += rho_pre;
                    released.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
                    let index: HashMap<&str, u32> =
                        released.iter().enumerate().map(|(i, (label, _))| (*label, i as u32)).collect();
                    let k = released.len() as u32;
                    let codes = labels
                        .iter()
                        .map(|l| match l {
                            Some(label) => index.get(label.as_ref()).copied().unwrap_or(k),
                            None => k + 1,
                        })
                        .collect();
                    let released: Vec<String> = released.into_iter().map(|(l, _)| l.to_string()).collect();
                    transforms.push(TransformState::Categorical(placeholder_categorical(meta, released.clone())));
                    prepared.push(Some(Prepared::Categorical { labels: released, codes }));
                }
                kind if is_numeric(kind) => {
                    let values = numeric_values(name, &column.data, kind)?;
                    let prep = prepare_numeric(name, &values, kind, rho_pre, privacy, &mut noise, context)?;
                    rho_spent += 2.0 * rho_pre;
                    let cdf = prep
                        .as_ref()
                        .map_or(PiecewiseCdf { xs: vec![0.0, 0.0], ps: vec![0.0, 1.0] }, |p| p.cdf.clone());
                    transforms.push(TransformState::Numeric(NumericState {
                        column: name.to_string(),
                        cdf,
                        missing_share: 0.0,
                        output: numeric_output(kind),
                    }));
                    prepared.push(Some(Prepared::Numeric(prep)));
                }
                _ => {
                    // Generated columns: fresh values in the source's layout.
                    transforms.push(TransformState::fit(column, meta, &self.transform, &mut context.warnings)?);
                    prepared.push(None);
                }
            }
        }
        context.report(FitStage::Transforms, kinds.len(), kinds.len());

        // The variables: codes per row and code layouts.
        struct Var<'a> {
            column: usize,
            name: &'a str,
            codes: Codes,
            data: Vec<u32>,
        }
        let mut vars: Vec<Var> = Vec::new();
        for (column, prep) in prepared.into_iter().enumerate() {
            let name = metadata.columns[column].name.as_str();
            match prep {
                Some(Prepared::Categorical { labels, codes }) => {
                    vars.push(Var { column, name, codes: Codes::Categories { categories: labels.len() }, data: codes })
                }
                Some(Prepared::Boolean { codes }) => {
                    vars.push(Var { column, name, codes: Codes::Categories { categories: 2 }, data: codes })
                }
                Some(Prepared::Numeric(Some(prep))) => {
                    vars.push(Var { column, name, codes: Codes::Bins { edges: prep.edges }, data: prep.codes })
                }
                Some(Prepared::Numeric(None)) | None => {}
            }
        }
        let d = vars.len();
        context.report(FitStage::Correlations, 0, 3);

        // 2. One-way marginals.
        let rho_one = rho * share_one / d.max(1) as f64;
        let mut one_way: Vec<Vec<f64>> = Vec::with_capacity(d);
        let mut sigma_one = f64::INFINITY;
        for var in &vars {
            let mut counts = vec![0.0; var.codes.size()];
            var.data.iter().for_each(|&c| counts[c as usize] += 1.0);
            let (noisy, sigma) = noise.measure("one_way", &[var.name], &counts, rho_one);
            sigma_one = sigma;
            rho_spent += rho_one;
            one_way.push(noisy);
        }
        let total = if d > 0 {
            (one_way.iter().map(|v| v.iter().sum::<f64>()).sum::<f64>() / d as f64).max(1.0)
        } else {
            n_rows as f64
        };
        // The row count is not released: the model, its warnings and the manifests carry this
        // noisy estimate.
        let rows = total.round() as u64;
        if privacy.delta >= 1.0 / total {
            context.warnings.push(Warning::table(format!(
                "δ = {} is not below 1 / rows (about {:.1e}): a guarantee this weak could allow a whole row to be released; use a smaller --delta",
                privacy.delta,
                1.0 / total
            )));
        }
        // Shares by the one-way measurements alone.
        let one_way_shares: Vec<Vec<f64>> =
            one_way.iter().map(|v| project_simplex(v, total).iter().map(|x| x / total).collect()).collect();
        context.report(FitStage::Correlations, 1, 3);

        // 3 and 4. On a small domain, the whole joint distribution (AIM's rounds, Private-PGM's
        // estimator; see `joint`); otherwise a Bayesian network. Codes whose noisy one-way count
        // is below 3σ are treated as empty by the joint (post-processing).
        let active: Vec<Vec<u32>> = one_way
            .iter()
            .map(|counts| {
                let kept: Vec<u32> =
                    (0..counts.len()).filter(|&c| counts[c] >= 3.0 * sigma_one).map(|c| c as u32).collect();
                if kept.is_empty() {
                    let best = (0..counts.len()).max_by(|&a, &b| counts[a].total_cmp(&counts[b])).unwrap_or(0);
                    vec![best as u32]
                } else {
                    kept
                }
            })
            .collect();
        let dense_cells = active.iter().try_fold(1usize, |cells, codes| cells.checked_mul(codes.len()));
        let (variables, marginals, joint) = if joint::fits(d, dense_cells) {
            let input = joint::Input {
                names: vars.iter().map(|v| v.name).collect(),
                data: vars.iter().map(|v| v.data.as_slice()).collect(),
                active,
                one_way: &one_way,
                sigma_one,
                total,
                rows: n_rows,
            };
            let (joint, marginals) = joint::fit(&input, (rho - rho_spent).max(0.0), &mut noise, &mut rho_spent);
            context.report(FitStage::Correlations, 3, 3);
            let variables = vars
                .iter()
                .zip(&marginals)
                .map(|(var, marginal)| Variable {
                    column: var.column,
                    codes: var.codes.clone(),
                    parents: Vec::new(),
                    cumulative: cumulative_of(marginal),
                })
                .collect();
            (variables, marginals, Some(joint))
        } else {
            // 3 and 4. A Bayesian network, one family at a time: each round chooses a column not yet
            // placed and its parents among the placed ones (one parent, or a parent and that
            // parent's own first parent) by the exponential mechanism, then measures the family's
            // joint counts with Gaussian noise. A family's score is how far its true counts are from
            // the current model's estimate; a second parent pays for the noise of its extra cells.
            let families = d.saturating_sub(1);
            let rho_round = if families > 0 && share_select > 0.0 { rho * share_select / families as f64 } else { 0.0 };
            let epsilon_round = (8.0 * rho_round).sqrt();
            let rho_family = if families > 0 {
                (rho - rho_spent - rho_round * families as f64).max(0.0) / families as f64
            } else {
                0.0
            };
            let sigma_family = if rho_family > 0.0 { sigma_for(rho_family) } else { f64::INFINITY };
            let noise_l1 = |cells: usize| (2.0 / std::f64::consts::PI).sqrt() * sigma_family * cells as f64;
            struct Placed {
                /// Parents (variable indices); the last is the anchor.
                parents: Vec<usize>,
                /// Shares of (anchor, this) codes, anchor-major; empty for roots.
                joint: Vec<f64>,
                /// Shares of this variable's codes.
                marginal: Vec<f64>,
                /// Cumulative code probabilities, one row per parent-code combination.
                cumulative: Vec<f64>,
            }
            impl Placed {
                fn root(marginal: Vec<f64>) -> Self {
                    Placed { parents: Vec::new(), joint: Vec::new(), cumulative: cumulative_of(&marginal), marginal }
                }
            }
            let mut placed: Vec<Option<Placed>> = (0..d).map(|_| None).collect();
            let mut order: Vec<usize> = Vec::with_capacity(d);
            let sizes: Vec<usize> = vars.iter().map(|v| v.codes.size()).collect();
            let joint_counts = |family: &[usize], v: usize| -> Vec<f64> {
                let cells: usize = family.iter().map(|&f| sizes[f]).product::<usize>() * sizes[v];
                let mut counts = vec![0.0; cells];
                for row in 0..n_rows {
                    let mut index = 0usize;
                    for &f in family {
                        index = index * sizes[f] + vars[f].data[row] as usize;
                    }
                    counts[index * sizes[v] + vars[v].data[row] as usize] += 1.0;
                }
                counts
            };
            const MAX_CELLS: usize = 1 << 18;
            let mut scores: HashMap<(Vec<usize>, usize), f64> = HashMap::new();
            for round in 0..families {
                // Candidates: (family, column).
                let mut candidates: Vec<(Vec<usize>, usize)> = Vec::new();
                if round == 0 {
                    for p in 0..d {
                        for v in p + 1..d {
                            candidates.push((vec![p], v));
                        }
                    }
                } else {
                    for v in (0..d).filter(|&v| placed[v].is_none()) {
                        for &p in &order {
                            candidates.push((vec![p], v));
                            if let Some(&anchor) = placed[p].as_ref().and_then(|x| x.parents.last()) {
                                let cells = sizes[anchor] * sizes[p] * sizes[v];
                                if cells <= MAX_CELLS && noise_l1(cells) < 2.0 * total {
                                    candidates.push((vec![anchor, p], v));
                                }
                            }
                        }
                    }
                }
                let mut values = Vec::with_capacity(candidates.len());
                for (family, v) in &candidates {
                    let key = (family.clone(), *v);
                    if let Some(score) = scores.get(&key) {
                        values.push(*score);
                        continue;
                    }
                    // The model's shares of the family's codes (a root's own measurement in round 0).
                    let family_shares: Vec<f64> = match family.as_slice() {
                        [p] => placed[*p].as_ref().map_or_else(|| one_way_shares[*p].clone(), |x| x.marginal.clone()),
                        [_, p] => placed[*p].as_ref().expect("invariant: placed").joint.clone(),
                        _ => unreachable!("invariant: families of one or two"),
                    };
                    let counts = joint_counts(family, *v);
                    let kv = sizes[*v];
                    let mut error = 0.0;
                    for (f, share) in family_shares.iter().enumerate() {
                        for x in 0..kv {
                            error += (counts[f * kv + x] - total * share * one_way_shares[*v][x]).abs();
                        }
                    }
                    // Every column gets a parent anyway: what a second parent must earn is the noise
                    // of its extra cells.
                    let score = match family.as_slice() {
                        [_, p] => error - (noise_l1(counts.len()) - noise_l1(sizes[*p] * kv)),
                        _ => error,
                    };
                    scores.insert(key, score);
                    values.push(score);
                }
                let chosen = if rho_round > 0.0 {
                    noise.choose(&values, epsilon_round)
                } else {
                    (0..values.len()).max_by(|&a, &b| values[a].total_cmp(&values[b]))
                };
                let Some(chosen) = chosen else { break };
                let (family, v) = candidates[chosen].clone();
                let names: Vec<&str> = family.iter().chain(std::iter::once(&v)).map(|&i| vars[i].name).collect();
                if rho_round > 0.0 {
                    noise.record("selection", &names, "exponential", epsilon_round, rho_round, 0.0);
                    rho_spent += rho_round;
                }
                let step = if family.len() == 1 { "two_way" } else { "three_way" };
                let (measured, _) = noise.measure(step, &names, &joint_counts(&family, v), rho_family);
                rho_spent += rho_family;
                let kv = sizes[v];
                let rows = measured.len() / kv;
                // v's one-way shares from both measurements, weighted by inverse variance.
                let combine = |own: &[f64], other: &[f64], other_cells: usize| -> Vec<f64> {
                    let (w1, w2) =
                        (1.0 / (sigma_one * sigma_one), 1.0 / (other_cells as f64 * sigma_family * sigma_family));
                    let mixed: Vec<f64> = own.iter().zip(other).map(|(a, b)| (w1 * a + w2 * b) / (w1 + w2)).collect();
                    project_simplex(&mixed, total)
                };
                let v_margin: Vec<f64> = (0..kv).map(|x| (0..rows).map(|f| measured[f * kv + x]).sum()).collect();
                let v_counts = combine(&one_way[v], &v_margin, rows);
                let family_counts: Vec<f64> = if round == 0 {
                    let p = family[0];
                    let p_margin: Vec<f64> = (0..rows).map(|f| measured[f * kv..(f + 1) * kv].iter().sum()).collect();
                    let p_counts = combine(&one_way[p], &p_margin, kv);
                    let marginal: Vec<f64> = p_counts.iter().map(|c| c / total).collect();
                    placed[p] = Some(Placed::root(marginal));
                    order.push(p);
                    p_counts
                } else {
                    let shares = match family.as_slice() {
                        [p] => placed[*p].as_ref().expect("invariant: placed").marginal.clone(),
                        [_, p] => placed[*p].as_ref().expect("invariant: placed").joint.clone(),
                        _ => unreachable!("invariant: families of one or two"),
                    };
                    shares.iter().map(|s| s * total).collect()
                };
                let mut table = project_simplex(&measured, total);
                fit_margins(&mut table, rows, kv, &family_counts, &v_counts);
                let mut cumulative = Vec::with_capacity(rows * kv);
                for f in 0..rows {
                    let row = &table[f * kv..(f + 1) * kv];
                    cumulative.extend(if row.iter().sum::<f64>() > 0.0 {
                        cumulative_of(row)
                    } else {
                        cumulative_of(&v_counts)
                    });
                }
                let anchor = *family.last().expect("invariant: a parent");
                let ka = sizes[anchor];
                let mut joint = vec![0.0; ka * kv];
                for f in 0..rows {
                    let a = f % ka; // the anchor is the last (fastest) index of the family
                    for x in 0..kv {
                        joint[a * kv + x] += table[f * kv + x] / total;
                    }
                }
                let marginal: Vec<f64> = (0..kv).map(|x| (0..ka).map(|a| joint[a * kv + x]).sum()).collect();
                placed[v] = Some(Placed { parents: family, joint, marginal, cumulative });
                order.push(v);
            }
            // Columns left without a family (a table of one column): drawn from their one-way shares.
            for v in 0..d {
                if placed[v].is_none() {
                    let marginal = one_way_shares[v].clone();
                    placed[v] = Some(Placed::root(marginal));
                    order.push(v);
                }
            }
            context.report(FitStage::Correlations, 3, 3);
            let position: HashMap<usize, usize> = order.iter().enumerate().map(|(p, v)| (*v, p)).collect();
            let mut marginals: Vec<Vec<f64>> = vec![Vec::new(); d];
            let mut variables = Vec::with_capacity(d);
            for &v in &order {
                let done = placed[v].take().expect("invariant: every variable is placed");
                variables.push(Variable {
                    column: vars[v].column,
                    codes: vars[v].codes.clone(),
                    parents: done.parents.iter().map(|p| position[p]).collect(),
                    cumulative: done.cumulative,
                });
                marginals[v] = done.marginal;
            }
            (variables, marginals, None)
        };

        // The transforms take the estimated marginals: category shares and missing shares.
        for (v, var) in vars.iter().enumerate() {
            let marginal = &marginals[v];
            let mass: f64 = marginal.iter().sum::<f64>().max(1e-12);
            let missing_share = marginal[var.codes.missing_code()] / mass;
            match (&mut transforms[var.column], &var.codes) {
                (TransformState::Numeric(state), _) => state.missing_share = missing_share,
                (TransformState::Categorical(state), Codes::Categories { categories }) => {
                    state.missing_share = missing_share;
                    let present: f64 = marginal[..*categories].iter().sum();
                    state.cumulative = cumulative_of(&marginal[..*categories]);
                    state.protected_share = marginal[*categories] / mass;
                    if state.protected_share > 0.005
                        && !matches!(metadata.columns[var.column].kind, ColumnKind::Boolean { .. })
                    {
                        context.warnings.push(Warning::column(
                            var.name,
                            format!(
                                "about {:.1}% of rows hold categories too rare to release under ε = {}; they are drawn from the released categories",
                                100.0 * state.protected_share,
                                privacy.epsilon
                            ),
                        ));
                    }
                    if present <= 0.0 {
                        state.categories = Vec::<String>::new().into();
                        state.cumulative.clear();
                    }
                }
                _ => {}
            }
        }

        let delta_spent = noise.ledger.iter().map(|e| e.delta).sum::<f64>();
        let gaussian_delta = privacy.delta - delta_thresholds;
        let epsilon_spent = zcdp_epsilon(rho_spent.min(rho), gaussian_delta);
        let ledger = PrivacyLedger {
            epsilon: privacy.epsilon,
            delta: privacy.delta,
            rho,
            delta_thresholds,
            rho_spent,
            epsilon_spent,
            delta_spent: delta_spent + gaussian_delta,
            secure_noise: privacy.insecure_noise_seed.is_none(),
            public: vec![
                "the metadata: column names, types and formats".into(),
                "the layouts of generated columns (identifier, free-text and personal-data columns), which are replaced by fresh values".into(),
            ],
            entries: noise.ledger,
        };
        if !ledger.secure_noise {
            context.warnings.push(Warning::table(
                "the noise was drawn from a test seed recorded in the model: this model has no privacy guarantee",
            ));
        }
        Ok(PrivateMarginalsModel { transforms, variables, ledger, rows, joint })
    }
}

/// A categorical transform with the released categories and the column's storage; its shares are
/// set once the marginals are estimated.
fn placeholder_categorical(meta: &doppel_core::ColumnMeta, categories: Vec<String>) -> CategoricalState {
    let (storage, boolean_tokens) = match &meta.kind {
        ColumnKind::Categorical { storage } => (*storage, None),
        ColumnKind::Boolean { true_token, false_token, storage } => {
            let storage = if *storage == Storage::Text { Storage::Boolean } else { *storage };
            (storage, Some((true_token.clone(), false_token.clone())))
        }
        _ => unreachable!("invariant: only categorical kinds"),
    };
    let k = categories.len();
    CategoricalState {
        column: meta.name.clone(),
        storage,
        boolean_tokens,
        categories: categories.into(),
        cumulative: (1..=k).map(|i| i as f64 / k as f64).collect(),
        missing_share: 0.0,
        protected_share: 0.0,
    }
}

/// Bounds, fine histogram and bins of a numeric column; `None` when no part of its range holds
/// enough rows to clear the noise (the column is then generated empty).
fn prepare_numeric(
    name: &str,
    values: &[Option<f64>],
    kind: &ColumnKind,
    rho: f64,
    privacy: &PrivacySettings,
    noise: &mut Noise,
    context: &mut FitContext,
) -> Result<Option<NumericPrep>> {
    // Octave counts bound the range.
    let mut octaves = vec![0.0; 2 * N_OCTAVES + 1];
    values.iter().flatten().for_each(|&x| octaves[octave_bucket(x)] += 1.0);
    let (noisy, sigma) = noise.measure("bounds", &[name], &octaves, rho);
    // A bucket counts when its noisy count clears 4σ: across all buckets of an empty range, a
    // false bound then comes up about once in a thousand columns.
    let threshold = 4.0 * sigma;
    let first = noisy.iter().position(|&c| c >= threshold);
    let last = noisy.iter().rposition(|&c| c >= threshold);
    let (Some(first), Some(last)) = (first, last) else {
        // The second measurement is still charged, so that the ledger does not depend on the data.
        noise.record("marginal", &[name], "discrete_gaussian", sigma_for(rho), rho, 0.0);
        context.warnings.push(Warning::column(
            name,
            format!("too few values to measure under ε = {}: the column is generated empty", privacy.epsilon),
        ));
        return Ok(None);
    };
    let buckets: Vec<(usize, f64)> = (first..=last).map(|b| (b, noisy[b])).collect();
    let present: f64 = buckets.iter().map(|(_, m)| m.max(0.0)).sum();
    // Enough cells for the shape, few enough that each holds several times the noise.
    let sigma_fine = sigma_for(rho);
    let n_cells = ((present / (4.0 * sigma_fine)) as usize).clamp(8, 512);
    let cells = fine_cells(&buckets, n_cells, unit_of(kind));
    if cells.is_empty() {
        noise.record("marginal", &[name], "discrete_gaussian", sigma_fine, rho, 0.0);
        context
            .warnings
            .push(Warning::column(name, "no value fits the column's measured range: the column is generated empty"));
        return Ok(None);
    }
    let mut counts = vec![0.0; cells.len()];
    let cell_index: Vec<Option<usize>> = values.iter().map(|v| v.map(|x| cell_of(&cells, x))).collect();
    cell_index.iter().flatten().for_each(|&c| counts[c] += 1.0);
    let (noisy_cells, sigma_cells) = noise.measure("marginal", &[name], &counts, rho);
    let mass_total = noisy_cells.iter().sum::<f64>().max(1.0);
    // The range is what the data supports: from the first to the last cell whose noisy count
    // clears 2σ (an empty cell does so about once in 44), so that noise alone rarely stretches it.
    let clear = 2.0 * sigma_cells;
    let (first, last) =
        match (noisy_cells.iter().position(|&c| c >= clear), noisy_cells.iter().rposition(|&c| c >= clear)) {
            (Some(first), Some(last)) => (first, last),
            _ => (0, cells.len() - 1),
        };
    let mut mass = vec![0.0; cells.len()];
    mass[first..=last].copy_from_slice(&project_simplex(&noisy_cells[first..=last], mass_total));
    let first = mass.iter().position(|&m| m > 0.0).unwrap_or(first);
    let last = mass.iter().rposition(|&m| m > 0.0).unwrap_or(last);
    let mass_sum: f64 = mass.iter().sum::<f64>().max(1e-12);
    mass.iter_mut().for_each(|m| *m /= mass_sum);
    let (cdf, cell_score_end) = cdf_of_cells(&cells, &mass, first, last);
    // Bins: score intervals at cell boundaries near equal quantiles; the noise of the pair tables
    // decides how many are worth it (the fine histogram's noise is of the same order).
    let wanted = ((present / (2.0 * sigma_fine)).sqrt().round() as usize).clamp(2, privacy.max_bins);
    let edges = quantile_edges(&cell_score_end, wanted);
    let bins = edges.len() - 1;
    // A cell's bin: the bin its score range ends in.
    let cell_bin: Vec<u32> =
        cell_score_end.iter().map(|&s| (edges.partition_point(|&e| e < s).max(1) - 1).min(bins - 1) as u32).collect();
    let codes = cell_index.iter().map(|c| c.map_or(bins as u32, |c| cell_bin[c])).collect();
    Ok(Some(NumericPrep { cdf, edges, codes }))
}

/// The piecewise-linear CDF of the mass on `cells[first..=last]` (points at cell edges; atoms are
/// jumps), and the CDF's value at the end of every cell.
fn cdf_of_cells(cells: &[(f64, f64)], mass: &[f64], first: usize, last: usize) -> (PiecewiseCdf, Vec<f64>) {
    let mut xs = Vec::new();
    let mut ps = Vec::new();
    let mut running = 0.0;
    let mut cell_score_end = vec![0.0; cells.len()];
    for c in 0..cells.len() {
        let (low, high) = cells[c];
        if c >= first && c <= last {
            if xs.last() != Some(&low) {
                xs.push(low);
                ps.push(running);
            }
            running += mass[c];
            xs.push(high);
            ps.push(running.min(1.0));
        } else if c > last {
            running = 1.0;
        }
        cell_score_end[c] = running.min(1.0);
    }
    if let Some(p) = ps.last_mut() {
        *p = 1.0;
    }
    if xs.len() < 2 {
        xs = vec![cells[first].0, cells[first].1];
        ps = vec![0.0, 1.0];
    }
    (PiecewiseCdf { xs, ps }, cell_score_end)
}

/// Up to `wanted` bins in score space, with edges at cell ends near equal quantiles.
fn quantile_edges(cell_score_end: &[f64], wanted: usize) -> Vec<f64> {
    let mut edges = vec![0.0];
    for j in 1..wanted {
        let target = j as f64 / wanted as f64;
        let best = cell_score_end
            .iter()
            .copied()
            .filter(|&s| s > 0.0 && s < 1.0)
            .min_by(|a, b| (a - target).abs().total_cmp(&(b - target).abs()));
        if let Some(edge) = best
            && edge > *edges.last().expect("invariant: starts with 0")
        {
            edges.push(edge);
        }
    }
    edges.push(1.0);
    edges.dedup();
    edges
}

impl PrivateMarginalsModel {
    /// Samples `n_rows` rows whose global row numbers start at `first_row`, like the other engines.
    pub fn sample_rows(
        &self,
        first_row: u64,
        n_rows: usize,
        latent_rng: &mut SeededRng,
        column_rng: &dyn Fn(usize) -> SeededRng,
    ) -> Result<Table> {
        let mut codes: Vec<Vec<u32>> = vec![Vec::with_capacity(n_rows); self.variables.len()];
        let mut within: Vec<Vec<f64>> = vec![Vec::with_capacity(n_rows); self.variables.len()];
        let mut drawn = vec![0u32; self.variables.len()];
        for _ in 0..n_rows {
            if let Some(joint) = &self.joint {
                joint.draw(latent_rng.random::<f64>(), &mut drawn);
                for (v, &code) in drawn.iter().enumerate() {
                    codes[v].push(code);
                    within[v].push(latent_rng.random::<f64>());
                }
                continue;
            }
            for (v, variable) in self.variables.iter().enumerate() {
                let k = variable.codes.size();
                let row = variable.parents.iter().fold(0usize, |row, &p| {
                    row * self.variables[p].codes.size()
                        + *codes[p].last().expect("invariant: parents come first") as usize
                });
                let code = draw_code(&variable.cumulative[row * k..(row + 1) * k], latent_rng.random::<f64>());
                codes[v].push(code as u32);
                within[v].push(latent_rng.random::<f64>());
            }
        }
        // Scores per encoded column, in the transforms' order.
        let mut by_column: HashMap<usize, usize> = HashMap::new();
        for (v, variable) in self.variables.iter().enumerate() {
            by_column.insert(variable.column, v);
        }
        let mut scores: Vec<Vec<f64>> = Vec::new();
        for (column, transform) in self.transforms.iter().enumerate() {
            let outputs = transform.output_columns().len();
            if outputs == 0 {
                continue;
            }
            let Some(&v) = by_column.get(&column) else {
                // A modelled column without a variable (nothing measurable): all missing.
                scores.push(vec![0.5; n_rows]);
                if outputs > 1 {
                    scores.push(vec![1.0; n_rows]);
                }
                continue;
            };
            let variable = &self.variables[v];
            let missing = variable.codes.missing_code() as u32;
            let mut value = Vec::with_capacity(n_rows);
            for (row, &code) in codes[v].iter().enumerate() {
                let u = within[v][row];
                value.push(match &variable.codes {
                    _ if code == missing => 0.5,
                    Codes::Bins { edges } => {
                        let (low, high) = (edges[code as usize], edges[code as usize + 1]);
                        (low + (high - low) * u).clamp(1e-12, 1.0 - 1e-12)
                    }
                    Codes::Categories { categories } => {
                        let TransformState::Categorical(state) = transform else { unreachable!("invariant") };
                        if code as usize >= *categories {
                            u // "other": a released category, drawn by its share
                        } else {
                            let i = code as usize;
                            let low = if i == 0 { 0.0 } else { state.cumulative[i - 1] };
                            (low + state.cumulative[i]) / 2.0
                        }
                    }
                });
            }
            scores.push(value);
            if outputs > 1 {
                scores.push(codes[v].iter().map(|&c| if c == missing { 1.0 } else { 0.0 }).collect());
            }
        }
        decode_scores(&self.transforms, &scores, first_row, n_rows, column_rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zcdp_conversion_matches_the_reference_values() {
        // MST's reference code: cdp_rho(1.0, 1e-9) ≈ 0.0110, cdp_rho(10, 1e-6) ≈ 1.3.
        let rho = zcdp_rho(1.0, 1e-6);
        assert!((0.015..0.025).contains(&rho), "{rho}");
        assert!(zcdp_delta(rho, 1.0) <= 1e-6 * (1.0 + 1e-9));
        // The conversion is tighter than the simple bound ε = ρ + 2√(ρ ln 1/δ).
        let simple = rho + 2.0 * (rho * (1e6f64).ln()).sqrt();
        assert!(simple > 1.0);
        let back = zcdp_epsilon(rho, 1e-6);
        assert!((back - 1.0).abs() < 1e-3, "{back}");
    }

    fn noise(seed: u64) -> Noise {
        Noise { rng: SeededRng::seed_from_u64(seed), ledger: Vec::new() }
    }

    #[test]
    fn gaussian_noise_has_the_calibrated_scale() {
        let mut noise = noise(1);
        let rho = 0.02; // σ = √(1 / 2ρ) = 5
        let n = 40_000;
        let (noisy, sigma) = noise.measure("one_way", &["x"], &vec![100.0; n], rho);
        assert!((sigma - 5.0).abs() < 1e-12);
        let nf = n as f64;
        let mean = noisy.iter().sum::<f64>() / nf;
        let variance = noisy.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (nf - 1.0);
        let within_one = noisy.iter().filter(|x| (*x - 100.0).abs() <= sigma).count() as f64 / nf;
        let within_two = noisy.iter().filter(|x| (*x - 100.0).abs() <= 2.0 * sigma).count() as f64 / nf;
        // The noise is whole numbers: P(|X| ≤ kσ) of the discrete Gaussian.
        let inside = |k: f64| 1.0 - 2.0 * discrete::upper_tail(sigma, (k * sigma).floor() as i64 + 1);
        let (one, two) = (inside(1.0), inside(2.0));
        assert!(noisy.iter().all(|x| x.fract() == 0.0), "whole-number noise");
        // Each bound is four standard errors wide.
        assert!((mean - 100.0).abs() < 4.0 * sigma / nf.sqrt(), "mean {mean}");
        assert!((variance / (sigma * sigma) - 1.0).abs() < 4.0 * (2.0 / nf).sqrt(), "variance {variance}");
        assert!((within_one - one).abs() < 4.0 * (one * (1.0 - one) / nf).sqrt(), "within 1σ {within_one} vs {one}");
        assert!((within_two - two).abs() < 4.0 * (two * (1.0 - two) / nf).sqrt(), "within 2σ {within_two} vs {two}");
        assert_eq!(noise.ledger.len(), 1);
        assert_eq!(noise.ledger[0].rho, rho);
    }

    #[test]
    fn a_category_of_one_row_is_released_with_probability_delta() {
        let mut noise = noise(2);
        let (sigma, delta) = (20.0, 0.01);
        let threshold = release_threshold(sigma, delta);
        let n = 200_000;
        let released = (0..n).filter(|_| 1.0 + noise.gaussian(sigma) >= threshold).count() as f64 / n as f64;
        // The exact release probability is at most δ, and the first whole-number threshold that
        // keeps it so.
        let exact = discrete::upper_tail(sigma, threshold as i64 - 1);
        assert!(exact <= delta && discrete::upper_tail(sigma, threshold as i64 - 2) > delta, "{exact}");
        assert!(
            (released - exact).abs() < 4.0 * (exact * (1.0 - exact) / n as f64).sqrt(),
            "released {released} vs {exact}"
        );
        // A category of 5σ above the threshold is almost always released.
        let common = (0..1000).filter(|_| threshold + 5.0 * sigma + noise.gaussian(sigma) >= threshold).count();
        assert!(common >= 999);
    }

    #[test]
    fn the_exponential_mechanism_picks_in_proportion_to_exp_half_epsilon_score() {
        let mut noise = noise(3);
        let scores = [0.0, 1.0, 3.0];
        let epsilon = 1.0;
        let n = 100_000;
        let mut counts = [0usize; 3];
        for _ in 0..n {
            counts[noise.choose(&scores, epsilon).expect("a choice")] += 1;
        }
        let weights: Vec<f64> = scores.iter().map(|s| (epsilon * s / 2.0).exp()).collect();
        let total: f64 = weights.iter().sum();
        for i in 0..3 {
            let (observed, expected) = (counts[i] as f64 / n as f64, weights[i] / total);
            let bound = 4.0 * (expected * (1.0 - expected) / n as f64).sqrt();
            assert!((observed - expected).abs() < bound, "candidate {i}: {observed} vs {expected}");
        }
    }

    #[test]
    fn simplex_projection_keeps_the_total_and_signs() {
        let p = project_simplex(&[5.0, -3.0, 1.0, 0.5], 4.0);
        assert!((p.iter().sum::<f64>() - 4.0).abs() < 1e-9);
        assert!(p.iter().all(|x| *x >= 0.0));
        assert_eq!(p[1], 0.0);
        assert!(p[0] > p[2]);
    }

    #[test]
    fn margins_are_fitted() {
        let mut table = vec![4.0, 1.0, 1.0, 4.0];
        fit_margins(&mut table, 2, 2, &[7.0, 3.0], &[5.0, 5.0]);
        assert!((table[0] + table[1] - 7.0).abs() < 1e-6);
        assert!((table[0] + table[2] - 5.0).abs() < 1e-6);
    }

    #[test]
    fn octaves_order_values() {
        let xs = [-1e6, -3.0, -0.001, 0.0, 1e-40, 0.3, 1.0, 1.5, 2.0, 1e30];
        let buckets: Vec<usize> = xs.iter().map(|&x| octave_bucket(x)).collect();
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
        for &x in &xs {
            let (low, high) = octave_range(octave_bucket(x));
            if x != 0.0 && x.abs() > 1e-9 && x.abs() < 1e18 {
                assert!(low <= x && x <= high, "{x} not in [{low}, {high}]");
            }
        }
    }
}
