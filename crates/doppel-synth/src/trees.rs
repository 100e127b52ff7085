//! The `tree` engine: sequential (autoregressive) decision trees over discretised columns.
//!
//! The column transforms turn every modelled column into uniform scores (see `doppel-transform`).
//! This engine discretises each score column into *variables* with a few codes: a categorical
//! column's categories, a numeric column's quantile bins (in score space), or a column's missing
//! indicator. It then learns the joint distribution as a chain of conditionals,
//! `p(x₁) p(x₂ | x₁) … p(x_d | x₁ … x_{d-1})`, one classification or regression tree per variable,
//! each split on every variable before it. A leaf holds the target's code counts over at least
//! `min_leaf` training rows; sampling shrinks them towards the tree's prior (the target's codes
//! over all its training rows) with `smoothing` pseudo-rows.
//!
//! Sampling walks the chain: each variable's code is drawn from the leaf that the codes drawn so
//! far reach; a bin becomes a uniform score inside the bin, which the transform maps back to a value
//! with the source's rounding and format. The model holds split rules and leaf distributions only,
//! never a training row: a value the model can produce is a category or a bin of the transforms,
//! which already leave rare categories and extreme values out.
//!
//! Conditioning (see [`crate::control`]) restricts variables to the codes a condition allows:
//! the chain draws a restricted variable from its leaf's allowed codes and weights the row by the
//! allowed mass (sequential importance sampling, [`SequentialTreesModel::sample_candidates`]).

use std::sync::Arc;
use std::time::Instant;

use rand::RngExt;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use doppel_core::{Error, Metadata, Result, SeededRng, Table, Warning, stream_rng};
use doppel_transform::{EncodedColumn, FitSettings, TransformState};

use crate::{FitContext, FitStage, decode_scores};

/// The tree engine's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TreeSettings {
    /// The fewest training rows a leaf may hold.
    pub min_leaf: usize,
    /// The deepest a tree may grow.
    pub max_depth: usize,
    /// The most quantile bins of a numeric column (fewer on small tables: at least
    /// [`ROWS_PER_BIN`] rows per bin on average).
    pub max_bins: usize,
    /// Pseudo-rows of the target's overall distribution mixed into every leaf (an m-estimate).
    pub smoothing: f64,
    /// A split must reach this significance: its relative impurity decrease times the node's
    /// rows (for two classes, the split's chi-square statistic).
    pub min_gain: f64,
    /// Classes of a categorical target that the split search tells apart (the rest are pooled).
    pub split_classes: usize,
    /// Rare-combination protection: in a leaf, a category held by fewer than this many training
    /// rows (a combination of the leaf's conditions and that value, rare in the data) is left
    /// out, and the leaf falls back on the target's overall distribution for that share. `None`
    /// (models fitted before the protection existed) keeps every count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rare_combination_rows: Option<usize>,
}

/// The default of [`TreeSettings::rare_combination_rows`], like the rare-category threshold.
pub const RARE_COMBINATION_ROWS: usize = 5;

impl Default for TreeSettings {
    fn default() -> Self {
        TreeSettings {
            min_leaf: 10,
            max_depth: 24,
            max_bins: 256,
            smoothing: 1.0,
            min_gain: 3.0,
            split_classes: 32,
            rare_combination_rows: Some(RARE_COMBINATION_ROWS),
        }
    }
}

/// The fewest rows per numeric bin, on average, that sets the number of bins on small tables.
pub const ROWS_PER_BIN: usize = 20;

/// The tree engine's configuration (unfitted).
#[derive(Debug, Clone, Default)]
pub struct SequentialTrees {
    /// Settings for the column transforms.
    pub transform: FitSettings,
    /// Settings for the trees.
    pub trees: TreeSettings,
    /// The seed (used only when rows are subsampled to meet a time budget).
    pub seed: u64,
    /// Stop refining after this many seconds: the trees still to fit are then fitted on a row
    /// subsample sized to the time left.
    pub max_fit_seconds: Option<f64>,
}

/// The codes a variable takes: categories (or missing / present) or quantile bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Codes {
    /// Each code is one exact score (a category's or the missing indicator's).
    Classes {
        /// The score of each code, ascending.
        scores: Vec<f64>,
    },
    /// Code `k` is the score interval `[edges[k], edges[k + 1])`.
    Bins {
        /// The bin edges in score space, from 0 to 1.
        edges: Vec<f64>,
    },
}

impl Codes {
    fn len(&self) -> usize {
        match self {
            Codes::Classes { scores } => scores.len(),
            Codes::Bins { edges } => edges.len().saturating_sub(1),
        }
    }

    fn code_of(&self, score: f64) -> u16 {
        let code = match self {
            Codes::Classes { scores } => {
                let i = scores.partition_point(|&s| s < score);
                if i < scores.len() && scores[i] == score {
                    i
                } else {
                    // Not a training score (a condition's value): the nearest class.
                    nearest(scores, score)
                }
            }
            Codes::Bins { edges } => edges.partition_point(|&e| e <= score).saturating_sub(1).min(self.len() - 1),
        };
        code as u16
    }

    fn score_of(&self, code: u16, rng: &mut SeededRng) -> f64 {
        match self {
            Codes::Classes { scores } => scores[usize::from(code)],
            Codes::Bins { edges } => {
                let (low, high) = (edges[usize::from(code)], edges[usize::from(code) + 1]);
                (low + (high - low) * rng.random::<f64>()).clamp(1e-12, 1.0 - 1e-12)
            }
        }
    }
}

fn nearest(scores: &[f64], score: f64) -> usize {
    (0..scores.len()).min_by(|&a, &b| (scores[a] - score).abs().total_cmp(&(scores[b] - score).abs())).unwrap_or(0)
}

