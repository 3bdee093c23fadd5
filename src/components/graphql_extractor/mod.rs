//! `graphql.extractor`: any GraphQL API, cursor-paged, each page appended to DuckDB as it
//! arrives. The request, auth, record selection and paging rules are the GraphQL family's
//! (`crate::drivers::graphql`, which also holds the health check and discovery); this folder is
//! the component: its spec, its typed config and the extraction loop.

use crate::components::config::parse;
use crate::connections::ResolvedConnection;
use crate::drivers::graphql::{errors_message, unusable, Request};
use crate::drivers::json_page::{self, Page};
use crate::drivers::json_table::JsonTable;
use crate::drivers::paging::fetch_while_loading;
use crate::drivers::{retry_event, Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::drivers::streaming::{load_pipe_path, staged_path};
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

/// Fetch every page in order and hand its body on. Only the cursor is read here (one pass that
/// skips everything else), so the next request leaves while the loader is still parsing and
/// loading the last page: the server works on page n+1 while we work on page n. Ends when
/// paging ends, when the loader hangs up (it failed) or with the error that stopped it.
fn fetch_pages(
    request: &Request,
    config: &Config,
    query: &str,
    cancel: &std::sync::atomic::AtomicBool,
    on_retry: impl FnMut(&str, std::time::Duration),
    pages: std::sync::mpsc::SyncSender<Vec<u8>>,
) -> Result<(), DriverError> {
    let mut on_retry = on_retry;
    let mut variables = config.variables.clone();
    let mut fetched = 0u64;
    // Cursors already followed: a server handing one out again would page forever.
    let mut seen_cursors = std::collections::HashSet::new();
    loop {
        let body = request.post_bytes(cancel, &json!({"query": query, "variables": variables}), &mut on_retry)?;
        fetched += 1;
        let next = if !config.pagination_enabled || (config.max_pages > 0 && fetched >= config.max_pages) {
            None
        } else {
            let info = json_page::select_values(&body, &config.pagination_path).map_err(|e| unusable(&e))?;
            let info = info.first();
            let has_next =
                info.and_then(|i| i.get(&config.pagination_has_next_field)).and_then(Value::as_bool).unwrap_or(false);
            info.and_then(|i| i.get(&config.pagination_cursor_field)).filter(|c| has_next && !c.is_null()).cloned()
        };
        if pages.send(body).is_err() {
            return Ok(());
        }
        let Some(cursor) = next else { return Ok(()) };
        if !seen_cursors.insert(cursor.to_string()) {
            return Err(DriverError::at_source(format!(
                "the GraphQL API returned cursor {cursor} again after page {fetched}: paging does not advance, so the extraction stops instead of looping (check pagination_cursor_field and pagination_variable_name)"
            )));
        }
        variables.insert(config.pagination_variable_name.clone(), cursor);
        if cancel.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(DriverError::Cancelled);
        }
    }
}

/// A page's records, or the GraphQL errors it answered with (the same query gives the same
/// errors: not retried). `errors` is read in the same pass as the records.
fn parse_page(body: &[u8], config: &Config) -> Result<Page, DriverError> {
    let (page, errors) =
        json_page::parse_records(body, &config.data_path, config.flatten_result, Some("errors"))
            .map_err(|e| unusable(&e))?;
    if let Some(errors) = errors.first().and_then(errors_message) {
        return Err(DriverError::at_source(format!("the GraphQL API answered with errors: {errors}")));
    }
    Ok(page)
}

impl Driver for GraphqlExtractor {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, _inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let config: Config = parse(config).map_err(DriverError::Config)?;
        let request = Request::new(&config, ctx.connection)?;
        let query = config.query.as_deref().ok_or_else(|| DriverError::Config("`query` is required".into()))?;
        let mut table = JsonTable::new(ctx.step_id, staged_path(ctx.run_dir, ctx.step_id), config.flatten_result);
        if ctx.materialize {
            // The table fills while pages arrive (json_table's module doc).
            let (pipe, cache) = (load_pipe_path(ctx.run_dir, ctx.step_id), Some(ctx.block_cache.clone()));
            table.load_while_appending(ctx.conn, pipe, cache).map_err(DriverError::sql)?;
        }
        let mut pages = 0u64;
        let (telemetry, step_id, cancel) = (ctx.telemetry, ctx.step_id, ctx.cancel);
        // A rendezvous: the page being loaded and the one fetched meanwhile, no more.
        let result = fetch_while_loading(
            0,
            |sender| fetch_pages(&request, &config, query, cancel, retry_event(telemetry, step_id, None), sender),
            |body: Vec<u8>| {
                pages += 1;
                let page = parse_page(&body, &config)?;
                table.append_page(&page).map_err(DriverError::at_source)?;
                telemetry.event(
                    "extraction.page",
                    Some(step_id),
                    json!({"page": pages, "rows": page.len(), "rows_total": table.rows()}),
                );
                Ok(())
            },
        );
        // On failure the table (its load ended by its drop) goes after it.
        let (rows, relation) =
            match result.and_then(|()| table.finish(ctx.conn, ctx.materialize).map_err(DriverError::at_source)) {
                Ok(finished) => finished,
                Err(e) => {
                    ctx.drop_partial_relation();
                    return Err(e);
                }
            };
        ctx.telemetry.metric("rows_read", rows as f64, Some(ctx.step_id));
        ctx.telemetry.metric("pages_fetched", pages as f64, Some(ctx.step_id));
        ctx.telemetry.metric("requests_made", pages as f64, Some(ctx.step_id));
        Ok(StepOutput { relation: Some(relation), rows: Some(rows), state: None })
    }

    /// One consumer reads the staged pages through a view: DuckDB stores nothing it reads once.
    fn can_be_view(&self) -> bool {
        true
    }

    fn view_reads_staged_rows(&self) -> bool {
        true
    }
}
