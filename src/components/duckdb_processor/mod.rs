//! `duckdb.processor`: one SQL query over the inputs; the result becomes the step's relation.

use crate::components::config::parse;
use crate::drivers::{sql_error, Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::exchange::{create_relation, with_compat_names};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Runs `CREATE TABLE|VIEW "<step id>" AS <query>`.
pub struct DuckdbProcessor;

/// The step's config (spec.yaml has the description).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The SQL whose result becomes the step's relation.
    pub query: String,
}

impl Driver for DuckdbProcessor {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let cfg: Config = parse(config).map_err(DriverError::Config)?;
        let query = cfg.query.trim().trim_end_matches(';').trim();
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
