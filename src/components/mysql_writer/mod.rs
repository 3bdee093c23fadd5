//! `mysql.writer`: the input relation → a MySQL/MariaDB table, in one transaction. This folder
//! is the component: its spec and typed config. The load paths (bulk `LOAD DATA` through a pipe,
//! shadow-table replace, upsert) are the MySQL family's, in `crate::drivers::mysql`.

use crate::components::config::text_or_number;
pub use crate::drivers::mysql::MysqlWriter;
use serde::Deserialize;

/// The step's config (spec.yaml has the descriptions and defaults). `password` comes from the
/// connection only and is never part of it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Server host.
    pub host: String,
    /// Server port (text or a number).
    #[serde(default, deserialize_with = "text_or_number")]
    pub port: Option<String>,
    /// Database (usually from the connection).
    pub database: Option<String>,
    /// User (usually from the connection).
    pub user: Option<String>,
    /// Target table.
    pub table: String,
    /// Schema (database) of the table.
    pub schema: Option<String>,
    /// How rows arrive.
    pub mode: WriteMode,
    /// Conflict columns for upsert.
    pub upsert_keys: Option<Vec<String>>,
    /// Rows per INSERT (upsert).
    pub batch_size: u64,
    /// Create the table when missing.
    pub create_table: bool,
    /// Empty the table before loading (`append` then replaces).
    pub truncate_before: bool,
    /// Accepted for the original's pipelines; one connection per step.
    pub pool_size: u64,
    /// Accepted for the original's pipelines; one connection per step.
    pub pool_recycle: u64,
    /// Accepted for the original's pipelines; events carry the SQL.
    pub echo: bool,
}

/// `mysql.writer` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Insert the rows.
    Append,
    /// The rows replace the table's (atomically).
    Replace,
    /// Insert, or update the row with the same `upsert_keys`.
    Upsert,
}

impl Config {
    /// Where and as whom.
    pub fn server(&self) -> crate::drivers::mysql::Server {
        crate::drivers::mysql::Server {
            host: Some(self.host.clone()),
            port: self.port.clone(),
            database: self.database.clone(),
            user: self.user.clone(),
            schema: self.schema.clone(),
        }
    }

    /// The mode that applies: `truncate_before` turns `append` into `replace`.
    pub fn effective_mode(&self) -> WriteMode {
        match (self.mode, self.truncate_before) {
            (WriteMode::Append, true) => WriteMode::Replace,
            (mode, _) => mode,
        }
    }
}
