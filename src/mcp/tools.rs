//! The MCP tools, as plain functions over JSON: the original's twelve (names, inputs and result
//! shapes kept) and the ones that close the author's loop (compile, run, inspect). Each takes the
//! call's arguments and returns its `result` object or a [`ToolError`]; [`super::server`] wraps
//! them in the original's envelopes. Nothing here is async or knows the transport.

use super::context::Context;
use crate::diagnostics::Diagnostic;
use crate::report::{aiop, history};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// A failed call: the original's `error` object (`code`, `message`, `details`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ToolError {
    /// Machine-readable code, e.g. `invalid_argument`, `consent_required`, `not_allowed`.
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: String,
    /// Structured details.
    pub details: Value,
}

impl ToolError {
    /// An error with no details.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), details: json!({}) }
    }

    /// Attach details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// What a tool may do, for the read-only default and its annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads only.
    ReadOnly,
    /// Writes inside the project's own `.osiris/` or `build/` (drafts, compiled manifests).
    ProjectOnly,
    /// Runs pipelines: needs `--allow-run`.
    Run,
    /// Writes outside the drafts: needs `--allow-write`.
    Write,
}

/// One tool.
pub struct ToolSpec {
    /// Canonical name.
    pub name: &'static str,
    /// Other names it answers to (the original's dotted aliases).
    pub aliases: &'static [&'static str],
    /// What it does, for the agent.
    pub description: &'static str,
    /// JSON Schema of its arguments.
    pub input: fn() -> Value,
    /// JSON Schema of its `result`.
    pub output: fn() -> Value,
    /// What it may change.
    pub effect: Effect,
    /// The implementation.
    pub call: fn(&Context, &Map<String, Value>) -> Result<Value, ToolError>,
}

fn obj(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required})
}

fn any_object() -> Value {
    json!({"type": "object"})
}

fn no_args() -> Value {
    obj(json!({}), &[])
}

