//! `--fail-under`: minimum scores a CI pipeline can require, each mapped to a figure of the
//! evaluation where higher is better.

use doppel_core::{Error, Result};

use crate::Evaluation;

/// The keys `--fail-under` accepts, what each one reads, and whether it needs a holdout / target.
pub const KEYS: [(&str, &str); 12] = [
    ("quality", "quality.score (SDMetrics' overall score, as shipped)"),
    ("quality_all_pairs", "quality.score_all_pairs"),
    ("column_shapes", "quality.column_shapes"),
    ("column_pair_trends", "quality.column_pair_trends"),
    ("column_pair_trends_all_pairs", "quality.column_pair_trends_all_pairs"),
    ("accuracy", "accuracy.synthetic.overall"),
    ("tstr", "utility.tstr (needs --target and --holdout)"),
    ("utility", "utility.ratio, TSTR / TRTR (needs --target and --holdout)"),
    ("detection", "detection.score: 1 − (2·max(AUC, 0.5) − 1), 1 = indistinguishable"),
    ("privacy", "2·(1 − privacy.dcr_share) capped at 1: 1 while the share is ≤ 0.5 (needs --holdout)"),
    ("membership", "2·(1 − privacy.membership_auc) capped at 1 (needs --holdout)"),
    ("exact_copies", "1 − privacy.exact_copy_rate"),
];

/// Minimum scores.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FailUnder {
    /// (key, minimum) in the order given.
    pub limits: Vec<(String, f64)>,
}

/// A figure that fell short of its minimum (or could not be computed).
#[derive(Debug, Clone, PartialEq)]
pub struct Shortfall {
    /// The key.
    pub key: String,
    /// The figure, if it was computed.
    pub value: Option<f64>,
    /// The minimum.
    pub minimum: f64,
}

impl FailUnder {
    /// Parses `quality=0.9,detection=0.5`.
    pub fn parse(text: &str) -> Result<FailUnder> {
        let mut limits = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = part.split_once('=') else {
                return Err(Error::InvalidConfig(format!(
                    "--fail-under: `{part}` is not KEY=MINIMUM (for example quality=0.9)"
                )));
            };
            let key = key.trim();
            if !KEYS.iter().any(|(k, _)| *k == key) {
                return Err(Error::InvalidConfig(format!(
                    "--fail-under: unknown key `{key}`; the keys are {}",
                    KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
                )));
            }
            let minimum: f64 = value.trim().parse().ok().filter(|v: &f64| v.is_finite()).ok_or_else(|| {
                Error::InvalidConfig(format!("--fail-under: `{}` is not a number (for {key})", value.trim()))
            })?;
            limits.push((key.to_string(), minimum));
        }
        if limits.is_empty() {
            return Err(Error::InvalidConfig("--fail-under: give at least one KEY=MINIMUM".into()));
        }
        Ok(FailUnder { limits })
    }

    /// Checks that the figures the limits need can be computed with these inputs.
    pub fn check_inputs(&self, has_holdout: bool, has_target: bool) -> Result<()> {
        for (key, _) in &self.limits {
            let needs_holdout = matches!(key.as_str(), "tstr" | "utility" | "privacy" | "membership");
            let needs_target = matches!(key.as_str(), "tstr" | "utility");
            if (needs_holdout && !has_holdout) || (needs_target && !has_target) {
                return Err(Error::InvalidConfig(format!(
                    "--fail-under {key}: needs {}",
                    match (needs_target && !has_target, needs_holdout && !has_holdout) {
                        (true, true) => "--target and --holdout",
                        (true, false) => "--target",
                        _ => "--holdout",
                    }
                )));
            }
        }
        Ok(())
    }

    /// The figure a key reads.
    pub fn value(evaluation: &Evaluation, key: &str) -> Option<f64> {
        let q = &evaluation.quality.scores;
        match key {
            "quality" => q.score,
            "quality_all_pairs" => q.score_all_pairs,
            "column_shapes" => q.column_shapes,
            "column_pair_trends" => q.column_pair_trends,
            "column_pair_trends_all_pairs" => q.column_pair_trends_all_pairs,
            "accuracy" => evaluation.accuracy.synthetic.overall,
            "tstr" => evaluation.utility.tstr,
            "utility" => evaluation.utility.ratio,
            "detection" => evaluation.detection.score,
            "privacy" => evaluation.privacy.dcr_share.map(|s| (2.0 * (1.0 - s)).min(1.0)),
            "membership" => evaluation.privacy.membership_auc.map(|s| (2.0 * (1.0 - s)).min(1.0)),
            "exact_copies" => Some(1.0 - evaluation.privacy.exact_copy_rate),
            _ => None,
        }
    }

    /// The limits the evaluation does not meet.
    pub fn shortfalls(&self, evaluation: &Evaluation) -> Vec<Shortfall> {
        self.limits
            .iter()
            .filter_map(|(key, minimum)| {
                let value = Self::value(evaluation, key);
                let short = value.is_none_or(|v| v < *minimum);
                short.then(|| Shortfall { key: key.clone(), value, minimum: *minimum })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let f = FailUnder::parse("quality=0.9, detection=0.5").unwrap_or_default();
        assert_eq!(f.limits, vec![("quality".to_string(), 0.9), ("detection".to_string(), 0.5)]);
        assert!(FailUnder::parse("qualty=0.9").is_err());
        assert!(FailUnder::parse("quality").is_err());
        assert!(FailUnder::parse("quality=high").is_err());
        assert!(FailUnder::parse("").is_err());
        assert!(f.check_inputs(false, false).is_ok());
        assert!(FailUnder::parse("tstr=0.5").unwrap_or_default().check_inputs(true, false).is_err());
    }
}
