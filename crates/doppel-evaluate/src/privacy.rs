//! Privacy: distances to the closest record (a Gower distance over mixed types), exact copies,
//! membership inference and attribute inference.
//!
//! The Gower distance between two rows is the mean over the evaluated columns of: for numbers
//! and dates, |a − b| divided by the real data's range (capped at 1); for categories, 0 when
//! equal and 1 otherwise; a missing value is at distance 0 from another missing value and 1 from
//! any value.

use std::collections::HashSet;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Dataset, MISSING, Schema, Values};
use crate::sampling::sample_rows;

/// Settings of the privacy metrics.
#[derive(Debug, Clone)]
pub struct PrivacyOptions {
    /// At most this many rows of each table take part in the distance computations.
    pub max_rows: usize,
    /// Seed of the subsampling.
    pub seed: u64,
    /// Columns whose values an attacker tries to infer from the other columns.
    pub sensitive: Vec<String>,
    /// Whether to run the membership and attribute attacks (per-group breakdowns skip them).
    pub attacks: bool,
}

impl Default for PrivacyOptions {
    fn default() -> Self {
        PrivacyOptions { max_rows: 5_000, seed: 0, sensitive: Vec::new(), attacks: true }
    }
}

/// One column's distance contribution at most (a category mismatch, a missing value against a
/// present one, numbers a whole range apart): distances are integers in these units, so sums are
/// exact and need no floating-point order.
const UNIT: u32 = 1 << UNIT_BITS;
/// [`UNIT`] as a power of two: counts of mismatches become distances by a shift.
const UNIT_BITS: u32 = 16;
/// Where a missing number is encoded: further than a range from anything.
const MISSING_NUMBER: i32 = -4 * UNIT as i32;

/// Rows encoded for distance computations, row-major: numbers scaled to the real range in
/// [`UNIT`]s, category codes of small dictionaries as bytes (missing = 255), and of large ones as
/// `u32`.
struct Encoded {
    numbers: Vec<i32>,
    narrow: Vec<u8>,
    wide: Vec<u32>,
    n_numbers: usize,
    n_narrow: usize,
    n_wide: usize,
    n_rows: usize,
}

/// How columns are scaled: the real data's minimum and 1/range per continuous column; which
/// discrete columns fit a byte.
#[derive(Clone)]
struct Space {
    scale: Vec<(usize, f64, f64)>,
    narrow: Vec<usize>,
    wide: Vec<usize>,
}

/// The byte that stands for a missing category in a narrow column.
const MISSING_BYTE: u8 = u8::MAX;

impl Space {
    fn fit(schema: &Schema, real: &Dataset) -> Space {
        let mut space = Space { scale: Vec::new(), narrow: Vec::new(), wide: Vec::new() };
        for (c, spec) in schema.columns.iter().enumerate() {
            match &real.columns[c] {
                Values::Continuous(v) => {
                    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                    for &x in v.iter().filter(|x| !x.is_nan()) {
                        lo = lo.min(x);
                        hi = hi.max(x);
                    }
                    let range = if hi > lo { hi - lo } else { 1.0 };
                    space.scale.push((c, if lo.is_finite() { lo } else { 0.0 }, 1.0 / range));
                }
                Values::Discrete(_) if spec.dictionary.len() < usize::from(MISSING_BYTE) => space.narrow.push(c),
                Values::Discrete(_) => space.wide.push(c),
            }
        }
        space
    }

    /// The same space without one column (the attribute an attacker infers).
    fn without(&self, column: usize) -> Space {
        let keep = |list: &[usize]| list.iter().copied().filter(|&c| c != column).collect();
        Space {
            scale: self.scale.iter().copied().filter(|&(c, _, _)| c != column).collect(),
            narrow: keep(&self.narrow),
            wide: keep(&self.wide),
        }
    }

    fn n_columns(&self) -> usize {
        self.scale.len() + self.narrow.len() + self.wide.len()
    }

