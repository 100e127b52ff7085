//! The `dp` engine: budget checks, the ledger, noise from the operating system, and what the
//! model keeps of the data under noise.

use doppel_core::{Column, ColumnData, Constraint, Metadata, SeededRng, Table, stream_rng};
use doppel_synth::{Engine, EngineModel, FitOptions, ModelFile, PrivacySettings, SampleOptions, sample};
use rand::RngExt;

const ROWS: usize = 6000;

/// `city` decides `income` (rich and poor cities), `age` is independent, and one person has a
/// category and an income nobody else has.
fn table() -> Table {
    wide_table(0)
}

/// [`table`] with `extra` independent numeric columns, which make the domain too large to
/// enumerate.
fn wide_table(extra: usize) -> Table {
    let mut rng: SeededRng = stream_rng(3, 0);
    let (mut city, mut income, mut age) = (vec![], vec![], vec![]);
    for row in 0..ROWS {
        let c = ["north", "south", "east"][rng.random_range(0..3)];
        let base = if c == "north" { 80_000.0 } else { 30_000.0 };
        city.push(Some(if row == 17 { "Lonelyville".to_string() } else { c.to_string() }));
        income.push(Some(if row == 17 { 9_999_999 } else { (base + 10_000.0 * rng.random::<f64>()) as i64 }));
        age.push((rng.random::<f64>() > 0.1).then(|| 18 + rng.random_range(0..60i64)));
    }
    let mut columns = vec![
        Column::new("city", ColumnData::Text(city)),
        Column::new("income", ColumnData::Int(income)),
        Column::new("age", ColumnData::Int(age)),
    ];
    for e in 0..extra {
        let values = (0..ROWS).map(|_| Some(rng.random_range(0..1000i64))).collect();
        columns.push(Column::new(format!("noise_{e}"), ColumnData::Int(values)));
    }
    Table::try_new(columns).expect("a valid table")
}

fn fit_with(table: &Table, privacy: PrivacySettings) -> doppel_core::Result<ModelFile> {
    let (metadata, _) = Metadata::detect(table);
    let mut options = FitOptions::new(Engine::Dp);
    options.privacy = Some(privacy);
    ModelFile::fit(table, metadata, &options, &mut |_| {})
}

fn draw(model: &ModelFile, rows: u64) -> Table {
    let mut out = Table::default();
    let keep = |batch: &Table, _index: usize| Ok(batch.clone());
    sample(model, &SampleOptions::new(rows, 1), &keep, &mut |batch| out.append(batch), &|_| {}).expect("samples");
    out
}

#[test]
fn bad_budgets_are_clear_errors() {
    let table = table();
    for (epsilon, delta, expected) in [
        (0.0, 1e-6, "`--epsilon 0`: expected a privacy budget ε greater than 0"),
        (-1.0, 1e-6, "`--epsilon -1`: expected a privacy budget ε greater than 0"),
        (f64::NAN, 1e-6, "`--epsilon NaN`"),
        (1.0, 1.0, "`--delta 1`: expected 0 < δ < 1"),
        (1.0, 0.0, "`--delta 0`: expected 0 < δ < 1"),
        (1.0, 2.5, "`--delta 2.5`"),
    ] {
        let error = fit_with(&table, PrivacySettings::new(epsilon, delta)).expect_err("refused").to_string();
        assert!(error.contains(expected), "ε {epsilon}, δ {delta}: {error}");
    }
    let (metadata, _) = Metadata::detect(&table);
    let error =
        ModelFile::fit(&table, metadata, &FitOptions::new(Engine::Dp), &mut |_| {}).expect_err("no budget").to_string();
    assert!(error.contains("needs a privacy budget"), "{error}");
}

#[test]
fn the_ledger_adds_up_to_the_budget_and_covers_preprocessing() {
    for epsilon in [0.5, 1.0, 3.0, 10.0] {
        let model = fit_with(&table(), PrivacySettings::new(epsilon, 1e-6)).expect("fits");
        let EngineModel::PrivateMarginals(dp) = &model.model else { panic!("a dp model") };
        let ledger = &dp.ledger;
        let rho: f64 = ledger.entries.iter().map(|e| e.rho).sum();
        let delta: f64 = ledger.entries.iter().map(|e| e.delta).sum();
        assert!(
            (rho - ledger.rho_spent).abs() < 1e-12 && rho <= ledger.rho * (1.0 + 1e-9),
            "ρ {rho} of {}",
            ledger.rho
        );
        assert!(ledger.epsilon_spent <= epsilon + 1e-6, "ε spent {} of {epsilon}", ledger.epsilon_spent);
        assert!(ledger.delta_spent <= 1e-6 * (1.0 + 1e-9), "δ spent {}", ledger.delta_spent);
        assert!(delta > 0.0 && delta <= ledger.delta_thresholds * (1.0 + 1e-9));
        assert!(ledger.secure_noise);
        // Preprocessing is charged: the categorical domain, and bounds and marginal of both numbers.
        let steps = |step: &str| ledger.entries.iter().filter(|e| e.step == step).count();
        assert_eq!((steps("domain"), steps("bounds"), steps("marginal")), (1, 2, 2));
        // A domain this small is estimated as one joint distribution: rounds of a selection and
        // a measurement each.
        assert!(dp.joint.is_some());
        let measured = steps("two_way") + steps("three_way");
        assert_eq!((steps("one_way"), steps("selection")), (3, measured));
        assert!(measured >= 2, "{measured} marginals measured");
        // The guarantee is in the model file, and in every fit option written.
        let json = model.to_json();
        assert!(json.contains("\"ledger\"") && json.contains(&format!("\"epsilon\":{epsilon}")));
    }
}