/// Every tool, in the order `tools/list` shows them.
pub fn catalogue() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "connections_list",
            aliases: &["osiris.connections.list", "connections.list"],
            description: "List the project's connections (family, alias, reference, config with secrets masked).",
            input: no_args,
            output: || obj(json!({"connections": {"type": "array"}, "count": {"type": "integer"}, "status": {"type": "string"}}), &["connections", "count", "status"]),
            effect: Effect::ReadOnly,
            call: connections_list,
        },
        ToolSpec {
            name: "connections_doctor",
            aliases: &["osiris.connections.doctor", "connections.doctor"],
            description: "Check one connection (connect, authenticate, list tables) and report each check with its latency.",
            input: || obj(json!({"connection": {"type": "string", "description": "@family.alias"}}), &["connection"]),
            output: || obj(json!({"results": {"type": "array"}, "status": {"type": "string"}}), &["results", "status"]),
            effect: Effect::ReadOnly,
            call: connections_doctor,
        },
        ToolSpec {
            name: "components_list",
            aliases: &["osiris.components.list", "components.list"],
            description: "List the components (extractors, writers, processors) with their modes, capabilities, required and optional config fields.",
            input: no_args,
            output: || obj(json!({"components": any_object(), "total_count": {"type": "integer"}, "status": {"type": "string"}}), &["components", "total_count", "status"]),
            effect: Effect::ReadOnly,
            call: components_list,
        },
        ToolSpec {
            name: "discovery_request",
            aliases: &["osiris.introspect_sources", "discovery.request"],
            description: "What a connection holds: tables (or files) with columns typed as osiris loads them, keys, row estimates and sample rows. Cached 24 h under .osiris/discovery/.",
            input: || obj(json!({"connection": {"type": "string", "description": "@family.alias"}, "component": {"type": "string"}, "samples": {"type": "integer", "minimum": 0, "maximum": 100}, "idempotency_key": {"type": "string"}, "refresh": {"type": "boolean"}}), &["connection"]),
            output: || obj(json!({"discovery_id": {"type": "string", "pattern": "^disc_[0-9a-f]{16}$"}, "cached": {"type": "boolean"}, "overview": any_object(), "tables": {"type": "array"}, "artifacts": any_object(), "status": {"type": "string"}}), &["discovery_id", "cached", "tables", "artifacts", "status"]),
            effect: Effect::ReadOnly,
            call: discovery_request,
        },
        ToolSpec {
            name: "usecases_list",
            aliases: &["osiris.usecases.list", "usecases.list"],
            description: "Example pipelines that validate and run, by category, with their OML.",
            input: no_args,
            output: || obj(json!({"usecases": {"type": "array"}, "by_category": any_object(), "total_count": {"type": "integer"}, "categories": {"type": "array"}, "status": {"type": "string"}}), &["usecases", "total_count", "status"]),
            effect: Effect::ReadOnly,
            call: usecases_list,
        },
        ToolSpec {
            name: "oml_schema_get",
            aliases: &["osiris.oml.schema.get", "oml.schema.get"],
            description: "The JSON Schema of OML v0.1.0 pipelines.",
            input: no_args,
            output: || obj(json!({"version": {"type": "string"}, "schema": any_object(), "schema_uri": {"type": "string"}, "status": {"type": "string"}}), &["version", "schema", "status"]),
            effect: Effect::ReadOnly,
            call: oml_schema_get,
        },
        ToolSpec {
            name: "oml_validate",
            aliases: &["osiris.validate_oml", "oml.validate"],
            description: "Validate OML text: every finding with its line, column, step, field path and a fix hint.",
            input: || obj(json!({"oml_content": {"type": "string"}, "strict": {"type": "boolean"}}), &["oml_content"]),
            output: || obj(json!({"valid": {"type": "boolean"}, "diagnostics": {"type": "array", "items": obj(json!({"type": {"enum": ["error", "warning", "info"]}, "line": {"type": "integer"}, "column": {"type": "integer"}, "message": {"type": "string"}, "id": {"type": "string"}}), &["type", "line", "column", "message", "id"])}, "summary": any_object(), "status": {"type": "string"}}), &["valid", "diagnostics", "summary", "status"]),
            effect: Effect::ReadOnly,
            call: oml_validate,
        },
        ToolSpec {
            name: "oml_save",
            aliases: &["osiris.save_oml", "oml.save"],
            description: "Save OML text as a draft under .osiris/mcp/drafts/oml/.",
            input: || obj(json!({"oml_content": {"type": "string"}, "session_id": {"type": "string"}, "filename": {"type": "string"}}), &["oml_content", "session_id"]),
            output: || obj(json!({"saved": {"type": "boolean"}, "uri": {"type": "string"}, "path": {"type": "string"}, "filename": {"type": "string"}, "session_id": {"type": "string"}, "timestamp": {"type": "string"}, "status": {"type": "string"}}), &["saved", "uri", "filename", "status"]),
            effect: Effect::ProjectOnly,
            call: oml_save,
        },
        ToolSpec {
            name: "guide_start",
            aliases: &["osiris.guide_start", "guide.start"],
            description: "Where to go next from an intent: the next tool to call, with arguments, and the workflow.",
            input: || obj(json!({"intent": {"type": "string"}, "known_connections": {"type": "array", "items": {"type": "string"}}, "has_discovery": {"type": "boolean"}, "has_previous_oml": {"type": "boolean"}, "has_error_report": {"type": "boolean"}}), &["intent"]),
            output: || obj(json!({"objective": {"type": "string"}, "next_step": {"type": "string"}, "next_steps": {"type": "array"}, "workflow_instructions": {"type": "array"}, "status": {"type": "string"}}), &["objective", "next_step", "next_steps", "status"]),
            effect: Effect::ReadOnly,
            call: guide_start,
        },
        ToolSpec {
            name: "memory_capture",
            aliases: &["osiris.memory.capture", "memory.capture"],
            description: "Record a session's decisions for later (needs consent: true and a server started with --allow-write).",
            input: || obj(json!({"consent": {"type": "boolean"}, "session_id": {"type": "string"}, "intent": {"type": "string"}, "retention_days": {"type": "integer", "minimum": 1, "maximum": 730}, "decisions": {"type": "array"}, "notes": {"type": "string"}}), &["consent", "session_id", "intent"]),
            output: || obj(json!({"captured": {"type": "boolean"}, "memory_id": {"type": "string"}, "status": {"type": "string"}}), &["captured", "status"]),
            effect: Effect::Write,
            call: memory_capture,
        },
        ToolSpec {
            name: "aiop_list",
            aliases: &["osiris.aiop.list", "aiop.list"],
            description: "AI Operation Packages of past runs, newest first.",
            input: || obj(json!({"pipeline": {"type": "string"}, "profile": {"type": "string"}}), &[]),
            output: || obj(json!({"aiop_dir": {"type": "string"}, "total": {"type": "integer"}, "packages": {"type": "array"}}), &["total", "packages"]),
            effect: Effect::ReadOnly,
            call: aiop_list,
        },
        ToolSpec {
            name: "aiop_show",
            aliases: &["osiris.aiop.show", "aiop.show"],
            description: "The AIOP summary.json of a run (`last` for the newest).",
            input: || obj(json!({"run_id": {"type": "string"}}), &["run_id"]),
            output: || json!({"type": "object", "required": ["@context", "run", "pipeline", "evidence", "metadata"]}),
            effect: Effect::ReadOnly,
            call: aiop_show,
        },
        ToolSpec {
            name: "oml_compile",
            aliases: &["osiris.oml.compile", "oml.compile"],
            description: "Compile OML text into a manifest under build/: its path, hashes and each step's config keys.",
            input: || obj(json!({"oml_content": {"type": "string"}, "params": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}, "profile": {"type": "string"}}), &["oml_content"]),
            output: || obj(json!({"manifest_path": {"type": "string"}, "manifest_hash": {"type": "string"}, "manifest_short": {"type": "string"}, "steps": {"type": "array"}, "warnings": {"type": "array"}}), &["manifest_path", "manifest_hash", "steps"]),
            effect: Effect::ProjectOnly,
            call: oml_compile,
        },
        ToolSpec {
            name: "runs_list",
            aliases: &["osiris.runs.list", "runs.list"],
            description: "Past runs, newest first (failed and running ones too).",
            input: || obj(json!({"pipeline": {"type": "string"}, "status": {"enum": ["success", "failed", "cancelled", "running"]}, "limit": {"type": "integer", "minimum": 1}}), &[]),
            output: || obj(json!({"total_sessions": {"type": "integer"}, "sessions": {"type": "array"}}), &["total_sessions", "sessions"]),
            effect: Effect::ReadOnly,
            call: runs_list,
        },
        ToolSpec {
            name: "run_status",
            aliases: &["osiris.run.status", "run.status"],
            description: "One run: status, steps with rows, durations, relation kinds and errors.",
            input: || obj(json!({"run_id": {"type": "string"}}), &["run_id"]),
            output: || obj(json!({"run_id": {"type": "string"}, "status": {"type": "string"}, "steps": {"type": "array"}}), &["run_id", "status", "steps"]),
            effect: Effect::ReadOnly,
            call: run_status,
        },
        ToolSpec {
            name: "run_events",
            aliases: &["osiris.run.events", "run.events"],
            description: "A run's events from a cursor (pass back next_cursor to continue); finished says whether more can come.",
            input: || obj(json!({"run_id": {"type": "string"}, "cursor": {"type": "integer", "minimum": 0}, "limit": {"type": "integer", "minimum": 1}}), &["run_id"]),
            output: || obj(json!({"events": {"type": "array"}, "next_cursor": {"type": "integer"}, "finished": {"type": "boolean"}}), &["events", "next_cursor", "finished"]),
            effect: Effect::ReadOnly,
            call: run_events,
        },
        ToolSpec {
            name: "table_preview",
            aliases: &["osiris.table.preview", "table.preview"],
            description: "Schema and first rows of a step's relation in a run's exchange file.",
            input: || obj(json!({"run_id": {"type": "string"}, "step": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "maximum": 1000}}), &["run_id", "step"]),
            output: || obj(json!({"step": {"type": "string"}, "columns": {"type": "array"}, "rows": {"type": "array"}, "row_count": {"type": "integer"}}), &["step", "columns", "rows"]),
            effect: Effect::ReadOnly,
            call: table_preview,
        },
        ToolSpec {
            name: "sql_query",
            aliases: &["osiris.sql.query", "sql.query"],
            description: "A read-only SELECT over a run's exchange file (each step is a relation named by its id); rows capped, no file access.",
            input: || obj(json!({"run_id": {"type": "string"}, "sql": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "maximum": 10000}}), &["run_id", "sql"]),
            output: || obj(json!({"columns": {"type": "array"}, "rows": {"type": "array"}, "row_count": {"type": "integer"}, "truncated": {"type": "boolean"}}), &["columns", "rows", "row_count", "truncated"]),
            effect: Effect::ReadOnly,
            call: sql_query,
        },
        ToolSpec {
            name: "pipeline_run",
            aliases: &["osiris.pipeline.run", "pipeline.run"],
            description: "Run a pipeline (OML text, or a path under the project) and return the `osiris run --json` object; progress is notified per step. Needs a server started with --allow-run.",
            input: || obj(json!({"oml_content": {"type": "string"}, "path": {"type": "string"}, "params": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}, "profile": {"type": "string"}}), &[]),
            output: || obj(json!({"status": {"type": "string"}, "run_id": {"type": "string"}, "run_dir": {"type": "string"}, "steps": {"type": "array"}, "total_rows": {"type": "integer"}}), &["status", "run_id", "steps"]),
            effect: Effect::Run,
            call: |_, _| Err(ToolError::new("internal", "pipeline_run is served by the server, which reports progress")),
        },
    ]
}

