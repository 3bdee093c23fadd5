//! The project a pipeline belongs to, and how relative paths in step config resolve.
//!
//! Relative file paths resolve against the filesystem connection's `base_dir` when one is given,
//! else the project root (the nearest directory at or above the pipeline file holding
//! `osiris.yaml`), else the current directory — as the original does.

use std::path::{Path, PathBuf};

/// The project marker file written by `osiris init`.
pub const PROJECT_FILE: &str = "osiris.yaml";

/// The nearest directory at or above `start` (a file or directory) holding `osiris.yaml`.
pub fn find_root(start: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(start).ok()?;
    let mut dir = if abs.is_dir() { Some(abs.as_path()) } else { abs.parent() };
    while let Some(d) = dir {
        if d.join(PROJECT_FILE).is_file() {
            return Some(d.to_path_buf());
        }
        dir = d.parent();
    }
    None
}

/// The directory relative step paths resolve against when no `base_dir` is given.
pub fn base_dir_for(pipeline_file: &Path) -> PathBuf {
    find_root(pipeline_file).unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")))
}

/// Resolve `path` against `base` unless it is absolute.
pub fn resolve_path(base: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// `osiris.yaml` exists but is not YAML.
#[derive(Debug, thiserror::Error)]
#[error("{} is not valid YAML: {message}", path.display())]
pub struct SettingsError {
    /// The file.
    pub path: PathBuf,
    /// The parser's message.
    pub message: String,
}

/// The project's `osiris.yaml` as a value (Null when there is no project or no file); the
/// project root is `OSIRIS_HOME` when set, else the nearest directory at or above `start`
/// holding `osiris.yaml`, else `start`.
pub fn settings(start: &Path) -> Result<(PathBuf, serde_json::Value), SettingsError> {
    let root = match std::env::var_os("OSIRIS_HOME").filter(|h| !h.is_empty()) {
        Some(h) => PathBuf::from(h),
        None => find_root(start).unwrap_or_else(|| start.to_path_buf()),
    };
    let path = root.join(PROJECT_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok((root, serde_json::Value::Null)) };
    if text.trim().is_empty() {
        return Ok((root, serde_json::Value::Null));
    }
    let value = serde_saphyr::from_str(&text).map_err(|e| SettingsError { path, message: e.to_string() })?;
    Ok((root, value))
}

/// Keys `osiris.yaml` may hold: nested lists are sections whose keys are checked, `*` a section
/// whose content is free (settings of the original osiris does not use, kept so its files load).
const KNOWN_SETTINGS: &str = "version
filesystem.base_path filesystem.pipelines_dir filesystem.build_dir filesystem.aiop_dir
filesystem.run_logs_dir filesystem.sessions_dir filesystem.cache_dir filesystem.index_dir
filesystem.mcp_logs_dir filesystem.profiles.* filesystem.naming.* filesystem.artifacts.*
filesystem.outputs.* filesystem.retention.run_logs_days filesystem.retention.aiop_keep_runs_per_pipeline
filesystem.retention.annex_keep_days ids.* logging.* discovery.* llm.* pipeline.* validation.* mcp.*
aiop.enabled aiop.policy aiop.max_core_bytes aiop.timeline_density aiop.metrics_topk aiop.schema_mode
aiop.delta aiop.run_card aiop.output.* aiop.annex.enabled aiop.annex.dir aiop.annex.compress
aiop.retention.keep_runs aiop.retention.annex_keep_days aiop.narrative.* aiop.index.*
state.backend state.dsn state.schema";

/// The incremental state backend `osiris.yaml` asks for: None for the default (files beside the
/// runs directory), or PostgreSQL with `state: {backend: postgres, dsn: "${OSIRIS_STATE_DSN}",
/// schema: osiris}` (`${VAR}` from the environment or `.env`).
pub fn state_backend(settings: &serde_json::Value) -> Result<Option<crate::runtime::state::postgres::PgState>, String> {
    let section = &settings["state"];
    match section["backend"].as_str() {
        None | Some("file") => Ok(None),
        Some("postgres") => {
            let dsn = crate::connections::substitute_env(&section["dsn"])
                .map_err(|var| format!("state.dsn: environment variable `{var}` is not set"))?;
            let dsn = dsn
                .as_str()
                .filter(|d| !d.is_empty())
                .ok_or("state.dsn: a PostgreSQL DSN is needed for backend postgres")?;
            let schema = section["schema"].as_str().unwrap_or("osiris").to_string();
            Ok(Some(crate::runtime::state::postgres::PgState::new(
                crate::connections::Secret::new(dsn.to_string()),
                schema,
            )))
        }
        Some(other) => Err(format!("state.backend: `{other}` is not a state backend (file, postgres)")),
    }
}

/// Dotted paths of keys in `settings` (a parsed `osiris.yaml`) that osiris does not know, for a
/// warning that names them (a typo such as `aiop.max_core_byte` would otherwise be ignored).
pub fn unknown_settings(settings: &serde_json::Value) -> Vec<String> {
    let known: Vec<&str> = KNOWN_SETTINGS.split_whitespace().collect();
    let mut out = Vec::new();
    fn walk(v: &serde_json::Value, prefix: &str, known: &[&str], out: &mut Vec<String>) {
        let Some(map) = v.as_object() else { return };
        for (k, child) in map {
            let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            if known.iter().any(|p| *p == path || p.strip_suffix(".*").is_some_and(|s| s == path)) {
                continue;
            }
            if known.iter().any(|p| p.starts_with(&format!("{path}."))) && child.is_object() {
                walk(child, &path, known, out);
            } else {
                out.push(path);
            }
        }
    }
    walk(settings, "", &known, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::unknown_settings;

    #[test]
    fn unknown_settings_are_named_with_their_path() {
        let v = serde_json::json!({
            "version": "2.0",
            "filesystem": {"run_logs_dir": "run_logs", "naming": {"anything": 1}, "retention": {"run_log_days": 3}},
            "aiop": {"enabled": true, "max_core_byte": 1, "annex": {"enabled": false}},
            "logging": {"level": "INFO"},
            "extra": 1,
        });
        assert_eq!(unknown_settings(&v), vec!["filesystem.retention.run_log_days", "aiop.max_core_byte", "extra"]);
    }
}
