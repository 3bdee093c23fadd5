//! OML pipeline + registry → validated plan: every step's component, mode, driver, config and
//! inputs checked, steps in dependency order (ties broken by file order).

use crate::diagnostics::{did_you_mean, Diagnostic, Invalid};
use crate::oml::{Mode, Pipeline, Step};
use crate::registry::{check_config, Registry};
use std::collections::{BTreeSet, HashMap};

/// A validated pipeline.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The pipeline it came from.
    pub pipeline: Pipeline,
    /// Steps in topological order.
    pub steps: Vec<Step>,
    /// Warnings (errors would have failed planning).
    pub warnings: Vec<Diagnostic>,
}

/// Check every step against the registry and order the DAG.
pub fn plan(pipeline: Pipeline, registry: &Registry) -> Result<Plan, Invalid> {
    let file = pipeline.file.display().to_string();
    let mut findings = Vec::new();
    let producers: HashMap<&str, bool> =
        pipeline.steps.iter().map(|s| (s.id.as_str(), s.mode != Mode::Write)).collect();
    for step in &pipeline.steps {
        findings.extend(check_step(step, registry, &producers));
    }
    let findings: Vec<Diagnostic> = findings
        .into_iter()
        .map(|mut d| {
            if let Some((l, c)) = pipeline.document.position(&d.location) {
                d = d.at(l, c);
            }
            d.with_file(&file)
        })
        .collect();
    let mut all = pipeline.findings.clone();
    all.extend(findings);
    let warnings = Invalid::check(all)?;
    let steps = topological(&pipeline).into_iter().map(|i| pipeline.steps[i].clone()).collect();
    Ok(Plan { pipeline, steps, warnings })
}

/// Component-level checks for one step (shared with manifests loaded from disk).
pub fn check_step(step: &Step, registry: &Registry, producers: &HashMap<&str, bool>) -> Vec<Diagnostic> {
    let i = step.index;
    let mut out = Vec::new();
    let Some(spec) = registry.get(&step.component) else {
        if !step.component.is_empty() {
            let mut d = Diagnostic::error(
                "unknown_component",
                format!("steps[{i}].component"),
                format!("unknown component `{}`", step.component),
            )
            .with_step(&step.id);
            d = match did_you_mean(&step.component, registry.names()) {
                Some(s) => d.with_hint(format!("did you mean `{s}`? See `osiris components list`")),
                None => d.with_hint(format!("known components: {}", registry.names().collect::<Vec<_>>().join(", "))),
            };
            out.push(d);
        }
        return out;
    };
    if !step.mode_error && !spec.modes.iter().any(|m| m == step.mode.canonical()) {
        let allowed: Vec<&str> =
            spec.modes.iter().map(String::as_str).filter(|m| matches!(*m, "extract" | "transform" | "write")).collect();
        let oml: Vec<&str> = allowed.iter().map(|m| if *m == "extract" { "read" } else { m }).collect();
        out.push(
            Diagnostic::error(
                "incompatible_mode",
                format!("steps[{i}].mode"),
                format!("component `{}` does not support mode `{}`", spec.name, step.mode.canonical()),
            )
            .with_step(&step.id)
            .with_hint(format!("use mode: {}", oml.join(" or "))),
        );
    }
    if !registry.is_runnable(&spec.name) {
        out.push(
            Diagnostic::error(
                "not_implemented",
                format!("steps[{i}].component"),
                format!("component `{}` is specified but its driver is not implemented yet in this build", spec.name),
            )
            .with_step(&step.id)
            .with_hint("runnable components: see `osiris components list`"),
        );
    }
    out.extend(check_config(spec, &step.id, i, &step.config));
    let inputs: Vec<&String> =
        step.needs.iter().filter(|n| producers.get(n.as_str()).copied().unwrap_or(false)).collect();
    // A `needs` entry naming no step is reported as such; counting inputs then would only add
    // a consequence of the same mistake.
    let names_unknown_step = step.needs.iter().any(|n| !producers.contains_key(n.as_str()));
    match step.mode {
        Mode::Write if inputs.len() != 1 && !names_unknown_step => out.push(
            Diagnostic::error(
                "invalid_inputs",
                format!("steps[{i}].needs"),
                format!("a writer takes exactly one input relation, got {}", inputs.len()),
            )
            .with_step(&step.id)
            .with_hint("list the one upstream step to write in `needs`"),
        ),
        _ => {}
    }
    out
}

/// Indices of steps in dependency order; among ready steps the earliest in the file goes first.
pub fn topological(pipeline: &Pipeline) -> Vec<usize> {
    let index_of: HashMap<&str, usize> = pipeline.steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    let mut pending: Vec<usize> =
        pipeline.steps.iter().map(|s| s.needs.iter().filter(|n| index_of.contains_key(n.as_str())).count()).collect();
    let mut ready: BTreeSet<usize> = (0..pipeline.steps.len()).filter(|i| pending[*i] == 0).collect();
    let mut order = Vec::new();
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for (j, s) in pipeline.steps.iter().enumerate() {
            let n = s.needs.iter().filter(|n| **n == pipeline.steps[i].id).count();
            if n > 0 {
                pending[j] -= n;
                if pending[j] == 0 {
                    ready.insert(j);
                }
            }
        }
    }
    order
}
