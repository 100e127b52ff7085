//! The report's charts as inline SVG: grouped bars, histograms, heatmaps with a colour legend and
//! the DCR histogram.
//!
//! Every chart is a plain string, built without any dependency. The output is deterministic:
//! coordinates are written with one decimal, values with fixed decimals, and NaN or infinite
//! inputs are drawn as zero (bars) or as grey "n/a" cells (heatmaps), so `NaN` never reaches the
//! page. Every text is XML-escaped here; the report passes the strings on as safe HTML.

use std::fmt::Write as _;

/// The colour of real data.
pub(crate) const REAL: &str = "#3b6ea8";
/// The colour of synthetic data.
pub(crate) const SYNTHETIC: &str = "#e07b39";
/// The colour of the real holdout.
pub(crate) const HOLDOUT: &str = "#3f9a5a";

/// Grey used for axes and muted text.
const AXIS: &str = "#9aa3ae";
/// Light grey of grid lines.
const GRID: &str = "#e6e9ee";
/// Dark grey of labels.
const INK: &str = "#374151";
/// Fill of heatmap cells without a value.
const NO_VALUE: &str = "#d9dce1";
/// Labels longer than this are cut, with the full text in a `<title>`.
const MAX_LABEL: usize = 18;
/// The width of every bar chart's view box.
const WIDTH: f64 = 360.0;
/// The height of the plot area of bar charts and histograms.
const PLOT_HEIGHT: f64 = 140.0;
/// Estimated width of one character per pixel of font size.
const CHAR_WIDTH: f64 = 0.64;

/// One data series of a bar chart or histogram.
pub(crate) struct Series<'a> {
    /// Its name in the legend.
    pub name: &'a str,
    /// Its fill colour.
    pub color: &'a str,
    /// One value per bar (shares in [0, 1]).
    pub values: &'a [f64],
}

/// How the labels under a bar chart are turned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rotation {
    /// Level.
    None,
    /// By 45°.
    Slanted,
    /// By 90°.
    Upright,
}

/// How a heatmap maps values to colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scale {
    /// −1 (blue) through 0 (white) to 1 (red): correlations, with associations in 0..1.
    Diverging,
    /// 0 (white) to 1 (dark purple): absolute differences.
    Sequential,
}

/// Escapes text for XML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    doppel_core::text::escape_xml(text)
}

/// Cuts a label to `max` characters with an ellipsis in the middle, keeping its start and its
/// end (labels often differ only at the end: "… group 1", "… group 2").
pub(crate) fn truncate(label: &str, max: usize) -> String {
    let chars: Vec<char> = label.chars().collect();
    if chars.len() <= max {
        return label.to_string();
    }
    let keep = max.saturating_sub(1);
    let tail = keep * 2 / 5;
    let head = keep - tail;
    let mut cut: String = chars[..head].iter().collect();
    cut.push('…');
    cut.extend(&chars[chars.len() - tail..]);
    cut
}

/// A coordinate with one decimal; NaN and infinities become 0.
fn c(x: f64) -> String {
    let x = if x.is_finite() { x } else { 0.0 };
    let text = format!("{x:.1}");
    if text == "-0.0" { "0.0".to_string() } else { text }
}

