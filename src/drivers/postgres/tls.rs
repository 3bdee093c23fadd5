//! TLS to PostgreSQL as libpq's `sslmode` promises it: `disable`, `allow`/`prefer` (TLS when the
//! server offers it, certificate not checked), `require` (TLS, certificate not checked),
//! `verify-ca` (the chain must lead to `sslrootcert`, else the system roots) and `verify-full`
//! (that, and the certificate must name the host). The `postgres` crate knows only the first
//! three, so the two verifying modes are taken out of a DSN before it is parsed and enforced
//! here on the connector.

use postgres::config::SslMode;

/// An `sslmode` and where the trusted roots are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPolicy {
    /// The mode.
    pub mode: Mode,
    /// `sslrootcert`: a PEM file of trusted roots (only these are trusted when given).
    pub root_cert: Option<String>,
}

/// libpq's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No TLS.
    Disable,
    /// TLS when offered, not verified (`allow`, `prefer`; the default).
    Prefer,
    /// TLS, not verified.
    Require,
    /// TLS, chain verified, host name not.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

impl Mode {
    /// `sslmode` text → mode; an unknown value is an error (never silently weaker).
    pub fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "disable" => Self::Disable,
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode `{other}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ))
            }
        })
    }

    /// What the `postgres` crate negotiates for this mode.
    pub fn negotiation(self) -> SslMode {
        match self {
            Self::Disable => SslMode::Disable,
            Self::Prefer => SslMode::Prefer,
            Self::Require | Self::VerifyCa | Self::VerifyFull => SslMode::Require,
        }
    }
}

impl TlsPolicy {
    /// The connector for this policy.
    pub fn connector(&self) -> Result<native_tls::TlsConnector, String> {
        let mut builder = native_tls::TlsConnector::builder();
        match self.mode {
            Mode::Disable | Mode::Prefer | Mode::Require => {
                builder.danger_accept_invalid_certs(true).danger_accept_invalid_hostnames(true);
            }
            Mode::VerifyCa => {
                builder.danger_accept_invalid_hostnames(true);
            }
            Mode::VerifyFull => {}
        }
        if let (Mode::VerifyCa | Mode::VerifyFull, Some(path)) = (self.mode, &self.root_cert) {
            let pem = std::fs::read(path).map_err(|e| format!("sslrootcert {path}: {e}"))?;
            let root = native_tls::Certificate::from_pem(&pem)
                .map_err(|e| format!("sslrootcert {path} is not a PEM certificate: {e}"))?;
            builder.disable_built_in_roots(true).add_root_certificate(root);
        }
        builder.build().map_err(|e| format!("cannot set up TLS: {e}"))
    }
}

/// Take `sslmode` and `sslrootcert` out of a DSN (URL or key=value form), returning the DSN the
/// `postgres` crate can parse and the two values.
pub fn take_tls_options(dsn: &str) -> (String, Option<String>, Option<String>) {
    let (mut mode, mut root) = (None, None);
    let mut keep = |key: &str, value: &str| match key {
        "sslmode" => {
            mode = Some(value.to_string());
            false
        }
        "sslrootcert" => {
            root = Some(value.to_string());
            false
        }
        _ => true,
    };
    let rest = if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
        match dsn.split_once('?') {
            Some((base, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|pair| {
                        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                        keep(k, &percent_decode(v))
                    })
                    .collect();
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => dsn.to_string(),
        }
    } else {
        dsn.split_whitespace()
            .filter(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                keep(k.trim(), v.trim_matches('\''))
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    (rest, mode, root)
}

/// `%XX` sequences decoded (a path in a URL query is percent-encoded).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifying_modes_leave_the_dsn_and_unknown_modes_are_refused() {
        let (dsn, mode, root) = take_tls_options(
            "postgresql://u:p@h:5432/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=5",
        );
        assert_eq!(dsn, "postgresql://u:p@h:5432/db?connect_timeout=5");
        assert_eq!((mode.as_deref(), root.as_deref()), (Some("verify-full"), Some("/etc/ca.pem")));
        let (dsn, mode, _) = take_tls_options("host=h dbname=db sslmode=verify-ca user=u");
        assert_eq!((dsn.as_str(), mode.as_deref()), ("host=h dbname=db user=u", Some("verify-ca")));
        assert_eq!(take_tls_options("postgresql://h/db").0, "postgresql://h/db");
        assert_eq!(Mode::parse("verify-full").unwrap().negotiation(), SslMode::Require);
        assert!(Mode::parse("verify_full").is_err());
    }
}
