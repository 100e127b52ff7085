//! Behaviour of the gradient-boosting model on synthetic problems.

use doppel_core::Error;
use doppel_learn::{Feature, Features, GbmParams, GradientBoosting, Objective, metrics};

/// splitmix64 with a few distributions.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    fn below(&mut self, n: u32) -> u32 {
        (self.uniform() * f64::from(n)) as u32
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn positives(labels: &[f64]) -> Vec<bool> {
    labels.iter().map(|&y| y == 1.0).collect()
}

/// A binary problem: an interaction of two numeric features plus a categorical effect.
struct Interaction {
    x1: Vec<f64>,
    x2: Vec<f64>,
    noise: Vec<f64>,
    c: Vec<u32>,
    y: Vec<f64>,
}

fn interaction(n: usize, seed: u64) -> Interaction {
    let mut rng = Rng(seed);
    let mut d = Interaction { x1: vec![], x2: vec![], noise: vec![], c: vec![], y: vec![] };
    for _ in 0..n {
        let (x1, x2, c) = (rng.range(-1.0, 1.0), rng.range(-1.0, 1.0), rng.below(6));
        let effect = [1.0, -1.0, 0.5, -0.5, 1.5, -1.5][c as usize];
        let logit = 12.0 * x1 * x2 + 2.0 * effect;
        d.y.push(if rng.uniform() < sigmoid(logit) { 1.0 } else { 0.0 });
        d.x1.push(x1);
        d.x2.push(x2);
        d.noise.push(rng.normal());
        d.c.push(c);
    }
    d
}

impl Interaction {
    fn features(&self, rows: std::ops::Range<usize>) -> Features<'_> {
        Features::new(vec![
            Feature::Numeric(&self.x1[rows.clone()]),
            Feature::Numeric(&self.x2[rows.clone()]),
            Feature::Numeric(&self.noise[rows.clone()]),
            Feature::Categorical { codes: &self.c[rows], n_categories: 6 },
        ])
    }
}

/// Plain logistic regression on the numeric features and one-hot categories (gradient descent).
fn logistic_auc(d: &Interaction, train: std::ops::Range<usize>, test: std::ops::Range<usize>) -> f64 {
    let row = |i: usize| {
        let mut x = vec![1.0, d.x1[i], d.x2[i], d.noise[i]];
        x.extend((0..6).map(|c| if d.c[i] == c { 1.0 } else { 0.0 }));
        x
    };
    let mut w = [0.0; 10];
    for _ in 0..300 {
        let mut grad = [0.0; 10];
        for i in train.clone() {
            let x = row(i);
            let p = sigmoid(x.iter().zip(&w).map(|(a, b)| a * b).sum());
            for (g, xi) in grad.iter_mut().zip(&x) {
                *g += (p - d.y[i]) * xi;
            }
        }
        for (wi, g) in w.iter_mut().zip(&grad) {
            *wi -= 1.0 * g / train.len() as f64;
        }
    }
    let scores: Vec<f64> = test.clone().map(|i| row(i).iter().zip(&w).map(|(a, b)| a * b).sum()).collect();
    metrics::roc_auc(&scores, &positives(&d.y[test])).expect("both classes")
}

#[test]
fn binary_learns_an_interaction_and_a_category() -> Result<(), Error> {
    let d = interaction(6000, 1);
    let (train, test) = (0..4500, 4500..6000);
    let model = GradientBoosting::fit(
        &d.features(train.clone()),
        &d.y[train.clone()],
        Objective::Binary,
        &GbmParams::default(),
    )?;
    let p = model.predict(&d.features(test.clone()))?;
    assert_eq!(p.len(), test.len());
    assert!(p.iter().all(|&v| (0.0..=1.0).contains(&v)));
    let auc = metrics::roc_auc(&p, &positives(&d.y[test.clone()])).expect("both classes");
    let linear = logistic_auc(&d, train, test);
    assert!(auc > 0.9, "gbm auc {auc}");
    assert!(linear < auc - 0.1, "linear auc {linear} vs gbm auc {auc}");
    assert_eq!(model.n_iter(), 100);
    assert_eq!(model.n_features(), 4);
    Ok(())
}

