//! Dataset-level quality of dialogues: reading them back, near-duplicate removal, the diversity
//! report (and its HTML page), and mixing real with synthetic dialogues.
//!
//! - [`read_records`] reads JSON Lines in the chat format or ShareGPT;
//! - [`near_duplicates`] and [`deduplicate`] find nearly copied dialogues: MinHash signatures
//!   (128 seeded hash functions over word 5-shingles of the lowercased, punctuation-free user and
//!   assistant turns), LSH banding for candidate pairs, then the exact Jaccard similarity;
//! - [`ChatReport::compute`] measures diversity (distinct-n, self-similarity), lengths, coverage of
//!   scenarios and personas, judge scores and, against a real reference set, the gaps that show
//!   model collapse; [`render_html`] draws it as a self-contained page;
//! - [`mix`] makes a training set with a fixed share of real dialogues, every record tagged with
//!   its provenance.
//!
//! ```
//! use doppel_chat::quality::{ChatReport, ReportOptions, deduplicate, parse_records};
//!
//! let text = r#"{"messages":[{"role":"user","content":"Hello, I would like to open an account today"},{"role":"assistant","content":"Of course, which kind of account do you need?"}]}
//! {"conversations":[{"from":"human","value":"hello i would like to open an account today"},{"from":"gpt","value":"Of course! Which kind of account do you need?"}]}"#;
//! let records = parse_records(text, "example")?;
//! let report = ChatReport::compute(&records, &ReportOptions::default());
//! assert_eq!(report.near_duplicates.pairs, 1);
//! let (kept, removed) = deduplicate(records, 0.8);
//! assert_eq!((kept.len(), removed), (1, vec![1]));
//! # Ok::<(), doppel_chat::Error>(())
//! ```

mod html;
pub mod minhash;
mod mix;
mod read;
mod report;

use std::collections::{BTreeSet, HashMap};

pub use html::render_html;
pub use mix::{MixCounts, mix, mix_counts};
pub use read::{minimal_metadata, parse_records, read_records, spoken_turns};
pub use report::{
    Bin, ChatReport, DistinctN, Distribution, Diversity, JudgeQuestion, NearDuplicatePair, NearDuplicates,
    PersonaAttribute, REPORT_FORMAT, REPORT_FORMAT_VERSION, ReferenceComparison, ReportOptions, ScenarioCoverage,
    ScenarioShare, ValueShare, distinct_n, ks_statistic, scenario_coverage,
};

use crate::DialogueRecord;
use minhash::{
    MinHasher, NUM_HASHES, SHINGLE_WORDS, candidate_pairs, conversation_words, jaccard, rows_per_band, shingles,
};

/// Records grouped by identical shingle sets, and the near-duplicate pairs among the groups.
///
/// Exact copies are grouped before the MinHash search, so that many copies of one dialogue (what
/// a collapsed model produces) cost no more than one.
pub(crate) struct DuplicateGroups {
    /// The records of each distinct shingle set, in order; groups are ordered by their first record.
    pub groups: Vec<Vec<usize>>,
    /// Pairs of groups `(a, b, similarity)`, `a < b`, at or above the threshold, sorted.
    pub near: Vec<(usize, usize, f64)>,
}

impl DuplicateGroups {
    pub(crate) fn find(sets: &[Vec<u64>], threshold: f64) -> DuplicateGroups {
        let mut index: HashMap<&[u64], usize> = HashMap::new();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (i, set) in sets.iter().enumerate() {
            let g = *index.entry(set.as_slice()).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push(i);
        }
        let hasher = MinHasher::new(NUM_HASHES);
        let signatures: Vec<Vec<u64>> = groups.iter().map(|g| hasher.signature(&sets[g[0]])).collect();
        let candidates: BTreeSet<(usize, usize)> = candidate_pairs(&signatures, rows_per_band(threshold, NUM_HASHES));
        let near = candidates
            .into_iter()
            .filter_map(|(a, b)| {
                let similarity = jaccard(&sets[groups[a][0]], &sets[groups[b][0]]);
                (similarity >= threshold).then_some((a, b, similarity))
            })
            .collect();
        DuplicateGroups { groups, near }
    }

