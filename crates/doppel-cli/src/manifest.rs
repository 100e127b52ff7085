//! The provenance manifest written beside every output of `sample` and `synth`.

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use doppel_core::Warning;
use doppel_synth::FitOptions;

/// The manifest's format tag.
pub const MANIFEST_FORMAT: &str = "doppel.manifest";

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub format: &'static str,
    pub version: u32,
    pub doppel_version: &'static str,
    pub command: &'static str,
    pub created_at: String,
    pub output: String,
    pub engine: String,
    pub engine_settings: FitOptions,
    /// Why the engine was chosen, when `--engine auto` chose it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_reason: Option<String>,
    /// The differential-privacy guarantee of a `dp` model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacyInfo>,
    /// What shaped the sample: conditions, rebalancing, parity, seed rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<ControlInfo>,
    /// The metadata's constraints, which every row meets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    /// Columns exempted from rare-value protection at the user's decision (`--keep-rare`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rare_values_kept: Vec<String>,
    pub seed: u64,
    pub shard: Option<ShardInfo>,
    pub rows: u64,
    pub total_rows: u64,
    pub threads: usize,
    pub training_data: TrainingInfo,
    pub model: ModelInfo,
    pub timings: Timings,
    pub warnings: Vec<Warning>,
}

/// What a `dp` model's ledger says, for the manifest.
#[derive(Debug, Serialize)]
pub struct PrivacyInfo {
    /// The guarantee: `(ε, δ)-differential privacy`, or none for test-seeded noise.
    pub guarantee: String,
    pub epsilon: f64,
    pub delta: f64,
    pub epsilon_spent: f64,
    pub delta_spent: f64,
    /// zCDP budget and spend.
    pub rho: f64,
    pub rho_spent: f64,
    /// Noisy measurements made (the model file lists each).
    pub measurements: usize,
    /// What is treated as public.
    pub public: Vec<String>,
}

impl PrivacyInfo {
    pub fn of(model: &doppel_synth::ModelFile) -> Option<PrivacyInfo> {
        let doppel_synth::EngineModel::PrivateMarginals(dp) = &model.model else { return None };
        let ledger = &dp.ledger;
        Some(PrivacyInfo {
            guarantee: if ledger.secure_noise {
                format!("({}, {})-differential privacy", ledger.epsilon, ledger.delta)
            } else {
                "none: the noise came from a test seed recorded in the model".into()
            },
            epsilon: ledger.epsilon,
            delta: ledger.delta,
            epsilon_spent: ledger.epsilon_spent,
            delta_spent: ledger.delta_spent,
            rho: ledger.rho,
            rho_spent: ledger.rho_spent,
            measurements: ledger.entries.len(),
            public: ledger.public.clone(),
        })
    }
}

#[derive(Debug, Default, Serialize)]
pub struct ControlInfo {
    /// `--where` conditions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
    /// The share of the model's rows that meet the conditions (estimated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition_share: Option<f64>,
    /// `--rebalance` targets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rebalance: Vec<String>,
    /// `--oversample` factors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub oversample: Vec<String>,
    /// `--fair GROUP --target OUTCOME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parity: Option<ParityInfo>,
    /// `--complete` seed rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<CompletedInfo>,
}

impl ControlInfo {
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
            && self.rebalance.is_empty()
            && self.oversample.is_empty()
            && self.parity.is_none()
            && self.completed.is_none()
    }
}

#[derive(Debug, Serialize)]
pub struct ParityInfo {
    pub group: String,
    pub target: String,
}

#[derive(Debug, Serialize)]
pub struct CompletedInfo {
    pub path: String,
    pub fingerprint: String,
    pub rows: u64,
}

#[derive(Debug, Serialize)]
pub struct ShardInfo {
    pub index: u64,
    pub count: u64,
    pub first_row: u64,
}

#[derive(Debug, Serialize)]
pub struct TrainingInfo {
    pub path: Option<String>,
    pub fingerprint: Option<String>,
    pub rows: u64,
}

#[derive(Debug, Serialize)]
pub struct ModelInfo {
    pub path: Option<String>,
    pub fingerprint: String,
}

#[derive(Debug, Serialize, Default)]
pub struct Timings {
    pub read_seconds: f64,
    pub fit_seconds: f64,
    pub sample_seconds: f64,
    pub total_seconds: f64,
}

/// `sha256:<hex>` of some bytes.
pub fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!("sha256:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// `sha256:<hex>` of a file's content, read in chunks (a large input is not held twice).
pub fn fingerprint_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    let digest = hasher.finalize();
    Ok(format!("sha256:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// The manifest path for an output: `<output>.manifest.json`.
pub fn path_for(output: &Path) -> std::path::PathBuf {
    let mut name = output.as_os_str().to_os_string();
    name.push(".manifest.json");
    name.into()
}

/// The current time as ISO-8601 UTC.
pub fn now() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(0));
    doppel_core::temporal::format_datetime(micros - micros % 1_000_000, "%Y-%m-%dT%H:%M:%SZ", None)
}
