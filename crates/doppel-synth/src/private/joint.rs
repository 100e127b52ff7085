//! The `dp` engine on small domains: the whole joint distribution, estimated from noisy marginals
//! chosen round by round (AIM, McKenna et al. 2022), with Private-PGM's estimator.
//!
//! When the product of the columns' code counts is small enough to enumerate, the engine keeps a
//! dense distribution over every combination of codes instead of a Bayesian network. Each round
//! picks a two- or three-way marginal by the exponential mechanism, scoring how far the current
//! estimate is from the truth minus the L1 error the measurement's own noise would carry; the
//! marginal is measured with Gaussian noise; and the estimate is refitted to every measurement
//! so far. The estimate minimises the inverse-variance weighted squared error to the noisy
//! marginals by mirror descent (the estimator of Private-PGM, McKenna, Sheldon and Miklau 2019),
//! which is post-processing. Its result is a log-linear model: the log-probability of a
//! combination is a sum of one log-potential per measured marginal, which is what the model file
//! stores.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::{Noise, cumulative_of};

/// Domains up to this many combinations can be estimated as one dense joint distribution.
const MAX_CELLS: usize = 1 << 18;

/// How much cell-by-marginal work the estimator may take in all (cells × marginals × passes).
const MAX_ESTIMATION_WORK: f64 = 3e9;

/// Mirror-descent iterations after each round, and at the end.
const ROUND_ITERATIONS: usize = 15;
const FINAL_ITERATIONS: usize = 250;

/// Rounds of selection and measurement for `d` variables.
fn rounds_for(d: usize) -> usize {
    (2 * d).max(1)
}

/// Whether a domain of `d` variables and `cells` combinations is small enough to estimate densely.
pub(super) fn fits(d: usize, cells: Option<usize>) -> bool {
    let Some(cells) = cells else { return false };
    let rounds = rounds_for(d);
    let measurements = (d + rounds) as f64;
    let passes = 2.0 * (ROUND_ITERATIONS * rounds + FINAL_ITERATIONS) as f64;
    d >= 2 && cells <= MAX_CELLS && cells as f64 * measurements * passes <= MAX_ESTIMATION_WORK
}

/// How much cell-by-marginal work the candidates' scores may take in all, which decides whether
/// three-way marginals are candidates.
const MAX_SCORING_WORK: f64 = 4e9;

/// A log-linear model over every combination of the variables' codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Joint {
    /// Per variable (in the model's order): the codes that can occur, in order. The other codes
    /// were measured as empty and have probability zero.
    pub codes: Vec<Vec<u32>>,
    /// One factor per measurement.
    pub factors: Vec<Factor>,
    #[serde(skip)]
    cumulative: Cache,
}

/// A log-potential over the codes of some variables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    /// The variables (positions in the model's order), ascending.
    pub variables: Vec<usize>,
    /// One value per combination of their possible codes (the first variable slowest).
    pub log_potential: Vec<f64>,
}

/// The joint's cumulative probabilities, computed on first use; not part of the model's value.
#[derive(Debug, Default)]
struct Cache(OnceLock<Vec<f64>>);

impl Clone for Cache {
    fn clone(&self) -> Self {
        Cache::default()
    }
}

impl PartialEq for Cache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Joint {
    /// The number of combinations.
    pub fn cells(&self) -> usize {
        self.codes.iter().map(Vec::len).product()
    }

    /// Draws one combination of codes from `u` in [0, 1), writing each variable's code.
    pub fn draw(&self, u: f64, codes: &mut [u32]) {
        let cumulative = self.cumulative.0.get_or_init(|| {
            let domain = Domain::new(self.codes.iter().map(Vec::len).collect());
            let factors: Vec<Clique> = self.factors.iter().map(|f| domain.clique(&f.variables)).collect();
            let cliques: Vec<&Clique> = factors.iter().collect();
            let potentials: Vec<&[f64]> = self.factors.iter().map(|f| f.log_potential.as_slice()).collect();
            let probabilities = domain.probabilities(&cliques, &potentials);
            cumulative_of(&probabilities)
        });
        let mut cell = super::draw_code(cumulative, u);
        for v in (0..self.codes.len()).rev() {
            let size = self.codes[v].len();
            codes[v] = self.codes[v][cell % size];
            cell /= size;
        }
    }
}

/// The dense domain: variables' sizes, the last variable fastest.
struct Domain {
    sizes: Vec<usize>,
    cells: usize,
}

/// A marginal's variables with their strides in the marginal's table.
struct Clique {
    strides: Vec<(usize, usize)>,
    cells: usize,
}

