//! Turn a pipeline file or a compiled manifest into a [`RunRequest`]: validate, compile, resolve
//! connections. Everything that can be wrong with the input is found here, before any step runs.

use super::{ExecStep, RunRequest};
use crate::compiler::{self, check_step};
use crate::connections::{parse_reference, ConnectionsFile, Redactor, ResolvedConnection};
use crate::diagnostics::{Diagnostic, Invalid};
use crate::oml::{self, ParamInputs, Step};
use crate::project;
use crate::registry::{ComponentSpec, OverridePolicy, Registry};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// What to run.
#[derive(Debug, Clone)]
pub enum RunSource {
    /// An OML pipeline, compiled in memory first.
    Pipeline(PathBuf),
    /// A manifest written by `osiris compile`.
    Manifest(PathBuf),
}

impl RunSource {
    /// A file told apart by content: a YAML document with top-level `pipeline`, `steps` and
    /// `meta` is a compiled manifest, anything else a pipeline.
    pub fn of_file(path: &Path) -> Self {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let is_manifest = oml::Document::parse(&text).map(|d| compiler::looks_like_manifest(&d.value)).unwrap_or(false);
        if is_manifest {
            Self::Manifest(path.to_path_buf())
        } else {
            Self::Pipeline(path.to_path_buf())
        }
    }
}

/// How to run it.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Parameter overrides (pipelines only; a manifest's parameters are already resolved).
    pub params: ParamInputs,
    /// `--connections FILE`.
    pub connections_file: Option<PathBuf>,
    /// Where run directories go.
    pub runs_dir: PathBuf,
    /// Maximum parallel steps.
    pub max_parallel: usize,
    /// Force every relation to be a table.
    pub materialize_all: bool,
    /// DuckDB memory limit.
    pub memory_limit: String,
    /// Cancellation flag.
    pub cancel: Arc<AtomicBool>,
    /// Ignore committed incremental state and resume spools (`--full-refresh`).
    pub full_refresh: bool,
    /// Where the AI Operation Package goes (None: not written).
    pub aiop: Option<crate::report::aiop::Settings>,
    /// Connections already resolved (a worker receives them from its host) instead of the
    /// connections file.
    pub connections: Option<ConnectionsFile>,
    /// Where relative paths resolve, instead of the project root found above the file (a
    /// worker's `--project`).
    pub project_dir: Option<PathBuf>,
    /// Where committed incremental state lives when not in files ([`crate::project::state_backend`]).
    pub state_backend: Option<super::state::postgres::PgState>,
}

struct Source {
    file: PathBuf,
    name: String,
    manifest_hash: String,
    manifest_yaml: String,
    cfgs: BTreeMap<String, Map<String, Value>>,
    steps: Vec<crate::compiler::ManifestStep>,
    document: Option<oml::Document>,
    file_index: HashMap<String, usize>,
    warnings: Vec<Diagnostic>,
    profile: Option<String>,
    /// The manifest file, when running a compiled one.
    manifest_path: Option<PathBuf>,
}

fn from_pipeline(path: &Path, params: &ParamInputs, registry: &Registry) -> Result<Source, Invalid> {
    let pipeline = oml::load(path, params)?;
    let plan = compiler::plan(pipeline, registry)?;
    let compiled = compiler::compile(&plan, registry);
    Ok(Source {
        file: path.to_path_buf(),
        name: plan.pipeline.name.clone(),
        manifest_hash: compiled.manifest.meta.manifest_hash.clone(),
        manifest_yaml: compiled.manifest_yaml.clone(),
        cfgs: compiled.cfgs.clone(),
        steps: compiled.manifest.steps.clone(),
        file_index: plan.steps.iter().map(|s| (s.id.clone(), s.index)).collect(),
        document: Some(plan.pipeline.document.clone()),
        warnings: plan.warnings,
        profile: compiled.manifest.meta.profile.clone(),
        manifest_path: None,
    })
}

fn from_manifest(path: &Path, registry: &Registry) -> Result<Source, Invalid> {
    let loaded = compiler::load_manifest(path)?;
    let producers: HashMap<&str, bool> =
        loaded.manifest.steps.iter().map(|s| (s.id.as_str(), s.mode != oml::Mode::Write)).collect();
    let mut findings = Vec::new();
    for (i, s) in loaded.manifest.steps.iter().enumerate() {
        let mut config = loaded.cfgs.get(&s.id).cloned().unwrap_or_default();
        config.remove("component");
        // `mode` in a cfg is the step mode, except for components with a `mode` field of their own
        // (mysql.writer's write mode), whose value the compiler keeps.
        if registry.get(&s.component).is_none_or(|spec| !spec.properties().contains(&"mode")) {
            config.remove("mode");
        }
        let step = Step {
            id: s.id.clone(),
            component: s.component.clone(),
            mode: s.mode,
            needs: s.needs.clone(),
            config,
            index: i,
            mode_error: false,
        };
        findings.extend(
            check_step(&step, registry, &producers).into_iter().map(|d| d.with_file(path.display().to_string())),
        );
    }
    let warnings = Invalid::check(findings)?;
    Ok(Source {
        file: path.to_path_buf(),
        name: loaded.manifest.name.clone(),
        manifest_hash: loaded.manifest.meta.manifest_hash.clone(),
        manifest_yaml: loaded.text.clone(),
        cfgs: loaded.cfgs.clone(),
        file_index: loaded.manifest.steps.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect(),
        profile: loaded.manifest.meta.profile.clone(),
        steps: loaded.manifest.steps,
        document: None,
        warnings,
        manifest_path: std::path::absolute(path).ok(),
    })
}