    fn encode(&self, data: &Dataset, rows: &[usize]) -> Encoded {
        let (n_numbers, n_narrow, n_wide) = (self.scale.len(), self.narrow.len(), self.wide.len());
        let mut numbers = Vec::with_capacity(rows.len() * n_numbers);
        let mut narrow = Vec::with_capacity(rows.len() * n_narrow);
        let mut wide = Vec::with_capacity(rows.len() * n_wide);
        for &r in rows {
            for &(c, lo, inv) in &self.scale {
                let x = data.columns[c].continuous()[r];
                numbers.push(if x.is_nan() {
                    MISSING_NUMBER
                } else {
                    // Synthetic values may leave the real range: keep them within a range of it.
                    (((x - lo) * inv).clamp(-1.0, 2.0) * f64::from(UNIT)).round() as i32
                });
            }
            for &c in &self.narrow {
                // The dictionary (shared by every table) has fewer than 255 labels, so every
                // code fits below the missing byte.
                let code = data.columns[c].discrete()[r];
                narrow.push(if code == MISSING { MISSING_BYTE } else { code as u8 });
            }
            for &c in &self.wide {
                wide.push(data.columns[c].discrete()[r]);
            }
        }
        Encoded { numbers, narrow, wide, n_numbers, n_narrow, n_wide, n_rows: rows.len() }
    }
}

/// The nearest and second-nearest distance of a query row, and the index of the nearest.
type Near = (u32, u32, usize);

/// Reference rows per block of the column-major layout that [`nearest_two`] scans.
const LANES: usize = 16;

/// Reference rows in blocks of [`LANES`] rows, column-major inside each block, so that one
/// query value is compared with 16 reference values at once (vectorised by the compiler).
struct Blocked {
    numbers: Vec<i32>,
    narrow: Vec<u8>,
    wide: Vec<u32>,
    n_numbers: usize,
    n_narrow: usize,
    n_wide: usize,
    n_rows: usize,
}

/// Copies a row-major matrix into blocks of [`LANES`] rows, column-major inside each block.
fn to_blocks<T: Copy + Default>(values: &[T], n_rows: usize, n_columns: usize) -> Vec<T> {
    let mut out = vec![T::default(); n_rows.div_ceil(LANES) * LANES * n_columns];
    for r in 0..n_rows {
        let (block, lane) = (r / LANES, r % LANES);
        for j in 0..n_columns {
            out[(block * n_columns + j) * LANES + lane] = values[r * n_columns + j];
        }
    }
    out
}

impl Blocked {
    fn new(rows: &Encoded) -> Blocked {
        Blocked {
            numbers: to_blocks(&rows.numbers, rows.n_rows, rows.n_numbers),
            narrow: to_blocks(&rows.narrow, rows.n_rows, rows.n_narrow),
            wide: to_blocks(&rows.wide, rows.n_rows, rows.n_wide),
            n_numbers: rows.n_numbers,
            n_narrow: rows.n_narrow,
            n_wide: rows.n_wide,
            n_rows: rows.n_rows,
        }
    }
}

/// Counts, per reference row of a block, the narrow columns that differ from the query (at most
/// 255 columns per call, so that the byte counters cannot overflow).
#[inline(always)]
fn count_byte_mismatches(counts: &mut [u8; LANES], column: &[u8], value: u8) {
    let Ok(column) = <&[u8; LANES]>::try_from(column) else { return };
    for lane in 0..LANES {
        counts[lane] += u8::from(column[lane] != value);
    }
}

/// Adds one wide categorical column's contribution for a block of reference rows.
#[inline(always)]
fn add_mismatches(distance: &mut [u32; LANES], column: &[u32], value: u32) {
    let Ok(column) = <&[u32; LANES]>::try_from(column) else { return };
    for lane in 0..LANES {
        distance[lane] += if column[lane] != value { UNIT } else { 0 };
    }
}

/// Adds one numeric column's contribution for a block of reference rows.
#[inline(always)]
fn add_differences(distance: &mut [u32; LANES], column: &[i32], value: i32) {
    let Ok(column) = <&[i32; LANES]>::try_from(column) else { return };
    for lane in 0..LANES {
        // Both sides lie within [−4, 2] ranges, so the difference fits an i32; signed
        // arithmetic keeps this within what SSE2 vectorises (no unsigned minimum there).
        let diff = (column[lane] - value).abs().min(UNIT as i32);
        distance[lane] += diff as u32;
    }
}

/// The distances from each query row to its nearest and second-nearest reference rows, and the
/// index of the nearest.
fn nearest_two(query: &Encoded, reference: &Encoded) -> Vec<Near> {
    let blocked = Blocked::new(reference);
    let (nn, na, nw) = (blocked.n_numbers, blocked.n_narrow, blocked.n_wide);
    (0..query.n_rows)
        .into_par_iter()
        .map(|q| {
            nearest_for(
                &query.numbers[q * nn..(q + 1) * nn],
                &query.narrow[q * na..(q + 1) * na],
                &query.wide[q * nw..(q + 1) * nw],
                &blocked,
            )
        })
        .collect()
}

