//! The HTML report: rendered from a real evaluation of the bundled example, checked as text and
//! in a real browser (headless Chromium, when it is installed).
//!
//! Set `DOPPEL_REQUIRE_CHROMIUM=1` to fail instead of skipping the browser checks when
//! `chromium` is not on the PATH, and `DOPPEL_KEEP_REPORT=<dir>` to keep the rendered page and
//! its screenshot in that directory.
#![allow(clippy::print_stderr)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use doppel_core::{Column, ColumnData, Error, Metadata, Table};
use doppel_evaluate::{EvaluateOptions, Evaluation, evaluate, html};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/cps1988.csv");
const ATTACK: &str = "<script>alert(1)</script>";

/// The example split in three: 20 000 real rows, 4 000 rows standing in for synthetic data and
/// the rest as holdout, with a utility target, a breakdown and a sensitive column.
fn cps_evaluation() -> &'static Evaluation {
    static EVALUATION: OnceLock<Evaluation> = OnceLock::new();
    EVALUATION.get_or_init(|| {
        let table = doppel_io::read_table(Path::new(EXAMPLE), &doppel_io::ReadOptions::default())
            .expect("the bundled example reads");
        let n = table.n_rows();
        assert!(n > 24_000, "the example has {n} rows");
        let real = table.slice(0, 20_000);
        let synthetic = table.slice(20_000, 24_000);
        let holdout = table.slice(24_000, n);
        let metadata = Metadata::detect(&real).0;
        let options = EvaluateOptions {
            target: Some("wage".into()),
            by: Some("region".into()),
            sensitive: vec!["ethnicity".into()],
            // Smaller samples than the defaults keep the debug-build test quick.
            privacy_rows: 2_000,
            detection_rows: 2_000,
            ..EvaluateOptions::default()
        };
        let mut evaluation = evaluate(
            &metadata,
            (&real, "real.csv"),
            (&synthetic, "synthetic.csv"),
            Some((&holdout, "holdout.csv")),
            &options,
            &|_| {},
        )
        .expect("the evaluation runs");
        evaluation.provenance = Some(serde_json::json!({
            "engine": "stand-in",
            "note": "</pre><script>alert(2)</script>",
            "seed": 7,
        }));
        evaluation
    })
}

/// A small evaluation whose category labels and column names carry markup.
fn hostile_evaluation() -> Evaluation {
    let labels = [ATTACK, "a & b", "\"quoted\"", "plain"];
    let make = |offset: usize| {
        let kind: Vec<Option<String>> =
            (0..240).map(|i| Some(labels[(i + offset) % labels.len()].to_string())).collect();
        let x: Vec<Option<f64>> = (0..240).map(|i| Some(((i * 7 + offset) % 50) as f64 / 3.0)).collect();
        let y: Vec<Option<f64>> = (0..240).map(|i| if i % 10 == 0 { None } else { Some((i % 13) as f64) }).collect();
        Table::try_new(vec![
            Column::new("kind", ColumnData::Text(kind)),
            Column::new("x<y>", ColumnData::Float(x)),
            Column::new("y & z", ColumnData::Float(y)),
        ])
        .expect("a valid table")
    };
    let (real, synthetic) = (make(0), make(1));
    let metadata = Metadata::detect(&real).0;
    evaluate(
        &metadata,
        (&real, "<real>.csv"),
        (&synthetic, "synthetic.csv"),
        None,
        &EvaluateOptions::default(),
        &|_| {},
    )
    .expect("the evaluation runs")
}