/// `d` (whose `location` is a path into the pipeline) with the file, the step and, when the
/// pipeline's text is at hand, the line and column.
fn locate(mut d: Diagnostic, src: &Source, file_label: &str, step: &str) -> Diagnostic {
    d.step = Some(step.to_string());
    if d.file.is_none() {
        d.file = Some(file_label.to_string());
    }
    match src.document.as_ref().and_then(|doc| doc.position(&d.location)) {
        Some((line, column)) => d.at(line, column),
        None => d,
    }
}

/// A pipeline may not choose where a connection's secrets go: a field of policy
/// [`OverridePolicy::Destination`] (host, URL, endpoint, TLS checks) set in the step (or its
/// manifest, or through a param) to anything but the connection's own value is an error when the
/// connection carries a secret, unless the connection lists the field under `allow_override`.
/// The diagnostics' `location` is the field name.
fn destination_overrides(spec: &ComponentSpec, cfg: &Map<String, Value>, c: &ResolvedConnection) -> Vec<Diagnostic> {
    if c.secrets.is_empty() {
        return Vec::new();
    }
    let allowed = |name: &str| {
        c.fields.get("allow_override").and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v == name))
    };
    spec.connection_fields
        .iter()
        .filter(|f| f.policy == OverridePolicy::Destination && !allowed(&f.name))
        .filter_map(|f| Some((&f.name, cfg.get(&f.name)?)))
        .filter(|(name, value)| c.fields.get(name.as_str()) != Some(*value))
        .map(|(name, _)| {
            Diagnostic::error(
                "forbidden_override",
                name.clone(),
                format!(
                    "`{name}` would send the secrets of @{}.{} somewhere the connection does not name",
                    c.family, c.alias
                ),
            )
            .with_hint(format!(
                "set `{name}` in osiris_connections.yaml (a new alias under {} if it differs) and refer to that alias, or list it under the connection's `allow_override`",
                c.family
            ))
        })
        .collect()
}

