//! The PostgREST channel of the supabase components, used when the connection has a project
//! `url` (or `project_id`) and a key but no DSN.
//!
//! Writing: the input is read from DuckDB in Arrow batches and sent as JSON arrays of
//! `batch_size` rows (`POST /rest/v1/<table>`); upsert adds `Prefer: resolution=merge-duplicates`
//! and `on_conflict`; replace first deletes the current rows. 429/5xx are retried (http.rs).
//! What REST cannot guarantee: the load is not one transaction — a failure after some batches
//! leaves those batches written (and replace's delete done). The run says so in a warning event;
//! give the connection a `pg_dsn` for atomic loads. REST cannot create tables either.
//!
//! Reading: pages of `limit` rows (`GET /rest/v1/<table>?select=…&offset=…`) until a short page;
//! the rows go through the JSON table loader (schema inferred, nested values kept as JSON).

use super::write::WritePlan;
use crate::components::supabase_extractor::Config as ExtractorConfig;
use crate::components::supabase_writer::{Config as WriterConfig, WriteMode};
use crate::connections::ResolvedConnection;
use crate::drivers::health::{HealthCategory, HealthReport};
use crate::drivers::json_table::JsonTable;
use crate::drivers::{sql_error, DriverError, StepContext};
use crate::exchange::quote_ident;
use crate::exchange::RelationKind;
use crate::http::{self, HttpError, Resend, RetryPolicy};
use duckdb::arrow::array::{Array, StringArray};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::DataType;
use reqwest::blocking::{Client, RequestBuilder};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// The PostgREST endpoint and key of a step.
pub struct RestTarget {
    /// Project URL, e.g. `https://abc.supabase.co`.
    pub base: String,
    key: crate::connections::Secret,
    schema: String,
    client: Client,
    policy: RetryPolicy,
}

/// The REST channel's settings, from a step's typed config or a connection alone.
#[derive(Debug, Clone, Deserialize)]
pub struct Rest {
    /// Project URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Project id, alternative to `url`.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Schema (`Accept-Profile` / `Content-Profile`).
    #[serde(default = "public")]
    pub schema: String,
    /// Request timeout in seconds.
    #[serde(default = "thirty")]
    pub timeout: u64,
    /// Retries per request.
    #[serde(default = "three")]
    pub retries: u32,
}

fn public() -> String {
    "public".into()
}
fn thirty() -> u64 {
    30
}
fn three() -> u32 {
    3
}

impl RestTarget {
    /// From the REST settings and the connection's key; errors say which field is missing.
    pub fn new(rest: &Rest, connection: Option<&ResolvedConnection>) -> Result<Self, DriverError> {
        let base = match (rest.url.as_deref(), rest.project_id.as_deref()) {
            (Some(u), _) if !u.is_empty() => u.trim_end_matches('/').to_string(),
            (_, Some(p)) if !p.is_empty() => format!("https://{p}.supabase.co"),
            _ => {
                return Err(DriverError::Config(
                    "the supabase connection has neither a DSN (pg_dsn) nor a url/project_id for the REST API".into(),
                ))
            }
        };
        let key = ["service_role_key", "key", "anon_key"]
            .iter()
            .find_map(|k| connection.and_then(|c| c.secret(k)))
            .cloned()
            .ok_or_else(|| {
                DriverError::Config(
                    "the supabase connection has no key (service_role_key or key) for the REST API".into(),
                )
            })?;
        Ok(Self {
            base,
            key,
            schema: rest.schema.clone(),
            client: http::client(Duration::from_secs(rest.timeout), true).map_err(DriverError::Config)?,
            policy: RetryPolicy { max_retries: rest.retries, ..RetryPolicy::default() },
        })
    }

    /// The primary-key columns of `table` as PostgREST's OpenAPI description marks them
    /// (`<pk/>` in a column's description); empty when it does not say (or cannot be read).
    fn primary_key(&self, ctx: &StepContext, table: &str) -> Vec<String> {
        let described = self.send(ctx, "describe", Resend::Always, || {
            self.client
                .get(format!("{}/rest/v1/", self.base))
                .header("apikey", self.key.expose())
                .bearer_auth(self.key.expose())
                .header("Accept", "application/openapi+json")
                .header("Accept-Profile", &self.schema)
        });
        let Ok(response) = described else { return Vec::new() };
        let Ok(doc) = http::json_body::<Value>(response, http::MAX_BODY_BYTES) else { return Vec::new() };
        primary_key_of(&doc, table)
    }

