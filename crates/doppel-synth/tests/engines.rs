//! The engine conformance suite: every engine must pass the checks in `conformance`; the
//! `tree` engine's own abilities (interactions, conditions, time budget) follow.

use doppel_core::{Column, ColumnData, Metadata, SeededRng, Table, stream_rng};
use std::sync::Arc;

use doppel_synth::{
    Condition, Engine, Fairness, FitOptions, ModelFile, Outcome, PrivacySettings, Rebalance, SampleOptions, Shard,
    estimate, sample,
};
use rand::RngExt;

const ROWS: usize = 4000;

/// A table with an interaction (`y` is `a` XOR `b`, with 5% noise), a numeric column that
/// depends on `a` and is missing mostly when `b` is `q`, a rare secret category and an outlier.
fn table() -> Table {
    let mut rng: SeededRng = stream_rng(42, 0);
    let (mut a, mut b, mut y, mut amount, mut code, mut size) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    for row in 0..ROWS {
        let av = ["x", "w", "v"][rng.random_range(0..3)];
        let bv = if rng.random::<f64>() < 0.5 { "p" } else { "q" };
        let mut yes = (av == "x") != (bv == "p");
        if rng.random::<f64>() < 0.05 {
            yes = !yes;
        }
        let centre = if av == "x" { 10.0 } else { 20.0 };
        let value = ((centre + 3.0 * rng.random::<f64>()) * 100.0).round() / 100.0;
        let missing = rng.random::<f64>() < if bv == "q" { 0.3 } else { 0.02 };
        a.push(Some(av.to_string()));
        b.push(Some(bv.to_string()));
        y.push(Some(if yes { "yes" } else { "no" }.to_string()));
        amount.push((!missing).then_some(value));
        code.push(Some(if row < 2 { "SECRET-VALUE".to_string() } else { format!("c{}", row % 4) }));
        size.push(Some(if row == 7 { 987_654.321 } else { (rng.random::<f64>() * 1000.0).round() / 1000.0 }));
    }
    Table::try_new(vec![
        Column::new("a", ColumnData::Text(a)),
        Column::new("b", ColumnData::Text(b)),
        Column::new("y", ColumnData::Text(y)),
        Column::new("amount", ColumnData::Float(amount)),
        Column::new("code", ColumnData::Text(code)),
        Column::new("size", ColumnData::Float(size)),
    ])
    .expect("a valid table")
}

fn fit(engine: Engine, table: &Table) -> ModelFile {
    let (metadata, _) = Metadata::detect(table);
    let mut options = FitOptions::new(engine);
    if engine == Engine::Dp {
        // A test seed makes the fit reproducible (and the model void of any guarantee).
        options.privacy = Some(PrivacySettings { insecure_noise_seed: Some(7), ..PrivacySettings::new(10.0, 1e-6) });
    }
    ModelFile::fit(table, metadata, &options, &mut |_| {}).expect("fits")
}

fn draw(model: &ModelFile, options: &SampleOptions) -> doppel_core::Result<Table> {
    let mut out = Table::default();
    let keep = |batch: &Table, _index: usize| Ok(batch.clone());
    sample(model, options, &keep, &mut |batch| out.append(batch), &|_| {})?;
    Ok(out)
}

fn texts(table: &Table, column: &str) -> Vec<Option<String>> {
    let data = &table.column(column).expect("column").data;
    (0..data.len()).map(|row| data.text_at(row).map(|t| t.into_owned())).collect()
}

fn share(values: &[Option<String>], keep: impl Fn(usize) -> bool, value: Option<&str>) -> f64 {
    let rows: Vec<usize> = (0..values.len()).filter(|&r| keep(r)).collect();
    rows.iter().filter(|&&r| values[r].as_deref() == value).count() as f64 / rows.len().max(1) as f64
}

fn in_pool<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a pool").install(work)
}

mod conformance {
    use super::*;