/// Whether bit `code` is set in a mask of 64-bit words (an `InSet` split's codes going left).
fn in_mask(mask: &[u64], code: u16) -> bool {
    let code = usize::from(code);
    mask.get(code / 64).is_some_and(|w| w >> (code % 64) & 1 == 1)
}

/// Which variable says whether another applies (a value is absent when its column is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gate {
    /// The missing-indicator variable.
    pub variable: usize,
    /// Its code meaning "missing".
    pub missing_code: u16,
}

/// One discretised encoded column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variable {
    /// The encoded column's name (`column.value`, `column.missing`).
    pub name: String,
    /// Its codes. The code `len()` stands for "does not apply" (missing, or a protected rare
    /// category).
    pub codes: Codes,
    /// Whether the codes have an order that splits may follow (bins, indicators) or not
    /// (categories).
    pub ordered: bool,
    /// The variable that gates this one, if any.
    pub gate: Option<Gate>,
}

impl Variable {
    fn absent(&self) -> u16 {
        self.codes.len() as u16
    }
}

/// A node of a tree, stored flat; children are indices into the same list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TreeNode {
    /// Rows whose `variable` code is at most `threshold` go left.
    Below {
        /// The variable split on.
        variable: u32,
        /// The largest code going left.
        threshold: u16,
        /// The left child.
        left: u32,
        /// The right child.
        right: u32,
    },
    /// Rows whose `variable` code is in the set (a bit mask of codes) go left.
    InSet {
        /// The variable split on.
        variable: u32,
        /// Bit `c` of word `c / 64` is set when code `c` goes left.
        codes: Vec<u64>,
        /// The left child.
        left: u32,
        /// The right child.
        right: u32,
    },
    /// The training rows' codes of the target in this node (at least `min_leaf` rows).
    Leaf(Counts),
}

/// How many training rows had each code: the codes present, ascending, and running totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// The codes with at least one row, ascending.
    pub codes: Vec<u16>,
    /// Rows with this code or an earlier one (the last is the node's row count).
    pub cumulative: Vec<u32>,
    /// Rows of rare combinations left out of a leaf (see
    /// [`TreeSettings::rare_combination_rows`]): their share is drawn from the tree's prior, so
    /// the leaf's weight and the column's marginal stay as they were.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub protected: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

impl Counts {
    fn from_dense(counts: &[u32]) -> Counts {
        let mut result = Counts::default();
        let mut running = 0u32;
        for (code, &count) in counts.iter().enumerate() {
            if count > 0 {
                running += count;
                result.codes.push(code as u16);
                result.cumulative.push(running);
            }
        }
        result
    }

    fn total(&self) -> u32 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// The code at position `point` (0 ≤ point < total) of the running totals.
    fn at(&self, point: f64) -> u16 {
        let i = self.cumulative.partition_point(|&c| f64::from(c) <= point);
        self.codes[i.min(self.codes.len() - 1)]
    }
}

/// One tree: the conditional distribution of `target` given the variables before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// The variable it generates.
    pub target: u32,
    /// Training rows it was fitted on (after any subsampling).
    pub training_rows: u64,
    /// The nodes; the root is the first.
    pub nodes: Vec<TreeNode>,
    /// The target's codes over all the tree's training rows: every leaf is shrunk towards it.
    pub prior: Counts,
    /// Pseudo-rows of `prior` mixed into every leaf.
    pub smoothing: f64,
}

impl Tree {
    fn leaf(&self, row: &[u16]) -> &Counts {
        let mut index = 0usize;
        loop {
            match &self.nodes[index] {
                TreeNode::Below { variable, threshold, left, right } => {
                    index = if row[*variable as usize] <= *threshold { *left } else { *right } as usize;
                }
                TreeNode::InSet { variable, codes, left, right } => {
                    index = if in_mask(codes, row[*variable as usize]) { *left } else { *right } as usize;
                }
                TreeNode::Leaf(counts) => return counts,
            }
        }
    }

    /// Draws a code from a leaf shrunk towards the prior: `(count + m · prior share) / (n + m)`,
    /// drawn as a mixture with one uniform number. `None` when the tree saw no rows.
    fn draw(&self, leaf: &Counts, rng: &mut SeededRng) -> Option<u16> {
        let (n, prior_n) = (f64::from(leaf.total()), f64::from(self.prior.total()));
        if prior_n == 0.0 {
            return None;
        }
        let m = if n == 0.0 && leaf.protected == 0 { 1.0 } else { self.smoothing + f64::from(leaf.protected) };
        let point = rng.random::<f64>() * (n + m);
        Some(if point < n { leaf.at(point) } else { self.prior.at((point - n) / m * prior_n) })
    }

    /// Draws a code from a leaf as [`Tree::draw`] does, among the codes a restriction allows
    /// (each code's mass times its weight): the code and the allowed mass (the probability of
    /// the restriction at this leaf). `None` when nothing is allowed.
    fn draw_allowed(&self, leaf: &Counts, restriction: &Restriction, rng: &mut SeededRng) -> Option<(u16, f64)> {
        let (n, prior_n) = (f64::from(leaf.total()), f64::from(self.prior.total()));
        if prior_n == 0.0 {
            return None;
        }
        let m = if n == 0.0 && leaf.protected == 0 { 1.0 } else { self.smoothing + f64::from(leaf.protected) };
        let weight = |code: u16| restriction.weights.get(usize::from(code)).copied().unwrap_or(0.0);
        let count_at = |counts: &Counts, i: usize| {
            f64::from(counts.cumulative[i] - if i == 0 { 0 } else { counts.cumulative[i - 1] })
        };
        let leaf_allowed: f64 = (0..leaf.codes.len()).map(|i| weight(leaf.codes[i]) * count_at(leaf, i)).sum();
        let prior_part = m * restriction.prior_allowed / prior_n;
        let total = leaf_allowed + prior_part;
        if total <= 0.0 {
            return None;
        }
        let mut point = rng.random::<f64>() * total;
        let counts = if point < leaf_allowed {
            leaf
        } else {
            point = (point - leaf_allowed) / m * prior_n;
            &self.prior
        };
        let mut chosen = None;
        for i in 0..counts.codes.len() {
            let mass = weight(counts.codes[i]) * count_at(counts, i);
            if mass > 0.0 {
                chosen = Some(counts.codes[i]);
                if point < mass {
                    break;
                }
                point -= mass;
            }
        }
        chosen.map(|code| (code, total / (n + m)))
    }
}

