//! Small text helpers shared by doppel's reports (the evaluation and chat HTML pages).

/// Escapes text for XML/HTML content and attribute values; control characters (not allowed in
/// XML 1.0) become U+FFFD.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A number with fixed decimals, or `n/a` when it is missing or not finite; a rounded zero has
/// no sign ("-0.000" reads oddly).
pub fn fixed_or_na(value: Option<f64>, decimals: usize) -> String {
    match value.filter(|v| v.is_finite()) {
        Some(v) => {
            let text = format!("{v:.decimals$}");
            if text.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
                text.trim_start_matches('-').to_string()
            } else {
                text
            }
        }
        None => "n/a".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_formats() {
        assert_eq!(escape_xml("<a href=\"x\">&'</a>\u{1}"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;\u{fffd}");
        assert_eq!(fixed_or_na(Some(-0.0001), 3), "0.000");
        assert_eq!(fixed_or_na(Some(1.23456), 2), "1.23");
        assert_eq!(fixed_or_na(None, 2), "n/a");
        assert_eq!(fixed_or_na(Some(f64::NAN), 2), "n/a");
    }
}
