//! Compiler: OML → validated [`Plan`] → deterministic [`Compiled`] manifest and step configs.
//!
//! Compiling the same pipeline with the same parameters twice gives byte-identical output: there
//! is no timestamp in the manifest (unlike the original's `generated_at`), keys are sorted, and
//! manifests hold `@family.alias` references, never resolved connection values.

pub mod canonical;
pub mod manifest;
mod plan;

pub use manifest::{load as load_manifest, looks_like_manifest, LoadedManifest, Manifest, ManifestStep};
pub use plan::{check_step, plan, topological, Plan};

use crate::connections::is_secret_field;
use crate::registry::Registry;
use canonical::{fingerprint, sha256_hex, sorted, to_canonical_string};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Compiler identity written to manifests and hashed into `compiler_fp`.
pub const COMPILER_ID: &str = concat!("osiris-compiler/", env!("CARGO_PKG_VERSION"));

/// The compile result, not yet written.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The manifest.
    pub manifest: Manifest,
    /// `manifest.yaml` text.
    pub manifest_yaml: String,
    /// cfg objects per step id.
    pub cfgs: BTreeMap<String, Map<String, Value>>,
}

/// The cfg for one step: `component`, `mode`, the config as written (no secrets) and the spec's
/// defaults for fields not set — except fields a connection supplies, whose defaults apply after
/// the connection is merged at run time.
///
/// `mode` is the step's canonical mode, except for a component whose config has a `mode` field
/// of its own (`mysql.writer`'s append/replace/upsert): there the step's mode never stands in
/// for it — the config's value, else the spec's default — so an omitted write mode is the
/// documented default, not `write`.
pub fn step_cfg(step: &crate::oml::Step, registry: &Registry) -> Map<String, Value> {
    let mut cfg = Map::new();
    cfg.insert("component".into(), Value::String(step.component.clone()));
    let own_mode =
        registry.get(&step.component).and_then(|spec| spec.config_schema.pointer("/properties/mode/default")).cloned();
    cfg.insert("mode".into(), own_mode.unwrap_or_else(|| Value::String(step.mode.canonical().into())));
    for (k, v) in &step.config {
        if !is_secret_field(k) {
            cfg.insert(k.clone(), v.clone());
        }
    }
    if let Some(spec) = registry.get(&step.component) {
        for (k, v) in spec.defaults() {
            if spec.connection_field(&k).is_none() && k != "mode" {
                cfg.entry(k).or_insert(v);
            }
        }
    }
    match sorted(&Value::Object(cfg)) {
        Value::Object(m) => m,
        _ => unreachable!("sorted keeps objects"),
    }
}

/// Build the manifest and configs for a plan.
pub fn compile(plan: &Plan, registry: &Registry) -> Compiled {
    let p = &plan.pipeline;
    let cfgs: BTreeMap<String, Map<String, Value>> =
        plan.steps.iter().map(|s| (s.id.clone(), step_cfg(s, registry))).collect();
    let steps: Vec<ManifestStep> = plan
        .steps
        .iter()
        .map(|s| ManifestStep {
            id: s.id.clone(),
            component: s.component.clone(),
            driver: s.component.clone(),
            mode: s.mode,
            cfg_path: format!("cfg/{}.json", s.id),
            needs: s.needs.clone(),
        })
        .collect();
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert("oml_fp".to_string(), Value::String(fingerprint(&p.resolved)));
    fingerprints.insert("registry_fp".to_string(), Value::String(format!("sha256:{}", registry.fingerprint())));
    fingerprints
        .insert("compiler_fp".to_string(), Value::String(format!("sha256:{}", sha256_hex(COMPILER_ID.as_bytes()))));
    fingerprints.insert("params_fp".to_string(), Value::String(fingerprint(&Value::Object(p.params.clone()))));
    fingerprints.insert("profile".to_string(), p.profile.clone().map(Value::String).unwrap_or(Value::Null));
    let mut manifest = Manifest {
        pipeline: manifest::ManifestPipeline {
            id: p.name.to_lowercase().replace(' ', "_"),
            version: p.oml_version.clone(),
            fingerprints,
        },
        steps,
        meta: manifest::ManifestMeta {
            oml_version: p.oml_version.clone(),
            profile: p.profile.clone(),
            manifest_hash: String::new(),
            manifest_short: String::new(),
            toolchain: BTreeMap::from([
                ("compiler".to_string(), COMPILER_ID.to_string()),
                ("registry".to_string(), format!("osiris-registry/{}", &registry.fingerprint()[..12])),
            ]),
        },
        name: p.name.clone(),
        metadata: p.metadata.clone(),
    };
    // The configs are part of what a manifest means, so they are part of its identity.
    let body = json!({"manifest": serde_json::to_value(&manifest).expect("manifest serializes"), "cfgs": cfgs});
    let manifest_fp = fingerprint(&body);
    let hash = sha256_hex(
        to_canonical_string(&json!({"manifest": body, "profile": p.profile.clone().unwrap_or_default()})).as_bytes(),
    );
    manifest.pipeline.fingerprints.insert("manifest_fp".to_string(), Value::String(manifest_fp));
    manifest.meta.manifest_short = hash[..7].to_string();
    manifest.meta.manifest_hash = hash;
    let manifest_yaml = to_yaml(&manifest);
    Compiled { manifest, manifest_yaml, cfgs }
}

