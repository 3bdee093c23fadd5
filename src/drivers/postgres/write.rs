//! `supabase.writer`: the input relation → a PostgreSQL table in one transaction (SQL path), or
//! batched PostgREST calls when the connection has no DSN (rest.rs).
//!
//! SQL path: binary `COPY … FROM STDIN (FORMAT binary)` fed from DuckDB's Arrow batches
//! (binary.rs) whenever every input column has an exact binary form for its target column's
//! type — the server then skips parsing text, its main cost. Otherwise DuckDB's parallel CSV
//! writer renders the input (types.rs expressions) into a named pipe that streams into
//! `COPY … FROM STDIN (FORMAT csv)` (exchange::pipe). Either way rendering and loading overlap,
//! memory stays flat and nothing is written to disk; the `write.copy` event says which format a
//! load used and, for CSV, which column kept it from binary.
//!
//! Modes: `append`; `replace` empties the table with TRUNCATE inside the transaction — its
//! ACCESS EXCLUSIVE lock makes readers wait for the commit, so nobody ever sees an empty or half
//! loaded table. A shadow table renamed into place would let readers go on during the load, but
//! it would shed what Supabase tables carry: RLS policies, grants, triggers, and views that
//! point at the old table. `upsert` loads a temporary staging
//! table and runs `INSERT … ON CONFLICT (primary_key) DO UPDATE`. DDL is transactional in
//! PostgreSQL, so a table created for a load that then fails disappears with the rollback.

use super::binary::{self, BinaryColumn, EncodeError, TupleEncoder};
use super::connect::{pg_literal, qualified, quote_pg, ConnectError, PgTarget};
use super::rest;
use super::types::{pg_type, write_expression};
use crate::components::config::parse;
use crate::components::supabase_writer::{Config, WriteMode};
use crate::drivers::{single_input, sql_error, Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::exchange::pipe::copy_through_pipe;
use crate::exchange::{describe as describe_relation, quote_ident};
use postgres::Transaction;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::io::{Read, Write};

/// Writes the single input into a Supabase / PostgreSQL table.
pub struct SupabaseWriter;

/// What to write where, from the step config.
pub struct WritePlan {
    /// Schema of the target.
    pub schema: String,
    /// Target table name.
    pub table: String,
    /// append, replace or upsert.
    pub mode: WriteMode,
    /// Conflict key (upsert) / REST delete key (replace).
    pub primary_key: Vec<String>,
    /// Create the table when missing.
    pub create_if_missing: bool,
    /// Input columns: name and DuckDB type.
    pub columns: Vec<(String, String)>,
}

impl WritePlan {
    fn new(ctx: &StepContext, config: &Config, input: &str) -> Result<Self, DriverError> {
        let primary_key = config.primary_key.clone();
        let mode = config.write_mode;
        if mode == WriteMode::Upsert && primary_key.is_empty() {
            return Err(DriverError::Config("write_mode upsert needs primary_key".into()));
        }
        let columns = describe_relation(ctx.conn, &quote_ident(input)).map_err(sql_error)?;
        for k in &primary_key {
            if !columns.iter().any(|(n, _)| n == k) {
                return Err(DriverError::Config(format!("primary_key column `{k}` is not in the input `{input}`")));
            }
        }
        let (schema, table) = split_table(&config.table, &config.schema)?;
        Ok(Self { schema, table, mode, primary_key, create_if_missing: config.create_if_missing, columns })
    }

    /// `"schema"."table"`.
    pub fn target(&self) -> String {
        qualified(&self.schema, &self.table)
    }

    /// `CREATE TABLE` for the input's columns (documented mapping), with the primary key.
    pub fn create_table_sql(&self) -> String {
        let mut defs: Vec<String> =
            self.columns.iter().map(|(n, t)| format!("{} {}", quote_pg(n), pg_type(t))).collect();
        if !self.primary_key.is_empty() {
            let keys: Vec<String> = self.primary_key.iter().map(|k| quote_pg(k)).collect();
            defs.push(format!("PRIMARY KEY ({})", keys.join(", ")));
        }
        format!("CREATE TABLE {} (\n  {}\n)", self.target(), defs.join(",\n  "))
    }

    fn column_list(&self) -> String {
        self.columns.iter().map(|(n, _)| quote_pg(n)).collect::<Vec<_>>().join(", ")
    }

    fn upsert_sql(&self, staging: &str) -> String {
        let keys: Vec<String> = self.primary_key.iter().map(|k| quote_pg(k)).collect();
        let updates: Vec<String> = self
            .columns
            .iter()
            .filter(|(n, _)| !self.primary_key.contains(n))
            .map(|(n, _)| format!("{0} = EXCLUDED.{0}", quote_pg(n)))
            .collect();
        let action =
            if updates.is_empty() { "NOTHING".to_string() } else { format!("UPDATE SET {}", updates.join(", ")) };
        let cols = self.column_list();
        format!(
            "INSERT INTO {} ({cols}) SELECT {cols} FROM {staging} ON CONFLICT ({}) DO {action}",
            self.target(),
            keys.join(", ")
        )
    }
}

impl Driver for SupabaseWriter {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let input = single_input(inputs, "supabase.writer")?;
        let config: Config = parse(config).map_err(DriverError::Config)?;
        let plan = WritePlan::new(ctx, &config, &input)?;
        let rows = match PgTarget::from_connection(ctx.connection).map_err(DriverError::Config)? {
            Some(target) => {
                target.warn_if_pooler(ctx);
                write_sql(ctx, &input, &plan, &target)?
            }
            None => rest::write(ctx, &config, &input, &plan)?,
        };
        ctx.telemetry.metric("rows_written", rows as f64, Some(ctx.step_id));
        Ok(StepOutput { relation: None, rows: Some(rows), state: None })
    }
}