impl Domain {
    fn new(sizes: Vec<usize>) -> Self {
        let cells = sizes.iter().product();
        Domain { sizes, cells }
    }

    fn clique(&self, variables: &[usize]) -> Clique {
        let mut strides = Vec::with_capacity(variables.len());
        let mut stride = 1;
        for &v in variables.iter().rev() {
            strides.push((v, stride));
            stride *= self.sizes[v];
        }
        strides.reverse();
        Clique { strides, cells: stride }
    }

    /// Calls `visit(cell, indices)` for every cell in order, with the cell's index in each clique.
    fn for_each_cell(&self, cliques: &[&Clique], mut visit: impl FnMut(usize, &[usize])) {
        let d = self.sizes.len();
        let mut digits = vec![0usize; d];
        let mut indices = vec![0usize; cliques.len()];
        // Per variable, the cliques that hold it and its stride in each.
        let mut per_variable: Vec<Vec<(usize, usize)>> = vec![Vec::new(); d];
        for (c, clique) in cliques.iter().enumerate() {
            for &(v, stride) in &clique.strides {
                per_variable[v].push((c, stride));
            }
        }
        for cell in 0..self.cells {
            visit(cell, &indices);
            // Advance the counter, last variable fastest, keeping the indices in step.
            for v in (0..d).rev() {
                digits[v] += 1;
                if digits[v] < self.sizes[v] {
                    per_variable[v].iter().for_each(|&(c, stride)| indices[c] += stride);
                    break;
                }
                let back = self.sizes[v] - 1;
                per_variable[v].iter().for_each(|&(c, stride)| indices[c] -= back * stride);
                digits[v] = 0;
            }
        }
    }

    /// Normalised probabilities of the log-linear model with these factors.
    fn probabilities(&self, cliques: &[&Clique], potentials: &[&[f64]]) -> Vec<f64> {
        let mut log_p = vec![0.0; self.cells];
        self.for_each_cell(cliques, |cell, indices| {
            log_p[cell] = indices.iter().zip(potentials).map(|(&i, theta)| theta[i]).sum();
        });
        let max = log_p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut total = 0.0;
        for x in log_p.iter_mut() {
            *x = (*x - max).exp();
            total += *x;
        }
        log_p.iter_mut().for_each(|x| *x /= total);
        log_p
    }

    /// The marginals of `p` on each clique.
    fn marginals(&self, p: &[f64], cliques: &[&Clique]) -> Vec<Vec<f64>> {
        let mut out: Vec<Vec<f64>> = cliques.iter().map(|c| vec![0.0; c.cells]).collect();
        self.for_each_cell(cliques, |cell, indices| {
            for (m, &i) in out.iter_mut().zip(indices) {
                m[i] += p[cell];
            }
        });
        out
    }
}

/// A noisy marginal, in shares of the estimated row count.
struct Measurement {
    variables: Vec<usize>,
    clique: Clique,
    shares: Vec<f64>,
    /// The inverse variance of a share: total² / σ².
    weight: f64,
    log_potential: Vec<f64>,
}

/// What the estimator works from.
pub(super) struct Input<'a> {
    /// Per variable: its name, codes per row, and its codes that can occur.
    pub names: Vec<&'a str>,
    pub data: Vec<&'a [u32]>,
    pub active: Vec<Vec<u32>>,
    /// The noisy one-way counts (all codes) and their noise scale.
    pub one_way: &'a [Vec<f64>],
    pub sigma_one: f64,
    /// The estimated number of rows.
    pub total: f64,
    pub rows: usize,
}

