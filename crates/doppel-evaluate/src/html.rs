//! The self-contained HTML report: one file with inline CSS and inline SVG charts, no scripts, no
//! network resources.
//!
//! [`render`] fills the bundled template (`templates/report.html`, a [MiniJinja] template);
//! [`render_with_template`] fills a template of the user's with the same context. Output is
//! deterministic: the same evaluation always gives byte-identical HTML.
//!
//! # The template context
//!
//! - `evaluation`: the evaluation itself, exactly as in its JSON;
//! - `title`, `doppel_version`, `sources` (`role`, `source`, `rows`, `columns`);
//! - `tiles`: the score card (`label`, `value`, `detail`, `status` — one of `good`, `warn`, `bad`
//!   or `none` — and `hint`, the reason when the value is n/a), and the same tiles in
//!   `tile_groups` (`title`, `tiles`);
//! - `warnings`, `skipped_columns`;
//! - `shapes`: the column shapes table, with missing rates and coverage formatted;
//! - `column_charts`: one `svg` (safe HTML) per column with its `caption`;
//! - `heatmaps` (`real`, `synthetic`, `difference`: safe SVG; `columns`, `total_columns`,
//!   `capped`, `stacked`: one map per row) or none with fewer than two columns, and `worst_pairs`;
//! - `accuracy`, `utility`, `detection`, `privacy` (with `dcr_svg`), `groups`, `provenance` (the
//!   pretty-printed JSON, or none); `thresholds` lists the colour rules below.
//!
//! Two filters format numbers: `num(decimals=3)` and `pct(decimals=1)`, both print `n/a` for
//! none. Templates whose name ends in `.html` are HTML-escaped automatically; user templates are
//! registered as `custom.html`.
//!
//! # Tile colours
//!
//! Green, amber and red follow simple rules of thumb, not hard limits:
//! - quality, column shapes, pair trends: green from 0.9, amber from 0.8;
//! - accuracy: green from 95 % of the holdout's accuracy, amber from 90 % (without a holdout, as
//!   quality);
//! - utility (TSTR / TRTR): green from 0.9, amber from 0.8;
//! - detection AUC: green up to 0.6, amber up to 0.75;
//! - DCR share: green up to 0.55, amber up to 0.6;
//! - exact copies: green up to the holdout's exact-match rate, amber up to twice it (without a
//!   holdout: green at 0, amber otherwise);
//! - membership AUC: green up to 0.55, amber up to 0.6 — measured as the distance from 0.5 in
//!   either direction, since an attack far below 0.5 works as well as one far above.
//!
//! [MiniJinja]: https://docs.rs/minijinja

use minijinja::value::{Serde, Value};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::charts::ColumnChart;
use crate::data::{SdType, Unit};
use crate::fidelity::ColumnPairTrend;
use crate::learning::Task;
use crate::svg::{self, Scale, Series};
use crate::{Error, Evaluation, Result};

/// The bundled template's name (its `.html` ending turns on HTML escaping).
const TEMPLATE_NAME: &str = "report.html";
/// The bundled template.
const TEMPLATE: &str = include_str!("../templates/report.html");
/// The name user templates are registered under.
const CUSTOM_NAME: &str = "custom.html";
/// At most this many columns in the pair-trend heatmaps.
const MAX_HEATMAP_COLUMNS: usize = 40;
/// Above this many columns the heatmaps take a row each.
const STACKED_HEATMAP_COLUMNS: usize = 12;
/// Rows of the worst-pairs table.
const WORST_PAIRS: usize = 10;
/// Why a figure that needs a holdout is missing.
const NEEDS_HOLDOUT: &str = "needs --holdout";

/// The style sheet shared by doppel's HTML reports (`assets/report.css` in the repository),
/// available to templates as `report_css`.
pub const REPORT_CSS: &str = include_str!("../../../assets/report.css");

/// Renders an evaluation as a self-contained HTML page with the bundled template.
pub fn render(evaluation: &Evaluation) -> Result<String> {
    render_named(evaluation, TEMPLATE_NAME, TEMPLATE, true)
}

