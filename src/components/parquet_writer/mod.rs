//! `filesystem.parquet_writer`: the input relation → Parquet by DuckDB's `COPY … (FORMAT parquet)`.
//!
//! A single file goes through [`PendingFile`] (temporary name, fsync, rename). A partitioned
//! output is a directory: it is written complete under a temporary name beside the target, then
//! the previous directory (if any) is moved aside, the new one renamed into place and the old one
//! removed — readers see the old tree or the new one, never a half-written one (between the two
//! renames the path is briefly absent).

use crate::components::config::parse;
use crate::drivers::output_file::{copy_into_file, ensure_parent, unguessable_sibling, written};
use crate::drivers::{single_input, sql_error, Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::exchange::{quote_ident, quote_literal};
use crate::project::resolve_path;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::Path;

/// Writes the single input to Parquet.
pub struct ParquetWriter;

/// The step's config (spec.yaml has the descriptions and defaults).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Output file, or directory with `partition_by`.
    pub path: String,
    /// Column chunk compression.
    pub compression: Compression,
    /// Level for zstd or gzip.
    pub compression_level: Option<u64>,
    /// Rows per row group.
    pub row_group_size: u64,
    /// Columns naming the `key=value` folders.
    pub partition_by: Option<Vec<String>>,
    /// Create missing parent directories.
    pub create_dirs: bool,
}

/// Parquet compression codecs, as DuckDB's COPY names them.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Snappy (DuckDB's default).
    Snappy,
    /// zstd.
    Zstd,
    /// gzip.
    Gzip,
    /// LZ4.
    Lz4,
    /// Brotli.
    Brotli,
    /// None.
    Uncompressed,
}

impl Compression {
    fn name(self) -> &'static str {
        match self {
            Self::Snappy => "snappy",
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
            Self::Lz4 => "lz4",
            Self::Brotli => "brotli",
            Self::Uncompressed => "uncompressed",
        }
    }
}

/// `COPY` options from the config (PARTITION_BY excluded).
fn copy_options(cfg: &Config) -> Vec<String> {
    let mut opts = vec!["FORMAT parquet".to_string()];
    opts.push(format!("COMPRESSION {}", quote_literal(cfg.compression.name())));
    if let Some(level) = cfg.compression_level {
        opts.push(format!("COMPRESSION_LEVEL {level}"));
    }
    opts.push(format!("ROW_GROUP_SIZE {}", cfg.row_group_size));
    opts
}

/// Write a partitioned tree beside `target` and swap it in.
fn write_partitioned(ctx: &StepContext, input: &str, target: &Path, mut opts: Vec<String>, by: &[String]) -> Result<u64, DriverError> {
    let building = unguessable_sibling(target, "osiris-new");
    let io = |what: &str, p: &Path, e: std::io::Error| {
        DriverError::at_target(format!("cannot {what} {}: {e}", p.display())).with_cause(e)
    };
    let _ = std::fs::remove_dir_all(&building);
    let cols: Vec<String> = by.iter().map(|c| quote_ident(c)).collect();
    opts.push(format!("PARTITION_BY ({})", cols.join(", ")));
    let sql = format!(
        "COPY (SELECT * FROM {}) TO {} ({})",
        quote_ident(input),
        quote_literal(&building.display().to_string()),
        opts.join(", ")
    );
    let rows = match ctx.conn.execute(&sql, []) {
        Ok(n) => n as u64,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&building);
            return Err(sql_error(e));
        }
    };
    let previous = unguessable_sibling(target, "osiris-old");
    let had_previous = target.exists();
    if had_previous {
        std::fs::rename(target, &previous).map_err(|e| io("move aside", target, e))?;
    }
    if let Err(e) = std::fs::rename(&building, target) {
        if had_previous {
            let _ = std::fs::rename(&previous, target);
        }
        let _ = std::fs::remove_dir_all(&building);
        return Err(io("move into place", target, e));
    }
    if had_previous {
        let _ = std::fs::remove_dir_all(&previous).or_else(|_| std::fs::remove_file(&previous));
    }
    Ok(rows)
}

impl Driver for ParquetWriter {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let input = single_input(inputs, "a Parquet writer")?;
        let cfg: Config = parse(config).map_err(DriverError::Config)?;
        let target = resolve_path(ctx.base_dir, &cfg.path);
        ensure_parent(&target, cfg.create_dirs)?;
        let opts = copy_options(&cfg);
        let rows = match cfg.partition_by.as_deref().filter(|p| !p.is_empty()) {
            Some(by) => write_partitioned(ctx, &input, &target, opts, by)?,
            None => copy_into_file(ctx, &input, &target, &opts.join(", "))?,
        };
        Ok(written(ctx, "parquet", &target, rows))
    }

    /// One `COPY (SELECT * FROM input)`: the input may be a pipe being filled.
    fn reads_input_once(&self) -> bool {
        true
    }
}
