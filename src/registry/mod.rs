//! Component registry: the built-in specs (listed once in [`crate::components`]), config
//! validation against each spec's JSON Schema, and the component → driver lookup.

mod config_check;
pub mod spec;

pub use config_check::check_config;
pub use spec::{ComponentSpec, ConnectionField, OverridePolicy};

use crate::components;
use crate::drivers::Driver;
use crate::oml::Document;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// All known components.
#[derive(Clone)]
pub struct Registry {
    specs: BTreeMap<String, ComponentSpec>,
    drivers: BTreeMap<String, fn() -> Box<dyn Driver>>,
    typed: BTreeMap<String, components::TypedConfig>,
    fingerprint: String,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("components", &self.specs.keys().collect::<Vec<_>>()).finish()
    }
}

impl Registry {
    /// The built-in registry.
    pub fn builtin() -> Self {
        Self::builtin_shared().clone()
    }

    /// The built-in registry, parsed once per process.
    pub fn builtin_shared() -> &'static Self {
        static REGISTRY: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(Registry::parse_builtins);
        &REGISTRY
    }

    fn parse_builtins() -> Self {
        let mut specs = BTreeMap::new();
        let mut drivers = BTreeMap::new();
        let mut typed = BTreeMap::new();
        let mut texts: Vec<(String, &str)> = Vec::new();
        for builtin in components::all() {
            let doc =
                Document::parse(builtin.spec).unwrap_or_else(|e| panic!("a built-in spec is not valid YAML: {e}"));
            let spec = ComponentSpec::from_value(doc.value).unwrap_or_else(|e| panic!("built-in spec: {e}"));
            let name = spec.name.clone();
            assert!(!specs.contains_key(&name), "component {name} is listed twice");
            texts.push((name.clone(), builtin.spec));
            drivers.insert(name.clone(), builtin.driver);
            if let Some(t) = builtin.config {
                typed.insert(name.clone(), t);
            }
            specs.insert(name, spec);
        }
        // By name, so the fingerprint does not depend on the order of the list.
        texts.sort();
        let mut hasher = Sha256::new();
        for (name, text) in texts {
            hasher.update(name.as_bytes());
            hasher.update(text.as_bytes());
        }
        Self { specs, drivers, typed, fingerprint: format!("{:x}", hasher.finalize()) }
    }

    /// The typed config of component `name`, when it has one.
    pub fn typed_config(&self, name: &str) -> Option<&components::TypedConfig> {
        self.typed.get(name)
    }

    /// A new driver for component `name`.
    pub fn driver(&self, name: &str) -> Option<Box<dyn Driver>> {
        self.drivers.get(name).map(|make| make())
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

    /// What component `name` can do: the spec's descriptive flags (the original's `discover`,
    /// `bulkOperations`, …) and the behaviour read from its driver — `streaming` (streams its
    /// rows to its one consumer while extracting), `view` (its output may be a view),
    /// `readsInputOnce` (may read a pipe), `incremental` (keeps state between runs) — so the
    /// printed behaviour is the code's.
    pub fn capabilities(&self, name: &str) -> Option<serde_json::Value> {
        let spec = self.get(name)?;
        let driver = self.driver(name)?;
        let mut caps = spec.raw.get("capabilities").cloned().unwrap_or_else(|| serde_json::json!({}));
        caps["streaming"] = driver.can_stream().into();
        caps["view"] = driver.can_be_view().into();
        caps["readsInputOnce"] = driver.reads_input_once().into();
        caps["incremental"] = driver.keeps_state().into();
        Some(caps)
    }

    /// The whole spec as `components show --json` prints it: the spec document with what this
    /// build can do (`runnable`, `capabilities`).
    pub fn spec_json(&self, name: &str) -> Option<serde_json::Value> {
        let mut v = self.get(name)?.raw.clone();
        v["runnable"] = self.is_runnable(name).into();
        v["capabilities"] = self.capabilities(name).unwrap_or_default();
        Some(v)
    }

    /// True when this build has a driver for the component.
    pub fn is_runnable(&self, name: &str) -> bool {
        self.drivers.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_spec_loads_and_its_schema_compiles() {
        let reg = Registry::builtin();
        assert_eq!(reg.names().count(), crate::components::all().count());
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
    fn behaviour_capabilities_come_from_the_driver_and_specs_do_not_repeat_them() {
        let reg = Registry::builtin();
        for name in reg.names() {
            let raw = &reg.get(name).unwrap().raw;
            for flag in ["streaming", "view", "readsInputOnce"] {
                assert!(raw["capabilities"].get(flag).is_none(), "{name}: `{flag}` is the driver's to say");
            }
            let caps = reg.capabilities(name).unwrap();
            assert_eq!(caps["streaming"], reg.driver(name).unwrap().can_stream(), "{name}");
        }
        assert_eq!(reg.capabilities("mysql.extractor").unwrap()["streaming"], true);
        assert_eq!(reg.capabilities("filesystem.csv_writer").unwrap()["readsInputOnce"], true);
    }

    #[test]
    fn typed_configs_and_specs_agree_field_by_field() {
        let reg = Registry::builtin();
        let mut checked = 0;
        for name in reg.names() {
            let Some(typed) = reg.typed_config(name) else { continue };
            let spec = reg.get(name).unwrap();
            // Its properties and the fields a connection supplies (merged in before the driver
            // runs), less the secrets: those stay in the connection and never reach a config.
            let mut from_spec: Vec<&str> = spec
                .properties()
                .into_iter()
                .chain(spec.connection_fields.iter().map(|f| f.name.as_str()))
                .filter(|p| *p != "connection" && !crate::connections::is_secret_field(p))
                .collect();
            from_spec.sort();
            from_spec.dedup();
            let mut from_struct: Vec<&str> = (typed.fields)().to_vec();
            from_struct.sort();
            assert_eq!(from_struct, from_spec, "{name}: struct fields vs spec properties");
            // Every example, with the spec's defaults filled in, is a valid typed config.
            for ex in spec.raw["examples"].as_array().into_iter().flatten() {
                let mut cfg = spec.defaults();
                cfg.extend(ex["config"].as_object().unwrap().clone());
                (typed.check)(&cfg).unwrap_or_else(|e| panic!("{name} example {}: {e}", ex["title"]));
            }
            checked += 1;
        }
        assert!(checked >= 4, "the folder components have typed configs");
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