/// Renders an evaluation with a MiniJinja template of the user's, which sees the same context as
/// the bundled one (see the [module documentation](self)). Output is HTML-escaped.
pub fn render_with_template(evaluation: &Evaluation, template: &str) -> Result<String> {
    render_named(evaluation, CUSTOM_NAME, template, false)
}

fn render_named(evaluation: &Evaluation, name: &str, source: &str, strict: bool) -> Result<String> {
    let mut env = Environment::new();
    if strict {
        env.set_undefined_behavior(UndefinedBehavior::Strict);
    }
    // Both give digits, a sign, a point, `%` or `n/a` only: nothing to escape.
    env.add_filter("num", |value: Value, decimals: Option<usize>| {
        Value::from_safe_string(number(as_number(&value), decimals.unwrap_or(3)))
    });
    env.add_filter("pct", |value: Value, decimals: Option<usize>| {
        Value::from_safe_string(share(as_number(&value), decimals.unwrap_or(1)))
    });
    env.add_global("report_css", Value::from_safe_string(REPORT_CSS.to_string()));
    let context = Value::from(Serde(&Report::build(evaluation)));
    let failed = |e: minijinja::Error| {
        let mut message = format!("report template `{name}`: {e}");
        let mut cause = std::error::Error::source(&e);
        while let Some(inner) = cause {
            message.push_str(&format!(": {inner}"));
            cause = inner.source();
        }
        Error::Format(message)
    };
    env.add_template(name, source).map_err(failed)?;
    env.get_template(name).and_then(|t| t.render(context)).map_err(failed)
}

fn as_number(value: &Value) -> Option<f64> {
    if value.is_none() || value.is_undefined() { None } else { f64::try_from(value.clone()).ok() }
}

/// A number with fixed decimals, or "n/a".
fn number(value: Option<f64>, decimals: usize) -> String {
    doppel_core::text::fixed_or_na(value, decimals)
}

/// A share as a percentage with fixed decimals, or "n/a".
fn share(value: Option<f64>, decimals: usize) -> String {
    match value.filter(|v| v.is_finite()) {
        Some(v) => format!("{}%", number(Some(v * 100.0), decimals)),
        None => "n/a".to_string(),
    }
}

/// The colour class of a score where higher is better.
fn higher_is_better(value: Option<f64>, green: f64, amber: f64) -> &'static str {
    match value.filter(|v| v.is_finite()) {
        None => "none",
        Some(v) if v >= green => "good",
        Some(v) if v >= amber => "warn",
        Some(_) => "bad",
    }
}

/// The colour class of a score where lower is better.
fn lower_is_better(value: Option<f64>, green: f64, amber: f64) -> &'static str {
    match value.filter(|v| v.is_finite()) {
        None => "none",
        Some(v) if v <= green => "good",
        Some(v) if v <= amber => "warn",
        Some(_) => "bad",
    }
}

#[derive(Serialize)]
struct Source {
    role: &'static str,
    source: String,
    rows: usize,
    columns: usize,
}

#[derive(Serialize, Clone)]
struct Tile {
    label: &'static str,
    value: String,
    detail: String,
    status: &'static str,
    hint: String,
}

impl Tile {
    fn new(label: &'static str, value: String, status: &'static str) -> Tile {
        Tile { label, value, detail: String::new(), status, hint: String::new() }
    }

    fn detail(mut self, detail: String) -> Tile {
        self.detail = detail;
        self
    }

    /// Says why the value is missing, when it is.
    fn hint_if_missing(mut self, value: Option<f64>, hint: &str) -> Tile {
        if value.is_none_or(|v| !v.is_finite()) {
            self.hint = hint.to_string();
        }
        self
    }
}

#[derive(Serialize)]
struct TileGroup {
    title: &'static str,
    tiles: Vec<Tile>,
}

/// The score card's rows: fidelity, then usefulness, then privacy.
fn tile_groups(tiles: &[Tile]) -> Vec<TileGroup> {
    let group_of = |label: &str| match label {
        "Accuracy" | "Utility TSTR / TRTR" | "Detection AUC" => 1,
        "DCR share" | "Exact copies" | "Membership AUC" => 2,
        _ => 0,
    };
    ["Fidelity", "Usefulness and detectability", "Privacy"]
        .into_iter()
        .enumerate()
        .map(|(g, title)| TileGroup {
            title,
            tiles: tiles.iter().filter(|t| group_of(t.label) == g).cloned().collect(),
        })
        .collect()
}

