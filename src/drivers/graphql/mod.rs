//! The GraphQL family: requests with the connection's auth and retries, record selection by
//! `data_path`, the health check and discovery. `graphql.extractor`
//! (`crate::components::graphql_extractor`) reads any GraphQL API with them, cursor-paged, each
//! page appended to DuckDB as it arrives while the next one is already being fetched.
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
//! - Records become columns as the page is parsed (json_page.rs) and are staged by the JSON table
//!   loader (json_table.rs): `flatten_result` makes nested objects `parent_child` columns; lists
//!   stay JSON; columns appear and widen as pages do.

mod discover;
pub use discover::discover;

use super::DriverError;
use crate::components::graphql_extractor::{AuthType, Config};
use crate::connections::ResolvedConnection;
use crate::drivers::health::{HealthCategory, HealthReport};
use crate::drivers::json_page::{steps, Step};
use crate::http::{self, HttpError, RetryPolicy};
use serde_json::{json, Value};
use std::time::Duration;

/// Select the values at `path` (see the module doc for the syntax), parsed as the streaming
/// page parser parses it (`json_page::steps`).
pub fn select_path<'a>(root: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![root];
    for step in steps(path) {
        let mut next = Vec::new();
        for v in current {
            match (&step, v) {
                (Step::Key(name), Value::Object(m)) => next.extend(m.get(name)),
                // A name applied to a list applies to each element, one level deep.
                (Step::Key(name), Value::Array(items)) => next.extend(items.iter().filter_map(|i| i.get(name))),
                (Step::All, Value::Array(items)) => next.extend(items),
                (Step::At(i), Value::Array(items)) => next.extend(items.get(*i)),
                _ => {}
            }
        }
        current = next;
    }
    current
}

/// The records a response holds at `data_path`, borrowed from it (a page's records are never
/// copied: at 10,000 nodes a page, a deep copy cost as much as loading them).
pub(crate) fn records<'a>(response: &'a Value, data_path: &str) -> Vec<&'a Value> {
    let found = select_path(response, data_path);
    match found.as_slice() {
        [] | [Value::Null] => Vec::new(),
        [Value::Array(items)] => items.iter().collect(),
        [single] => vec![*single],
        many => many
            .iter()
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().collect(),
                Value::Null => Vec::new(),
                other => vec![*other],
            })
            .collect(),
    }
}

/// A GraphQL endpoint with its auth headers and retry policy.
pub(crate) struct Request {
    client: reqwest::blocking::Client,
    endpoint: String,
    headers: Vec<(String, String)>,
    basic: Option<(String, String)>,
    policy: RetryPolicy,
}

impl Request {
    /// From a step's typed config and its connection (secrets come from the connection only).
    pub(crate) fn new(config: &Config, connection: Option<&ResolvedConnection>) -> Result<Self, DriverError> {
        let secret = |n: &str| connection.and_then(|c| c.secret(n)).map(|s| s.expose().to_string());
        let endpoint = config
            .endpoint
            .clone()
            .filter(|e| !e.is_empty())
            .ok_or_else(|| DriverError::Config("`endpoint` is required".into()))?;
        let token = secret("auth_token");
        let need_token = |kind: &str| {
            token
                .clone()
                .ok_or_else(|| DriverError::Config(format!("auth_type {kind} needs auth_token in the connection")))
        };
        let mut headers = Vec::new();
        let mut basic = None;
        match config.auth_type {
            AuthType::Bearer => {
                headers.push(("Authorization".to_string(), format!("Bearer {}", need_token("bearer")?)))
            }
            AuthType::Basic => {
                let user = secret("auth_username").or_else(|| connection.and_then(|c| c.str_field("auth_username")));
                let user = user.ok_or_else(|| {
                    DriverError::Config("auth_type basic needs auth_username in the connection".into())
                })?;
                basic = Some((user, need_token("basic")?));
            }
            AuthType::ApiKey => headers.push((config.auth_header_name.clone(), need_token("api_key")?)),
            AuthType::None => {}
        }
        for (k, v) in &config.headers {
            let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
            headers.push((k.clone(), v));
        }
        Ok(Self {
            client: http::client(Duration::from_secs(config.timeout), config.validate_ssl)
                .map_err(DriverError::Config)?,
            endpoint,
            headers,
            basic,
            policy: RetryPolicy {
                max_retries: config.max_retries,
                base_delay: Duration::from_secs_f64(config.retry_delay.max(0.0)),
                max_delay: Duration::from_secs(300),
                // GraphQL queries are reads (POST is only the transport).
                resend: crate::http::Resend::Always,
            },
        })
    }

