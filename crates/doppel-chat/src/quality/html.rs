//! The chat report as a self-contained HTML page: inline CSS, inline SVG charts, no scripts.

use std::fmt::Write as _;

use minijinja::value::{Serde, Value};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::report::{ChatReport, DistinctN, Distribution, Diversity};
use crate::{Error, Result};

/// The bundled template.
const TEMPLATE: &str = include_str!("../../templates/chat-report.html");
/// Its name (the `.html` ending turns auto-escaping on).
const TEMPLATE_NAME: &str = "chat-report.html";
/// The colour of the dialogues (synthetic).
const SYNTHETIC: &str = "#e07b39";
/// The colour of the reference (real) and of requested shares.
const REAL: &str = "#3b6ea8";
/// Persona values listed per attribute.
const MAX_VALUES: usize = 12;

#[derive(Serialize)]
struct Tile {
    label: &'static str,
    value: String,
    hint: String,
    status: &'static str,
}

#[derive(Serialize)]
struct Chart {
    title: String,
    svg: Value,
    caption: String,
}

#[derive(Serialize)]
struct Row {
    cells: Vec<String>,
}

#[derive(Serialize)]
struct PersonaTable {
    agent: String,
    attribute: String,
    distinct: usize,
    values: Vec<Row>,
    more: usize,
}

#[derive(Serialize)]
struct Context {
    title: &'static str,
    doppel_version: String,
    source: String,
    reference_source: Option<String>,
    dialogues: usize,
    turns: usize,
    provenance: Vec<Row>,
    tiles: Vec<Tile>,
    warnings: Vec<String>,
    diversity: Vec<Row>,
    self_similarity: String,
    length_rows: Vec<Row>,
    judge_questions: Vec<Row>,
    charts: Vec<Chart>,
    scenario_chart: Option<Chart>,
    scenarios: Vec<Row>,
    total_variation: String,
    has_expected: bool,
    personas: Vec<PersonaTable>,
    near_duplicates: Vec<Row>,
    near_duplicate_summary: String,
    reference: Vec<Row>,
    has_reference: bool,
}

fn num(value: Option<f64>, decimals: usize) -> String {
    doppel_core::text::fixed_or_na(value, decimals)
}

fn pct(value: Option<f64>) -> String {
    match value.filter(|v| v.is_finite()) {
        Some(v) => format!("{}%", num(Some(v * 100.0), 1)),
        None => "n/a".to_string(),
    }
}

fn signed(value: Option<f64>) -> String {
    match value.filter(|v| v.is_finite()) {
        Some(v) if v > 0.0 => format!("+{}", num(Some(v), 3)),
        other => num(other, 3),
    }
}

/// `good`, `warn` or `bad` for a figure where higher is better, `none` without one.
fn higher(value: Option<f64>, good: f64, warn: f64) -> &'static str {
    match value.filter(|v| v.is_finite()) {
        None => "none",
        Some(v) if v >= good => "good",
        Some(v) if v >= warn => "warn",
        Some(_) => "bad",
    }
}

/// The same for a figure where lower is better.
fn lower(value: Option<f64>, good: f64, warn: f64) -> &'static str {
    higher(value.map(|v| -v), -good, -warn)
}

fn row(cells: Vec<String>) -> Row {
    Row { cells }
}

fn distinct_row(label: &str, d: &DistinctN) -> Row {
    row(vec![
        label.to_string(),
        d.turns.to_string(),
        d.words.to_string(),
        num(d.distinct_1, 3),
        num(d.distinct_2, 3),
        num(d.distinct_3, 3),
    ])
}

fn diversity_rows(prefix: &str, d: &Diversity, out: &mut Vec<Row>) {
    out.push(distinct_row(&format!("{prefix}all turns"), &d.all));
    for (role, distinct) in &d.by_role {
        out.push(distinct_row(&format!("{prefix}{role}"), distinct));
    }
}

fn length_row(label: &str, d: &Distribution) -> Row {
    row(vec![label.to_string(), d.count.to_string(), num(d.min, 0), num(d.median, 1), num(d.mean, 1), num(d.max, 0)])
}

/// Escapes text for XML.
fn escape(text: &str) -> String {
    doppel_core::text::escape_xml(text)
}

/// One series of a bar chart: a name, a colour, one share per bar.
struct Series<'a> {
    name: &'a str,
    color: &'a str,
    values: Vec<f64>,
}