/// `table: public.users` means schema `public`, table `users` (as `psql` and the Supabase client
/// read it), not a table named `public.users`. With `schema` set to another schema as well, the
/// two disagree: a config error rather than a guess.
fn split_table(table: &str, schema: &str) -> Result<(String, String), DriverError> {
    match table.split_once('.') {
        None => Ok((schema.to_string(), table.to_string())),
        Some((s, t)) if !s.is_empty() && !t.is_empty() && !t.contains('.') && (schema == "public" || schema == s) => {
            Ok((s.to_string(), t.to_string()))
        }
        Some(_) => Err(DriverError::Config(format!(
            "`table: {table}` names a schema (or several dots) while `schema` is `{schema}`; give the schema in one place"
        ))),
    }
}

/// CSV options of DuckDB's COPY that PostgreSQL's `FORMAT csv` reads back exactly (an unquoted
/// empty field is NULL, `""` the empty string).
const CSV_OPTIONS: &str =
    "FORMAT csv, HEADER false, DELIMITER ',', QUOTE '\"', ESCAPE '\"', NULLSTR '', NEW_LINE '\\n'";

fn write_sql(ctx: &StepContext, input: &str, plan: &WritePlan, target: &PgTarget) -> Result<u64, DriverError> {
    let fail_text = |e: &postgres::Error| {
        let mut text = format!("PostgreSQL write to {} failed: {}", plan.target(), target.explain(e));
        // ON CONFLICT meeting the same key twice in one statement.
        if e.code() == Some(&postgres::error::SqlState::CARDINALITY_VIOLATION) {
            text.push_str(
                "; the input holds the same primary key more than once — deduplicate it in a processor first",
            );
        }
        text
    };
    let fail = |e: postgres::Error| DriverError::at_target(fail_text(&e)).with_cause(e);
    let mut client = target.connect().map_err(ConnectError::at_target)?;
    let mut txn = client.transaction().map_err(fail)?;
    let exists: bool = txn
        .query_one(format!("SELECT to_regclass({}) IS NOT NULL", pg_literal(&plan.target())).as_str(), &[])
        .map_err(fail)?
        .get(0);
    if !exists {
        if !plan.create_if_missing {
            return Err(DriverError::Config(format!(
                "table {} does not exist on {} and create_if_missing is false; create it or set create_if_missing: true",
                plan.target(),
                target.label
            )));
        }
        let ddl = plan.create_table_sql();
        save_ddl(ctx, &ddl);
        txn.batch_execute(&ddl).map_err(fail)?;
        ctx.telemetry.event(
            "table.ddl_executed",
            Some(ctx.step_id),
            json!({"table": plan.target(), "operation": "create_table", "channel": "sql"}),
        );
    }
    let into = match plan.mode {
        WriteMode::Replace => {
            txn.batch_execute(&format!("TRUNCATE {}", plan.target())).map_err(fail)?;
            plan.target()
        }
        WriteMode::Upsert => {
            txn.batch_execute(&format!(
                "CREATE TEMPORARY TABLE osiris_staging ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA",
                plan.column_list(),
                plan.target()
            ))
            .map_err(fail)?;
            "osiris_staging".to_string()
        }
        WriteMode::Append => plan.target(),
    };
    let types = column_types(&mut txn, &into).map_err(fail)?;
    let binary_copy = match binary::plan(&plan.columns, &types) {
        Ok(columns) => {
            // Text values are parsed here only in canonical spelling; on any other, the COPY is
            // rolled back to this savepoint and the load repeats as CSV, where PostgreSQL parses.
            let mut savepoint = txn.savepoint("osiris_binary_copy").map_err(fail)?;
            match copy_binary(ctx, &mut savepoint, input, &into, plan, &columns, &fail_text)? {
                Ok(rows) => {
                    savepoint.commit().map_err(fail)?;
                    Ok(rows)
                }
                Err(reason) => {
                    savepoint.rollback().map_err(fail)?;
                    Err(reason)
                }
            }
        }
        Err(reason) => Err(reason),
    };
    let mut rows = match binary_copy {
        Ok(rows) => {
            copy_event(ctx, plan, "binary", None);
            rows
        }
        Err(reason) => {
            copy_event(ctx, plan, "csv", Some(&reason));
            copy_csv(ctx, &mut txn, input, &into, plan, &fail_text)?
        }
    };
    if plan.mode == WriteMode::Upsert {
        rows = txn.execute(plan.upsert_sql("osiris_staging").as_str(), &[]).map_err(fail)?;
    }
    txn.commit().map_err(fail)?;
    Ok(rows)
}

