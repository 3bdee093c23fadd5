//! `filesystem.parquet_extractor`: a view over DuckDB's `read_parquet`.
//!
//! Parquet carries its schema, so nothing is detected or sampled: the view is bound from the
//! files' footers, and a SQL step reading it gets projection and row-group pushdown from DuckDB.

use crate::components::config::parse;
use crate::drivers::{extracted_relation, select_list, Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::exchange::{describe, quote_literal};
use crate::project::resolve_path;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Reads Parquet files into the step's relation (a view).
pub struct ParquetExtractor;

/// The step's config (spec.yaml has the descriptions and defaults).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// File or glob.
    pub path: String,
    /// From the filesystem connection: where relative paths resolve (applied as
    /// `StepContext::base_dir`).
    pub base_dir: Option<String>,
    /// `key=value` folders become columns.
    pub hive_partitioning: bool,
    /// Match differing files' columns by name.
    pub union_by_name: bool,
    /// Add a `filename` column.
    pub filename: bool,
    /// Columns to keep, in this order.
    pub columns: Option<Vec<String>>,
    /// Most rows to read.
    pub limit: Option<u64>,
}

impl Driver for ParquetExtractor {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, _inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let cfg: Config = parse(config).map_err(DriverError::Config)?;
        let path = resolve_path(ctx.base_dir, &cfg.path);
        if !cfg.path.contains(['*', '?', '[']) && !path.is_file() {
            return Err(DriverError::at_source(format!("file not found: {}", path.display())));
        }
        let unreadable = |e: duckdb::Error| {
            DriverError::at_source(format!("cannot read Parquet {}: {e}", path.display())).with_cause(e)
        };
        let path_text = std::path::absolute(&path).unwrap_or(path.clone()).display().to_string();
        let source = format!(
            "read_parquet({}, hive_partitioning = {}, union_by_name = {}, filename = {})",
            quote_literal(&path_text),
            cfg.hive_partitioning,
            cfg.union_by_name,
            cfg.filename
        );
        let select = match cfg.columns.as_deref() {
            Some(wanted) => {
                let present: Vec<String> =
                    describe(ctx.conn, &source).map_err(unreadable)?.into_iter().map(|(n, _)| n).collect();
                select_list(Some(wanted), &present, &path, "columns")?
            }
            None => "*".to_string(),
        };
        let limit = cfg.limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        extracted_relation(ctx, &format!("SELECT {select} FROM {source}{limit}")).map_err(unreadable)
    }

    fn can_be_view(&self) -> bool {
        true
    }
}