/// Grouped bars of shares with a legend, labels under the groups and a percentage axis.
fn bar_chart(labels: &[String], series: &[Series<'_>]) -> String {
    let groups = labels.len().max(1);
    let per_group = series.len().max(1);
    let bar = match groups * per_group {
        0..=12 => 22.0,
        13..=40 => 12.0,
        _ => 6.0,
    };
    let group_width = bar * per_group as f64 + 6.0;
    let (left, top, plot) = (44.0, 26.0, 140.0);
    let longest = labels.iter().map(|l| l.chars().count().min(16)).max().unwrap_or(1) as f64;
    let slanted = groups > 6 || longest * 6.5 > group_width;
    let bottom = if slanted { 12.0 + longest * 5.0 } else { 22.0 };
    let width = (left + groups as f64 * group_width + 12.0).max(260.0);
    let height = top + plot + bottom;
    let max = series.iter().flat_map(|s| s.values.iter().copied()).filter(|v| v.is_finite()).fold(0.0f64, f64::max);
    let max = if max > 0.0 { max } else { 1.0 };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.1} {height:.1}" width="{width:.0}" role="img" font-family="system-ui, sans-serif" font-size="10">"#
    );
    for k in 0..=2 {
        let y = top + plot - plot * k as f64 / 2.0;
        let _ = write!(
            svg,
            r##"<line x1="{left:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e6e9ee"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#6b7280">{}</text>"##,
            width - 8.0,
            left - 4.0,
            y + 3.5,
            escape(&pct(Some(max * k as f64 / 2.0)))
        );
    }
    let mut x_legend = left;
    for s in series {
        let _ = write!(
            svg,
            r##"<rect x="{x_legend:.1}" y="6" width="10" height="10" rx="2" fill="{}"/><text x="{:.1}" y="15" fill="#374151">{}</text>"##,
            s.color,
            x_legend + 14.0,
            escape(s.name)
        );
        x_legend += 24.0 + s.name.chars().count() as f64 * 6.0;
    }
    for (g, label) in labels.iter().enumerate() {
        let x0 = left + g as f64 * group_width + 3.0;
        for (k, s) in series.iter().enumerate() {
            let v = s.values.get(g).copied().filter(|v| v.is_finite()).unwrap_or(0.0).max(0.0);
            let h = plot * v / max;
            let x = x0 + k as f64 * bar;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{}: {}</title></rect>"#,
                top + plot - h,
                bar - 1.0,
                s.color,
                escape(&format!("{} · {label}", s.name)),
                escape(&pct(Some(v)))
            );
        }
        let short: String = if label.chars().count() > 16 {
            format!("{}…", label.chars().take(15).collect::<String>())
        } else {
            label.clone()
        };
        let cx = x0 + bar * per_group as f64 / 2.0;
        let y = top + plot + 12.0;
        if slanted {
            let _ = write!(
                svg,
                r##"<text x="{cx:.1}" y="{y:.1}" text-anchor="end" fill="#374151" transform="rotate(-45 {cx:.1} {y:.1})"><title>{}</title>{}</text>"##,
                escape(label),
                escape(&short)
            );
        } else {
            let _ = write!(
                svg,
                r##"<text x="{cx:.1}" y="{y:.1}" text-anchor="middle" fill="#374151"><title>{}</title>{}</text>"##,
                escape(label),
                escape(&short)
            );
        }
    }
    let _ = write!(
        svg,
        r##"<line x1="{left:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#9aa3ae"/></svg>"##,
        width - 8.0,
        top + plot,
        top + plot
    );
    svg
}

fn bin_labels(d: &Distribution, integer: bool) -> Vec<String> {
    d.histogram
        .iter()
        .map(|b| {
            if integer && (b.upper - b.lower - 1.0).abs() < 1e-9 {
                num(Some(b.lower), 0)
            } else if integer {
                format!("{}–{}", num(Some(b.lower), 0), num(Some(b.upper - 1.0), 0))
            } else {
                format!("{}–{}", num(Some(b.lower), 1), num(Some(b.upper), 1))
            }
        })
        .collect()
}

fn histogram_chart(
    title: &str,
    ours: &Distribution,
    reference: Option<&Distribution>,
    integer: bool,
    caption: &str,
) -> Chart {
    let mut series =
        vec![Series { name: "dialogues", color: SYNTHETIC, values: ours.histogram.iter().map(|b| b.share).collect() }];
    if let Some(r) = reference {
        series.push(Series { name: "reference", color: REAL, values: r.histogram.iter().map(|b| b.share).collect() });
    }
    Chart {
        title: title.to_string(),
        svg: Value::from_safe_string(bar_chart(&bin_labels(ours, integer), &series)),
        caption: caption.to_string(),
    }
}

