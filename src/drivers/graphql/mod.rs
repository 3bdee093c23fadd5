//! `graphql.extractor`: any GraphQL API, cursor-paged, each page appended to DuckDB as it arrives.
//!
//! - Request: `POST endpoint` with `{"query", "variables"}`; auth from the connection
//!   (`auth_type` bearer / basic / api_key with `auth_token`, `auth_username`, `auth_header_name`),
//!   then `headers` on top. HTTP failures are retried `max_retries` times, `retry_delay` doubling
//!   each time; 429 honours `Retry-After`; 401/403 fail at once (http.rs).
//! - A response with a non-empty `errors` array fails the step with those messages (not retried:
//!   the same query gives the same errors).
//! - `data_path` selects the records: dot-separated names, `[*]` to fan out over a list, `[n]` to
//!   pick one element; a name applied to a list applies to each element (so `…edges.node` reads a
//!   relay connection like `…edges[*].node`). A list result gives one row per element, an object
//!   one row, nothing (or null) no rows.
//! - Pagination (`pagination_enabled`): after each page the cursor (`pagination_cursor_field`) and
//!   has-next flag (`pagination_has_next_field`) are read at `pagination_path` in the same response
//!   and the cursor goes into `variables[pagination_variable_name]`; it stops when there is no next
//!   page, no cursor, or after `max_pages` pages (0 = no limit). A cursor the server hands out a
//!   second time fails the step: the paging would never end.
//! - Records become columns through the JSON table loader (json_table.rs): `flatten_result` makes
//!   nested objects `parent_child` columns; lists stay JSON; columns appear and widen as pages do.

mod discover;
pub use discover::discover;

use super::json_table::JsonTable;
use super::{setting, ConfigExt, Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::connections::ResolvedConnection;
use crate::drivers::health::{HealthCategory, HealthReport};
use crate::exchange::chunk_load::scratch_path;
use crate::exchange::RelationKind;
use crate::http::{self, HttpError, RetryPolicy};
use serde_json::{json, Map, Value};
use std::time::Duration;

/// Reads a GraphQL API into the step's table.
pub struct GraphqlExtractor;

/// Select the values at `path` (see the module doc for the syntax).
pub fn select_path<'a>(root: &'a Value, path: &str) -> Vec<&'a Value> {
    let path = path.trim().trim_start_matches('$').trim_start_matches('.');
    let mut current = vec![root];
    if path.is_empty() {
        return current;
    }
    for segment in path.split('.') {
        let (name, index) = match segment.find('[') {
            Some(i) => (&segment[..i], Some(segment[i + 1..].trim_end_matches(']'))),
            None => (segment, None),
        };
        let mut next = Vec::new();
        for v in current {
            let target: Vec<&Value> = match (name, v) {
                ("", v) => vec![v],
                (n, Value::Object(m)) => m.get(n).into_iter().collect(),
                (n, Value::Array(items)) => items.iter().filter_map(|i| i.get(n)).collect(),
                _ => Vec::new(),
            };
            for t in target {
                match (index, t) {
                    (None, t) => next.push(t),
                    (Some("*"), Value::Array(items)) => next.extend(items.iter()),
                    (Some(i), Value::Array(items)) => next.extend(i.parse::<usize>().ok().and_then(|i| items.get(i))),
                    _ => {}
                }
            }
        }
        current = next;
    }
    current
}

/// The records a response holds at `data_path`.
fn records(response: &Value, data_path: &str) -> Vec<Value> {
    let found = select_path(response, data_path);
    match found.as_slice() {
        [] | [Value::Null] => Vec::new(),
        [Value::Array(items)] => items.clone(),
        [single] => vec![(*single).clone()],
        many => many
            .iter()
            .flat_map(|v| match v {
                Value::Array(items) => items.clone(),
                Value::Null => Vec::new(),
                other => vec![(*other).clone()],
            })
            .collect(),
    }
}

struct Request {
    client: reqwest::blocking::Client,
    endpoint: String,
    headers: Vec<(String, String)>,
    basic: Option<(String, String)>,
    policy: RetryPolicy,
}

