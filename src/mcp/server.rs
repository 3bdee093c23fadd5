//! The rmcp glue: `tools/list` from [`super::tools::catalogue`], `tools/call` wrapped in the
//! original's envelopes (text content) and the same object as `structuredContent`, an audit line
//! per call, and `pipeline_run` with a progress notification per step.

use super::context::Context;
use super::tools::{catalogue, Effect, ToolError, ToolSpec};
use crate::runtime::{Progress, RunSource, StepReport};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, JsonObject, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ProgressToken,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, ResourceContents, ServerCapabilities,
    ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The osiris MCP server.
#[derive(Clone)]
pub struct OsirisMcp {
    ctx: Arc<Context>,
    tools: Arc<Vec<ToolSpec>>,
    calls: Arc<AtomicU64>,
}

const INSTRUCTIONS: &str =
    "osiris compiles and runs OML pipelines (YAML: steps that extract, transform with DuckDB SQL, \
and write). Workflow: connections_list and components_list to see what exists; usecases_list and oml_schema_get for \
examples and the shape; write OML and call oml_validate until it is valid (each diagnostic has a line, a step and a \
hint); oml_compile; pipeline_run (server started with --allow-run); then run_status, run_events, table_preview, \
sql_query and aiop_show to inspect the run. Reference connections as `@family.alias`; never put secrets in OML. \
The resource osiris://mcp/prompts/agent-guide.md explains the loop and OML in one screen.";

impl OsirisMcp {
    /// A server over `ctx`.
    pub fn new(ctx: Context) -> Self {
        Self { ctx: Arc::new(ctx), tools: Arc::new(catalogue()), calls: Arc::new(AtomicU64::new(0)) }
    }

    fn allowed(&self, spec: &ToolSpec) -> Result<(), ToolError> {
        match spec.effect {
            Effect::Run if !self.ctx.allow_run => Err(ToolError::new(
                "not_allowed",
                format!(
                    "{} runs pipelines; start the server with --allow-run (osiris mcp serve --allow-run)",
                    spec.name
                ),
            )
            .with_details(json!({"flag": "--allow-run"}))),
            Effect::Write if !self.ctx.allow_write => Err(ToolError::new(
                "not_allowed",
                format!("{} writes outside the drafts; start the server with --allow-write", spec.name),
            )
            .with_details(json!({"flag": "--allow-write"}))),
            _ => Ok(()),
        }
    }

    fn offered(&self, spec: &ToolSpec) -> bool {
        self.allowed(spec).is_ok()
    }

    /// The tool definitions `tools/list` returns (also `osiris mcp tools`).
    pub fn tool_definitions(&self) -> Vec<Tool> {
        self.tools.iter().filter(|t| self.offered(t)).map(definition).collect()
    }

    fn find(&self, name: &str) -> Option<&ToolSpec> {
        self.tools.iter().find(|t| t.name == name || t.aliases.contains(&name))
    }

    fn audit(&self, tool: &str, correlation_id: &str, status: &str, meta: &Value) {
        self.audit_line(json!({"ts": crate::runtime::now_rfc3339(), "tool": tool, "correlation_id": correlation_id,
            "status": status, "duration_ms": meta["duration_ms"], "bytes_in": meta["bytes_in"], "bytes_out": meta["bytes_out"]}));
    }

    /// Append one redacted line to `.osiris/mcp/logs/audit.jsonl` (never row data).
    fn audit_line(&self, mut line: Value) {
        self.ctx.redactor.redact_json(&mut line);
        let path = self.ctx.mcp_dir().join("logs").join("audit.jsonl");
        if let Err(e) = crate::runtime::append_locked(&path, &format!("{line}\n")) {
            tracing::warn!(error = %e, path = %path.display(), "cannot write the MCP audit log");
        }
    }

    /// Run a pipeline for `pipeline_run`, notifying progress per finished step.
    fn run_pipeline(
        &self,
        args: &Map<String, Value>,
        progress: &dyn Progress,
        cancel: Arc<AtomicBool>,
    ) -> Result<Value, ToolError> {
        let ctx = &self.ctx;
        let params = args.get("params").and_then(Value::as_object).cloned().unwrap_or_default();
        let profile = args.get("profile").and_then(Value::as_str);
        let (source, _scratch) =
            match (args.get("oml_content").and_then(Value::as_str), args.get("path").and_then(Value::as_str)) {
                (Some(text), None) => {
                    let f = ctx.scratch_file(text)?;
                    (RunSource::Pipeline(f.path().to_path_buf()), Some(f))
                }
                (None, Some(path)) => (RunSource::of_file(&ctx.project_path(path)?), None),
                _ => return Err(ToolError::new("invalid_argument", "give exactly one of `oml_content` or `path`")),
            };
        let req = ctx.prepare(source, &params, profile, cancel).map_err(|e| {
            ToolError::new(
                "invalid_pipeline",
                format!("the pipeline is not valid ({} errors); nothing ran", e.errors().count()),
            )
            .with_details(json!({"diagnostics": e.diagnostics}))
        })?;
        let redactor = req.redactor.clone();
        let outcome =
            crate::runtime::execute(req, progress).map_err(|e| ToolError::new("run_failed", e.to_string()))?;
        let mut v = crate::runtime::outcome_json(&outcome);
        redactor.redact_json(&mut v);
        Ok(v)
    }
}