/// A fitted tree engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialTreesModel {
    /// One transform per column, in the table's order.
    pub transforms: Vec<TransformState>,
    /// The encoded columns, in the transforms' order.
    pub dimensions: Vec<EncodedColumn>,
    /// One variable per encoded column, same order.
    pub variables: Vec<Variable>,
    /// The trees in generation order; each splits only on variables generated before it.
    pub trees: Vec<Tree>,
}

/// Which codes of one variable a conditioned row may take (see [`crate::control`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Restriction {
    /// Per code, the "does not apply" code last: the share of the code's mass allowed, in [0, 1].
    pub weights: Vec<f64>,
    /// Per bin code: the allowed score intervals when only part of the bin is allowed (empty: all
    /// of it, or none when its weight is 0).
    pub parts: Vec<Vec<(f64, f64)>>,
    /// `Σ weight × prior count` of the variable's tree, so that drawing reads only the leaf.
    prior_allowed: f64,
}

impl Restriction {
    /// A score inside bin `code`, uniform over its allowed part.
    fn score_in(&self, code: u16, low: f64, high: f64, rng: &mut SeededRng) -> f64 {
        let parts = self.parts.get(usize::from(code)).filter(|p| !p.is_empty());
        let Some(parts) = parts else {
            return (low + (high - low) * rng.random::<f64>()).clamp(1e-12, 1.0 - 1e-12);
        };
        let total: f64 = parts.iter().map(|(a, b)| b - a).sum();
        let mut point = rng.random::<f64>() * total;
        for &(a, b) in parts {
            if point < b - a {
                return (a + point).clamp(1e-12, 1.0 - 1e-12);
            }
            point -= b - a;
        }
        parts.last().map_or(0.5, |&(_, b)| b).clamp(1e-12, 1.0 - 1e-12)
    }
}

