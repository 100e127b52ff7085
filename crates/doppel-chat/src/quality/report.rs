//! The diversity report of a set of dialogues, and its comparison with a real reference set.

use std::collections::{BTreeMap, HashSet};

use doppel_core::rng::stream_id;
use doppel_core::stream_rng;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::DuplicateGroups;
use super::minhash::{SHINGLE_WORDS, jaccard, shingles, words};
use crate::{DialogueRecord, Role};

/// The report's format tag.
pub const REPORT_FORMAT: &str = "doppel.chat-report";
/// The report's format version.
pub const REPORT_FORMAT_VERSION: u32 = 1;
/// Near-duplicate pairs listed in the report (all are counted).
const MAX_LISTED_PAIRS: usize = 50;

/// What [`ChatReport::compute`] needs besides the dialogues.
#[derive(Debug, Clone)]
pub struct ReportOptions<'a> {
    /// Two dialogues whose word 5-shingle sets have a Jaccard similarity at least this are
    /// near-duplicates (default 0.8).
    pub near_duplicate_threshold: f64,
    /// The requested scenario weights (any positive scale; empty: not known).
    pub expected: BTreeMap<String, f64>,
    /// A real reference set, for the model-collapse comparison.
    pub reference: Option<&'a [DialogueRecord]>,
    /// The seed of the pair sample behind the self-similarity.
    pub seed: u64,
    /// At most this many pairs in the self-similarity (all pairs when there are fewer).
    pub similarity_pairs: usize,
    /// A name for the dialogues (a file name), shown in the report.
    pub source: Option<String>,
    /// A name for the reference set.
    pub reference_source: Option<String>,
}

impl Default for ReportOptions<'_> {
    fn default() -> Self {
        ReportOptions {
            near_duplicate_threshold: 0.8,
            expected: BTreeMap::new(),
            reference: None,
            seed: 0,
            similarity_pairs: 2_000,
            source: None,
            reference_source: None,
        }
    }
}

/// Distinct n-grams over all n-grams (n-grams do not cross turns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistinctN {
    /// Turns counted.
    pub turns: usize,
    /// Words in them.
    pub words: usize,
    /// Distinct words / words (`None` without words).
    pub distinct_1: Option<f64>,
    /// Distinct word pairs / word pairs.
    pub distinct_2: Option<f64>,
    /// Distinct word triples / word triples.
    pub distinct_3: Option<f64>,
}

/// How varied the language of a set of dialogues is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diversity {
    /// Over the user and the assistant turns together.
    pub all: DistinctN,
    /// Per role (`user`, `assistant`).
    pub by_role: BTreeMap<String, DistinctN>,
    /// The mean Jaccard similarity of the word 5-shingle sets of pairs of dialogues (all pairs, or
    /// a seeded sample): 0 when no two dialogues share a phrase, 1 when all are the same.
    pub self_similarity: Option<f64>,
    /// Pairs behind the self-similarity.
    pub self_similarity_pairs: usize,
}

/// One bin of a histogram: `lower <= value < upper` (the last bin includes its upper edge).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// The lower edge.
    pub lower: f64,
    /// The upper edge.
    pub upper: f64,
    /// Values in the bin.
    pub count: usize,
    /// Their share of all values.
    pub share: f64,
}

/// A summary and histogram of some numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// How many numbers.
    pub count: usize,
    /// The least (`None` when there are none).
    pub min: Option<f64>,
    /// The median.
    pub median: Option<f64>,
    /// The mean.
    pub mean: Option<f64>,
    /// The greatest.
    pub max: Option<f64>,
    /// Equal-width bins from 0.
    pub histogram: Vec<Bin>,
}

/// One near-duplicate pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearDuplicatePair {
    /// The earlier record (0-based position in the file).
    pub first: usize,
    /// The later record.
    pub second: usize,
    /// The Jaccard similarity of their word 5-shingle sets.
    pub similarity: f64,
}

