//! Best-first growing of one histogram-based regression tree, after scikit-learn's `TreeGrower`
//! and `Splitter`.
//!
//! Determinism: every histogram of a feature is summed in partition order by a single task, split
//! candidates are computed per feature and compared sequentially in feature order, so the result
//! does not depend on the number of threads.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use crate::binning::FeatureBinning;
use crate::tree::{Bitset, NO_BITSET, Node, Tree, in_bitset, set_bit};

/// Bins per feature histogram (the missing-values bin is at most 255).
pub(crate) const N_BINS: usize = 256;
/// scikit-learn's `min_hessian_to_split`.
const MIN_HESSIAN_TO_SPLIT: f64 = 1e-3;
/// scikit-learn's `MIN_CAT_SUPPORT` (LightGBM's `cat_smooth`).
const MIN_CAT_SUPPORT: f64 = 10.0;
/// Below this many (row, feature) pairs a histogram is built on the calling thread.
const PARALLEL_MIN_WORK: usize = 1 << 14;
/// Below this many features split finding runs on the calling thread.
const PARALLEL_MIN_FEATURES: usize = 32;

/// Gradient sum, hessian sum and sample count of one bin.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct HistBin {
    g: f64,
    h: f64,
    c: u32,
}

type FeatureHist = [HistBin; N_BINS];
type Histograms = Vec<FeatureHist>;

/// Settings and data shared by all trees of a fit.
pub(crate) struct Grower<'a> {
    /// Binned training data, column-major.
    pub(crate) columns: &'a [Vec<u8>],
    /// Per-feature binning information.
    pub(crate) features: &'a [FeatureBinning],
    /// Index of the missing-values bin.
    pub(crate) missing_bin: u8,
    /// Maximum number of leaves (at least 2).
    pub(crate) max_leaf_nodes: usize,
    /// Maximum depth (edges from the root), if any.
    pub(crate) max_depth: Option<usize>,
    /// Minimum number of rows per leaf.
    pub(crate) min_samples_leaf: usize,
    /// L2 regularisation of leaf values.
    pub(crate) l2: f64,
    /// Learning rate applied to leaf values.
    pub(crate) shrinkage: f64,
}

/// Buffers reused across trees.
#[derive(Default)]
pub(crate) struct Workspace {
    /// Row indices; each node owns a contiguous range. Leaves' ranges are valid after `grow`.
    pub(crate) partition: Vec<u32>,
    scratch: Vec<u32>,
    ordered_gradients: Vec<f32>,
    ordered_hessians: Vec<f32>,
    pool: Vec<Histograms>,
}

/// A leaf's range in [`Workspace::partition`] and its value (shrinkage applied).
pub(crate) struct LeafRange {
    pub(crate) start: usize,
    pub(crate) stop: usize,
    pub(crate) value: f64,
}

#[derive(Clone, Copy, Debug)]
struct Split {
    gain: f64,
    feature: usize,
    bin: u8,
    missing_left: bool,
    bitset: Option<Bitset>,
    g_left: f64,
    h_left: f64,
    n_left: u32,
    g_right: f64,
    h_right: f64,
    n_right: u32,
    value_left: f64,
    value_right: f64,
}

impl Split {
    fn none(feature: usize) -> Self {
        Split {
            gain: -1.0,
            feature,
            bin: 0,
            missing_left: false,
            bitset: None,
            g_left: 0.0,
            h_left: 0.0,
            n_left: 0,
            g_right: 0.0,
            h_right: 0.0,
            n_right: 0,
            value_left: 0.0,
            value_right: 0.0,
        }
    }
}

struct GrowNode {
    start: usize,
    stop: usize,
    depth: usize,
    sum_g: f64,
    sum_h: f64,
    value: f64,
    histograms: Option<Histograms>,
    split: Option<Split>,
    children: Option<(usize, usize)>,
    is_leaf: bool,
}

impl GrowNode {
    fn n_samples(&self) -> usize {
        self.stop - self.start
    }
}

/// A splittable node in the max-heap: largest gain first, then the oldest node.
struct HeapEntry {
    gain: f64,
    node: usize,
}