#[derive(Serialize)]
struct ShapeRow {
    column: String,
    sdtype: &'static str,
    metric: String,
    score: String,
    status: &'static str,
    missing_real: String,
    missing_synthetic: String,
    coverage: String,
}

#[derive(Serialize)]
struct ChartCard {
    column: String,
    kind: &'static str,
    svg: Value,
    caption: String,
}

#[derive(Serialize)]
struct Heatmaps {
    real: Value,
    synthetic: Value,
    difference: Value,
    columns: usize,
    total_columns: usize,
    capped: bool,
    /// Whether the maps are large enough to need a row each.
    stacked: bool,
}

#[derive(Serialize)]
struct PairRow {
    first: String,
    second: String,
    metric: String,
    measure: &'static str,
    real: String,
    synthetic: String,
    score: String,
    status: &'static str,
    counted: bool,
}

#[derive(Serialize)]
struct AccuracyRow {
    label: &'static str,
    synthetic: String,
    holdout: String,
}

#[derive(Serialize)]
struct UtilityView {
    target: Option<String>,
    task: Option<&'static str>,
    metric: String,
    tstr: String,
    trtr: String,
    ratio: String,
    test_rows: usize,
    note: Option<String>,
}

#[derive(Serialize)]
struct DetectionView {
    auc: String,
    score: String,
    folds: usize,
    rows_per_class: usize,
    fold_aucs: String,
}

#[derive(Serialize)]
struct AttackRow {
    attack: String,
    description: String,
    auc: String,
    status: &'static str,
}

#[derive(Serialize)]
struct InferenceRow {
    column: String,
    members: String,
    non_members: String,
    baseline: String,
}

#[derive(Serialize)]
struct PrivacyView {
    dcr_svg: Value,
    dcr_share: String,
    dcr_share_status: &'static str,
    dcr_share_size_matched: String,
    dcr_closer_probability: String,
    exact_copy_rate: String,
    holdout_exact_match_rate: String,
    dcr_median_synthetic: String,
    dcr_median_holdout: String,
    dcr_p5_ratio: String,
    nndr_p5_synthetic: String,
    nndr_p5_holdout: String,
    membership_auc: String,
    membership_status: &'static str,
    membership_attacks: Vec<AttackRow>,
    attribute_inference: Vec<InferenceRow>,
    rows_training: usize,
    rows_synthetic: usize,
    rows_holdout: usize,
    has_holdout: bool,
    /// The differential-privacy guarantee the manifest beside the synthetic data states.
    guarantee: Option<GuaranteeView>,
}

/// The `privacy` section of a provenance manifest (models of `--engine dp`), in words.
#[derive(Serialize)]
struct GuaranteeView {
    guarantee: String,
    secure: bool,
    epsilon: String,
    delta: String,
    epsilon_spent: String,
    delta_spent: String,
    measurements: String,
    public: Vec<String>,
}

fn guarantee(e: &Evaluation) -> Option<GuaranteeView> {
    let privacy = e.provenance.as_ref()?.get("privacy")?;
    let number = |key: &str| {
        privacy.get(key).and_then(serde_json::Value::as_f64).map_or_else(|| "n/a".to_string(), |x| format!("{x:.3e}"))
    };
    // Four decimals at most: ε spent is a sum of floating-point shares (0.9999999999999999).
    let plain = |key: &str| {
        privacy.get(key).and_then(serde_json::Value::as_f64).map_or_else(
            || "n/a".to_string(),
            |x| {
                let text = format!("{x:.4}");
                text.trim_end_matches('0').trim_end_matches('.').to_string()
            },
        )
    };
    let guarantee = privacy.get("guarantee").and_then(serde_json::Value::as_str)?.to_string();
    Some(GuaranteeView {
        secure: guarantee.contains("differential privacy"),
        guarantee,
        epsilon: plain("epsilon"),
        delta: number("delta"),
        epsilon_spent: plain("epsilon_spent"),
        delta_spent: number("delta_spent"),
        measurements: privacy
            .get("measurements")
            .and_then(serde_json::Value::as_u64)
            .map_or_else(|| "n/a".into(), |m| m.to_string()),
        public: privacy
            .get("public")
            .and_then(serde_json::Value::as_array)
            .map(|items| items.iter().filter_map(|i| i.as_str().map(String::from)).collect())
            .unwrap_or_default(),
    })
}