fn arg_str<'a>(args: &'a Map<String, Value>, name: &str) -> Result<&'a str, ToolError> {
    args.get(name).and_then(Value::as_str).ok_or_else(|| {
        ToolError::new("invalid_argument", format!("`{name}` is required and must be a string"))
            .with_details(json!({"argument": name}))
    })
}

fn opt_str<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    args.get(name).and_then(Value::as_str)
}

fn connections_list(ctx: &Context, _: &Map<String, Value>) -> Result<Value, ToolError> {
    let file = ctx.connections()?;
    let masked = file.masked();
    let mut list = Vec::new();
    for (family, aliases) in masked.as_object().into_iter().flatten() {
        for (alias, info) in aliases.as_object().into_iter().flatten() {
            list.push(json!({"family": family, "alias": alias, "reference": info["reference"], "config": info["config"], "env_vars": info["env_vars"], "is_default": info["is_default"]}));
        }
    }
    Ok(json!({"connections": list, "count": list.len(), "status": "success"}))
}

fn connections_doctor(ctx: &Context, args: &Map<String, Value>) -> Result<Value, ToolError> {
    let wanted = arg_str(args, "connection")?.trim_start_matches('@').to_string();
    let file = ctx.connections()?;
    let results = crate::drivers::health::doctor(&file, Some(&wanted));
    if results.is_empty() {
        return Err(ToolError::new("not_found", format!("no connection @{wanted} in the connections file"))
            .with_details(json!({"connection": format!("@{wanted}")})));
    }
    Ok(json!({"results": results, "status": "success"}))
}