    /// A request for `table` (checked by [`rest_table`]), the table name one encoded path segment.
    fn request(&self, method: reqwest::Method, table: &str) -> RequestBuilder {
        let profile = if method == reqwest::Method::GET { "Accept-Profile" } else { "Content-Profile" };
        self.client
            .request(method, format!("{}/rest/v1/{}", self.base, encode_segment(table)))
            .header("apikey", self.key.expose())
            .bearer_auth(self.key.expose())
            .header(profile, &self.schema)
    }

    /// Send with retries; a PostgREST error body is turned into its message.
    fn send(
        &self,
        ctx: &StepContext,
        what: &str,
        resend: Resend,
        build: impl FnMut() -> RequestBuilder,
    ) -> Result<reqwest::blocking::Response, DriverError> {
        let policy = RetryPolicy { resend, ..self.policy };
        http::send(&policy, ctx.cancel, build, ctx.retry_event(Some(what))).map_err(|e| match &e {
            HttpError::Cancelled => DriverError::Cancelled,
            HttpError::Status { status, body, attempts } => {
                let not_resent = if resend == Resend::OnlyUnsent && http::retryable(*status) {
                    "; not sent again: the server may have applied it and a plain insert would duplicate rows (write_mode: upsert can be retried)"
                } else {
                    ""
                };
                DriverError::at_target(format!(
                    "Supabase REST {what} failed with HTTP {status} after {attempts} attempt(s): {}{not_resent}",
                    postgrest_message(body)
                ))
                .with_cause(e)
            }
            other => DriverError::at_target(format!("Supabase REST {what} failed: {other}")).with_cause(e),
        })
    }
}

/// A table name as PostgREST's `/rest/v1/<table>` takes it. The URL carries the service key, so
/// a name must not reach other endpoints of the API (`../../storage/v1/bucket`, `rpc/fn`, a query
/// string): path separators, `?`, `#`, `%` and dot-only names are refused.
fn rest_table(table: &str) -> Result<&str, DriverError> {
    let bad = table.trim().is_empty()
        || table.chars().all(|c| c == '.')
        || table.contains(['/', '\\', '?', '#', '%'])
        || table.chars().any(char::is_control);
    if bad {
        return Err(DriverError::Config(format!(
            "`{table}` is not a table name the REST API can address (no /, \\, ?, #, % or dot-only names)"
        )));
    }
    Ok(table)
}

/// Percent-encode what a path segment cannot hold literally (spaces and non-ASCII included).
fn encode_segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'$') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// PostgREST's `{code, message, details, hint}` as one line; other bodies as they are.
pub fn postgrest_message(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) if m.contains_key("message") => {
            let mut s = m["message"].as_str().unwrap_or_default().to_string();
            for k in ["code", "details", "hint"] {
                if let Some(v) = m.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()) {
                    s.push_str(&format!("; {k}: {v}"));
                }
            }
            s
        }
        _ => body.to_string(),
    }
}

/// The columns of `table` an OpenAPI description from PostgREST marks as primary key.
fn primary_key_of(doc: &Value, table: &str) -> Vec<String> {
    doc.pointer(&format!("/definitions/{}/properties", table.replace('~', "~0").replace('/', "~1")))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, p)| p["description"].as_str().is_some_and(|d| d.contains("<pk/>")))
        .map(|(name, _)| name.clone())
        .collect()
}