/// Near-duplicate dialogues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearDuplicates {
    /// The similarity threshold.
    pub threshold: f64,
    /// Pairs at or above it.
    pub pairs: usize,
    /// Of which exact copies (similarity 1).
    pub exact_pairs: usize,
    /// Records that deduplication would remove (a record goes when it nearly copies an earlier
    /// record that stays).
    pub removable: usize,
    /// `removable` over all records.
    pub removable_share: f64,
    /// Some of the most similar pairs (at most 50): each exact copy with the first record of its
    /// group, and the first records of near-duplicate groups.
    pub examples: Vec<NearDuplicatePair>,
}

/// A scenario's share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioShare {
    /// The scenario (`(none)` for records without one).
    pub name: String,
    /// Dialogues.
    pub count: usize,
    /// Their share of all dialogues.
    pub observed: f64,
    /// The requested share, when the weights are known.
    pub expected: Option<f64>,
}

/// Scenario coverage: observed against requested shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioCoverage {
    /// One row per scenario seen or requested.
    pub rows: Vec<ScenarioShare>,
    /// The total variation distance between observed and requested shares (0: as requested,
    /// 1: disjoint), when the weights are known.
    pub total_variation: Option<f64>,
}

/// A value's share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueShare {
    /// The value.
    pub value: String,
    /// Dialogues with it.
    pub count: usize,
    /// Their share of the dialogues that have the attribute.
    pub share: f64,
}

/// The values one persona attribute of one agent took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonaAttribute {
    /// The agent.
    pub agent: String,
    /// The attribute.
    pub attribute: String,
    /// Distinct values seen.
    pub distinct: usize,
    /// The values, most frequent first.
    pub values: Vec<ValueShare>,
}

/// The dialogues against a real reference set: the model-collapse measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceComparison {
    /// The reference's name.
    pub source: Option<String>,
    /// Reference dialogues.
    pub dialogues: usize,
    /// The reference's diversity.
    pub diversity: Diversity,
    /// The reference's turns per dialogue (the same bins as the dialogues').
    pub turns_per_dialogue: Distribution,
    /// The reference's words per turn (the same bins as the dialogues').
    pub words_per_turn: Distribution,
    /// Distinct-2 of the dialogues minus the reference's (negative: less varied language).
    pub distinct_2_gap: Option<f64>,
    /// Self-similarity of the dialogues minus the reference's (positive: more repetitive).
    pub self_similarity_gap: Option<f64>,
    /// The two-sample Kolmogorov–Smirnov statistic of words per turn (0: the same distribution).
    pub ks_words_per_turn: Option<f64>,
    /// The two-sample Kolmogorov–Smirnov statistic of turns per dialogue.
    pub ks_turns_per_dialogue: Option<f64>,
}

/// The dataset-level quality of a set of dialogues: diversity, near-duplicates, lengths,
/// coverage of scenarios and personas, judge scores and, given a real reference set, the gaps
/// that show model collapse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatReport {
    /// Always `doppel.chat-report`.
    pub format: String,
    /// The format version (1).
    pub format_version: u32,
    /// The doppel version that wrote it.
    pub doppel_version: String,
    /// The dialogues' name.
    pub source: Option<String>,
    /// Dialogues.
    pub dialogues: usize,
    /// User and assistant turns.
    pub turns: usize,
    /// Dialogues per `metadata.provenance` (`(unknown)` when empty).
    pub provenance: BTreeMap<String, usize>,
    /// Language diversity.
    pub diversity: Diversity,
    /// Near-duplicates.
    pub near_duplicates: NearDuplicates,
    /// User and assistant turns per dialogue.
    pub turns_per_dialogue: Distribution,
    /// Words per user or assistant turn.
    pub words_per_turn: Distribution,
    /// Scenario coverage.
    pub scenarios: ScenarioCoverage,
    /// Persona coverage, per agent and attribute.
    pub personas: Vec<PersonaAttribute>,
    /// Judge scores, when some dialogues have one.
    pub judge: Option<Distribution>,
    /// The judge's questions (`method = "questions"`): per question, the dialogues that have
    /// its score and their mean probability of `Yes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub judge_questions: Vec<JudgeQuestion>,
    /// The comparison with a real reference set.
    pub reference: Option<ReferenceComparison>,
    /// What looks wrong, in words.
    pub warnings: Vec<String>,
}