impl SequentialTrees {
    /// Fits the engine on a table whose columns match `metadata`.
    pub fn fit(&self, table: &Table, metadata: &Metadata, context: &mut FitContext) -> Result<SequentialTreesModel> {
        let started = Instant::now();
        let settings = &self.trees;
        if settings.min_leaf == 0 || settings.max_bins < 2 || settings.split_classes < 2 {
            return Err(Error::InvalidConfig(
                "tree settings: expected min_leaf >= 1, max_bins >= 2 and split_classes >= 2".into(),
            ));
        }
        let n_rows = table.n_rows();
        let n_columns = metadata.columns.len();
        let mut transforms = Vec::with_capacity(n_columns);
        let mut dimensions = Vec::new();
        let mut variables = Vec::new();
        let mut codes: Vec<Vec<u16>> = Vec::new();
        let mut order = Vec::new();
        for (index, meta) in metadata.columns.iter().enumerate() {
            context.report(FitStage::Transforms, index, n_columns);
            let column = table.column(&meta.name)?;
            let state = TransformState::fit(column, meta, &self.transform, &mut context.warnings)?;
            let encoded = state.transform(&column.data)?;
            let outputs = state.output_columns();
            let first = variables.len();
            for (scores, output) in encoded.iter().zip(&outputs) {
                let variable = discretise(&output.name, scores, output.discrete, settings.max_bins);
                codes.push(scores.iter().map(|s| s.map_or(variable.absent(), |s| variable.codes.code_of(s))).collect());
                variables.push(variable);
            }
            // A value with a missing indicator: the indicator comes first and gates the value.
            if outputs.len() == 2 {
                let indicator = &variables[first + 1];
                let missing_code = match &indicator.codes {
                    Codes::Classes { scores } => scores.iter().position(|&s| s > 0.5).unwrap_or(scores.len()) as u16,
                    Codes::Bins { .. } => unreachable!("invariant: missing indicators are discrete"),
                };
                variables[first].gate = Some(Gate { variable: first + 1, missing_code });
                order.extend([first + 1, first]);
            } else {
                order.extend(first..variables.len());
            }
            dimensions.extend(outputs);
            transforms.push(state);
        }
        context.report(FitStage::Transforms, n_columns, n_columns);

        let total = order.len();
        let threads = rayon::current_num_threads().max(1);
        let mut trees: Vec<Tree> = Vec::with_capacity(total);
        let mut protected = vec![(0usize, 0usize); variables.len()];
        // Values are protected, missing indicators are not (whether a value is missing rarely
        // singles anyone out, and protecting it would bias the missing shares); `--keep-rare`
        // exempts a column from rare-combination protection too.
        let protect: Vec<bool> = variables
            .iter()
            .map(|v| {
                let (column, part) = v.name.rsplit_once('.').unwrap_or((v.name.as_str(), "value"));
                part != "missing" && !self.transform.keep_rare.iter().any(|k| k == column)
            })
            .collect();
        let mut row_share = 1.0f64;
        let mut fitted_seconds = 0.0f64;
        let mut position = 0;
        while position < total {
            context.report(FitStage::Trees, position, total);
            let chunk_end = (position + threads).min(total);
            if let Some(budget) = self.max_fit_seconds {
                let elapsed = started.elapsed().as_secs_f64();
                if position > 0 {
                    let per_tree = fitted_seconds / position as f64;
                    let predicted = per_tree * (total - position) as f64 / threads as f64;
                    let left = (budget - elapsed).max(0.0);
                    if predicted > left {
                        row_share = (row_share * left / predicted).clamp(0.02, 1.0).min(row_share);
                    }
                }
            }
            let chunk_started = Instant::now();
            let rows = subsample(n_rows, row_share, self.seed, position as u64);
            let fitted: Vec<(Tree, (usize, usize))> = (position..chunk_end)
                .into_par_iter()
                .map(|p| grow_tree(&variables, &codes, order[p], &order[..p], &rows, settings, protect[order[p]]))
                .collect();
            fitted_seconds += chunk_started.elapsed().as_secs_f64() * (chunk_end - position) as f64;
            for (tree, counts) in fitted {
                protected[tree.target as usize] = counts;
                trees.push(tree);
            }
            position = chunk_end;
        }
        // Rare combinations, reported per column (its value and missing indicator together).
        if let Some(threshold) = settings.rare_combination_rows {
            let mut by_column: Vec<(String, usize, usize)> = Vec::new();
            for (variable, &(combinations, rows)) in variables.iter().zip(&protected) {
                let column = variable.name.rsplit_once('.').map_or(variable.name.as_str(), |(c, _)| c);
                match by_column.last_mut() {
                    Some((name, c, r)) if name == column => {
                        *c += combinations;
                        *r += rows;
                    }
                    _ => by_column.push((column.to_string(), combinations, rows)),
                }
            }
            let listed: Vec<String> = by_column
                .into_iter()
                .filter(|(_, c, _)| *c > 0)
                .map(|(column, combinations, rows)| {
                    format!("`{column}` {combinations} ({:.2}% of rows)", 100.0 * rows as f64 / n_rows.max(1) as f64)
                })
                .collect();
            if !listed.is_empty() {
                context.warnings.push(Warning::table(format!(
                    "rare combinations left out of the trees (a value held by fewer than {threshold} training rows under a leaf's conditions; those rows are drawn from the column's overall distribution): {}",
                    listed.join(", ")
                )));
            }
        }
        context.report(FitStage::Trees, total, total);
        if row_share < 1.0 {
            context.warnings.push(Warning::table(format!(
                "--max-fit-seconds {}: later columns were fitted on {:.0}% of the rows to stay within the time budget",
                self.max_fit_seconds.unwrap_or_default(),
                row_share * 100.0
            )));
        }
        if n_rows < 2 * settings.min_leaf {
            context.warnings.push(Warning::table(format!(
                "only {n_rows} training rows; with leaves of at least {} rows the trees cannot split, so columns are generated independently",
                settings.min_leaf
            )));
        }
        Ok(SequentialTreesModel { transforms, dimensions, variables, trees })
    }
}

/// The training rows to use: all of them, or a seeded subsample of about `share` of them.
fn subsample(n_rows: usize, share: f64, seed: u64, stream: u64) -> Vec<u32> {
    if share >= 1.0 {
        return (0..n_rows as u32).collect();
    }
    let mut rng = stream_rng(seed, doppel_core::rng::mix64(stream, 0x7ee5));
    (0..n_rows as u32).filter(|_| rng.random::<f64>() < share).collect()
}

/// Turns one encoded column into a variable: exact classes for discrete scores, quantile bins
/// for continuous ones. Bins close once they hold `n / max_bins` rows; a score held by many rows
/// (an atom) ends a bin of its own, and an edge falls where the left score's interval ends.
fn discretise(name: &str, scores: &[Option<f64>], discrete: bool, max_bins: usize) -> Variable {
    let mut present: Vec<f64> = scores.iter().flatten().copied().collect();
    present.sort_by(f64::total_cmp);
    let ordered = !discrete || name.ends_with(".missing");
    if discrete {
        present.dedup();
        return Variable { name: name.to_string(), codes: Codes::Classes { scores: present }, ordered, gate: None };
    }
    let n = present.len();
    let max_bins = max_bins.min(n / ROWS_PER_BIN).max(2);
    let mut edges = vec![0.0];
    let target = (n as f64 / max_bins as f64).max(1.0);
    let mut in_bin = 0usize;
    let mut i = 0;
    while i < n {
        let value = present[i];
        let mut j = i;
        while j < n && present[j] == value {
            j += 1;
        }
        in_bin += j - i;
        let bins_left = max_bins - edges.len();
        if j < n && in_bin as f64 >= target && bins_left > 0 {
            // Scores are mid-CDF values, so the share of rows at or below `value` is where its
            // interval of (0, 1) ends: an atom's whole interval stays in its bin.
            let share = j as f64 / n as f64;
            let edge = if share >= value && share < present[j] { share } else { (value + present[j]) / 2.0 };
            edges.push(edge);
            in_bin = 0;
        }
        i = j;
    }
    edges.push(1.0);
    Variable { name: name.to_string(), codes: Codes::Bins { edges }, ordered, gate: None }
}

/// How the split search scores a node's target.
enum Criterion {
    /// Gini impurity over classes, the rarer ones pooled: `pooled[code]` is the class index.
    Gini { pooled: Vec<u16>, n_pooled: usize },
    /// Squared error of the code (ordered bins).
    Variance,
}