    fn fitting_is_reproducible_whatever_the_threads(engine: Engine) {
        let table = table();
        let one = in_pool(1, || fit(engine, &table));
        let two = in_pool(2, || fit(engine, &table));
        assert_eq!(one.model, two.model, "{engine:?}: 1 and 2 fitting threads give other models");
        let reloaded = ModelFile::from_json(&one.to_json(), "memory").expect("loads");
        assert_eq!(reloaded, one, "{engine:?}: the model file does not round-trip");
    }

    fn sampling_is_thread_and_shard_independent(engine: Engine) {
        let model = fit(engine, &table());
        let mut options = SampleOptions::new(40_000, 9);
        options.threads = 1;
        let one = draw(&model, &options).expect("samples");
        options.threads = 2;
        assert!(draw(&model, &options).expect("samples") == one, "{engine:?}: threads change the output");
        let mut parts = Table::default();
        for index in 0..3 {
            options.shard = Some(Shard { index, count: 3 });
            parts.append(draw(&model, &options).expect("samples")).expect("same columns");
        }
        assert!(parts == one, "{engine:?}: 3 shards differ from the whole stream");
    }

    fn the_model_holds_no_rare_value_or_extreme(engine: Engine) {
        let json = fit(engine, &table()).to_json();
        assert!(!json.contains("SECRET-VALUE"), "{engine:?}: a rare category is in the model");
        assert!(!json.contains("987654"), "{engine:?}: the outlier is in the model");
    }

    fn marginals_and_missingness_are_kept(engine: Engine) {
        let real = table();
        let synthetic = draw(&fit(engine, &real), &SampleOptions::new(ROWS as u64, 1)).expect("samples");
        assert_eq!(synthetic.column_names(), real.column_names());
        for (column, value) in [("a", Some("x")), ("b", Some("p")), ("y", Some("yes")), ("amount", None)] {
            let (r, s) = (texts(&real, column), texts(&synthetic, column));
            let (r, s) = (share(&r, |_| true, value), share(&s, |_| true, value));
            assert!((r - s).abs() < 0.03, "{engine:?}: {column} = {value:?}: real {r:.3}, synthetic {s:.3}");
        }
        assert!(!texts(&synthetic, "code").iter().any(|c| c.as_deref() == Some("SECRET-VALUE")));
    }

    macro_rules! suite {
        ($($engine:ident => $name:ident),*) => {$(
            mod $name {
                use super::*;
                #[test]
                fn fitting_is_reproducible() { fitting_is_reproducible_whatever_the_threads(Engine::$engine) }
                #[test]
                fn sampling_is_deterministic() { sampling_is_thread_and_shard_independent(Engine::$engine) }
                #[test]
                fn no_rare_values_in_the_model() { the_model_holds_no_rare_value_or_extreme(Engine::$engine) }
                #[test]
                fn marginals() { marginals_and_missingness_are_kept(Engine::$engine) }
            }
        )*};
    }

    suite!(Copula => copula, Tree => tree, Dp => dp);
}

#[test]
fn the_tree_engine_keeps_an_interaction_that_the_copula_loses() {
    let real = table();
    let (a, b, y) = (texts(&real, "a"), texts(&real, "b"), texts(&real, "y"));
    let cell = |a: &[Option<String>], b: &[Option<String>], y: &[Option<String>], av: &str, bv: &str| {
        share(y, |r| a[r].as_deref() == Some(av) && b[r].as_deref() == Some(bv), Some("yes"))
    };
    for (engine, tolerance) in [(Engine::Tree, 0.05), (Engine::Copula, f64::INFINITY)] {
        let synthetic = draw(&fit(engine, &real), &SampleOptions::new(20_000, 3)).expect("samples");
        let (sa, sb, sy) = (texts(&synthetic, "a"), texts(&synthetic, "b"), texts(&synthetic, "y"));
        let mut worst: f64 = 0.0;
        for av in ["x", "w", "v"] {
            for bv in ["p", "q"] {
                worst = worst.max((cell(&a, &b, &y, av, bv) - cell(&sa, &sb, &sy, av, bv)).abs());
            }
        }
        if engine == Engine::Tree {
            assert!(worst < tolerance, "P(y | a, b) is off by {worst:.3}");
        } else {
            assert!(worst > 0.2, "the copula was expected to miss the XOR (off by only {worst:.3})");
        }
    }
}

