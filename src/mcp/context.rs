//! What every MCP tool call works in: the project (root, runs directory, settings), the
//! registry, the connections file, the redactor seeded with every connection's secrets, and
//! what the server was allowed to do.

use super::tools::ToolError;
use crate::connections::{ConnectionsFile, Redactor};
use crate::diagnostics::Invalid;
use crate::oml::ParamInputs;
use crate::registry::Registry;
use crate::report::aiop;
use crate::runtime::{RunOptions, RunRequest, RunSource};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The server's view of the project.
pub struct Context {
    /// Project root (`OSIRIS_HOME`, else the nearest directory holding `osiris.yaml`, else the
    /// directory the server started in).
    pub root: PathBuf,
    /// Where runs go and are read from.
    pub runs_dir: PathBuf,
    /// `osiris.yaml`, parsed.
    pub settings: Value,
    /// `--connections FILE`, when given.
    pub connections_file: Option<PathBuf>,
    /// Components.
    pub registry: Registry,
    /// Every secret of every connection.
    pub redactor: Redactor,
    /// `--allow-run`: `pipeline_run` is offered.
    pub allow_run: bool,
    /// `--allow-write`: `memory_capture` is offered.
    pub allow_write: bool,
    /// Longest a tool call may take before the reply is a `timeout` error (a run is cancelled).
    pub tool_timeout: std::time::Duration,
}

/// A file that exists while it is held (OML text an agent sent, for the file-based compiler).
pub struct ScratchFile(PathBuf);

impl ScratchFile {
    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Context {
    /// The context for a server started in `root` with these options.
    pub fn new(
        root: PathBuf,
        runs_dir: PathBuf,
        settings: Value,
        connections_file: Option<PathBuf>,
        allow_run: bool,
        allow_write: bool,
    ) -> Self {
        let redactor = ConnectionsFile::discover(connections_file.as_deref(), Some(&root))
            .map(|f| f.redactor())
            .unwrap_or_default();
        Self {
            root,
            runs_dir,
            settings,
            connections_file,
            registry: Registry::builtin(),
            redactor,
            allow_run,
            allow_write,
            tool_timeout: super::DEFAULT_TOOL_TIMEOUT,
        }
    }

    /// `.osiris/mcp/` under the project: drafts, memory, audit log.
    pub fn mcp_dir(&self) -> PathBuf {
        self.root.join(".osiris").join("mcp")
    }

    /// The connections file, freshly read (an agent may be told to edit it between calls).
    pub fn connections(&self) -> Result<ConnectionsFile, ToolError> {
        ConnectionsFile::discover(self.connections_file.as_deref(), Some(&self.root))
            .map_err(|d| ToolError::new("invalid_connections", d.to_string()))
    }

    /// AIOP settings of the project (defaults when `osiris.yaml` has none).
    pub fn aiop_settings(&self) -> aiop::Settings {
        aiop::Settings::configured(&self.runs_dir, &self.root, &self.settings)
            .ok()
            .flatten()
            .unwrap_or_else(|| aiop::Settings::new(self.runs_dir.parent().unwrap_or(Path::new(".")).join("aiop")))
    }

    /// Write `content` to a scratch file inside the project (so relative paths in it resolve
    /// against the project root, as they would for a pipeline saved there).
    pub fn scratch_file(&self, content: &str) -> Result<ScratchFile, ToolError> {
        if content.len() > super::server::MAX_PAYLOAD_BYTES {
            return Err(ToolError::new("payload_too_large", "the OML text is larger than 16 MiB"));
        }
        let dir = self.mcp_dir().join("tmp");
        crate::runtime::create_private_dir(&dir)
            .map_err(|e| ToolError::new("io_error", format!("cannot create {}: {e}", dir.display())))?;
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).unwrap_or_default();
        let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let path = dir.join(format!("draft-{name}.yaml"));
        std::fs::write(&path, content)
            .map_err(|e| ToolError::new("io_error", format!("cannot write {}: {e}", path.display())))?;
        Ok(ScratchFile(path))
    }