struct Grower<'a> {
    variables: &'a [Variable],
    codes: &'a [Vec<u16>],
    features: &'a [usize],
    target: &'a [u16],
    n_classes: usize,
    criterion: Criterion,
    settings: &'a TreeSettings,
    /// Whether the target's rare combinations are left out: not for a numeric column's bins
    /// (ranges, not values), nor for columns the user exempted with `--keep-rare`.
    protect_target: bool,
    /// Rare combinations left out of leaves, and the rows they held.
    protected: std::cell::Cell<(usize, usize)>,
}

/// One feature's histogram over a node's rows (see [`Grower::histograms`]).
enum Histogram {
    /// Pooled class counts, code-major: `[code * k + class]`.
    Classes(Vec<u32>),
    /// Per code: rows, sum and sum of squares of the target's code.
    Sums(Vec<[u64; 3]>),
}

impl Histogram {
    /// `self -= other`, cell by cell (`other` counts a subset of `self`'s rows).
    fn subtract(&mut self, other: &Histogram) {
        match (self, other) {
            (Histogram::Classes(a), Histogram::Classes(b)) => a.iter_mut().zip(b).for_each(|(x, y)| *x -= y),
            (Histogram::Sums(a), Histogram::Sums(b)) => {
                for (x, y) in a.iter_mut().zip(b) {
                    for (u, v) in x.iter_mut().zip(y) {
                        *u -= v;
                    }
                }
            }
            _ => unreachable!("invariant: a node and its child use the same criterion"),
        }
    }
}

/// The best split found for a node.
struct Split {
    gain: f64,
    feature: usize,
    rule: SplitRule,
}

enum SplitRule {
    Below(u16),
    InSet(Vec<u64>),
}

impl SplitRule {
    fn goes_left(&self, code: u16) -> bool {
        match self {
            SplitRule::Below(threshold) => code <= *threshold,
            SplitRule::InSet(mask) => in_mask(mask, code),
        }
    }
}

fn grow_tree(
    variables: &[Variable],
    codes: &[Vec<u16>],
    target: usize,
    features: &[usize],
    rows: &[u32],
    settings: &TreeSettings,
    protect: bool,
) -> (Tree, (usize, usize)) {
    let variable = &variables[target];
    let absent = variable.absent();
    let target_codes = &codes[target];
    let mut rows: Vec<u32> = rows.iter().copied().filter(|&r| target_codes[r as usize] != absent).collect();
    let n_classes = variable.codes.len();
    let criterion = if variable.ordered && n_classes > 2 {
        Criterion::Variance
    } else {
        let mut counts = vec![0usize; n_classes];
        for &r in &rows {
            counts[usize::from(target_codes[r as usize])] += 1;
        }
        let mut by_count: Vec<usize> = (0..n_classes).collect();
        by_count.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
        let kept = settings.split_classes - 1;
        let mut pooled = vec![kept as u16; n_classes];
        for (rank, &class) in by_count.iter().take(kept).enumerate() {
            pooled[class] = rank as u16;
        }
        Criterion::Gini { pooled, n_pooled: kept.min(n_classes) + usize::from(n_classes > kept) }
    };
    let grower = Grower {
        variables,
        codes,
        features,
        target: target_codes,
        n_classes,
        criterion,
        settings,
        protect_target: protect && !matches!(variable.codes, Codes::Bins { .. }),
        protected: std::cell::Cell::new((0, 0)),
    };
    let training_rows = rows.len() as u64;
    let mut nodes = Vec::new();
    let prior = Counts::from_dense(&grower.class_counts(&rows));
    if rows.is_empty() {
        nodes.push(TreeNode::Leaf(Counts::default()));
    } else {
        grower.grow(&mut rows, 0, None, &mut nodes);
    }
    let protected = grower.protected.get();
    (Tree { target: target as u32, training_rows, nodes, prior, smoothing: settings.smoothing }, protected)
}

