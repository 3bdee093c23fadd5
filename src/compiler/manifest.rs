//! The compiled manifest: what `osiris compile` writes and `osiris run` executes.

use crate::diagnostics::{Diagnostic, Invalid};
use crate::oml::Mode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `manifest.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Pipeline identity and fingerprints.
    pub pipeline: ManifestPipeline,
    /// Steps in execution (topological) order.
    pub steps: Vec<ManifestStep>,
    /// Compile metadata.
    pub meta: ManifestMeta,
    /// OML `name`.
    pub name: String,
    /// OML `metadata`, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// `pipeline:` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestPipeline {
    /// `name` lower-cased with spaces → `_`.
    pub id: String,
    /// OML version.
    pub version: String,
    /// `oml_fp`, `registry_fp`, `compiler_fp`, `params_fp`, `profile`, `manifest_fp`.
    pub fingerprints: BTreeMap<String, Value>,
}

/// One step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestStep {
    /// Step id.
    pub id: String,
    /// Component name.
    pub component: String,
    /// Driver name (the component name: drivers are matched by component).
    pub driver: String,
    /// Canonical mode.
    pub mode: Mode,
    /// `cfg/<id>.json`, relative to the manifest.
    pub cfg_path: String,
    /// Upstream step ids.
    pub needs: Vec<String>,
}

/// `meta:` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestMeta {
    /// OML version of the source.
    pub oml_version: String,
    /// Active profile.
    pub profile: Option<String>,
    /// Pure-hex SHA-256 identifying this manifest.
    pub manifest_hash: String,
    /// First 7 characters of the hash.
    pub manifest_short: String,
    /// Compiler and registry versions.
    pub toolchain: BTreeMap<String, String>,
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Mode::from_oml(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown mode `{s}`")))
    }
}

/// A manifest read from disk together with its step configs.
#[derive(Debug, Clone)]
pub struct LoadedManifest {
    /// Where it was read from.
    pub path: PathBuf,
    /// The manifest.
    pub manifest: Manifest,
    /// The manifest's exact text.
    pub text: String,
    /// cfg JSON per step id.
    pub cfgs: BTreeMap<String, Map<String, Value>>,
}

/// True when a YAML document looks like a manifest (has `pipeline`, `steps` and `meta`).
pub fn looks_like_manifest(doc: &Value) -> bool {
    doc.get("pipeline").is_some() && doc.get("steps").is_some() && doc.get("meta").is_some()
}

/// Read `manifest.yaml` and its `cfg/*.json`.
pub fn load(path: &Path) -> Result<LoadedManifest, Invalid> {
    let file = path.display().to_string();
    let err = |kind: &str, msg: String| Invalid::one(Diagnostic::error(kind, "root", msg).with_file(&file));
    let text =
        std::fs::read_to_string(path).map_err(|e| err("file_not_readable", format!("cannot read manifest: {e}")))?;
    let doc = crate::oml::Document::parse(&text).map_err(|e| err("yaml_syntax", format!("invalid YAML: {e}")))?;
    let manifest: Manifest = serde_json::from_value(doc.value)
        .map_err(|e| err("invalid_manifest", format!("not a valid osiris manifest: {e}")))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut cfgs = BTreeMap::new();
    for step in &manifest.steps {
        let p = dir.join(&step.cfg_path);
        let t = std::fs::read_to_string(&p)
            .map_err(|e| err("missing_cfg", format!("step `{}`: cannot read {}: {e}", step.id, p.display())))?;
        let v: Map<String, Value> = serde_json::from_str(&t).map_err(|e| {
            err("invalid_cfg", format!("step `{}`: {} is not a JSON object: {e}", step.id, p.display()))
        })?;
        cfgs.insert(step.id.clone(), v);
    }
    Ok(LoadedManifest { path: path.to_path_buf(), manifest, text, cfgs })
}