    /// Parameter inputs from a call's `params` object and `profile` (never the server's
    /// environment: a call states its parameters).
    fn params(params: &Map<String, Value>, profile: Option<&str>) -> ParamInputs {
        let cli = params
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
            .collect();
        ParamInputs { cli, env: Vec::new(), profile: profile.map(str::to_string) }
    }

    /// Validate and prepare a pipeline file as `osiris run` would (connections resolved).
    pub fn prepare_pipeline(
        &self,
        path: &Path,
        params: &Map<String, Value>,
        profile: Option<&str>,
    ) -> Result<RunRequest, Invalid> {
        self.prepare(RunSource::Pipeline(path.to_path_buf()), params, profile, Default::default())
    }

    /// Prepare a run of `source`.
    pub fn prepare(
        &self,
        source: RunSource,
        params: &Map<String, Value>,
        profile: Option<&str>,
        cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<RunRequest, Invalid> {
        let opts = RunOptions {
            params: Self::params(params, profile),
            connections_file: self.connections_file.clone(),
            runs_dir: self.runs_dir.clone(),
            max_parallel: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            materialize_all: false,
            memory_limit: crate::exchange::DEFAULT_MEMORY_LIMIT.into(),
            cancel,
            full_refresh: false,
            aiop: aiop::Settings::configured(&self.runs_dir, &self.root, &self.settings).ok().flatten(),
            connections: None,
            project_dir: None,
            state_backend: crate::project::state_backend(&self.settings)
                .map_err(|e| Invalid::one(crate::Diagnostic::error("invalid_settings", "state", e)))?,
        };
        crate::runtime::prepare(&source, opts, &self.registry)
    }

    /// Compile a pipeline file into the project's build directory.
    pub fn compile(&self, path: &Path, params: &Map<String, Value>, profile: Option<&str>) -> Result<Value, ToolError> {
        let invalid = |e: Invalid| {
            ToolError::new(
                "invalid_pipeline",
                format!("the pipeline is not valid ({} errors); call oml_validate", e.errors().count()),
            )
            .with_details(json!({"diagnostics": e.diagnostics}))
        };
        let pipeline = crate::oml::load(path, &Self::params(params, profile)).map_err(invalid)?;
        let plan = crate::compiler::plan(pipeline, &self.registry).map_err(invalid)?;
        let compiled = crate::compiler::compile(&plan, &self.registry);
        let slug = crate::runtime::slugify(&plan.pipeline.name);
        let build = match self.settings["filesystem"]["build_dir"].as_str().filter(|d| !d.is_empty()) {
            Some(d) => crate::project::resolve_path(&self.root, d),
            None => self.root.join("build"),
        };
        let dir = compiled.default_dir(&build, &slug);
        let manifest_path = compiled
            .write_to(&dir)
            .map_err(|e| ToolError::new("io_error", format!("cannot write {}: {e}", dir.display())))?;
        let steps: Vec<Value> = compiled
            .manifest
            .steps
            .iter()
            .map(|s| {
                let keys: Vec<&String> = compiled.cfgs.get(&s.id).map(|c| c.keys().collect()).unwrap_or_default();
                json!({"id": s.id, "component": s.component, "mode": s.mode, "needs": s.needs, "cfg_keys": keys})
            })
            .collect();
        Ok(json!({
            "manifest_path": manifest_path, "manifest_hash": compiled.manifest.meta.manifest_hash,
            "manifest_short": compiled.manifest.meta.manifest_short, "pipeline_slug": slug,
            "profile": compiled.manifest.meta.profile, "steps": steps, "warnings": plan.warnings,
        }))
    }

    /// A path an agent named, only when it is inside the project.
    pub fn project_path(&self, path: &str) -> Result<PathBuf, ToolError> {
        let joined = crate::project::resolve_path(&self.root, path);
        let real =
            joined.canonicalize().map_err(|e| ToolError::new("not_found", format!("{}: {e}", joined.display())))?;
        let root = self.root.canonicalize().unwrap_or_else(|_| self.root.clone());
        if real.starts_with(&root) {
            Ok(real)
        } else {
            Err(ToolError::new("not_allowed", format!("{path} is outside the project ({})", root.display())))
        }
    }
}