fn discovery_request(ctx: &Context, args: &Map<String, Value>) -> Result<Value, ToolError> {
    let req = crate::discovery::Request {
        connection: arg_str(args, "connection")?.to_string(),
        samples: args.get("samples").and_then(Value::as_u64).unwrap_or(5) as usize,
        refresh: args.get("refresh").and_then(Value::as_bool).unwrap_or(false),
        ttl: crate::discovery::DEFAULT_TTL,
    };
    let file = ctx.connections()?;
    crate::discovery::run(&file, &ctx.root, &req).map_err(|e| {
        let code = match e {
            crate::discovery::DiscoveryError::Connection(_) => "invalid_connection",
            crate::discovery::DiscoveryError::Unsupported(_) => "not_supported",
            crate::discovery::DiscoveryError::Source(_) => "source_error",
            crate::discovery::DiscoveryError::Cache { .. } => "io_error",
        };
        ToolError::new(code, e.to_string()).with_details(json!({"connection": req.connection}))
    })
}

fn components_list(ctx: &Context, _: &Map<String, Value>) -> Result<Value, ToolError> {
    let mut groups: Map<String, Value> =
        ["extractors", "writers", "processors", "other"].iter().map(|g| (g.to_string(), json!([]))).collect();
    let mut total = 0;
    for spec in ctx.registry.specs() {
        let group = match spec.modes.first().map(String::as_str) {
            Some("extract") => "extractors",
            Some("write") => "writers",
            Some("transform") => "processors",
            _ => "other",
        };
        let examples: Vec<Value> = spec
            .raw
            .get("examples")
            .and_then(Value::as_array)
            .map(|e| e.iter().take(2).cloned().collect())
            .unwrap_or_default();
        let item = json!({
            "name": spec.name, "version": spec.version, "description": spec.description, "modes": spec.modes,
            "tags": spec.raw.get("tags").cloned().unwrap_or(json!([])),
            "capabilities": ctx.registry.capabilities(&spec.name).unwrap_or_default(),
            "required_fields": spec.required(), "optional_fields": spec.properties().into_iter().filter(|p| !spec.required().contains(p)).collect::<Vec<_>>(),
            "runnable": ctx.registry.is_runnable(&spec.name), "examples": examples,
        });
        groups[group].as_array_mut().expect("array").push(item);
        total += 1;
    }
    Ok(json!({"components": groups, "total_count": total, "status": "success"}))
}