fn tiles(report: &ChatReport) -> Vec<Tile> {
    let d2 = report.diversity.all.distinct_2;
    let nd = &report.near_duplicates;
    let mut tiles = vec![
        Tile {
            label: "dialogues",
            value: report.dialogues.to_string(),
            hint: format!("{} turns", report.turns),
            status: "none",
        },
        Tile {
            label: "distinct-2",
            value: num(d2, 3),
            hint: format!(
                "distinct-1 {} · distinct-3 {}",
                num(report.diversity.all.distinct_1, 3),
                num(report.diversity.all.distinct_3, 3)
            ),
            status: higher(d2, 0.5, 0.3),
        },
        Tile {
            label: "self-similarity",
            value: num(report.diversity.self_similarity, 3),
            hint: format!("mean 5-shingle Jaccard, {} pairs", report.diversity.self_similarity_pairs),
            status: lower(report.diversity.self_similarity, 0.05, 0.2),
        },
        Tile {
            label: "near-duplicates",
            value: pct(Some(nd.removable_share)),
            hint: format!("{} removable, {} pairs ≥ {}", nd.removable, nd.pairs, nd.threshold),
            status: lower(Some(nd.removable_share), 0.01, 0.05),
        },
        Tile {
            label: "scenario coverage (TV)",
            value: num(report.scenarios.total_variation, 3),
            hint: if report.scenarios.total_variation.is_some() {
                "distance to the requested weights".to_string()
            } else {
                "needs the spec's weights (--spec)".to_string()
            },
            status: lower(report.scenarios.total_variation, 0.05, 0.1),
        },
    ];
    if let Some(judge) = &report.judge {
        tiles.push(Tile {
            label: "judge score",
            value: num(judge.mean, 3),
            hint: format!("mean of {}, median {}", judge.count, num(judge.median, 3)),
            status: higher(judge.mean, 0.7, 0.5),
        });
    }
    if let Some(r) = &report.reference {
        let relative = match (r.distinct_2_gap, r.diversity.all.distinct_2) {
            (Some(g), Some(base)) if base > 0.0 => Some(g / base),
            _ => None,
        };
        tiles.push(Tile {
            label: "distinct-2 vs reference",
            value: signed(r.distinct_2_gap),
            hint: format!("reference {}", num(r.diversity.all.distinct_2, 3)),
            status: higher(relative, -0.1, -0.2),
        });
        tiles.push(Tile {
            label: "words per turn KS",
            value: num(r.ks_words_per_turn, 3),
            hint: "length distribution vs reference".to_string(),
            status: lower(r.ks_words_per_turn, 0.1, 0.2),
        });
        tiles.push(Tile {
            label: "turns per dialogue KS",
            value: num(r.ks_turns_per_dialogue, 3),
            hint: "dialogue length vs reference".to_string(),
            status: lower(r.ks_turns_per_dialogue, 0.1, 0.2),
        });
        tiles.push(Tile {
            label: "self-similarity vs reference",
            value: signed(r.self_similarity_gap),
            hint: format!("reference {}", num(r.diversity.self_similarity, 3)),
            status: lower(r.self_similarity_gap, 0.02, 0.05),
        });
    }
    tiles
}

