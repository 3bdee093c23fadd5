//! Where a supabase step talks: PostgreSQL directly (a DSN or host fields in the connection) or
//! PostgREST over HTTP (`url` + key). Errors name `host:port/database`, never the password.

use super::tls::{take_tls_options, Mode, TlsPolicy};
use crate::connections::{ResolvedConnection, Secret};
use crate::drivers::health::HealthCategory;
use crate::drivers::DriverError;
use postgres::config::Host;
use postgres::error::SqlState;
use postgres::{Client, Config};
use std::str::FromStr;
use std::time::Duration;

/// Connection fields that hold a PostgreSQL DSN, in the order they are looked at.
const DSN_FIELDS: [&str; 3] = ["pg_dsn", "dsn", "sql_dsn"];

/// Supavisor's transaction-mode port, which does not support prepared statements.
pub const TRANSACTION_POOLER_PORT: u16 = 6543;

/// What to do about the transaction pooler, said in the warning and in errors there.
const POOLER_ADVICE: &str = "port 6543 is Supabase's transaction pooler, which does not support the prepared \
     statements and COPY osiris uses: connect in session mode (port 5432) on the pooler host, or directly to the database host";

/// A PostgreSQL server, database and login.
pub struct PgTarget {
    config: Config,
    tls: TlsPolicy,
    /// `host:port/database`, for messages.
    pub label: String,
    /// True when the port is Supabase's transaction pooler.
    pub pooler: bool,
}

impl PgTarget {
    /// The SQL channel of a connection, or None when it has only the REST channel. Every field
    /// is the connection's: a step cannot point the SQL channel anywhere.
    pub fn from_connection(connection: Option<&ResolvedConnection>) -> Result<Option<Self>, String> {
        let get = |n: &str| {
            connection.and_then(|c| {
                c.str_field(n).filter(|v| !v.is_empty()).or_else(|| c.secret(n).map(|s| s.expose().to_string()))
            })
        };
        let mut ssl = (get("sslmode"), get("sslrootcert"));
        let mut pg = if let Some(dsn) = DSN_FIELDS.iter().find_map(|f| get(f)) {
            let (dsn, mode, root) = take_tls_options(&dsn);
            let dsn = Secret::new(dsn);
            ssl = (mode.or(ssl.0), root.or(ssl.1));
            // The parser's message can quote the input; never show it.
            Config::from_str(dsn.expose())
                .map_err(|_| "the connection's PostgreSQL DSN cannot be parsed (expected postgresql://user:password@host:port/database or key=value pairs)".to_string())?
        } else {
            let pick = |names: [&str; 2]| names.iter().find_map(|n| get(n));
            let (Some(host), Some(database)) = (pick(["pg_host", "host"]), pick(["pg_database", "database"])) else {
                return Ok(None);
            };
            let mut c = Config::new();
            c.host(&host).dbname(&database).user(pick(["pg_user", "user"]).as_deref().unwrap_or("postgres"));
            if let Some(port) = pick(["pg_port", "port"]) {
                c.port(port.parse().map_err(|_| format!("port `{port}` is not a number"))?);
            }
            if let Some(pw) = pick(["pg_password", "password"]) {
                c.password(pw);
            }
            c
        };
        let tls = TlsPolicy {
            mode: ssl.0.as_deref().map(Mode::parse).transpose()?.unwrap_or(Mode::Prefer),
            root_cert: ssl.1,
        };
        pg.ssl_mode(tls.mode.negotiation());
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(Duration::from_secs(10));
        }
        pg.application_name("osiris");
        // A server or network that goes silent is noticed (no read waits forever on a dead peer).
        pg.keepalives(true).keepalives_idle(Duration::from_secs(30));
        let host = match pg.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = pg.get_ports().first().copied().unwrap_or(5432);
        let label = format!("{host}:{port}/{}", pg.get_dbname().unwrap_or(""));
        Ok(Some(Self { config: pg, tls, label, pooler: port == TRANSACTION_POOLER_PORT }))
    }

    /// The same target, introducing itself to the server as `name` (`pg_stat_activity`).
    pub fn with_application_name(mut self, name: &str) -> Self {
        self.config.application_name(name);
        self
    }

    /// Connect with TLS as `sslmode` says ([`TlsPolicy`]): not checked under prefer (the
    /// default) and require, like libpq; the chain under verify-ca, chain and host name under
    /// verify-full.
    pub fn connect(&self) -> Result<Client, ConnectError> {
        let tls = self.tls_connector().map_err(|message| ConnectError { message, cause: None })?;
        let mut client =
            self.config.connect(postgres_native_tls::MakeTlsConnector::new(tls)).map_err(|e| ConnectError {
                message: format!("cannot connect to PostgreSQL at {}: {}", self.label, describe(&e)),
                cause: Some(e),
            })?;
        // Text forms DuckDB reads back exactly: UTC timestamps, ISO dates.
        client
            .batch_execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'")
            .map_err(|e| ConnectError { message: self.explain(&e), cause: Some(e) })?;
        Ok(client)
    }

    /// The TLS connector this target's policy makes (also for cancel requests).
    pub fn tls_connector(&self) -> Result<native_tls::TlsConnector, String> {
        self.tls.connector()
    }

    /// Warn (once per step) when the DSN points at Supabase's transaction pooler.
    pub fn warn_if_pooler(&self, ctx: &crate::drivers::StepContext) {
        if self.pooler {
            ctx.telemetry.warning(ctx.step_id, &format!("{}: {POOLER_ADVICE}", self.label));
        }
    }

    /// A query error with this server named, and the pooler explained when it is the cause.
    pub fn explain(&self, e: &postgres::Error) -> String {
        let text = describe(e);
        // What a transaction pooler does to prepared statements: they vanish or collide.
        let statement_lost = matches!(
            e.code(),
            Some(c) if *c == SqlState::INVALID_SQL_STATEMENT_NAME || *c == SqlState::DUPLICATE_PSTATEMENT
        );
        if self.pooler || statement_lost {
            format!("{text} ({}). {POOLER_ADVICE}", self.label)
        } else {
            format!("{text} ({})", self.label)
        }
    }
}

