//! Throwaway comparison with scikit-learn: trains on one CSV file, scores another and prints the
//! holdout score (ROC AUC for binary, macro F1 for multiclass, R² for regression) and fit times.
//!
//! ```text
//! cargo run --release -p doppel-learn --example compare -- TRAIN.csv HOLDOUT.csv TARGET \
//!     [--objective binary|multiclass|regression] [--drop COL,COL] [--out PREDICTIONS.txt]
//! ```
//!
//! Columns whose non-empty values all parse as numbers are numeric (empty = missing); the others
//! are categorical, coded by the sorted distinct values of the training file (unseen holdout
//! values and empty fields are missing). For classification the target's sorted distinct
//! training values are the classes. `examples/compare_sklearn.py` does the same with scikit-learn.
#![allow(clippy::print_stdout)]

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::time::Instant;

use doppel_learn::{Feature, Features, GbmParams, GradientBoosting, Objective, metrics};

type Table = (Vec<String>, Vec<Vec<String>>);

fn read(path: &str) -> Result<Table, Box<dyn Error>> {
    let mut reader = csv::Reader::from_path(path)?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    let mut columns = vec![Vec::new(); header.len()];
    for record in reader.records() {
        for (column, field) in columns.iter_mut().zip(record?.iter()) {
            column.push(field.to_owned());
        }
    }
    Ok((header, columns))
}

/// User + system CPU seconds of this process so far (Linux; 0 elsewhere), for timings that a busy
/// machine distorts less than wall-clock time.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

enum Encoded {
    Numeric(Vec<f64>, Vec<f64>),
    Categorical(Vec<u32>, Vec<u32>, u32),
}

struct Options {
    train: String,
    holdout: String,
    target: String,
    objective: String,
    drop: Vec<String>,
    out: Option<String>,
}

fn options() -> Result<Options, Box<dyn Error>> {
    let usage = "usage: compare TRAIN.csv HOLDOUT.csv TARGET [--objective binary|multiclass|regression] \
                 [--drop COL,COL] [--out PREDICTIONS.txt]";
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut options = Options {
        train: String::new(),
        holdout: String::new(),
        target: String::new(),
        objective: "binary".into(),
        drop: Vec::new(),
        out: None,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--objective" => options.objective = args.next().ok_or(usage)?,
            "--drop" => options.drop = args.next().ok_or(usage)?.split(',').map(str::to_owned).collect(),
            "--out" => options.out = Some(args.next().ok_or(usage)?),
            _ => positional.push(arg),
        }
    }
    let [train, holdout, target] = <[String; 3]>::try_from(positional).map_err(|_| usage)?;
    (options.train, options.holdout, options.target) = (train, holdout, target);
    Ok(options)
}

