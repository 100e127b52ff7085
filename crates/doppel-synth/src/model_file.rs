//! The model file: one versioned JSON document.
//!
//! ```text
//! { "format": "doppel.model", "format_version": 1, "doppel_version": "0.1.0",
//!   "engine": "copula", "metadata": {...}, "fit": {...}, "model": {"type": "gaussian_copula", ...},
//!   "checksum": "sha256:..." }
//! ```
//!
//! The checksum covers everything else, so a corrupt or edited file is caught on load. A file
//! with a newer `format_version` is refused with a clear message; older versions will load
//! through explicit migrations, each tested on a golden file.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use doppel_core::{ConstraintSet, Error, Metadata, Result, Table, Warning};
use doppel_transform::FitSettings;

use crate::copula::{GaussianCopula, GaussianCopulaModel};
use crate::private::{PrivacySettings, PrivateMarginals, PrivateMarginalsModel};
use crate::trees::{SequentialTrees, SequentialTreesModel, TreeSettings};
use crate::{Engine, FitContext, FitProgress};

/// The format tag of model files.
pub const MODEL_FORMAT: &str = "doppel.model";
/// The newest model-file version this build reads. It writes version 1 unless the model needs 2:
/// a `dp` model with a joint distribution (`model.joint`), which a doppel that reads only version
/// 1 would otherwise sample column by column without a word.
pub const MODEL_FORMAT_VERSION: u32 = 2;

/// A fitted engine. Serialised with a `type` tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineModel {
    /// The `copula` engine.
    GaussianCopula(GaussianCopulaModel),
    /// The `tree` engine.
    SequentialTrees(SequentialTreesModel),
    /// The `dp` engine.
    PrivateMarginals(PrivateMarginalsModel),
}

/// How a model was fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// The engine.
    pub engine: Engine,
    /// The seed recorded in the model, used by `sample` when no seed is given.
    pub seed: u64,
    /// Transform settings (value protection, marginal resolution).
    pub transform: FitSettings,
    /// Settings of the `tree` engine: `None` means the defaults, and is never written for a
    /// `tree` model (fitting records the settings used), so models of other engines read as
    /// before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trees: Option<TreeSettings>,
    /// A time budget for fitting, in seconds (the `tree` engine subsamples rows to meet it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fit_seconds: Option<f64>,
    /// Why this engine was chosen, when it was chosen automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_reason: Option<String>,
    /// The privacy budget of the `dp` engine (required by it, refused by the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacySettings>,
}

impl FitOptions {
    /// Default options for `engine`.
    pub fn new(engine: Engine) -> Self {
        FitOptions {
            engine,
            seed: 0,
            transform: FitSettings::default(),
            trees: None,
            max_fit_seconds: None,
            engine_reason: None,
            privacy: None,
        }
    }
}

/// Tables with fewer rows than this get the `copula` engine when the engine is chosen
/// automatically: trees need rows to split on, a copula's pairwise correlations do not.
pub const AUTO_TREE_MIN_ROWS: usize = 500;

/// The engine chosen for a table of `n_rows` rows, and why.
pub fn choose_engine(n_rows: usize) -> (Engine, String) {
    if n_rows < AUTO_TREE_MIN_ROWS {
        (
            Engine::Copula,
            format!(
                "chosen automatically: the table has {n_rows} rows, fewer than {AUTO_TREE_MIN_ROWS}: too few for trees to learn interactions, while a copula's pairwise correlations still generalise"
            ),
        )
    } else {
        (
            Engine::Tree,
            format!(
                "chosen automatically: the table has {n_rows} rows, at least {AUTO_TREE_MIN_ROWS}: enough for sequential trees, which keep interactions that a copula loses"
            ),
        )
    }
}

/// Facts about the fit, kept for provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitInfo {
    /// The options used.
    pub options: FitOptions,
    /// Training rows.
    pub training_rows: u64,
    /// A fingerprint of the training data (set by the caller, for example the SHA-256 of the
    /// file), or `None`.
    pub training_fingerprint: Option<String>,
    /// Warnings raised while fitting.
    pub warnings: Vec<Warning>,
    /// Seconds spent fitting.
    pub fit_seconds: f64,
}