/// The nearest and second-nearest reference rows of one query row.
#[inline(never)]
fn nearest_for(qn: &[i32], qa: &[u8], qw: &[u32], blocked: &Blocked) -> Near {
    let (nn, na, nw) = (blocked.n_numbers, blocked.n_narrow, blocked.n_wide);
    let (mut best, mut second, mut best_index) = (u32::MAX, u32::MAX, usize::MAX);
    for block in 0..blocked.n_rows.div_ceil(LANES) {
        let mut distance = [0u32; LANES];
        let narrow = &blocked.narrow[block * na * LANES..(block + 1) * na * LANES];
        for (columns, values) in narrow.chunks(255 * LANES).zip(qa.chunks(255)) {
            let mut counts = [0u8; LANES];
            for (column, &value) in columns.chunks_exact(LANES).zip(values) {
                count_byte_mismatches(&mut counts, column, value);
            }
            for (d, &c) in distance.iter_mut().zip(&counts) {
                *d += u32::from(c) << UNIT_BITS;
            }
        }
        let wide = &blocked.wide[block * nw * LANES..(block + 1) * nw * LANES];
        for (column, &value) in wide.chunks_exact(LANES).zip(qw) {
            add_mismatches(&mut distance, column, value);
        }
        let numbers = &blocked.numbers[block * nn * LANES..(block + 1) * nn * LANES];
        for (column, &value) in numbers.chunks_exact(LANES).zip(qn) {
            add_differences(&mut distance, column, value);
        }
        let valid = (blocked.n_rows - block * LANES).min(LANES);
        if distance[..valid].iter().fold(u32::MAX, |m, &d| m.min(d)) >= second {
            continue;
        }
        for (lane, &d) in distance[..valid].iter().enumerate() {
            if d < best {
                second = best;
                best = d;
                best_index = block * LANES + lane;
            } else if d < second {
                second = d;
            }
        }
    }
    (best, second, best_index)
}

/// A histogram of distances to the closest training record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DcrHistogram {
    /// Bin edges (Gower distance), one more than the counts.
    pub edges: Vec<f64>,
    /// Shares of synthetic rows per bin.
    pub synthetic: Vec<f64>,
    /// Shares of holdout rows per bin (empty without a holdout).
    pub holdout: Vec<f64>,
}

/// One membership-inference attack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembershipAttack {
    /// The attack's name.
    pub attack: String,
    /// What the attacker computes.
    pub description: String,
    /// ROC AUC of telling training rows (members) from holdout rows (non-members); 0.5 = no better than chance.
    pub auc: Option<f64>,
}

/// An attribute-inference attack on one sensitive column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeInference {
    /// The sensitive column.
    pub column: String,
    /// Share of training rows whose value the attacker gets right (numbers: within 5 % of the range).
    pub members: f64,
    /// The same for holdout rows; the gap to `members` is what the synthetic data leaks beyond
    /// what it teaches about the population.
    pub non_members: Option<f64>,
    /// Share right by always guessing the most common value (numbers: the median).
    pub baseline: f64,
}