/// A finite value, or 0.
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// A share as a percentage with one decimal ("n/a" when not finite).
pub(crate) fn percent(x: f64) -> String {
    if x.is_finite() { format!("{:.1}%", x * 100.0) } else { "n/a".to_string() }
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// A share axis: the step between grid lines and their number, so that at most five steps of a
/// round size (1, 2, 2.5 or 5 times a power of ten, in percent) cover the largest share.
fn share_ticks(max: f64) -> (f64, usize) {
    const STEPS: [f64; 13] = [0.0005, 0.001, 0.002, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5];
    for step in STEPS {
        let count = (max / step - 1e-9).ceil().max(1.0);
        if count <= 5.0 {
            return (step, count as usize);
        }
    }
    (0.25, 4)
}

/// The decimals a percentage needs to show multiples of `step` exactly.
fn percent_decimals(step: f64) -> usize {
    let percent = step * 100.0;
    (0..3)
        .find(|&d| {
            let scaled = percent * 10f64.powi(d as i32);
            (scaled - scaled.round()).abs() < 1e-6
        })
        .unwrap_or(2)
}

/// Round numbers between `lo` and `hi`, at least `min_gap` apart when the range spans `width`
/// pixels: 1, 2, 2.5 or 5 times a power of ten.
fn round_ticks(lo: f64, hi: f64, width: f64, min_gap: f64) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return Vec::new();
    }
    let max_ticks = (width / min_gap).floor().clamp(2.0, 6.0);
    let mut power = 10f64.powf((span / max_ticks).log10().floor());
    loop {
        for factor in [1.0, 2.0, 2.5, 5.0] {
            let step = power * factor;
            if span / step <= max_ticks {
                let first = (lo / step - 1e-9).ceil() as i64;
                let last = (hi / step + 1e-9).floor() as i64;
                return (first..=last).map(|k| k as f64 * step).collect();
            }
        }
        power *= 10.0;
    }
}

fn open(out: &mut String, width: f64, height: f64, label: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}" font-size="10" fill="{INK}">"#,
        w = c(width),
        h = c(height),
        label = escape(label)
    );
}

/// A small chart saying that there is nothing to draw.
fn empty(message: &str) -> String {
    let mut out = String::new();
    open(&mut out, WIDTH, 60.0, message);
    let _ = write!(
        out,
        r#"<text x="{x}" y="34" text-anchor="middle" fill="{AXIS}" font-size="12">{t}</text></svg>"#,
        x = c(WIDTH / 2.0),
        t = escape(message)
    );
    out
}