impl Grower<'_> {
    fn class_counts(&self, rows: &[u32]) -> Vec<u32> {
        let mut counts = vec![0u32; self.n_classes];
        for &r in rows {
            counts[usize::from(self.target[r as usize])] += 1;
        }
        counts
    }

    /// A leaf's counts without its rare combinations: categories (not numeric bins, which are
    /// ranges) held by fewer than `rare_combination_rows` of the leaf's rows.
    /// Returns the kept counts and the rows left out.
    fn protect(&self, mut counts: Vec<u32>) -> (Vec<u32>, u32) {
        let Some(threshold) = self.settings.rare_combination_rows else { return (counts, 0) };
        if !matches!(self.criterion, Criterion::Gini { .. }) || !self.protect_target {
            return (counts, 0);
        }
        let (mut combinations, mut rows) = self.protected.get();
        let mut left_out = 0;
        for count in counts.iter_mut() {
            if *count > 0 && (*count as usize) < threshold {
                combinations += 1;
                rows += *count as usize;
                left_out += *count;
                *count = 0;
            }
        }
        self.protected.set((combinations, rows));
        (counts, left_out)
    }

    /// Whether a node of `n` rows at `depth` may be split at all.
    fn may_split(&self, n: usize, depth: usize) -> bool {
        depth < self.settings.max_depth && n >= 2 * self.settings.min_leaf
    }

    /// Every feature's histogram over `rows`: per code, the pooled class counts (Gini) or the
    /// row count, sum and sum of squares of the target's code (variance). Integers, so that a
    /// child's histogram can be had exactly as its parent's minus its sibling's.
    fn histograms(&self, rows: &[u32]) -> Vec<Histogram> {
        self.features
            .iter()
            .map(|&feature| {
                let n_codes = self.variables[feature].codes.len() + 1;
                let column = &self.codes[feature];
                match &self.criterion {
                    Criterion::Gini { pooled, n_pooled } => {
                        let k = *n_pooled;
                        let mut counts = vec![0u32; n_codes * k];
                        for &r in rows {
                            let code = usize::from(column[r as usize]);
                            let class = usize::from(pooled[usize::from(self.target[r as usize])]);
                            counts[code * k + class] += 1;
                        }
                        Histogram::Classes(counts)
                    }
                    Criterion::Variance => {
                        let mut sums = vec![[0u64; 3]; n_codes];
                        for &r in rows {
                            let y = u64::from(self.target[r as usize]);
                            let cell = &mut sums[usize::from(column[r as usize])];
                            cell[0] += 1;
                            cell[1] += y;
                            cell[2] += y * y;
                        }
                        Histogram::Sums(sums)
                    }
                }
            })
            .collect()
    }

    /// Grows the subtree of `rows` (reordered in place) and returns its node index. `histograms`
    /// are the node's, when its parent could derive them.
    fn grow(
        &self,
        rows: &mut [u32],
        depth: usize,
        histograms: Option<Vec<Histogram>>,
        nodes: &mut Vec<TreeNode>,
    ) -> u32 {
        let index = nodes.len() as u32;
        let counts = self.class_counts(rows);
        let n = rows.len();
        let pure = counts.iter().filter(|&&c| c > 0).count() <= 1;
        let split = if pure || !self.may_split(n, depth) {
            None
        } else {
            let histograms = histograms.unwrap_or_else(|| self.histograms(rows));
            self.best_split(rows, &histograms).map(|split| (split, histograms))
        };
        let Some((split, histograms)) = split else {
            let (kept, protected) = self.protect(counts);
            nodes.push(TreeNode::Leaf(Counts { protected, ..Counts::from_dense(&kept) }));
            return index;
        };
        // Partition: left rows first.
        let column = &self.codes[split.feature];
        let mut boundary = 0;
        for i in 0..n {
            if split.rule.goes_left(column[rows[i] as usize]) {
                rows.swap(i, boundary);
                boundary += 1;
            }
        }
        nodes.push(TreeNode::Leaf(Counts::default())); // replaced below
        let (left_rows, right_rows) = rows.split_at_mut(boundary);
        // The smaller child's histograms are counted, the larger one's are the rest.
        let (left_histograms, right_histograms) =
            if self.may_split(left_rows.len(), depth + 1) || self.may_split(right_rows.len(), depth + 1) {
                let left_is_smaller = left_rows.len() <= right_rows.len();
                let smaller = self.histograms(if left_is_smaller { left_rows } else { right_rows });
                let mut larger = histograms;
                for (whole, part) in larger.iter_mut().zip(&smaller) {
                    whole.subtract(part);
                }
                if left_is_smaller { (Some(smaller), Some(larger)) } else { (Some(larger), Some(smaller)) }
            } else {
                (None, None)
            };
        let left = self.grow(left_rows, depth + 1, left_histograms, nodes);
        let right = self.grow(right_rows, depth + 1, right_histograms, nodes);
        let variable = split.feature as u32;
        nodes[index as usize] = match split.rule {
            SplitRule::Below(threshold) => TreeNode::Below { variable, threshold, left, right },
            SplitRule::InSet(codes) => TreeNode::InSet { variable, codes, left, right },
        };
        index
    }

    fn best_split(&self, rows: &[u32], histograms: &[Histogram]) -> Option<Split> {
        let min_leaf = self.settings.min_leaf as f64;
        let mut best: Option<Split> = None;
        let parent_impurity = self.impurity_of(rows);
        if parent_impurity <= 1e-12 {
            return None;
        }
        // `n × gain / impurity` is the chi-square statistic of the split for a two-class target:
        // a split must beat what chance gives on this many rows.
        let threshold = parent_impurity * (self.settings.min_gain / rows.len() as f64).max(1e-9);
        for (&feature, histogram) in self.features.iter().zip(histograms) {
            let variable = &self.variables[feature];
            let n_codes = variable.codes.len() + 1;
            let candidate = match histogram {
                Histogram::Classes(counts) => {
                    gini_split(counts, n_codes, counts.len() / n_codes, variable.ordered, min_leaf)
                }
                Histogram::Sums(sums) => variance_split(sums, variable.ordered, min_leaf),
            };
            if let Some((impurity, rule)) = candidate {
                let gain = parent_impurity - impurity;
                if gain > best.as_ref().map_or(threshold, |b| b.gain) {
                    best = Some(Split { gain, feature, rule });
                }
            }
        }
        best
    }

    fn impurity_of(&self, rows: &[u32]) -> f64 {
        match &self.criterion {
            Criterion::Gini { pooled, n_pooled } => {
                let mut counts = vec![0u32; *n_pooled];
                for &r in rows {
                    counts[usize::from(pooled[usize::from(self.target[r as usize])])] += 1;
                }
                gini(&counts.iter().map(|&c| f64::from(c)).collect::<Vec<_>>())
            }
            Criterion::Variance => {
                let (mut s, mut ss) = (0.0, 0.0);
                for &r in rows {
                    let y = f64::from(self.target[r as usize]);
                    s += y;
                    ss += y * y;
                }
                ss - s * s / rows.len() as f64
            }
        }
    }
}

/// Gini impurity times the row count: `n - Σ c² / n`.
fn gini(counts: &[f64]) -> f64 {
    let n: f64 = counts.iter().sum();
    if n <= 0.0 { 0.0 } else { n - counts.iter().map(|c| c * c).sum::<f64>() / n }
}