/// The bundled use cases: pipelines that validate and run (each is tested).
pub const USECASES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "csv-report",
        "CSV report with a lookup join",
        "reporting",
        "Join orders with a city lookup, aggregate revenue per country, write two CSV reports.",
        include_str!("../../examples/orders_report.yaml"),
    ),
    (
        "csv-filter-to-parquet",
        "Filter a CSV into Parquet",
        "conversion",
        "Keep the rows that match a condition and write them as a Parquet file.",
        "oml_version: \"0.1.0\"\nname: filter-to-parquet\nsteps:\n  - id: extract-orders\n    component: filesystem.csv_extractor\n    mode: read\n    config: {path: data/orders.csv}\n  - id: big-orders\n    component: duckdb.processor\n    mode: transform\n    needs: [extract-orders]\n    config:\n      query: SELECT * FROM \"extract-orders\" WHERE quantity >= 3\n  - id: write-parquet\n    component: filesystem.parquet_writer\n    mode: write\n    needs: [big-orders]\n    config: {path: output/big_orders.parquet}\n",
    ),
    (
        "mysql-to-csv",
        "MySQL table to CSV",
        "extraction",
        "Extract a MySQL table (connection @mysql.default) and write it as CSV.",
        "oml_version: \"0.1.0\"\nname: mysql-to-csv\nsteps:\n  - id: extract-customers\n    component: mysql.extractor\n    mode: read\n    config: {connection: \"@mysql.default\", table: customers}\n  - id: write-customers\n    component: filesystem.csv_writer\n    mode: write\n    needs: [extract-customers]\n    config: {path: output/customers.csv}\n",
    ),
];

fn usecases_list(_: &Context, _: &Map<String, Value>) -> Result<Value, ToolError> {
    let mut by_category: Map<String, Value> = Map::new();
    let usecases: Vec<Value> = USECASES
        .iter()
        .map(|(id, name, category, description, oml)| {
            by_category.entry(category.to_string()).or_insert(json!([])).as_array_mut().expect("array").push(json!(id));
            json!({"id": id, "name": name, "description": description, "category": category, "tags": [category],
                "difficulty": "beginner", "snippet_uri": format!("osiris://mcp/usecases/{id}.yaml"), "oml": oml})
        })
        .collect();
    let categories: Vec<&String> = by_category.keys().collect();
    Ok(
        json!({"usecases": usecases, "by_category": by_category, "total_count": USECASES.len(), "categories": categories, "status": "success"}),
    )
}

/// The JSON Schema of OML v0.1.0 (`schemas/oml-v0.1.0.schema.json`).
pub const OML_SCHEMA: &str = include_str!("../../schemas/oml-v0.1.0.schema.json");

fn oml_schema_get(_: &Context, _: &Map<String, Value>) -> Result<Value, ToolError> {
    let schema: Value = serde_json::from_str(OML_SCHEMA).expect("the shipped OML schema is JSON");
    Ok(
        json!({"version": "0.1.0", "schema": schema, "schema_uri": "osiris://mcp/schemas/oml/v0.1.0.json", "status": "success"}),
    )
}

/// The original's diagnostic shape, with real positions and our step, path and hint.
fn diagnostic_json(d: &Diagnostic) -> Value {
    let kind = if d.is_error() { "error" } else { "warning" };
    let (line, column) = (d.line.unwrap_or(0), d.column.unwrap_or(0));
    json!({"type": kind, "line": line, "column": column, "message": d.message,
        "id": format!("{}_{line}_{column}", d.kind), "kind": d.kind, "step": d.step, "path": d.location, "hint": d.hint})
}

fn oml_validate(ctx: &Context, args: &Map<String, Value>) -> Result<Value, ToolError> {
    let content = arg_str(args, "oml_content")?;
    let draft = ctx.scratch_file(content)?;
    let findings = match ctx.prepare_pipeline(draft.path(), &Map::new(), None) {
        Ok(req) => req.warnings,
        Err(invalid) => invalid.diagnostics,
    };
    let diagnostics: Vec<Value> = findings.iter().map(diagnostic_json).collect();
    let errors = findings.iter().filter(|d| d.is_error()).count();
    Ok(json!({
        "valid": errors == 0, "diagnostics": diagnostics,
        "summary": {"errors": errors, "warnings": findings.len() - errors, "info": 0}, "status": "success",
    }))
}

/// A file name an agent gave, reduced to one safe path component.
fn safe_file_name(name: &str) -> Result<String, ToolError> {
    if super::resources::is_plain_file_name(name) {
        Ok(name.to_string())
    } else {
        Err(ToolError::new(
            "invalid_argument",
            format!("`{name}` is not a plain file name (letters, digits, - _ . only)"),
        )
        .with_details(json!({"argument": "filename"})))
    }
}