#[test]
fn multiclass_beats_chance() -> Result<(), Error> {
    let mut rng = Rng(7);
    let n = 4000;
    let (mut x1, mut x2, mut c, mut y) = (vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let (a, b, cat) = (rng.range(-1.0, 1.0), rng.range(-1.0, 1.0), rng.below(4));
        let scores =
            [a + 0.3 * rng.normal(), b + 0.3 * rng.normal(), -a - b + 0.3 * rng.normal() + 0.2 * f64::from(cat)];
        let class = metrics::argmax_rows(&scores, 3)[0];
        x1.push(a);
        x2.push(b);
        c.push(cat);
        y.push(class as f64);
    }
    let features = |r: std::ops::Range<usize>| {
        Features::new(vec![
            Feature::Numeric(&x1[r.clone()]),
            Feature::Numeric(&x2[r.clone()]),
            Feature::Categorical { codes: &c[r], n_categories: 4 },
        ])
    };
    let objective = Objective::Multiclass { classes: 3 };
    let model = GradientBoosting::fit(&features(0..3000), &y[..3000], objective, &GbmParams::default())?;
    let p = model.predict(&features(3000..n))?;
    assert_eq!(p.len(), 1000 * 3);
    for row in p.chunks(3) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
    let predicted = metrics::argmax_rows(&p, 3);
    let truth: Vec<usize> = y[3000..].iter().map(|&v| v as usize).collect();
    let f1 = metrics::macro_f1(&predicted, &truth, 3);
    assert!(f1 > 0.75, "macro f1 {f1}");
    Ok(())
}

#[test]
fn regression_fits_a_sine() -> Result<(), Error> {
    let mut rng = Rng(3);
    let n = 3000;
    let x: Vec<f64> = (0..n).map(|_| rng.range(-3.0, 3.0)).collect();
    let y: Vec<f64> = x.iter().map(|&v| (2.0 * v).sin() + 0.1 * rng.normal()).collect();
    let model = GradientBoosting::fit(
        &Features::new(vec![Feature::Numeric(&x[..2000])]),
        &y[..2000],
        Objective::Regression,
        &GbmParams::default(),
    )?;
    let p = model.predict(&Features::new(vec![Feature::Numeric(&x[2000..])]))?;
    let r2 = metrics::r2(&p, &y[2000..]);
    assert!(r2 > 0.9, "r2 {r2}");
    Ok(())
}

