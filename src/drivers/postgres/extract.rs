//! `supabase.extractor`: a table read into DuckDB, over SQL when the connection has a DSN (exact
//! types, `COPY … TO STDOUT` streamed in chunks), else over PostgREST (rest.rs).
//!
//! SQL path: inside one REPEATABLE READ transaction the SELECT becomes a temporary view, whose
//! `pg_attribute` rows give every column's exact type (`numeric(12,2)`, `timestamp(3) with time
//! zone`, arrays) — result metadata alone carries no precision. `COPY (SELECT …) TO STDOUT (FORMAT
//! csv)` then streams the rows; the producer cuts the stream at record boundaries into chunks that
//! DuckDB's CSV reader loads with one CAST per column (types.rs).

use super::connect::{quote_pg, ConnectError, PgTarget};
use super::query::extract_sql;
use super::rest;
use super::types::read_mapping;
use crate::components::config::parse;
use crate::components::supabase_extractor::Config;
use crate::drivers::cancel::{interruptible, Interrupt};
use crate::drivers::streaming::{extract_with, ChunkSender};
use crate::drivers::{Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::exchange::chunk_load::complete_records_len;
use serde_json::{Map, Value};
use std::io::Read;

/// Reads a Supabase / PostgreSQL table into the step's table.
pub struct SupabaseExtractor;

impl Driver for SupabaseExtractor {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, _inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let config: Config = parse(config).map_err(DriverError::Config)?;
        let target = PgTarget::from_connection(ctx.connection).map_err(DriverError::Config)?;
        let (rows, relation) = match target {
            Some(target) => {
                target.warn_if_pooler(ctx);
                let sql = extract_sql(&config).map_err(DriverError::Config)?;
                interruptible(ctx.cancel, |interrupt| extract_with(ctx, |tx| produce(&target, &sql, tx, interrupt)))?
            }
            None => rest::extract(ctx, &config)?,
        };
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

/// Column names and `format_type()` text of the temporary view `osiris_source`.
const DESCRIBE_VIEW: &str = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
     WHERE a.attrelid = 'pg_temp.osiris_source'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

fn produce(target: &PgTarget, sql: &str, tx: &ChunkSender, interrupt: &Interrupt) -> Result<(), DriverError> {
    let source_err =
        |e: postgres::Error| DriverError::at_source(format!("PostgreSQL read failed: {}", target.explain(&e)));
    let mut client = target.connect().map_err(ConnectError::at_source)?;
    // Cancelled while the server has not answered: PostgreSQL's cancel request, over the same
    // TLS policy as the connection.
    let (token, tls) = (client.cancel_token(), target.tls_connector());
    interrupt.set(move || {
        if let Ok(tls) = tls {
            let _ = token.cancel_query(postgres_native_tls::MakeTlsConnector::new(tls));
        }
    });
    let mut txn = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .start()
        .map_err(source_err)?;
    txn.batch_execute(&format!("CREATE TEMPORARY VIEW osiris_source AS {sql}")).map_err(source_err)?;
    let mappings: Vec<_> = txn
        .query(DESCRIBE_VIEW, &[])
        .map_err(source_err)?
        .iter()
        .map(|r| read_mapping(&r.get::<_, String>(0), &r.get::<_, String>(1)))
        .collect();
    let exprs: Vec<String> = std::iter::once("0".to_string())
        .chain(mappings.iter().map(|m| m.pg_expression.replace("{}", &quote_pg(&m.load.name))))
        .collect();
    if !tx.columns(mappings.into_iter().map(|m| m.load).collect()) {
        return Ok(());
    }
    let copy = format!("COPY (SELECT {} FROM osiris_source) TO STDOUT (FORMAT csv)", exprs.join(", "));
    let mut reader = txn.copy_out(copy.as_str()).map_err(source_err)?;
    let mut buf = tx.buffer();
    let mut block = vec![0u8; 1 << 20];
    loop {
        let n = reader
            .read(&mut block)
            .map_err(|e| DriverError::at_source(format!("PostgreSQL read failed ({}): {e}", target.label)))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&block[..n]);
        if buf.len() >= tx.chunk_bytes {
            let complete = complete_records_len(&buf);
            let mut next = tx.buffer();
            next.extend_from_slice(&buf[complete..]);
            buf.truncate(complete);
            if !tx.rows(std::mem::replace(&mut buf, next), None) {
                return Ok(());
            }
        }
    }
    drop(reader);
    if !buf.is_empty() {
        tx.rows(buf, None);
    }
    txn.commit().map_err(source_err)?;
    Ok(())
}