/// A wide table: 45 compared columns, among them dates, a category with long labels and a
/// column with many missing values.
fn wide_evaluation() -> Evaluation {
    let rows = 400;
    let make = |seed: u64| {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let base: Vec<f64> = (0..rows).map(|_| next()).collect();
        let mut columns = vec![
            Column::new("date", ColumnData::Date((0..rows).map(|i| Some(18_000 + (base[i] * 900.0) as i32)).collect())),
            Column::new(
                "a category with quite a long name",
                ColumnData::Text(
                    (0..rows)
                        .map(|i| Some(format!("a rather long category label number {}", (base[i] * 25.0) as usize)))
                        .collect(),
                ),
            ),
            Column::new(
                "mostly missing",
                ColumnData::Float((0..rows).map(|i| (base[i] > 0.7).then(|| base[i] * 3.0)).collect()),
            ),
        ];
        for k in 0..42 {
            let weight = (k % 4) as f64 / 3.0;
            let values = (0..rows).map(|i| Some(weight * base[i] + (1.0 - weight) * next() + k as f64)).collect();
            columns.push(Column::new(format!("feature_{k:02}"), ColumnData::Float(values)));
        }
        Table::try_new(columns).expect("a valid table")
    };
    let (real, synthetic) = (make(1), make(2));
    let metadata = Metadata::detect(&real).0;
    let options = EvaluateOptions { privacy_rows: 300, detection_rows: 300, ..EvaluateOptions::default() };
    evaluate(&metadata, (&real, "wide.csv"), (&synthetic, "wide-synthetic.csv"), None, &options, &|_| {})
        .expect("the evaluation runs")
}

fn fixed(value: Option<f64>) -> String {
    format!("{:.3}", value.expect("the figure is computed"))
}

#[test]
fn the_report_shows_the_scores_and_loads_nothing() {
    let evaluation = cps_evaluation();
    let page = html::render(evaluation).expect("the report renders");
    assert!(page.starts_with("<!doctype html>"));
    assert!(page.contains("doppel evaluation"));
    assert!(page.matches("<svg").count() >= 10, "column charts, heatmaps and the DCR histogram");
    assert!(!page.contains("NaN"), "no NaN on the page");
    assert!(!page.contains("inf<") && !page.contains(">inf"), "no infinities on the page");
    for figure in [
        evaluation.quality.scores.score,
        evaluation.quality.scores.score_all_pairs,
        evaluation.quality.scores.column_shapes,
        evaluation.quality.scores.column_pair_trends_all_pairs,
        evaluation.accuracy.synthetic.overall,
        evaluation.utility.tstr,
        evaluation.utility.trtr,
        evaluation.utility.ratio,
        evaluation.detection.auc,
        evaluation.privacy.dcr_share,
        evaluation.privacy.membership_auc,
    ] {
        let text = fixed(figure);
        assert!(page.contains(&text), "the page shows {text}");
    }
    for source in ["real.csv", "synthetic.csv", "holdout.csv"] {
        assert!(page.contains(source));
    }
    // Every section, including the per-group breakdown and the provenance.
    for id in ["scores", "notes", "shapes", "pairs", "accuracy", "utility", "privacy", "groups", "provenance"] {
        assert!(page.contains(&format!("<section id=\"{id}\">")), "section {id}");
    }
    assert!(page.contains("northeast"), "the groups of `region`");
    // MiniJinja escapes `/` too.
    assert!(page.contains("&lt;&#x2f;pre&gt;&lt;script&gt;alert(2)"), "the provenance is escaped");
    // Nothing comes from the network, and there is no script at all.
    for needle in ["src=\"http", "href=\"http", "url(http", "@import", "<link", "<script", "<iframe"] {
        assert!(!page.contains(needle), "the page contains {needle}");
    }
    // Deterministic, also through the JSON.
    assert_eq!(page, html::render(evaluation).expect("the report renders"));
    let reread = Evaluation::from_json(&evaluation.to_json(), "evaluation.json").expect("the JSON reads back");
    assert_eq!(page, html::render(&reread).expect("the report renders"));
}

