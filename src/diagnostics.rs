//! Validation findings: what is wrong, where (file, line:column, step, field path) and how to fix it.
//!
//! Every check collects all its findings before failing, so an author (often an AI agent) gets the
//! whole list in one round trip. Errors make the input invalid (exit code 2); warnings do not.

use serde::Serialize;
use std::fmt;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The input cannot be compiled or run.
    Error,
    /// Worth fixing, but the input still works.
    Warning,
}

/// One finding about a pipeline, a component config or a connection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable machine-readable type, e.g. `unknown_config_key` (the original's names are kept).
    #[serde(rename = "type")]
    pub kind: String,
    /// Human-readable sentence.
    pub message: String,
    /// File the finding is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line in `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// 1-based column in `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// Step id the finding belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Field path inside the document, e.g. `steps[2].config.primary_key`.
    pub location: String,
    /// What to do about it, when we know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A new error finding at `location`.
    pub fn error(kind: &str, location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            kind: kind.to_string(),
            message: message.into(),
            file: None,
            line: None,
            column: None,
            step: None,
            location: location.into(),
            hint: None,
        }
    }

    /// A new warning finding at `location`.
    pub fn warning(kind: &str, location: impl Into<String>, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(kind, location, message) }
    }

    /// Attach the step id.
    pub fn with_step(mut self, step: impl Into<String>) -> Self {
        self.step = Some(step.into());
        self
    }

    /// Attach a remedy.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Attach the file name.
    pub fn with_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// Attach a 1-based line and column.
    pub fn at(mut self, line: u64, column: u64) -> Self {
        if line > 0 {
            self.line = Some(line);
            self.column = Some(column);
        }
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}")?;
            if let (Some(l), Some(c)) = (self.line, self.column) {
                write!(f, ":{l}:{c}")?;
            }
            write!(f, ": ")?;
        }
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}[{}]", self.kind)?;
        if let Some(step) = &self.step {
            write!(f, " step `{step}`")?;
        }
        write!(f, " at {}: {}", self.location, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Invalid input: one or more error findings (plus any warnings). Maps to exit code 2.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Invalid {
    /// All findings, errors first in document order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Invalid {
    /// Wrap a single finding.
    pub fn one(d: Diagnostic) -> Self {
        Self { diagnostics: vec![d] }
    }

    /// Fail when `diagnostics` holds at least one error, else hand back the warnings. Either
    /// way the findings are put in reading order: errors first, then by file, line and column
    /// (findings without a position keep their place before the positioned ones).
    pub fn check(mut diagnostics: Vec<Diagnostic>) -> Result<Vec<Diagnostic>, Invalid> {
        diagnostics.sort_by(|a, b| {
            (!a.is_error(), &a.file, a.line, a.column).cmp(&(!b.is_error(), &b.file, b.line, b.column))
        });
        if diagnostics.iter().any(Diagnostic::is_error) {
            Err(Invalid { diagnostics })
        } else {
            Ok(diagnostics)
        }
    }

    /// The error findings only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors().count();
        writeln!(f, "{n} error{} found:", if n == 1 { "" } else { "s" })?;
        for d in &self.diagnostics {
            writeln!(f, "  {d}")?;
        }
        Ok(())
    }
}

/// The closest candidate to `word` by edit distance, for "did you mean" hints.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_come_errors_first_in_reading_order() {
        let at = |kind: &str, line: u64| Diagnostic::error(kind, "x", "m").with_file("p.yaml").at(line, 1);
        let warning = Diagnostic::warning("w", "x", "m").with_file("p.yaml").at(1, 1);
        let invalid = Invalid::check(vec![at("late", 16), warning, at("early", 7)]).unwrap_err();
        let kinds: Vec<&str> = invalid.diagnostics.iter().map(|d| d.kind.as_str()).collect();
        assert_eq!(kinds, ["early", "late", "w"]);
    }

    #[test]
    fn suggests_close_field_names() {
        assert_eq!(did_you_mean("write_mod", ["write_mode", "table", "schema"]), Some("write_mode"));
        assert_eq!(did_you_mean("zzz", ["write_mode", "table"]), None);
    }

    #[test]
    fn display_names_file_position_step_and_field() {
        let d = Diagnostic::error("unknown_config_key", "steps[0].config.write_mod", "unknown field")
            .with_file("p.yaml")
            .at(7, 5)
            .with_step("load")
            .with_hint("did you mean `write_mode`?");
        assert_eq!(
            d.to_string(),
            "p.yaml:7:5: error[unknown_config_key] step `load` at steps[0].config.write_mod: unknown field (hint: did you mean `write_mode`?)"
        );
    }
}