fn oml_save(ctx: &Context, args: &Map<String, Value>) -> Result<Value, ToolError> {
    let content = arg_str(args, "oml_content")?;
    let session = safe_file_name(arg_str(args, "session_id")?)?;
    let ts = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}_{:02}{:02}{:02}",
        ts.year(),
        u8::from(ts.month()),
        ts.day(),
        ts.hour(),
        ts.minute(),
        ts.second()
    );
    let filename = match opt_str(args, "filename") {
        Some(f) => safe_file_name(f)?,
        None => format!("{session}_{stamp}.yaml"),
    };
    let dir = ctx.mcp_dir().join("drafts").join("oml");
    crate::runtime::create_private_dir(&dir)
        .map_err(|e| ToolError::new("io_error", format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(&filename);
    std::fs::write(&path, content)
        .map_err(|e| ToolError::new("io_error", format!("cannot write {}: {e}", path.display())))?;
    Ok(json!({"saved": true, "uri": format!("osiris://mcp/drafts/oml/{filename}"), "path": path, "filename": filename,
        "session_id": session, "timestamp": crate::runtime::now_rfc3339(), "status": "success"}))
}

fn guide_start(ctx: &Context, args: &Map<String, Value>) -> Result<Value, ToolError> {
    let intent = arg_str(args, "intent")?;
    let flag = |n: &str| args.get(n).and_then(Value::as_bool).unwrap_or(false);
    let known = args.get("known_connections").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    let (next, arguments, why) = if !known {
        ("connections_list", json!({}), "find the connections this project defines")
    } else if !flag("has_previous_oml") {
        ("usecases_list", json!({}), "start from a pipeline that is known to run, and the OML schema")
    } else if flag("has_error_report") {
        ("oml_validate", json!({"oml_content": "<your OML>"}), "see every finding with its line and fix hint")
    } else {
        ("oml_validate", json!({"oml_content": "<your OML>"}), "validate, then compile and run")
    };
    let run_hint =
        if ctx.allow_run { "pipeline_run runs it" } else { "pipeline_run needs a server started with --allow-run" };
    Ok(json!({
        "objective": intent,
        "next_step": next,
        "next_steps": [{"tool": next, "arguments": arguments, "description": why}],
        "examples": USECASES.iter().map(|u| u.0).collect::<Vec<_>>(),
        "context": {"known_connections": known, "has_discovery": flag("has_discovery"), "has_previous_oml": flag("has_previous_oml")},
        "recommendations": [
            "Reference connections as `connection: \"@family.alias\"`; never put secrets in OML.",
            "Name steps in kebab-case; each step's output is a relation named by its id, quote it in SQL (\"step-id\").",
            "Validate after every edit: diagnostics carry the line, column, step and a fix hint.",
        ],
        "references": ["osiris://mcp/schemas/oml/v0.1.0.json"],
        "workflow_instructions": [
            "connections_list → components_list → usecases_list / oml_schema_get",
            "write OML → oml_validate until valid → oml_compile",
            format!("{run_hint} → run_status / run_events → table_preview / sql_query → aiop_show"),
        ],
        "status": "success",
    }))
}

fn memory_capture(ctx: &Context, args: &Map<String, Value>) -> Result<Value, ToolError> {
    if args.get("consent").and_then(Value::as_bool) != Some(true) {
        return Err(ToolError::new(
            "consent_required",
            "memory_capture stores session notes only with `consent: true`",
        ));
    }
    let session = safe_file_name(arg_str(args, "session_id")?)?;
    let intent = arg_str(args, "intent")?;
    let days = args.get("retention_days").and_then(Value::as_u64).unwrap_or(365);
    if !(1..=730).contains(&days) {
        return Err(ToolError::new("invalid_argument", "retention_days must be between 1 and 730"));
    }
    let mut record = json!({"ts": crate::runtime::now_rfc3339(), "session_id": session, "intent": intent,
        "retention_days": days, "decisions": args.get("decisions"), "notes": args.get("notes")});
    ctx.redactor.redact_json(&mut record);
    let dir = ctx.mcp_dir().join("memory");
    let path = dir.join(format!("{session}.jsonl"));
    crate::runtime::append_locked(&path, &format!("{record}\n"))
        .map_err(|e| ToolError::new("io_error", format!("cannot write {}: {e}", path.display())))?;
    Ok(
        json!({"captured": true, "memory_id": session, "uri": format!("osiris://mcp/memory/{session}.jsonl"), "status": "success"}),
    )
}

fn aiop_list(ctx: &Context, args: &Map<String, Value>) -> Result<Value, ToolError> {
    let settings = ctx.aiop_settings();
    let want = |k: &str, r: &Value| {
        opt_str(args, k).is_none_or(|w| r[k] == json!(w) || (k == "pipeline" && r["pipeline_slug"] == json!(w)))
    };
    let packages: Vec<Value> =
        aiop::records(&settings).into_iter().rev().filter(|r| want("pipeline", r) && want("profile", r)).collect();
    Ok(json!({"aiop_dir": settings.dir, "total": packages.len(), "packages": packages}))
}

fn find_run(ctx: &Context, run: &str) -> Result<PathBuf, ToolError> {
    history::find(&ctx.runs_dir, run)
        .map_err(|e| ToolError::new("not_found", e.to_string()).with_details(json!({"run_id": run})))
}

fn aiop_show(ctx: &Context, args: &Map<String, Value>) -> Result<Value, ToolError> {
    let dir = find_run(ctx, arg_str(args, "run_id")?)?;
    let id = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let record = aiop::records(&ctx.aiop_settings()).into_iter().rev().find(|r| r["session_id"] == json!(id));
    let core = record.as_ref().and_then(|r| r["core_path"].as_str()).map(PathBuf::from).ok_or_else(|| {
        ToolError::new("not_found", format!("run {id} has no AIOP package")).with_details(json!({"run_id": id}))
    })?;
    let text = std::fs::read_to_string(&core)
        .map_err(|e| ToolError::new("io_error", format!("cannot read {}: {e}", core.display())))?;
    serde_json::from_str(&text).map_err(|e| ToolError::new("internal", format!("{} is not JSON: {e}", core.display())))
}

fn params_of(args: &Map<String, Value>) -> Map<String, Value> {
    args.get("params").and_then(Value::as_object).cloned().unwrap_or_default()
}

fn oml_compile(ctx: &Context, args: &Map<String, Value>) -> Result<Value, ToolError> {
    let content = arg_str(args, "oml_content")?;
    let draft = ctx.scratch_file(content)?;
    let compiled = ctx.compile(draft.path(), &params_of(args), opt_str(args, "profile"))?;
    Ok(compiled)
}

fn runs_list(ctx: &Context, args: &Map<String, Value>) -> Result<Value, ToolError> {
    let filter = history::Filter {
        pipeline: opt_str(args, "pipeline").map(str::to_string),
        status: opt_str(args, "status").map(str::to_string),
        since: None,
        limit: Some(args.get("limit").and_then(Value::as_u64).unwrap_or(20) as usize),
    };
    let runs = history::list(&ctx.runs_dir, &filter);
    Ok(
        json!({"total_sessions": runs.len(), "sessions": runs.iter().map(history::RunSummary::session_json).collect::<Vec<_>>()}),
    )
}

fn run_status(ctx: &Context, args: &Map<String, Value>) -> Result<Value, ToolError> {
    let dir = find_run(ctx, arg_str(args, "run_id")?)?;
    let run = history::load(&dir).ok_or_else(|| ToolError::new("not_found", "not a run directory"))?;
    serde_json::to_value(&run).map_err(|e| ToolError::new("internal", e.to_string()))
}

fn run_events(ctx: &Context, args: &Map<String, Value>) -> Result<Value, ToolError> {
    let dir = find_run(ctx, arg_str(args, "run_id")?)?;
    let cursor = args.get("cursor").and_then(Value::as_u64).unwrap_or(0) as usize;
    let limit = args.get("limit").and_then(Value::as_u64).unwrap_or(200) as usize;
    let finished = dir.join("status.json").is_file();
    let events = history::events(&dir);
    let page: Vec<Value> = events.iter().skip(cursor).take(limit).cloned().collect();
    let next = cursor + page.len();
    Ok(json!({"events": page, "next_cursor": next, "finished": finished && next >= events.len()}))
}

/// Open a run's exchange file read-only.
fn open_exchange(dir: &Path) -> Result<duckdb::Connection, ToolError> {
    let path = dir.join(crate::exchange::FILE_NAME);
    if !path.is_file() {
        return Err(ToolError::new("not_found", format!("the run's exchange file is gone ({})", path.display())));
    }
    duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .and_then(|c| duckdb::Connection::open_with_flags(&path, c))
        .map_err(|e| ToolError::new("io_error", format!("cannot open {}: {e}", path.display())))
}

/// The files the run's extractor views read (`read_csv('/abs/path', …)` and the like). Only
/// extractor steps are asked: their SQL is written by osiris from validated config, whereas a
/// transform's view holds SQL an agent wrote.
fn extractor_files(conn: &duckdb::Connection, run: &history::RunSummary) -> Vec<String> {
    static READ: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"read_(?:csv|csv_auto|json|json_auto|ndjson|parquet)\s*\(\s*'((?:[^']|'')*)'")
            .expect("static regex")
    });
    let mut files = Vec::new();
    for step in run.steps.iter().filter(|s| s.mode == "extract" && s.relation.as_deref() == Some("view")) {
        let sql: Option<String> =
            conn.query_row("SELECT sql FROM duckdb_views() WHERE view_name = ?", [&step.id], |r| r.get(0)).ok();
        for cap in sql.iter().flat_map(|s| READ.captures_iter(s)) {
            files.push(cap[1].replace("''", "'"));
        }
    }
    files
}