/// Validate, compile and resolve connections; errors mean exit code 2 and nothing has run.
pub fn prepare(source: &RunSource, opts: RunOptions, registry: &Registry) -> Result<RunRequest, Invalid> {
    let src = match source {
        RunSource::Pipeline(p) => from_pipeline(p, &opts.params, registry)?,
        RunSource::Manifest(p) => from_manifest(p, registry)?,
    };
    let project_base = opts.project_dir.clone().unwrap_or_else(|| project::base_dir_for(&src.file));
    let file_label = src.file.display().to_string();
    let source_dir = src.file.parent().map(Path::to_path_buf);
    let connections = match opts.connections {
        Some(c) => c,
        None => {
            ConnectionsFile::discover(opts.connections_file.as_deref(), source_dir.as_deref()).map_err(Invalid::one)?
        }
    };
    let mut redactor = Redactor::default();
    let mut findings = Vec::new();
    let mut steps = Vec::new();
    // Where the run's file steps read and write: the only directories DuckDB may touch besides
    // the run dir.
    let mut file_dirs = Vec::new();
    for s in &src.steps {
        let spec = registry.get(&s.component).expect("validated above");
        let cfg = src.cfgs.get(&s.id).cloned().unwrap_or_default();
        let index = src.file_index.get(&s.id).copied().unwrap_or(0);
        let mut connection = None;
        if spec.uses_connections() {
            let reference = cfg.get("connection").and_then(Value::as_str).and_then(parse_reference);
            let attempt = match reference {
                Some((family, alias)) => Some(connections.resolve(family, Some(alias))),
                None if spec.needs_connection(&cfg) || connections.default_alias(spec.family()).is_some() => {
                    Some(connections.resolve(spec.family(), None))
                }
                None => None,
            };
            match attempt {
                Some(Ok(c)) => {
                    c.register_secrets(&mut redactor);
                    for mut d in destination_overrides(spec, &cfg, &c) {
                        d.location = format!("steps[{index}].config.{}", d.location);
                        findings.push(locate(d, &src, &file_label, &s.id));
                    }
                    connection = Some(c);
                }
                Some(Err(mut d)) => {
                    d.location = format!("steps[{index}].config.connection");
                    findings.push(locate(d, &src, &file_label, &s.id));
                }
                None => {}
            }
        }
        let mut config = cfg.clone();
        config.remove("connection");
        if let Some(c) = &connection {
            for f in &spec.connection_fields {
                if !config.contains_key(&f.name) {
                    if let Some(v) = c.fields.get(&f.name) {
                        config.insert(f.name.clone(), v.clone());
                    }
                }
            }
        }
        for (k, v) in spec.defaults() {
            config.entry(k).or_insert(v);
        }
        let base_dir = match connection.as_ref().and_then(|c| c.str_field("base_dir")) {
            Some(b) => project::resolve_path(&project_base, &b),
            None => project_base.clone(),
        };
        for field in &spec.path_fields {
            let Some(path) = config.get(field).and_then(Value::as_str) else { continue };
            let confined = crate::confine::confine(&base_dir, path);
            if let Ok(resolved) = &confined {
                file_dirs.push(crate::confine::directory_of(resolved));
            }
            if let Err(refusal) = confined {
                let d = Diagnostic::error("path_not_allowed", format!("steps[{index}].config.{field}"), refusal.to_string())
                    .with_hint("use a path relative to the project; to read or write elsewhere, define a filesystem connection whose base_dir is that directory in osiris_connections.yaml and refer to it");
                findings.push(locate(d, &src, &file_label, &s.id));
            }
        }
        let state_source = super::state::source_fingerprint(&s.component, &config, &spec.state_ignores);
        steps.push(ExecStep {
            state_source,
            id: s.id.clone(),
            component: s.component.clone(),
            mode: s.mode,
            needs: s.needs.clone(),
            config,
            connection,
            base_dir,
        });
    }
    findings.extend(check_pipeline_sql(&steps, registry, &src.file_index, src.document.as_ref(), &file_label));
    Invalid::check(findings)?;
    if let Some(pg) = &opts.state_backend {
        redactor.add(pg.dsn().expose());
        if let Some(pw) = crate::connections::url_password(pg.dsn().expose()) {
            redactor.add(pw);
        }
    }
    let state = super::state::StateStore::new(&opts.runs_dir, &src.name, opts.full_refresh)
        .with_backend(opts.state_backend.clone());
    Ok(RunRequest {
        state,
        pipeline_name: src.name,
        manifest_hash: src.manifest_hash,
        manifest_yaml: src.manifest_yaml,
        cfgs: src.cfgs,
        steps,
        runs_dir: opts.runs_dir,
        max_parallel: opts.max_parallel.max(1),
        materialize_all: opts.materialize_all,
        exchange: crate::exchange::Settings { memory_limit: opts.memory_limit, allowed_directories: file_dirs },
        redactor,
        cancel: opts.cancel,
        warnings: src.warnings,
        profile: src.profile,
        manifest_path: src.manifest_path,
        aiop: opts.aiop,
        run_id: None,
        tap: None,
    })
}

/// SQL a pipeline wrote for DuckDB: the step, the config field (a spec's `x-sql-fields`) and the
/// text.
struct PipelineSql<'a> {
    step: &'a ExecStep,
    field: &'a str,
    query: &'a str,
}

/// Every query a pipeline wrote for DuckDB through [`crate::exchange::sql_guard`]: one SELECT over
/// the pipeline's own relations, no file, environment or other statement. Refusals are exit 2.
fn check_pipeline_sql(
    steps: &[ExecStep],
    registry: &Registry,
    file_index: &HashMap<String, usize>,
    document: Option<&oml::Document>,
    file_label: &str,
) -> Vec<Diagnostic> {
    let queries: Vec<PipelineSql> = steps
        .iter()
        .flat_map(|step| {
            let fields = registry.get(&step.component).map(|spec| spec.sql_fields.as_slice()).unwrap_or_default();
            fields.iter().filter_map(move |field| {
                let query = step.config.get(field.as_str()).and_then(Value::as_str)?;
                Some(PipelineSql { step, field, query })
            })
        })
        .collect();
    if queries.is_empty() {
        return Vec::new();
    }
    let conn = match duckdb::Connection::open_in_memory() {
        Ok(c) => c,
        Err(e) => return vec![Diagnostic::error("internal", "root", format!("cannot start DuckDB's parser: {e}"))],
    };
    let mut relations: Vec<String> = vec!["input_df".to_string()];
    for s in steps {
        relations.push(s.id.clone());
        relations.push(crate::exchange::compat_name(&s.id));
    }
    let mut findings = Vec::new();
    for PipelineSql { step, field, query } in queries {
        let query = query.trim().trim_end_matches(';');
        if let Err(refusal) = crate::exchange::sql_guard::check(&conn, query, &relations) {
            let index = file_index.get(&step.id).copied().unwrap_or(0);
            let location = format!("steps[{index}].config.{field}");
            let mut d = Diagnostic::error("unsafe_sql", location.clone(), refusal.message)
                .with_step(step.id.clone())
                .with_file(file_label.to_string())
                .with_hint(
                    "pipeline SQL reads the relations of its steps by id; read files with an extractor component",
                );
            if let Some((l, c)) = document.and_then(|doc| doc.position(&location)) {
                d = d.at(l, c);
            }
            findings.push(d);
        }
    }
    findings
}