/// Write over REST; returns rows written.
pub fn write(ctx: &StepContext, config: &WriterConfig, input: &str, plan: &WritePlan) -> Result<u64, DriverError> {
    let rest = RestTarget::new(&config.rest(), ctx.connection)?;
    ctx.telemetry.warning(
        ctx.step_id,
        "supabase.writer is using the REST API: the load is not atomic (a failure leaves earlier batches written); give the connection a pg_dsn for a transactional load",
    );
    let table = rest_table(&plan.table)?;
    // REST cannot create tables: say so up front instead of failing on the first batch.
    rest.send(ctx, "table check", Resend::Always, || rest.request(reqwest::Method::GET, table).query(&[("select", "*"), ("limit", "0")]))
        .map_err(|e| match e {
            e if e.http_status() == Some(404) => DriverError::Config(format!(
                "table {}.{table} does not exist and the REST API cannot create it ({e}); create it first or give the connection a pg_dsn (create_if_missing works there)",
                plan.schema
            )),
            other => other,
        })?;
    if plan.mode == WriteMode::Replace {
        let Some(key) = plan.primary_key.first() else {
            return Err(DriverError::Config(
                "write_mode replace over REST needs primary_key (rows are deleted by key)".into(),
            ));
        };
        rest.send(ctx, "delete before replace", Resend::Always, || {
            rest.request(reqwest::Method::DELETE, table)
                .query(&[(key.as_str(), "not.is.null")])
                .header("Prefer", "return=minimal")
        })?;
    }
    let mut prefer = "return=minimal".to_string();
    let mut query: Vec<(&str, String)> = Vec::new();
    if plan.mode == WriteMode::Upsert {
        prefer.push_str(",resolution=merge-duplicates");
        query.push(("on_conflict", plan.primary_key.join(",")));
    }
    let batch_size = config.batch_size.max(1) as usize;
    let select: Vec<String> = plan
        .columns
        .iter()
        .map(|(n, t)| format!("{} AS {}", super::types::write_expression(t, &quote_ident(n)), quote_ident(n)))
        .collect();
    let sql =
        format!("SELECT CAST(to_json(q) AS VARCHAR) FROM (SELECT {} FROM {}) q", select.join(", "), quote_ident(input));
    let mut stmt = ctx.conn.prepare(&sql).map_err(sql_error)?;
    let mut body = String::from("[");
    let mut in_batch = 0usize;
    let mut rows = 0u64;
    let mut batches = 0u64;
    let mut flush = |body: &mut String, in_batch: &mut usize, rows: &mut u64| -> Result<(), DriverError> {
        if *in_batch == 0 {
            return Ok(());
        }
        body.push(']');
        let payload = std::mem::replace(body, String::from("["));
        batches += 1;
        let what = format!("insert of batch {batches} (rows {}-{})", *rows + 1, *rows + *in_batch as u64);
        // A plain insert applied twice duplicates rows; an upsert (merge-duplicates) does not.
        let resend = if plan.mode == WriteMode::Upsert { Resend::Always } else { Resend::OnlyUnsent };
        rest.send(ctx, &what, resend, || {
            rest.request(reqwest::Method::POST, table)
                .query(&query)
                .header("Prefer", &prefer)
                .header("Content-Type", "application/json")
                .body(payload.clone())
        })?;
        *rows += *in_batch as u64;
        *in_batch = 0;
        if batches.is_multiple_of(10) {
            ctx.telemetry.event("write.progress", Some(ctx.step_id), json!({"rows_written": *rows}));
        }
        Ok(())
    };
    // step() rather than the Arrow iterator, which panics when reading fails mid-way.
    let _ = stmt.stream_arrow([]).map_err(sql_error)?;
    while let Some(batch) = stmt.step().map_err(sql_error)? {
        let text = cast(batch.column(0), &DataType::Utf8)
            .map_err(|e| DriverError::sql(format!("cannot read the input: {e}")))?;
        let Some(col) = text.as_any().downcast_ref::<StringArray>() else {
            return Err(DriverError::sql("to_json did not return text"));
        };
        for i in 0..col.len() {
            if in_batch > 0 {
                body.push(',');
            }
            body.push_str(col.value(i));
            in_batch += 1;
            if in_batch >= batch_size {
                flush(&mut body, &mut in_batch, &mut rows)?;
            }
        }
    }
    flush(&mut body, &mut in_batch, &mut rows)?;
    Ok(rows)
}

