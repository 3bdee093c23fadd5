//! `duckdb.processor`: one SQL query over the inputs; the result becomes the step's relation.

use super::{sql_error, ConfigExt, Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::exchange::{create_relation, with_compat_names};
use serde_json::{Map, Value};

/// Runs `CREATE TABLE|VIEW "<step id>" AS <query>`.
pub struct DuckdbProcessor;

impl Driver for DuckdbProcessor {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let query = config.str_opt("query").map(str::trim).unwrap_or_default().trim_end_matches(';').trim();
        if query.is_empty() {
            return Err(DriverError::Config("`query` is empty".into()));
        }
        let relations: Vec<String> = inputs.values().cloned().collect();
        let sql = with_compat_names(query, &relations);
        let (kind, rows) = create_relation(ctx.conn, ctx.step_id, &sql, ctx.materialize).map_err(sql_error)?;
        if let Some(n) = rows {
            ctx.telemetry.metric("rows_written", n as f64, Some(ctx.step_id));
        }
        Ok(StepOutput { relation: Some(kind), rows, state: None })
    }

    fn can_be_view(&self) -> bool {
        true
    }
}
