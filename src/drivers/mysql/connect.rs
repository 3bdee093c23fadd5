//! Where a MySQL step or connection points, and opening it with errors that name
//! `host:port/database` but never the password.

use crate::components::config::text_or_number;
use crate::connections::{ResolvedConnection, Secret};
use crate::drivers::health::HealthCategory;
use mysql::{Conn, OptsBuilder, SslOpts};
use serde::Deserialize;
use std::time::Duration;

/// A MySQL server, database and login.
#[derive(Debug, Clone)]
pub struct Target {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database (or `schema`, which wins when set).
    pub database: String,
    /// User name.
    pub user: String,
    password: Secret,
    /// The connection's `ssl_mode` and `ssl_ca` (connection fields only: a pipeline cannot
    /// weaken them), or why they cannot be honoured.
    tls: Result<Tls, String>,
}

/// MySQL's `--ssl-mode`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// No TLS.
    Disabled,
    /// TLS when the server offers it, certificate not checked (the default, as the `mysql`
    /// client does).
    Preferred,
    /// TLS, certificate not checked.
    Required,
    /// TLS, chain checked against `ssl_ca` (or the system roots), host name not.
    VerifyCa,
    /// TLS, chain and host name checked.
    VerifyIdentity,
}

/// How to talk TLS to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// The mode.
    pub mode: TlsMode,
    /// A PEM file of the CA that signed the server's certificate.
    pub ca: Option<String>,
}

impl Tls {
    /// From the connection's `ssl_mode` (disabled, preferred, required, verify_ca,
    /// verify_identity; `-` or `_`, any case) and `ssl_ca`.
    pub fn from_connection(connection: Option<&ResolvedConnection>) -> Result<Self, String> {
        let field = |n: &str| connection.and_then(|c| c.str_field(n));
        let mode = match field("ssl_mode").map(|m| m.to_ascii_lowercase().replace('-', "_")).as_deref() {
            None | Some("preferred") => TlsMode::Preferred,
            Some("disabled") => TlsMode::Disabled,
            Some("required") => TlsMode::Required,
            Some("verify_ca") => TlsMode::VerifyCa,
            Some("verify_identity") => TlsMode::VerifyIdentity,
            Some(other) => {
                return Err(format!(
                    "ssl_mode `{other}` is not one of disabled, preferred, required, verify_ca, verify_identity"
                ))
            }
        };
        Ok(Self { mode, ca: field("ssl_ca") })
    }

    /// The client's TLS options (None: plain).
    fn ssl_opts(&self) -> Option<SslOpts> {
        let opts = SslOpts::default();
        let opts = match &self.ca {
            Some(ca) => opts.with_root_cert_path(Some(std::path::PathBuf::from(ca))),
            None => opts,
        };
        match self.mode {
            TlsMode::Disabled => None,
            TlsMode::Preferred | TlsMode::Required => {
                Some(opts.with_danger_accept_invalid_certs(true).with_danger_skip_domain_validation(true))
            }
            TlsMode::VerifyCa => Some(opts.with_danger_skip_domain_validation(true)),
            TlsMode::VerifyIdentity => Some(opts),
        }
    }
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The TLS settings cannot be honoured (an unknown mode).
    #[error("{0}")]
    Tls(String),
    /// The client or the server refused.
    #[error("{}", describe(.0))]
    Client(#[source] mysql::Error),
}

impl ConnectError {
    /// The category `connections doctor` shows.
    pub fn category(&self) -> HealthCategory {
        match self {
            Self::Tls(_) => HealthCategory::Config,
            Self::Client(e) => category(e),
        }
    }
}

impl From<ConnectError> for crate::drivers::Cause {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Client(e) => Self::Mysql(e),
            ConnectError::Tls(message) => Self::Io(std::io::Error::other(message)),
        }
    }
}

/// Where and as whom, as a step's config (connection fields merged) or a connection alone
/// gives it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Server {
    /// Host (default `localhost`).
    #[serde(default)]
    pub host: Option<String>,
    /// Port as text or a number (default 3306).
    #[serde(default, deserialize_with = "text_or_number")]
    pub port: Option<String>,
    /// Database.
    #[serde(default)]
    pub database: Option<String>,
    /// User (default `root`).
    #[serde(default)]
    pub user: Option<String>,
    /// Schema (database) of the table; wins over `database`.
    #[serde(default)]
    pub schema: Option<String>,
}