/// Canonical YAML: keys sorted, block style, explicit document start.
pub fn to_yaml(manifest: &Manifest) -> String {
    let v = sorted(&serde_json::to_value(manifest).expect("manifest serializes"));
    let body = serde_saphyr::to_string(&v).expect("JSON values serialize to YAML");
    format!("---\n{body}")
}

/// Pretty, key-sorted JSON text of a cfg.
pub fn cfg_text(cfg: &Map<String, Value>) -> String {
    let mut s = serde_json::to_string_pretty(&sorted(&Value::Object(cfg.clone()))).expect("cfg serializes");
    s.push('\n');
    s
}

impl Compiled {
    /// Write `manifest.yaml` and `cfg/<id>.json` into `dir`.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir.join("cfg"))?;
        for (id, cfg) in &self.cfgs {
            std::fs::write(dir.join("cfg").join(format!("{id}.json")), cfg_text(cfg))?;
        }
        let path = dir.join("manifest.yaml");
        std::fs::write(&path, &self.manifest_yaml)?;
        Ok(path)
    }

    /// The default output directory: `<build_dir>/pipelines/[<profile>/]<slug>/<short>-<hash>`
    /// (`build_dir` is the project's `build/` unless `filesystem.build_dir` says otherwise).
    pub fn default_dir(&self, build_dir: &Path, slug: &str) -> PathBuf {
        let mut d = build_dir.join("pipelines");
        if let Some(p) = &self.manifest.meta.profile {
            d = d.join(p);
        }
        d.join(slug).join(format!("{}-{}", self.manifest.meta.manifest_short, self.manifest.meta.manifest_hash))
    }
}

/// Record the last compile (`<base>/.osiris/index/last_compile.txt`: manifest path, hash, profile)
/// for `osiris run --last-compile`. Written via a temp file and rename.
pub fn record_last_compile(base: &Path, manifest_path: &Path, compiled: &Compiled) -> std::io::Result<()> {
    let dir = base.join(".osiris").join("index");
    crate::runtime::create_private_dir(&dir)?;
    let abs = std::path::absolute(manifest_path)?;
    let text = format!(
        "{}\n{}\n{}\n",
        abs.display(),
        compiled.manifest.meta.manifest_hash,
        compiled.manifest.meta.profile.clone().unwrap_or_default()
    );
    crate::runtime::write_atomic(&dir.join("last_compile.txt"), text)
}

/// The manifest path recorded by the last compile under `base`.
pub fn last_compile(base: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(base.join(".osiris").join("index").join("last_compile.txt")).ok()?;
    text.lines().next().filter(|l| !l.is_empty()).map(PathBuf::from)
}