/// The privacy section of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Privacy {
    /// The share of synthetic rows closer to the training data (distance to closest record) than
    /// the median holdout row is, ties at the median counting half: 0.5 is ideal, 1.0 means the
    /// synthetic rows sit on training rows, far below 0.5 means rows that resemble nothing real.
    pub dcr_share: Option<f64>,
    /// The probability that a synthetic row lies closer to the training data than a random
    /// holdout row does (ties count half): the same idea over the whole holdout distribution.
    pub dcr_closer_probability: Option<f64>,
    /// mostlyai-qa's literal form: the share of synthetic rows closer to a training sample than
    /// to the holdout, with the training sample cut to the holdout's size (ties count half).
    pub dcr_share_size_matched: Option<f64>,
    /// Share of synthetic rows equal to a training row on every evaluated column.
    pub exact_copy_rate: f64,
    /// Share of holdout rows equal to a training row: the rate real data itself reaches.
    pub holdout_exact_match_rate: Option<f64>,
    /// Median distance from a synthetic row to its closest training row.
    pub dcr_median_synthetic: Option<f64>,
    /// Median distance from a holdout row to its closest training row.
    pub dcr_median_holdout: Option<f64>,
    /// 5th percentile of the synthetic DCR over the 5th percentile of the holdout DCR (below 1:
    /// synthetic rows crowd closer to training rows than new real rows do).
    pub dcr_p5_ratio: Option<f64>,
    /// 5th percentile of the nearest-neighbour distance ratio (closest / second closest training
    /// row) of synthetic rows.
    pub nndr_p5_synthetic: Option<f64>,
    /// The same for holdout rows.
    pub nndr_p5_holdout: Option<f64>,
    /// The highest AUC of the membership-inference attacks (null without a holdout).
    pub membership_auc: Option<f64>,
    /// Each attack.
    pub membership_attacks: Vec<MembershipAttack>,
    /// Attribute inference per sensitive column.
    pub attribute_inference: Vec<AttributeInference>,
    /// The DCR distributions.
    pub dcr_histogram: DcrHistogram,
    /// Rows used per role after subsampling.
    pub rows_used: RowsUsed,
    /// Whether any table was subsampled.
    pub subsampled: bool,
}

/// How many rows of each table took part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowsUsed {
    /// Training rows in the reference set.
    pub training: usize,
    /// Synthetic query rows.
    pub synthetic: usize,
    /// Holdout query rows.
    pub holdout: usize,
}

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// P(a < b) + ½ P(a = b) for independent draws from the two samples (the Mann–Whitney AUC).
pub fn probability_less(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let sb = sorted(b.to_vec());
    let mut total = 0.0;
    for &x in a {
        let below = sb.partition_point(|&y| y < x);
        let not_above = sb.partition_point(|&y| y <= x);
        // b values above x count 1, equal ones 0.5.
        total += (sb.len() - not_above) as f64 + 0.5 * (not_above - below) as f64;
    }
    Some(total / (a.len() as f64 * b.len() as f64))
}

fn row_key(data: &Dataset, row: usize) -> Vec<u64> {
    data.columns
        .iter()
        .map(|c| match c {
            Values::Continuous(v) => {
                let x = v[row];
                if x.is_nan() { u64::MAX } else { (x + 0.0).to_bits() }
            }
            Values::Discrete(v) => u64::from(v[row]),
        })
        .collect()
}

fn exact_rate(training: &HashSet<Vec<u64>>, data: &Dataset) -> f64 {
    if data.n_rows == 0 {
        return 0.0;
    }
    let hits = (0..data.n_rows).into_par_iter().filter(|&r| training.contains(&row_key(data, r))).count();
    hits as f64 / data.n_rows as f64
}

/// Whether each of the given rows equals some row of the set.
fn exact_hits(set: &HashSet<Vec<u64>>, data: &Dataset, rows: &[usize]) -> Vec<bool> {
    rows.par_iter().map(|&r| set.contains(&row_key(data, r))).collect()
}

/// Sets the nearest distance to 0 for rows with an exact twin in the whole reference table (the
/// sample searched may not hold it); the nearest found becomes the second nearest.
fn with_exact(nn: Vec<Near>, exact: &[bool]) -> Vec<Near> {
    nn.into_iter()
        .zip(exact)
        .map(|((best, second, index), &hit)| if hit && best > 0 { (0, best, index) } else { (best, second, index) })
        .collect()
}

fn histogram(synthetic: &[f64], holdout: &[f64]) -> DcrHistogram {
    const BINS: usize = 30;
    let top = synthetic.iter().chain(holdout).copied().fold(0.0f64, f64::max);
    let top = if top > 0.0 { top } else { 1.0 };
    let edges: Vec<f64> = (0..=BINS).map(|i| top * i as f64 / BINS as f64).collect();
    let shares = |values: &[f64]| {
        if values.is_empty() {
            return Vec::new();
        }
        let mut counts = vec![0usize; BINS];
        for &v in values {
            counts[((v / top * BINS as f64) as usize).min(BINS - 1)] += 1;
        }
        counts.into_iter().map(|c| c as f64 / values.len() as f64).collect()
    };
    DcrHistogram { edges, synthetic: shares(synthetic), holdout: shares(holdout) }
}