#[derive(Serialize)]
struct GroupRow {
    value: String,
    rows_real: usize,
    rows_synthetic: usize,
    share_real: String,
    share_synthetic: String,
    quality: String,
    quality_status: &'static str,
    dcr_share: String,
    dcr_status: &'static str,
    exact_copy_rate: String,
}

#[derive(Serialize)]
struct GroupsView {
    column: String,
    rows: Vec<GroupRow>,
    left_out: usize,
}

#[derive(Serialize)]
struct Report {
    evaluation: Value,
    title: &'static str,
    doppel_version: String,
    sources: Vec<Source>,
    tiles: Vec<Tile>,
    tile_groups: Vec<TileGroup>,
    warnings: Vec<String>,
    skipped_columns: Vec<crate::SkippedColumn>,
    shapes: Vec<ShapeRow>,
    column_charts: Vec<ChartCard>,
    heatmaps: Option<Heatmaps>,
    worst_pairs: Vec<PairRow>,
    accuracy: Vec<AccuracyRow>,
    has_holdout: bool,
    utility: UtilityView,
    detection: DetectionView,
    privacy: PrivacyView,
    groups: Option<GroupsView>,
    provenance: Option<String>,
    thresholds: Vec<[&'static str; 2]>,
}

impl Report {
    fn build(e: &Evaluation) -> Report {
        let mut sources = vec![
            Source {
                role: "real",
                source: e.inputs.real.source.clone(),
                rows: e.inputs.real.rows,
                columns: e.inputs.real.columns,
            },
            Source {
                role: "synthetic",
                source: e.inputs.synthetic.source.clone(),
                rows: e.inputs.synthetic.rows,
                columns: e.inputs.synthetic.columns,
            },
        ];
        if let Some(h) = &e.inputs.holdout {
            sources.push(Source { role: "holdout", source: h.source.clone(), rows: h.rows, columns: h.columns });
        }
        let tiles = tiles(e);
        Report {
            evaluation: Value::from(Serde(e)),
            title: "doppel evaluation",
            doppel_version: e.doppel_version.clone(),
            sources,
            tile_groups: tile_groups(&tiles),
            tiles,
            warnings: e.warnings.clone(),
            skipped_columns: e.skipped_columns.clone(),
            shapes: shapes(e),
            column_charts: e.charts.columns.iter().map(|chart| chart_card(e, chart)).collect(),
            heatmaps: heatmaps(e),
            worst_pairs: worst_pairs(&e.quality.pairs),
            accuracy: accuracy(e),
            has_holdout: e.inputs.holdout.is_some(),
            utility: utility(e),
            detection: DetectionView {
                auc: number(e.detection.auc, 3),
                score: number(e.detection.score, 3),
                folds: e.detection.folds,
                rows_per_class: e.detection.rows_per_class,
                fold_aucs: e.detection.fold_aucs.iter().map(|a| number(Some(*a), 3)).collect::<Vec<_>>().join(", "),
            },
            privacy: privacy(e),
            groups: groups(e),
            provenance: e.provenance.as_ref().map(|p| serde_json::to_string_pretty(p).unwrap_or_default()),
            thresholds: vec![
                ["quality, column shapes, pair trends", "green ≥ 0.9, amber ≥ 0.8, red below"],
                ["accuracy", "green ≥ 95% of the holdout's, amber ≥ 90% (no holdout: as quality)"],
                ["utility (TSTR / TRTR)", "green ≥ 0.9, amber ≥ 0.8, red below"],
                ["detection AUC", "green ≤ 0.6, amber ≤ 0.75, red above"],
                ["DCR share", "green ≤ 0.55, amber ≤ 0.6, red above"],
                ["exact copies", "green ≤ the holdout's exact-match rate, amber ≤ twice it, red above"],
                ["membership AUC", "green within 0.05 of 0.5, amber within 0.1, red further (either way)"],
            ],
        }
    }
}

/// Membership attacks: an AUC far below 0.5 tells as much as one far above (flip the guess), so
/// the distance from 0.5 counts.
fn membership_status(auc: Option<f64>) -> &'static str {
    lower_is_better(auc.map(|a| 0.5 + (a - 0.5).abs()), 0.55, 0.6)
}