impl PartialEq for HeapEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for HeapEntry {}
impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.gain.total_cmp(&other.gain).then_with(|| other.node.cmp(&self.node))
    }
}

/// scikit-learn's `compute_node_value` (without monotonic bounds).
#[inline]
fn node_value(sum_g: f64, sum_h: f64, l2: f64) -> f64 {
    -sum_g / (sum_h + l2 + 1e-15)
}

/// scikit-learn's `_split_gain`: the loss reduction of a split.
#[inline]
fn split_gain(g_left: f64, h_left: f64, g_right: f64, h_right: f64, loss_current: f64, l2: f64) -> f64 {
    let value_left = node_value(g_left, h_left, l2);
    let value_right = node_value(g_right, h_right, l2);
    loss_current - g_left * value_left - g_right * value_right
}

/// Builds one feature's histogram. Only the bins the feature can use (`0..n_used` and the
/// missing-values bin) are reset; the others are never written and stay zero.
fn build_feature_histogram(
    hist: &mut FeatureHist,
    n_used: usize,
    missing_bin: u8,
    column: &[u8],
    rows: &[u32],
    gradients: &[f32],
    hessians: &[f32],
) {
    hist[..n_used].fill(HistBin::default());
    hist[usize::from(missing_bin)] = HistBin::default();
    if hessians.is_empty() {
        for (&row, &g) in rows.iter().zip(gradients) {
            let bin = &mut hist[usize::from(column[row as usize])];
            bin.g += f64::from(g);
            bin.c += 1;
        }
    } else {
        for ((&row, &g), &h) in rows.iter().zip(gradients).zip(hessians) {
            let bin = &mut hist[usize::from(column[row as usize])];
            bin.g += f64::from(g);
            bin.h += f64::from(h);
            bin.c += 1;
        }
    }
}

