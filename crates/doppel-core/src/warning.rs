//! Non-fatal findings that libraries return instead of printing.

use serde::{Deserialize, Serialize};

/// A non-fatal issue found while reading, fitting or sampling (a rare category dropped, a column
/// generated without a model, ...). Libraries collect these; the CLI prints them as `warning: ...`
/// and writes them into the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The column concerned, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// What happened, in one sentence.
    pub message: String,
}

impl Warning {
    /// A warning about one column.
    pub fn column(column: impl Into<String>, message: impl Into<String>) -> Self {
        Warning { column: Some(column.into()), message: message.into() }
    }

    /// A warning about the whole table.
    pub fn table(message: impl Into<String>) -> Self {
        Warning { column: None, message: message.into() }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(column) => write!(f, "column `{column}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}