fn quality_status(value: Option<f64>) -> &'static str {
    higher_is_better(value, 0.9, 0.8)
}

fn metric_name(metric: Option<&str>) -> String {
    match metric {
        Some("roc_auc") => "ROC AUC".into(),
        Some("macro_f1") => "macro F1".into(),
        Some("r2") => "R²".into(),
        Some(other) => other.into(),
        None => "n/a".into(),
    }
}

fn tiles(e: &Evaluation) -> Vec<Tile> {
    let q = &e.quality.scores;
    let no_values = "no column could be compared";
    let no_pairs = "no pair shows a strong real association";
    let mut tiles = vec![
        Tile::new("Quality score", number(q.score, 3), quality_status(q.score))
            .detail("SDMetrics, as shipped".into())
            .hint_if_missing(q.score, no_values),
        Tile::new("Quality (all pairs)", number(q.score_all_pairs, 3), quality_status(q.score_all_pairs))
            .detail("every column pair counted".into())
            .hint_if_missing(q.score_all_pairs, no_values),
        Tile::new("Column shapes", number(q.column_shapes, 3), quality_status(q.column_shapes))
            .detail("1 − KS / TV distance per column".into())
            .hint_if_missing(q.column_shapes, no_values),
        Tile::new("Pair trends", number(q.column_pair_trends, 3), quality_status(q.column_pair_trends))
            .detail("pairs with a strong real association".into())
            .hint_if_missing(q.column_pair_trends, no_pairs),
        Tile::new(
            "Pair trends (all pairs)",
            number(q.column_pair_trends_all_pairs, 3),
            quality_status(q.column_pair_trends_all_pairs),
        )
        .detail("every column pair".into())
        .hint_if_missing(q.column_pair_trends_all_pairs, "fewer than two columns"),
    ];

    let synthetic = e.accuracy.synthetic.overall;
    let ceiling = e.accuracy.holdout.as_ref().and_then(|h| h.overall);
    let status = match (synthetic, ceiling) {
        (Some(s), Some(h)) if h > 0.0 => higher_is_better(Some(s / h), 0.95, 0.9),
        _ => quality_status(synthetic),
    };
    let detail = match (&e.accuracy.holdout, ceiling) {
        (Some(_), Some(h)) => format!("holdout ceiling {}", number(Some(h), 3)),
        _ => format!("holdout ceiling: {NEEDS_HOLDOUT}"),
    };
    tiles
        .push(Tile::new("Accuracy", number(synthetic, 3), status).detail(detail).hint_if_missing(synthetic, no_values));

    let u = &e.utility;
    let note = u.note.clone().unwrap_or_else(|| "not computed".into());
    let detail = if u.tstr.is_some() || u.trtr.is_some() {
        format!("TSTR {} · TRTR {} · {}", number(u.tstr, 3), number(u.trtr, 3), metric_name(u.metric.as_deref()))
    } else {
        String::new()
    };
    tiles.push(
        Tile::new("Utility TSTR / TRTR", number(u.ratio, 3), higher_is_better(u.ratio, 0.9, 0.8))
            .detail(detail)
            .hint_if_missing(u.ratio, &note),
    );

    let d = &e.detection;
    tiles.push(
        Tile::new("Detection AUC", number(d.auc, 3), lower_is_better(d.auc, 0.6, 0.75))
            .detail("0.5 = indistinguishable".into())
            .hint_if_missing(d.auc, "too few rows for the classifier"),
    );

    let p = &e.privacy;
    tiles.push(
        Tile::new("DCR share", number(p.dcr_share, 3), lower_is_better(p.dcr_share, 0.55, 0.6))
            .detail("0.5 = as close as new real rows".into())
            .hint_if_missing(p.dcr_share, NEEDS_HOLDOUT),
    );

    let exact = Some(p.exact_copy_rate);
    let (status, detail) = match p.holdout_exact_match_rate {
        Some(h) => (
            if p.exact_copy_rate <= h + 1e-12 {
                "good"
            } else if p.exact_copy_rate <= 2.0 * h + 1e-12 {
                "warn"
            } else {
                "bad"
            },
            format!("holdout exact-match rate {}", share(Some(h), 2)),
        ),
        None => (if p.exact_copy_rate <= 0.0 { "good" } else { "warn" }, format!("holdout rate: {NEEDS_HOLDOUT}")),
    };
    tiles
        .push(Tile::new("Exact copies", share(exact, 2), status).detail(detail).hint_if_missing(exact, "not computed"));

    tiles.push(
        Tile::new("Membership AUC", number(p.membership_auc, 3), membership_status(p.membership_auc))
            .detail("best of the attacks; 0.5 = chance".into())
            .hint_if_missing(p.membership_auc, NEEDS_HOLDOUT),
    );
    tiles
}

