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
/// `service_role_key`, `pg_dsn`, `auth_token`, `accessToken`, `clientSecret`, `X-API-Key`, …
/// (`primary_key`, `upsert_keys`, `auth_type`, `auth_header_name` excepted). Words are split at
/// `_`, `-` and lower-to-upper case changes.
pub fn is_secret_field(name: &str) -> bool {
    let mut n = String::with_capacity(name.len() + 4);
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            n.push('_');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        n.push(c.to_ascii_lowercase());
    }
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

/// Replaces every known secret value in text with `***`, in the forms it travels in: as is,
/// percent-encoded (in a URL) and base64-encoded with a user name (HTTP Basic auth).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    values: Vec<String>,
    /// Secrets too short to scrub inside words: scrubbed only where they stand alone.
    short: Vec<String>,
}

/// Shorter values are scrubbed only as whole words: masking every `ab` inside other words would
/// garble output while protecting nothing.
const MIN_SECRET_LEN: usize = 4;

impl Redactor {
    /// Remember a value to scrub (and the password inside it, when it is a URL), with its
    /// percent-encoded form.
    pub fn add(&mut self, value: &str) {
        for v in std::iter::once(value).chain(url_password(value)) {
            let encoded = percent_encode(v);
            for form in [v, encoded.as_str()] {
                self.remember(form);
            }
        }
    }

    /// Remember the Basic-auth header value of `user` and `secret` (base64 of `user:secret`).
    pub fn add_basic_auth(&mut self, user: &str, secret: &str) {
        if !secret.is_empty() {
            self.remember(&base64(format!("{user}:{secret}").as_bytes()));
        }
    }

    fn remember(&mut self, v: &str) {
        if v.is_empty() {
            return;
        }
        let list = if v.len() >= MIN_SECRET_LEN { &mut self.values } else { &mut self.short };
        if !list.iter().any(|x| x == v) {
            list.push(v.to_string());
            list.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
    }

    /// `text` with every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), "***");
            }
        }
        for v in &self.short {
            if out.contains(v.as_str()) {
                out = replace_whole_words(&out, v);
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

/// `text` with `word` replaced where no letter or digit touches it.
fn replace_whole_words(text: &str, word: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + word.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(char::is_alphanumeric) || after.is_some_and(char::is_alphanumeric) {
            out.push_str(word);
        } else {
            out.push_str("***");
        }
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

/// Percent-encoding of everything but unreserved characters (RFC 3986).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Standard base64 with padding.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_secret_is_scrubbed_and_short_ones_only_alone() {
        let mut r = Redactor::default();
        r.add("p@ss w/rd");
        r.add_basic_auth("alice", "tok3n-value");
        r.add("x9");
        assert_eq!(r.redact("url postgres://u:p%40ss%20w%2Frd@h/db"), "url postgres://u:***@h/db");
        assert_eq!(r.redact("Authorization: Basic YWxpY2U6dG9rM24tdmFsdWU="), "Authorization: Basic ***");
        assert_eq!(r.redact("pw=x9, model x99, ax9"), "pw=***, model x99, ax9");
        assert_eq!(base64(b"alice:tok3n-value"), "YWxpY2U6dG9rM24tdmFsdWU=");
        for camel in ["accessToken", "clientSecret", "X-API-Key", "refreshToken", "dbPassword"] {
            assert!(is_secret_field(camel), "{camel}");
        }
        assert!(!is_secret_field("primaryKey"));
    }

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
        assert_eq!(r.redact("failed: password s3cr3t-pw rejected; abc"), "failed: password *** rejected; ***");
        assert_eq!(r.redact("abcdef"), "abcdef", "a short secret inside a word stays");
        assert_eq!(r.redact("dsn=postgres://app:s3cr3t-pw@db:5432/x"), "dsn=***");
    }
}
