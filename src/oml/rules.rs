//! The OML rules that need no component knowledge: top-level keys, step keys, ids, modes, `needs`
//! and cycles. Error `type` names follow the original validator so agents can keep parsing them.

use super::{Mode, Step, OML_VERSION};
use crate::diagnostics::{did_you_mean, Diagnostic};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

const KNOWN_TOP: [&str; 8] =
    ["oml_version", "name", "steps", "description", "metadata", "schedule", "params", "profiles"];
const KNOWN_STEP: [&str; 6] = ["id", "component", "mode", "needs", "config", "description"];

/// Legacy or foreign keys that must not silently pass, with the replacement to suggest.
fn forbidden_top(key: &str) -> Option<&'static str> {
    match key {
        "version" => Some("use `oml_version: \"0.1.0\"`"),
        "connectors" => Some(
            "declare connections in osiris_connections.yaml and refer to them with `connection: \"@family.alias\"`",
        ),
        "tasks" => Some("use `steps`"),
        "outputs" => Some("write outputs with a writer step (e.g. filesystem.csv_writer)"),
        _ => None,
    }
}

fn legacy_step(key: &str) -> Option<&'static str> {
    match key {
        "uses" => Some("use `component`"),
        "with" => Some("use `config`"),
        "depends_on" | "depends" | "after" => Some("use `needs: [step-id, ...]`"),
        "type" => Some("use `component` and `mode`"),
        _ => None,
    }
}

/// Step ids become relation names and file names (`cfg/<id>.json`), so they are restricted to
/// letters, digits, `_`, `-` and `.`, at most 63 characters, not starting with `.` or `-`.
pub fn valid_step_id(id: &str) -> bool {
    let re = regex::Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,62}$").expect("static regex");
    re.is_match(id) && !id.contains("..")
}

/// Check the document shape and the top-level keys.
pub fn check_top_level(doc: &Value) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Some(top) = doc.as_object() else {
        out.push(Diagnostic::error(
            "invalid_type",
            "root",
            "a pipeline must be a YAML mapping with oml_version, name and steps",
        ));
        return out;
    };
    for key in ["oml_version", "name", "steps"] {
        if !top.contains_key(key) {
            out.push(Diagnostic::error("missing_required_key", "root", format!("missing required key `{key}`")));
        }
    }
    for key in top.keys() {
        if let Some(hint) = forbidden_top(key) {
            out.push(
                Diagnostic::error("forbidden_key", key.clone(), format!("`{key}` is not an OML v0.1.0 key"))
                    .with_hint(hint),
            );
        } else if !KNOWN_TOP.contains(&key.as_str()) {
            let mut d =
                Diagnostic::warning("unknown_key", key.clone(), format!("unknown top-level key `{key}` is ignored"));
            if let Some(s) = did_you_mean(key, KNOWN_TOP) {
                d = d.with_hint(format!("did you mean `{s}`?"));
            }
            out.push(d);
        }
    }
    match top.get("oml_version") {
        Some(Value::String(v)) if v == OML_VERSION => {}
        Some(Value::String(v)) => out.push(
            Diagnostic::error("unsupported_version", "oml_version", format!("OML version `{v}` is not supported"))
                .with_hint(format!("use oml_version: \"{OML_VERSION}\"")),
        ),
        Some(_) => out.push(
            Diagnostic::error("invalid_version_type", "oml_version", "oml_version must be a string")
                .with_hint(format!("quote it: oml_version: \"{OML_VERSION}\"")),
        ),
        None => {}
    }
    match top.get("name") {
        Some(Value::String(n)) if n.trim().is_empty() => {
            out.push(Diagnostic::error("empty_name", "name", "name must not be blank"))
        }
        Some(Value::String(n)) => {
            let re = regex::Regex::new(r"^[a-z0-9][a-z0-9-]*$").expect("static regex");
            if !re.is_match(n) {
                out.push(Diagnostic::warning(
                    "naming_convention",
                    "name",
                    format!("name `{n}` is not lower-case-kebab"),
                ));
            }
        }
        Some(_) => out.push(Diagnostic::error("invalid_name_type", "name", "name must be a string")),
        None => {}
    }
    match top.get("steps") {
        Some(Value::Array(a)) if a.is_empty() => {
            out.push(Diagnostic::error("empty_steps", "steps", "steps must not be empty"))
        }
        Some(Value::Array(_)) | None => {}
        Some(_) => out.push(Diagnostic::error("invalid_steps_type", "steps", "steps must be a list")),
    }
    out
}