fn sdtype_name(sdtype: SdType) -> &'static str {
    match sdtype {
        SdType::Numerical => "numerical",
        SdType::Datetime => "datetime",
        SdType::Categorical => "categorical",
        SdType::Boolean => "boolean",
    }
}

fn shapes(e: &Evaluation) -> Vec<ShapeRow> {
    e.quality
        .columns
        .iter()
        .map(|shape| {
            let summary = e.columns.iter().find(|s| s.column == shape.column);
            ShapeRow {
                column: shape.column.clone(),
                sdtype: summary.map_or("", |s| sdtype_name(s.sdtype)),
                metric: shape.metric.clone(),
                score: number(shape.score, 3),
                status: quality_status(shape.score),
                missing_real: share(summary.map(|s| s.missing_rate_real), 1),
                missing_synthetic: share(summary.map(|s| s.missing_rate_synthetic), 1),
                coverage: number(summary.and_then(|s| s.coverage), 3),
            }
        })
        .collect()
}

fn chart_card(e: &Evaluation, chart: &ColumnChart) -> ChartCard {
    let series = [
        Series { name: "real", color: svg::REAL, values: &chart.real },
        Series { name: "synthetic", color: svg::SYNTHETIC, values: &chart.synthetic },
    ];
    let continuous = chart.sdtype.is_continuous();
    let drawing = if continuous && !chart.edges.is_empty() {
        let format = |x: f64| chart.unit.format(x);
        let ticks = match chart.unit {
            Unit::Number => svg::Ticks::Round(&format),
            Unit::Days | Unit::Microseconds => svg::Ticks::Edges(&format),
        };
        svg::histogram(&chart.edges, ticks, &series, "")
    } else {
        svg::grouped_bars(&chart.labels, &series)
    };
    let score = e.quality.columns.iter().find(|s| s.column == chart.column);
    let mut caption = format!(
        "missing: real {}, synthetic {}",
        share(Some(chart.missing_real), 1),
        share(Some(chart.missing_synthetic), 1)
    );
    if let Some(s) = score {
        caption = format!("{} {} · {caption}", s.metric, number(s.score, 3));
    }
    ChartCard {
        column: chart.column.clone(),
        kind: sdtype_name(chart.sdtype),
        svg: Value::from_safe_string(drawing),
        caption,
    }
}

/// The real and synthetic association of a pair, by its metric: Pearson r for two continuous
/// columns, Cramér's V otherwise.
fn associations(pair: &ColumnPairTrend) -> (Option<f64>, Option<f64>, &'static str) {
    if pair.metric == "CorrelationSimilarity" {
        (pair.real_correlation, pair.synthetic_correlation, "Pearson r")
    } else {
        (pair.real_association, pair.synthetic_association, "Cramér's V")
    }
}

