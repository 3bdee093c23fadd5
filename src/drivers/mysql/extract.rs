//! `mysql.extractor`: a table or query streamed into DuckDB.
//!
//! A producer thread reads the unbuffered result and renders `batch_size` rows at a time as a CSV
//! chunk; a bounded channel (two chunks deep) hands them to the step's thread, which lets DuckDB's
//! own CSV reader load each chunk into a text staging table. Network reads and loads overlap, memory
//! holds at most a few chunks whatever the result size, and no value passes through per-value FFI.
//! One vectorised CAST then builds the typed table (types.rs).

use super::connect::{describe, quote_mysql, Target};
use super::types::{load_expression, map_column, render, ColumnMapping};
use crate::components::config::parse;
use crate::components::mysql_extractor::Config;
use crate::drivers::cancel::{interruptible, Interrupt};
use crate::drivers::streaming::{extract_with, ChunkSender};
use crate::drivers::{Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::exchange::chunk_load::LoadColumn;
use mysql::prelude::Queryable;
use serde_json::{Map, Value};
use std::time::Duration;

/// Reads MySQL/MariaDB into the step's table.
pub struct MysqlExtractor;

/// The SQL to run: `query` as given, else a SELECT over `table` with `columns`, `limit`, `offset`.
pub fn build_query(config: &Config) -> Result<String, DriverError> {
    if let Some(q) = config.query.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        return Ok(q.trim_end_matches(';').to_string());
    }
    let Some(table) = config.table.as_deref() else {
        return Err(DriverError::Config("set `query` or `table`".into()));
    };
    let cols = match &config.columns {
        Some(c) if !c.is_empty() => c.iter().map(|c| quote_mysql(c)).collect::<Vec<_>>().join(", "),
        _ => "*".into(),
    };
    let from = match config.schema.as_deref() {
        Some(s) => format!("{}.{}", quote_mysql(s), quote_mysql(table)),
        None => quote_mysql(table),
    };
    let mut sql = format!("SELECT {cols} FROM {from}");
    match (config.limit, config.offset) {
        (Some(l), o) => sql.push_str(&format!(" LIMIT {l} OFFSET {o}")),
        (None, o) if o > 0 => sql.push_str(&format!(" LIMIT 18446744073709551615 OFFSET {o}")),
        _ => {}
    }
    Ok(sql)
}

fn produce(
    target: &Target,
    sql: &str,
    batch_size: usize,
    tx: &ChunkSender,
    interrupt: &Interrupt,
) -> Result<(), DriverError> {
    let mut conn = target.connect(Duration::from_secs(10)).map_err(|e| {
        DriverError::at_source(format!("cannot connect to MySQL at {}: {e}", target.label())).with_cause(e)
    })?;
    // Cancelled while the server has not answered: stop the query on the server.
    let (killer, id) = (target.clone(), conn.connection_id());
    interrupt.set(move || {
        if let Ok(mut c) = killer.connect(Duration::from_secs(5)) {
            let _ = c.query_drop(format!("KILL QUERY {id}"));
        }
    });
    let mut result = conn.query_iter(sql).map_err(|e| {
        DriverError::at_source(format!("MySQL query failed on {}: {}", target.label(), describe(&e))).with_cause(e)
    })?;
    let mappings: Vec<ColumnMapping> = result.columns().as_ref().iter().map(map_column).collect();
    let converts: Vec<_> = mappings.iter().map(|m| m.convert).collect();
    let columns = mappings
        .iter()
        .map(|m| LoadColumn {
            name: m.name.clone(),
            duck_type: m.duck_type.clone(),
            expression: load_expression(m, "{}"),
        })
        .collect();
    if !tx.columns(columns) {
        return Ok(());
    }
    let chunk_bytes = tx.chunk_bytes;
    let mut chunk = tx.buffer();
    let mut in_chunk = 0usize;
    for row in result.by_ref() {
        let row =
            row.map_err(|e| DriverError::at_source(format!("MySQL read failed: {}", describe(&e))).with_cause(e))?;
        // The leading field keeps a row of one NULL from becoming a blank line, which CSV skips.
        chunk.push(b'0');
        for (value, how) in row.unwrap().into_iter().zip(&converts) {
            chunk.push(b',');
            render(value, *how, &mut chunk).map_err(DriverError::at_source)?;
        }
        chunk.push(b'\n');
        in_chunk += 1;
        // Each load has a fixed cost (a WAL write), so chunks hold at least `batch_size` rows and
        // grow to `chunk_bytes` of text; memory stays bounded by a few chunks.
        if (in_chunk >= batch_size && chunk.len() >= chunk_bytes) || chunk.len() >= 4 * chunk_bytes {
            let records = std::mem::take(&mut in_chunk) as u64;
            if !tx.rows(std::mem::replace(&mut chunk, tx.buffer()), Some(records)) {
                return Ok(());
            }
        }
    }
    if in_chunk > 0 {
        tx.rows(chunk, Some(in_chunk as u64));
    }
    Ok(())
}

impl Driver for MysqlExtractor {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, _inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let config: Config = parse(config).map_err(DriverError::Config)?;
        let sql = build_query(&config)?;
        let batch_size = config.batch_size.max(1) as usize;
        let target = Target::new(&config.server(), ctx.connection).map_err(DriverError::Config)?;
        let (rows, relation) = interruptible(ctx.cancel, |interrupt| {
            extract_with(ctx, |tx| produce(&target, &sql, batch_size, tx, interrupt))
        })?;
        ctx.telemetry.metric("rows_read", rows as f64, Some(ctx.step_id));
        Ok(StepOutput { relation: Some(relation), rows: Some(rows), state: None })
    }

    fn can_be_view(&self) -> bool {
        true
    }

    fn can_stream(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_queries_quote_and_page() {
        let spec = crate::registry::Registry::builtin_shared().get("mysql.extractor").unwrap();
        let cfg = |v: Value| {
            let mut c = spec.defaults();
            c.extend(v.as_object().unwrap().clone());
            parse::<Config>(&c).unwrap()
        };
        assert_eq!(
            build_query(&cfg(json!({"table": "or`ders", "columns": ["id", "total"], "limit": 5, "offset": 10})))
                .unwrap(),
            "SELECT `id`, `total` FROM `or``ders` LIMIT 5 OFFSET 10"
        );
        assert_eq!(build_query(&cfg(json!({"query": "SELECT 1;", "table": "t"}))).unwrap(), "SELECT 1");
        assert!(build_query(&cfg(json!({}))).is_err());
    }
}
