//! `mysql.extractor`: a table or query streamed into DuckDB.
//!
//! A producer thread reads the unbuffered result in batches of `batch_size` rows and hands them
//! over a bounded channel (two batches deep) to the DuckDB appender, so network reads and inserts
//! overlap and memory holds at most a few batches whatever the result size.

use super::connect::{describe, Target};
use super::types::{convert, map_column, ColumnMapping, Convert};
use crate::connections::ResolvedConnection;
use crate::drivers::{sql_error, ConfigExt, Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::exchange::{quote_ident, RelationKind};
use duckdb::types::Value as Duck;
use mysql::prelude::Queryable;
use serde_json::{Map, Value};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Duration;

/// Reads MySQL/MariaDB into the step's table.
pub struct MysqlExtractor;

/// What the producer sends.
enum Message {
    Columns(Vec<ColumnMapping>),
    Rows(Vec<Vec<Duck>>),
}

/// A MySQL identifier in backticks.
fn quote_mysql(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The SQL to run: `query` as given, else a SELECT over `table` with `columns`, `limit`, `offset`.
pub fn build_query(config: &Map<String, Value>) -> Result<String, DriverError> {
    if let Some(q) = config.str_opt("query").map(str::trim).filter(|q| !q.is_empty()) {
        return Ok(q.trim_end_matches(';').to_string());
    }
    let Some(table) = config.str_opt("table") else {
        return Err(DriverError::Config("set `query` or `table`".into()));
    };
    let cols = match config.str_list("columns") {
        Some(c) if !c.is_empty() => c.iter().map(|c| quote_mysql(c)).collect::<Vec<_>>().join(", "),
        _ => "*".into(),
    };
    let from = match config.str_opt("schema") {
        Some(s) => format!("{}.{}", quote_mysql(s), quote_mysql(table)),
        None => quote_mysql(table),
    };
    let mut sql = format!("SELECT {cols} FROM {from}");
    let offset = config.get("offset").and_then(Value::as_u64).unwrap_or(0);
    match (config.get("limit").and_then(Value::as_u64), offset) {
        (Some(l), o) => sql.push_str(&format!(" LIMIT {l} OFFSET {o}")),
        (None, o) if o > 0 => sql.push_str(&format!(" LIMIT 18446744073709551615 OFFSET {o}")),
        _ => {}
    }
    Ok(sql)
}

fn produce(
    connection: Option<&ResolvedConnection>,
    config: &Map<String, Value>,
    sql: &str,
    batch_size: usize,
    tx: SyncSender<Result<Message, DriverError>>,
) {
    let run = || -> Result<(), DriverError> {
        let target = Target::from_config(config, connection);
        let mut conn = target.connect(Duration::from_secs(10)).map_err(|e| {
            DriverError::Source(format!("cannot connect to MySQL at {}: {}", target.label(), describe(&e)))
        })?;
        let mut result = conn
            .query_iter(sql)
            .map_err(|e| DriverError::Source(format!("MySQL query failed on {}: {}", target.label(), describe(&e))))?;
        let mappings: Vec<ColumnMapping> = result.columns().as_ref().iter().map(map_column).collect();
        let converts: Vec<_> = mappings.iter().map(|m| m.convert).collect();
        if tx.send(Ok(Message::Columns(mappings))).is_err() {
            return Ok(());
        }
        let mut batch = Vec::with_capacity(batch_size);
        for row in result.by_ref() {
            let row = row.map_err(|e| DriverError::Source(format!("MySQL read failed: {}", describe(&e))))?;
            let values = row.unwrap();
            let converted = values
                .into_iter()
                .zip(&converts)
                .map(|(v, how)| convert(v, *how))
                .collect::<Result<Vec<_>, _>>()
                .map_err(DriverError::Source)?;
            batch.push(converted);
            if batch.len() >= batch_size {
                if tx.send(Ok(Message::Rows(std::mem::take(&mut batch)))).is_err() {
                    return Ok(());
                }
                batch.reserve(batch_size);
            }
        }
        if !batch.is_empty() {
            let _ = tx.send(Ok(Message::Rows(batch)));
        }
        Ok(())
    };
    if let Err(e) = run() {
        let _ = tx.send(Err(e));
    }
}

fn consume(ctx: &StepContext, rx: Receiver<Result<Message, DriverError>>) -> Result<u64, DriverError> {
    let Ok(first) = rx.recv() else {
        return Err(DriverError::Source("the MySQL reader stopped without a result".into()));
    };
    let Message::Columns(mappings) = first? else {
        return Err(DriverError::Source("the MySQL reader sent rows before columns".into()));
    };
    // Text values land in VARCHAR staging columns (appending text into typed columns would cast
    // value by value); one vectorised CAST then builds the typed table.
    let stage = format!("__osiris_stage_{}", ctx.step_id);
    let staged: Vec<&str> = mappings.iter().map(staging_type).collect();
    let ddl: Vec<String> = mappings.iter().zip(&staged).map(|(m, t)| format!("{} {t}", quote_ident(&m.name))).collect();
    ctx.conn.execute_batch(&format!("CREATE TABLE {} ({})", quote_ident(&stage), ddl.join(", "))).map_err(sql_error)?;
    let mut appender = ctx.conn.appender(&stage).map_err(sql_error)?;
    let mut rows = 0u64;
    for message in rx {
        if ctx.cancel.load(Ordering::SeqCst) {
            return Err(DriverError::Cancelled);
        }
        let Message::Rows(batch) = message? else { continue };
        rows += batch.len() as u64;
        appender
            .append_rows(batch.iter().map(|r| duckdb::appender_params_from_iter(r.iter())))
            .map_err(|e| DriverError::Source(format!("cannot store MySQL rows in DuckDB: {e}")))?;
    }
    appender.flush().map_err(sql_error)?;
    drop(appender);
    let select: Vec<String> = mappings
        .iter()
        .zip(&staged)
        .map(|(m, t)| {
            let c = quote_ident(&m.name);
            if *t == m.duck_type {
                c
            } else {
                format!("CAST({c} AS {}) AS {c}", m.duck_type)
            }
        })
        .collect();
    ctx.conn
        .execute_batch(&format!(
            "CREATE TABLE {} AS SELECT {} FROM {}; DROP TABLE {};",
            quote_ident(ctx.step_id),
            select.join(", "),
            quote_ident(&stage),
            quote_ident(&stage)
        ))
        .map_err(|e| DriverError::Source(format!("cannot convert MySQL values to their DuckDB types: {e}")))?;
    Ok(rows)
}

/// Column type of the staging table: text for values DuckDB parses, the final type otherwise.
fn staging_type(m: &ColumnMapping) -> &str {
    match m.convert {
        Convert::Text | Convert::TextZeroDateIsNull => "VARCHAR",
        _ => &m.duck_type,
    }
}

impl Driver for MysqlExtractor {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, _inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let sql = build_query(config)?;
        let batch_size = config.get("batch_size").and_then(Value::as_u64).unwrap_or(10_000).max(1) as usize;
        let (tx, rx) = sync_channel(2);
        let result = std::thread::scope(|scope| {
            let connection = ctx.connection;
            scope.spawn(move || produce(connection, config, &sql, batch_size, tx));
            consume(ctx, rx)
        });
        match result {
            Ok(rows) => {
                ctx.telemetry.metric("rows_read", rows as f64, Some(ctx.step_id));
                Ok(StepOutput { relation: Some(RelationKind::Table), rows: Some(rows), state: None })
            }
            Err(e) => {
                let stage = format!("__osiris_stage_{}", ctx.step_id);
                let _ = ctx.conn.execute_batch(&format!(
                    "DROP TABLE IF EXISTS {}; DROP TABLE IF EXISTS {};",
                    quote_ident(ctx.step_id),
                    quote_ident(&stage)
                ));
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_queries_quote_and_page() {
        let cfg = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            build_query(&cfg(json!({"table": "or`ders", "columns": ["id", "total"], "limit": 5, "offset": 10})))
                .unwrap(),
            "SELECT `id`, `total` FROM `or``ders` LIMIT 5 OFFSET 10"
        );
        assert_eq!(build_query(&cfg(json!({"query": "SELECT 1;", "table": "t"}))).unwrap(), "SELECT 1");
        assert!(build_query(&cfg(json!({}))).is_err());
    }
}