/// Check every step and the DAG; return the typed steps alongside the findings.
pub fn check_steps(doc: &Value) -> (Vec<Step>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut steps = Vec::new();
    let raw_steps = doc.get("steps").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in raw_steps.iter().enumerate() {
        let at = |f: &str| if f.is_empty() { format!("steps[{i}]") } else { format!("steps[{i}].{f}") };
        let Some(obj) = raw.as_object() else {
            out.push(Diagnostic::error(
                "invalid_step_type",
                at(""),
                "a step must be a mapping with id, component and mode",
            ));
            continue;
        };
        let id = match obj.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                out.push(Diagnostic::error("invalid_id_type", at("id"), "step id must be a string"));
                continue;
            }
            None => {
                out.push(Diagnostic::error("missing_step_field", at(""), "step is missing `id`"));
                continue;
            }
        };
        let mut step_findings = Vec::new();
        let mut push = |d: Diagnostic| step_findings.push(d.with_step(&id));
        if !valid_step_id(&id) {
            push(Diagnostic::error("invalid_id", at("id"), format!("step id `{id}` may only contain letters, digits, `_`, `-` and `.` (max 63, not starting with `.`/`-`)")));
        }
        if let Some(first) = seen.insert(id.clone(), i) {
            push(Diagnostic::error(
                "duplicate_id",
                at("id"),
                format!("step id `{id}` is already used by steps[{first}]"),
            ));
        }
        for key in obj.keys() {
            if let Some(hint) = legacy_step(key) {
                push(
                    Diagnostic::error("legacy_key", at(key), format!("`{key}` is not an OML v0.1.0 step key"))
                        .with_hint(hint),
                );
            } else if !KNOWN_STEP.contains(&key.as_str()) {
                let mut d =
                    Diagnostic::warning("unknown_step_key", at(key), format!("unknown step key `{key}` is ignored"));
                if let Some(s) = did_you_mean(key, KNOWN_STEP) {
                    d = d.with_hint(format!("did you mean `{s}`?"));
                }
                push(d);
            }
        }
        let component = match obj.get("component") {
            Some(Value::String(s)) if s.trim().is_empty() => {
                push(
                    Diagnostic::error("missing_step_field", at("component"), "`component` is empty")
                        .with_hint("name a component, e.g. filesystem.csv_extractor; see `osiris components list`"),
                );
                String::new()
            }
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                push(Diagnostic::error("invalid_component_type", at("component"), "component must be a string"));
                String::new()
            }
            None => {
                push(Diagnostic::error("missing_step_field", at("component"), "step is missing `component`"));
                String::new()
            }
        };
        let mode = match obj.get("mode") {
            Some(Value::String(s)) => Mode::from_oml(s).or_else(|| {
                push(
                    Diagnostic::error("invalid_mode", at("mode"), format!("mode `{s}` is not valid"))
                        .with_hint("valid modes: read, transform, write"),
                );
                None
            }),
            Some(_) => {
                push(Diagnostic::error("invalid_mode_type", at("mode"), "mode must be a string"));
                None
            }
            None => {
                push(Diagnostic::error(
                    "missing_step_field",
                    at("mode"),
                    "step is missing `mode` (read, transform or write)",
                ));
                None
            }
        };
        let needs = match obj.get("needs") {
            None => steps_before(&raw_steps, i),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(j, n)| match n {
                    Value::String(s) => Some(s.clone()),
                    _ => {
                        push(Diagnostic::error(
                            "invalid_dependency_type",
                            at(&format!("needs[{j}]")),
                            "each `needs` entry must be a step id string",
                        ));
                        None
                    }
                })
                .collect(),
            Some(_) => {
                push(Diagnostic::error("invalid_needs_type", at("needs"), "needs must be a list of step ids"));
                Vec::new()
            }
        };
        let config = match obj.get("config") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                push(Diagnostic::error("invalid_config_type", at("config"), "config must be a mapping"));
                Map::new()
            }
        };
        out.extend(step_findings);
        steps.push(Step {
            id,
            component,
            mode: mode.unwrap_or(Mode::Transform),
            needs,
            config,
            index: i,
            mode_error: mode.is_none(),
        });
    }
    check_needs(&raw_steps, &steps, &mut out);
    (steps, out)
}