/// One judge question across the dialogues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeQuestion {
    /// The question's name in the spec.
    pub name: String,
    /// Dialogues with a score for it.
    pub count: usize,
    /// Their mean probability of `Yes`.
    pub mean: f64,
    /// The share scored below 0.5 (answered `No` more likely than `Yes`).
    pub below_half: f64,
}

/// The per-question means of the judge's criteria, by name.
fn judge_questions(records: &[DialogueRecord]) -> Vec<JudgeQuestion> {
    let mut scores: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for record in records {
        for (name, score) in record.metadata.judge_criteria.iter().flatten() {
            if score.is_finite() {
                scores.entry(name).or_default().push(*score);
            }
        }
    }
    scores
        .into_iter()
        .map(|(name, values)| JudgeQuestion {
            name: name.to_string(),
            count: values.len(),
            mean: values.iter().sum::<f64>() / values.len() as f64,
            below_half: values.iter().filter(|&&v| v < 0.5).count() as f64 / values.len() as f64,
        })
        .collect()
}

/// The words of every user and assistant turn, with the role.
fn turn_words(records: &[DialogueRecord]) -> Vec<(Role, Vec<String>)> {
    records
        .iter()
        .flat_map(|r| r.messages.iter())
        .filter(|m| m.role != Role::System)
        .map(|m| (m.role, words(&m.content)))
        .collect()
}

/// Distinct-1/2/3 over some turns' words.
pub fn distinct_n<'a>(turns: impl IntoIterator<Item = &'a [String]>) -> DistinctN {
    let mut sets: [HashSet<&[String]>; 3] = Default::default();
    let mut totals = [0usize; 3];
    let (mut turn_count, mut word_count) = (0, 0);
    for turn in turns {
        turn_count += 1;
        word_count += turn.len();
        for n in 1..=3 {
            if turn.len() >= n {
                for gram in turn.windows(n) {
                    sets[n - 1].insert(gram);
                }
                totals[n - 1] += turn.len() + 1 - n;
            }
        }
    }
    let ratio = |n: usize| (totals[n] > 0).then(|| sets[n].len() as f64 / totals[n] as f64);
    DistinctN { turns: turn_count, words: word_count, distinct_1: ratio(0), distinct_2: ratio(1), distinct_3: ratio(2) }
}

fn diversity(turns: &[(Role, Vec<String>)], sets: &[Vec<u64>], seed: u64, max_pairs: usize) -> Diversity {
    let all = distinct_n(turns.iter().map(|(_, w)| w.as_slice()));
    let mut by_role = BTreeMap::new();
    for (role, name) in [(Role::User, "user"), (Role::Assistant, "assistant")] {
        by_role
            .insert(name.to_string(), distinct_n(turns.iter().filter(|(r, _)| *r == role).map(|(_, w)| w.as_slice())));
    }
    let (self_similarity, self_similarity_pairs) = self_similarity(sets, seed, max_pairs);
    Diversity { all, by_role, self_similarity, self_similarity_pairs }
}

/// The mean Jaccard similarity over all pairs, or over `max_pairs` seeded random pairs.
pub fn self_similarity(sets: &[Vec<u64>], seed: u64, max_pairs: usize) -> (Option<f64>, usize) {
    let n = sets.len();
    if n < 2 || max_pairs == 0 {
        return (None, 0);
    }
    let all_pairs = n * (n - 1) / 2;
    let mut sum = 0.0;
    let mut count = 0usize;
    if all_pairs <= max_pairs {
        for i in 0..n {
            for j in i + 1..n {
                sum += jaccard(&sets[i], &sets[j]);
                count += 1;
            }
        }
    } else {
        let mut rng = stream_rng(seed, stream_id("chat/quality/self-similarity"));
        for _ in 0..max_pairs {
            let i = rng.random_range(0..n);
            let mut j = rng.random_range(0..n - 1);
            if j >= i {
                j += 1;
            }
            sum += jaccard(&sets[i], &sets[j]);
            count += 1;
        }
    }
    (Some(sum / count as f64), count)
}