#[test]
fn conditions_fix_a_column_and_the_others_follow() {
    let real = table();
    let model = fit(Engine::Tree, &real);
    let mut options = SampleOptions::new(20_000, 4);
    options.control.conditions = vec![Condition::parse("y=yes").expect("parses")];
    let synthetic = draw(&model, &options).expect("samples");
    let sy = texts(&synthetic, "y");
    assert!(sy.iter().all(|v| v.as_deref() == Some("yes")), "every row has y = yes");
    // y comes after a and b, so this needs the importance weights: P(a = x | y = yes).
    let (a, y) = (texts(&real, "a"), texts(&real, "y"));
    let expected = share(&a, |r| y[r].as_deref() == Some("yes"), Some("x"));
    let got = share(&texts(&synthetic, "a"), |_| true, Some("x"));
    assert!((expected - got).abs() < 0.04, "P(a = x | y = yes): real {expected:.3}, synthetic {got:.3}");

    // Shards of a conditioned stream still concatenate to it.
    let mut parts = Table::default();
    for index in 0..2 {
        options.shard = Some(Shard { index, count: 2 });
        parts.append(draw(&model, &options).expect("samples")).expect("same columns");
    }
    assert!(parts == synthetic, "shards of a conditioned stream differ");
}

#[test]
fn conditions_that_cannot_be_met_are_clear_errors() {
    let table = table();
    let model = fit(Engine::Tree, &table);
    let error = |condition: &str, model: &ModelFile| {
        let mut options = SampleOptions::new(10, 1);
        options.control.conditions = vec![Condition::parse(condition).expect("parses")];
        draw(model, &options).expect_err("refused").to_string()
    };
    for model in [&model, &fit(Engine::Copula, &table)] {
        assert!(error("nope=1", model).contains("no column `nope`"));
        assert!(error("amount>=abc", model).contains("expected a number"));
        assert!(error("y>=yes", model).contains("categorical"));
    }
    let message = error("code=SECRET-VALUE", &model);
    assert!(message.contains("impossible under the model") && !message.contains("SECRET-VALUE`,"), "{message}");
    assert!(error("y=", &model).contains("no missing values"), "{}", error("y=", &model));
    assert!(error("amount>=1000000", &model).contains("its values range from"));
    assert!(Condition::parse("y").is_err());
}

fn numbers(table: &Table, column: &str) -> Vec<Option<f64>> {
    texts(table, column).iter().map(|t| t.as_deref().and_then(|t| t.parse().ok())).collect()
}