impl Request {
    fn new(config: &Map<String, Value>, connection: Option<&ResolvedConnection>) -> Result<Self, DriverError> {
        let get = |n: &str| setting(config, connection, n);
        let endpoint = get("endpoint").ok_or_else(|| DriverError::Config("`endpoint` is required".into()))?;
        let token = get("auth_token");
        let need_token = |kind: &str| {
            token
                .clone()
                .ok_or_else(|| DriverError::Config(format!("auth_type {kind} needs auth_token in the connection")))
        };
        let mut headers = Vec::new();
        let mut basic = None;
        match config.str_opt("auth_type").unwrap_or("none") {
            "bearer" => headers.push(("Authorization".to_string(), format!("Bearer {}", need_token("bearer")?))),
            "basic" => {
                let user = get("auth_username").ok_or_else(|| {
                    DriverError::Config("auth_type basic needs auth_username in the connection".into())
                })?;
                basic = Some((user, need_token("basic")?));
            }
            "api_key" => {
                headers.push((get("auth_header_name").unwrap_or_else(|| "X-API-Key".into()), need_token("api_key")?))
            }
            _ => {}
        }
        let extra = config.get("headers").or_else(|| connection.and_then(|c| c.fields.get("headers")));
        if let Some(Value::Object(h)) = extra {
            for (k, v) in h {
                let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
                headers.push((k.clone(), v));
            }
        }
        let timeout = Duration::from_secs(config.get("timeout").and_then(Value::as_u64).unwrap_or(30));
        let retry_delay = config.get("retry_delay").and_then(Value::as_f64).unwrap_or(1.0);
        Ok(Self {
            client: http::client(timeout, config.bool_or("validate_ssl", true)).map_err(DriverError::Config)?,
            endpoint,
            headers,
            basic,
            policy: RetryPolicy {
                max_retries: config.get("max_retries").and_then(Value::as_u64).unwrap_or(3) as u32,
                base_delay: Duration::from_secs_f64(retry_delay.max(0.0)),
                max_delay: Duration::from_secs(300),
                // GraphQL queries are reads (POST is only the transport).
                resend: crate::http::Resend::Always,
            },
        })
    }

    fn post(&self, ctx: &StepContext, body: &Value) -> Result<Value, DriverError> {
        self.post_with(ctx.cancel, body, ctx.retry_event(None))
    }

    fn post_with(
        &self,
        cancel: &std::sync::atomic::AtomicBool,
        body: &Value,
        on_retry: impl FnMut(&str, Duration),
    ) -> Result<Value, DriverError> {
        let send = || {
            let mut r = self.client.post(&self.endpoint).json(body);
            for (k, v) in &self.headers {
                r = r.header(k, v);
            }
            if let Some((u, p)) = &self.basic {
                r = r.basic_auth(u, Some(p));
            }
            r
        };
        let response = http::send(&self.policy, cancel, send, on_retry).map_err(|e| match &e {
            HttpError::Cancelled => DriverError::Cancelled,
            HttpError::Status { status, body, .. } if is_auth_status(status.as_u16()) => DriverError::at_source(format!(
                "the GraphQL endpoint rejected the credentials (HTTP {status}): {body}; check auth_type and auth_token in the connection"
            ))
            .with_cause(e),
            other => DriverError::at_source(format!("GraphQL request failed: {other}")).with_cause(e),
        })?;
        http::json_body(response, http::MAX_BODY_BYTES)
            .map_err(|e| DriverError::at_source(format!("the GraphQL endpoint's answer is unusable: {e}")))
    }
}

/// HTTP statuses that mean "these credentials may not do this".
fn is_auth_status(status: u16) -> bool {
    matches!(status, 401 | 403)
}

/// A request made from the connection alone (doctor, discovery): its fields and auth
/// (`auth_type` in the connection, else bearer when it has a token), with `max_retries` and
/// `timeout_secs`.
fn connection_request(
    connection: &ResolvedConnection,
    max_retries: u64,
    timeout_secs: u64,
) -> Result<Request, DriverError> {
    let mut config = connection.fields.clone();
    if !config.contains_key("auth_type") && connection.secret("auth_token").is_some() {
        config.insert("auth_type".into(), Value::String("bearer".into()));
    }
    config.insert("max_retries".into(), Value::from(max_retries));
    config.insert("timeout".into(), Value::from(timeout_secs));
    Request::new(&config, Some(connection))
}

/// Health check for `connections doctor`: an introspection query for the query type's name with
/// the connection's auth. A server that disables introspection still proves the endpoint and
/// credentials work.
pub fn doctor(connection: &ResolvedConnection) -> HealthReport {
    let started = std::time::Instant::now();
    let result = connection_request(connection, 0, 5).and_then(|r| {
        let never = std::sync::atomic::AtomicBool::new(false);
        r.post_with(&never, &json!({"query": "{ __schema { queryType { name } } }"}), |_, _| {})
    });
    let latency_ms = started.elapsed().as_millis() as u64;
    let report = match result {
        Ok(answer) => {
            let name = answer.pointer("/data/__schema/queryType/name").and_then(Value::as_str);
            HealthReport::success(match (name, graphql_errors(&answer)) {
                (Some(n), _) => format!("introspection answered in {latency_ms} ms (query type {n})"),
                (None, Some(e)) => format!("the endpoint answered in {latency_ms} ms; introspection refused: {e}"),
                (None, None) => format!("the endpoint answered in {latency_ms} ms"),
            })
        }
        Err(e) if e.http_status().is_some_and(is_auth_status) => {
            HealthReport::failure(HealthCategory::Auth, e.to_string())
        }
        Err(e @ DriverError::Config(_)) => HealthReport::failure(HealthCategory::Config, e.to_string()),
        Err(e) => HealthReport::failure(HealthCategory::Network, e.to_string()),
    };
    HealthReport { latency_ms: Some(latency_ms), ..report }
}