/// Read over REST, page by page; returns rows read and the relation made.
pub fn extract(ctx: &StepContext, config: &ExtractorConfig) -> Result<(u64, RelationKind), DriverError> {
    let rest = RestTarget::new(&config.rest(), ctx.connection)?;
    let table = rest_table(&config.table)?;
    let page_size = config.limit.max(1);
    let mut offset = config.offset;
    let mut params: Vec<(String, String)> = vec![("select".into(), config.select.clone())];
    // Offset paging needs a stable order, else rows can be skipped or read twice.
    let order = match &config.order {
        Some(order) => Some(order.clone()),
        None => {
            let keys = rest.primary_key(ctx, table);
            if keys.is_empty() {
                ctx.telemetry.warning(
                    ctx.step_id,
                    &format!("{table} has no primary key PostgREST reports and no `order` was given: offset paging may skip or repeat rows if the table changes meanwhile; set `order`"),
                );
                None
            } else {
                Some(keys.iter().map(|k| format!("{k}.asc")).collect::<Vec<_>>().join(","))
            }
        }
    };
    if let Some(order) = order {
        params.push(("order".into(), order));
    }
    if let Some(filter) = &config.filter {
        for (c, v) in filter {
            params.push((c.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| format!("eq.{v}"))));
        }
    }
    let mut out = JsonTable::new(ctx.step_id, crate::drivers::streaming::staged_path(ctx.run_dir, ctx.step_id), false);
    let mut progress = crate::drivers::paging::PageProgress::default();
    let result = (|| loop {
        let mut page_params = params.clone();
        page_params.push(("limit".into(), page_size.to_string()));
        page_params.push(("offset".into(), offset.to_string()));
        let response = rest
            .send(ctx, "select", Resend::Always, || rest.request(reqwest::Method::GET, table).query(&page_params))
            .map_err(|e| match e {
                // Reading through the REST channel: its failure is the source's.
                DriverError::Target { message, cause } => DriverError::Source { message, cause },
                other => other,
            })?;
        let rows: Vec<Value> = crate::http::json_body(response, crate::http::MAX_BODY_BYTES).map_err(|e| {
            DriverError::at_source(format!("Supabase REST: unusable answer (expected a JSON list): {e}"))
        })?;
        let n = rows.len() as u64;
        if n >= page_size && !progress.advanced(&rows) {
            return Err(DriverError::at_source(format!(
                "Supabase REST answered offset {offset} with the rows of the page before: the paging does not advance, so the extraction stops instead of looping"
            )));
        }
        out.append(&rows).map_err(DriverError::at_source)?;
        offset += n;
        if n < page_size {
            return Ok(());
        }
    })();
    match result {
        Ok(()) => out.finish(ctx.conn, ctx.materialize).map_err(DriverError::at_source),
        Err(e) => {
            ctx.drop_partial_relation();
            Err(e)
        }
    }
}

/// The REST channel's health for `connections doctor`: reachability and whether the key is accepted.
pub fn doctor(connection: &ResolvedConnection) -> Option<HealthReport> {
    let rest = connection.fields_as::<Rest>().ok().and_then(|r| RestTarget::new(&r, Some(connection)).ok())?;
    let started = std::time::Instant::now();
    let response = rest
        .client
        .get(format!("{}/rest/v1/", rest.base))
        .header("apikey", rest.key.expose())
        .bearer_auth(rest.key.expose())
        .timeout(Duration::from_secs(5))
        .send();
    let report = match response {
        Ok(r) if r.status().is_success() => {
            HealthReport::success(format!("REST API at {} accepted the key", rest.base))
        }
        Ok(r) if matches!(r.status().as_u16(), 401 | 403) => HealthReport::failure(
            HealthCategory::Auth,
            format!("REST API at {} rejected the key (HTTP {})", rest.base, r.status()),
        ),
        Ok(r) => HealthReport::failure(
            HealthCategory::Unknown,
            format!("REST API at {} answered HTTP {}", rest.base, r.status()),
        ),
        Err(e) if e.is_timeout() => {
            HealthReport::failure(HealthCategory::Timeout, format!("REST API at {} unreachable: timed out", rest.base))
        }
        Err(_) => HealthReport::failure(
            HealthCategory::Network,
            format!("REST API at {} unreachable: connection failed", rest.base),
        ),
    };
    Some(report.timed(started))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_stay_inside_the_rest_endpoint() {
        for bad in ["../../storage/v1/bucket", "rpc/fn", "t?select=*", "..", "a#b", "a%2Fb", ""] {
            assert!(rest_table(bad).is_err(), "{bad}");
        }
        assert_eq!(rest_table("people").unwrap(), "people");
        assert_eq!(encode_segment("Straße 1"), "Stra%C3%9Fe%201");
    }
}
