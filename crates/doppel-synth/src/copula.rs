//! The `copula` engine: a Gaussian copula over the transforms' uniform scores.
//!
//! Every modelled column contributes one latent dimension (and one more for its missingness when
//! it has missing values). Scores become normal scores `z = Φ⁻¹(u)`; their correlation matrix,
//! estimated from pairwise-complete rows, is made positive definite by shrinking towards the
//! identity only as far as needed. Sampling draws `z = L ε` and hands `Φ(z)` back to the
//! transforms, which restore each column's marginal, rounding, format and missingness.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use doppel_core::{Error, Metadata, Result, SeededRng, Table, Warning};
use doppel_transform::{EncodedColumn, FitSettings, TransformState};

use crate::normal;
use crate::{FitContext, FitStage, decode_scores};

/// The Gaussian copula engine's settings (the unfitted configuration).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GaussianCopula {
    /// Settings for the column transforms.
    pub transform: FitSettings,
}

/// A fitted Gaussian copula.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianCopulaModel {
    /// One transform per column, in the table's order.
    pub transforms: Vec<TransformState>,
    /// The latent dimensions (encoded columns), in order.
    pub dimensions: Vec<EncodedColumn>,
    /// The lower-triangular Cholesky factor of the latent correlation matrix, packed row by row.
    pub cholesky: Vec<f64>,
    /// How much the correlation matrix was shrunk towards the identity (0 = not at all).
    pub shrinkage: f64,
}

impl GaussianCopula {
    /// Fits the engine on a table whose columns match `metadata`.
    pub fn fit(&self, table: &Table, metadata: &Metadata, context: &mut FitContext) -> Result<GaussianCopulaModel> {
        let n_rows = table.n_rows();
        let mut transforms = Vec::with_capacity(metadata.columns.len());
        // Normal scores, NaN where a score does not apply (half the memory of `Option<f64>`).
        let mut latent: Vec<Vec<f64>> = Vec::new();
        let mut dimensions = Vec::new();
        let n_columns = metadata.columns.len();
        for (index, meta) in metadata.columns.iter().enumerate() {
            context.report(FitStage::Transforms, index, n_columns);
            let column = table.column(&meta.name)?;
            let state = TransformState::fit(column, meta, &self.transform, &mut context.warnings)?;
            let encoded = state.transform(&column.data)?;
            for scores in encoded {
                latent.push(scores.into_iter().map(|s| s.map_or(f64::NAN, normal::inverse_cdf)).collect());
            }
            dimensions.extend(state.output_columns());
            transforms.push(state);
        }
        context.report(FitStage::Transforms, n_columns, n_columns);
        let d = dimensions.len();
        let mut correlation = vec![0.0; d * d];
        for i in 0..d {
            context.report(FitStage::Correlations, i, d);
            correlation[i * d + i] = 1.0;
            for j in 0..i {
                let r = pairwise_correlation(&latent[i], &latent[j]);
                correlation[i * d + j] = r;
                correlation[j * d + i] = r;
            }
        }
        context.report(FitStage::Correlations, d, d);
        let (cholesky, shrinkage) = shrunk_cholesky(&correlation, d)?;
        // Deterministic relations make the matrix singular; a jitter of 1e-4 or less is numerical,
        // anything larger weakens every dependence and is worth a warning.
        if shrinkage > 1e-4 {
            context.warnings.push(Warning::table(format!(
                "the correlation matrix was not positive definite; it was shrunk {}% towards independence",
                shrinkage * 100.0
            )));
        }
        if n_rows < 2 * self.transform.min_category_count {
            context.warnings.push(Warning::table(format!("only {n_rows} training rows; the model will be coarse")));
        }
        Ok(GaussianCopulaModel { transforms, dimensions, cholesky, shrinkage })
    }
}

