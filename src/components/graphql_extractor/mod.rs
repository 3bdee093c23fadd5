//! `graphql.extractor`: any GraphQL API, cursor-paged, each page appended to DuckDB as it
//! arrives. The request, auth, record selection and paging rules are the GraphQL family's
//! (`crate::drivers::graphql`, which also holds the health check and discovery); this folder is
//! the component: its spec, its typed config and the extraction loop.

use crate::components::config::parse;
use crate::connections::ResolvedConnection;
use crate::drivers::graphql::{graphql_errors, records, select_path, Request};
use crate::drivers::json_table::JsonTable;
use crate::drivers::{Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::exchange::chunk_load::scratch_path;
use crate::exchange::RelationKind;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Reads a GraphQL API into the step's table.
pub struct GraphqlExtractor;

/// The step's config (spec.yaml has the descriptions and defaults). The credentials
/// (`auth_token`, `auth_username`) come from the connection only and are never part of it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Endpoint URL (usually from the connection).
    pub endpoint: Option<String>,
    /// The GraphQL document (absent only for the health check and discovery).
    pub query: Option<String>,
    /// Request variables; the cursor is added under `pagination_variable_name`.
    pub variables: Map<String, Value>,
    /// Extra HTTP headers, on top of the auth header.
    pub headers: Map<String, Value>,
    /// Authentication scheme.
    pub auth_type: AuthType,
    /// Header carrying the API key (`auth_type: api_key`).
    pub auth_header_name: String,
    /// Request timeout in seconds.
    pub timeout: u64,
    /// Retries per request.
    pub max_retries: u32,
    /// First retry delay in seconds, doubled each retry.
    pub retry_delay: f64,
    /// Follow cursor pagination.
    pub pagination_enabled: bool,
    /// Path to the pageInfo object.
    pub pagination_path: String,
    /// Cursor field inside pageInfo.
    pub pagination_cursor_field: String,
    /// Has-next flag inside pageInfo.
    pub pagination_has_next_field: String,
    /// Variable receiving the cursor.
    pub pagination_variable_name: String,
    /// Page limit, 0 = unlimited.
    pub max_pages: u64,
    /// Path to the rows.
    pub data_path: String,
    /// Flatten nested objects into `parent_child` columns.
    pub flatten_result: bool,
    /// Verify TLS certificates.
    pub validate_ssl: bool,
}

/// Authentication schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    /// No auth header.
    None,
    /// `Authorization: Bearer <auth_token>`.
    Bearer,
    /// HTTP Basic with `auth_username` and `auth_token`.
    Basic,
    /// `<auth_header_name>: <auth_token>`.
    ApiKey,
}

impl Config {
    /// The config a connection alone gives (health check, discovery): the spec's defaults and
    /// the connection's fields that are config fields.
    pub fn from_connection(connection: &ResolvedConnection) -> Result<Self, DriverError> {
        crate::components::config::from_connection("graphql.extractor", connection).map_err(DriverError::Config)
    }
}

impl Driver for GraphqlExtractor {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, _inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let config: Config = parse(config).map_err(DriverError::Config)?;
        let request = Request::new(&config, ctx.connection)?;
        let query = config.query.as_deref().ok_or_else(|| DriverError::Config("`query` is required".into()))?;
        let mut variables = config.variables.clone();
        let scratch = scratch_path(ctx.run_dir, ctx.step_id).map_err(|e| DriverError::at_source(e.to_string()))?;
        let mut table = JsonTable::new(ctx.step_id, scratch, config.flatten_result);
        let mut pages = 0u64;
        // Cursors already followed: a server handing one out again would page forever.
        let mut seen_cursors = std::collections::HashSet::new();
        let result = (|| loop {
            let response = request.post(ctx, &json!({"query": query, "variables": variables}))?;
            if let Some(errors) = graphql_errors(&response) {
                return Err(DriverError::at_source(format!("the GraphQL API answered with errors: {errors}")));
            }
            pages += 1;
            let page = records(&response, &config.data_path);
            table.append(ctx.conn, &page).map_err(DriverError::at_source)?;
            ctx.telemetry.event(
                "extraction.page",
                Some(ctx.step_id),
                json!({"page": pages, "rows": page.len(), "rows_total": table.rows()}),
            );
            if !config.pagination_enabled || (config.max_pages > 0 && pages >= config.max_pages) {
                return Ok(());
            }
            let info = select_path(&response, &config.pagination_path).into_iter().next();
            let has_next =
                info.and_then(|i| i.get(&config.pagination_has_next_field)).and_then(Value::as_bool).unwrap_or(false);
            let cursor = info.and_then(|i| i.get(&config.pagination_cursor_field)).filter(|c| !c.is_null());
            match cursor {
                Some(c) if has_next => {
                    if !seen_cursors.insert(c.to_string()) {
                        return Err(DriverError::at_source(format!(
                            "the GraphQL API returned cursor {c} again after page {pages}: paging does not advance, so the extraction stops instead of looping (check pagination_cursor_field and pagination_variable_name)"
                        )));
                    }
                    variables.insert(config.pagination_variable_name.clone(), c.clone());
                }
                _ => return Ok(()),
            }
            if ctx.cancel.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(DriverError::Cancelled);
            }
        })();
        if let Err(e) = result {
            ctx.drop_partial_table();
            return Err(e);
        }
        let rows = table.finish(ctx.conn).map_err(DriverError::at_source)?;
        ctx.telemetry.metric("rows_read", rows as f64, Some(ctx.step_id));
        ctx.telemetry.metric("pages_fetched", pages as f64, Some(ctx.step_id));
        ctx.telemetry.metric("requests_made", pages as f64, Some(ctx.step_id));
        Ok(StepOutput { relation: Some(RelationKind::Table), rows: Some(rows), state: None })
    }
}