#[test]
fn a_differential_privacy_guarantee_in_the_manifest_is_explained() {
    let mut evaluation = cps_evaluation().clone();
    let page = html::render(&evaluation).expect("the report renders");
    assert!(!page.contains("<h3>Differential privacy</h3>"), "no manifest privacy section, no guarantee");
    let privacy = |guarantee: &str| {
        serde_json::json!({ "engine": "dp", "privacy": {
            "guarantee": guarantee, "epsilon": 1.0, "delta": 1e-9, "epsilon_spent": 0.99, "delta_spent": 1e-9,
            "rho": 0.01, "rho_spent": 0.01, "measurements": 31,
            "public": ["the metadata: column names, types and formats"] } })
    };
    evaluation.provenance = Some(privacy("(1, 0.000000001)-differential privacy"));
    let page = html::render(&evaluation).expect("the report renders");
    for needle in [
        "<h3>Differential privacy</h3>",
        "<strong>(1, 0.000000001)-differential privacy</strong>",
        "e<sup>1</sup>",
        "1 / 0.99",
        "1.000e-9 / 1.000e-9",
        ">31<",
        "Treated as public, as every differentially private generator does: the metadata: column names, types and formats.",
    ] {
        assert!(page.contains(needle), "the page lacks `{needle}`");
    }
    evaluation.provenance = Some(privacy("none: the noise came from a test seed recorded in the model"));
    let page = html::render(&evaluation).expect("the report renders");
    assert!(page.contains("has <strong>no</strong> differential-privacy guarantee"));
}

#[test]
fn labels_with_markup_are_escaped() {
    let evaluation = hostile_evaluation();
    let page = html::render(&evaluation).expect("the report renders");
    assert!(!page.contains(ATTACK), "the raw tag must not appear");
    assert!(!page.contains("<script"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the label is shown, escaped");
    assert!(!page.contains("x<y>") && page.contains("x&lt;y&gt;"));
    assert!(!page.contains("y & z") && page.contains("y &amp; z"));
    assert!(!page.contains("<real>") && page.contains("&lt;real&gt;.csv"));
    assert!(!page.contains("NaN"));
    // Without a holdout and a target, the tiles say why their figures are missing.
    assert!(page.contains("needs --holdout"));
    assert!(page.contains("no target column was given"));
}

#[test]
fn wide_tables_are_capped_in_the_heatmaps() {
    let evaluation = wide_evaluation();
    assert_eq!(evaluation.charts.columns.len(), 45);
    let page = html::render(&evaluation).expect("the report renders");
    if let Some(keep) = std::env::var_os("DOPPEL_KEEP_REPORT") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).expect("the directory to keep the report in");
        std::fs::write(keep.join("wide.html"), &page).expect("written");
    }
    assert!(page.contains("The maps show the first 40 of 45 columns."));
    assert!(!page.contains("NaN"));
    assert!(page.contains("rotate(-90"), "long category labels are turned");
    assert!(page.contains(">a rather lo…ber 13<"), "and cut");
}

#[test]
fn custom_templates_see_the_same_context() {
    let evaluation = hostile_evaluation();
    let page = html::render_with_template(
        &evaluation,
        "{{ title }}|{{ tiles[0].label }}|{{ evaluation.format }}|{{ evaluation.detection.auc|num(2) }}|\
         {{ evaluation.privacy.dcr_share|pct }}|{{ evaluation.inputs.real.source }}|{{ column_charts|length }}",
    )
    .expect("the template renders");
    let auc = format!("{:.2}", evaluation.detection.auc.expect("detection ran"));
    assert_eq!(page, format!("doppel evaluation|Quality score|doppel.evaluation|{auc}|n/a|&lt;real&gt;.csv|3"));
    match html::render_with_template(&evaluation, "{% for x in %}") {
        Err(Error::Format(message)) => assert!(message.contains("custom.html"), "{message}"),
        other => panic!("expected a format error, got {other:?}"),
    }
}

/// `chromium` on the PATH.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("chromium")).find(|p| p.is_file())
}