/// Lock the connection down for SQL an agent wrote: DuckDB's external access off (no file,
/// network, extension or ATTACH) except the files the run's own extractor views read, and the
/// configuration locked so the query cannot turn it back on.
fn sandbox(conn: &duckdb::Connection, allowed: &[String]) -> Result<(), ToolError> {
    let list: Vec<String> = allowed.iter().map(|p| crate::exchange::quote_literal(p)).collect();
    let sql = format!(
        "SET allowed_paths = [{}]; SET enable_external_access = false; SET lock_configuration = true;",
        list.join(", ")
    );
    conn.execute_batch(&sql).map_err(|e| ToolError::new("internal", format!("cannot sandbox the query: {e}")))
}

/// Run `sql` and return (columns with types, rows as JSON text values), at most `limit` rows
/// plus whether more were there.
fn query_rows(conn: &duckdb::Connection, sql: &str, limit: usize) -> Result<(Vec<Value>, Vec<Value>, bool), ToolError> {
    let found = crate::exchange::text_rows(conn, sql, limit).map_err(|e| ToolError::new("sql_error", e.to_string()))?;
    let types = describe(conn, sql).unwrap_or_default();
    let columns = found
        .columns
        .iter()
        .map(|c| json!({"name": c, "type": types.iter().find(|(n, _)| n == c).map(|(_, t)| t.clone())}))
        .collect();
    let rows = found.rows.into_iter().map(|r| json!(r)).collect();
    Ok((columns, rows, found.truncated))
}

