//! Pipeline parameters: `${params.NAME}` placeholders.
//!
//! Values come from `params:` defaults, overridden by `OSIRIS_PARAM_NAME` environment variables,
//! then by the active profile's `profiles.<p>.params`, then by `--param NAME=VALUE` (the original's
//! precedence). Unlike the original, a string that is only a placeholder takes the parameter's
//! type (`limit: ${params.n}` stays an integer), and values from the command line or environment
//! are converted to the type of the declared default. An undeclared `--param` or placeholder is an
//! error rather than silently ignored.

use super::yaml::child_path;
use crate::diagnostics::{did_you_mean, Diagnostic};
use serde_json::{Map, Value};

/// Where parameter overrides come from.
#[derive(Debug, Clone, Default)]
pub struct ParamInputs {
    /// `--param NAME=VALUE`, in command-line order.
    pub cli: Vec<(String, String)>,
    /// `OSIRIS_PARAM_NAME=VALUE` variables (names as given; matched case-insensitively).
    pub env: Vec<(String, String)>,
    /// `--profile`, else `OSIRIS_PROFILE`.
    pub profile: Option<String>,
}

impl ParamInputs {
    /// Overrides from the command line plus this process's `OSIRIS_PARAM_*` and `OSIRIS_PROFILE`.
    pub fn from_process(cli: Vec<(String, String)>, profile: Option<String>) -> Self {
        let env =
            std::env::vars().filter_map(|(k, v)| k.strip_prefix("OSIRIS_PARAM_").map(|n| (n.to_string(), v))).collect();
        let profile = profile.or_else(|| std::env::var("OSIRIS_PROFILE").ok().filter(|p| !p.is_empty()));
        Self { cli, env, profile }
    }
}

/// Split `NAME=VALUE` at the first `=`.
pub fn parse_assignment(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got `{s}`")),
    }
}

/// Substitute parameters. Returns the resolved document, the effective values, the active
/// profile (only when the pipeline declares profiles) and findings.
pub fn resolve(doc: &Value, inputs: &ParamInputs) -> (Value, Map<String, Value>, Option<String>, Vec<Diagnostic>) {
    let mut findings = Vec::new();
    let mut values = Map::new();
    if let Some(decl) = doc.get("params") {
        match decl.as_object() {
            Some(decl) => {
                for (name, spec) in decl {
                    let default = match spec {
                        Value::Object(o) => o.get("default").cloned().unwrap_or(Value::Null),
                        other => other.clone(),
                    };
                    values.insert(name.clone(), default);
                }
            }
            None => findings.push(Diagnostic::error(
                "invalid_params",
                "params",
                "`params` must be a mapping of NAME: default",
            )),
        }
    }
    let declared: Vec<String> = values.keys().cloned().collect();
    let find_declared = |name: &str| declared.iter().find(|d| d.eq_ignore_ascii_case(name)).cloned();

    for (name, raw) in &inputs.env {
        if let Some(d) = find_declared(name) {
            let typed = coerce(raw, &values[&d]);
            values.insert(d, typed);
        }
    }

    let mut profile = None;
    if let Some(p) = &inputs.profile {
        match doc.get("profiles").and_then(|ps| ps.get(p)) {
            Some(prof) => {
                profile = Some(p.clone());
                if let Some(ps) = prof.get("params").and_then(Value::as_object) {
                    for (k, v) in ps {
                        if values.contains_key(k) {
                            values.insert(k.clone(), v.clone());
                        } else {
                            findings.push(
                                Diagnostic::error(
                                    "unknown_param",
                                    format!("profiles.{p}.params.{k}"),
                                    format!("profile `{p}` sets undeclared parameter `{k}`"),
                                )
                                .with_hint("declare it under `params:` with a default"),
                            );
                        }
                    }
                }
            }
            None if doc.get("profiles").is_some() => {
                let names: Vec<&str> =
                    doc["profiles"].as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
                findings.push(
                    Diagnostic::error("unknown_profile", "profiles", format!("profile `{p}` is not defined"))
                        .with_hint(format!("defined profiles: {}", names.join(", "))),
                );
            }
            None => {}
        }
    }

    for (name, raw) in &inputs.cli {
        match values.get(name) {
            Some(current) => {
                let typed = coerce(raw, current);
                values.insert(name.clone(), typed);
            }
            None => {
                let mut d = Diagnostic::error(
                    "unknown_param",
                    "params",
                    format!("--param `{name}` is not declared by the pipeline"),
                );
                d = match did_you_mean(name, declared.iter().map(String::as_str)) {
                    Some(s) => d.with_hint(format!("did you mean `{s}`?")),
                    None if declared.is_empty() => {
                        d.with_hint("the pipeline declares no params; add `params: {NAME: default}`")
                    }
                    None => d.with_hint(format!("declared params: {}", declared.join(", "))),
                };
                findings.push(d);
            }
        }
    }

    let mut resolved = doc.clone();
    if let Value::Object(top) = &mut resolved {
        for (key, v) in top.iter_mut() {
            if key != "params" && key != "profiles" {
                substitute(v, key, &values, &mut findings);
            }
        }
    }
    let profile = if doc.get("profiles").is_some() { profile } else { None };
    (resolved, values, profile, findings)
}