fn context(report: &ChatReport) -> Context {
    let reference = report.reference.as_ref();
    let mut diversity = Vec::new();
    diversity_rows("", &report.diversity, &mut diversity);
    if let Some(r) = reference {
        diversity_rows("reference: ", &r.diversity, &mut diversity);
    }
    let mut length_rows = vec![
        length_row("turns per dialogue", &report.turns_per_dialogue),
        length_row("words per turn", &report.words_per_turn),
    ];
    if let Some(r) = reference {
        length_rows.push(length_row("reference: turns per dialogue", &r.turns_per_dialogue));
        length_rows.push(length_row("reference: words per turn", &r.words_per_turn));
    }
    let mut charts = vec![
        histogram_chart(
            "Turns per dialogue",
            &report.turns_per_dialogue,
            reference.map(|r| &r.turns_per_dialogue),
            true,
            "share of dialogues by user and assistant turns",
        ),
        histogram_chart(
            "Words per turn",
            &report.words_per_turn,
            reference.map(|r| &r.words_per_turn),
            true,
            "share of user and assistant turns by words",
        ),
    ];
    if let Some(judge) = &report.judge {
        charts.push(histogram_chart("Judge scores", judge, None, false, "share of judged dialogues by score"));
    }
    let has_expected = report.scenarios.total_variation.is_some();
    let labels: Vec<String> = report.scenarios.rows.iter().map(|r| r.name.clone()).collect();
    let scenario_chart = (!labels.is_empty()).then(|| {
        let mut series = vec![Series {
            name: "observed",
            color: SYNTHETIC,
            values: report.scenarios.rows.iter().map(|r| r.observed).collect(),
        }];
        if has_expected {
            series.push(Series {
                name: "requested",
                color: REAL,
                values: report.scenarios.rows.iter().map(|r| r.expected.unwrap_or(0.0)).collect(),
            });
        }
        Chart {
            title: "Scenarios".to_string(),
            svg: Value::from_safe_string(bar_chart(&labels, &series)),
            caption: "share of dialogues per scenario".to_string(),
        }
    });
    let scenarios = report
        .scenarios
        .rows
        .iter()
        .map(|r| {
            row(vec![
                r.name.clone(),
                r.count.to_string(),
                pct(Some(r.observed)),
                pct(r.expected),
                r.expected.map_or("n/a".to_string(), |e| signed(Some(r.observed - e))),
            ])
        })
        .collect();
    let personas = report
        .personas
        .iter()
        .map(|p| PersonaTable {
            agent: p.agent.clone(),
            attribute: p.attribute.clone(),
            distinct: p.distinct,
            values: p
                .values
                .iter()
                .take(MAX_VALUES)
                .map(|v| row(vec![v.value.clone(), v.count.to_string(), pct(Some(v.share))]))
                .collect(),
            more: p.values.len().saturating_sub(MAX_VALUES),
        })
        .collect();
    let nd = &report.near_duplicates;
    let near_duplicates = nd
        .examples
        .iter()
        .map(|p| row(vec![(p.first + 1).to_string(), (p.second + 1).to_string(), num(Some(p.similarity), 3)]))
        .collect();
    let near_duplicate_summary = format!(
        "{} pairs at similarity ≥ {} ({} exact copies); removing the later record of each leaves {} of {} dialogues.",
        nd.pairs,
        nd.threshold,
        nd.exact_pairs,
        report.dialogues - nd.removable,
        report.dialogues
    );
    let reference_rows = reference
        .map(|r| {
            vec![
                row(vec![
                    "dialogues".to_string(),
                    report.dialogues.to_string(),
                    r.dialogues.to_string(),
                    String::new(),
                ]),
                row(vec![
                    "distinct-2".to_string(),
                    num(report.diversity.all.distinct_2, 3),
                    num(r.diversity.all.distinct_2, 3),
                    signed(r.distinct_2_gap),
                ]),
                row(vec![
                    "self-similarity".to_string(),
                    num(report.diversity.self_similarity, 3),
                    num(r.diversity.self_similarity, 3),
                    signed(r.self_similarity_gap),
                ]),
                row(vec![
                    "mean words per turn".to_string(),
                    num(report.words_per_turn.mean, 1),
                    num(r.words_per_turn.mean, 1),
                    format!("KS {}", num(r.ks_words_per_turn, 3)),
                ]),
                row(vec![
                    "mean turns per dialogue".to_string(),
                    num(report.turns_per_dialogue.mean, 1),
                    num(r.turns_per_dialogue.mean, 1),
                    format!("KS {}", num(r.ks_turns_per_dialogue, 3)),
                ]),
            ]
        })
        .unwrap_or_default();
    Context {
        title: "doppel chat report",
        doppel_version: report.doppel_version.clone(),
        source: report.source.clone().unwrap_or_else(|| "dialogues".to_string()),
        reference_source: reference.map(|r| r.source.clone().unwrap_or_else(|| "reference".to_string())),
        dialogues: report.dialogues,
        turns: report.turns,
        provenance: report.provenance.iter().map(|(k, v)| row(vec![k.clone(), v.to_string()])).collect(),
        tiles: tiles(report),
        warnings: report.warnings.clone(),
        diversity,
        self_similarity: format!(
            "{} over {} pairs",
            num(report.diversity.self_similarity, 3),
            report.diversity.self_similarity_pairs
        ),
        length_rows,
        judge_questions: report
            .judge_questions
            .iter()
            .map(|q| row(vec![q.name.clone(), q.count.to_string(), num(Some(q.mean), 3), pct(Some(q.below_half))]))
            .collect(),
        charts,
        scenario_chart,
        scenarios,
        total_variation: num(report.scenarios.total_variation, 3),
        has_expected,
        personas,
        near_duplicates,
        near_duplicate_summary,
        has_reference: reference.is_some(),
        reference: reference_rows,
    }
}

/// The style sheet shared with `doppel evaluate`'s report (`assets/report.css` in the repository).
const REPORT_CSS: &str = include_str!("../../../../assets/report.css");

/// Renders a chat report as a self-contained HTML page (inline CSS and SVG, no scripts, nothing
/// loaded from the network).
pub fn render_html(report: &ChatReport) -> Result<String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let failed = |e: minijinja::Error| Error::Format(format!("chat report template: {e}"));
    env.add_global("report_css", Value::from_safe_string(REPORT_CSS.to_string()));
    env.add_template(TEMPLATE_NAME, TEMPLATE).map_err(failed)?;
    let ctx = Value::from(Serde(&context(report)));
    env.get_template(TEMPLATE_NAME).and_then(|t| t.render(ctx)).map_err(failed)
}