/// Computes the privacy metrics. `holdout` enables the comparisons and the attacks.
pub fn privacy(
    schema: &Schema,
    real: &Dataset,
    synthetic: &Dataset,
    holdout: Option<&Dataset>,
    options: &PrivacyOptions,
) -> crate::Result<Privacy> {
    let space = Space::fit(schema, real);
    let n_columns = space.n_columns().max(1) as f64;
    let cap = options.max_rows.max(1);
    let seed = options.seed;

    let training_rows: HashSet<Vec<u64>> = (0..real.n_rows).map(|r| row_key(real, r)).collect();
    let exact_copy_rate = exact_rate(&training_rows, synthetic);
    let holdout_exact_match_rate = holdout.map(|h| exact_rate(&training_rows, h));

    // Query rows and the rows they are looked up in are capped at `cap`. A row equal to some row
    // of the whole reference table is at distance 0 whether or not the sample holds its twin, so
    // a copy scores as a copy however large the table is.
    let train_ref_rows = sample_rows(real.n_rows, cap, seed, "privacy/training-reference");
    let train_ref = space.encode(real, &train_ref_rows);
    let synth_rows = sample_rows(synthetic.n_rows, cap, seed, "privacy/synthetic-queries");
    let synth_queries = space.encode(synthetic, &synth_rows);
    let to_gower = |d: u32| f64::from(d) / (f64::from(UNIT) * n_columns);

    let synth_nn_raw = nearest_two(&synth_queries, &train_ref);
    let synth_nn = with_exact(synth_nn_raw.clone(), &exact_hits(&training_rows, synthetic, &synth_rows));
    let dcr_synth: Vec<f64> = synth_nn.iter().map(|&(d, _, _)| to_gower(d)).collect();
    let nndr = |nn: &[Near]| {
        sorted(
            nn.iter().map(|&(a, b, _)| if b > 0 && b < u32::MAX { f64::from(a) / f64::from(b) } else { 1.0 }).collect(),
        )
    };
    let nndr_synth = nndr(&synth_nn);
    let dcr_synth_sorted = sorted(dcr_synth.clone());

    let mut result = Privacy {
        dcr_share: None,
        dcr_closer_probability: None,
        dcr_share_size_matched: None,
        exact_copy_rate,
        holdout_exact_match_rate,
        dcr_median_synthetic: quantile(&dcr_synth_sorted, 0.5),
        dcr_median_holdout: None,
        dcr_p5_ratio: None,
        nndr_p5_synthetic: quantile(&nndr_synth, 0.05),
        nndr_p5_holdout: None,
        membership_auc: None,
        membership_attacks: Vec::new(),
        attribute_inference: Vec::new(),
        dcr_histogram: histogram(&dcr_synth, &[]),
        rows_used: RowsUsed { training: train_ref_rows.len(), synthetic: synth_rows.len(), holdout: 0 },
        subsampled: train_ref_rows.len() < real.n_rows || synth_rows.len() < synthetic.n_rows,
    };

    // Members: training rows; non-members: holdout rows. Both are looked up in the synthetic data.
    let member_rows =
        sample_rows(real.n_rows, cap.min(holdout.map_or(cap, |h| h.n_rows.div_ceil(2))), seed, "privacy/members");
    let members = space.encode(real, &member_rows);
    let synth_ref_rows = sample_rows(synthetic.n_rows, cap, seed, "privacy/synthetic-reference");
    let synth_ref = space.encode(synthetic, &synth_ref_rows);
    let run_attacks = options.attacks && holdout.is_some();
    let synthetic_rows: HashSet<Vec<u64>> =
        if run_attacks { (0..synthetic.n_rows).map(|r| row_key(synthetic, r)).collect() } else { HashSet::new() };
    let members_to_synth = if run_attacks {
        with_exact(nearest_two(&members, &synth_ref), &exact_hits(&synthetic_rows, real, &member_rows))
    } else {
        Vec::new()
    };

    if let Some(holdout) = holdout {
        let hold_rows = sample_rows(holdout.n_rows, cap, seed, "privacy/holdout-queries");
        let hold_queries = space.encode(holdout, &hold_rows);
        let hold_nn =
            with_exact(nearest_two(&hold_queries, &train_ref), &exact_hits(&training_rows, holdout, &hold_rows));
        let dcr_hold: Vec<f64> = hold_nn.iter().map(|&(d, _, _)| to_gower(d)).collect();
        let dcr_hold_sorted = sorted(dcr_hold.clone());
        result.dcr_share = quantile(&dcr_hold_sorted, 0.5).and_then(|median| probability_less(&dcr_synth, &[median]));
        result.dcr_closer_probability = probability_less(&dcr_synth, &dcr_hold);
        result.dcr_median_holdout = quantile(&dcr_hold_sorted, 0.5);
        result.dcr_p5_ratio = match (quantile(&dcr_synth_sorted, 0.05), quantile(&dcr_hold_sorted, 0.05)) {
            (Some(s), Some(h)) if h > 0.0 => Some(s / h),
            (Some(s), Some(_)) => Some(if s > 0.0 { f64::INFINITY } else { 1.0 }).filter(|v| v.is_finite()),
            _ => None,
        };
        result.nndr_p5_holdout = quantile(&nndr(&hold_nn), 0.05);
        result.dcr_histogram = histogram(&dcr_synth, &dcr_hold);
        result.rows_used.holdout = hold_rows.len();
        result.subsampled |= hold_rows.len() < holdout.n_rows;

        // mostlyai-qa's literal share: a training sample of the holdout's size against the holdout.
        // When the training sample already has the holdout's size it is that sample.
        let to_matched = if train_ref_rows.len() == hold_rows.len() {
            synth_nn_raw.clone()
        } else {
            let matched_rows = sample_rows(real.n_rows, hold_rows.len(), seed, "privacy/size-matched");
            nearest_two(&synth_queries, &space.encode(real, &matched_rows))
        };
        let to_hold = nearest_two(&synth_queries, &hold_queries);
        let closer: f64 = to_matched
            .iter()
            .zip(&to_hold)
            .map(|(t, h)| {
                if t.0 < h.0 {
                    1.0
                } else if t.0 == h.0 {
                    0.5
                } else {
                    0.0
                }
            })
            .sum();
        result.dcr_share_size_matched = (!to_matched.is_empty()).then(|| closer / to_matched.len() as f64);

        // Membership inference: members = training rows, non-members = half of the holdout; the
        // other half is the attacker's reference sample of the population.
        let shuffled = crate::sampling::shuffled_rows(holdout.n_rows, seed, "privacy/holdout-split");
        let half = holdout.n_rows / 2;
        let mut non_member_rows: Vec<usize> = shuffled[..half.min(cap)].to_vec();
        let mut reference_rows: Vec<usize> = shuffled[half..].iter().copied().take(cap).collect();
        non_member_rows.sort_unstable();
        reference_rows.sort_unstable();
        if options.attacks && !non_member_rows.is_empty() && !reference_rows.is_empty() {
            let non_members = space.encode(holdout, &non_member_rows);
            let reference = space.encode(holdout, &reference_rows);
            let member_rows_n = member_rows.len().min(non_member_rows.len());
            let members_cut = &members_to_synth[..member_rows_n];
            let non_to_synth = with_exact(
                nearest_two(&non_members, &synth_ref),
                &exact_hits(&synthetic_rows, holdout, &non_member_rows),
            );
            let mut labels = vec![true; member_rows_n];
            labels.extend(std::iter::repeat_n(false, non_to_synth.len()));
            // Attack 1: the closer a row is to a synthetic row, the likelier it was trained on.
            let scores: Vec<f64> = members_cut.iter().chain(&non_to_synth).map(|&(d, _, _)| -f64::from(d)).collect();
            result.membership_attacks.push(MembershipAttack {
                attack: "distance to closest synthetic record".into(),
                description: "scores a row by how close its nearest synthetic row is".into(),
                auc: doppel_learn::metrics::roc_auc(&scores, &labels),
            });
            // Attack 2 (in the spirit of DOMIAS): synthetic density over population density,
            // each estimated by the nearest-neighbour distance.
            let members_enc = space.encode(real, &member_rows[..member_rows_n]);
            let members_to_ref = nearest_two(&members_enc, &reference);
            let non_to_ref = nearest_two(&non_members, &reference);
            let eps = f64::from(UNIT) / 2.0;
            let ratio = |syn: &Near, pop: &Near| (f64::from(pop.0) + eps) / (f64::from(syn.0) + eps);
            let scores: Vec<f64> = members_cut
                .iter()
                .zip(&members_to_ref)
                .map(|(s, p)| ratio(s, p))
                .chain(non_to_synth.iter().zip(&non_to_ref).map(|(s, p)| ratio(s, p)))
                .collect();
            result.membership_attacks.push(MembershipAttack {
                attack: "density ratio (DOMIAS-style)".into(),
                description: "scores a row by how much closer it is to the synthetic data than to a reference sample of the population".into(),
                auc: doppel_learn::metrics::roc_auc(&scores, &labels),
            });
            result.membership_auc = result
                .membership_attacks
                .iter()
                .filter_map(|a| a.auc)
                .fold(None, |m: Option<f64>, a| Some(m.map_or(a, |m| m.max(a))));

            for name in &options.sensitive {
                result.attribute_inference.push(attribute_inference(
                    schema,
                    &space,
                    name,
                    (real, &member_rows[..member_rows_n]),
                    Some((holdout, &non_member_rows)),
                    (synthetic, &synth_ref_rows),
                )?);
            }
        }
    } else if options.attacks {
        for name in &options.sensitive {
            result.attribute_inference.push(attribute_inference(
                schema,
                &space,
                name,
                (real, &member_rows),
                None,
                (synthetic, &synth_ref_rows),
            )?);
        }
    }
    Ok(result)
}