#[test]
fn ranges_and_missing_conditions_follow_the_real_subset() {
    let real = table();
    let (ra, rb, ramount) = (texts(&real, "a"), texts(&real, "b"), numbers(&real, "amount"));
    for engine in [Engine::Tree, Engine::Copula] {
        let model = fit(engine, &real);
        let mut options = SampleOptions::new(6000, 3);
        // amount >= 20 happens only when a is not x (x centres on 10, the others on 20).
        options.control.conditions = vec![Condition::parse("amount>=20.5").expect("parses")];
        let synthetic = draw(&model, &options).expect("samples");
        assert_eq!(synthetic.n_rows(), 6000);
        assert!(numbers(&synthetic, "amount").iter().all(|v| v.is_some_and(|v| v >= 20.5)), "{engine:?}");
        // The copula's linear correlations blur a three-way category; the trees separate it.
        let x_share = share(&texts(&synthetic, "a"), |_| true, Some("x"));
        let close = if engine == Engine::Tree { 0.05 } else { 0.25 };
        assert!(
            x_share < if engine == Engine::Tree { 0.02 } else { 0.25 },
            "{engine:?}: P(a = x | amount >= 20.5) = {x_share:.3}, real 0"
        );
        // Missing amounts come mostly with b = q.
        options.control.conditions = vec![Condition::parse("amount=").expect("parses")];
        let synthetic = draw(&model, &options).expect("samples");
        assert!(numbers(&synthetic, "amount").iter().all(Option::is_none), "{engine:?}");
        let expected = share(&rb, |r| ramount[r].is_none(), Some("q"));
        let got = share(&texts(&synthetic, "b"), |_| true, Some("q"));
        assert!((expected - got).abs() < close, "{engine:?}: P(b = q | missing) real {expected:.3}, got {got:.3}");
        // A set of values and a negation together.
        options.control.conditions =
            vec![Condition::parse("a=x|w").expect("parses"), Condition::parse("b!=p").expect("parses")];
        let synthetic = draw(&model, &options).expect("samples");
        let (sa, sb) = (texts(&synthetic, "a"), texts(&synthetic, "b"));
        assert!((0..sa.len()).all(|r| sa[r].as_deref() != Some("v") && sb[r].as_deref() == Some("q")));
        let expected = share(&ra, |r| ra[r].as_deref() != Some("v") && rb[r].as_deref() == Some("q"), Some("x"));
        let got = share(&sa, |_| true, Some("x"));
        assert!((expected - got).abs() < close, "{engine:?}: P(a = x | ...) real {expected:.3}, got {got:.3}");
    }
}

#[test]
fn rare_conditions_are_estimated_and_sampled_without_rejection() {
    let real = table();
    let model = fit(Engine::Tree, &real);
    let mut options = SampleOptions::new(5000, 8);
    options.control.conditions =
        vec![Condition::parse("a=x").expect("parses"), Condition::parse("amount>=12.9").expect("parses")];
    let rate = estimate(&model, &options.control).expect("estimates");
    // Real rate: P(a = x) 1/3 × P(amount ≥ 12.9 | x) 1/30 × P(present) 0.84 ≈ 0.0093.
    assert!(rate > 0.006 && rate < 0.013, "estimated rate {rate}");
    let synthetic = draw(&model, &options).expect("samples");
    assert_eq!(synthetic.n_rows(), 5000);
    assert!(numbers(&synthetic, "amount").iter().all(|v| v.is_some_and(|v| v >= 12.9)));
}

#[test]
fn rebalancing_hits_its_targets_and_keeps_the_conditionals() {
    let real = table();
    let (ra, ry) = (texts(&real, "a"), texts(&real, "y"));
    let model = fit(Engine::Tree, &real);
    let mut options = SampleOptions::new(20_000, 5);
    options.control.rebalance = vec![Rebalance::parse("y=yes:0.8").expect("parses")];
    let synthetic = draw(&model, &options).expect("samples");
    let (sa, sy) = (texts(&synthetic, "a"), texts(&synthetic, "y"));
    let got = share(&sy, |_| true, Some("yes"));
    assert!((got - 0.8).abs() < 0.01, "share of y = yes: {got}");
    for value in ["yes", "no"] {
        let expected = share(&ra, |r| ry[r].as_deref() == Some(value), Some("x"));
        let got = share(&sa, |r| sy[r].as_deref() == Some(value), Some("x"));
        assert!((expected - got).abs() < 0.04, "P(a = x | y = {value}): real {expected:.3}, got {got:.3}");
    }
    options.control.rebalance = vec![Rebalance::parse("a=uniform").expect("parses")];
    let synthetic = draw(&model, &options).expect("samples");
    for value in ["x", "w", "v"] {
        let got = share(&texts(&synthetic, "a"), |_| true, Some(value));
        assert!((got - 1.0 / 3.0).abs() < 0.01, "share of a = {value}: {got}");
    }
    let real_share = share(&ry, |_| true, Some("yes"));
    options.control.rebalance = vec![Rebalance::parse_oversample("y=yes:2x").expect("parses")];
    let synthetic = draw(&model, &options).expect("samples");
    let expected = 2.0 * real_share / (1.0 + real_share);
    let got = share(&texts(&synthetic, "y"), |_| true, Some("yes"));
    assert!((got - expected).abs() < 0.02, "oversampled share {got:.3}, expected {expected:.3}");
    assert!(Rebalance::parse("amount=uniform").is_ok());
    options.control.rebalance = vec![Rebalance::parse("amount=uniform").expect("parses")];
    assert!(draw(&model, &options).expect_err("numeric").to_string().contains("not categorical"));
}