/// Pearson correlation over the rows where both values are present (not NaN); 0 when fewer
/// than 3 such rows, or when either side is constant.
fn pairwise_correlation(a: &[f64], b: &[f64]) -> f64 {
    let (mut n, mut sa, mut sb) = (0usize, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        if !x.is_nan() && !y.is_nan() {
            n += 1;
            sa += x;
            sb += y;
        }
    }
    if n < 3 {
        return 0.0;
    }
    let (ma, mb) = (sa / n as f64, sb / n as f64);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        if !x.is_nan() && !y.is_nan() {
            let (dx, dy) = (x - ma, y - mb);
            sab += dx * dy;
            saa += dx * dx;
            sbb += dy * dy;
        }
    }
    if saa <= 1e-12 || sbb <= 1e-12 {
        return 0.0;
    }
    (sab / (saa * sbb).sqrt()).clamp(-1.0, 1.0)
}

/// Cholesky factor of `(1 - λ) R + λ I` for the smallest λ on a fixed ladder that makes it
/// positive definite; returns the packed lower triangle and λ.
fn shrunk_cholesky(correlation: &[f64], d: usize) -> Result<(Vec<f64>, f64)> {
    for shrinkage in [0.0, 1e-6, 1e-4, 1e-3, 0.01, 0.03, 0.1, 0.3, 1.0] {
        let mut matrix = correlation.to_vec();
        for i in 0..d {
            for j in 0..d {
                let identity = if i == j { 1.0 } else { 0.0 };
                matrix[i * d + j] = (1.0 - shrinkage) * matrix[i * d + j] + shrinkage * identity;
            }
        }
        if let Some(factor) = cholesky(&matrix, d) {
            return Ok((factor, shrinkage));
        }
    }
    Err(Error::InvalidData("the latent correlation matrix could not be factorised".into()))
}

/// Packed index of `(i, j)`, `j <= i`, in a lower triangle stored row by row.
fn packed(i: usize, j: usize) -> usize {
    i * (i + 1) / 2 + j
}

fn cholesky(matrix: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut factor = vec![0.0; d * (d + 1) / 2];
    for i in 0..d {
        for j in 0..=i {
            let mut sum = matrix[i * d + j];
            for k in 0..j {
                sum -= factor[packed(i, k)] * factor[packed(j, k)];
            }
            if i == j {
                if sum <= 1e-10 {
                    return None;
                }
                factor[packed(i, i)] = sum.sqrt();
            } else {
                factor[packed(i, j)] = sum / factor[packed(j, j)];
            }
        }
    }
    Some(factor)
}

impl GaussianCopulaModel {
    /// Samples `n_rows` rows whose global row numbers start at `first_row`. `latent_rng` draws
    /// the latent normals row by row; `column_rng(i)` gives the stream of generated column `i`.
    /// Rows depend only on earlier draws, so a prefix of a block equals the same rows of the
    /// whole block.
    pub fn sample_rows(
        &self,
        first_row: u64,
        n_rows: usize,
        latent_rng: &mut SeededRng,
        column_rng: &dyn Fn(usize) -> SeededRng,
    ) -> Result<Table> {
        let d = self.dimensions.len();
        let mut scores: Vec<Vec<f64>> = vec![Vec::with_capacity(n_rows); d];
        let mut epsilon = vec![0.0; d];
        for _ in 0..n_rows {
            for e in epsilon.iter_mut() {
                *e = draw_normal(latent_rng);
            }
            for (i, column) in scores.iter_mut().enumerate() {
                let row = &self.cholesky[packed(i, 0)..=packed(i, i)];
                let z: f64 = row.iter().zip(&epsilon).map(|(l, e)| l * e).sum();
                column.push(normal::cdf(z).clamp(1e-12, 1.0 - 1e-12));
            }
        }
        decode_scores(&self.transforms, &scores, first_row, n_rows, column_rng)
    }
}

fn draw_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    StandardNormal.sample(rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reconstructs() {
        let matrix = [1.0, 0.5, 0.2, 0.5, 1.0, 0.3, 0.2, 0.3, 1.0];
        let factor = cholesky(&matrix, 3).expect("positive definite");
        for i in 0..3 {
            for j in 0..=i {
                let sum: f64 = (0..=j).map(|k| factor[packed(i, k)] * factor[packed(j, k)]).sum();
                assert!((sum - matrix[i * 3 + j]).abs() < 1e-12);
            }
        }
        let (_, shrinkage) = shrunk_cholesky(&[1.0, 1.0, 1.0, 1.0], 2).expect("shrinks");
        assert!(shrinkage > 0.0);
    }
}