/// The order in which codes are scanned: as they are for ordered variables; by `key` otherwise
/// (the classic trick that makes a prefix of the sorted codes the best subset for two classes
/// and for squared error). Codes without rows are left out.
fn scan_order(n_codes: usize, ordered: bool, count: impl Fn(usize) -> f64, key: impl Fn(usize) -> f64) -> Vec<usize> {
    let mut codes: Vec<usize> = (0..n_codes).filter(|&c| count(c) > 0.0).collect();
    if !ordered {
        codes.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
    }
    codes
}

fn rule_for(order: &[usize], cut: usize, ordered: bool, n_codes: usize) -> SplitRule {
    if ordered {
        SplitRule::Below(order[cut] as u16)
    } else {
        let mut mask = vec![0u64; n_codes.div_ceil(64)];
        for &code in &order[..=cut] {
            mask[code / 64] |= 1 << (code % 64);
        }
        SplitRule::InSet(mask)
    }
}

fn gini_split(histogram: &[u32], n_codes: usize, k: usize, ordered: bool, min_leaf: f64) -> Option<(f64, SplitRule)> {
    let row = |c: usize| &histogram[c * k..(c + 1) * k];
    let counts: Vec<u64> = (0..n_codes).map(|c| row(c).iter().map(|&x| u64::from(x)).sum()).collect();
    let mut total = vec![0u64; k];
    for (c, _) in counts.iter().enumerate().filter(|(_, count)| **count > 0) {
        for (t, &x) in total.iter_mut().zip(row(c)) {
            *t += u64::from(x);
        }
    }
    let majority = (0..k).max_by(|&a, &b| total[a].cmp(&total[b]).then(b.cmp(&a))).unwrap_or(0);
    let key = |c: usize| f64::from(row(c)[majority]) / (counts[c] as f64).max(1.0);
    let order = scan_order(n_codes, ordered, |c| counts[c] as f64, key);
    if order.len() < 2 {
        return None;
    }
    // Gini as `n - Σ c² / n` from exact integer sums, kept up to date as codes move left.
    let impurity = |n: u64, squares: u64| if n == 0 { 0.0 } else { n as f64 - squares as f64 / n as f64 };
    let n: u64 = total.iter().sum();
    let mut left = vec![0u64; k];
    let (mut left_squares, mut right_squares) = (0u64, total.iter().map(|t| t * t).sum::<u64>());
    let mut best: Option<(f64, usize)> = None;
    let mut n_left = 0u64;
    for (i, &c) in order[..order.len() - 1].iter().enumerate() {
        for (j, &x) in row(c).iter().enumerate() {
            if x > 0 {
                let x = u64::from(x);
                let (l, r) = (left[j], total[j] - left[j]);
                left_squares += 2 * l * x + x * x;
                right_squares -= 2 * r * x - x * x;
                left[j] = l + x;
            }
        }
        n_left += counts[c];
        if (n_left as f64) < min_leaf || ((n - n_left) as f64) < min_leaf {
            continue;
        }
        let score = impurity(n_left, left_squares) + impurity(n - n_left, right_squares);
        if best.is_none_or(|(b, _)| score < b) {
            best = Some((score, i));
        }
    }
    best.map(|(impurity, cut)| (impurity, rule_for(&order, cut, ordered, n_codes)))
}

fn variance_split(sums: &[[u64; 3]], ordered: bool, min_leaf: f64) -> Option<(f64, SplitRule)> {
    // Integer sums below 2^53 convert exactly.
    let histogram: Vec<[f64; 3]> = sums.iter().map(|c| [c[0] as f64, c[1] as f64, c[2] as f64]).collect();
    let n_codes = histogram.len();
    let order = scan_order(n_codes, ordered, |c| histogram[c][0], |c| histogram[c][1] / histogram[c][0].max(1.0));
    if order.len() < 2 {
        return None;
    }
    let total = histogram.iter().fold([0.0; 3], |a, h| [a[0] + h[0], a[1] + h[1], a[2] + h[2]]);
    let sse = |s: [f64; 3]| if s[0] > 0.0 { s[2] - s[1] * s[1] / s[0] } else { 0.0 };
    let mut left = [0.0; 3];
    let mut best: Option<(f64, usize)> = None;
    for (i, &c) in order[..order.len() - 1].iter().enumerate() {
        for (l, h) in left.iter_mut().zip(&histogram[c]) {
            *l += h;
        }
        if left[0] < min_leaf || total[0] - left[0] < min_leaf {
            continue;
        }
        let right = [total[0] - left[0], total[1] - left[1], total[2] - left[2]];
        let impurity = sse(left) + sse(right);
        if best.is_none_or(|(b, _)| impurity < b) {
            best = Some((impurity, i));
        }
    }
    best.map(|(impurity, cut)| (impurity, rule_for(&order, cut, ordered, n_codes)))
}

impl SequentialTreesModel {
    /// Draws one row's codes into `row` (indexed by variable). Restricted variables are drawn
    /// from their leaf's allowed codes only; returns the likelihood of the restrictions (the
    /// product of the allowed leaf masses), the row's importance weight.
    fn draw_row(&self, row: &mut [u16], restrictions: Option<&[Option<Arc<Restriction>>]>, rng: &mut SeededRng) -> f64 {
        let mut likelihood = 1.0;
        for tree in &self.trees {
            let target = tree.target as usize;
            let variable = &self.variables[target];
            if let Some(gate) = variable.gate
                && row[gate.variable] == gate.missing_code
            {
                row[target] = variable.absent();
                continue;
            }
            let leaf = tree.leaf(row);
            let restriction = restrictions.and_then(|r| r[target].as_ref());
            row[target] = match restriction {
                None => tree.draw(leaf, rng).unwrap_or(variable.absent()),
                Some(restriction) => match tree.draw_allowed(leaf, restriction, rng) {
                    Some((code, mass)) => {
                        likelihood *= mass;
                        code
                    }
                    None => {
                        likelihood = 0.0;
                        tree.draw(leaf, rng).unwrap_or(variable.absent())
                    }
                },
            };
        }
        likelihood
    }