/// Column names and DuckDB types of a query.
fn describe(conn: &duckdb::Connection, sql: &str) -> Result<Vec<(String, String)>, duckdb::Error> {
    let mut stmt = conn.prepare(&format!("DESCRIBE ({sql})"))?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    rows.collect()
}

fn table_preview(ctx: &Context, args: &Map<String, Value>) -> Result<Value, ToolError> {
    let dir = find_run(ctx, arg_str(args, "run_id")?)?;
    let step = arg_str(args, "step")?;
    let limit = args.get("limit").and_then(Value::as_u64).unwrap_or(20).clamp(1, 1000) as usize;
    let conn = open_exchange(&dir)?;
    let (columns, rows, truncated) =
        query_rows(&conn, &format!("SELECT * FROM {}", crate::exchange::quote_ident(step)), limit)?;
    let mut v =
        json!({"step": step, "columns": columns, "rows": rows, "row_count": rows.len(), "truncated": truncated});
    ctx.redactor.redact_json(&mut v);
    Ok(v)
}

fn sql_query(ctx: &Context, args: &Map<String, Value>) -> Result<Value, ToolError> {
    let dir = find_run(ctx, arg_str(args, "run_id")?)?;
    let sql = arg_str(args, "sql")?.trim().trim_end_matches(';');
    let limit = args.get("limit").and_then(Value::as_u64).unwrap_or(100).clamp(1, 10_000) as usize;
    let run = history::load(&dir).ok_or_else(|| ToolError::new("not_found", "not a run directory"))?;
    let conn = open_exchange(&dir)?;
    sandbox(&conn, &extractor_files(&conn, &run))?;
    // Wrapped as a subquery: anything but one query is a syntax error, and the file is read-only.
    let (columns, rows, truncated) = query_rows(&conn, sql, limit)?;
    let mut v = json!({"columns": columns, "rows": rows, "row_count": rows.len(), "truncated": truncated});
    ctx.redactor.redact_json(&mut v);
    Ok(v)
}