fn attribute_inference(
    schema: &Schema,
    space: &Space,
    column: &str,
    members: (&Dataset, &[usize]),
    non_members: Option<(&Dataset, &[usize])>,
    synthetic: (&Dataset, &[usize]),
) -> crate::Result<AttributeInference> {
    let c = schema.index_of(column).ok_or_else(|| doppel_core::Error::ColumnNotFound {
        column: column.to_string(),
        available: schema.columns.iter().map(|c| c.name.clone()).collect(),
    })?;
    // The attacker matches on every other column.
    let space = &space.without(c);
    let reference = space.encode(synthetic.0, synthetic.1);
    let truth_values = |data: &Dataset, rows: &[usize]| data.columns[c].select(rows);
    let synth_values = truth_values(synthetic.0, synthetic.1);
    let real_all = &members.0.columns[c];
    let tolerance = {
        let v: Vec<f64> = real_all.continuous().iter().copied().filter(|x| !x.is_nan()).collect();
        let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
        if hi > lo { 0.05 * (hi - lo) } else { 0.0 }
    };
    let correct = |truth: &Values, guess: &Values, i: usize, j: usize| match (truth, guess) {
        (Values::Continuous(t), Values::Continuous(g)) => {
            if t[i].is_nan() || g[j].is_nan() {
                t[i].is_nan() && g[j].is_nan()
            } else {
                (t[i] - g[j]).abs() <= tolerance
            }
        }
        (Values::Discrete(t), Values::Discrete(g)) => t[i] == g[j],
        _ => false,
    };
    let attack = |data: &Dataset, rows: &[usize]| -> f64 {
        if rows.is_empty() {
            return 0.0;
        }
        let queries = space.encode(data, rows);
        let nn = nearest_two(&queries, &reference);
        let truth = truth_values(data, rows);
        let hits = nn
            .iter()
            .enumerate()
            .filter(|(i, (_, _, j))| *j != usize::MAX && correct(&truth, &synth_values, *i, *j))
            .count();
        hits as f64 / rows.len() as f64
    };
    let member_score = attack(members.0, members.1);
    let non_member_score = non_members.map(|(d, r)| attack(d, r));
    let baseline = match real_all {
        Values::Discrete(codes) => {
            let mut counts = std::collections::HashMap::new();
            codes.iter().for_each(|&x| *counts.entry(x).or_insert(0usize) += 1);
            let top = counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(&k, _)| k).unwrap_or(MISSING);
            codes.iter().filter(|&&x| x == top).count() as f64 / codes.len().max(1) as f64
        }
        Values::Continuous(v) => {
            let s = sorted(v.iter().copied().filter(|x| !x.is_nan()).collect());
            let median = quantile(&s, 0.5).unwrap_or(0.0);
            v.iter().filter(|&&x| !x.is_nan() && (x - median).abs() <= tolerance).count() as f64 / v.len().max(1) as f64
        }
    };
    Ok(AttributeInference {
        column: column.to_string(),
        members: member_score,
        non_members: non_member_score,
        baseline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_less_counts_ties_half() {
        assert_eq!(probability_less(&[0.0, 0.0], &[1.0, 2.0]), Some(1.0));
        assert_eq!(probability_less(&[1.0], &[1.0]), Some(0.5));
        assert_eq!(probability_less(&[3.0], &[1.0, 2.0]), Some(0.0));
    }
}