/// Chooses, measures and fits marginals with budget `rho` (zCDP), returning the joint and each
/// variable's estimated shares of all its codes.
pub(super) fn fit(input: &Input, rho: f64, noise: &mut Noise, rho_spent: &mut f64) -> (Joint, Vec<Vec<f64>>) {
    let d = input.active.len();
    let domain = Domain::new(input.active.iter().map(Vec::len).collect());
    let total = input.total;
    // Each row's position among its variable's possible codes (None: a code measured as empty).
    let local: Vec<Vec<Option<u32>>> = (0..d)
        .map(|v| {
            let size = input.one_way[v].len();
            let mut map = vec![None; size];
            input.active[v].iter().enumerate().for_each(|(i, &c)| map[c as usize] = Some(i as u32));
            input.data[v].iter().map(|&c| map[c as usize]).collect()
        })
        .collect();
    #[allow(clippy::needless_range_loop)] // rows index several columns at once
    let counts = |variables: &[usize], clique: &Clique| -> Vec<f64> {
        let mut out = vec![0.0; clique.cells];
        for row in 0..input.rows {
            let index = variables
                .iter()
                .zip(&clique.strides)
                .try_fold(0, |index, (&v, &(_, stride))| local[v][row].map(|code| index + code as usize * stride));
            if let Some(index) = index {
                out[index] += 1.0;
            }
        }
        out
    };

    let mut measurements: Vec<Measurement> = (0..d)
        .map(|v| {
            let clique = domain.clique(&[v]);
            Measurement {
                variables: vec![v],
                shares: input.active[v].iter().map(|&c| input.one_way[v][c as usize] / total).collect(),
                weight: (total / input.sigma_one).powi(2),
                log_potential: vec![0.0; clique.cells],
                clique,
            }
        })
        .collect();
    // With one-way measurements alone the estimate is the product of their projections onto the
    // simplex (each projection minimises its own squared error).
    for m in measurements.iter_mut() {
        m.log_potential = super::project_simplex(&m.shares, 1.0).iter().map(|x| x.max(1e-12).ln()).collect();
    }
    let mut step = 1.0 / measurements.iter().map(|m| m.weight).sum::<f64>();

    // The candidates: every pair, and every triple when scoring them all stays affordable.
    let rounds = rounds_for(d);
    let rho_round = rho / rounds as f64;
    let (rho_select, rho_measure) = (0.1 * rho_round, 0.9 * rho_round);
    let epsilon_select = (8.0 * rho_select).sqrt();
    let sigma = super::sigma_for(rho_measure);
    let noise_l1 = |cells: usize| (2.0 / std::f64::consts::PI).sqrt() * sigma * cells as f64;
    let mut candidates: Vec<Vec<usize>> = Vec::new();
    for a in 0..d {
        for b in a + 1..d {
            candidates.push(vec![a, b]);
        }
    }
    let triples = d * d.saturating_sub(1) * d.saturating_sub(2) / 6;
    if (triples * domain.cells * rounds) as f64 <= MAX_SCORING_WORK {
        for a in 0..d {
            for b in a + 1..d {
                for c in b + 1..d {
                    candidates.push(vec![a, b, c]);
                }
            }
        }
    }
    let owned: Vec<Clique> = candidates.iter().map(|c| domain.clique(c)).collect();
    let cliques: Vec<&Clique> = owned.iter().collect();
    // A marginal whose noise alone would be as large as the table is never worth measuring.
    let keep: Vec<bool> = cliques.iter().map(|c| noise_l1(c.cells) < total).collect();
    let truth: Vec<Vec<f64>> = candidates.iter().zip(&cliques).map(|(c, clique)| counts(c, clique)).collect();

    for _ in 0..rounds {
        if !keep.iter().any(|&k| k) {
            break;
        }
        let p = current(&domain, &measurements);
        let estimates = domain.marginals(&p, &cliques);
        let scores: Vec<f64> = (0..candidates.len())
            .map(|c| {
                if !keep[c] {
                    return f64::NEG_INFINITY;
                }
                let error: f64 = truth[c].iter().zip(&estimates[c]).map(|(t, e)| (t - total * e).abs()).sum();
                error - noise_l1(cliques[c].cells)
            })
            .collect();
        let Some(chosen) = noise.choose(&scores, epsilon_select) else { break };
        let names: Vec<&str> = candidates[chosen].iter().map(|&v| input.names[v]).collect();
        noise.record("selection", &names, "exponential", epsilon_select, rho_select, 0.0);
        let step_name = if candidates[chosen].len() == 2 { "two_way" } else { "three_way" };
        let (measured, _) = noise.measure(step_name, &names, &truth[chosen], rho_measure);
        *rho_spent += rho_select + rho_measure;
        let clique = domain.clique(&candidates[chosen]);
        measurements.push(Measurement {
            variables: candidates[chosen].clone(),
            shares: measured.iter().map(|x| x / total).collect(),
            weight: (total / sigma).powi(2),
            log_potential: vec![0.0; clique.cells],
            clique,
        });
        estimate(&domain, &mut measurements, ROUND_ITERATIONS, &mut step);
    }
    estimate(&domain, &mut measurements, FINAL_ITERATIONS, &mut step);

    let p = current(&domain, &measurements);
    let singles: Vec<Clique> = (0..d).map(|v| domain.clique(&[v])).collect();
    let one_way_estimates = domain.marginals(&p, &singles.iter().collect::<Vec<_>>());
    let marginals = (0..d)
        .map(|v| {
            let mut full = vec![0.0; input.one_way[v].len()];
            input.active[v].iter().zip(&one_way_estimates[v]).for_each(|(&c, &s)| full[c as usize] = s);
            full
        })
        .collect();
    let joint = Joint {
        codes: input.active.clone(),
        factors: measurements
            .into_iter()
            .map(|m| Factor { variables: m.variables, log_potential: m.log_potential })
            .collect(),
        cumulative: Cache::default(),
    };
    (joint, marginals)
}