/// The legend: a coloured square and the name of each series, in one row from `x`.
fn legend(out: &mut String, series: &[Series<'_>], x: f64, y: f64) {
    let mut x = x;
    for s in series {
        let _ = write!(
            out,
            r#"<rect x="{x}" y="{y}" width="10" height="10" rx="2" fill="{color}"/><text x="{tx}" y="{ty}">{name}</text>"#,
            x = c(x),
            y = c(y),
            color = escape(s.color),
            tx = c(x + 14.0),
            ty = c(y + 9.0),
            name = escape(s.name)
        );
        x += 14.0 + chars(s.name) as f64 * 10.0 * CHAR_WIDTH + 14.0;
    }
}

/// Horizontal grid lines and percentage labels of a share axis: `count` steps of `step`.
fn share_axis(out: &mut String, (step, count): (f64, usize), left: f64, right: f64, y0: f64) {
    let decimals = percent_decimals(step);
    for i in 0..=count {
        let y = y0 + PLOT_HEIGHT - PLOT_HEIGHT * i as f64 / count as f64;
        let label = format!("{:.decimals$}%", step * i as f64 * 100.0);
        let _ = write!(
            out,
            r#"<line x1="{l}" y1="{y}" x2="{r}" y2="{y}" stroke="{color}" stroke-width="1"/><text x="{tx}" y="{ty}" text-anchor="end" fill="{AXIS}">{label}</text>"#,
            l = c(left),
            r = c(right),
            y = c(y),
            color = if i == 0 { AXIS } else { GRID },
            tx = c(left - 4.0),
            ty = c(y + 3.5),
        );
    }
}

fn largest(series: &[Series<'_>]) -> f64 {
    series.iter().flat_map(|s| s.values.iter()).copied().map(finite).fold(0.0, f64::max)
}

/// A grouped bar chart of shares: one group of bars per label, one bar per series. Long labels
/// are cut to 18 characters (the full text is in the group's `<title>`) and turned by 45° when
/// they do not fit under their group.
pub(crate) fn grouped_bars(labels: &[String], series: &[Series<'_>]) -> String {
    let n = labels.len();
    if n == 0 || series.is_empty() || largest(series) <= 0.0 {
        return empty("no values to show");
    }
    let ticks = share_ticks(largest(series));
    let top_value = ticks.0 * ticks.1 as f64;
    let shown: Vec<String> = labels.iter().map(|l| truncate(l, MAX_LABEL)).collect();
    let longest = shown.iter().map(|l| chars(l)).max().unwrap_or(0) as f64 * 10.0 * CHAR_WIDTH;
    let (top, right) = (24.0, 8.0);
    let mut left = 40.0;
    let band = (WIDTH - left - right) / n as f64;
    // Labels that do not fit under their group are turned: by 45° where the turned lines keep
    // apart, upright where the groups are too narrow even for that.
    let rotation = if longest <= band - 3.0 {
        Rotation::None
    } else if band * 0.707 >= 12.0 {
        Rotation::Slanted
    } else {
        Rotation::Upright
    };
    if rotation == Rotation::Slanted {
        // A label turned by 45° reaches this far left of its group's centre.
        left = f64::max(left, longest * 0.707 - band / 2.0 + 6.0);
    }
    let band = (WIDTH - left - right) / n as f64;
    let bottom = match rotation {
        Rotation::None => 22.0,
        Rotation::Slanted => longest * 0.707 + 18.0,
        Rotation::Upright => longest + 16.0,
    };
    let height = top + PLOT_HEIGHT + bottom;
    let mut out = String::new();
    open(&mut out, WIDTH, height, "bar chart of category shares");
    legend(&mut out, series, left, 4.0);
    share_axis(&mut out, ticks, left, WIDTH - right, top);
    let gap = (band * 0.18).min(8.0);
    let bar = (band - gap) / series.len() as f64;
    let base = top + PLOT_HEIGHT;
    for (i, label) in labels.iter().enumerate() {
        let x0 = left + band * i as f64 + gap / 2.0;
        let values: Vec<String> =
            series.iter().map(|s| format!("{} {}", s.name, percent(s.values.get(i).copied().unwrap_or(0.0)))).collect();
        let _ = write!(out, "<g><title>{}</title>", escape(&format!("{label}: {}", values.join(", "))));
        for (k, s) in series.iter().enumerate() {
            let v = finite(s.values.get(i).copied().unwrap_or(0.0)).clamp(0.0, top_value);
            let h = PLOT_HEIGHT * v / top_value;
            let _ = write!(
                out,
                r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{color}"/>"#,
                x = c(x0 + bar * k as f64),
                y = c(base - h),
                w = c((bar - 0.5).max(0.5)),
                h = c(h),
                color = escape(s.color)
            );
        }
        let cx = left + band * (i as f64 + 0.5);
        let label = escape(&shown[i]);
        match rotation {
            Rotation::None => {
                let _ = write!(
                    out,
                    r#"<text x="{x}" y="{y}" text-anchor="middle">{label}</text>"#,
                    x = c(cx),
                    y = c(base + 14.0)
                );
            }
            Rotation::Slanted => {
                let y = base + 10.0;
                let _ = write!(
                    out,
                    r#"<text x="{x}" y="{y}" text-anchor="end" transform="rotate(-45 {x} {y})">{label}</text>"#,
                    x = c(cx),
                    y = c(y)
                );
            }
            Rotation::Upright => {
                // The glyphs stand left of the turned baseline; shift it to centre them.
                let (x, y) = (cx + 3.5, base + 6.0);
                let _ = write!(
                    out,
                    r#"<text x="{x}" y="{y}" text-anchor="end" transform="rotate(-90 {x} {y})">{label}</text>"#,
                    x = c(x),
                    y = c(y)
                );
            }
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// How a histogram labels its x axis.
pub(crate) enum Ticks<'a> {
    /// Round numbers (1, 2, 2.5 or 5 times a power of ten), formatted by the function.
    Round(&'a dyn Fn(f64) -> String),
    /// Bin edges (dates and times, where round numbers of days mean nothing), formatted by the
    /// function, as many as fit.
    Edges(&'a dyn Fn(f64) -> String),
}

/// A histogram over equal-width bins: `edges` are the bin edges (one more than the values of
/// each series), the series' bars stand side by side within each bin.
pub(crate) fn histogram(edges: &[f64], ticks: Ticks<'_>, series: &[Series<'_>], x_title: &str) -> String {
    let bins = edges.len().saturating_sub(1);
    if bins == 0 || series.is_empty() || largest(series) <= 0.0 || edges.iter().any(|e| !e.is_finite()) {
        return empty("no values to show");
    }
    let share = share_ticks(largest(series));
    let top_value = share.0 * share.1 as f64;
    let (top, left, right) = (24.0, 40.0, 12.0);
    let bottom = if x_title.is_empty() { 22.0 } else { 36.0 };
    let height = top + PLOT_HEIGHT + bottom;
    let plot_width = WIDTH - left - right;
    let band = plot_width / bins as f64;
    let format = match ticks {
        Ticks::Round(f) | Ticks::Edges(f) => f,
    };
    let mut out = String::new();
    open(&mut out, WIDTH, height, if x_title.is_empty() { "histogram" } else { x_title });
    legend(&mut out, series, left, 4.0);
    share_axis(&mut out, share, left, WIDTH - right, top);
    let base = top + PLOT_HEIGHT;
    let bar = (band - 1.0).max(0.5) / series.len() as f64;
    for b in 0..bins {
        let x0 = left + band * b as f64 + 0.5;
        let values: Vec<String> =
            series.iter().map(|s| format!("{} {}", s.name, percent(s.values.get(b).copied().unwrap_or(0.0)))).collect();
        let _ = write!(
            out,
            "<g><title>{}</title>",
            escape(&format!("{} to {}: {}", format(edges[b]), format(edges[b + 1]), values.join(", ")))
        );
        for (k, s) in series.iter().enumerate() {
            let v = finite(s.values.get(b).copied().unwrap_or(0.0)).clamp(0.0, top_value);
            let h = PLOT_HEIGHT * v / top_value;
            let _ = write!(
                out,
                r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{color}"/>"#,
                x = c(x0 + bar * k as f64),
                y = c(base - h),
                w = c(bar),
                h = c(h),
                color = escape(s.color)
            );
        }
        out.push_str("</g>");
    }
    let (lo, hi) = (edges[0], edges[bins]);
    let x_of = |v: f64| left + plot_width * (v - lo) / (hi - lo);
    let label_width = |t: &str| chars(t) as f64 * 10.0 * CHAR_WIDTH;
    let positions: Vec<(f64, String)> = match ticks {
        Ticks::Round(_) => {
            // Leave room for the widest label of the range's ends.
            let widest = label_width(&format(lo)).max(label_width(&format(hi)));
            round_ticks(lo, hi, plot_width, widest + 14.0).into_iter().map(|v| (x_of(v), format(v))).collect()
        }
        Ticks::Edges(_) => {
            let labels: Vec<String> = edges.iter().map(|&e| format(e)).collect();
            let widest = labels.iter().map(|l| label_width(l)).fold(0.0, f64::max);
            let step = ((widest + 14.0) / band).ceil().max(1.0) as usize;
            let mut chosen = Vec::new();
            let mut e = 0;
            while e <= bins {
                chosen.push((left + band * e as f64, labels[e].clone()));
                e += step;
            }
            chosen
        }
    };
    // Keep labels inside the chart and apart from each other; the last one always shows.
    let place = |x: f64, text: &str| {
        let half = label_width(text) / 2.0;
        let tx = x.clamp(half + 2.0, WIDTH - half - 2.0);
        (tx - half, tx, tx + half)
    };
    let last = positions.last().map(|(x, t)| place(*x, t));
    let mut right_end = f64::NEG_INFINITY;
    for (k, (x, text)) in positions.iter().enumerate() {
        let (from, tx, to) = place(*x, text);
        let is_last = k + 1 == positions.len();
        let crowds_last = last.is_some_and(|(last_from, _, _)| !is_last && to + 6.0 > last_from);
        if from < right_end + 6.0 || crowds_last {
            continue;
        }
        right_end = to;
        let _ = write!(
            out,
            r#"<line x1="{x}" y1="{y1}" x2="{x}" y2="{y2}" stroke="{AXIS}"/><text x="{tx}" y="{ty}" text-anchor="middle">{t}</text>"#,
            x = c(*x),
            tx = c(tx),
            y1 = c(base),
            y2 = c(base + 3.0),
            ty = c(base + 14.0),
            t = escape(text)
        );
    }
    if !x_title.is_empty() {
        let _ = write!(
            out,
            r#"<text x="{x}" y="{y}" text-anchor="middle" fill="{AXIS}">{t}</text>"#,
            x = c(left + plot_width / 2.0),
            y = c(base + 30.0),
            t = escape(x_title)
        );
    }
    out.push_str("</svg>");
    out
}

fn mix(a: (f64, f64, f64), b: (f64, f64, f64), t: f64) -> String {
    let t = finite(t).clamp(0.0, 1.0);
    let channel = |x: f64, y: f64| (x + (y - x) * t).round().clamp(0.0, 255.0) as u8;
    format!("#{:02x}{:02x}{:02x}", channel(a.0, b.0), channel(a.1, b.1), channel(a.2, b.2))
}

/// The fill colour of a value on a scale, and whether text on it should be white.
fn colour(value: f64, scale: Scale) -> (String, bool) {
    const BLUE: (f64, f64, f64) = (33.0, 102.0, 172.0);
    const WHITE: (f64, f64, f64) = (247.0, 247.0, 247.0);
    const RED: (f64, f64, f64) = (178.0, 24.0, 43.0);
    const PALE: (f64, f64, f64) = (250.0, 249.0, 252.0);
    const PURPLE: (f64, f64, f64) = (63.0, 0.0, 125.0);
    match scale {
        Scale::Diverging => {
            let v = value.clamp(-1.0, 1.0);
            let fill = if v < 0.0 { mix(WHITE, BLUE, -v) } else { mix(WHITE, RED, v) };
            (fill, v.abs() > 0.6)
        }
        Scale::Sequential => {
            let v = value.clamp(0.0, 1.0);
            (mix(PALE, PURPLE, v), v > 0.5)
        }
    }
}

/// A square heatmap of `cells[row][column]` (None = no value, drawn grey) with the labels on the
/// left and (turned by 45°) on top, and a colour legend below.
pub(crate) fn heatmap(labels: &[String], cells: &[Vec<Option<f64>>], scale: Scale, title: &str) -> String {
    let n = labels.len();
    if n == 0 {
        return empty("no columns to show");
    }
    // Large matrices get cells of at least 12 pixels; the report then shows one map per row.
    let cell = (340.0 / n as f64).floor().clamp(12.0, 34.0);
    let font = (cell * 0.8).clamp(7.0, 11.0);
    let shown: Vec<String> = labels.iter().map(|l| truncate(l, 14)).collect();
    let text = shown.iter().map(|l| chars(l)).max().unwrap_or(0) as f64 * font * CHAR_WIDTH;
    let left = text + 10.0;
    // Column labels are slanted by 45° where the cells leave room between the turned lines, and
    // stand upright otherwise.
    let slanted = cell * 0.707 >= font + 2.0;
    let (top, spill) = if slanted { (text * 0.707 + 10.0, text * 0.707 - cell / 2.0) } else { (text + 10.0, 0.0) };
    let matrix = cell * n as f64;
    let legend_width = 160.0;
    let width = (left + matrix + spill + 6.0).max(left + matrix + 6.0).max(left + legend_width + 16.0);
    let height = top + matrix + 44.0;
    let mut out = String::new();
    open(&mut out, width, height, title);
    let _ = write!(out, "<title>{}</title>", escape(title));
    for (i, label) in shown.iter().enumerate() {
        let y = top + cell * (i as f64 + 0.5) + font * 0.35;
        let _ = write!(
            out,
            r#"<text x="{x}" y="{y}" text-anchor="end" font-size="{f}"><title>{full}</title>{t}</text>"#,
            x = c(left - 4.0),
            y = c(y),
            f = c(font),
            full = escape(&labels[i]),
            t = escape(label)
        );
        let (x, y, angle) = if slanted {
            (left + cell * (i as f64 + 0.5) + font * 0.3, top - 4.0, 45)
        } else {
            (left + cell * (i as f64 + 0.5) + font * 0.35, top - 4.0, 90)
        };
        let _ = write!(
            out,
            r#"<text x="{x}" y="{y}" font-size="{f}" transform="rotate(-{angle} {x} {y})"><title>{full}</title>{t}</text>"#,
            x = c(x),
            y = c(y),
            f = c(font),
            full = escape(&labels[i]),
            t = escape(label)
        );
    }
    let write_values = cell >= 26.0;
    for i in 0..n {
        for j in 0..n {
            let value = cells.get(i).and_then(|row| row.get(j)).copied().flatten().filter(|v| v.is_finite());
            let (x, y) = (left + cell * j as f64, top + cell * i as f64);
            let (fill, dark) = match value {
                Some(v) => colour(v, scale),
                None => (NO_VALUE.to_string(), false),
            };
            let text = value.map_or("n/a".to_string(), |v| format!("{v:.2}"));
            let _ = write!(
                out,
                r#"<rect x="{x}" y="{y}" width="{w}" height="{w}" fill="{fill}" stroke="white" stroke-width="0.5"><title>{t}</title></rect>"#,
                x = c(x),
                y = c(y),
                w = c(cell),
                t = escape(&format!("{} × {}: {text}", labels[i], labels[j]))
            );
            if write_values && value.is_some() {
                let _ = write!(
                    out,
                    r#"<text x="{x}" y="{y}" text-anchor="middle" font-size="8" fill="{ink}" pointer-events="none">{text}</text>"#,
                    x = c(x + cell / 2.0),
                    y = c(y + cell / 2.0 + 3.0),
                    ink = if dark { "#ffffff" } else { INK }
                );
            }
        }
    }
    // The legend: 20 steps from the scale's low end to its high end.
    let (low, high, ticks): (f64, f64, [(&str, f64); 3]) = match scale {
        Scale::Diverging => (-1.0, 1.0, [("−1", 0.0), ("0", 0.5), ("1", 1.0)]),
        Scale::Sequential => (0.0, 1.0, [("0", 0.0), ("0.5", 0.5), ("1", 1.0)]),
    };
    let y = top + matrix + 12.0;
    let step = legend_width / 20.0;
    for k in 0..20 {
        let v = low + (high - low) * (k as f64 + 0.5) / 20.0;
        let _ = write!(
            out,
            r#"<rect x="{x}" y="{y}" width="{w}" height="10" fill="{fill}"/>"#,
            x = c(left + step * k as f64),
            y = c(y),
            w = c(step + 0.3),
            fill = colour(v, scale).0
        );
    }
    for (label, at) in ticks {
        let x = left + legend_width * at;
        let anchor = if at == 0.0 {
            "start"
        } else if at == 1.0 {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            out,
            r#"<text x="{x}" y="{y}" text-anchor="{anchor}" fill="{AXIS}">{label}</text>"#,
            x = c(x),
            y = c(y + 22.0)
        );
    }
    let _ = write!(
        out,
        r#"<rect x="{x}" y="{y}" width="10" height="10" fill="{NO_VALUE}"/><text x="{tx}" y="{ty}" fill="{AXIS}">n/a</text>"#,
        x = c(left + legend_width + 8.0),
        y = c(y),
        tx = c(left + legend_width + 21.0),
        ty = c(y + 9.0)
    );
    out.push_str("</svg>");
    out
}

/// The distribution of distances to the closest training row: synthetic rows next to holdout rows
/// (when there is a holdout), over the same bins.
pub(crate) fn dcr_histogram(edges: &[f64], synthetic: &[f64], holdout: &[f64]) -> String {
    let mut series = vec![Series { name: "synthetic", color: SYNTHETIC, values: synthetic }];
    if !holdout.is_empty() {
        series.push(Series { name: "holdout", color: HOLDOUT, values: holdout });
    }
    histogram(edges, Ticks::Round(&crate::data::format_number), &series, "distance to the closest training row (Gower)")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that every tag is closed in order and that no raw `<`/`&` sits in text.
    fn well_formed(svg: &str) -> Result<(), String> {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let text = &rest[..start];
            check_text(text)?;
            let end = rest[start..].find('>').ok_or("unclosed tag")? + start;
            let tag = &rest[start + 1..end];
            if tag.contains('<') {
                return Err(format!("`<` inside tag {tag}"));
            }
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(open) if open == name => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
            } else if !tag.ends_with('/') {
                let name = tag.split_whitespace().next().unwrap_or_default().to_string();
                stack.push(name);
            }
            check_attributes(tag)?;
            rest = &rest[end + 1..];
        }
        check_text(rest)?;
        if stack.is_empty() { Ok(()) } else { Err(format!("unclosed: {stack:?}")) }
    }

    fn check_text(text: &str) -> Result<(), String> {
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            if !["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"].iter().any(|e| entity.starts_with(e)) {
                return Err(format!("bare & in {text}"));
            }
        }
        if text.contains('>') {
            return Err(format!("raw > in text {text}"));
        }
        Ok(())
    }

    fn check_attributes(tag: &str) -> Result<(), String> {
        if !tag.matches('"').count().is_multiple_of(2) {
            return Err(format!("unbalanced quotes in {tag}"));
        }
        Ok(())
    }

    fn strings(labels: &[&str]) -> Vec<String> {
        labels.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(truncate("abcdefghijklmnopqrstuvwxyz", 18), "abcdefghijk…uvwxyz");
        assert_eq!(truncate("abcdefghijklmnopqrstuvwxyz", 18).chars().count(), 18);
        assert_eq!(truncate("short", 18), "short");
    }

    #[test]
    fn grouped_bars_are_well_formed_and_escaped() {
        let labels = strings(&["<script>alert(1)</script>", "a & b", "\"quoted\"", "plain"]);
        let real = [0.4, 0.3, 0.2, 0.1];
        let synthetic = [0.35, f64::NAN, 0.25, 0.1];
        let svg = grouped_bars(
            &labels,
            &[
                Series { name: "real", color: REAL, values: &real },
                Series { name: "synthetic", color: SYNTHETIC, values: &synthetic },
            ],
        );
        well_formed(&svg).expect("well-formed SVG");
        assert!(!svg.contains("<script"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("a &amp; b"));
        assert!(svg.contains("&quot;quoted&quot;"));
        assert!(!svg.contains("NaN"));
        assert_eq!(svg.matches("<rect").count(), 2 + 8);
    }

    #[test]
    fn long_labels_are_turned_and_cut() {
        let labels: Vec<String> = (0..12).map(|i| format!("a rather long category label number {i}")).collect();
        let values = vec![1.0 / 12.0; 12];
        let svg = grouped_bars(&labels, &[Series { name: "real", color: REAL, values: &values }]);
        well_formed(&svg).expect("well-formed SVG");
        assert!(svg.contains("rotate(-45"));
        assert!(svg.contains("a rather lo…ber 11"));
        assert!(svg.contains("<title>a rather long category label number 11: real 8.3%</title>"));
        let labels: Vec<String> = (0..21).map(|i| format!("a rather long category label number {i}")).collect();
        let values = vec![1.0 / 21.0; 21];
        let svg = grouped_bars(&labels, &[Series { name: "real", color: REAL, values: &values }]);
        well_formed(&svg).expect("well-formed SVG");
        assert!(svg.contains("rotate(-90"), "21 groups are too narrow for slanted labels: {svg}");
    }

    #[test]
    fn histograms_handle_nan_and_empty_input() {
        let edges = [0.0, 1.0, 2.0, 3.0];
        let label = |v: f64| format!("{v}");
        let svg = histogram(
            &edges,
            Ticks::Round(&label),
            &[Series { name: "real", color: REAL, values: &[0.5, f64::NAN, f64::INFINITY] }],
            "x < 3 & more",
        );
        well_formed(&svg).expect("well-formed SVG");
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        assert!(svg.contains("x &lt; 3 &amp; more"));
        let empty = histogram(&[], Ticks::Edges(&label), &[Series { name: "real", color: REAL, values: &[] }], "");
        well_formed(&empty).expect("well-formed SVG");
        assert!(empty.contains("no values"));
        let zero = histogram(
            &edges,
            Ticks::Round(&label),
            &[Series { name: "real", color: REAL, values: &[0.0, 0.0, 0.0] }],
            "",
        );
        assert!(zero.contains("no values"));
        let broken = [0.0, f64::NAN, 2.0, 3.0];
        let svg =
            histogram(&broken, Ticks::Edges(&label), &[Series { name: "real", color: REAL, values: &[0.5; 3] }], "");
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn axes_use_round_numbers() {
        assert_eq!(share_ticks(0.14), (0.05, 3));
        assert_eq!(share_ticks(0.9), (0.2, 5));
        assert_eq!(share_ticks(1.0), (0.2, 5));
        assert_eq!(share_ticks(0.003), (0.001, 3));
        assert_eq!(percent_decimals(0.025), 1);
        assert_eq!(percent_decimals(0.0025), 2);
        assert_eq!(percent_decimals(0.2), 0);
        assert_eq!(round_ticks(-4.0, 63.0, 300.0, 40.0), vec![0.0, 20.0, 40.0, 60.0]);
        assert_eq!(round_ticks(0.0, 1.0, 300.0, 40.0), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert!(round_ticks(1.0, 1.0, 300.0, 40.0).is_empty());
        let edges: Vec<f64> = (0..=20).map(|i| 50.05 + 936.0 * f64::from(i)).collect();
        let svg = histogram(
            &edges,
            Ticks::Round(&crate::data::format_number),
            &[Series { name: "real", color: REAL, values: &[0.05; 20] }],
            "",
        );
        assert!(svg.contains(">5000<") && svg.contains(">15000<"), "{svg}");
    }

    #[test]
    fn heatmaps_colour_values_and_grey_out_missing_ones() {
        let labels = strings(&["a<b", "c", "d"]);
        let cells = vec![
            vec![Some(1.0), Some(-0.5), None],
            vec![Some(-0.5), Some(1.0), Some(f64::NAN)],
            vec![None, Some(f64::NAN), Some(1.0)],
        ];
        let svg = heatmap(&labels, &cells, Scale::Diverging, "real & \"synthetic\"");
        well_formed(&svg).expect("well-formed SVG");
        assert!(!svg.contains("NaN"));
        assert!(svg.contains("a&lt;b"));
        assert_eq!(svg.matches(NO_VALUE).count(), 4 + 1);
        assert!(svg.contains(&colour(1.0, Scale::Diverging).0));
        let sequential = heatmap(&labels, &cells, Scale::Sequential, "difference");
        well_formed(&sequential).expect("well-formed SVG");
        assert!(heatmap(&[], &[], Scale::Sequential, "x").contains("no columns"));
    }

    #[test]
    fn colours_span_the_scales() {
        assert_eq!(colour(0.0, Scale::Diverging).0, "#f7f7f7");
        assert_eq!(colour(1.0, Scale::Diverging).0, "#b2182b");
        assert_eq!(colour(-1.0, Scale::Diverging).0, "#2166ac");
        assert_eq!(colour(f64::NAN, Scale::Sequential).0, "#faf9fc");
        assert_eq!(colour(5.0, Scale::Sequential).0, "#3f007d");
    }

    #[test]
    fn dcr_histogram_draws_both_roles() {
        let edges = [0.0, 0.1, 0.2, 0.3];
        let svg = dcr_histogram(&edges, &[0.5, 0.3, 0.2], &[0.4, 0.4, 0.2]);
        well_formed(&svg).expect("well-formed SVG");
        assert!(svg.contains("holdout") && svg.contains("synthetic"));
        let alone = dcr_histogram(&edges[..3], &[0.5, 0.5], &[]);
        well_formed(&alone).expect("well-formed SVG");
        assert!(!alone.contains("holdout"));
        let broken = dcr_histogram(&[0.0, f64::NAN], &[1.0], &[1.0]);
        assert!(!broken.contains("NaN"));
    }

    #[test]
    fn output_is_deterministic() {
        let labels = strings(&["x", "y"]);
        let make =
            || grouped_bars(&labels, &[Series { name: "real", color: REAL, values: &[0.123456789, 0.876543211] }]);
        assert_eq!(make(), make());
        assert_eq!(c(-0.01), "0.0");
    }
}
