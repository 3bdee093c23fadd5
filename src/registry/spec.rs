//! A component spec: the data in its `spec.yaml` (listed in [`crate::components`]).

use serde_json::{Map, Value};

/// What may happen when a step sets a connection-provided field inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverridePolicy {
    /// Inline value wins over the connection.
    Allowed,
    /// Must come from the connection (credentials).
    Forbidden,
    /// Allowed, with a warning.
    Warning,
    /// Chooses where the connection's secrets are sent or how (host, URL, endpoint, TLS
    /// checks): a pipeline may set it only for a step whose connection carries no secret, or to
    /// the connection's own value. Checked when connections are resolved.
    Destination,
}

/// A field a connection can supply.
#[derive(Debug, Clone)]
pub struct ConnectionField {
    /// Field name, e.g. `host`.
    pub name: String,
    /// Whether the step may set it inline.
    pub policy: OverridePolicy,
}

/// A `constraints.required` rule: when every `when` field equals its value, `must` must hold.
#[derive(Debug, Clone)]
pub struct Constraint {
    /// Field → value that triggers the rule.
    pub when: Map<String, Value>,
    /// Field → required value, or `{minItems: n}` for "present and non-empty".
    pub must: Map<String, Value>,
    /// Message when the rule fails.
    pub error: String,
}

/// A parsed component spec.
#[derive(Debug, Clone)]
pub struct ComponentSpec {
    /// `filesystem.csv_extractor`, …
    pub name: String,
    /// Semver of the spec.
    pub version: String,
    /// Short title.
    pub title: String,
    /// What it does.
    pub description: String,
    /// Canonical modes (`extract`, `transform`, `write`, `discover`).
    pub modes: Vec<String>,
    /// The config JSON Schema.
    pub config_schema: Value,
    /// Top-level config fields that hold secrets (first segment of `secrets` / `x-secret`).
    pub secret_fields: Vec<String>,
    /// Fields a connection supplies.
    pub connection_fields: Vec<ConnectionField>,
    /// Cross-field rules.
    pub constraints: Vec<Constraint>,
    /// Config fields holding a file path the step reads or writes (`x-path-fields`), kept
    /// inside the step's directory ([`crate::confine`]).
    pub path_fields: Vec<String>,
    /// Config fields holding SQL the pipeline wrote for DuckDB (`x-sql-fields`), checked by
    /// [`crate::exchange::sql_guard`] before anything runs.
    pub sql_fields: Vec<String>,
    /// Config fields that do not change which rows are read (`x-state-ignores`: page sizes,
    /// dedup windows), left out of the source identity incremental state is kept under.
    pub state_ignores: Vec<String>,
    /// The whole spec as JSON (for `components show`).
    pub raw: Value,
}

impl ComponentSpec {
    /// Build from the spec document; panics only on a malformed built-in spec (a bug caught by tests).
    pub fn from_value(raw: Value) -> Result<Self, String> {
        let s = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_string);
        let name = s("name").ok_or("spec without name")?;
        let config_schema = raw.get("configSchema").cloned().ok_or(format!("{name}: no configSchema"))?;
        // A list of strings in the spec (`secrets`, `modes`, `x-path-fields`, …); absent = empty.
        let strings = |k: &str| -> Vec<String> {
            raw.get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        };
        let mut secret_fields: Vec<String> = strings("secrets")
            .into_iter()
            .chain(strings("x-secret"))
            .filter_map(|p| p.trim_start_matches('/').split('/').next().map(str::to_string))
            .filter(|f| f != "resolved_connection")
            .collect();
        secret_fields.sort();
        secret_fields.dedup();
        let connection_fields = raw
            .get("x-connection-fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| match f {
                Value::String(n) => Some(ConnectionField { name: n.clone(), policy: OverridePolicy::Allowed }),
                Value::Object(o) => Some(ConnectionField {
                    name: o.get("name")?.as_str()?.to_string(),
                    policy: match o.get("override").and_then(Value::as_str) {
                        Some("forbidden") => OverridePolicy::Forbidden,
                        Some("warning") => OverridePolicy::Warning,
                        Some("destination") => OverridePolicy::Destination,
                        _ => OverridePolicy::Allowed,
                    },
                }),
                _ => None,
            })
            .collect();
        let constraints = raw
            .pointer("/constraints/required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some(Constraint {
                    when: c.get("when")?.as_object()?.clone(),
                    must: c.get("must")?.as_object()?.clone(),
                    error: c.get("error").and_then(Value::as_str).unwrap_or("constraint violated").to_string(),
                })
            })
            .collect();
        Ok(Self {
            path_fields: strings("x-path-fields"),
            state_ignores: strings("x-state-ignores"),
            sql_fields: strings("x-sql-fields"),
            version: s("version").unwrap_or_default(),
            title: s("title").unwrap_or_default(),
            description: s("description").unwrap_or_default(),
            modes: strings("modes"),
            name,
            config_schema,
            secret_fields,
            connection_fields,
            constraints,
            raw,
        })
    }

    /// The connection family: the name before the first `.` (`mysql` for `mysql.extractor`).
    pub fn family(&self) -> &str {
        self.name.split('.').next().unwrap_or(&self.name)
    }

    /// Config property names, in spec order.
    pub fn properties(&self) -> Vec<&str> {
        self.config_schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Required config properties.
    pub fn required(&self) -> Vec<&str> {
        self.config_schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    }

    /// Property defaults, in spec order.
    pub fn defaults(&self) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(props) = self.config_schema.get("properties").and_then(Value::as_object) {
            for (k, p) in props {
                if let Some(d) = p.get("default") {
                    out.insert(k.clone(), d.clone());
                }
            }
        }
        out
    }

    /// The connection-field entry for `name`, if a connection can supply it.
    pub fn connection_field(&self, name: &str) -> Option<&ConnectionField> {
        self.connection_fields.iter().find(|f| f.name == name)
    }

    /// True when the component reads settings from a connection.
    pub fn uses_connections(&self) -> bool {
        !self.connection_fields.is_empty()
    }

    /// True when a step with this `config` cannot run without a connection: some required field
    /// a connection supplies is not written in the step (e.g. graphql's `endpoint` may be).
    pub fn needs_connection(&self, config: &serde_json::Map<String, serde_json::Value>) -> bool {
        self.required().iter().any(|r| self.connection_field(r).is_some() && !config.contains_key(*r))
    }
}