/// A password-free description of a client error: the server's message, code, detail and hint.
pub fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{} ({})", db.message(), db.code().code());
        if let Some(d) = db.detail() {
            s.push_str(&format!("; detail: {d}"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!("; hint: {h}"));
        }
        if let Some(w) = db.where_() {
            s.push_str(&format!("; where: {w}"));
        }
        return s;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// Connecting failed: what to tell people, and the client error to decide on.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    message: String,
    #[source]
    cause: Option<postgres::Error>,
}

impl ConnectError {
    /// Category for `connections doctor`: from the SQLSTATE the server sent, else from the
    /// kind of I/O error under the client error.
    pub fn category(&self) -> HealthCategory {
        let Some(e) = &self.cause else { return HealthCategory::Config };
        match e.code() {
            Some(c) if *c == SqlState::INVALID_PASSWORD || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                return HealthCategory::Auth
            }
            Some(c) if *c == SqlState::UNDEFINED_DATABASE => return HealthCategory::UnknownDatabase,
            Some(_) => return HealthCategory::Server,
            None => {}
        }
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                return if io.kind() == std::io::ErrorKind::TimedOut {
                    HealthCategory::Timeout
                } else {
                    HealthCategory::Network
                };
            }
            source = s.source();
        }
        HealthCategory::Unknown
    }

    /// As the failure of a step reading from this server.
    pub fn at_source(self) -> DriverError {
        let message = self.message;
        match self.cause {
            Some(c) => DriverError::at_source(message).with_cause(c),
            None => DriverError::Config(message),
        }
    }

    /// As the failure of a step writing to this server.
    pub fn at_target(self) -> DriverError {
        let message = self.message;
        match self.cause {
            Some(c) => DriverError::at_target(message).with_cause(c),
            None => DriverError::Config(message),
        }
    }
}

/// A PostgreSQL identifier in double quotes, inner quotes doubled.
pub fn quote_pg(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A PostgreSQL string literal.
pub fn pg_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `"schema"."table"`.
pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote_pg(schema), quote_pg(table))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    #[test]
    fn dsn_and_host_fields_both_give_a_target_and_rest_only_gives_none() {
        // A connection as the connections file resolves it: secret-named fields are secrets.
        let conn = |v: Value| {
            let mut c = ResolvedConnection {
                family: "supabase".into(),
                alias: "t".into(),
                fields: Map::new(),
                secrets: Default::default(),
            };
            for (k, v) in v.as_object().unwrap() {
                match v.as_str() {
                    Some(s) if crate::connections::is_secret_field(k) => {
                        c.secrets.insert(k.clone(), Secret::new(s));
                    }
                    _ => {
                        c.fields.insert(k.clone(), v.clone());
                    }
                }
            }
            c
        };
        let target = |v: Value| PgTarget::from_connection(Some(&conn(v)));
        let t = target(json!({"pg_dsn": "postgresql://u:pw@db.example:6543/app"})).unwrap().unwrap();
        assert_eq!(t.label, "db.example:6543/app");
        assert!(t.pooler);
        let t = target(json!({"host": "127.0.0.1", "database": "test"})).unwrap().unwrap();
        assert_eq!(t.label, "127.0.0.1:5432/test");
        assert!(target(json!({"url": "https://x.supabase.co"})).unwrap().is_none());
        let err = target(json!({"dsn": "postgresql://u:s3cret@h:notaport/db"})).err().unwrap();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