fn heatmaps(e: &Evaluation) -> Option<Heatmaps> {
    let total = e.charts.columns.len();
    if total < 2 {
        return None;
    }
    let names: Vec<String> = e.charts.columns.iter().take(MAX_HEATMAP_COLUMNS).map(|c| c.column.clone()).collect();
    let n = names.len();
    let index = |name: &str| names.iter().position(|c| c == name);
    let mut real = vec![vec![None; n]; n];
    let mut synthetic = vec![vec![None; n]; n];
    let mut difference = vec![vec![None; n]; n];
    for i in 0..n {
        real[i][i] = Some(1.0);
        synthetic[i][i] = Some(1.0);
        difference[i][i] = Some(0.0);
    }
    for pair in &e.quality.pairs {
        let (Some(a), Some(b)) = (index(&pair.columns[0]), index(&pair.columns[1])) else {
            continue;
        };
        let (r, s, _) = associations(pair);
        let (r, s) = (r.filter(|v| v.is_finite()), s.filter(|v| v.is_finite()));
        let d = r.zip(s).map(|(r, s)| (r - s).abs());
        for (x, y) in [(a, b), (b, a)] {
            real[x][y] = r;
            synthetic[x][y] = s;
            difference[x][y] = d;
        }
    }
    Some(Heatmaps {
        real: Value::from_safe_string(svg::heatmap(&names, &real, Scale::Diverging, "real associations")),
        synthetic: Value::from_safe_string(svg::heatmap(
            &names,
            &synthetic,
            Scale::Diverging,
            "synthetic associations",
        )),
        difference: Value::from_safe_string(svg::heatmap(
            &names,
            &difference,
            Scale::Sequential,
            "absolute difference of the associations",
        )),
        columns: n,
        total_columns: total,
        capped: total > n,
        stacked: n > STACKED_HEATMAP_COLUMNS,
    })
}

fn worst_pairs(pairs: &[ColumnPairTrend]) -> Vec<PairRow> {
    let mut scored: Vec<&ColumnPairTrend> = pairs.iter().filter(|p| p.score.is_some_and(f64::is_finite)).collect();
    scored.sort_by(|a, b| {
        a.score.unwrap_or(0.0).total_cmp(&b.score.unwrap_or(0.0)).then_with(|| a.columns.cmp(&b.columns))
    });
    scored
        .into_iter()
        .take(WORST_PAIRS)
        .map(|p| {
            let (r, s, measure) = associations(p);
            PairRow {
                first: p.columns[0].clone(),
                second: p.columns[1].clone(),
                metric: p.metric.clone(),
                measure,
                real: number(r, 3),
                synthetic: number(s, 3),
                score: number(p.score, 3),
                status: quality_status(p.score),
                counted: p.meets_threshold,
            }
        })
        .collect()
}

fn accuracy(e: &Evaluation) -> Vec<AccuracyRow> {
    let s = &e.accuracy.synthetic;
    let h = e.accuracy.holdout.as_ref();
    let holdout = |f: fn(&crate::Accuracy) -> Option<f64>| match h {
        Some(h) => number(f(h), 3),
        None => format!("n/a ({NEEDS_HOLDOUT})"),
    };
    vec![
        AccuracyRow { label: "univariate", synthetic: number(s.univariate, 3), holdout: holdout(|a| a.univariate) },
        AccuracyRow { label: "bivariate", synthetic: number(s.bivariate, 3), holdout: holdout(|a| a.bivariate) },
        AccuracyRow { label: "overall", synthetic: number(s.overall, 3), holdout: holdout(|a| a.overall) },
    ]
}

fn utility(e: &Evaluation) -> UtilityView {
    let u = &e.utility;
    UtilityView {
        target: u.target.clone(),
        task: u.task.map(|t| match t {
            Task::Binary => "binary classification",
            Task::Multiclass => "multiclass classification",
            Task::Regression => "regression",
        }),
        metric: metric_name(u.metric.as_deref()),
        tstr: number(u.tstr, 3),
        trtr: number(u.trtr, 3),
        ratio: number(u.ratio, 3),
        test_rows: u.test_rows,
        note: u.note.clone(),
    }
}

