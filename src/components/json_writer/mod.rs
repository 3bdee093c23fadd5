//! `filesystem.json_writer`: the input relation → NDJSON or a JSON array, by DuckDB's
//! `COPY … TO (FORMAT json)`, through a temporary file renamed into place when complete.

use crate::components::config::parse;
use crate::drivers::output_file::{copy_into_file, ensure_parent, written};
use crate::drivers::{single_input, Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::exchange::quote_literal;
use crate::project::resolve_path;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Writes the single input to a JSON file.
pub struct JsonWriter;

/// The step's config (spec.yaml has the descriptions and defaults).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Output file.
    pub path: String,
    /// NDJSON or one array.
    pub format: Format,
    /// Compression of the output.
    pub compression: Compression,
    /// Create missing parent directories.
    pub create_dirs: bool,
}

/// Output layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One object per line.
    NewlineDelimited,
    /// One JSON array.
    Array,
}

/// Output compression, as DuckDB's COPY names it (`none` is `uncompressed`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Plain.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

impl Driver for JsonWriter {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let input = single_input(inputs, "a JSON writer")?;
        let cfg: Config = parse(config).map_err(DriverError::Config)?;
        let target = resolve_path(ctx.base_dir, &cfg.path);
        ensure_parent(&target, cfg.create_dirs)?;
        let array = cfg.format == Format::Array;
        let compression = match cfg.compression {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        };
        let options = format!("FORMAT json, ARRAY {array}, COMPRESSION {}", quote_literal(compression));
        let rows = copy_into_file(ctx, &input, &target, &options)?;
        Ok(written(ctx, "json", &target, rows))
    }

    /// One `COPY (SELECT * FROM input)`: the input may be a pipe being filled.
    fn reads_input_once(&self) -> bool {
        true
    }
}
