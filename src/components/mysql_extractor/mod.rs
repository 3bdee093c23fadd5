//! `mysql.extractor`: a MySQL/MariaDB table or query, streamed in batches. This folder is the
//! component: its spec and typed config. The extraction (streaming, type mapping) is the MySQL
//! family's, in `crate::drivers::mysql`, beside the writer, health check and discovery that share
//! its connection code.

use crate::components::config::text_or_number;
pub use crate::drivers::mysql::MysqlExtractor;
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
    /// Table to dump.
    pub table: Option<String>,
    /// Schema (database) of the table.
    pub schema: Option<String>,
    /// Custom SQL (wins over `table`).
    pub query: Option<String>,
    /// Columns to select from `table`.
    pub columns: Option<Vec<String>>,
    /// Maximum rows.
    pub limit: Option<u64>,
    /// Rows to skip.
    pub offset: u64,
    /// Rows per fetch batch.
    pub batch_size: u64,
    /// Accepted for the original's pipelines; one connection per step.
    pub pool_size: u64,
    /// Accepted for the original's pipelines; one connection per step.
    pub pool_recycle: u64,
    /// Accepted for the original's pipelines; events carry the SQL.
    pub echo: bool,
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
}
