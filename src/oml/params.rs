//! Pipeline parameters: `${params.NAME}` placeholders.
//!
//! Values come from `params:` defaults, overridden by `OSIRIS_PARAM_NAME` environment variables,
//! then by the active profile's `profiles.<p>.params`, then by `--param NAME=VALUE` (the original's
//! precedence). Unlike the original, a string that is only a placeholder takes the parameter's
//! type (`limit: ${params.n}` stays an integer), and values from the command line or environment
//! are converted to the type of the declared default.
//!
//! A placeholder need not be declared: as in the original, a value supplied from outside (an
//! `OSIRIS_PARAM_*` variable, the active profile or `--param`) fills it, with a warning that
//! suggests a declaration. What stays an error is what would otherwise be silent: a placeholder
//! nobody supplies, and a `--param` or profile value that no placeholder uses and no declaration
//! names (a typo would otherwise change nothing).

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
    let used = placeholders_outside_declarations(doc);
    // A name a value may be given to: declared, else used by a placeholder (case-insensitive
    // for environment variables, whose names are upper case).
    let known = |name: &str, ignore_case: bool| -> Option<String> {
        let same = |d: &String| if ignore_case { d.eq_ignore_ascii_case(name) } else { d == name };
        declared.iter().find(|d| same(d)).or_else(|| used.iter().find(|d| same(d))).cloned()
    };
    let mut undeclared_supplied: Vec<(String, String)> = Vec::new();
    let mut supply = |values: &mut Map<String, Value>, name: String, value: Value, source: String| {
        if !declared.contains(&name) && !undeclared_supplied.iter().any(|(n, _)| *n == name) {
            undeclared_supplied.push((name.clone(), source));
        }
        values.insert(name, value);
    };

    for (name, raw) in &inputs.env {
        if let Some(d) = known(name, true) {
            match values.get(&d).map_or_else(|| Ok(Value::String(raw.clone())), |like| coerce(raw, like)) {
                Ok(typed) => supply(&mut values, d, typed, format!("OSIRIS_PARAM_{name}")),
                Err(kind) => findings.push(mistyped(&d, raw, kind, &format!("OSIRIS_PARAM_{name}"))),
            }
        }
    }

    let mut profile = None;
    if let Some(p) = &inputs.profile {
        match doc.get("profiles").and_then(|ps| ps.get(p)) {
            Some(prof) => {
                profile = Some(p.clone());
                if let Some(ps) = prof.get("params").and_then(Value::as_object) {
                    for (k, v) in ps {
                        match known(k, false) {
                            Some(name) => supply(&mut values, name, v.clone(), format!("profile `{p}`")),
                            None => findings.push(
                                Diagnostic::error(
                                    "unknown_param",
                                    format!("profiles.{p}.params.{k}"),
                                    format!("profile `{p}` sets parameter `{k}`, which no `${{params.{k}}}` uses and `params:` does not declare"),
                                )
                                .with_hint("declare it under `params:` with a default, or remove it"),
                            ),
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
        match known(name, false) {
            Some(name) => {
                match values.get(&name).map_or_else(|| Ok(Value::String(raw.clone())), |like| coerce(raw, like)) {
                    Ok(typed) => supply(&mut values, name, typed, "--param".to_string()),
                    Err(kind) => findings.push(mistyped(&name, raw, kind, "--param")),
                }
            }
            None => {
                let mut d = Diagnostic::error(
                    "unknown_param",
                    "params",
                    format!("--param `{name}` is neither declared by the pipeline nor used by a placeholder"),
                );
                let candidates = declared.iter().chain(used.iter()).map(String::as_str);
                d = match did_you_mean(name, candidates) {
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
    for (name, source) in undeclared_supplied {
        findings.push(
            Diagnostic::warning(
                "undeclared_param",
                "params",
                format!("`${{params.{name}}}` is not declared; its value comes from {source}"),
            )
            .with_hint(format!("declare it so the pipeline documents it: params: {{{name}: default}}")),
        );
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

/// A value for a declared param that is not of its default's type.
fn mistyped(name: &str, raw: &str, kind: &str, source: &str) -> Diagnostic {
    Diagnostic::error(
        "invalid_param_type",
        format!("params.{name}"),
        format!("{source} gives parameter `{name}` the value `{raw}`, which is not {kind} like its declared default"),
    )
    .with_hint(format!("pass {kind}, or declare `{name}` with a string default to take any text"))
}

/// Names of the `${params.NAME}` placeholders in the document outside `params:` and `profiles:`,
/// in order of first use.
fn placeholders_outside_declarations(doc: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                for c in placeholder_regex().captures_iter(s) {
                    if !out.iter().any(|n| *n == c[1]) {
                        out.push(c[1].to_string());
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(map) => map.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Value::Object(top) = doc {
        for (key, v) in top {
            if key != "params" && key != "profiles" {
                walk(v, &mut out);
            }
        }
    }
    out
}

/// Give a command-line or environment string the type of the declared default; Err names the
/// type when the text is not one (an integer param given `abc` is invalid input, not a string).
fn coerce(raw: &str, like: &Value) -> Result<Value, &'static str> {
    match like {
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            raw.trim().parse::<i64>().map(Value::from).map_err(|_| "an integer")
        }
        Value::Number(_) => {
            raw.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number).ok_or("a number")
        }
        Value::Bool(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err("a boolean (true/false)"),
        },
        _ => Ok(Value::String(raw.to_string())),
    }
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
                            .with_hint(format!(
                                "declare it (params: {{{name}: default}}) or supply it: --param {name}=VALUE, OSIRIS_PARAM_{}=VALUE",
                                name.to_ascii_uppercase()
                            )),
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
    fn an_undeclared_placeholder_takes_a_value_supplied_from_outside_with_a_warning() {
        let doc = json!({"profiles": {"eu": {"params": {"zone": "z1"}}},
                         "steps": [{"a": "${params.region}", "b": "${params.tier}", "c": "${params.zone}"}]});
        let (v, f) = run(doc, &[("region", "EU")], &[("TIER", "gold")], Some("eu"));
        assert_eq!(v["steps"][0], json!({"a": "EU", "b": "gold", "c": "z1"}));
        assert!(f.iter().all(|d| d.severity == crate::diagnostics::Severity::Warning), "{f:?}");
        let kinds: Vec<&str> = f.iter().map(|d| d.kind.as_str()).collect();
        assert_eq!(kinds, ["undeclared_param"; 3]);
    }

    #[test]
    fn a_profile_value_nobody_uses_or_declares_is_an_error() {
        let doc = json!({"profiles": {"eu": {"params": {"zon": "z1"}}}, "steps": [{"c": "${params.zone}"}]});
        let (_, f) = run(doc, &[], &[], Some("eu"));
        let kinds: Vec<&str> = f.iter().map(|d| d.kind.as_str()).collect();
        assert_eq!(kinds, ["unknown_param", "unresolved_param"]);
    }

    #[test]
    fn a_value_not_of_the_declared_type_is_an_error() {
        let doc = json!({"params": {"n": 5, "on": true, "x": 1.5}, "steps": [{"a": "${params.n}", "b": "${params.on}", "c": "${params.x}"}]});
        let (_, f) = run(doc.clone(), &[("n", "abc"), ("on", "maybe")], &[("X", "1,5")], None);
        let kinds: Vec<&str> = f.iter().map(|d| d.kind.as_str()).collect();
        assert_eq!(kinds, ["invalid_param_type"; 3]);
        assert!(f.iter().any(|d| d.message.contains("`abc`, which is not an integer")), "{f:?}");
        let (v, f) = run(doc, &[("n", " 7 "), ("on", "yes")], &[("X", "2.5")], None);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(v["steps"][0], json!({"a": 7, "b": true, "c": 2.5}));
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