impl Grower<'_> {
    fn n_features(&self) -> usize {
        self.columns.len()
    }

    /// Grows one tree on `gradients` / `hessians` (an empty `hessians` means constant hessians of 1).
    /// Returns the tree and its leaves' row ranges in `workspace.partition`.
    pub(crate) fn grow(
        &self,
        gradients: &[f32],
        hessians: &[f32],
        workspace: &mut Workspace,
    ) -> (Tree, Vec<LeafRange>) {
        let n = gradients.len();
        workspace.partition.clear();
        workspace.partition.extend(0..n as u32);
        let mut state = State { nodes: Vec::new(), heap: BinaryHeap::new(), n_leaves: 0 };

        let mut histograms = self.take_histograms(workspace);
        self.build_histograms(0, n, gradients, hessians, workspace, &mut histograms);
        // Like scikit-learn, the root's sums come from a histogram and its value is 0.
        let sum_g: f64 = histograms[0].iter().map(|b| b.g).sum();
        let sum_h: f64 = if hessians.is_empty() { n as f64 } else { histograms[0].iter().map(|b| b.h).sum() };
        state.nodes.push(GrowNode {
            start: 0,
            stop: n,
            depth: 0,
            sum_g,
            sum_h,
            value: 0.0,
            histograms: Some(histograms),
            split: None,
            children: None,
            is_leaf: false,
        });
        if n < 2 * self.min_samples_leaf || sum_h < MIN_HESSIAN_TO_SPLIT {
            state.finalize(0, workspace);
        } else {
            self.find_split_and_push(0, &mut state, hessians.is_empty(), workspace);
        }
        while let Some(entry) = state.heap.pop() {
            self.split_next(entry.node, &mut state, gradients, hessians, workspace);
        }
        self.finish(state, workspace)
    }

    fn finish(&self, state: State, workspace: &mut Workspace) -> (Tree, Vec<LeafRange>) {
        let mut nodes = Vec::with_capacity(state.nodes.len());
        let mut bitsets = Vec::new();
        let mut leaves = Vec::new();
        for mut node in state.nodes {
            if let Some(h) = node.histograms.take() {
                workspace.pool.push(h);
            }
            match (node.is_leaf, node.split, node.children) {
                (false, Some(split), Some((left, right))) => {
                    let bitset = match split.bitset {
                        Some(set) => {
                            bitsets.push(set);
                            (bitsets.len() - 1) as u32
                        }
                        None => NO_BITSET,
                    };
                    nodes.push(Node {
                        value: 0.0,
                        left: left as u32,
                        right: right as u32,
                        feature: split.feature as u32,
                        bitset,
                        bin: split.bin,
                        missing_left: split.missing_left,
                        is_leaf: false,
                    });
                }
                _ => {
                    let value = node.value * self.shrinkage;
                    leaves.push(LeafRange { start: node.start, stop: node.stop, value });
                    nodes.push(Node {
                        value,
                        left: 0,
                        right: 0,
                        feature: 0,
                        bitset: NO_BITSET,
                        bin: 0,
                        missing_left: false,
                        is_leaf: true,
                    });
                }
            }
        }
        (Tree { nodes, bitsets }, leaves)
    }

    fn take_histograms(&self, workspace: &mut Workspace) -> Histograms {
        match workspace.pool.pop() {
            Some(h) => h,
            None => vec![[HistBin::default(); N_BINS]; self.n_features()],
        }
    }

    /// Builds all feature histograms of the rows in `partition[start..stop]`.
    fn build_histograms(
        &self,
        start: usize,
        stop: usize,
        gradients: &[f32],
        hessians: &[f32],
        workspace: &mut Workspace,
        out: &mut Histograms,
    ) {
        let Workspace { partition, ordered_gradients, ordered_hessians, .. } = workspace;
        let rows = &partition[start..stop];
        ordered_gradients.clear();
        ordered_gradients.extend(rows.iter().map(|&r| gradients[r as usize]));
        ordered_hessians.clear();
        if !hessians.is_empty() {
            ordered_hessians.extend(rows.iter().map(|&r| hessians[r as usize]));
        }
        let (og, oh) = (&ordered_gradients[..], &ordered_hessians[..]);
        let build = |(f, hist): (usize, &mut FeatureHist)| {
            let n_used = self.features[f].n_bins_non_missing;
            build_feature_histogram(hist, n_used, self.missing_bin, &self.columns[f], rows, og, oh);
        };
        if rows.len() * self.n_features() >= PARALLEL_MIN_WORK {
            out.par_iter_mut().enumerate().for_each(build);
        } else {
            out.iter_mut().enumerate().for_each(build);
        }
    }

    fn find_split_and_push(&self, id: usize, state: &mut State, constant_hessians: bool, workspace: &mut Workspace) {
        let split = self.find_node_split(&state.nodes[id], constant_hessians);
        let gain = split.gain;
        state.nodes[id].split = Some(split);
        if gain <= 0.0 {
            state.finalize(id, workspace);
        } else {
            state.heap.push(HeapEntry { gain, node: id });
        }
    }

    fn find_node_split(&self, node: &GrowNode, constant_hessians: bool) -> Split {
        let Some(histograms) = node.histograms.as_ref() else { return Split::none(0) };
        let n = node.n_samples() as u32;
        let one = |f: usize| {
            let scan = Scan {
                grower: self,
                hist: &histograms[f],
                feature: f,
                n,
                sum_g: node.sum_g,
                sum_h: node.sum_h,
                loss_current: node.sum_g * node.value,
                constant_hessians,
            };
            if self.features[f].is_categorical() { scan.categorical() } else { scan.numeric() }
        };
        let candidates: Vec<Split> = if self.n_features() >= PARALLEL_MIN_FEATURES {
            (0..self.n_features()).into_par_iter().map(one).collect()
        } else {
            (0..self.n_features()).map(one).collect()
        };
        let mut best = 0;
        for (i, c) in candidates.iter().enumerate().skip(1) {
            if c.gain > candidates[best].gain {
                best = i;
            }
        }
        candidates[best]
    }

    fn split_next(&self, id: usize, state: &mut State, gradients: &[f32], hessians: &[f32], workspace: &mut Workspace) {
        let (start, stop, depth) = {
            let node = &state.nodes[id];
            (node.start, node.stop, node.depth + 1)
        };
        let Some(mut split) = state.nodes[id].split else { return };

        // Partition the node's rows, stably, into left then right.
        let mut goes_left = [false; N_BINS];
        for (bin, left) in goes_left.iter_mut().enumerate() {
            let bin = bin as u8;
            *left = match &split.bitset {
                Some(set) => in_bitset(set, bin),
                None => (split.missing_left && bin == self.missing_bin) || bin <= split.bin,
            };
        }
        let column = &self.columns[split.feature];
        let Workspace { partition, scratch, .. } = workspace;
        let rows = &mut partition[start..stop];
        scratch.clear();
        let mut n_left = 0;
        for i in 0..rows.len() {
            let row = rows[i];
            if goes_left[usize::from(column[row as usize])] {
                rows[n_left] = row;
                n_left += 1;
            } else {
                scratch.push(row);
            }
        }
        rows[n_left..].copy_from_slice(scratch);
        let n_right = rows.len() - n_left;
        debug_assert_eq!((n_left, n_right), (split.n_left as usize, split.n_right as usize));

        if !self.features[split.feature].has_missing {
            // No missing values at fit time: at predict time they follow the larger child.
            split.missing_left = n_left > n_right;
        }
        let left_id = state.nodes.len();
        let right_id = left_id + 1;
        state.nodes.push(GrowNode {
            start,
            stop: start + n_left,
            depth,
            sum_g: split.g_left,
            sum_h: split.h_left,
            value: split.value_left,
            histograms: None,
            split: None,
            children: None,
            is_leaf: false,
        });
        state.nodes.push(GrowNode {
            start: start + n_left,
            stop,
            depth,
            sum_g: split.g_right,
            sum_h: split.h_right,
            value: split.value_right,
            histograms: None,
            split: None,
            children: None,
            is_leaf: false,
        });
        let parent_histograms = state.nodes[id].histograms.take();
        {
            let parent = &mut state.nodes[id];
            parent.split = Some(split);
            parent.children = Some((left_id, right_id));
        }

        let n_leaf_nodes = state.n_leaves + state.heap.len() + 2;
        let finished = if n_leaf_nodes == self.max_leaf_nodes {
            state.finalize(left_id, workspace);
            state.finalize(right_id, workspace);
            while let Some(entry) = state.heap.pop() {
                state.finalize(entry.node, workspace);
            }
            true
        } else if self.max_depth == Some(depth) {
            state.finalize(left_id, workspace);
            state.finalize(right_id, workspace);
            true
        } else {
            if n_left < 2 * self.min_samples_leaf {
                state.finalize(left_id, workspace);
            }
            if n_right < 2 * self.min_samples_leaf {
                state.finalize(right_id, workspace);
            }
            false
        };

        let split_left = !state.nodes[left_id].is_leaf;
        let split_right = !state.nodes[right_id].is_leaf;
        match parent_histograms {
            Some(mut larger) if !finished && (split_left || split_right) => {
                // Build the smaller child's histograms; the larger one's are parent - smaller.
                let (small_id, large_id) = if n_left < n_right { (left_id, right_id) } else { (right_id, left_id) };
                let mut smaller = self.take_histograms(workspace);
                let (s_start, s_stop) = (state.nodes[small_id].start, state.nodes[small_id].stop);
                self.build_histograms(s_start, s_stop, gradients, hessians, workspace, &mut smaller);
                let missing = usize::from(self.missing_bin);
                for ((lf, sf), info) in larger.iter_mut().zip(&smaller).zip(self.features) {
                    let n_used = info.n_bins_non_missing;
                    // The missing-values bin is at or after the last used bin.
                    let (used, from_missing) = lf.split_at_mut(missing);
                    let pairs = used[..n_used].iter_mut().zip(&sf[..n_used]);
                    for (l, s) in pairs.chain(std::iter::once((&mut from_missing[0], &sf[missing]))) {
                        l.g -= s.g;
                        l.h -= s.h;
                        l.c -= s.c;
                    }
                }
                state.nodes[small_id].histograms = Some(smaller);
                state.nodes[large_id].histograms = Some(larger);
                let constant_hessians = hessians.is_empty();
                if split_left {
                    self.find_split_and_push(left_id, state, constant_hessians, workspace);
                }
                if split_right {
                    self.find_split_and_push(right_id, state, constant_hessians, workspace);
                }
                for child in [left_id, right_id] {
                    if state.nodes[child].is_leaf
                        && let Some(h) = state.nodes[child].histograms.take()
                    {
                        workspace.pool.push(h);
                    }
                }
            }
            Some(h) => workspace.pool.push(h),
            None => {}
        }
    }
}