/// The `errors` of a GraphQL response as one message, if any.
fn graphql_errors(response: &Value) -> Option<String> {
    let errors = response.get("errors")?.as_array().filter(|e| !e.is_empty())?;
    let messages: Vec<String> = errors
        .iter()
        .map(|e| {
            let msg = e.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| e.to_string());
            match e.get("path") {
                Some(p) => format!("{msg} (at {p})"),
                None => msg,
            }
        })
        .collect();
    Some(messages.join("; "))
}

impl Driver for GraphqlExtractor {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, _inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let request = Request::new(config, ctx.connection)?;
        let query = config.str_opt("query").ok_or_else(|| DriverError::Config("`query` is required".into()))?;
        let mut variables = config.get("variables").and_then(Value::as_object).cloned().unwrap_or_default();
        let data_path = config.str_opt("data_path").unwrap_or("data");
        let paginate = config.bool_or("pagination_enabled", false);
        let page_info_path = config.str_opt("pagination_path").unwrap_or("data.pageInfo");
        let cursor_field = config.str_opt("pagination_cursor_field").unwrap_or("endCursor");
        let has_next_field = config.str_opt("pagination_has_next_field").unwrap_or("hasNextPage");
        let cursor_variable = config.str_opt("pagination_variable_name").unwrap_or("after");
        let max_pages = config.get("max_pages").and_then(Value::as_u64).unwrap_or(0);
        let scratch = scratch_path(ctx.run_dir, ctx.step_id).map_err(|e| DriverError::at_source(e.to_string()))?;
        let mut table = JsonTable::new(ctx.step_id, scratch, config.bool_or("flatten_result", true));
        let mut pages = 0u64;
        // Cursors already followed: a server handing one out again would page forever.
        let mut seen_cursors = std::collections::HashSet::new();
        let result = (|| loop {
            let response = request.post(ctx, &json!({"query": query, "variables": variables}))?;
            if let Some(errors) = graphql_errors(&response) {
                return Err(DriverError::at_source(format!("the GraphQL API answered with errors: {errors}")));
            }
            pages += 1;
            let page = records(&response, data_path);
            table.append(ctx.conn, &page).map_err(DriverError::at_source)?;
            ctx.telemetry.event(
                "extraction.page",
                Some(ctx.step_id),
                json!({"page": pages, "rows": page.len(), "rows_total": table.rows()}),
            );
            if !paginate || (max_pages > 0 && pages >= max_pages) {
                return Ok(());
            }
            let info = select_path(&response, page_info_path).into_iter().next();
            let has_next = info.and_then(|i| i.get(has_next_field)).and_then(Value::as_bool).unwrap_or(false);
            let cursor = info.and_then(|i| i.get(cursor_field)).filter(|c| !c.is_null());
            match cursor {
                Some(c) if has_next => {
                    if !seen_cursors.insert(c.to_string()) {
                        return Err(DriverError::at_source(format!(
                            "the GraphQL API returned cursor {c} again after page {pages}: paging does not advance, so the extraction stops instead of looping (check pagination_cursor_field and pagination_variable_name)"
                        )));
                    }
                    variables.insert(cursor_variable.to_string(), c.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_paths_select_lists_relay_nodes_and_single_objects() {
        let r = json!({"data": {"repos": {"edges": [{"node": {"id": 1}}, {"node": {"id": 2}}], "pageInfo": {"endCursor": "c"}},
                                "viewer": {"login": "me"}}});
        assert_eq!(records(&r, "data.repos.edges[*].node"), vec![json!({"id": 1}), json!({"id": 2})]);
        assert_eq!(records(&r, "$.data.repos.edges.node").len(), 2);
        assert_eq!(records(&r, "data.repos.edges[1].node"), vec![json!({"id": 2})]);
        assert_eq!(records(&r, "data.viewer"), vec![json!({"login": "me"})]);
        assert!(records(&r, "data.missing").is_empty());
        assert_eq!(select_path(&r, "data.repos.pageInfo")[0]["endCursor"], "c");
        assert_eq!(
            graphql_errors(&json!({"errors": [{"message": "boom", "path": ["a"]}]})).unwrap(),
            "boom (at [\"a\"])"
        );
    }
}