/// Runs a command with its output in files (no pipe can fill up), killing it after `limit`.
/// Returns the exit status, stdout and stderr.
fn run(command: &mut Command, dir: &Path, name: &str, limit: Duration) -> (ExitStatus, String, String) {
    let out_path = dir.join(format!("{name}.stdout"));
    let err_path = dir.join(format!("{name}.stderr"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("a stdout file"))
        .stderr(File::create(&err_path).expect("a stderr file"))
        .spawn()
        .expect("chromium starts");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for chromium") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name}: chromium did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    (status, read(&out_path), read(&err_path))
}

fn chromium_command(chromium: &Path, dir: &Path, profile: &str) -> Command {
    let mut command = Command::new(chromium);
    command.args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"]);
    // A profile of its own, so that no other Chromium on the machine takes the page over.
    command.arg(format!("--user-data-dir={}", dir.join(profile).display()));
    command
}

fn screenshot(chromium: &Path, dir: &Path, page: &Path, png: &Path) -> (ExitStatus, String) {
    let mut command = chromium_command(chromium, dir, "profile-screenshot");
    command
        .args(["--window-size=1280,4000", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()));
    let (status, _, stderr) = run(&mut command, dir, "screenshot", Duration::from_secs(60));
    (status, stderr)
}

/// Lines of Chromium's log that report a JavaScript error on the page.
///
/// With `--enable-logging=stderr --v=0`, Chromium logs every console message of the page as an
/// INFO line, an uncaught exception included; for `<script>nosuchfn()</script>` it prints
///
/// ```text
/// [8022:8022:1123/150724.988834:INFO:CONSOLE:1] "Uncaught ReferenceError: nosuchfn is not defined", source: file:///tmp/chr/bad.html (1)
/// ```
///
/// and for `console.error("boom")` the same with `"boom"`. Older builds tag console errors as
/// `ERROR:CONSOLE`. The test below checks on a deliberately broken page that this still holds.
fn console_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("ERROR:CONSOLE") || (l.contains(":CONSOLE") && l.contains("\"Uncaught")))
        .collect()
}

#[test]
fn chromium_renders_the_report() {
    let Some(chromium) = chromium() else {
        if std::env::var("DOPPEL_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1") {
            panic!("chromium is not on the PATH and DOPPEL_REQUIRE_CHROMIUM=1");
        }
        eprintln!("note: chromium is not on the PATH; skipping the browser checks of the HTML report");
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dir = dir.path();

    // First make sure that a broken page is caught, so that a clean log below means something.
    let broken = dir.join("broken.html");
    std::fs::write(&broken, "<!doctype html><title>x</title><p>x</p><script>nosuchfn()</script>").expect("written");
    let (status, stderr) = screenshot(&chromium, dir, &broken, &dir.join("broken.png"));
    assert!(status.success(), "chromium failed on the broken page: {stderr}");
    assert!(!console_errors(&stderr).is_empty(), "the JavaScript error is not detected in:\n{stderr}");

    let page = dir.join("report.html");
    let png = dir.join("report.png");
    std::fs::write(&page, html::render(cps_evaluation()).expect("the report renders")).expect("written");
    let (status, stderr) = screenshot(&chromium, dir, &page, &png);
    assert!(status.success(), "chromium failed: {stderr}");
    let errors = console_errors(&stderr);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(size > 20_000, "the screenshot has {size} bytes");

    let mut command = chromium_command(&chromium, dir, "profile-dom");
    command.arg("--dump-dom").arg(format!("file://{}", page.display()));
    let (status, dom, stderr) = run(&mut command, dir, "dump-dom", Duration::from_secs(60));
    assert!(status.success(), "chromium --dump-dom failed: {stderr}");
    assert!(dom.contains("class=\"tiles\""), "the score card is in the DOM");
    assert!(dom.contains("Quality score") && dom.contains("Detection AUC"));
    let svgs = dom.matches("<svg").count();
    assert!(svgs >= 5, "only {svgs} SVG elements in the DOM");

    if let Some(keep) = std::env::var_os("DOPPEL_KEEP_REPORT") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).expect("the directory to keep the report in");
        for name in ["report.html", "report.png"] {
            std::fs::copy(dir.join(name), keep.join(name)).expect("copied");
        }
    }
}
