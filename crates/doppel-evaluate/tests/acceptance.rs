//! The acceptance checks of the privacy and detection metrics on real data: a copy of the
//! training data must look like a copy, and an independent sample of the same population must
//! look like one.

#![expect(clippy::print_stderr, reason = "the acceptance tests report the figures they measure")]

use std::path::{Path, PathBuf};

use doppel_core::{Metadata, Table};
use doppel_evaluate::{EvaluateOptions, Evaluation, evaluate};

fn dataset(name: &str, split: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
    assert!(root.is_dir(), "the public datasets are expected at {}", root.display());
    root.join(name).join(format!("{name}.{split}.csv"))
}

fn read(path: &Path) -> Table {
    doppel_io::read_table(path, &doppel_io::ReadOptions::default()).expect("the dataset reads")
}

fn run(real: &Table, synthetic: &Table, holdout: &Table, target: &str) -> Evaluation {
    let metadata = Metadata::detect(real).0;
    let options = EvaluateOptions { target: Some(target.into()), ..EvaluateOptions::default() };
    evaluate(&metadata, (real, "real"), (synthetic, "synthetic"), Some((holdout, "holdout")), &options, &|_| {})
        .expect("the evaluation runs")
}

fn show(label: &str, e: &Evaluation) {
    let p = &e.privacy;
    eprintln!(
        "{label}: quality {:?}, detection AUC {:?}, DCR share {:?} (size-matched {:?}), exact copies {:.4} \
         (holdout {:?}), membership AUC {:?} {:?}, TSTR {:?} TRTR {:?}",
        e.quality.scores.score,
        e.detection.auc,
        p.dcr_share,
        p.dcr_share_size_matched,
        p.exact_copy_rate,
        p.holdout_exact_match_rate,
        p.membership_auc,
        p.membership_attacks.iter().map(|a| a.auc).collect::<Vec<_>>(),
        e.utility.tstr,
        e.utility.trtr,
    );
}

#[test]
fn a_copy_of_the_training_data_is_flagged_as_one() {
    for (name, target) in [("telco_churn", "churn"), ("cps1988", "wage")] {
        let train = read(&dataset(name, "train"));
        let holdout = read(&dataset(name, "holdout"));
        let e = run(&train, &train, &holdout, target);
        show(&format!("{name} copy"), &e);
        let auc = e.detection.auc.expect("detection AUC");
        assert!((auc - 0.5).abs() < 0.03, "{name}: a copy is indistinguishable, AUC {auc}");
        let share = e.privacy.dcr_share.expect("DCR share");
        assert!(share > 0.95, "{name}: a copy sits on the training rows, DCR share {share}");
        assert_eq!(e.privacy.exact_copy_rate, 1.0);
        let membership = e.privacy.membership_auc.expect("membership AUC");
        assert!(membership > 0.8, "{name}: the attack must find the members of a copy, AUC {membership}");
        assert_eq!(e.quality.scores.score, Some(1.0));
        assert_eq!(e.utility.tstr, e.utility.trtr);
    }
}

#[test]
fn an_independent_sample_of_the_population_is_not_flagged() {
    for (name, target) in [("telco_churn", "churn"), ("credit_default", "LateSept")] {
        let train = read(&dataset(name, "train"));
        let holdout = read(&dataset(name, "holdout"));
        // Half of the holdout plays the synthetic data, the other half the holdout.
        let half = holdout.n_rows() / 2;
        let (first, second) = (holdout.slice(0, half), holdout.slice(half, holdout.n_rows()));
        let e = run(&train, &first, &second, target);
        show(&format!("{name} independent"), &e);
        let share = e.privacy.dcr_share.expect("DCR share");
        assert!((share - 0.5).abs() < 0.05, "{name}: DCR share of real new rows {share}");
        let auc = e.detection.auc.expect("detection AUC");
        assert!(auc < 0.6, "{name}: real rows cannot be told from real rows, AUC {auc}");
        let membership = e.privacy.membership_auc.expect("membership AUC");
        assert!(membership < 0.6, "{name}: no membership signal in independent rows, AUC {membership}");
    }
}