#[test]
fn noise_comes_from_the_operating_system_unless_a_test_seed_is_given() {
    let table = table();
    let a = fit_with(&table, PrivacySettings::new(1.0, 1e-6)).expect("fits");
    let b = fit_with(&table, PrivacySettings::new(1.0, 1e-6)).expect("fits");
    assert_ne!(a.model, b.model, "two fits drew the same noise");
    let seeded = PrivacySettings { insecure_noise_seed: Some(5), ..PrivacySettings::new(1.0, 1e-6) };
    let c = fit_with(&table, seeded.clone()).expect("fits");
    let d = fit_with(&table, seeded).expect("fits");
    assert_eq!(c.model, d.model);
    let EngineModel::PrivateMarginals(dp) = &c.model else { panic!("a dp model") };
    assert!(!dp.ledger.secure_noise);
    assert!(c.fit.warnings.iter().any(|w| w.message.contains("no privacy guarantee")));
}

#[test]
fn unique_values_stay_out_and_relations_survive_the_noise() {
    // A joint distribution on the narrow table, a Bayesian network on the wide one; five noise
    // draws each, from test seeds so that the test is reproducible.
    for extra in [0, 7] {
        for seed in 1..=5 {
            unique_values_stay_out_and_relations_survive(extra, seed);
        }
    }
}

fn unique_values_stay_out_and_relations_survive(extra: usize, seed: u64) {
    let real = wide_table(extra);
    let privacy = PrivacySettings { insecure_noise_seed: Some(seed), ..PrivacySettings::new(1.0, 1e-6) };
    let model = fit_with(&real, privacy).expect("fits");
    let json = model.to_json();
    assert!(!json.contains("Lonelyville"), "a category held by one row was released");
    let EngineModel::PrivateMarginals(dp) = &model.model else { panic!("a dp model") };
    assert_eq!(dp.joint.is_some(), extra == 0, "{extra} extra columns");
    // A joint needs model format 2 (older readers would ignore it); the file reads back.
    let json = model.to_json();
    assert!(json.contains(&format!("\"format_version\":{}", if extra == 0 { 2 } else { 1 })), "{extra} extra columns");
    assert_eq!(ModelFile::from_json(&json, "model").expect("reads back").model, model.model);
    let doppel_transform::TransformState::Numeric(income) = &dp.transforms[1] else { panic!("income is numeric") };
    assert!(income.cdf.max() < 200_000.0, "the outlier widened the range to {}", income.cdf.max());
    let synthetic = draw(&model, ROWS as u64);
    let city = &synthetic.column("city").expect("city").data;
    let income = &synthetic.column("income").expect("income").data;
    let age = &synthetic.column("age").expect("age").data;
    let (mut north, mut north_rich, mut other, mut other_rich, mut missing_age) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for row in 0..synthetic.n_rows() {
        let rich = income.text_at(row).and_then(|t| t.parse::<f64>().ok()).is_some_and(|x| x > 60_000.0);
        assert_ne!(income.text_at(row).as_deref(), Some("9999999"));
        if city.text_at(row).as_deref() == Some("north") {
            north += 1.0;
            north_rich += f64::from(u8::from(rich));
        } else {
            other += 1.0;
            other_rich += f64::from(u8::from(rich));
        }
        missing_age += f64::from(u8::from(age.text_at(row).is_none()));
    }
    let n = synthetic.n_rows() as f64;
    assert!((north / n - 1.0 / 3.0).abs() < 0.05, "{extra} extra, seed {seed}: north share {}", north / n);
    assert!(north_rich / north > 0.85, "{extra} extra, seed {seed}: rich share in the north {}", north_rich / north);
    assert!(other_rich / other < 0.15, "{extra} extra, seed {seed}: rich share elsewhere {}", other_rich / other);
    assert!((missing_age / n - 0.1).abs() < 0.04, "{extra} extra, seed {seed}: missing ages {}", missing_age / n);
}

#[test]
fn fixed_combinations_are_refused_under_differential_privacy() {
    let table = table();
    let (mut metadata, _) = Metadata::detect(&table);
    metadata.constraints.push(Constraint::FixedCombinations { columns: vec!["city".into(), "age".into()] });
    let mut options = FitOptions::new(Engine::Dp);
    options.privacy = Some(PrivacySettings::new(1.0, 1e-6));
    let error = ModelFile::fit(&table, metadata, &options, &mut |_| {}).expect_err("refused").to_string();
    assert!(error.contains("fixed combinations") && error.contains("outside the privacy budget"), "{error}");
}
