//! Discovery: what a connection holds, for an agent writing a pipeline (`osiris discovery run`,
//! MCP `discovery_request`). Each family's discovery lives beside its drivers
//! ([`crate::drivers::discovery`]); this module resolves the connection, caches the result under
//! `.osiris/discovery/<id>/` (`overview.json`, `tables.json`, `samples.json`) and redacts it.
//! Samples are data: they go to the cache and the reply, never to a log.

use crate::compiler::canonical::sha256_hex;
use crate::connections::{parse_reference, ConnectionsFile, Redactor};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long a cached discovery is served (the original's 24 h).
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);

/// Most sample rows per table.
pub const MAX_SAMPLES: usize = 100;

/// A discovery to make.
#[derive(Debug, Clone)]
pub struct Request {
    /// `@family.alias`.
    pub connection: String,
    /// Sample rows per table (0 to [`MAX_SAMPLES`]).
    pub samples: usize,
    /// Ignore the cache.
    pub refresh: bool,
    /// Serve a cached result younger than this.
    pub ttl: Duration,
}

/// Why discovery failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The reference is not `@family.alias` or the connection does not resolve.
    #[error("{0}")]
    Connection(String),
    /// This build cannot discover the family.
    #[error(
        "no discovery for `{0}` connections (mysql, supabase with a DSN, posthog, graphql and filesystem have one)"
    )]
    Unsupported(String),
    /// The source answered with an error.
    #[error("{0}")]
    Source(String),
    /// Reading or writing the cache failed.
    #[error("{path}: {source}")]
    Cache {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The original's id: `disc_` and 16 hex digits of connection, component and samples.
pub fn discovery_id(connection: &str, component: &str, samples: usize) -> String {
    format!("disc_{}", &sha256_hex(format!("{connection}|{component}|{samples}").as_bytes())[..16])
}

/// The extractor a family's tables are read with (part of the id, as in the original).
fn component_of(family: &str) -> &'static str {
    match family {
        "mysql" => "mysql.extractor",
        "supabase" => "supabase.extractor",
        "posthog" => "posthog.extractor",
        "graphql" => "graphql.extractor",
        _ => "filesystem.csv_extractor",
    }
}

/// Discover, or serve the cache under `<root>/.osiris/discovery/`.
pub fn run(file: &ConnectionsFile, root: &Path, req: &Request) -> Result<Value, DiscoveryError> {
    let reference =
        if req.connection.starts_with('@') { req.connection.clone() } else { format!("@{}", req.connection) };
    let (family, alias) = parse_reference(&reference).ok_or_else(|| {
        DiscoveryError::Connection(format!("`{}` is not a connection reference like @mysql.default", req.connection))
    })?;
    let connection = file.resolve(family, Some(alias)).map_err(|d| DiscoveryError::Connection(d.to_string()))?;
    let samples = req.samples.min(MAX_SAMPLES);
    let component = component_of(family);
    let id = discovery_id(&reference, component, samples);
    let dir = root.join(".osiris").join("discovery").join(&id);
    let cache = |name: &str| dir.join(name);
    let fresh = std::fs::metadata(cache("tables.json"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < req.ttl);
    let artifacts = json!({
        "overview": format!("osiris://mcp/discovery/{id}/overview.json"),
        "tables": format!("osiris://mcp/discovery/{id}/tables.json"),
        "samples": format!("osiris://mcp/discovery/{id}/samples.json"),
    });
    if fresh && !req.refresh {
        let read = |name: &str| -> Result<Value, DiscoveryError> {
            let path = cache(name);
            let text = std::fs::read_to_string(&path)
                .map_err(|source| DiscoveryError::Cache { path: path.clone(), source })?;
            serde_json::from_str(&text)
                .map_err(|e| DiscoveryError::Cache { path, source: std::io::Error::other(e.to_string()) })
        };
        return Ok(json!({"discovery_id": id, "cached": true, "overview": read("overview.json")?,
            "tables": merge_samples(read("tables.json")?, &read("samples.json")?), "artifacts": artifacts, "status": "success"}));
    }
    let discover = crate::drivers::discovery(family).ok_or_else(|| DiscoveryError::Unsupported(family.to_string()))?;
    let mut redactor = Redactor::default();
    connection.register_secrets(&mut redactor);
    let mut found = discover(&connection, samples, root).map_err(|e| DiscoveryError::Source(redactor.redact(&e)))?;
    redactor.redact_json(&mut found);
    let mut tables = found["tables"].as_array().cloned().unwrap_or_default();
    let mut sample_map = Map::new();
    for t in &mut tables {
        if let Some(rows) = t.as_object_mut().and_then(|o| o.remove("samples")) {
            sample_map.insert(sample_key(t), rows);
        }
    }
    let mut overview = found.clone();
    overview.as_object_mut().map(|o| o.remove("tables"));
    overview["discovery_id"] = json!(id);
    overview["connection"] = json!(reference);
    overview["family"] = json!(family);
    overview["component"] = json!(component);
    overview["samples_per_table"] = json!(samples);
    overview["tables_count"] = json!(tables.len());
    overview["generated_at"] = json!(crate::runtime::now_rfc3339());
    crate::runtime::create_private_dir(&dir).map_err(|source| DiscoveryError::Cache { path: dir.clone(), source })?;
    let samples_json = Value::Object(sample_map);
    for (name, value) in
        [("overview.json", &overview), ("samples.json", &samples_json), ("tables.json", &Value::Array(tables.clone()))]
    {
        let path = cache(name);
        crate::runtime::write_atomic(&path, serde_json::to_string_pretty(value).expect("JSON serializes"))
            .map_err(|source| DiscoveryError::Cache { path, source })?;
    }
    Ok(json!({"discovery_id": id, "cached": false, "overview": overview,
        "tables": merge_samples(Value::Array(tables), &samples_json), "artifacts": artifacts, "status": "success"}))
}

/// A table's key in `samples.json`: `schema.name` when it has a schema.
fn sample_key(table: &Value) -> String {
    match (table["schema"].as_str(), table["name"].as_str().unwrap_or_default()) {
        (Some(schema), name) => format!("{schema}.{name}"),
        (None, name) => name.to_string(),
    }
}

/// Tables with their sample rows put back.
fn merge_samples(tables: Value, samples: &Value) -> Value {
    let mut tables = tables.as_array().cloned().unwrap_or_default();
    for t in &mut tables {
        let rows = samples.get(sample_key(t)).cloned().unwrap_or(json!([]));
        t["samples"] = rows;
    }
    Value::Array(tables)
}