/// The column types (`pg_type.typname`) of `table` by column name; domains and enums keep their
/// own names, so they take the CSV path.
fn column_types(txn: &mut Transaction, table: &str) -> Result<HashMap<String, String>, postgres::Error> {
    let rows = txn.query(
        "SELECT a.attname::text, t.typname::text FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
         WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        &[&table],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Which COPY format a load uses, and why not binary when it is CSV.
fn copy_event(ctx: &StepContext, plan: &WritePlan, format: &str, reason: Option<&str>) {
    let mut fields = json!({"table": plan.target(), "format": format});
    if let Some(reason) = reason {
        fields["reason"] = json!(reason);
    }
    ctx.telemetry.event("write.copy", Some(ctx.step_id), fields);
}

/// Bytes handed to the server per write: large enough to amortise the call, small enough to
/// keep memory flat.
const BLOCK: usize = 1 << 20;

/// Binary COPY: DuckDB streams the input as Arrow batches, each row becomes one tuple.
/// `Ok(Err(reason))`: a value needs PostgreSQL's own parse; the COPY was abandoned.
fn copy_binary(
    ctx: &StepContext,
    txn: &mut Transaction,
    input: &str,
    into: &str,
    plan: &WritePlan,
    columns: &[BinaryColumn],
    fail_text: &(dyn Fn(&postgres::Error) -> String + Sync),
) -> Result<Result<u64, String>, DriverError> {
    let select: Vec<&str> = columns.iter().map(|c| c.select.as_str()).collect();
    let select = format!("SELECT {} FROM {}", select.join(", "), quote_ident(input));
    let mut stmt = ctx.conn.prepare(&select).map_err(sql_error)?;
    let _ = stmt.stream_arrow([]).map_err(sql_error)?;
    let copy = format!("COPY {into} ({}) FROM STDIN (FORMAT binary)", plan.column_list());
    let mut writer = txn.copy_in(copy.as_str()).map_err(|e| DriverError::at_target(fail_text(&e)).with_cause(e))?;
    let mut encoder = TupleEncoder::new(columns);
    let mut block = Vec::with_capacity(BLOCK + (1 << 16));
    block.extend_from_slice(binary::HEADER);
    while let Some(batch) = stmt.step().map_err(sql_error)? {
        match encoder.encode(&batch, &mut block) {
            Ok(()) => {}
            // Dropping the writer unfinished aborts the COPY.
            Err(EncodeError::NotCanonical(reason)) => return Ok(Err(reason)),
            Err(EncodeError::Failed(e)) => {
                return Err(DriverError::at_target(format!("binary COPY into {}: {e}", plan.target())))
            }
        }
        if block.len() >= BLOCK {
            if let Err(e) = writer.write_all(&block) {
                return Err(DriverError::at_target(write_failure(writer, &e, plan, fail_text)));
            }
            block.clear();
        }
    }
    block.extend_from_slice(binary::TRAILER);
    if let Err(e) = writer.write_all(&block) {
        return Err(DriverError::at_target(write_failure(writer, &e, plan, fail_text)));
    }
    writer.finish().map(Ok).map_err(|e| DriverError::at_target(fail_text(&e)).with_cause(e))
}

/// CSV COPY: DuckDB renders the rows into a pipe while COPY streams them to the server.
fn copy_csv(
    ctx: &StepContext,
    txn: &mut Transaction,
    input: &str,
    into: &str,
    plan: &WritePlan,
    fail_text: &(dyn Fn(&postgres::Error) -> String + Sync),
) -> Result<u64, DriverError> {
    let tmp = ctx.run_dir.join("tmp");
    std::fs::create_dir_all(&tmp)
        .map_err(|e| DriverError::at_target(format!("cannot create {}: {e}", tmp.display())))?;
    let copy = format!("COPY {into} ({}) FROM STDIN (FORMAT csv)", plan.column_list());
    let select: Vec<String> = plan.columns.iter().map(|(n, t)| write_expression(t, &quote_ident(n))).collect();
    let select = format!("SELECT {} FROM {}", select.join(", "), quote_ident(input));
    copy_through_pipe(ctx.conn, &select, CSV_OPTIONS, &tmp, ctx.step_id, |pipe| {
        let mut writer = txn.copy_in(copy.as_str()).map_err(|e| fail_text(&e))?;
        let mut source = std::fs::File::open(pipe).map_err(|e| format!("cannot read {}: {e}", pipe.display()))?;
        let mut block = vec![0u8; 1 << 20];
        loop {
            let n = source.read(&mut block).map_err(|e| format!("cannot read {}: {e}", pipe.display()))?;
            if n == 0 {
                break;
            }
            if let Err(e) = writer.write_all(&block[..n]) {
                return Err(write_failure(writer, &e, plan, fail_text));
            }
        }
        writer.finish().map_err(|e| fail_text(&e))
    })
    .map_err(DriverError::at_target)
}

/// Why a COPY write failed. The server's reason arrives with `finish()`; the write error itself
/// only says the connection closed.
fn write_failure(
    writer: postgres::CopyInWriter,
    error: &std::io::Error,
    plan: &WritePlan,
    fail_text: &(dyn Fn(&postgres::Error) -> String + Sync),
) -> String {
    match writer.finish() {
        Err(pg) => fail_text(&pg),
        Ok(_) => format!("PostgreSQL write to {} failed: {error}", plan.target()),
    }
}

/// Keep the DDL that was run in the step's artifacts (`artifacts/<step>/ddl_plan.sql`).
pub fn save_ddl(ctx: &StepContext, ddl: &str) {
    let dir = ctx.run_dir.join("artifacts").join(ctx.step_id);
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("ddl_plan.sql"), format!("{ddl};\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dotted_table_names_its_schema() {
        assert_eq!(split_table("users", "sales").unwrap(), ("sales".into(), "users".into()));
        assert_eq!(split_table("public.users", "public").unwrap(), ("public".into(), "users".into()));
        assert_eq!(split_table("crm.users", "public").unwrap(), ("crm".into(), "users".into()));
        assert!(split_table("crm.users", "sales").is_err());
        assert!(split_table("a.b.c", "public").is_err());
    }
}
