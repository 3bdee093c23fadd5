//! HTTP requests with bounded retries, shared by the PostHog, GraphQL and Supabase REST drivers.
//!
//! Policy: 429 waits for `Retry-After` (seconds) when the server sends it, otherwise exponential
//! backoff with jitter; 500/502/503/504, timeouts and connection errors back off exponentially
//! (base delay doubled per attempt, ×0.5–1.5 jitter, capped); any other status is returned at once
//! (401/403 must fail fast, a 400 carries the server's explanation). After the last attempt the
//! error names the last status and an excerpt of the body. Waits watch the cancel flag.
//!
//! Written here rather than with a retry crate because the decision needs the response (status,
//! `Retry-After`) and the error must carry it; the loop is twenty lines.

use reqwest::blocking::{RequestBuilder, Response};
use reqwest::StatusCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often and how long to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Delay before the first retry; doubled each time.
    pub base_delay: Duration,
    /// Upper bound of one backoff delay (a server's `Retry-After` is honoured up to 5 minutes).
    pub max_delay: Duration,
    /// Whether a request the server may have received can be sent again.
    pub resend: Resend,
}

/// When a failed request may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Reads and idempotent writes: after any retryable failure.
    Always,
    /// Writes that would apply twice (a plain insert): only when the server cannot have acted on
    /// it — the connection was never made, or it answered 429 Too Many Requests.
    OnlyUnsent,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            resend: Resend::Always,
        }
    }
}

/// Why a request finally failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The server answered with a status that is not retried, or still failed after the retries.
    #[error("HTTP {status} after {attempts} attempt(s): {body}")]
    Status {
        /// The last status.
        status: StatusCode,
        /// An excerpt of the last body.
        body: String,
        /// Attempts made.
        attempts: u32,
    },
    /// No answer (refused, reset, timeout) after the retries.
    #[error("{message} (after {attempts} attempt(s))")]
    Network {
        /// What went wrong, without the URL's query string.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The run was cancelled while waiting.
    #[error("cancelled")]
    Cancelled,
}

impl HttpError {
    /// The HTTP status, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Largest response body read: one page of JSON. A larger body is an error (ask for smaller
/// pages), never an allocation the server chose.
pub const MAX_BODY_BYTES: u64 = 256 * 1024 * 1024;

/// Most bytes of an error body read for its excerpt.
const ERROR_BODY_BYTES: u64 = 64 * 1024;

/// Why a response body could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Longer than the limit (by its Content-Length or as read).
    #[error("the response body is larger than {limit} bytes; ask for smaller pages")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The connection broke while reading.
    #[error("cannot read the response body: {0}")]
    Read(#[source] std::io::Error),
    /// Not the JSON expected.
    #[error("not the JSON expected: {0}")]
    NotJson(#[source] serde_json::Error),
}

/// Parse a JSON body of at most `limit` bytes (use [`MAX_BODY_BYTES`]).
pub fn json_body<T: serde::de::DeserializeOwned>(response: Response, limit: u64) -> Result<T, BodyError> {
    serde_json::from_slice(&body_bytes(response, limit)?).map_err(BodyError::NotJson)
}

/// The body's bytes, at most `limit` of them (use [`MAX_BODY_BYTES`]).
pub fn body_bytes(response: Response, limit: u64) -> Result<Vec<u8>, BodyError> {
    use std::io::Read;
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    response.take(limit + 1).read_to_end(&mut body).map_err(BodyError::Read)?;
    if body.len() as u64 > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(body)
}

/// The start of an error body, read no further than [`ERROR_BODY_BYTES`].
fn error_body(response: Response) -> String {
    use std::io::Read;
    let mut body = Vec::new();
    let _ = response.take(ERROR_BODY_BYTES).read_to_end(&mut body);
    String::from_utf8_lossy(&body).into_owned()
}

/// Longest body excerpt kept in an error.
const EXCERPT: usize = 500;

/// The first [`EXCERPT`] characters of a body.
pub fn excerpt(body: &str) -> String {
    let trimmed = body.trim();
    match trimmed.char_indices().nth(EXCERPT) {
        Some((i, _)) => format!("{}…", &trimmed[..i]),
        None => trimmed.to_string(),
    }
}

/// Statuses worth another attempt: 429 and the transient 5xx.
pub fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || matches!(status.as_u16(), 500 | 502 | 503 | 504)
}

fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = value.trim().parse().ok()?;
    (secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(300.0)))
}

