//! `supabase.writer`: the input relation → a PostgreSQL table in one transaction (SQL), or
//! batched PostgREST calls when the connection has no DSN. This folder is the component: its
//! spec and typed config. The load paths are the PostgreSQL family's, in
//! `crate::drivers::postgres`.

pub use crate::drivers::postgres::SupabaseWriter;
use crate::drivers::postgres::Rest;
use serde::{Deserialize, Deserializer};

/// The step's config (spec.yaml has the descriptions and defaults). `key` comes from the
/// connection only and is never part of it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Project URL (REST channel; usually from the connection).
    pub url: Option<String>,
    /// Project id, alternative to `url`.
    pub project_id: Option<String>,
    /// Target table (`schema.table` names its schema).
    pub table: String,
    /// Schema of the table.
    pub schema: String,
    /// How rows arrive.
    pub write_mode: WriteMode,
    /// Conflict key (upsert) and delete key (replace over REST): a name, `a, b`, or a list.
    #[serde(default, deserialize_with = "key_list")]
    pub primary_key: Vec<String>,
    /// PostgREST return preference (accepted; loads return nothing).
    pub returning: String,
    /// Create the table when missing (SQL channel).
    pub create_if_missing: bool,
    /// Rows per REST call.
    pub batch_size: u64,
    /// Request timeout in seconds (REST).
    pub timeout: u64,
    /// Retries per request (REST).
    pub retries: u32,
    /// Channel for DDL (accepted; DDL runs on the SQL channel).
    pub ddl_channel: String,
    /// PostgREST Prefer header (accepted; the mode decides it).
    pub prefer: String,
}

/// `supabase.writer` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Insert the rows (`insert`, the original's word, is the same).
    #[serde(alias = "insert")]
    Append,
    /// The rows replace the table's.
    Replace,
    /// Insert, or update the row with the same `primary_key`.
    Upsert,
}

/// A key given as `id`, `a, b` or `[a, b]`.
fn key_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Keys {
        Text(String),
        List(Vec<String>),
    }
    Ok(match Option::<Keys>::deserialize(d)? {
        None => Vec::new(),
        Some(Keys::Text(s)) => s.split(',').map(|k| k.trim().to_string()).filter(|k| !k.is_empty()).collect(),
        Some(Keys::List(l)) => l,
    })
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
