//! `filesystem.json_extractor`: DuckDB's `read_json` over a JSON array or NDJSON file.
//!
//! Like the CSV extractor, the file's fields and types are detected once (`DESCRIBE` of the
//! reader with the config's format, sample size and depth) and the step's view declares them, so
//! binding the view again (by each reader) does not re-sample the file. Nested objects stay
//! STRUCTs, arrays LISTs; a record whose value does not fit the detected type fails the step with
//! DuckDB's error (raise `sample_size` or cast in a SQL step).

use crate::components::config::parse;
use crate::drivers::{extracted_relation, select_list, Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::exchange::quote_literal;
use crate::project::resolve_path;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Reads a JSON or NDJSON file into the step's relation (a view).
pub struct JsonExtractor;

/// The step's config (spec.yaml has the descriptions and defaults).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// File or glob.
    pub path: String,
    /// From the filesystem connection: where relative paths resolve (applied as
    /// `StepContext::base_dir`).
    pub base_dir: Option<String>,
    /// How records are laid out.
    pub format: Format,
    /// Compression of the file.
    pub compression: Compression,
    /// Top-level fields to keep, in this order.
    pub columns: Option<Vec<String>>,
    /// Records read to detect fields and types.
    pub sample_size: u64,
    /// Nesting levels typed as STRUCT/LIST (-1: all).
    pub maximum_depth: i64,
    /// Most records to read.
    pub limit: Option<u64>,
}

/// JSON layout, as DuckDB's `format` names it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Detect.
    Auto,
    /// One array of objects.
    Array,
    /// NDJSON.
    NewlineDelimited,
}

/// Compression, as the spec names it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Detect from the file name.
    Auto,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
    /// Plain.
    None,
}

/// `read_json` arguments shared by detection and reading.
fn reader_options(path: &str, cfg: &Config) -> Vec<String> {
    let format = match cfg.format {
        Format::Auto => "auto",
        Format::Array => "array",
        Format::NewlineDelimited => "newline_delimited",
    };
    let compression = match cfg.compression {
        Compression::Auto => "auto_detect",
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
        Compression::None => "uncompressed",
    };
    vec![quote_literal(path), format!("format = {}", quote_literal(format)), format!("compression = {}", quote_literal(compression))]
}

/// `{'name': 'TYPE', …}` for `read_json(columns = …)`.
fn columns_literal(columns: &[(String, String)]) -> String {
    let items: Vec<String> = columns.iter().map(|(n, t)| format!("{}: {}", quote_literal(n), quote_literal(t))).collect();
    format!("{{{}}}", items.join(", "))
}

impl Driver for JsonExtractor {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, _inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let cfg: Config = parse(config).map_err(DriverError::Config)?;
        let path = resolve_path(ctx.base_dir, &cfg.path);
        let is_glob = cfg.path.contains(['*', '?', '[']);
        if !is_glob && !path.is_file() {
            return Err(DriverError::at_source(format!("file not found: {}", path.display())));
        }
        let path_text = std::path::absolute(&path).unwrap_or(path.clone()).display().to_string();
        let unreadable = |e: duckdb::Error| {
            DriverError::at_source(format!("cannot read JSON {}: {e}", path.display())).with_cause(e)
        };
        let mut detect = reader_options(&path_text, &cfg);
        detect.push(format!("sample_size = {}", cfg.sample_size));
        detect.push(format!("maximum_depth = {}", cfg.maximum_depth));
        let mut stmt =
            ctx.conn.prepare(&format!("DESCRIBE SELECT * FROM read_json({})", detect.join(", "))).map_err(unreadable)?;
        let detected: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(unreadable)?;
        let mut read = reader_options(&path_text, &cfg);
        read.push(format!("columns = {}", columns_literal(&detected)));
        let fields: Vec<String> = detected.iter().map(|(n, _)| n.clone()).collect();
        let select = select_list(cfg.columns.as_deref(), &fields, &path, "fields")?;
        let limit = cfg.limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        let query = format!("SELECT {select} FROM read_json({}){limit}", read.join(", "));
        extracted_relation(ctx, &query).map_err(unreadable)
    }

    fn can_be_view(&self) -> bool {
        true
    }
}