/// Everything in a model file but the checksum, in the order it is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Payload {
    format: String,
    format_version: u32,
    doppel_version: String,
    engine: Engine,
    metadata: Metadata,
    fit: FitInfo,
    model: EngineModel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    constraints: Option<ConstraintSet>,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    #[serde(flatten)]
    payload: Payload,
    checksum: String,
}

/// A fitted model with its metadata and provenance: what `doppel fit` writes.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    /// The version of doppel that wrote the model.
    pub doppel_version: String,
    /// The table's metadata.
    pub metadata: Metadata,
    /// How the model was fitted.
    pub fit: FitInfo,
    /// The fitted engine.
    pub model: EngineModel,
    /// The metadata's constraints, checked against the training data and fitted (`None` when
    /// there are none); sampling makes every row meet them.
    pub constraints: Option<ConstraintSet>,
}

fn checksum_of(payload_json: &str) -> String {
    let digest = Sha256::digest(payload_json.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl ModelFile {
    /// Fits `options.engine` on `table`.
    pub fn fit(
        table: &Table,
        metadata: Metadata,
        options: &FitOptions,
        progress: &mut dyn FnMut(FitProgress),
    ) -> Result<Self> {
        let started = std::time::Instant::now();
        metadata.check_against(table, "the data")?;
        if table.n_rows() < 2 {
            return Err(Error::InvalidData(format!(
                "the data has {} row; expected at least 2 rows to learn from (a model of one row could only copy it)",
                table.n_rows()
            )));
        }
        let constraints = fit_constraints(table, &metadata, options)?;
        let mut context = FitContext::new(progress);
        let mut options = options.clone();
        if options.engine == Engine::Tree {
            options.trees.get_or_insert_with(TreeSettings::default);
        }
        let options = &options;
        let model = match options.engine {
            Engine::Copula => {
                let engine = GaussianCopula { transform: options.transform.clone() };
                EngineModel::GaussianCopula(engine.fit(table, &metadata, &mut context)?)
            }
            Engine::Tree => {
                let engine = SequentialTrees {
                    transform: options.transform.clone(),
                    trees: options.trees.clone().unwrap_or_default(),
                    seed: options.seed,
                    max_fit_seconds: options.max_fit_seconds,
                };
                EngineModel::SequentialTrees(engine.fit(table, &metadata, &mut context)?)
            }
            Engine::Dp => {
                let privacy = options.privacy.clone().ok_or_else(|| {
                    Error::InvalidConfig(
                        "the dp engine needs a privacy budget: give `--epsilon`, for example `--epsilon 1`".into(),
                    )
                })?;
                let engine = PrivateMarginals { transform: options.transform.clone(), privacy };
                EngineModel::PrivateMarginals(engine.fit(table, &metadata, &mut context)?)
            }
        };
        Ok(ModelFile {
            doppel_version: env!("CARGO_PKG_VERSION").to_string(),
            metadata,
            fit: FitInfo {
                options: options.clone(),
                // Under differential privacy the row count is released only as a noisy estimate.
                training_rows: match &model {
                    EngineModel::PrivateMarginals(dp) => dp.rows,
                    _ => table.n_rows() as u64,
                },
                training_fingerprint: None,
                warnings: context.warnings,
                fit_seconds: started.elapsed().as_secs_f64(),
            },
            model,
            constraints,
        })
    }

    /// The engine that made the model.
    pub fn engine(&self) -> Engine {
        match self.model {
            EngineModel::GaussianCopula(_) => Engine::Copula,
            EngineModel::SequentialTrees(_) => Engine::Tree,
            EngineModel::PrivateMarginals(_) => Engine::Dp,
        }
    }

    /// The oldest format that holds this model (see [`MODEL_FORMAT_VERSION`]).
    pub fn format_version(&self) -> u32 {
        match &self.model {
            EngineModel::PrivateMarginals(dp) if dp.joint.is_some() => 2,
            _ => 1,
        }
    }

    fn payload(&self) -> Payload {
        Payload {
            format: MODEL_FORMAT.to_string(),
            format_version: self.format_version(),
            doppel_version: self.doppel_version.clone(),
            engine: self.engine(),
            metadata: self.metadata.clone(),
            fit: self.fit.clone(),
            model: self.model.clone(),
            constraints: self.constraints.clone(),
        }
    }

    /// The model file's text.
    pub fn to_json(&self) -> String {
        let payload = self.payload();
        let payload_json = serde_json::to_string(&payload).expect("invariant: the model serialises");
        let checksum = checksum_of(&payload_json);
        let mut text = serde_json::to_string(&Envelope { payload, checksum }).expect("invariant: the model serialises");
        text.push('\n');
        text
    }

    /// Parses a model file's text; `origin` names the file in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self> {
        let corrupt = |detail: String| {
            Error::Format(format!("{origin}: not a valid doppel model file ({detail}); it may be corrupt or truncated"))
        };
        if text.trim().is_empty() {
            return Err(corrupt("the file is empty".into()));
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
        let format = value.get("format").and_then(|v| v.as_str()).unwrap_or_default();
        if format != MODEL_FORMAT {
            return Err(Error::Format(format!(
                "{origin}: not a doppel model file (expected `\"format\": \"{MODEL_FORMAT}\"`)"
            )));
        }
        let version = value.get("format_version").and_then(|v| v.as_u64()).unwrap_or(0);
        let written_by = value.get("doppel_version").and_then(|v| v.as_str()).unwrap_or("an unknown version");
        if version > u64::from(MODEL_FORMAT_VERSION) {
            return Err(Error::Format(format!(
                "{origin}: the model was written by doppel {written_by} in model format {version}; this doppel {} reads formats up to {MODEL_FORMAT_VERSION}\n\nhint: upgrade doppel to load it",
                env!("CARGO_PKG_VERSION")
            )));
        }
        if version == 0 {
            return Err(corrupt("no `format_version`".into()));
        }
        let envelope: Envelope = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
        let payload_json = serde_json::to_string(&envelope.payload).expect("invariant: the model serialises");
        if checksum_of(&payload_json) != envelope.checksum {
            return Err(corrupt("the checksum does not match the content".into()));
        }
        let payload = envelope.payload;
        Ok(ModelFile {
            doppel_version: payload.doppel_version,
            metadata: payload.metadata,
            fit: payload.fit,
            model: payload.model,
            constraints: payload.constraints,
        })
    }

    /// Reads a model file's text (for callers that also fingerprint it), with the same errors
    /// as [`ModelFile::load`].
    pub fn read_text(path: &Path) -> Result<String> {
        if !path.exists() {
            return Err(Error::InvalidData(format!("{}: no such file", path.display())));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        String::from_utf8(bytes).map_err(|_| {
            Error::Format(format!(
                "{}: not a valid doppel model file (not UTF-8 text); it may be corrupt",
                path.display()
            ))
        })
    }

    /// Reads a model file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_json(&Self::read_text(path)?, &path.display().to_string())
    }
}

/// The metadata's constraints, checked and fitted on the training data.
fn fit_constraints(table: &Table, metadata: &Metadata, options: &FitOptions) -> Result<Option<ConstraintSet>> {
    if metadata.constraints.is_empty() {
        return Ok(None);
    }
    if options.engine == Engine::Dp
        && let Some(position) =
            metadata.constraints.iter().position(|c| matches!(c, doppel_core::Constraint::FixedCombinations { .. }))
    {
        return Err(Error::InvalidConfig(format!(
            "constraint {} (fixed combinations) is learned from the data's combinations, outside the privacy budget, so the dp engine cannot use it; remove it, or list the allowed values of each column instead",
            position + 1
        )));
    }
    let set = ConstraintSet::fit(&metadata.constraints, table, metadata, options.transform.min_category_count.max(1))?;
    Ok(Some(set))
}