/// A tool's MCP definition: input schema, output schema (the envelope around its result) and
/// annotations from its effect.
fn definition(spec: &ToolSpec) -> Tool {
    let input = object((spec.input)());
    let envelope = json!({
        "type": "object",
        "required": ["status", "_meta"],
        "properties": {
            "status": {"enum": ["success", "error"]},
            "result": (spec.output)(),
            "error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}}},
            "_meta": {"type": "object", "required": ["correlation_id", "duration_ms", "tool"]},
        },
    });
    let annotations = ToolAnnotations::new()
        .read_only(spec.effect == Effect::ReadOnly)
        .destructive(matches!(spec.effect, Effect::Run | Effect::Write))
        .idempotent(matches!(spec.effect, Effect::ReadOnly | Effect::ProjectOnly))
        .open_world(spec.effect == Effect::Run);
    Tool::new_with_raw(spec.name, Some(spec.description.into()), Arc::new(input))
        .with_raw_output_schema(Arc::new(object(envelope)))
        .with_annotations(annotations)
}

fn object(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    }
}

/// Sends a progress notification per finished step through the client's progress token.
struct Notifier {
    peer: rmcp::Peer<RoleServer>,
    token: ProgressToken,
    handle: tokio::runtime::Handle,
    done: AtomicU64,
}

impl Progress for Notifier {
    fn step_finished(&self, report: &StepReport) {
        let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        let rows = report.rows.map(|r| format!(", {r} rows")).unwrap_or_default();
        let message = format!("{} {:?}{rows}", report.id, report.status).to_lowercase();
        let param = ProgressNotificationParam::new(self.token.clone(), n as f64).with_message(message);
        let _ = self.handle.block_on(self.peer.notify_progress(param));
    }
}

/// Largest request the server reads.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

impl ServerHandler for OsirisMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().build())
            .with_server_info(Implementation::new("osiris-mcp-server", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tool_definitions()))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(super::resources::list(&self.ctx)))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(super::resources::templates()))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        use super::resources::{read, ResourceError};
        let found = read(&self.ctx, &request.uri);
        let status = if found.is_ok() { "success" } else { "error" };
        self.audit_line(json!({"ts": crate::runtime::now_rfc3339(), "method": "resources/read", "uri": request.uri, "status": status}));
        match found {
            Ok(c) => Ok(ReadResourceResult::new(vec![
                ResourceContents::text(c.text, request.uri).with_mime_type(c.mime_type)
            ])
            .into()),
            Err(e @ ResourceError::NotFound(_)) => Err(McpError::resource_not_found(e.to_string(), None)),
            Err(e) => Err(McpError::internal_error(self.ctx.redactor.redact(&e.to_string()), None)),
        }
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let started = Instant::now();
        let args = request.arguments.clone().unwrap_or_default();
        let bytes_in = serde_json::to_string(&args).map(|s| s.len()).unwrap_or(0);
        let correlation_id = format!("{}-{}", std::process::id(), self.calls.fetch_add(1, Ordering::SeqCst) + 1);
        let name = request.name.to_string();
        let Some(spec) = self.find(&name) else {
            return Err(McpError::invalid_params(format!("unknown tool `{name}` (see tools/list)"), None));
        };
        let canonical = spec.name;
        let result = if bytes_in > MAX_PAYLOAD_BYTES {
            Err(ToolError::new("payload_too_large", "the request is larger than 16 MiB")
                .with_details(json!({"limit_bytes": MAX_PAYLOAD_BYTES, "actual_bytes": bytes_in})))
        } else if let Err(e) = self.allowed(spec) {
            Err(e)
        } else {
            // A run is cancelled when its call times out; other tools are left to finish in the
            // background (their threads cannot be stopped) while the caller gets the timeout.
            let cancel = Arc::new(AtomicBool::new(false));
            let task = if canonical == "pipeline_run" {
                let server = self.clone();
                let notifier = context.meta.get_progress_token().map(|token| Notifier {
                    peer: context.peer.clone(),
                    token,
                    handle: tokio::runtime::Handle::current(),
                    done: AtomicU64::new(0),
                });
                let cancel = Arc::clone(&cancel);
                tokio::task::spawn_blocking(move || match &notifier {
                    Some(n) => server.run_pipeline(&args, n, cancel),
                    None => server.run_pipeline(&args, &crate::runtime::NoProgress, cancel),
                })
            } else {
                let ctx = Arc::clone(&self.ctx);
                let call = spec.call;
                tokio::task::spawn_blocking(move || call(&ctx, &args))
            };
            match tokio::time::timeout(self.ctx.tool_timeout, task).await {
                Ok(done) => done.unwrap_or_else(|e| Err(ToolError::new("internal", format!("the tool panicked: {e}")))),
                Err(_) => {
                    cancel.store(true, Ordering::SeqCst);
                    let secs = self.ctx.tool_timeout.as_secs();
                    Err(ToolError::new(
                        "timeout",
                        format!("{canonical} took longer than {secs} s (--tool-timeout); a run is cancelled"),
                    )
                    .with_details(json!({"timeout_seconds": secs})))
                }
            }
        };
        let ok = result.is_ok();
        let mut envelope = match result {
            Ok(r) => json!({"status": "success", "result": r}),
            Err(e) => json!({"status": "error", "error": {"code": e.code, "message": e.message, "details": e.details}}),
        };
        self.ctx.redactor.redact_json(&mut envelope);
        let bytes_out = envelope.to_string().len();
        let meta = json!({"correlation_id": correlation_id, "duration_ms": started.elapsed().as_millis() as u64,
            "bytes_in": bytes_in, "bytes_out": bytes_out, "tool": canonical});
        envelope["_meta"] = meta.clone();
        self.audit(canonical, &correlation_id, if ok { "success" } else { "error" }, &meta);
        Ok(if ok { CallToolResult::structured(envelope) } else { CallToolResult::structured_error(envelope) }.into())
    }
}
