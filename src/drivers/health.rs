//! The typed result of a connection health check (`connections doctor`, and MCP's
//! `connections_doctor`, which only render it). Each family's check lives next to its drivers and
//! is registered in [`super::health_check`].

use serde::Serialize;
use std::time::Instant;

/// Outcome of a check, in the original's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// The connection answered as it should.
    Success,
    /// It was tried and failed.
    Failure,
    /// It could not be tried (its configuration does not resolve).
    Error,
    /// This build has no check for the family.
    Skipped,
}

/// Why a check ended as it did: what the user should look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthCategory {
    /// Nothing wrong.
    Ok,
    /// The credentials were refused.
    Auth,
    /// The server could not be reached.
    Network,
    /// The server did not answer in time.
    Timeout,
    /// The database named does not exist.
    UnknownDatabase,
    /// The server refused for another reason.
    Server,
    /// The connection's configuration cannot work.
    Config,
    /// No check exists for the family.
    Unsupported,
    /// Anything else.
    Unknown,
}

/// A table (or data type) the connection can read, with the server's row estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableEstimate {
    /// Schema, where the server has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Table name.
    pub table: String,
    /// Estimated rows, when the server gives an estimate.
    pub estimated_rows: Option<u64>,
}

/// One named part of a check (a connection with two channels, such as SQL and REST).
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Which channel.
    pub name: String,
    /// Its own report.
    #[serde(flatten)]
    pub report: HealthReport,
}

/// What a health check found.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    /// Outcome.
    pub status: HealthStatus,
    /// Why.
    pub category: HealthCategory,
    /// One line for people (never a secret: it passes the redactor before it is printed).
    pub message: String,
    /// Time to the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// The server's own version string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// What the connection can read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableEstimate>,
    /// Parts of the check, when there are several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
}

impl HealthReport {
    /// The connection answered.
    pub fn success(message: impl Into<String>) -> Self {
        Self {
            status: HealthStatus::Success,
            category: HealthCategory::Ok,
            message: message.into(),
            latency_ms: None,
            server_version: None,
            tables: Vec::new(),
            checks: Vec::new(),
        }
    }

    /// The connection was tried and failed for `category`.
    pub fn failure(category: HealthCategory, message: impl Into<String>) -> Self {
        Self { status: HealthStatus::Failure, category, ..Self::success(message) }
    }

    /// The connection could not be tried: its configuration does not resolve.
    pub fn error(message: impl Into<String>) -> Self {
        Self { status: HealthStatus::Error, category: HealthCategory::Config, ..Self::success(message) }
    }

    /// No check exists for the family.
    pub fn skipped(message: impl Into<String>) -> Self {
        Self { status: HealthStatus::Skipped, category: HealthCategory::Unsupported, ..Self::success(message) }
    }

    /// The same report with the time since `started`.
    pub fn timed(mut self, started: Instant) -> Self {
        self.latency_ms = Some(started.elapsed().as_millis() as u64);
        self
    }

    /// True when the check failed or could not run.
    pub fn is_failed(&self) -> bool {
        matches!(self.status, HealthStatus::Failure | HealthStatus::Error)
    }

    /// One report for a connection with several channels: the first failing channel decides
    /// the outcome (else the first), the messages are joined, and each channel is kept in `checks`.
    pub fn combine(channels: Vec<Check>) -> Self {
        let lead = channels.iter().find(|c| c.report.is_failed()).or(channels.first());
        let mut combined = match lead {
            Some(c) => HealthReport { checks: Vec::new(), ..c.report.clone() },
            None => return Self::failure(HealthCategory::Config, "nothing to check"),
        };
        combined.message = channels.iter().map(|c| c.report.message.as_str()).collect::<Vec<_>>().join("; ");
        combined.checks = channels;
        combined
    }
}

/// Check every connection of `file` (or only `wanted`, `family.alias`): each result is the
/// [`HealthReport`] as JSON with `connection` and `latency_ms`, redacted with the connection's own
/// secrets (servers echo what they were sent). `connections doctor` and the MCP tool both render
/// this.
pub fn doctor(file: &crate::connections::ConnectionsFile, wanted: Option<&str>) -> Vec<serde_json::Value> {
    let mut results = Vec::new();
    for (family, aliases) in &file.families {
        for alias in aliases.keys() {
            let reference = format!("{family}.{alias}");
            if wanted.is_some_and(|w| w != reference) {
                continue;
            }
            let started = Instant::now();
            let mut redactor = crate::connections::Redactor::default();
            let resolved = file.resolve(family, Some(alias));
            if let Ok(c) = &resolved {
                c.register_secrets(&mut redactor);
            }
            let report = match resolved {
                Err(d) => HealthReport::error(d.message),
                Ok(c) => match super::health_check(family) {
                    Some(check) => check(&c),
                    None => HealthReport::skipped(format!(
                        "no health check for `{family}` in this build yet; the connection resolves"
                    )),
                },
            };
            let mut item = serde_json::to_value(&report).expect("a report serializes");
            redactor.redact_json(&mut item);
            item["connection"] = serde_json::json!(format!("@{reference}"));
            if item.get("latency_ms").is_none() {
                item["latency_ms"] = serde_json::json!(started.elapsed().as_millis() as u64);
            }
            results.push(item);
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failing_channel_decides_and_each_is_kept() {
        let ok = Check { name: "sql".into(), report: HealthReport::success("sql fine") };
        let bad = Check { name: "rest".into(), report: HealthReport::failure(HealthCategory::Auth, "key refused") };
        let r = HealthReport::combine(vec![ok, bad]);
        assert_eq!((r.status, r.category), (HealthStatus::Failure, HealthCategory::Auth));
        assert_eq!(r.message, "sql fine; key refused");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["checks"][1]["name"], "rest");
        assert_eq!(json["checks"][0]["status"], "success");
    }
}