    /// POST `body`, retrying as the policy says (`on_retry` hears each retry), until `cancel`;
    /// the answer parsed.
    pub(crate) fn post_with(
        &self,
        cancel: &std::sync::atomic::AtomicBool,
        body: &Value,
        on_retry: impl FnMut(&str, Duration),
    ) -> Result<Value, DriverError> {
        let answer = self.post_bytes(cancel, body, on_retry)?;
        serde_json::from_slice(&answer).map_err(|e| unusable(&http::BodyError::NotJson(e)))
    }

    /// Like [`Self::post_with`], the answer's bytes (for the streaming page parser).
    pub(crate) fn post_bytes(
        &self,
        cancel: &std::sync::atomic::AtomicBool,
        body: &Value,
        on_retry: impl FnMut(&str, Duration),
    ) -> Result<Vec<u8>, DriverError> {
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
        http::body_bytes(response, http::MAX_BODY_BYTES).map_err(|e| unusable(&e))
    }
}

/// A GraphQL answer that cannot be used.
pub(crate) fn unusable(e: &dyn std::fmt::Display) -> DriverError {
    DriverError::at_source(format!("the GraphQL endpoint's answer is unusable: {e}"))
}

/// HTTP statuses that mean "these credentials may not do this".
fn is_auth_status(status: u16) -> bool {
    matches!(status, 401 | 403)
}

/// A request made from the connection alone (doctor, discovery): the spec's defaults and the
/// connection's fields (`auth_type` from the connection, else bearer when it has a token), with
/// `max_retries` and `timeout_secs`.
fn connection_request(
    connection: &ResolvedConnection,
    max_retries: u32,
    timeout_secs: u64,
) -> Result<Request, DriverError> {
    let mut config = Config::from_connection(connection)?;
    if connection.fields.get("auth_type").is_none() && connection.secret("auth_token").is_some() {
        config.auth_type = AuthType::Bearer;
    }
    config.max_retries = max_retries;
    config.timeout = timeout_secs;
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
pub(crate) fn graphql_errors(response: &Value) -> Option<String> {
    errors_message(response.get("errors")?)
}

/// A GraphQL `errors` list as one message (None when empty).
pub(crate) fn errors_message(errors: &Value) -> Option<String> {
    let errors = errors.as_array().filter(|e| !e.is_empty())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_paths_select_lists_relay_nodes_and_single_objects() {
        let r = json!({"data": {"repos": {"edges": [{"node": {"id": 1}}, {"node": {"id": 2}}], "pageInfo": {"endCursor": "c"}},
                                "viewer": {"login": "me"}}});
        assert_eq!(records(&r, "data.repos.edges[*].node"), vec![&json!({"id": 1}), &json!({"id": 2})]);
        assert_eq!(records(&r, "$.data.repos.edges.node").len(), 2);
        assert_eq!(records(&r, "data.repos.edges[1].node"), vec![&json!({"id": 2})]);
        assert_eq!(records(&r, "data.viewer"), vec![&json!({"login": "me"})]);
        assert!(records(&r, "data.missing").is_empty());
        assert_eq!(select_path(&r, "data.repos.pageInfo")[0]["endCursor"], "c");
        assert_eq!(
            graphql_errors(&json!({"errors": [{"message": "boom", "path": ["a"]}]})).unwrap(),
            "boom (at [\"a\"])"
        );
    }
}