fn main() -> Result<(), Box<dyn Error>> {
    let options = options()?;
    let (header, train) = read(&options.train)?;
    let (holdout_header, holdout) = read(&options.holdout)?;
    if header != holdout_header {
        return Err("train and holdout headers differ".into());
    }
    let target = header.iter().position(|h| h == &options.target).ok_or("target column not found")?;

    let classes: Vec<&String> = train[target].iter().collect::<BTreeSet<_>>().into_iter().collect();
    let (objective, y_train, y_holdout) = if options.objective == "regression" {
        let parse = |v: &String| v.parse::<f64>().map_err(|e| format!("target value `{v}`: {e}"));
        let y_train = train[target].iter().map(parse).collect::<Result<Vec<_>, _>>()?;
        let y_holdout = holdout[target].iter().map(parse).collect::<Result<Vec<_>, _>>()?;
        (Objective::Regression, y_train, y_holdout)
    } else {
        let label =
            |v: &String| classes.iter().position(|c| *c == v).map(|i| i as f64).ok_or(format!("unknown class `{v}`"));
        let y_train = train[target].iter().map(label).collect::<Result<Vec<_>, _>>()?;
        let y_holdout = holdout[target].iter().map(label).collect::<Result<Vec<_>, _>>()?;
        let objective = match options.objective.as_str() {
            "binary" if classes.len() == 2 => Objective::Binary,
            "multiclass" => Objective::Multiclass { classes: classes.len() },
            other => return Err(format!("objective `{other}` with {} classes", classes.len()).into()),
        };
        (objective, y_train, y_holdout)
    };

    let mut encoded = Vec::new();
    let mut names = Vec::new();
    for (i, name) in header.iter().enumerate() {
        if i == target || options.drop.contains(name) {
            continue;
        }
        let numeric = train[i].iter().chain(&holdout[i]).all(|v| v.is_empty() || v.parse::<f64>().is_ok());
        let parse = |v: &String| if v.is_empty() { f64::NAN } else { v.parse().unwrap_or(f64::NAN) };
        if numeric {
            encoded
                .push(Encoded::Numeric(train[i].iter().map(parse).collect(), holdout[i].iter().map(parse).collect()));
        } else {
            let dictionary: BTreeMap<&String, u32> = train[i]
                .iter()
                .filter(|v| !v.is_empty())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .enumerate()
                .map(|(code, v)| (v, code as u32))
                .collect();
            let code = |v: &String| dictionary.get(v).copied().unwrap_or(u32::MAX);
            encoded.push(Encoded::Categorical(
                train[i].iter().map(code).collect(),
                holdout[i].iter().map(code).collect(),
                dictionary.len() as u32,
            ));
        }
        names.push(format!("{name}{}", if numeric { "" } else { " (categorical)" }));
    }
    println!("features: {}", names.join(", "));

    let features = |train_side: bool| {
        Features::new(
            encoded
                .iter()
                .map(|e| match e {
                    Encoded::Numeric(a, b) => Feature::Numeric(if train_side { a } else { b }),
                    Encoded::Categorical(a, b, n) => {
                        Feature::Categorical { codes: if train_side { a } else { b }, n_categories: *n }
                    }
                })
                .collect(),
        )
    };
    let (train_features, holdout_features) = (features(true), features(false));
    let params = GbmParams::default();

    let mut fit_times = Vec::new();
    let mut model = None;
    let cpu_start = cpu_seconds();
    for _ in 0..5 {
        let start = Instant::now();
        model = Some(GradientBoosting::fit(&train_features, &y_train, objective, &params)?);
        fit_times.push(start.elapsed().as_secs_f64());
    }
    let cpu_per_fit = (cpu_seconds() - cpu_start) / 5.0;
    let model = model.ok_or("no model")?;
    let start = Instant::now();
    let p = model.predict(&holdout_features)?;
    let predict_time = start.elapsed().as_secs_f64();
    fit_times.sort_by(f64::total_cmp);
    println!(
        "rows: train {} holdout {}; leaves {}; threads {}",
        y_train.len(),
        y_holdout.len(),
        model.n_leaves(),
        rayon::current_num_threads()
    );
    println!(
        "fit seconds: min {:.3} median {:.3} (cpu {cpu_per_fit:.3} per fit); predict seconds {:.4}",
        fit_times[0], fit_times[2], predict_time
    );
    match objective {
        Objective::Binary => {
            let positive: Vec<bool> = y_holdout.iter().map(|&y| y == 1.0).collect();
            let auc = metrics::roc_auc(&p, &positive).ok_or("holdout has one class")?;
            println!("holdout AUC: {auc:.6}");
        }
        Objective::Multiclass { classes } => {
            let predicted = metrics::argmax_rows(&p, classes);
            let truth: Vec<usize> = y_holdout.iter().map(|&y| y as usize).collect();
            println!("holdout macro F1: {:.6}", metrics::macro_f1(&predicted, &truth, classes));
        }
        Objective::Regression => println!("holdout R2: {:.6}", metrics::r2(&p, &y_holdout)),
    }
    if let Some(out) = options.out {
        let text: String = p.iter().map(|v| format!("{v:.17e}\n")).collect();
        std::fs::write(out, text)?;
    }
    Ok(())
}