impl Target {
    /// The target of `server` with the connection's password and TLS settings.
    pub fn new(server: &Server, connection: Option<&ResolvedConnection>) -> Result<Self, String> {
        let text = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        let port = match text(&server.port) {
            Some(p) => p.parse().map_err(|_| format!("port `{p}` is not a TCP port number"))?,
            None => 3306,
        };
        Ok(Self {
            host: text(&server.host).unwrap_or_else(|| "localhost".into()),
            port,
            database: text(&server.schema).or_else(|| text(&server.database)).unwrap_or_default(),
            user: text(&server.user).unwrap_or_else(|| "root".into()),
            password: connection.and_then(|c| c.secret("password")).cloned().unwrap_or_else(|| Secret::new("")),
            tls: Tls::from_connection(connection),
        })
    }

    /// The target a connection alone names (health check, discovery).
    pub fn of_connection(connection: &ResolvedConnection) -> Result<Self, String> {
        Self::new(&connection.fields_as::<Server>()?, Some(connection))
    }

    /// `host:port/database`, for messages.
    pub fn label(&self) -> String {
        format!("{}:{}/{}", self.host, self.port, self.database)
    }

    /// Connect and authenticate within `timeout`, with TLS as the connection's `ssl_mode` says
    /// (`preferred`: TLS when the server offers it, else plain); the session uses utf8mb4 and UTC.
    pub fn connect(&self, timeout: Duration) -> Result<Conn, ConnectError> {
        let tls = self.tls.clone().map_err(ConnectError::Tls)?;
        match Conn::new(self.opts(timeout).ssl_opts(tls.ssl_opts())) {
            // The typed refusal, not its text: the server has no TLS, which preferred accepts.
            Err(mysql::Error::DriverError(mysql::DriverError::TlsNotSupported)) if tls.mode == TlsMode::Preferred => {
                Conn::new(self.opts(timeout)).map_err(ConnectError::Client)
            }
            other => other.map_err(ConnectError::Client),
        }
    }

    fn opts(&self, timeout: Duration) -> OptsBuilder {
        OptsBuilder::new()
            .ip_or_hostname(Some(self.host.clone()))
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.expose().to_string()))
            .db_name(Some(self.database.clone()).filter(|d| !d.is_empty()))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(timeout))
            .read_timeout(Some(Duration::from_secs(3600)))
            .init(vec!["SET NAMES utf8mb4", "SET time_zone = '+00:00'"])
    }
}

/// A MySQL identifier in backticks, inner backticks doubled.
pub fn quote_mysql(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A short, password-free description of a client error.
pub fn describe(e: &mysql::Error) -> String {
    match e {
        mysql::Error::MySqlError(m) => format!("server error {} ({}): {}", m.code, m.state, m.message),
        mysql::Error::IoError(io) => format!("network error: {io}"),
        mysql::Error::DriverError(d) => format!("driver error: {d}"),
        other => other.to_string(),
    }
}

/// Server error codes meaning "this login may not connect here", as MariaDB and MySQL send them:
/// 1044 no access to the database, 1045 wrong user or password, 1130 host not allowed, 1251 the
/// client's auth method is refused, 1275 old-password auth refused, 1698 access denied through an
/// auth plugin (unix_socket, ed25519, or an account the server is re-reading), 1820 and 1862 the
/// password has expired, 3118 (MySQL) and 4151 (MariaDB) the account is locked.
pub const ACCESS_DENIED_CODES: [u16; 10] = [1044, 1045, 1130, 1251, 1275, 1698, 1820, 1862, 3118, 4151];

/// MariaDB/MySQL code for "unknown database".
const UNKNOWN_DATABASE: u16 = 1049;

/// Category of a connection failure for `connections doctor`, decided by error code and kind.
pub fn category(e: &mysql::Error) -> HealthCategory {
    match e {
        mysql::Error::MySqlError(m) if ACCESS_DENIED_CODES.contains(&m.code) => HealthCategory::Auth,
        mysql::Error::MySqlError(m) if m.code == UNKNOWN_DATABASE => HealthCategory::UnknownDatabase,
        mysql::Error::MySqlError(_) => HealthCategory::Server,
        mysql::Error::IoError(io) if io.kind() == std::io::ErrorKind::TimedOut => HealthCategory::Timeout,
        mysql::Error::IoError(_) => HealthCategory::Network,
        mysql::Error::DriverError(mysql::DriverError::CouldNotConnect(Some((_, _, kind))))
            if *kind == std::io::ErrorKind::TimedOut =>
        {
            HealthCategory::Timeout
        }
        mysql::Error::DriverError(mysql::DriverError::CouldNotConnect(_)) => HealthCategory::Network,
        _ => HealthCategory::Unknown,
    }
}
