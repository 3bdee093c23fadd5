//! Secrets: a type that never prints its value, and a redactor that scrubs known secret values
//! from any text on its way out (events, logs, errors, stdout, reports).

use std::fmt;

/// A secret value. `Debug`, `Display` and `Serialize` print `***`; only [`Secret::expose`] reveals it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value, for handing to a client library. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// True when a config or connection field name denotes a secret: `password`, `api_key`,
/// `service_role_key`, `pg_dsn`, `auth_token`, … (`primary_key`, `upsert_keys`, `auth_type`,
/// `auth_header_name` excepted).
pub fn is_secret_field(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    // Settings whose names contain a secret-sounding word but hold no secret.
    if matches!(n.as_str(), "primary_key" | "upsert_keys" | "key_column" | "keys" | "auth_type" | "auth_header_name") {
        return false;
    }
    const WORDS: [&str; 12] = [
        "password",
        "passwd",
        "pwd",
        "secret",
        "key",
        "token",
        "dsn",
        "credential",
        "credentials",
        "auth",
        "apikey",
        "pass",
    ];
    n.split(['_', '-']).any(|part| WORDS.contains(&part)) || n == "connection_string" || n == "authorization"
}

/// The password inside a URL such as `postgres://user:pw@host/db`, if any.
pub fn url_password(value: &str) -> Option<&str> {
    let rest = &value[value.find("://")? + 3..];
    let at = rest.find('@')?;
    let userinfo = &rest[..at];
    let (_, pw) = userinfo.split_once(':')?;
    (!pw.is_empty()).then_some(pw)
}

/// Replaces every known secret value in text with `***`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    values: Vec<String>,
}

/// Shorter values are not scrubbed: masking every occurrence of a 2-letter string would garble
/// output while protecting nothing.
const MIN_SECRET_LEN: usize = 4;

impl Redactor {
    /// Remember a value to scrub (and the password inside it, when it is a URL).
    pub fn add(&mut self, value: &str) {
        for v in std::iter::once(value).chain(url_password(value)) {
            if v.len() >= MIN_SECRET_LEN && !self.values.iter().any(|x| x == v) {
                self.values.push(v.to_string());
            }
        }
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// `text` with every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), "***");
            }
        }
        out
    }

    /// Redact every string inside a JSON value.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        if self.values.is_empty() {
            return;
        }
        match value {
            serde_json::Value::String(s) => *s = self.redact(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(|v| self.redact_json(v)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|v| self.redact_json(v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter22");
        assert_eq!(format!("{s} {s:?} {}", serde_json::to_string(&s).unwrap()), "*** *** \"***\"");
        assert_eq!(s.expose(), "hunter22");
    }

    #[test]
    fn field_names() {
        for f in ["password", "api_key", "service_role_key", "pg_dsn", "auth_token", "key", "client_secret"] {
            assert!(is_secret_field(f), "{f}");
        }
        for f in ["primary_key", "host", "user", "table", "base_dir", "upsert_keys"] {
            assert!(!is_secret_field(f), "{f}");
        }
    }

    #[test]
    fn redacts_values_and_url_passwords() {
        let mut r = Redactor::default();
        r.add("postgres://app:s3cr3t-pw@db:5432/x");
        r.add("abc");
        assert_eq!(r.redact("failed: password s3cr3t-pw rejected; abc"), "failed: password *** rejected; abc");
        assert_eq!(r.redact("dsn=postgres://app:s3cr3t-pw@db:5432/x"), "dsn=***");
    }
}
