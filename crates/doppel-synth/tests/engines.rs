//! The engine conformance suite: every engine must pass the checks in `conformance`; the
//! `tree` engine's own abilities (interactions, conditions, time budget) follow.

use doppel_core::{Column, ColumnData, Metadata, SeededRng, Table, stream_rng};
use doppel_synth::{Condition, Engine, FitOptions, ModelFile, SampleOptions, Shard, sample};
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
    ModelFile::fit(table, metadata, &FitOptions::new(engine), &mut |_| {}).expect("fits")
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

    suite!(Copula => copula, Tree => tree);
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
    options.conditions = vec![Condition::parse("y=yes").expect("parses")];
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
        options.conditions = vec![Condition::parse(condition).expect("parses")];
        draw(model, &options).expect_err("refused").to_string()
    };
    assert!(error("nope=1", &model).contains("no such column"));
    assert!(error("amount=12", &model).contains("only categorical and boolean"));
    let message = error("code=SECRET-VALUE", &model);
    assert!(message.contains("not a category the model kept") && !message.contains("SECRET-VALUE`,"), "{message}");
    assert!(error("y=", &model).contains("no missing values"));
    assert!(error("y=yes", &fit(Engine::Copula, &table)).contains("need the `tree` engine"));
    assert!(Condition::parse("y").is_err());
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
