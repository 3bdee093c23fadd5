//! Component registry: the nine built-in specs (embedded from `components/*/spec.yaml`), config
//! validation against each spec's JSON Schema, and the component → driver match.

mod config_check;
pub mod spec;

pub use config_check::check_config;
pub use spec::{ComponentSpec, ConnectionField, OverridePolicy};

use crate::oml::Document;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The spec files compiled into the binary, by component name.
const BUILTIN_SPECS: [(&str, &str); 9] = [
    ("duckdb.processor", include_str!("../../components/duckdb.processor/spec.yaml")),
    ("filesystem.csv_extractor", include_str!("../../components/filesystem.csv_extractor/spec.yaml")),
    ("filesystem.csv_writer", include_str!("../../components/filesystem.csv_writer/spec.yaml")),
    ("graphql.extractor", include_str!("../../components/graphql.extractor/spec.yaml")),
    ("mysql.extractor", include_str!("../../components/mysql.extractor/spec.yaml")),
    ("mysql.writer", include_str!("../../components/mysql.writer/spec.yaml")),
    ("posthog.extractor", include_str!("../../components/posthog.extractor/spec.yaml")),
    ("supabase.extractor", include_str!("../../components/supabase.extractor/spec.yaml")),
    ("supabase.writer", include_str!("../../components/supabase.writer/spec.yaml")),
];

/// All known components.
#[derive(Debug, Clone)]
pub struct Registry {
    specs: BTreeMap<String, ComponentSpec>,
    fingerprint: String,
}

impl Registry {
    /// The built-in registry.
    pub fn builtin() -> Self {
        let mut specs = BTreeMap::new();
        let mut hasher = Sha256::new();
        for (name, text) in BUILTIN_SPECS {
            let doc = Document::parse(text).unwrap_or_else(|e| panic!("built-in spec {name} is not valid YAML: {e}"));
            let spec = ComponentSpec::from_value(doc.value).unwrap_or_else(|e| panic!("built-in spec {name}: {e}"));
            assert_eq!(spec.name, name, "spec file name and `name` differ");
            hasher.update(name.as_bytes());
            hasher.update(text.as_bytes());
            specs.insert(name.to_string(), spec);
        }
        Self { specs, fingerprint: format!("{:x}", hasher.finalize()) }
    }

    /// The spec of `name`.
    pub fn get(&self, name: &str) -> Option<&ComponentSpec> {
        self.specs.get(name)
    }

    /// All specs, sorted by name.
    pub fn specs(&self) -> impl Iterator<Item = &ComponentSpec> {
        self.specs.values()
    }

    /// Component names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.specs.keys().map(String::as_str)
    }

    /// SHA-256 (hex) over every spec's text: changes whenever a spec changes.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// True when this build has a driver for the component.
    pub fn is_runnable(&self, name: &str) -> bool {
        crate::drivers::build(name).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_spec_loads_and_its_schema_compiles() {
        let reg = Registry::builtin();
        assert_eq!(reg.names().count(), 9);
        for spec in reg.specs() {
            jsonschema::validator_for(&spec.config_schema).unwrap_or_else(|e| panic!("{}: {e}", spec.name));
            assert!(!spec.modes.is_empty(), "{}", spec.name);
            for ex in spec.raw["examples"].as_array().into_iter().flatten() {
                let cfg = ex["config"].as_object().unwrap();
                for key in cfg.keys() {
                    assert!(
                        spec.properties().contains(&key.as_str()) || key == "connection",
                        "{}: example key {key}",
                        spec.name
                    );
                }
            }
        }
    }

    #[test]
    fn secret_fields_come_from_secret_pointers() {
        let reg = Registry::builtin();
        assert_eq!(reg.get("mysql.extractor").unwrap().secret_fields, ["password"]);
        assert_eq!(reg.get("graphql.extractor").unwrap().secret_fields, ["auth_token", "auth_username", "headers"]);
        let none = serde_json::Map::new();
        assert!(reg.get("mysql.writer").unwrap().needs_connection(&none));
        assert!(!reg.get("filesystem.csv_extractor").unwrap().needs_connection(&none));
        let inline = serde_json::json!({"endpoint": "http://x", "query": "{ a }"});
        assert!(!reg.get("graphql.extractor").unwrap().needs_connection(inline.as_object().unwrap()));
    }
}
