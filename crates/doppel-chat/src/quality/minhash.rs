//! Text normalisation, word shingles, MinHash signatures and LSH banding.
//!
//! Everything here is deterministic: the hash family is derived from a fixed seed, shingles are
//! hashed with FNV-1a, and candidate pairs come out sorted.

use std::collections::{BTreeSet, HashMap};

use crate::{DialogueRecord, Role};

/// Words per shingle.
pub const SHINGLE_WORDS: usize = 5;
/// Hash functions per MinHash signature.
pub const NUM_HASHES: usize = 128;
/// The fixed seed of the hash family.
const FAMILY_SEED: u64 = 0x646f_7070_656c_2d6d; // "doppel-m"

/// The words of a text: lowercased, with every character that is not a letter or a digit taken
/// as a separator (so punctuation is stripped).
pub fn words(text: &str) -> Vec<String> {
    let lowered = text.to_lowercase();
    lowered.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// The words of a conversation's user and assistant turns, in order (system prompts are left
/// out: they are templated and would make unrelated dialogues look alike).
pub fn conversation_words(record: &DialogueRecord) -> Vec<String> {
    record.messages.iter().filter(|m| m.role != Role::System).flat_map(|m| words(&m.content)).collect()
}

/// FNV-1a (64 bit) of the words, joined by a separator that cannot occur in a word.
fn hash_words(words: &[String]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            hash ^= 0x1f;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        for byte in word.as_bytes() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The set of hashed word shingles of a word sequence, sorted and without repeats. A text shorter
/// than a shingle is one shingle; an empty text has none.
pub fn shingles(words: &[String], size: usize) -> Vec<u64> {
    let size = size.max(1);
    let mut set: Vec<u64> = if words.is_empty() {
        Vec::new()
    } else if words.len() < size {
        vec![hash_words(words)]
    } else {
        words.windows(size).map(hash_words).collect()
    };
    set.sort_unstable();
    set.dedup();
    set
}

/// The exact Jaccard similarity of two sorted sets without repeats (two empty sets count as
/// identical).
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - common;
    common as f64 / union as f64
}

/// SplitMix64's finaliser: a strong 64-bit mixer.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A fixed, seeded family of [`NUM_HASHES`] hash functions `h_i(x) = mix64(a_i·x + b_i)`.
#[derive(Debug, Clone)]
pub struct MinHasher {
    coefficients: Vec<(u64, u64)>,
}

impl Default for MinHasher {
    fn default() -> Self {
        MinHasher::new(NUM_HASHES)
    }
}

impl MinHasher {
    /// A family of `count` hash functions (always the same for the same count).
    pub fn new(count: usize) -> MinHasher {
        let mut state = FAMILY_SEED;
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            mix64(state)
        };
        let coefficients = (0..count.max(1)).map(|_| (next() | 1, next())).collect();
        MinHasher { coefficients }
    }

    /// The MinHash signature of a shingle set: per hash function, the least hash of a shingle
    /// (`u64::MAX` for an empty set).
    pub fn signature(&self, shingles: &[u64]) -> Vec<u64> {
        self.coefficients
            .iter()
            .map(|&(a, b)| shingles.iter().map(|&x| mix64(a.wrapping_mul(x).wrapping_add(b))).min().unwrap_or(u64::MAX))
            .collect()
    }
}

/// The share of positions where two signatures agree: an estimate of the Jaccard similarity.
pub fn estimated_jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// Rows per LSH band for a similarity threshold: the most rows (the fewest false candidates)
/// that still make a pair at the threshold a candidate with probability at least 0.999.
pub fn rows_per_band(threshold: f64, hashes: usize) -> usize {
    let t = threshold.clamp(0.0, 1.0);
    let mut best = 1;
    for rows in 1..=hashes {
        let bands = hashes / rows;
        if bands == 0 {
            break;
        }
        let hit = 1.0 - (1.0 - t.powi(rows as i32)).powi(bands as i32);
        if hit >= 0.999 {
            best = rows;
        } else {
            break;
        }
    }
    best
}

/// The pairs `(i, j)`, `i < j`, whose signatures agree on all rows of at least one band.
pub fn candidate_pairs(signatures: &[Vec<u64>], rows: usize) -> BTreeSet<(usize, usize)> {
    let mut pairs = BTreeSet::new();
    let Some(first) = signatures.first() else { return pairs };
    let rows = rows.clamp(1, first.len().max(1));
    let bands = first.len() / rows;
    for band in 0..bands {
        let mut buckets: HashMap<&[u64], Vec<usize>> = HashMap::new();
        for (i, signature) in signatures.iter().enumerate() {
            buckets.entry(&signature[band * rows..(band + 1) * rows]).or_default().push(i);
        }
        for members in buckets.values().filter(|m| m.len() > 1) {
            for (k, &i) in members.iter().enumerate() {
                for &j in &members[k + 1..] {
                    pairs.insert((i.min(j), i.max(j)));
                }
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> Vec<u64> {
        shingles(&words(text), SHINGLE_WORDS)
    }

    #[test]
    fn words_are_normalised() {
        assert_eq!(words("Hello, World! It's 5pm."), vec!["hello", "world", "it", "s", "5pm"]);
    }

    #[test]
    fn identical_texts_have_similarity_one() {
        let a = set("the quick brown fox jumps over the lazy dog again and again");
        let hasher = MinHasher::default();
        assert_eq!(jaccard(&a, &a), 1.0);
        assert_eq!(estimated_jaccard(&hasher.signature(&a), &hasher.signature(&a)), 1.0);
    }

    #[test]
    fn disjoint_texts_have_similarity_near_zero() {
        let a = set("alpha beta gamma delta epsilon zeta eta theta iota kappa");
        let b = set("one two three four five six seven eight nine ten eleven");
        let hasher = MinHasher::default();
        assert_eq!(jaccard(&a, &b), 0.0);
        assert!(estimated_jaccard(&hasher.signature(&a), &hasher.signature(&b)) < 0.05);
    }

    #[test]
    fn signatures_are_deterministic() {
        let a = set("some words that make up a few shingles for the test");
        assert_eq!(MinHasher::default().signature(&a), MinHasher::default().signature(&a));
    }

    #[test]
    fn bands_for_the_default_threshold() {
        assert_eq!(rows_per_band(0.8, NUM_HASHES), 5);
        assert_eq!(rows_per_band(0.0, NUM_HASHES), 1);
    }
}