    /// Pairs of records in all (exact copies within groups, near copies across).
    pub(crate) fn pair_count(&self) -> usize {
        let within: usize = self.groups.iter().map(|g| g.len() * (g.len() - 1) / 2).sum();
        within + self.near.iter().map(|&(a, b, _)| self.groups[a].len() * self.groups[b].len()).sum::<usize>()
    }

    /// Pairs of exact copies.
    pub(crate) fn exact_pair_count(&self) -> usize {
        self.groups.iter().map(|g| g.len() * (g.len() - 1) / 2).sum()
    }

    /// Every pair of records `(i, j, similarity)`, `i < j`, sorted.
    pub(crate) fn record_pairs(&self) -> Vec<(usize, usize, f64)> {
        let mut pairs = Vec::new();
        for g in &self.groups {
            for (k, &i) in g.iter().enumerate() {
                for &j in &g[k + 1..] {
                    pairs.push((i, j, 1.0));
                }
            }
        }
        for &(a, b, similarity) in &self.near {
            for &i in &self.groups[a] {
                for &j in &self.groups[b] {
                    pairs.push((i.min(j), i.max(j), similarity));
                }
            }
        }
        pairs.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.cmp(&y.1)));
        pairs
    }

    /// The records removed when each record that nearly copies an earlier, kept record goes
    /// (sorted): every copy after the first of its group, and whole groups whose first record
    /// nearly copies an earlier kept one.
    pub(crate) fn removals(&self) -> Vec<usize> {
        let mut earlier: Vec<Vec<usize>> = vec![Vec::new(); self.groups.len()];
        for &(a, b, _) in &self.near {
            earlier[b].push(a);
        }
        let mut removed_group = vec![false; self.groups.len()];
        let mut removed = Vec::new();
        for (g, members) in self.groups.iter().enumerate() {
            removed_group[g] = earlier[g].iter().any(|&a| !removed_group[a]);
            let skip = usize::from(!removed_group[g]);
            removed.extend(members.iter().skip(skip).copied());
        }
        removed.sort_unstable();
        removed
    }
}

/// The word 5-shingle set of every record.
fn record_shingles(records: &[DialogueRecord]) -> Vec<Vec<u64>> {
    records.iter().map(|r| shingles(&conversation_words(r), SHINGLE_WORDS)).collect()
}

/// The pairs of records `(i, j, similarity)`, `i < j`, whose user and assistant turns have a
/// Jaccard similarity of word 5-shingles of at least `threshold` (in `0..=1`; 0.8 is usual),
/// sorted. Candidates come from MinHash LSH banded so that a pair at the threshold is missed with
/// probability below 0.001; every reported similarity is exact. Exact copies have similarity 1.
pub fn near_duplicates(records: &[DialogueRecord], threshold: f64) -> Vec<(usize, usize, f64)> {
    DuplicateGroups::find(&record_shingles(records), threshold).record_pairs()
}

/// Removes near-duplicates (see [`near_duplicates`]): a record goes when it nearly copies an
/// earlier record that stays, so the first of each group is kept. Returns the kept records, in
/// order, and the positions of the removed ones.
pub fn deduplicate(records: Vec<DialogueRecord>, threshold: f64) -> (Vec<DialogueRecord>, Vec<usize>) {
    let removed = DuplicateGroups::find(&record_shingles(&records), threshold).removals();
    let mut flags = vec![false; records.len()];
    for &i in &removed {
        flags[i] = true;
    }
    let kept = records.into_iter().zip(flags).filter(|(_, gone)| !gone).map(|(r, _)| r).collect();
    (kept, removed)
}