struct State {
    nodes: Vec<GrowNode>,
    heap: BinaryHeap<HeapEntry>,
    n_leaves: usize,
}

impl State {
    fn finalize(&mut self, id: usize, workspace: &mut Workspace) {
        let node = &mut self.nodes[id];
        if !node.is_leaf {
            node.is_leaf = true;
            self.n_leaves += 1;
        }
        if let Some(h) = node.histograms.take() {
            workspace.pool.push(h);
        }
    }
}

/// The best split position found so far by a scan.
struct Candidate {
    gain: f64,
    /// Bin index (numeric) or position in the sorted categories (categorical).
    position: usize,
    /// Missing values go left (numeric) or the scan ran forwards (categorical).
    flag: bool,
    /// Gradient sum, hessian sum and row count of the left child.
    left: (f64, f64, u32),
}

/// Split search on one feature's histogram of one node.
struct Scan<'a> {
    grower: &'a Grower<'a>,
    hist: &'a FeatureHist,
    feature: usize,
    n: u32,
    sum_g: f64,
    sum_h: f64,
    loss_current: f64,
    constant_hessians: bool,
}

impl Scan<'_> {
    #[inline]
    fn hessian(&self, bin: &HistBin) -> f64 {
        if self.constant_hessians { f64::from(bin.c) } else { bin.h }
    }

    fn finish(&self, gain: f64, bin: u8, missing_left: bool, bitset: Option<Bitset>, left: (f64, f64, u32)) -> Split {
        let (g_left, h_left, n_left) = left;
        let (g_right, h_right) = (self.sum_g - g_left, self.sum_h - h_left);
        let l2 = self.grower.l2;
        Split {
            gain,
            feature: self.feature,
            bin,
            missing_left,
            bitset,
            g_left,
            h_left,
            n_left,
            g_right,
            h_right,
            n_right: self.n - n_left,
            value_left: node_value(g_left, h_left, l2),
            value_right: node_value(g_right, h_right, l2),
        }
    }

    /// Scans bins left to right (missing values go right) and, when the feature had missing
    /// values in training, right to left (missing values go left); keeps the best.
    fn numeric(&self) -> Split {
        let info = &self.grower.features[self.feature];
        let min_leaf = self.grower.min_samples_leaf as u32;
        let l2 = self.grower.l2;
        let mut best: Option<Candidate> = None;
        let mut best_gain: f64 = -1.0;

        let end = info.n_bins_non_missing - 1 + usize::from(info.has_missing);
        let (mut g_left, mut h_left, mut n_left) = (0.0, 0.0, 0u32);
        for (bin_idx, bin) in self.hist[..end].iter().enumerate() {
            n_left += bin.c;
            let n_right = self.n - n_left;
            h_left += self.hessian(bin);
            let h_right = self.sum_h - h_left;
            g_left += bin.g;
            let g_right = self.sum_g - g_left;
            if n_left < min_leaf {
                continue;
            }
            if n_right < min_leaf {
                break;
            }
            if h_left < MIN_HESSIAN_TO_SPLIT {
                continue;
            }
            if h_right < MIN_HESSIAN_TO_SPLIT {
                break;
            }
            let gain = split_gain(g_left, h_left, g_right, h_right, self.loss_current, l2);
            if gain > best_gain && gain > 0.0 {
                best_gain = gain;
                best = Some(Candidate { gain, position: bin_idx, flag: false, left: (g_left, h_left, n_left) });
            }
        }

        if info.has_missing && info.n_bins_non_missing >= 2 {
            let (mut g_right, mut h_right, mut n_right) = (0.0, 0.0, 0u32);
            for bin_idx in (0..info.n_bins_non_missing - 1).rev() {
                let bin = &self.hist[bin_idx + 1];
                n_right += bin.c;
                let n_left = self.n - n_right;
                h_right += self.hessian(bin);
                let h_left = self.sum_h - h_right;
                g_right += bin.g;
                let g_left = self.sum_g - g_right;
                if n_right < min_leaf {
                    continue;
                }
                if n_left < min_leaf {
                    break;
                }
                if h_right < MIN_HESSIAN_TO_SPLIT {
                    continue;
                }
                if h_left < MIN_HESSIAN_TO_SPLIT {
                    break;
                }
                let gain = split_gain(g_left, h_left, g_right, h_right, self.loss_current, l2);
                if gain > best_gain && gain > 0.0 {
                    best_gain = gain;
                    best = Some(Candidate { gain, position: bin_idx, flag: true, left: (g_left, h_left, n_left) });
                }
            }
        }
        match best {
            // Bins of non-missing values are below 255.
            Some(c) => self.finish(c.gain, c.position as u8, c.flag, None, c.left),
            None => Split::none(self.feature),
        }
    }

    /// scikit-learn's `_find_best_bin_to_split_category`: categories with enough support are sorted
    /// by `sum_g / (sum_h + MIN_CAT_SUPPORT)` and scanned from both ends up to the middle; the
    /// categories scanned so far go left. Missing values are one more category.
    fn categorical(&self) -> Split {
        let info = &self.grower.features[self.feature];
        let missing_bin = self.grower.missing_bin;
        let min_leaf = self.grower.min_samples_leaf as u32;
        let l2 = self.grower.l2;
        let support_factor = f64::from(self.n) / self.sum_h;

        let mut bins: Vec<u8> = (0..info.n_bins_non_missing as u8).collect();
        if info.has_missing {
            bins.push(missing_bin);
        }
        let mut cats: Vec<(u8, f64)> = bins
            .into_iter()
            .filter_map(|b| {
                let bin = &self.hist[usize::from(b)];
                let h = self.hessian(bin);
                (h * support_factor >= MIN_CAT_SUPPORT).then(|| (b, bin.g / (h + MIN_CAT_SUPPORT)))
            })
            .collect();
        if cats.len() <= 1 {
            return Split::none(self.feature);
        }
        cats.sort_by(|a, b| a.1.total_cmp(&b.1));
        let n_used = cats.len();

        let mut best: Option<Candidate> = None;
        let mut best_gain: f64 = -1.0;
        for forward in [true, false] {
            let middle = if forward { n_used.div_ceil(2) } else { n_used.div_ceil(2) - 1 };
            let (mut g_left, mut h_left, mut n_left) = (0.0, 0.0, 0u32);
            for i in 0..middle {
                let sorted_idx = if forward { i } else { n_used - 1 - i };
                let bin = &self.hist[usize::from(cats[sorted_idx].0)];
                n_left += bin.c;
                let n_right = self.n - n_left;
                h_left += self.hessian(bin);
                let h_right = self.sum_h - h_left;
                g_left += bin.g;
                let g_right = self.sum_g - g_left;
                if n_left < min_leaf || h_left < MIN_HESSIAN_TO_SPLIT {
                    continue;
                }
                if n_right < min_leaf || h_right < MIN_HESSIAN_TO_SPLIT {
                    break;
                }
                let gain = split_gain(g_left, h_left, g_right, h_right, self.loss_current, l2);
                if gain > best_gain && gain > 0.0 {
                    best_gain = gain;
                    best =
                        Some(Candidate { gain, position: sorted_idx, flag: forward, left: (g_left, h_left, n_left) });
                }
            }
        }
        let Some(Candidate { gain, position: threshold, flag: forward, left }) = best else {
            return Split::none(self.feature);
        };
        let mut set: Bitset = [0; 4];
        let chosen = if forward { &cats[..=threshold] } else { &cats[threshold..] };
        for &(bin, _) in chosen {
            set_bit(&mut set, bin);
        }
        let missing_left = info.has_missing && in_bitset(&set, missing_bin);
        self.finish(gain, 0, missing_left, Some(set), left)
    }
}