fn privacy(e: &Evaluation) -> PrivacyView {
    let p = &e.privacy;
    let h = &p.dcr_histogram;
    PrivacyView {
        dcr_svg: Value::from_safe_string(svg::dcr_histogram(&h.edges, &h.synthetic, &h.holdout)),
        dcr_share: number(p.dcr_share, 3),
        dcr_share_status: lower_is_better(p.dcr_share, 0.55, 0.6),
        dcr_share_size_matched: number(p.dcr_share_size_matched, 3),
        dcr_closer_probability: number(p.dcr_closer_probability, 3),
        exact_copy_rate: share(Some(p.exact_copy_rate), 2),
        holdout_exact_match_rate: share(p.holdout_exact_match_rate, 2),
        dcr_median_synthetic: number(p.dcr_median_synthetic, 3),
        dcr_median_holdout: number(p.dcr_median_holdout, 3),
        dcr_p5_ratio: number(p.dcr_p5_ratio, 3),
        nndr_p5_synthetic: number(p.nndr_p5_synthetic, 3),
        nndr_p5_holdout: number(p.nndr_p5_holdout, 3),
        membership_auc: number(p.membership_auc, 3),
        membership_status: membership_status(p.membership_auc),
        membership_attacks: p
            .membership_attacks
            .iter()
            .map(|a| AttackRow {
                attack: a.attack.clone(),
                description: a.description.clone(),
                auc: number(a.auc, 3),
                status: membership_status(a.auc),
            })
            .collect(),
        attribute_inference: p
            .attribute_inference
            .iter()
            .map(|a| InferenceRow {
                column: a.column.clone(),
                members: share(Some(a.members), 1),
                non_members: share(a.non_members, 1),
                baseline: share(Some(a.baseline), 1),
            })
            .collect(),
        rows_training: p.rows_used.training,
        rows_synthetic: p.rows_used.synthetic,
        rows_holdout: p.rows_used.holdout,
        has_holdout: e.inputs.holdout.is_some(),
        guarantee: guarantee(e),
    }
}

fn groups(e: &Evaluation) -> Option<GroupsView> {
    let g = e.groups.as_ref()?;
    Some(GroupsView {
        column: g.column.clone(),
        rows: g
            .groups
            .iter()
            .map(|r| {
                let quality = r.quality.as_ref().and_then(|q| q.score);
                GroupRow {
                    value: r.value.clone(),
                    rows_real: r.rows_real,
                    rows_synthetic: r.rows_synthetic,
                    share_real: share(Some(r.share_real), 1),
                    share_synthetic: share(Some(r.share_synthetic), 1),
                    quality: number(quality, 3),
                    quality_status: quality_status(quality),
                    dcr_share: number(r.dcr_share, 3),
                    dcr_status: lower_is_better(r.dcr_share, 0.55, 0.6),
                    exact_copy_rate: share(r.exact_copy_rate, 2),
                }
            })
            .collect(),
        left_out: g.groups_left_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_fixed_decimals() {
        assert_eq!(number(Some(0.123456), 3), "0.123");
        assert_eq!(number(Some(-0.0001), 3), "0.000");
        assert_eq!(number(Some(f64::NAN), 3), "n/a");
        assert_eq!(number(None, 3), "n/a");
        assert_eq!(share(Some(0.5), 1), "50.0%");
        assert_eq!(share(None, 1), "n/a");
    }

    #[test]
    fn statuses_follow_the_thresholds() {
        assert_eq!(higher_is_better(Some(0.95), 0.9, 0.8), "good");
        assert_eq!(higher_is_better(Some(0.85), 0.9, 0.8), "warn");
        assert_eq!(higher_is_better(Some(0.5), 0.9, 0.8), "bad");
        assert_eq!(higher_is_better(None, 0.9, 0.8), "none");
        assert_eq!(lower_is_better(Some(0.55), 0.6, 0.75), "good");
        assert_eq!(lower_is_better(Some(0.7), 0.6, 0.75), "warn");
        assert_eq!(lower_is_better(Some(0.9), 0.6, 0.75), "bad");
        assert_eq!(membership_status(Some(0.52)), "good");
        assert_eq!(membership_status(Some(0.2)), "bad");
        assert_eq!(membership_status(Some(0.8)), "bad");
        assert_eq!(membership_status(None), "none");
    }
}