/// A round bin width (1, 2, 5 × 10^k, at least 1) giving at most about 20 bins up to `max`.
fn nice_width(max: f64) -> f64 {
    let raw = (max / 20.0).max(1.0);
    let mut scale = 1.0;
    loop {
        for step in [1.0, 2.0, 5.0] {
            if step * scale >= raw {
                return step * scale;
            }
        }
        scale *= 10.0;
    }
}

/// Summary and histogram with bins of `width` from 0, enough to reach `top`.
pub fn distribution(values: &[f64], width: f64, top: f64) -> Distribution {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let count = sorted.len();
    let bins = ((top / width).floor() as usize + 1).max(1);
    let mut counts = vec![0usize; bins];
    for v in &sorted {
        let k = ((v.max(0.0) / width).floor() as usize).min(bins - 1);
        counts[k] += 1;
    }
    let histogram = counts
        .into_iter()
        .enumerate()
        .map(|(k, c)| Bin {
            lower: k as f64 * width,
            upper: (k + 1) as f64 * width,
            count: c,
            share: if count > 0 { c as f64 / count as f64 } else { 0.0 },
        })
        .collect();
    let median = (count > 0).then(|| {
        if !count.is_multiple_of(2) { sorted[count / 2] } else { (sorted[count / 2 - 1] + sorted[count / 2]) / 2.0 }
    });
    Distribution {
        count,
        min: sorted.first().copied(),
        median,
        mean: (count > 0).then(|| sorted.iter().sum::<f64>() / count as f64),
        max: sorted.last().copied(),
        histogram,
    }
}

/// The two-sample Kolmogorov–Smirnov statistic: the largest gap between the empirical CDFs.
pub fn ks_statistic(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = if a[i] <= b[j] { a[i] } else { b[j] };
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    Some(d)
}

/// Observed scenario shares against the requested weights.
pub fn scenario_coverage(records: &[DialogueRecord], expected: &BTreeMap<String, f64>) -> ScenarioCoverage {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for record in records {
        let name = if record.metadata.scenario.is_empty() { "(none)" } else { &record.metadata.scenario };
        *counts.entry(name.to_string()).or_default() += 1;
    }
    let weight_sum: f64 = expected.values().filter(|w| w.is_finite() && **w > 0.0).sum();
    let known = weight_sum > 0.0;
    let expected_share = |name: &str| -> Option<f64> {
        known.then(|| expected.get(name).copied().filter(|w| w.is_finite() && *w > 0.0).unwrap_or(0.0) / weight_sum)
    };
    let mut names: Vec<String> = counts.keys().cloned().collect();
    if known {
        for name in expected.keys() {
            if !counts.contains_key(name) {
                names.push(name.clone());
            }
        }
        names.sort();
    }
    let total = records.len();
    let rows: Vec<ScenarioShare> = names
        .into_iter()
        .map(|name| {
            let count = counts.get(&name).copied().unwrap_or(0);
            ScenarioShare {
                observed: if total > 0 { count as f64 / total as f64 } else { 0.0 },
                expected: expected_share(&name),
                name,
                count,
            }
        })
        .collect();
    let total_variation = (known && total > 0)
        .then(|| rows.iter().map(|r| (r.observed - r.expected.unwrap_or(0.0)).abs()).sum::<f64>() / 2.0);
    ScenarioCoverage { rows, total_variation }
}

