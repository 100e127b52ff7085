//! Mixing real and synthetic dialogues into one training set with a fixed real share.

use doppel_core::rng::stream_id;
use doppel_core::stream_rng;
use rand::RngExt;

use crate::{DialogueRecord, Error, Result};

/// How many real and synthetic records a mix takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixCounts {
    /// Real records.
    pub real: usize,
    /// Synthetic records.
    pub synthetic: usize,
}

/// The real records in a mix of `total` with real share `ratio`.
fn real_part(ratio: f64, total: usize) -> usize {
    (ratio * total as f64).round() as usize
}

/// How many records of each kind a mix takes: with `n`, exactly `n` records of which
/// `round(ratio·n)` are real (an error when a pool is too small); without, the largest mix the
/// pools allow (all of the scarcer side).
pub fn mix_counts(real: usize, synthetic: usize, ratio: f64, n: Option<usize>) -> Result<MixCounts> {
    if !(0.0..=1.0).contains(&ratio) {
        return Err(Error::InvalidConfig(format!("the real share {ratio} is not between 0 and 1")));
    }
    let total = match n {
        Some(n) => {
            let want = real_part(ratio, n);
            if want > real || n - want > synthetic {
                return Err(Error::InvalidConfig(format!(
                    "a mix of {n} records with real share {ratio} needs {want} real and {} synthetic records; \
                     there are {real} and {synthetic}",
                    n - want
                )));
            }
            n
        }
        None => {
            let by_real = if ratio > 0.0 { real as f64 / ratio } else { f64::INFINITY };
            let by_synthetic = if ratio < 1.0 { synthetic as f64 / (1.0 - ratio) } else { f64::INFINITY };
            let mut total = (by_real.min(by_synthetic) + 1e-9).floor().min((real + synthetic) as f64) as usize;
            while total > 0 && (real_part(ratio, total) > real || total - real_part(ratio, total) > synthetic) {
                total -= 1;
            }
            total
        }
    };
    if total == 0 {
        return Err(Error::InvalidData(format!(
            "nothing to mix: a real share of {ratio} with {real} real and {synthetic} synthetic records gives no records"
        )));
    }
    let real_count = real_part(ratio, total);
    Ok(MixCounts { real: real_count, synthetic: total - real_count })
}

/// `count` of `records`, chosen without replacement with a seeded generator, in their order.
fn choose(mut records: Vec<DialogueRecord>, count: usize, seed: u64, purpose: &str) -> Vec<DialogueRecord> {
    if count >= records.len() {
        return records;
    }
    let mut rng = stream_rng(seed, stream_id(purpose));
    let mut order: Vec<usize> = (0..records.len()).collect();
    for i in 0..count {
        let j = rng.random_range(i..order.len());
        order.swap(i, j);
    }
    let mut chosen = order[..count].to_vec();
    chosen.sort_unstable();
    let mut keep = vec![false; records.len()];
    for i in chosen {
        keep[i] = true;
    }
    let mut k = 0;
    records.retain(|_| {
        k += 1;
        keep[k - 1]
    });
    records
}

/// A training set whose share of real records is `ratio` (in `0..=1`): `n` records, or by
/// default as many as the pools allow (all of the scarcer side, the other side sampled). The
/// records are chosen and shuffled with `seed`, so real and synthetic ones interleave, and every
/// record's `metadata.provenance` is set to `real` or `synthetic` (real records without a backend
/// get the backend kind `real`).
pub fn mix(
    real: Vec<DialogueRecord>,
    synthetic: Vec<DialogueRecord>,
    ratio: f64,
    n: Option<usize>,
    seed: u64,
) -> Result<Vec<DialogueRecord>> {
    let counts = mix_counts(real.len(), synthetic.len(), ratio, n)?;
    let mut out = choose(real, counts.real, seed, "chat/mix/real");
    for record in &mut out {
        record.metadata.provenance = "real".to_string();
        if record.metadata.backend.kind.is_empty() {
            record.metadata.backend.kind = "real".to_string();
        }
    }
    let mut synthetic = choose(synthetic, counts.synthetic, seed, "chat/mix/synthetic");
    for record in &mut synthetic {
        record.metadata.provenance = "synthetic".to_string();
    }
    out.append(&mut synthetic);
    let mut rng = stream_rng(seed, stream_id("chat/mix/shuffle"));
    for i in (1..out.len()).rev() {
        let j = rng.random_range(0..=i);
        out.swap(i, j);
    }
    Ok(out)
}