    /// Appends one row's scores: a bin code becomes a uniform score inside the bin (or its allowed
    /// part, under a restriction), drawn from `rng`; a class its score; "does not apply" 0.5 (the
    /// transform ignores it).
    fn push_scores(
        &self,
        row: &[u16],
        restrictions: Option<&[Option<Arc<Restriction>>]>,
        scores: &mut [Vec<f64>],
        rng: &mut SeededRng,
    ) {
        for (index, (variable, (column, &code))) in self.variables.iter().zip(scores.iter_mut().zip(row)).enumerate() {
            let score = if code >= variable.absent() {
                0.5
            } else {
                match (&variable.codes, restrictions.and_then(|r| r[index].as_ref())) {
                    (Codes::Bins { edges }, Some(restriction)) => {
                        let code_index = usize::from(code);
                        restriction.score_in(code, edges[code_index], edges[code_index + 1], rng)
                    }
                    (codes, _) => codes.score_of(code, rng),
                }
            };
            column.push(score);
        }
    }

    /// Samples `n_rows` rows whose global row numbers start at `first_row`. `rng` draws the codes
    /// row by row; `column_rng(i)` gives the stream of generated column `i`. Each row depends only
    /// on earlier draws, so a prefix of a block equals the same rows of the whole block.
    pub fn sample_rows(
        &self,
        first_row: u64,
        n_rows: usize,
        rng: &mut SeededRng,
        column_rng: &dyn Fn(usize) -> SeededRng,
    ) -> Result<Table> {
        let mut scores = vec![Vec::with_capacity(n_rows); self.variables.len()];
        let mut row = vec![0u16; self.variables.len()];
        for _ in 0..n_rows {
            self.draw_row(&mut row, None, rng);
            // Scores are drawn right after the row's codes, from the same stream.
            self.push_scores(&row, None, &mut scores, rng);
        }
        decode_scores(&self.transforms, &scores, first_row, n_rows, column_rng)
    }

    /// Draws `n_rows` candidate rows under `restrictions` (one per variable): their scores (one
    /// vector per variable) and importance weights. The candidates' weighted distribution is the
    /// model's distribution conditioned on the restrictions.
    pub fn sample_candidates(
        &self,
        n_rows: usize,
        restrictions: &[Option<Arc<Restriction>>],
        rng: &mut SeededRng,
    ) -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut scores = vec![Vec::with_capacity(n_rows); self.variables.len()];
        let mut weights = Vec::with_capacity(n_rows);
        let mut row = vec![0u16; self.variables.len()];
        for _ in 0..n_rows {
            weights.push(self.draw_row(&mut row, Some(restrictions), rng));
            self.push_scores(&row, Some(restrictions), &mut scores, rng);
        }
        (scores, weights)
    }

    /// A restriction of variable `variable` to `weights` (per code, "does not apply" last) and,
    /// for bins, the allowed `parts` of each bin.
    pub fn restriction(&self, variable: usize, weights: Vec<f64>, parts: Vec<Vec<(f64, f64)>>) -> Restriction {
        let prior_allowed = self.trees.iter().find(|t| t.target as usize == variable).map_or(0.0, |tree| {
            let prior = &tree.prior;
            (0..prior.codes.len())
                .map(|i| {
                    let count = prior.cumulative[i] - if i == 0 { 0 } else { prior.cumulative[i - 1] };
                    weights.get(usize::from(prior.codes[i])).copied().unwrap_or(0.0) * f64::from(count)
                })
                .sum()
        });
        Restriction { weights, parts, prior_allowed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_split_at_mass_and_keep_atoms() {
        let scores: Vec<Option<f64>> = (0..1000).map(|i| Some((f64::from(i) + 0.5) / 1000.0)).collect();
        let variable = discretise("x.value", &scores, false, 10);
        let Codes::Bins { edges } = &variable.codes else { panic!("bins") };
        assert_eq!(edges.len(), 11);
        assert!((edges[5] - 0.5).abs() < 1e-9);
        let mut atoms: Vec<Option<f64>> = vec![Some(0.25); 600];
        atoms.extend((0..400).map(|i| Some(0.5 + f64::from(i) / 1000.0)));
        let variable = discretise("x.value", &atoms, false, 10);
        assert_eq!(variable.codes.code_of(0.25), 0, "the atom is the first bin on its own");
        assert!(variable.codes.code_of(0.6) > 0);
    }

    #[test]
    fn gini_prefers_the_separating_code() {
        // Feature codes 0..3 (plus the absent code 3); class 1 lives exactly at code 2.
        let k = 2;
        let mut histogram = vec![0u32; 4 * k];
        histogram[0] = 50;
        histogram[k] = 50;
        histogram[2 * k + 1] = 40;
        let (impurity, rule) = gini_split(&histogram, 4, k, false, 5.0).expect("a split");
        assert!(impurity.abs() < 1e-9);
        let SplitRule::InSet(mask) = rule else { panic!("a set split for a categorical") };
        let left_has_two = mask[0] >> 2 & 1 == 1;
        assert!(left_has_two != (mask[0] & 1 == 1), "code 2 is alone on its side");
    }

    #[test]
    fn min_leaf_is_respected() {
        let histogram = vec![[3, 0, 0], [100, 100, 100]];
        assert!(variance_split(&histogram, true, 5.0).is_none());
    }
}
