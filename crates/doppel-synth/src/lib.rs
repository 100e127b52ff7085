//! doppel's engines, the model file and sampling.
//!
//! An engine's configuration (such as [`GaussianCopula`]) fits on a table and returns a new,
//! fitted model; there is no half-fitted state. A [`ModelFile`] wraps the fitted model with the
//! metadata, the fit settings and provenance in one versioned, self-describing JSON document that
//! holds aggregates and learned parameters only. [`sample`] draws rows from it in fixed blocks
//! of [`BLOCK_ROWS`] rows, each with its own random stream, so output is byte-identical whatever
//! the number of threads, and shards of one seeded stream concatenate to the unsharded output.
//! Batches are encoded for their destination on the worker threads too (see [`sample`]).
//!
//! ```
//! use doppel_core::{Column, ColumnData, Metadata, Table};
//! use doppel_synth::{Engine, FitOptions, ModelFile, SampleOptions, sample};
//!
//! let ages: Vec<Option<String>> = (0..200).map(|i| Some((20 + i % 50).to_string())).collect();
//! let table = Table::try_new(vec![Column::new("age", ColumnData::Text(ages))])?;
//! let (metadata, _) = Metadata::detect(&table);
//! let model = ModelFile::fit(&table, metadata, &FitOptions::new(Engine::Copula), &mut |_| {})?;
//! let mut rows = 0;
//! let count = |batch: &Table, _index: usize| Ok(batch.n_rows());
//! sample(&model, &SampleOptions::new(100, 7), &count, &mut |n| { rows += n; Ok(()) }, &|_| {})?;
//! assert_eq!(rows, 100);
//! # Ok::<(), doppel_core::Error>(())
//! ```

pub mod control;
pub mod copula;
mod model_file;
pub mod normal;
pub mod private;
mod sampler;
pub mod trees;

pub use control::{CONDITION_OVERSAMPLE, Condition, Control, Fairness, Outcome, Rebalance, Shares, estimate};
pub use copula::{GaussianCopula, GaussianCopulaModel};
pub use model_file::{
    AUTO_TREE_MIN_ROWS, EngineModel, FitInfo, FitOptions, MODEL_FORMAT, MODEL_FORMAT_VERSION, ModelFile, choose_engine,
};
pub use private::{DEFAULT_DELTA, PrivacyLedger, PrivacySettings, PrivateMarginals, PrivateMarginalsModel};
pub use sampler::{BLOCK_ROWS, SampleOptions, Shard, sample, template};
pub use trees::{SequentialTrees, SequentialTreesModel, TreeSettings};

use doppel_core::{Column, Result, SeededRng, Table, Warning};
use doppel_transform::TransformState;
use serde::{Deserialize, Serialize};

/// The engines doppel offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// The fast statistical engine: a Gaussian copula with empirical marginals.
    Copula,
    /// The high-fidelity engine: sequential decision trees over discretised columns.
    Tree,
    /// The differentially private engine: noisy marginals on a tree of column pairs (MST family).
    Dp,
}

impl Engine {
    /// The engine's name as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Copula => "copula",
            Engine::Tree => "tree",
            Engine::Dp => "dp",
        }
    }
}

/// The stages of fitting, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitStage {
    /// Fitting the column transforms.
    Transforms,
    /// Estimating correlations.
    Correlations,
    /// Growing one tree per encoded column.
    Trees,
}

/// A progress report: `done` of `total` steps of a stage.
#[derive(Debug, Clone, Copy)]
pub struct FitProgress {
    /// The stage.
    pub stage: FitStage,
    /// Steps done.
    pub done: usize,
    /// Steps in all.
    pub total: usize,
}

/// What fitting carries besides the data: a progress callback and the warnings collected.
pub struct FitContext<'a> {
    progress: &'a mut dyn FnMut(FitProgress),
    /// Non-fatal findings.
    pub warnings: Vec<Warning>,
}

impl<'a> FitContext<'a> {
    /// A context reporting progress to `progress`.
    pub fn new(progress: &'a mut dyn FnMut(FitProgress)) -> Self {
        FitContext { progress, warnings: Vec::new() }
    }

    pub(crate) fn report(&mut self, stage: FitStage, done: usize, total: usize) {
        (self.progress)(FitProgress { stage, done, total });
    }
}

/// Decodes uniform scores (one vector per encoded column, in the transforms' order) into a table,
/// column by column; `column_rng(i)` gives the stream of column `i`'s generated values.
pub(crate) fn decode_scores(
    transforms: &[TransformState],
    scores: &[Vec<f64>],
    first_row: u64,
    n_rows: usize,
    column_rng: &dyn Fn(usize) -> SeededRng,
) -> Result<Table> {
    let mut columns: Vec<Column> = Vec::with_capacity(transforms.len());
    let mut offset = 0;
    for (index, transform) in transforms.iter().enumerate() {
        let width = transform.output_columns().len();
        let slices: Vec<&[f64]> = scores[offset..offset + width].iter().map(Vec::as_slice).collect();
        offset += width;
        let mut rng = column_rng(index);
        columns.push(transform.reverse_transform(&slices, first_row, n_rows, &mut rng)?);
    }
    Table::try_new(columns)
}
