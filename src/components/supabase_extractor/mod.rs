//! `supabase.extractor`: a Supabase / PostgreSQL table read into DuckDB, over SQL when the
//! connection has a DSN, else over PostgREST. This folder is the component: its spec and typed
//! config. The two channels are the PostgreSQL family's, in `crate::drivers::postgres`, shared
//! with the writer, the health check and discovery.

pub use crate::drivers::postgres::SupabaseExtractor;
use crate::drivers::postgres::Rest;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The step's config (spec.yaml has the descriptions and defaults). `key` comes from the
/// connection only and is never part of it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Project URL (REST channel; usually from the connection).
    pub url: Option<String>,
    /// Project id, alternative to `url`.
    pub project_id: Option<String>,
    /// Table to read (`schema.table` names its schema).
    pub table: String,
    /// Schema of the table.
    pub schema: String,
    /// Select list (PostgREST syntax: `id,email`).
    pub select: String,
    /// PostgREST filters: column → `op.value` (a bare value means `eq`).
    pub filter: Option<Map<String, Value>>,
    /// Ordering, e.g. `created_at.desc`.
    pub order: Option<String>,
    /// Rows per REST page.
    pub limit: u64,
    /// Rows to skip.
    pub offset: u64,
    /// Request timeout in seconds (REST).
    pub timeout: u64,
    /// Retries per request (REST).
    pub retries: u32,
    /// Discovery fallback list (accepted; discovery reads the catalog).
    pub tables: Option<Vec<String>>,
}

impl Config {
    /// The REST channel's settings.
    pub fn rest(&self) -> Rest {
        Rest {
            url: self.url.clone(),
            project_id: self.project_id.clone(),
            schema: self.schema.clone(),
            timeout: self.timeout,
            retries: self.retries,
        }
    }
}
