//! The data behind the report's charts, kept in the evaluation JSON so that `doppel report` can
//! draw a report from the JSON alone.

use serde::{Deserialize, Serialize};

use crate::data::{Dataset, MISSING, Schema, SdType, Unit, Values};

/// Bins of a continuous column's histogram.
const HISTOGRAM_BINS: usize = 20;
/// Categories shown per discrete column; the rest are summed as "(other)".
const TOP_CATEGORIES: usize = 20;

/// One column's distribution, real next to synthetic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnChart {
    /// The column.
    pub column: String,
    /// Its sdtype.
    pub sdtype: SdType,
    /// How its numbers read (continuous columns).
    pub unit: Unit,
    /// Bin edges of a histogram (continuous columns; one more than the shares), empty for bars.
    pub edges: Vec<f64>,
    /// Labels of the bars or bins.
    pub labels: Vec<String>,
    /// Shares of the real non-missing values per bar or bin.
    pub real: Vec<f64>,
    /// Shares of the synthetic non-missing values per bar or bin.
    pub synthetic: Vec<f64>,
    /// Share of missing values in the real data.
    pub missing_real: f64,
    /// Share of missing values in the synthetic data.
    pub missing_synthetic: f64,
}

/// Every column's chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Charts {
    /// One per evaluated column, in metadata order.
    pub columns: Vec<ColumnChart>,
}

fn shares(counts: &[usize]) -> Vec<f64> {
    let total: usize = counts.iter().sum();
    counts.iter().map(|&c| if total > 0 { c as f64 / total as f64 } else { 0.0 }).collect()
}

impl Charts {
    /// Computes the charts of every evaluated column.
    pub fn compute(schema: &Schema, real: &Dataset, synthetic: &Dataset) -> Charts {
        let columns = schema
            .columns
            .iter()
            .enumerate()
            .map(|(c, spec)| {
                let (r, s) = (&real.columns[c], &synthetic.columns[c]);
                let mut chart = ColumnChart {
                    column: spec.name.clone(),
                    sdtype: spec.sdtype,
                    unit: spec.unit,
                    edges: Vec::new(),
                    labels: Vec::new(),
                    real: Vec::new(),
                    synthetic: Vec::new(),
                    missing_real: r.missing_rate(),
                    missing_synthetic: s.missing_rate(),
                };
                match (r, s) {
                    (Values::Continuous(rv), Values::Continuous(sv)) => {
                        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                        for &x in rv.iter().chain(sv).filter(|x| !x.is_nan()) {
                            lo = lo.min(x);
                            hi = hi.max(x);
                        }
                        if lo > hi {
                            return chart;
                        }
                        if lo == hi {
                            lo -= 0.5;
                            hi += 0.5;
                        }
                        let width = (hi - lo) / HISTOGRAM_BINS as f64;
                        let count = |values: &[f64]| {
                            let mut counts = vec![0usize; HISTOGRAM_BINS];
                            for &x in values.iter().filter(|x| !x.is_nan()) {
                                counts[(((x - lo) / width) as usize).min(HISTOGRAM_BINS - 1)] += 1;
                            }
                            counts
                        };
                        chart.edges = (0..=HISTOGRAM_BINS).map(|i| lo + width * i as f64).collect();
                        chart.labels = chart.edges[..HISTOGRAM_BINS].iter().map(|&e| spec.unit.format(e)).collect();
                        chart.real = shares(&count(rv));
                        chart.synthetic = shares(&count(sv));
                    }
                    (Values::Discrete(rv), Values::Discrete(sv)) => {
                        let k = spec.dictionary.len();
                        let count = |codes: &[u32]| {
                            let mut counts = vec![0usize; k];
                            codes.iter().filter(|&&x| x != MISSING).for_each(|&x| counts[x as usize] += 1);
                            counts
                        };
                        let (rc, sc) = (count(rv), count(sv));
                        let mut order: Vec<usize> = (0..k).filter(|&i| rc[i] > 0 || sc[i] > 0).collect();
                        order.sort_by(|&a, &b| rc[b].cmp(&rc[a]).then(sc[b].cmp(&sc[a])).then(a.cmp(&b)));
                        let shown = order.len().min(TOP_CATEGORIES);
                        let mut real_counts: Vec<usize> = order[..shown].iter().map(|&i| rc[i]).collect();
                        let mut synth_counts: Vec<usize> = order[..shown].iter().map(|&i| sc[i]).collect();
                        chart.labels = order[..shown].iter().map(|&i| spec.dictionary[i].clone()).collect();
                        if order.len() > shown {
                            real_counts.push(order[shown..].iter().map(|&i| rc[i]).sum());
                            synth_counts.push(order[shown..].iter().map(|&i| sc[i]).sum());
                            chart.labels.push(format!("(other {})", order.len() - shown));
                        }
                        chart.real = shares(&real_counts);
                        chart.synthetic = shares(&synth_counts);
                    }
                    _ => {}
                }
                chart
            })
            .collect();
        Charts { columns }
    }
}