/// Give a command-line or environment string the type of the declared default.
fn coerce(raw: &str, like: &Value) -> Value {
    let parsed = match like {
        Value::Number(n) if n.is_i64() || n.is_u64() => raw.trim().parse::<i64>().ok().map(Value::from),
        Value::Number(_) => raw.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number),
        Value::Bool(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(Value::Bool(true)),
            "false" | "no" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(raw.to_string()))
}

/// `${params.NAME}`, compiled once: it is matched against every string of the document.
fn placeholder_regex() -> &'static regex::Regex {
    static RE: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\$\{params\.([^}]+)\}").expect("static regex"));
    &RE
}

fn substitute(v: &mut Value, path: &str, values: &Map<String, Value>, findings: &mut Vec<Diagnostic>) {
    match v {
        Value::String(s) => {
            let re = placeholder_regex();
            if !re.is_match(s) {
                return;
            }
            let lookup = |name: &str, findings: &mut Vec<Diagnostic>| -> Option<Value> {
                match values.get(name) {
                    Some(Value::Null) => {
                        findings.push(
                            Diagnostic::error("unresolved_param", path, format!("parameter `{name}` has no value"))
                                .with_hint(format!("give it a default or pass --param {name}=VALUE")),
                        );
                        None
                    }
                    Some(v) => Some(v.clone()),
                    None => {
                        findings.push(
                            Diagnostic::error(
                                "unresolved_param",
                                path,
                                format!("`${{params.{name}}}` refers to an undeclared parameter"),
                            )
                            .with_hint(format!("declare it: params: {{{name}: default}}")),
                        );
                        None
                    }
                }
            };
            if let Some(c) = re.captures(s).filter(|c| c[0].len() == s.len()) {
                if let Some(val) = lookup(&c[1], findings) {
                    *v = val;
                }
                return;
            }
            let mut out = String::new();
            let mut last = 0;
            for c in re.captures_iter(s) {
                let m = c.get(0).expect("group 0");
                out.push_str(&s[last..m.start()]);
                if let Some(val) = lookup(&c[1], findings) {
                    match val {
                        Value::String(t) => out.push_str(&t),
                        other => out.push_str(&other.to_string()),
                    }
                }
                last = m.end();
            }
            out.push_str(&s[last..]);
            *s = out;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute(item, &format!("{path}[{i}]"), values, findings);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                substitute(item, &child_path(path, k), values, findings);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(doc: Value, cli: &[(&str, &str)], env: &[(&str, &str)], profile: Option<&str>) -> (Value, Vec<Diagnostic>) {
        let inputs = ParamInputs {
            cli: cli.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            env: env.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            profile: profile.map(str::to_string),
        };
        let (v, _, _, f) = resolve(&doc, &inputs);
        (v, f)
    }

    #[test]
    fn whole_placeholder_keeps_the_type_and_embedded_ones_format() {
        let doc = json!({"params": {"n": 5, "who": {"default": "x"}}, "steps": [{"config": {"limit": "${params.n}", "q": "a=${params.who} n=${params.n}"}}]});
        let (v, f) = run(doc, &[], &[], None);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(v["steps"][0]["config"]["limit"], json!(5));
        assert_eq!(v["steps"][0]["config"]["q"], json!("a=x n=5"));
    }

    #[test]
    fn precedence_is_default_env_profile_cli() {
        let doc = json!({"params": {"n": 1, "m": 1, "k": 1}, "profiles": {"prod": {"params": {"m": 3, "k": 3}}},
                         "steps": [{"a": "${params.n}", "b": "${params.m}", "c": "${params.k}"}]});
        let (v, f) = run(doc, &[("k", "4")], &[("N", "2"), ("M", "2")], Some("prod"));
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(v["steps"][0], json!({"a": 2, "b": 3, "c": 4}));
    }

    #[test]
    fn undeclared_cli_param_and_placeholder_are_errors() {
        let doc = json!({"params": {"limit": 1}, "steps": [{"x": "${params.nope}"}]});
        let (_, f) = run(doc, &[("limt", "3")], &[], None);
        let kinds: Vec<&str> = f.iter().map(|d| d.kind.as_str()).collect();
        assert_eq!(kinds, ["unknown_param", "unresolved_param"]);
        assert_eq!(f[0].hint.as_deref(), Some("did you mean `limit`?"));
        assert_eq!(f[1].location, "steps[0].x");
    }
}