#[test]
fn parity_makes_the_outcome_rate_equal_between_groups() {
    let real = table();
    let model = fit(Engine::Tree, &real);
    let mut options = SampleOptions::new(20_000, 6);
    // y depends strongly on a (through the XOR with b), so P(y = yes | a) differs by group... once b is
    // skewed: condition on b = p to make it so.
    options.control.conditions = vec![Condition::parse("b=p").expect("parses")];
    options.control.fairness = Some(Fairness { group: "a".into(), outcome: Outcome::parse("y").expect("parses") });
    let synthetic = draw(&model, &options).expect("samples");
    let (sa, sy) = (texts(&synthetic, "a"), texts(&synthetic, "y"));
    let rates: Vec<f64> =
        ["x", "w", "v"].iter().map(|g| share(&sy, |r| sa[r].as_deref() == Some(g), Some("yes"))).collect();
    let spread = rates.iter().copied().fold(f64::MIN, f64::max) - rates.iter().copied().fold(f64::MAX, f64::min);
    assert!(spread < 0.02, "parity difference {spread:.3} ({rates:?})");
    assert!(texts(&synthetic, "b").iter().all(|b| b.as_deref() == Some("p")));
    // The groups keep their sizes (a is uniform in the data).
    let x = share(&sa, |_| true, Some("x"));
    assert!((x - 1.0 / 3.0).abs() < 0.03, "group a = x: {x:.3}");
    // An outcome given as a condition.
    options.control.fairness =
        Some(Fairness { group: "b".into(), outcome: Outcome::parse("amount>=15").expect("parses") });
    options.control.conditions.clear();
    let synthetic = draw(&model, &options).expect("samples");
    let (sb, amount) = (texts(&synthetic, "b"), numbers(&synthetic, "amount"));
    let high = |group: &str| {
        let rows: Vec<usize> = (0..sb.len()).filter(|&r| sb[r].as_deref() == Some(group)).collect();
        rows.iter().filter(|&&r| amount[r].is_some_and(|v| v >= 15.0)).count() as f64 / rows.len() as f64
    };
    assert!((high("p") - high("q")).abs() < 0.02, "p {:.3} q {:.3}", high("p"), high("q"));
}

#[test]
fn seed_rows_are_completed_keeping_their_values() {
    let real = table();
    let model = fit(Engine::Tree, &real);
    let seeds = Table::try_new(vec![
        Column::new("a", ColumnData::Text(vec![Some("x".into()), None, Some("v".into())])),
        Column::new("amount", ColumnData::Text(vec![None, Some("21.5".into()), Some("".into())])),
    ])
    .expect("a table");
    let mut options = SampleOptions::new(3, 2);
    options.control.complete = Some(Arc::new(seeds));
    let synthetic = draw(&model, &options).expect("samples");
    let (sa, amount) = (texts(&synthetic, "a"), numbers(&synthetic, "amount"));
    assert_eq!(sa[0].as_deref(), Some("x"));
    assert_eq!(amount[1], Some(21.5));
    assert_ne!(sa[1].as_deref(), Some("x"), "amount 21.5 never comes with a = x");
    assert_eq!(sa[2].as_deref(), Some("v"));
    let bad = Table::try_new(vec![Column::new("a", ColumnData::Text(vec![Some("x".into()), Some("zzz".into())]))])
        .expect("a table");
    let mut options = SampleOptions::new(2, 2);
    options.control.complete = Some(Arc::new(bad));
    let message = draw(&model, &options).expect_err("refused").to_string();
    assert!(message.contains("seed row 2") && message.contains("`a=zzz`"), "{message}");
}