/// When `needs` is absent the step depends on the previous step (the original compiler's rule).
fn steps_before(raw: &[Value], i: usize) -> Vec<String> {
    if i == 0 {
        return Vec::new();
    }
    raw[i - 1].get("id").and_then(Value::as_str).map(|s| vec![s.to_string()]).unwrap_or_default()
}

fn check_needs(raw: &[Value], steps: &[Step], out: &mut Vec<Diagnostic>) {
    let ids: HashSet<&str> = raw.iter().filter_map(|s| s.get("id").and_then(Value::as_str)).collect();
    for step in steps {
        for (j, need) in step.needs.iter().enumerate() {
            let at = format!("steps[{}].needs[{j}]", step.index);
            if need == &step.id {
                out.push(
                    Diagnostic::error("self_dependency", at, format!("step `{}` needs itself", step.id))
                        .with_step(&step.id),
                );
            } else if !ids.contains(need.as_str()) {
                let mut d = Diagnostic::error("unknown_dependency", at, format!("`needs` names unknown step `{need}`"))
                    .with_step(&step.id);
                if let Some(s) = did_you_mean(need, ids.iter().copied()) {
                    d = d.with_hint(format!("did you mean `{s}`?"));
                }
                out.push(d);
            }
        }
    }
    if let Some(cycle) = find_cycle(steps) {
        let first = steps.iter().find(|s| s.id == cycle[0]).expect("cycle ids are steps");
        out.push(
            Diagnostic::error(
                "dependency_cycle",
                format!("steps[{}].needs", first.index),
                format!("steps form a cycle: {}", cycle.join(" -> ")),
            )
            .with_step(&first.id)
            .with_hint("remove one of these `needs` entries"),
        );
    }
}

/// A dependency cycle as a list of ids (first id repeated at the end), if there is one.
pub fn find_cycle(steps: &[Step]) -> Option<Vec<String>> {
    let graph: BTreeMap<&str, Vec<&str>> =
        steps.iter().map(|s| (s.id.as_str(), s.needs.iter().map(String::as_str).collect())).collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit<'a>(
        n: &'a str,
        g: &BTreeMap<&'a str, Vec<&'a str>>,
        marks: &mut HashMap<&'a str, Mark>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match marks.get(n) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = stack.iter().position(|s| *s == n).unwrap_or(0);
                let mut c: Vec<String> = stack[start..].iter().map(|s| s.to_string()).collect();
                c.push(n.to_string());
                return Some(c);
            }
            None => {}
        }
        marks.insert(n, Mark::Open);
        stack.push(n);
        for m in g.get(n).map(Vec::as_slice).unwrap_or_default() {
            if *m != n && g.contains_key(m) {
                if let Some(c) = visit(m, g, marks, stack) {
                    return Some(c);
                }
            }
        }
        stack.pop();
        marks.insert(n, Mark::Done);
        None
    }
    let mut marks = HashMap::new();
    for s in steps {
        let mut stack = Vec::new();
        if let Some(c) = visit(&s.id, &graph, &mut marks, &mut stack) {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn step_ids_allow_hyphens_and_dots_but_not_paths() {
        assert!(valid_step_id("extract-orders"));
        assert!(valid_step_id("v1.orders_2"));
        assert!(valid_step_id("123records"));
        assert!(!valid_step_id("../etc"));
        assert!(!valid_step_id("a/b"));
        assert!(!valid_step_id("has space"));
        assert!(!valid_step_id(""));
    }

    #[test]
    fn absent_needs_means_previous_step_and_empty_means_none() {
        let doc = json!({"steps": [
            {"id": "a", "component": "c", "mode": "read"},
            {"id": "b", "component": "c", "mode": "read", "needs": []},
            {"id": "c", "component": "c", "mode": "write"}]});
        let (steps, f) = check_steps(&doc);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(steps[0].needs, Vec::<String>::new());
        assert_eq!(steps[1].needs, Vec::<String>::new());
        assert_eq!(steps[2].needs, vec!["b".to_string()]);
    }

    #[test]
    fn cycles_are_reported_with_their_path() {
        let doc = json!({"steps": [
            {"id": "a", "component": "c", "mode": "read", "needs": ["c"]},
            {"id": "b", "component": "c", "mode": "read", "needs": ["a"]},
            {"id": "c", "component": "c", "mode": "read", "needs": ["b"]}]});
        let (_, f) = check_steps(&doc);
        let cycle = f.iter().find(|d| d.kind == "dependency_cycle").expect("cycle found");
        assert_eq!(cycle.message, "steps form a cycle: a -> c -> b -> a");
    }
}