/// The values each persona attribute of each agent took.
pub fn persona_coverage(records: &[DialogueRecord]) -> Vec<PersonaAttribute> {
    let mut counts: BTreeMap<(String, String), BTreeMap<String, usize>> = BTreeMap::new();
    for record in records {
        for (agent, attributes) in &record.metadata.persona {
            for (attribute, value) in attributes {
                *counts.entry((agent.clone(), attribute.clone())).or_default().entry(value.clone()).or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .map(|((agent, attribute), values)| {
            let total: usize = values.values().sum();
            let mut values: Vec<ValueShare> = values
                .into_iter()
                .map(|(value, count)| ValueShare { value, count, share: count as f64 / total as f64 })
                .collect();
            values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            PersonaAttribute { agent, attribute, distinct: values.len(), values }
        })
        .collect()
}

/// What the report needs of one set of dialogues.
struct SetStats {
    turns: Vec<(Role, Vec<String>)>,
    sets: Vec<Vec<u64>>,
    turns_per_dialogue: Vec<f64>,
    words_per_turn: Vec<f64>,
}

impl SetStats {
    fn new(records: &[DialogueRecord]) -> SetStats {
        let turns = turn_words(records);
        let sets = records.iter().map(|r| shingles(&super::minhash::conversation_words(r), SHINGLE_WORDS)).collect();
        let turns_per_dialogue =
            records.iter().map(|r| r.messages.iter().filter(|m| m.role != Role::System).count() as f64).collect();
        let words_per_turn = turns.iter().map(|(_, w)| w.len() as f64).collect();
        SetStats { turns, sets, turns_per_dialogue, words_per_turn }
    }
}

fn max_of(values: &[f64]) -> f64 {
    values.iter().copied().filter(|v| v.is_finite()).fold(0.0, f64::max)
}

fn gap(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}

impl ChatReport {
    /// Computes the report of `records` (deterministic for the same records and options).
    pub fn compute(records: &[DialogueRecord], options: &ReportOptions<'_>) -> ChatReport {
        let threshold = if options.near_duplicate_threshold.is_finite() {
            options.near_duplicate_threshold.clamp(0.0, 1.0)
        } else {
            0.8
        };
        let stats = SetStats::new(records);
        let reference = options.reference.map(|r| (r, SetStats::new(r)));

        // Shared bins, so that the histograms of the dialogues and of the reference line up.
        let mut top_turns = max_of(&stats.turns_per_dialogue);
        let mut top_words = max_of(&stats.words_per_turn);
        if let Some((_, r)) = &reference {
            top_turns = top_turns.max(max_of(&r.turns_per_dialogue));
            top_words = top_words.max(max_of(&r.words_per_turn));
        }
        let (turns_width, words_width) = (nice_width(top_turns), nice_width(top_words));

        let duplicates = DuplicateGroups::find(&stats.sets, threshold);
        let removable = duplicates.removals().len();
        // Examples: each copy with the first of its group, and the first records of near groups.
        let mut examples: Vec<NearDuplicatePair> = Vec::new();
        for g in &duplicates.groups {
            for &second in g.iter().skip(1).take(MAX_LISTED_PAIRS) {
                examples.push(NearDuplicatePair { first: g[0], second, similarity: 1.0 });
            }
        }
        for &(a, b, similarity) in &duplicates.near {
            let (i, j) = (duplicates.groups[a][0], duplicates.groups[b][0]);
            examples.push(NearDuplicatePair { first: i.min(j), second: i.max(j), similarity });
        }
        examples.sort_by(|a, b| {
            b.similarity.total_cmp(&a.similarity).then(a.first.cmp(&b.first)).then(a.second.cmp(&b.second))
        });
        examples.truncate(MAX_LISTED_PAIRS);
        let near_duplicates = NearDuplicates {
            threshold,
            pairs: duplicates.pair_count(),
            exact_pairs: duplicates.exact_pair_count(),
            removable,
            removable_share: if records.is_empty() { 0.0 } else { removable as f64 / records.len() as f64 },
            examples,
        };

        let mut provenance = BTreeMap::new();
        for record in records {
            let p = if record.metadata.provenance.is_empty() { "(unknown)" } else { &record.metadata.provenance };
            *provenance.entry(p.to_string()).or_insert(0usize) += 1;
        }
        let judge_scores: Vec<f64> =
            records.iter().filter_map(|r| r.metadata.judge_score).filter(|s| s.is_finite()).collect();
        let judge = (!judge_scores.is_empty()).then(|| distribution(&judge_scores, 0.1, 0.999_999));

        let diversity = diversity(&stats.turns, &stats.sets, options.seed, options.similarity_pairs);
        let reference = reference.map(|(r, rs)| {
            let rdiv = diversity_of(&rs, options);
            ReferenceComparison {
                source: options.reference_source.clone(),
                dialogues: r.len(),
                distinct_2_gap: gap(diversity.all.distinct_2, rdiv.all.distinct_2),
                self_similarity_gap: gap(diversity.self_similarity, rdiv.self_similarity),
                ks_words_per_turn: ks_statistic(&stats.words_per_turn, &rs.words_per_turn),
                ks_turns_per_dialogue: ks_statistic(&stats.turns_per_dialogue, &rs.turns_per_dialogue),
                turns_per_dialogue: distribution(&rs.turns_per_dialogue, turns_width, top_turns),
                words_per_turn: distribution(&rs.words_per_turn, words_width, top_words),
                diversity: rdiv,
            }
        });
        let mut report = ChatReport {
            format: REPORT_FORMAT.to_string(),
            format_version: REPORT_FORMAT_VERSION,
            doppel_version: env!("CARGO_PKG_VERSION").to_string(),
            source: options.source.clone(),
            dialogues: records.len(),
            turns: stats.turns.len(),
            provenance,
            diversity,
            near_duplicates,
            turns_per_dialogue: distribution(&stats.turns_per_dialogue, turns_width, top_turns),
            words_per_turn: distribution(&stats.words_per_turn, words_width, top_words),
            scenarios: scenario_coverage(records, &options.expected),
            personas: persona_coverage(records),
            judge,
            judge_questions: judge_questions(records),
            reference,
            warnings: Vec::new(),
        };
        report.warnings = warnings(&report);
        report
    }
}

fn diversity_of(stats: &SetStats, options: &ReportOptions<'_>) -> Diversity {
    diversity(&stats.turns, &stats.sets, options.seed, options.similarity_pairs)
}

/// Rules of thumb, in words.
fn warnings(report: &ChatReport) -> Vec<String> {
    let mut out = Vec::new();
    if report.dialogues == 0 {
        out.push("there are no dialogues".to_string());
        return out;
    }
    let nd = &report.near_duplicates;
    if nd.removable_share > 0.05 {
        out.push(format!(
            "{} of {} dialogues ({:.1}%) nearly copy an earlier one (similarity ≥ {}); remove them with `doppel mix --dedupe`",
            nd.removable,
            report.dialogues,
            nd.removable_share * 100.0,
            nd.threshold
        ));
    }
    if let Some(tv) = report.scenarios.total_variation.filter(|tv| *tv > 0.1) {
        out.push(format!("the scenario shares are {tv:.3} (total variation) away from the requested weights"));
    }
    if let Some(d2) = report.diversity.all.distinct_2.filter(|d| *d < 0.3) {
        out.push(format!("distinct-2 is {d2:.3}: the dialogues repeat the same word pairs a lot"));
    }
    if let Some(s) = report.diversity.self_similarity.filter(|s| *s > 0.2) {
        out.push(format!("self-similarity is {s:.3}: the dialogues share many phrases"));
    }
    if let Some(r) = &report.reference {
        if let (Some(gap), Some(reference)) = (r.distinct_2_gap, r.diversity.all.distinct_2)
            && reference > 0.0
            && gap / reference < -0.2
        {
            out.push(format!(
                "distinct-2 is {:.0}% below the reference's: the synthetic language is less varied than the real \
                 (a sign of model collapse)",
                -gap / reference * 100.0
            ));
        }
        if let Some(gap) = r.self_similarity_gap.filter(|g| *g > 0.05) {
            out.push(format!("self-similarity is {gap:.3} above the reference's: the dialogues are more alike"));
        }
        if let Some(ks) = r.ks_words_per_turn.filter(|ks| *ks > 0.2) {
            out.push(format!("words per turn differ from the reference (KS {ks:.3})"));
        }
        if let Some(ks) = r.ks_turns_per_dialogue.filter(|ks| *ks > 0.2) {
            out.push(format!("turns per dialogue differ from the reference (KS {ks:.3})"));
        }
    }
    out
}
