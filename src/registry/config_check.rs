//! Validate one step's config against its component spec.
//!
//! Checks, in order: unknown keys (with "did you mean"), the connection reference, credentials
//! written inline, required keys (a connection supplies its fields), the JSON Schema (types,
//! enums, ranges, patterns) and the spec's cross-field constraints.

use super::spec::{ComponentSpec, OverridePolicy};
use crate::diagnostics::{did_you_mean, Diagnostic};
use serde_json::{Map, Value};

/// The path of the first secret-named key with a value inside `value` (objects at any depth).
fn nested_secret(value: &Value) -> Option<String> {
    let Value::Object(map) = value else { return None };
    map.iter().find_map(|(k, v)| match v {
        Value::String(_) | Value::Number(_) if crate::connections::is_secret_field(k) => Some(k.clone()),
        other => nested_secret(other).map(|rest| format!("{k}.{rest}")),
    })
}

/// Findings for `config` of step `step_id` (at `steps[index]`).
pub fn check_config(spec: &ComponentSpec, step_id: &str, index: usize, config: &Map<String, Value>) -> Vec<Diagnostic> {
    let at = |f: &str| format!("steps[{index}].config.{f}");
    let mut out = Vec::new();
    let mut push = |d: Diagnostic| out.push(d.with_step(step_id));
    let props = spec.properties();

    for key in config.keys() {
        if key == "connection" || props.contains(&key.as_str()) {
            continue;
        }
        let mut d = Diagnostic::error(
            "unknown_config_key",
            at(key),
            format!("unknown field `{key}` for component `{}`", spec.name),
        );
        d = match did_you_mean(key, props.iter().copied()) {
            Some(s) => d.with_hint(format!("did you mean `{s}`? Valid fields: {}", props.join(", "))),
            None => d.with_hint(format!("valid fields: {}", props.join(", "))),
        };
        push(d);
    }

    if let Some(conn) = config.get("connection") {
        let re = regex::Regex::new(r"^@[a-zA-Z0-9_-]+\.[a-zA-Z0-9_-]+$").expect("static regex");
        match conn.as_str() {
            Some(s) if re.is_match(s) => {
                let family = s[1..].split('.').next().unwrap_or_default();
                if family != spec.family() {
                    push(
                        Diagnostic::error(
                            "connection_family_mismatch",
                            at("connection"),
                            format!(
                                "`{s}` is a `{family}` connection but `{}` needs a `{}` one",
                                spec.name,
                                spec.family()
                            ),
                        )
                        .with_hint(format!("use `@{}.<alias>`", spec.family())),
                    );
                }
            }
            _ => push(
                Diagnostic::error(
                    "invalid_connection_ref",
                    at("connection"),
                    format!("connection must look like `@{}.<alias>`, got {conn}", spec.family()),
                )
                .with_hint("aliases are defined in osiris_connections.yaml"),
            ),
        }
    }

    for key in config.keys() {
        let field = spec.connection_field(key);
        let is_secret = spec.secret_fields.iter().any(|s| s == key);
        match field.map(|f| f.policy) {
            Some(OverridePolicy::Forbidden) => push(
                Diagnostic::error("forbidden_override", at(key), format!("`{key}` must come from the connection, not the pipeline"))
                    .with_hint(format!("set it in osiris_connections.yaml under {}.<alias> (use ${{ENV_VAR}} for secrets) and refer to it with `connection: \"@{}.<alias>\"`", spec.family(), spec.family())),
            ),
            Some(OverridePolicy::Warning) => push(Diagnostic::warning("override_warning", at(key), format!("`{key}` overrides the connection's value"))),
            _ if is_secret => push(
                Diagnostic::error("inline_secret", at(key), format!("`{key}` is a secret and must not be written in the pipeline"))
                    .with_hint("put it in osiris_connections.yaml and use ${ENV_VAR} there"),
            ),
            _ => {}
        }
        // A secret-named key inside a value (`headers: {Authorization: …}`) is a secret too: it
        // would be written to the manifest and the cfg files.
        if let Some(path) = nested_secret(&config[key.as_str()]) {
            push(
                Diagnostic::error(
                    "inline_secret",
                    at(&format!("{key}.{path}")),
                    format!("`{key}.{path}` is a secret and must not be written in the pipeline"),
                )
                .with_hint(format!(
                    "put it in osiris_connections.yaml (the connection's `{key}`) and use ${{ENV_VAR}} there"
                )),
            );
        }
    }

    for req in spec.required() {
        if config.contains_key(req) || spec.connection_field(req).is_some() {
            continue;
        }
        let desc =
            spec.config_schema.pointer(&format!("/properties/{req}/description")).and_then(Value::as_str).unwrap_or("");
        push(
            Diagnostic::error(
                "missing_config_key",
                format!("steps[{index}].config"),
                format!("missing required field `{req}`"),
            )
            .with_hint(format!("`{req}`: {desc}")),
        );
    }

    let mut schema = spec.config_schema.clone();
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("required");
        if let Some(p) = obj.get_mut("properties").and_then(Value::as_object_mut) {
            p.entry("connection").or_insert(serde_json::json!({"type": "string"}));
        }
        obj.insert("additionalProperties".into(), Value::Bool(true));
    }
    match jsonschema::validator_for(&schema) {
        Ok(validator) => {
            let instance = Value::Object(config.clone());
            for err in validator.iter_errors(&instance) {
                let path = err.instance_path().to_string();
                let field = path.trim_start_matches('/').replace('/', ".");
                let top = field.split('.').next().unwrap_or_default().to_string();
                let mut d = Diagnostic::error("invalid_config_value", at(&field), format!("{err}"));
                if let Some(allowed) =
                    spec.config_schema.pointer(&format!("/properties/{top}/enum")).and_then(Value::as_array)
                {
                    let list: Vec<String> = allowed
                        .iter()
                        .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                        .collect();
                    d = d.with_hint(format!("valid values: {}", list.join(", ")));
                }
                push(d);
            }
        }
        Err(e) => push(Diagnostic::error(
            "invalid_spec",
            format!("steps[{index}].component"),
            format!("component schema does not compile: {e}"),
        )),
    }

    let mut effective = spec.defaults();
    for (k, v) in config {
        effective.insert(k.clone(), v.clone());
    }
    for c in &spec.constraints {
        if !c.when.iter().all(|(k, v)| effective.get(k) == Some(v)) {
            continue;
        }
        for (k, want) in &c.must {
            let ok = match (want.get("minItems").and_then(Value::as_u64), effective.get(k)) {
                (Some(n), Some(Value::Array(a))) => a.len() as u64 >= n,
                (Some(_), Some(Value::String(s))) => !s.is_empty(),
                (Some(_), _) => false,
                (None, got) => got == Some(want),
            };
            if !ok {
                push(Diagnostic::error("constraint_violation", at(k), c.error.clone()));
            }
        }
    }
    // The driver's typed config is read from the same effective config; when the schema found
    // nothing, a failure here is a struct the spec does not describe (a bug), still exit 2.
    if out.is_empty() {
        if let Some(typed) = crate::registry::Registry::builtin_shared().typed_config(&spec.name) {
            if let Err(e) = (typed.check)(&effective) {
                out.push(
                    Diagnostic::error(
                        "invalid_config",
                        format!("steps[{index}].config"),
                        format!("config of `{}` cannot be read: {e}", spec.name),
                    )
                    .with_step(step_id),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use serde_json::json;

    fn check(component: &str, cfg: Value) -> Vec<Diagnostic> {
        let reg = Registry::builtin();
        check_config(reg.get(component).unwrap(), "s", 0, cfg.as_object().unwrap())
    }

    fn kinds(f: &[Diagnostic]) -> Vec<&str> {
        f.iter().map(|d| d.kind.as_str()).collect()
    }

    #[test]
    fn unknown_field_gets_a_did_you_mean() {
        let f = check("filesystem.csv_writer", json!({"path": "o.csv", "delimeter": ";"}));
        assert_eq!(kinds(&f), ["unknown_config_key"]);
        assert!(f[0].hint.as_ref().unwrap().starts_with("did you mean `delimiter`?"));
        assert_eq!(f[0].location, "steps[0].config.delimeter");
    }

    #[test]
    fn schema_violations_name_the_field_and_valid_values() {
        let f = check("filesystem.csv_writer", json!({"path": "o.csv", "newline": "cr", "chunk_size": 0}));
        assert_eq!(kinds(&f), ["invalid_config_value", "invalid_config_value"]);
        let newline = f.iter().find(|d| d.location.ends_with("newline")).unwrap();
        assert_eq!(newline.hint.as_deref(), Some("valid values: lf, crlf"));
    }

    #[test]
    fn credentials_inline_are_rejected_and_connection_fields_are_not_required() {
        let f = check("mysql.extractor", json!({"query": "select 1", "password": "hunter2"}));
        assert_eq!(kinds(&f), ["forbidden_override"]);
        let f = check("mysql.extractor", json!({"connection": "@posthog.x", "query": "select 1"}));
        assert_eq!(kinds(&f), ["connection_family_mismatch"]);
    }

    #[test]
    fn constraints_apply_with_defaults() {
        let f = check("filesystem.csv_writer", json!({"path": "o.tsv", "delimiter": "\t", "quoting": "all"}));
        assert_eq!(kinds(&f), ["constraint_violation"]);
        let f = check("supabase.writer", json!({"table": "t", "write_mode": "upsert"}));
        assert_eq!(kinds(&f), ["constraint_violation"]);
    }
}