fn backoff(policy: &RetryPolicy, retry: u32) -> Duration {
    let exp = policy.base_delay.saturating_mul(1u32 << retry.min(16));
    let jitter = 0.5 + f64::from(getrandom::u32().unwrap_or(0) % 1000) / 1000.0;
    exp.mul_f64(jitter).min(policy.max_delay)
}

/// Sleep for `d`, returning false as soon as `cancel` is set.
fn sleep_unless_cancelled(d: Duration, cancel: &AtomicBool) -> bool {
    let until = std::time::Instant::now() + d;
    while std::time::Instant::now() < until {
        if cancel.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep((until - std::time::Instant::now()).min(Duration::from_millis(50)));
    }
    !cancel.load(Ordering::SeqCst)
}

/// Describe a transport error without the URL (which may carry a key in its query string).
fn network_message(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

/// Send the request `build` makes (called once per attempt) under `policy`.
/// `on_retry` hears about each retry (status or error text, and the wait) for events.
pub fn send(
    policy: &RetryPolicy,
    cancel: &AtomicBool,
    mut build: impl FnMut() -> RequestBuilder,
    mut on_retry: impl FnMut(&str, Duration),
) -> Result<Response, HttpError> {
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let last = attempts > policy.max_retries;
        match build().send() {
            Ok(response) if response.status().is_success() => return Ok(response),
            Ok(response) => {
                let status = response.status();
                let maybe_applied = policy.resend == Resend::OnlyUnsent && status != StatusCode::TOO_MANY_REQUESTS;
                if !retryable(status) || last || maybe_applied {
                    let body = error_body(response);
                    return Err(HttpError::Status { status, body: excerpt(&body), attempts });
                }
                let wait = match (status, retry_after(&response)) {
                    (StatusCode::TOO_MANY_REQUESTS, Some(d)) => d,
                    _ => backoff(policy, attempts - 1),
                };
                on_retry(&format!("HTTP {status}"), wait);
                if !sleep_unless_cancelled(wait, cancel) {
                    return Err(HttpError::Cancelled);
                }
            }
            Err(e) => {
                let message = network_message(&e);
                // A refused redirect is a decision, not a network hiccup: trying again changes nothing.
                if last || e.is_redirect() {
                    return Err(HttpError::Network { message, attempts });
                }
                if policy.resend == Resend::OnlyUnsent && !e.is_connect() {
                    return Err(HttpError::Network {
                        message: format!("{message}; not sent again, since the server may have applied it"),
                        attempts,
                    });
                }
                let wait = backoff(policy, attempts - 1);
                on_retry(&message, wait);
                if !sleep_unless_cancelled(wait, cancel) {
                    return Err(HttpError::Cancelled);
                }
            }
        }
    }
}

/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 10;

/// `scheme://host:port` of a URL, for messages (no path, no query, no credentials).
fn origin(url: &reqwest::Url) -> String {
    format!("{}://{}:{}", url.scheme(), url.host_str().unwrap_or(""), url.port_or_known_default().unwrap_or(0))
}

/// Redirects are followed only within one origin (same scheme, host and port). Requests carry
/// credentials in headers reqwest does not know are secret (`apikey`, `X-API-Key`, custom
/// headers), so a redirect elsewhere — or from https to http — would hand them to whoever
/// answers there; it fails the request instead, naming both origins.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let Some(previous) = attempt.previous().last() else { return attempt.follow() };
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        let (from, to) = (origin(previous), origin(attempt.url()));
        if from == to {
            attempt.follow()
        } else {
            attempt.error(format!(
                "the server at {from} redirected to {to}; osiris never sends credentials to another origin or over plain http — configure the final URL instead"
            ))
        }
    })
}

/// A blocking client with a request timeout; `validate_tls` false accepts any certificate.
pub fn client(timeout: Duration, validate_tls: bool) -> Result<reqwest::blocking::Client, String> {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .redirect(same_origin_redirects())
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("osiris/", env!("CARGO_PKG_VERSION")))
        .danger_accept_invalid_certs(!validate_tls)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_cap() {
        let p = RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
            resend: Resend::Always,
        };
        let d0 = backoff(&p, 0);
        let d2 = backoff(&p, 2);
        assert!(d0 >= Duration::from_millis(500) && d0 <= Duration::from_millis(1500), "{d0:?}");
        assert!(d2 >= Duration::from_secs(2) && d2 <= Duration::from_secs(5), "{d2:?}");
        assert_eq!(backoff(&p, 10), Duration::from_secs(5));
        assert!(retryable(StatusCode::SERVICE_UNAVAILABLE) && !retryable(StatusCode::UNAUTHORIZED));
        assert_eq!(excerpt(&"x".repeat(600)).chars().count(), 501);
    }
}