#[test]
fn controlled_samples_do_not_depend_on_threads_or_shards() {
    let real = table();
    let model = fit(Engine::Tree, &real);
    let mut options = SampleOptions::new(40_000, 9);
    options.control.conditions = vec![Condition::parse("amount<=21").expect("parses")];
    options.control.rebalance = vec![Rebalance::parse("y=yes:0.3").expect("parses")];
    options.threads = 1;
    let one = draw(&model, &options).expect("samples");
    options.threads = 3;
    assert!(draw(&model, &options).expect("samples") == one, "1 and 3 threads differ");
    let mut parts = Table::default();
    for index in 0..3 {
        options.shard = Some(Shard { index, count: 3 });
        parts.append(draw(&model, &options).expect("samples")).expect("same columns");
    }
    assert!(parts == one, "shards differ from the whole");
}

#[test]
fn a_time_budget_is_kept_with_a_warning() {
    let table = table();
    let (metadata, _) = Metadata::detect(&table);
    let mut options = FitOptions::new(Engine::Tree);
    options.max_fit_seconds = Some(1e-9);
    let model = in_pool(1, || ModelFile::fit(&table, metadata, &options, &mut |_| {}).expect("fits"));
    assert!(model.fit.warnings.iter().any(|w| w.message.contains("--max-fit-seconds")), "{:?}", model.fit.warnings);
    let synthetic = draw(&model, &SampleOptions::new(100, 1)).expect("samples");
    assert_eq!(synthetic.n_rows(), 100);
}

#[test]
fn rare_combinations_are_left_out_of_the_leaves_with_a_warning() {
    // `kind = rare` happens 3 times among 2000 `group = a` rows: a rare combination.
    let (mut group, mut kind) = (vec![], vec![]);
    for row in 0..4000 {
        let a = row % 2 == 0;
        group.push(Some(if a { "a" } else { "b" }.to_string()));
        let value = if a {
            if row < 6 { "rare" } else { "common" }
        } else if row % 4 == 1 {
            "rare"
        } else {
            "common"
        };
        kind.push(Some(value.to_string()));
    }
    let table = Table::try_new(vec![
        Column::new("group", ColumnData::Text(group)),
        Column::new("kind", ColumnData::Text(kind)),
    ])
    .expect("a table");
    let model = fit(Engine::Tree, &table);
    let warning = model.fit.warnings.iter().find(|w| w.message.starts_with("rare combinations left out"));
    assert!(warning.is_some_and(|w| w.message.contains("`kind` 1 (0.07% of rows)")), "{:?}", model.fit.warnings);
    let doppel_synth::EngineModel::SequentialTrees(trees) = &model.model else { panic!("a tree model") };
    for tree in &trees.trees {
        for node in &tree.nodes {
            if let doppel_synth::trees::TreeNode::Leaf(counts) = node {
                let mut previous = 0;
                for &running in &counts.cumulative {
                    assert!(running - previous >= 5, "a leaf keeps a category of {} rows", running - previous);
                    previous = running;
                }
            }
        }
    }
    // The common combinations are kept: half of group b is rare.
    let synthetic = draw(&model, &SampleOptions::new(20_000, 3)).expect("samples");
    let (g, k) = (texts(&synthetic, "group"), texts(&synthetic, "kind"));
    let b_rare = share(&k, |r| g[r].as_deref() == Some("b"), Some("rare"));
    assert!((b_rare - 0.5).abs() < 0.03, "P(rare | b) = {b_rare}");
    let a_rare = share(&k, |r| g[r].as_deref() == Some("a"), Some("rare"));
    assert!(a_rare < 0.001, "P(rare | a) = {a_rare}");
}