#[test]
fn missing_values_carry_signal() -> Result<(), Error> {
    let mut rng = Rng(11);
    let n = 4000;
    let (mut x1, mut x2, mut y) = (vec![], vec![], vec![]);
    for _ in 0..n {
        let a = rng.range(0.0, 1.0);
        let b = rng.range(0.0, 1.0);
        if rng.uniform() < 0.25 {
            x1.push(f64::NAN);
            y.push(1.0);
        } else {
            x1.push(a);
            y.push(if b > 0.8 { 1.0 } else { 0.0 });
        }
        x2.push(b);
    }
    let features =
        |r: std::ops::Range<usize>| Features::new(vec![Feature::Numeric(&x1[r.clone()]), Feature::Numeric(&x2[r])]);
    let model = GradientBoosting::fit(&features(0..3000), &y[..3000], Objective::Binary, &GbmParams::default())?;
    let p = model.predict(&features(3000..n))?;
    let (mut missing, mut present_low) = (vec![], vec![]);
    for (i, &pi) in p.iter().enumerate() {
        if x1[3000 + i].is_nan() {
            missing.push(pi);
        } else if x2[3000 + i] < 0.7 {
            present_low.push(pi);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(mean(&missing) > 0.9, "missing rows: {}", mean(&missing));
    assert!(mean(&present_low) < 0.1, "present rows: {}", mean(&present_low));
    // NaN in a feature that had none in training follows the larger child and does not fail.
    let x2_nan = vec![f64::NAN; 10];
    let x1_some = vec![0.5; 10];
    let q = model.predict(&Features::new(vec![Feature::Numeric(&x1_some), Feature::Numeric(&x2_nan)]))?;
    assert!(q.iter().all(|v| v.is_finite()));
    Ok(())
}

#[test]
fn categories_are_learned_without_order() -> Result<(), Error> {
    let mut rng = Rng(5);
    // Half of 50 categories, chosen at random, lean to class 1.
    let positive_set: Vec<bool> = (0..50).map(|_| rng.uniform() < 0.5).collect();
    let n = 6000;
    let (mut c, mut y, mut x) = (vec![], vec![], vec![]);
    for _ in 0..n {
        let cat = rng.below(50);
        let p = if positive_set[cat as usize] { 0.98 } else { 0.02 };
        c.push(cat);
        y.push(if rng.uniform() < p { 1.0 } else { 0.0 });
        x.push(rng.normal());
    }
    let features = |r: std::ops::Range<usize>| {
        Features::new(vec![Feature::Numeric(&x[r.clone()]), Feature::Categorical { codes: &c[r], n_categories: 50 }])
    };
    let model = GradientBoosting::fit(&features(0..4500), &y[..4500], Objective::Binary, &GbmParams::default())?;
    let p = model.predict(&features(4500..n))?;
    let auc = metrics::roc_auc(&p, &positives(&y[4500..])).expect("both classes");
    assert!(auc > 0.95, "auc {auc}");
    // Unknown categories (unseen in training, or beyond the training range) are treated as missing.
    let unseen = [u32::MAX, 60, 3];
    let xs = [0.0; 3];
    let q = model.predict(&Features::new(vec![
        Feature::Numeric(&xs),
        Feature::Categorical { codes: &unseen, n_categories: 61 },
    ]))?;
    assert_eq!(q[0].to_bits(), q[1].to_bits());
    Ok(())
}

fn fit_in_pool(threads: usize, objective: Objective, features: &Features<'_>, y: &[f64]) -> Vec<f64> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
    pool.install(|| {
        let params = GbmParams { max_iter: 15, ..GbmParams::default() };
        let model = GradientBoosting::fit(features, y, objective, &params).expect("fit");
        model.predict(features).expect("predict")
    })
}

#[test]
fn fits_are_bit_identical_across_thread_counts() {
    // Wide and long enough for the parallel histogram and split-finding paths; with missing
    // values in a numeric column and in a categorical one.
    let mut d = interaction(6000, 21);
    for (i, v) in d.x2.iter_mut().enumerate() {
        if i % 13 == 0 {
            *v = f64::NAN;
        }
    }
    for (i, c) in d.c.iter_mut().enumerate() {
        if i % 17 == 0 {
            *c = u32::MAX;
        }
    }
    let mut rng = Rng(99);
    let extra: Vec<Vec<f64>> = (0..34).map(|_| (0..6000).map(|_| rng.normal()).collect()).collect();
    let mut features = d.features(0..6000);
    features.columns.extend(extra.iter().map(|column| Feature::Numeric(column)));
    let n = d.y.len();
    let multi: Vec<f64> = (0..n).map(|i| f64::from((d.c[i] % 6) % 3)).collect();
    let reg: Vec<f64> = (0..n).map(|i| d.x1[i] * 3.0 + d.noise[i] + extra[0][i]).collect();
    for (objective, y) in
        [(Objective::Binary, &d.y), (Objective::Multiclass { classes: 3 }, &multi), (Objective::Regression, &reg)]
    {
        let one = fit_in_pool(1, objective, &features, y);
        let two = fit_in_pool(2, objective, &features, y);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&one), bits(&two), "{objective:?}");
        assert_eq!(bits(&one), bits(&fit_in_pool(3, objective, &features, y)), "{objective:?}");
    }
}

