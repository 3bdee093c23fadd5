//! PostHog's HogQL query API: `POST <base>/api/projects/<project_id>/query/` with
//! `{"query": {"kind": "HogQLQuery", "query": …}}` and `Authorization: Bearer <api_key>`.
//! The answer's `columns`, `types` and `results` are used.

use crate::components::config::text_or_number;
use crate::components::posthog_extractor::{Config, Region};
use crate::connections::{ResolvedConnection, Secret};
use crate::http::{self, HttpError, RetryPolicy};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// One HogQL answer.
#[derive(Debug, Deserialize)]
pub struct HogqlResponse {
    /// Column names.
    #[serde(default)]
    pub columns: Vec<String>,
    /// `[name, ClickHouse type]` pairs, when the server sends them.
    #[serde(default)]
    pub types: Vec<Value>,
    /// Rows, each a list of values in column order.
    #[serde(default)]
    pub results: Vec<Vec<Value>>,
}

/// A HogQL answer whose rows are left unparsed, each row's JSON text borrowed from the body: what
/// the page fetcher needs (how many rows, the first and the last) for one pass that skips the
/// rest, so the next request leaves at once and the loader parses the page meanwhile.
#[derive(Debug, Deserialize)]
pub struct HogqlOutline<'a> {
    /// Column names.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Rows, as their JSON text.
    #[serde(default, borrow)]
    pub results: Vec<&'a serde_json::value::RawValue>,
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum PosthogError {
    /// 401/403: the key is wrong or lacks access.
    #[error("PostHog rejected the API key (HTTP {0}); check api_key in the connection (a personal API key with query access)")]
    Auth(u16),
    /// 404: no such project.
    #[error("PostHog project {0} not found (HTTP 404); check project_id and region/custom_base_url")]
    NotFound(String),
    /// Anything else after the retries.
    #[error("PostHog query failed: {0}")]
    Other(String),
    /// The run was cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// A HogQL client for one project.
pub struct PosthogClient {
    client: reqwest::blocking::Client,
    endpoint: String,
    project_id: String,
    api_key: Secret,
    policy: RetryPolicy,
}

/// Which project, where: from a step's config or from a connection alone (health check,
/// discovery).
#[derive(Debug, Clone, Deserialize)]
pub struct Endpoint {
    /// Numeric project id.
    #[serde(default, deserialize_with = "text_or_number")]
    pub project_id: Option<String>,
    /// Region.
    #[serde(default)]
    pub region: Region,
    /// Base URL of a self-hosted PostHog.
    #[serde(default)]
    pub custom_base_url: Option<String>,
}

impl Endpoint {
    /// A step's endpoint.
    pub fn of(config: &Config) -> Self {
        Self {
            project_id: config.project_id.clone(),
            region: config.region,
            custom_base_url: config.custom_base_url.clone(),
        }
    }

    /// The API's base URL: us, eu, or a self-hosted base URL (its path prefix kept).
    pub fn base_url(&self) -> Result<String, String> {
        match self.region {
            Region::Us => Ok("https://us.posthog.com".into()),
            Region::Eu => Ok("https://eu.posthog.com".into()),
            Region::SelfHosted => self
                .custom_base_url
                .as_deref()
                .filter(|c| !c.is_empty())
                .map(|c| c.trim_end_matches('/').to_string())
                .ok_or_else(|| "region self_hosted needs custom_base_url".to_string()),
        }
    }
}

impl PosthogClient {
    /// For `endpoint` with the connection's `api_key`.
    pub fn new(
        endpoint: &Endpoint,
        connection: Option<&ResolvedConnection>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let api_key =
            connection.and_then(|c| c.secret("api_key")).cloned().ok_or("the posthog connection has no api_key")?;
        let project_id = endpoint.project_id.clone().ok_or("the posthog connection has no project_id")?;
        let base = endpoint.base_url()?;
        Ok(Self {
            client: http::client(timeout, true)?,
            endpoint: format!("{base}/api/projects/{project_id}/query/"),
            project_id,
            api_key,
            policy: RetryPolicy {
                max_retries: 5,
                base_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(60),
                // HogQL queries are reads.
                resend: crate::http::Resend::Always,
            },
        })
    }

    /// Limit the retries (doctor uses none).
    pub fn with_retries(mut self, max_retries: u32) -> Self {
        self.policy.max_retries = max_retries;
        self
    }

    /// Run one HogQL query; `on_retry` hears about each retry.
    pub fn query(
        &self,
        hogql: &str,
        cancel: &AtomicBool,
        on_retry: impl FnMut(&str, Duration),
    ) -> Result<HogqlResponse, PosthogError> {
        let body = self.query_bytes(hogql, cancel, on_retry)?;
        serde_json::from_slice(&body).map_err(|e| PosthogError::Other(format!("unusable HogQL answer: {e}")))
    }

    /// Like [`Self::query`], the answer's bytes.
    pub fn query_bytes(
        &self,
        hogql: &str,
        cancel: &AtomicBool,
        on_retry: impl FnMut(&str, Duration),
    ) -> Result<Vec<u8>, PosthogError> {
        let body = json!({"query": {"kind": "HogQLQuery", "query": hogql}});
        let response = http::send(
            &self.policy,
            cancel,
            || self.client.post(&self.endpoint).bearer_auth(self.api_key.expose()).json(&body),
            on_retry,
        )
        .map_err(|e| match e {
            HttpError::Cancelled => PosthogError::Cancelled,
            HttpError::Status { status, .. } if matches!(status.as_u16(), 401 | 403) => {
                PosthogError::Auth(status.as_u16())
            }
            HttpError::Status { status, .. } if status.as_u16() == 404 => {
                PosthogError::NotFound(self.project_id.clone())
            }
            other => PosthogError::Other(other.to_string()),
        })?;
        http::body_bytes(response, http::MAX_BODY_BYTES)
            .map_err(|e| PosthogError::Other(format!("unusable HogQL answer: {e}")))
    }
}