fn current(domain: &Domain, measurements: &[Measurement]) -> Vec<f64> {
    let cliques: Vec<&Clique> = measurements.iter().map(|m| &m.clique).collect();
    let potentials: Vec<&[f64]> = measurements.iter().map(|m| m.log_potential.as_slice()).collect();
    domain.probabilities(&cliques, &potentials)
}

/// The loss (half the weighted squared error of the estimate's marginals) and its gradient per
/// measurement.
fn loss_and_gradient(domain: &Domain, measurements: &[Measurement], potentials: &[Vec<f64>]) -> (f64, Vec<Vec<f64>>) {
    let cliques: Vec<&Clique> = measurements.iter().map(|m| &m.clique).collect();
    let refs: Vec<&[f64]> = potentials.iter().map(Vec::as_slice).collect();
    let p = domain.probabilities(&cliques, &refs);
    let marginals = domain.marginals(&p, &cliques);
    let mut loss = 0.0;
    let gradient = measurements
        .iter()
        .zip(&marginals)
        .map(|(m, mu)| {
            mu.iter()
                .zip(&m.shares)
                .map(|(x, y)| {
                    let r = x - y;
                    loss += 0.5 * m.weight * r * r;
                    m.weight * r
                })
                .collect()
        })
        .collect();
    (loss, gradient)
}

/// Mirror descent on the log-potentials, with a step that grows after each success and halves
/// after each failure to lower the loss.
fn estimate(domain: &Domain, measurements: &mut [Measurement], iterations: usize, step: &mut f64) {
    let mut theta: Vec<Vec<f64>> = measurements.iter().map(|m| m.log_potential.clone()).collect();
    let (mut loss, mut gradient) = loss_and_gradient(domain, measurements, &theta);
    for _ in 0..iterations {
        let before = *step;
        let mut accepted = false;
        for _ in 0..30 {
            let trial: Vec<Vec<f64>> = theta
                .iter()
                .zip(&gradient)
                .map(|(t, g)| t.iter().zip(g).map(|(t, g)| t - *step * g).collect())
                .collect();
            let (trial_loss, trial_gradient) = loss_and_gradient(domain, measurements, &trial);
            if trial_loss < loss {
                theta = trial;
                loss = trial_loss;
                gradient = trial_gradient;
                *step *= 1.5;
                accepted = true;
                break;
            }
            *step *= 0.5;
        }
        if !accepted {
            // Converged as far as the arithmetic allows: keep a usable step for the next call.
            *step = before;
            break;
        }
    }
    for (m, t) in measurements.iter_mut().zip(theta) {
        m.log_potential = t;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_visited_with_their_clique_indices() {
        let domain = Domain::new(vec![2, 3, 2]);
        let cliques = [domain.clique(&[0, 2]), domain.clique(&[1])];
        let mut seen = Vec::new();
        domain.for_each_cell(&[&cliques[0], &cliques[1]], |cell, indices| seen.push((cell, indices.to_vec())));
        assert_eq!(seen.len(), 12);
        for (cell, indices) in seen {
            let (a, b, c) = (cell / 6, (cell / 2) % 3, cell % 2);
            assert_eq!(indices, vec![a * 2 + c, b], "cell {cell}");
        }
    }

    #[test]
    fn the_estimate_recovers_consistent_marginals() {
        // Two variables with a strong dependence, measured exactly (huge weights).
        let domain = Domain::new(vec![2, 2]);
        let truth = [0.4, 0.1, 0.1, 0.4];
        let make = |variables: Vec<usize>, shares: Vec<f64>| {
            let clique = domain.clique(&variables);
            Measurement { log_potential: vec![0.0; clique.cells], variables, clique, shares, weight: 1e4 }
        };
        let mut measurements =
            vec![make(vec![0], vec![0.5, 0.5]), make(vec![1], vec![0.5, 0.5]), make(vec![0, 1], truth.to_vec())];
        let mut step = 1e-4;
        estimate(&domain, &mut measurements, 500, &mut step);
        let p = current(&domain, &measurements);
        for (got, want) in p.iter().zip(truth) {
            assert!((got - want).abs() < 1e-3, "{p:?}");
        }
    }
}
