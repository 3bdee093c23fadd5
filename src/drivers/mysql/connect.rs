//! Where a MySQL step or connection points, and opening it with errors that name
//! `host:port/database` but never the password.

use crate::connections::{ResolvedConnection, Secret};
use crate::drivers::health::HealthCategory;
use mysql::{Conn, OptsBuilder};
use serde_json::{Map, Value};
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
}

impl Target {
    /// From a step's merged config (connection fields already filled in) and its connection.
    pub fn from_config(config: &Map<String, Value>, connection: Option<&ResolvedConnection>) -> Self {
        let s = |k: &str| config.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_string);
        let port = config
            .get("port")
            .and_then(|p| p.as_u64().or_else(|| p.as_str().and_then(|s| s.parse().ok())))
            .unwrap_or(3306);
        Self {
            host: s("host").unwrap_or_else(|| "localhost".into()),
            port: u16::try_from(port).unwrap_or(3306),
            database: s("schema").or_else(|| s("database")).unwrap_or_default(),
            user: s("user").unwrap_or_else(|| "root".into()),
            password: connection.and_then(|c| c.secret("password")).cloned().unwrap_or_else(|| Secret::new("")),
        }
    }

    /// `host:port/database`, for messages.
    pub fn label(&self) -> String {
        format!("{}:{}/{}", self.host, self.port, self.database)
    }

    /// Connect and authenticate within `timeout`; the session uses utf8mb4 and UTC.
    pub fn connect(&self, timeout: Duration) -> Result<Conn, mysql::Error> {
        let opts = OptsBuilder::new()
            .ip_or_hostname(Some(self.host.clone()))
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.expose().to_string()))
            .db_name(Some(self.database.clone()).filter(|d| !d.is_empty()))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(timeout))
            .read_timeout(Some(Duration::from_secs(3600)))
            .init(vec!["SET NAMES utf8mb4", "SET time_zone = '+00:00'"]);
        Conn::new(opts)
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