#[test]
fn max_depth_and_leaf_limits_hold() -> Result<(), Error> {
    let d = interaction(2000, 9);
    let stumps = GbmParams { max_iter: 10, max_depth: Some(1), ..GbmParams::default() };
    let model = GradientBoosting::fit(&d.features(0..2000), &d.y, Objective::Binary, &stumps)?;
    assert!(model.n_leaves() <= 20);
    let small = GbmParams { max_iter: 10, max_leaf_nodes: 4, ..GbmParams::default() };
    let model = GradientBoosting::fit(&d.features(0..2000), &d.y, Objective::Binary, &small)?;
    assert!(model.n_leaves() <= 40 && model.n_leaves() > 20);
    Ok(())
}

#[test]
fn invalid_inputs_are_rejected() {
    let x = [1.0, 2.0, 3.0];
    let short = [1.0, 2.0];
    let codes = [0, 1, 5];
    let params = GbmParams::default();
    let ok = Features::new(vec![Feature::Numeric(&x)]);
    let invalid_data = |r: Result<GradientBoosting, Error>| matches!(r, Err(Error::InvalidData(_)));
    let invalid_config = |r: Result<GradientBoosting, Error>| matches!(r, Err(Error::InvalidConfig(_)));

    assert!(invalid_data(GradientBoosting::fit(&ok, &[0.0, 1.0], Objective::Binary, &params)));
    let ragged = Features::new(vec![Feature::Numeric(&x), Feature::Numeric(&short)]);
    assert!(invalid_data(GradientBoosting::fit(&ragged, &[0.0, 1.0, 0.0], Objective::Binary, &params)));
    let empty = Features::new(vec![Feature::Numeric(&[])]);
    assert!(invalid_data(GradientBoosting::fit(&empty, &[], Objective::Regression, &params)));
    assert!(invalid_data(GradientBoosting::fit(&Features::default(), &[], Objective::Regression, &params)));
    assert!(invalid_data(GradientBoosting::fit(&ok, &[0.0, 2.0, 1.0], Objective::Binary, &params)));
    assert!(invalid_data(GradientBoosting::fit(&ok, &[0.0, 0.5, 1.0], Objective::Multiclass { classes: 3 }, &params)));
    assert!(invalid_data(GradientBoosting::fit(&ok, &[0.0, f64::NAN, 1.0], Objective::Regression, &params)));
    assert!(invalid_data(GradientBoosting::fit(&ok, &[0.0, -1.0, 1.0], Objective::Multiclass { classes: 3 }, &params)));
    assert!(invalid_config(GradientBoosting::fit(
        &ok,
        &[0.0, 0.0, 0.0],
        Objective::Multiclass { classes: 1 },
        &params
    )));
    let bad_codes = Features::new(vec![Feature::Categorical { codes: &codes, n_categories: 3 }]);
    assert!(invalid_data(GradientBoosting::fit(&bad_codes, &[0.0, 1.0, 0.0], Objective::Binary, &params)));
    let bins = GbmParams { max_bins: 256, ..GbmParams::default() };
    assert!(invalid_config(GradientBoosting::fit(&ok, &[0.0, 1.0, 0.0], Objective::Binary, &bins)));

    let model = GradientBoosting::fit(&ok, &[0.0, 1.0, 0.0], Objective::Binary, &params).expect("tiny fit");
    let ok_codes = [0, 1, 2];
    let wrong_kind = Features::new(vec![Feature::Categorical { codes: &ok_codes, n_categories: 3 }]);
    assert!(matches!(model.predict(&wrong_kind), Err(Error::InvalidData(_))));
    let too_many = Features::new(vec![Feature::Numeric(&x), Feature::Numeric(&x)]);
    assert!(matches!(model.predict(&too_many), Err(Error::InvalidData(_))));
    // Too few rows to split: the prediction is the training prior.
    let p = model.predict(&ok).expect("predict");
    assert!(p.iter().all(|&v| (v - 1.0 / 3.0).abs() < 1e-9), "{p:?}");
}
