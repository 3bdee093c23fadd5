//! OML v0.1.0: the pipeline format.
//!
//! [`load`] reads a pipeline file into a [`Pipeline`]: YAML with positions ([`yaml`]), parameters
//! substituted ([`params`]) and the OML rules checked ([`rules`]): required and forbidden keys, step
//! ids, modes, `needs` and cycles. Component-specific checks (config schema, connections) belong to
//! the [`crate::registry`] and are combined with these by [`crate::compiler::plan`].

pub mod params;
pub mod rules;
pub mod yaml;

use crate::diagnostics::{Diagnostic, Invalid};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

pub use params::ParamInputs;
pub use yaml::Document;

/// The only OML version this build reads.
pub const OML_VERSION: &str = "0.1.0";

/// A step's mode as written in OML, mapped to the canonical mode a component spec lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `read` (or `extract`): produce a relation from a source.
    Extract,
    /// `transform`: produce a relation from inputs.
    Transform,
    /// `write`: deliver the input to a target.
    Write,
}

impl Mode {
    /// Parse the OML spelling (`read`, `extract`, `transform`, `write`).
    pub fn from_oml(s: &str) -> Option<Self> {
        match s {
            "read" | "extract" => Some(Self::Extract),
            "transform" => Some(Self::Transform),
            "write" => Some(Self::Write),
            _ => None,
        }
    }

    /// The canonical name used by component specs and manifests.
    pub fn canonical(self) -> &'static str {
        match self {
            Self::Extract => "extract",
            Self::Transform => "transform",
            Self::Write => "write",
        }
    }
}

/// One step after OML validation.
#[derive(Debug, Clone)]
pub struct Step {
    /// Unique id; also the name of the step's relation in the exchange database.
    pub id: String,
    /// Component name, e.g. `filesystem.csv_extractor`.
    pub component: String,
    /// Canonical mode.
    pub mode: Mode,
    /// Upstream step ids (explicit `needs`, or the previous step when the key is absent).
    pub needs: Vec<String>,
    /// Config with parameters substituted.
    pub config: Map<String, Value>,
    /// Position in the file (0-based), used to break ties deterministically.
    pub index: usize,
    /// The `mode` was missing or invalid (already reported); `mode` is then a placeholder.
    pub mode_error: bool,
}

/// A pipeline that passed the OML rules.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// File the pipeline came from.
    pub file: PathBuf,
    /// `name`.
    pub name: String,
    /// `oml_version`.
    pub oml_version: String,
    /// Steps in file order.
    pub steps: Vec<Step>,
    /// `metadata`, verbatim.
    pub metadata: Option<Value>,
    /// Effective parameter values.
    pub params: Map<String, Value>,
    /// Active profile, when one was chosen.
    pub profile: Option<String>,
    /// The whole document after parameter substitution (fingerprinted by the compiler).
    pub resolved: Value,
    /// The parsed document, for positions of findings.
    pub document: Document,
    /// Findings of the OML rules: warnings, and errors that still let component checks run
    /// (the compiler fails on them after adding its own, so an author sees everything at once).
    pub findings: Vec<Diagnostic>,
}

/// Read, parse and check a pipeline file.
pub fn load(path: &Path, inputs: &ParamInputs) -> Result<Pipeline, Invalid> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Invalid::one(
            Diagnostic::error("file_not_readable", "root", format!("cannot read pipeline: {e}")).with_file(&file),
        )
    })?;
    parse(&text, path, inputs)
}

/// Parse and check pipeline text; `path` is used for messages and relative paths.
pub fn parse(text: &str, path: &Path, inputs: &ParamInputs) -> Result<Pipeline, Invalid> {
    let file = path.display().to_string();
    let document = Document::parse(text).map_err(|e| {
        let d = Diagnostic::error("yaml_syntax", "root", format!("invalid YAML: {}", e.message)).with_file(&file);
        Invalid::one(match (e.line, e.column) {
            (Some(l), Some(c)) => d.at(l, c),
            _ => d,
        })
    })?;
    let locate = |mut d: Diagnostic| {
        if let Some((l, c)) = document.position(&d.location) {
            d = d.at(l, c);
        }
        if d.step.is_none() {
            d.step = step_of_location(&document.value, &d.location);
        }
        d.with_file(&file)
    };
    let findings = rules::check_top_level(&document.value);
    if findings.iter().any(Diagnostic::is_error) {
        return Err(Invalid { diagnostics: findings.into_iter().map(locate).collect() });
    }
    let mut findings = findings;
    let (resolved, params, profile, param_findings) = params::resolve(&document.value, inputs);
    findings.extend(param_findings);
    let (steps, step_findings) = rules::check_steps(&resolved);
    findings.extend(step_findings);
    let findings: Vec<Diagnostic> = findings.into_iter().map(locate).collect();
    let str_of = |k: &str| resolved.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    Ok(Pipeline {
        file: path.to_path_buf(),
        name: str_of("name"),
        oml_version: str_of("oml_version"),
        steps,
        metadata: resolved.get("metadata").cloned(),
        params,
        profile,
        resolved,
        document,
        findings,
    })
}

/// The id of the step a location like `steps[3].config.path` points into.
fn step_of_location(doc: &Value, location: &str) -> Option<String> {
    let rest = location.strip_prefix("steps[")?;
    let index: usize = rest[..rest.find(']')?].parse().ok()?;
    doc.get("steps")?.get(index)?.get("id")?.as_str().map(str::to_string)
}
