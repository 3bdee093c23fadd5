//! `filesystem.json_writer`: the input relation → NDJSON or a JSON array, by DuckDB's
//! `COPY … TO (FORMAT json)`, through a temporary file renamed into place when complete.

use crate::drivers::output_file::{ensure_parent, PendingFile};
use crate::drivers::{single_input, sql_error, ConfigExt, Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::exchange::{quote_ident, quote_literal};
use crate::project::resolve_path;
use serde_json::{Map, Value};

/// Writes the single input to a JSON file.
pub struct JsonWriter;

impl Driver for JsonWriter {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let input = single_input(inputs, "a JSON writer")?;
        let raw = config.str_opt("path").ok_or_else(|| DriverError::Config("`path` is required".into()))?;
        let target = resolve_path(ctx.base_dir, raw);
        ensure_parent(&target, config.bool_or("create_dirs", true))?;
        let array = config.str_opt("format") == Some("array");
        let compression = match config.str_opt("compression").unwrap_or("none") {
            "none" => "uncompressed",
            other => other,
        };
        let file = PendingFile::beside(&target, "osiris");
        let sql = format!(
            "COPY (SELECT * FROM {}) TO {} (FORMAT json, ARRAY {array}, COMPRESSION {})",
            quote_ident(&input),
            quote_literal(&file.path().display().to_string()),
            quote_literal(compression)
        );
        let rows = ctx.conn.execute(&sql, []).map_err(sql_error)? as u64;
        file.commit()?;
        ctx.telemetry.metric("rows_written", rows as f64, Some(ctx.step_id));
        ctx.telemetry.event(
            "artifact_created",
            Some(ctx.step_id),
            serde_json::json!({"artifact_type": "json", "path": target.display().to_string(), "rows": rows}),
        );
        Ok(StepOutput { relation: None, rows: Some(rows), state: None })
    }

    /// One `COPY (SELECT * FROM input)`: the input may be a pipe being filled.
    fn reads_input_once(&self) -> bool {
        true
    }
}
