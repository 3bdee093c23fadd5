//! `mysql.writer`: the input relation → a MySQL/MariaDB table, in one transaction.
//!
//! `append` and `replace` take the bulk path ([`load_data`]: DuckDB's CSV writer feeding
//! `LOAD DATA LOCAL INFILE`, 1M rows in 13 s where multi-row INSERTs took 19 s); `upsert` streams
//! rows out of DuckDB (`stream_arrow`) into multi-row INSERTs of `batch_size` rows. Modes:
//! `append`; `replace` loads a shadow copy (named with 8 random hex digits, so no user table is
//! ever dropped) and swaps it in with one atomic RENAME (tables with triggers or foreign keys:
//! deletes the current rows inside the same transaction instead, refused when that DELETE would
//! cascade into another table); readers see the old rows until the switch; `upsert` uses
//! `INSERT … ON DUPLICATE KEY UPDATE` and first checks that a PRIMARY KEY or UNIQUE index covers
//! exactly `upsert_keys` (else nothing would ever be updated). The session is strict and keeps
//! backslash escapes whatever the server's `sql_mode`. Any failure rolls the whole load back. `create_table` creates a missing table from the DuckDB types (docs/components.md);
//! DDL commits implicitly in MySQL, so a table created by a failed load is dropped again.

use super::connect::{describe, quote_mysql, Target};
use crate::components::config::parse;
use crate::components::mysql_writer::{Config, WriteMode};
use crate::drivers::{single_input, sql_error, Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::exchange::pipe::{copy_through_pipe, pipe_path};
use crate::exchange::{describe as describe_relation, is_numeric_type, quote_ident};
use duckdb::arrow::array::{Array, StringArray};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::DataType;
use mysql::prelude::Queryable;
use mysql::TxOpts;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Writes the single input into a MySQL table.
pub struct MysqlWriter;

/// How a DuckDB column is rendered into SQL.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Literal {
    /// Numbers: DuckDB's text is a valid MySQL numeric literal.
    Number,
    /// Hex text of bytes → `X'…'`.
    Hex,
    /// Anything else → a quoted, escaped string.
    Quoted,
}

/// MySQL column type for a DuckDB type (`key` columns get an indexable type).
pub fn mysql_type(duck: &str, key: bool) -> String {
    let unsigned = |t: &str| format!("{t} UNSIGNED");
    match duck {
        "BOOLEAN" => "TINYINT(1)".into(),
        "TINYINT" | "SMALLINT" | "INTEGER" | "BIGINT" => duck.replace("INTEGER", "INT"),
        "UTINYINT" => unsigned("TINYINT"),
        "USMALLINT" => unsigned("SMALLINT"),
        "UINTEGER" => unsigned("INT"),
        "UBIGINT" => unsigned("BIGINT"),
        "HUGEINT" => "DECIMAL(39,0)".into(),
        "UHUGEINT" => unsigned("DECIMAL(39,0)"),
        "FLOAT" => "FLOAT".into(),
        "DOUBLE" => "DOUBLE".into(),
        "DATE" => "DATE".into(),
        "TIME" | "INTERVAL" => "TIME(6)".into(),
        "TIMESTAMP" | "TIMESTAMP WITH TIME ZONE" | "TIMESTAMP_NS" | "TIMESTAMP_MS" | "TIMESTAMP_S" => {
            "DATETIME(6)".into()
        }
        "BLOB" if key => "VARBINARY(255)".into(),
        "BLOB" => "LONGBLOB".into(),
        "UUID" => "CHAR(36)".into(),
        "JSON" => "JSON".into(),
        t if t.starts_with("DECIMAL") => t.to_string(),
        _ if key => "VARCHAR(191)".into(),
        _ => "LONGTEXT".into(),
    }
}

fn escape_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

struct Plan {
    table: String,
    table_name: String,
    schema_expr: String,
    columns: Vec<(String, String)>,
    mode: WriteMode,
    keys: Vec<String>,
    batch_size: usize,
}

impl Plan {
    /// A client error while writing this plan's table, as the step reports it.
    fn write_error(&self, e: &mysql::Error) -> String {
        format!("MySQL write to {} failed: {}", self.table, describe(e))
    }
}

fn insert_prefix(plan: &Plan) -> String {
    let cols: Vec<String> = plan.columns.iter().map(|(n, _)| quote_mysql(n)).collect();
    format!("INSERT INTO {} ({}) VALUES ", plan.table, cols.join(", "))
}

fn upsert_suffix(plan: &Plan) -> String {
    let updates: Vec<String> = plan
        .columns
        .iter()
        .filter(|(n, _)| !plan.keys.contains(n))
        .map(|(n, _)| format!("{0} = VALUES({0})", quote_mysql(n)))
        .collect();
    if updates.is_empty() {
        // Only key columns: nothing to update, but the statement must not fail on duplicates.
        let k = quote_mysql(&plan.keys[0]);
        format!(" ON DUPLICATE KEY UPDATE {k} = {k}")
    } else {
        format!(" ON DUPLICATE KEY UPDATE {}", updates.join(", "))
    }
}

fn load(ctx: &StepContext, input: &str, plan: &Plan, tx: &mut mysql::Transaction) -> Result<u64, DriverError> {
    let write_err = |e: mysql::Error| DriverError::at_target(plan.write_error(&e)).with_cause(e);
    if plan.mode == WriteMode::Replace {
        tx.query_drop(format!("DELETE FROM {}", plan.table)).map_err(write_err)?;
    }
    let kinds: Vec<Literal> = plan
        .columns
        .iter()
        .map(|(_, t)| {
            if t == "BLOB" {
                Literal::Hex
            } else if is_numeric_type(t) || t == "BOOLEAN" {
                Literal::Number
            } else {
                Literal::Quoted
            }
        })
        .collect();
    let select: Vec<String> = plan
        .columns
        .iter()
        .zip(&kinds)
        .map(|((n, t), k)| match (k, t.as_str()) {
            (Literal::Hex, _) => format!("hex({})", quote_ident(n)),
            (_, "BOOLEAN") => format!("CAST({} AS INTEGER)::VARCHAR", quote_ident(n)),
            _ => format!("CAST({} AS VARCHAR)", quote_ident(n)),
        })
        .collect();
    let sql = format!("SELECT {} FROM {}", select.join(", "), quote_ident(input));
    let mut stmt = ctx.conn.prepare(&sql).map_err(sql_error)?;
    let prefix = insert_prefix(plan);
    let suffix = if plan.mode == WriteMode::Upsert { upsert_suffix(plan) } else { String::new() };
    let mut rows = 0u64;
    let mut pending: Vec<String> = Vec::with_capacity(plan.batch_size);
    let flush = |pending: &mut Vec<String>, tx: &mut mysql::Transaction| -> Result<(), DriverError> {
        if pending.is_empty() {
            return Ok(());
        }
        let statement = format!("{prefix}{}{suffix}", pending.join(", "));
        pending.clear();
        tx.query_drop(statement).map_err(write_err)
    };
    // step() rather than the Arrow iterator, which panics when reading fails mid-way.
    let _ = stmt.stream_arrow([]).map_err(sql_error)?;
    while let Some(batch) = stmt.step().map_err(sql_error)? {
        let columns: Vec<StringArray> = batch
            .columns()
            .iter()
            .map(|c| {
                cast(c, &DataType::Utf8).map(|a| {
                    a.as_any().downcast_ref::<StringArray>().cloned().expect("cast to Utf8 gives a StringArray")
                })
            })
            .collect::<Result<_, _>>()
            .map_err(|e| DriverError::sql(format!("cannot read the input: {e}")))?;
        for r in 0..batch.len() {
            let values: Vec<String> = columns
                .iter()
                .zip(&kinds)
                .map(|(col, kind)| {
                    if col.is_null(r) {
                        return "NULL".to_string();
                    }
                    let v = col.value(r);
                    match kind {
                        Literal::Number => v.to_string(),
                        Literal::Hex => format!("X'{v}'"),
                        Literal::Quoted => escape_string(v),
                    }
                })
                .collect();
            pending.push(format!("({})", values.join(", ")));
            rows += 1;
            if pending.len() >= plan.batch_size {
                flush(&mut pending, tx)?;
            }
        }
    }
    flush(&mut pending, tx)?;
    Ok(rows)
}

/// Bulk path for append and replace: DuckDB writes the input as CSV into a named pipe in the run
/// dir's tmp/ while `LOAD DATA LOCAL INFILE` streams it to the server inside the transaction. Every value
/// goes through a user variable so BIT and binary columns get the right conversion.
fn load_data(
    ctx: &StepContext,
    input: &str,
    plan: &Plan,
    tx: &mut mysql::Transaction,
    dir: &std::path::Path,
) -> Result<u64, DriverError> {
    let write_err = |e: mysql::Error| DriverError::at_target(plan.write_error(&e)).with_cause(e);
    if plan.mode == WriteMode::Replace {
        tx.query_drop(format!("DELETE FROM {}", plan.table)).map_err(write_err)?;
    }
    let target_types: Vec<(String, String)> = tx
        .query(format!(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = {} AND table_name = {}",
            plan.schema_expr,
            escape_string(&plan.table_name)
        ))
        .map_err(write_err)?;
    let select: Vec<String> = plan
        .columns
        .iter()
        .map(|(n, t)| match t.as_str() {
            "BLOB" => format!("hex({})", quote_ident(n)),
            "BOOLEAN" => format!("CAST({} AS INTEGER)", quote_ident(n)),
            _ => quote_ident(n),
        })
        .collect();
    let vars: Vec<String> = (0..plan.columns.len()).map(|i| format!("@v{i}")).collect();
    let sets: Vec<String> = plan
        .columns
        .iter()
        .enumerate()
        .map(|(i, (n, t))| {
            let target = target_types
                .iter()
                .find(|(c, _)| c.eq_ignore_ascii_case(n))
                .map(|(_, ty)| ty.to_ascii_lowercase())
                .unwrap_or_default();
            let v = format!("@v{i}");
            let expr = if t == "BLOB" {
                format!("UNHEX({v})")
            } else if target == "bit" {
                format!("CAST({v} AS UNSIGNED)")
            } else {
                v
            };
            format!("{} = {expr}", quote_mysql(n))
        })
        .collect();
    let sql = format!(
        "LOAD DATA LOCAL INFILE 'osiris-stream' INTO TABLE {} CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' \
         ESCAPED BY '' LINES TERMINATED BY '\\n' ({}) SET {}",
        plan.table,
        vars.join(", "),
        sets.join(", ")
    );
    let text = |e: mysql::Error| plan.write_error(&e);
    let select = format!("SELECT {} FROM {}", select.join(", "), quote_ident(input));
    // DuckDB renders the rows into a pipe that the LOCAL INFILE handler streams to the server at
    // the same time (the handler reads `pipe_path(dir, step)`).
    copy_through_pipe(ctx.conn, &select, CSV_OPTIONS, dir, ctx.step_id, |_| {
        tx.query_drop(sql).map_err(text)?;
        let rows = tx.affected_rows();
        // LOCAL loads turn row errors (duplicate keys, NULL into NOT NULL, truncation) into
        // warnings and carry on; here any warning fails the load, so it rolls back as a whole.
        if tx.warnings() > 0 {
            let first: Vec<(String, u32, String)> = tx.query("SHOW WARNINGS LIMIT 3").map_err(text)?;
            let what: Vec<String> =
                first.into_iter().map(|(level, code, msg)| format!("{level} {code}: {msg}")).collect();
            return Err(format!("MySQL write to {} rejected rows: {}", plan.table, what.join("; ")));
        }
        Ok(rows)
    })
    .map_err(DriverError::at_target)
}

/// DuckDB CSV options the LOAD DATA statement below reads back (every field quoted, NULL as the
/// bare word NULL).
const CSV_OPTIONS: &str =
    "FORMAT csv, HEADER false, DELIMITER ',', QUOTE '\"', ESCAPE '\"', NULLSTR 'NULL', FORCE_QUOTE *, NEW_LINE '\\n'";

/// Longest MySQL identifier.
/// The writer session's `sql_mode`: strict (no silent truncation or zero dates, also for
/// `ON DUPLICATE KEY UPDATE`) and without `NO_BACKSLASH_ESCAPES` (string literals are escaped
/// with backslashes).
const WRITER_SQL_MODE: &str = "SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ',STRICT_ALL_TABLES,'), ',NO_BACKSLASH_ESCAPES,', ','))";

const MAX_IDENTIFIER: usize = 64;
const SHADOW_SUFFIX: &str = "__osiris_new_";
const OLD_SUFFIX: &str = "__osiris_old_";
/// Random hex digits that make the shadow names unique to one load (never a user's table).
const SHADOW_RANDOM: usize = 8;

/// What the mode needs of an existing table: `upsert` a PRIMARY KEY or UNIQUE index on exactly
/// `upsert_keys` (without one, `ON DUPLICATE KEY` never fires and every rerun appends copies);
/// `replace` no foreign key that would cascade its DELETE into other tables' rows.
fn check_target(conn: &mut mysql::Conn, plan: &Plan) -> Result<(), DriverError> {
    let t = escape_string(&plan.table_name);
    let schema = &plan.schema_expr;
    let query_err = |e: mysql::Error| DriverError::at_target(describe(&e)).with_cause(e);
    match plan.mode {
        WriteMode::Upsert => {
            // Column names compare case-insensitively, as MySQL compares them.
            let rows: Vec<(String, String)> = conn
                .query(format!(
                    "SELECT index_name, column_name FROM information_schema.statistics \
                     WHERE table_schema = {schema} AND table_name = {t} AND non_unique = 0"
                ))
                .map_err(query_err)?;
            let mut unique: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (index, column) in rows {
                unique.entry(index).or_default().insert(column.to_lowercase());
            }
            let wanted: BTreeSet<String> = plan.keys.iter().map(|k| k.to_lowercase()).collect();
            if !unique.values().any(|cols| *cols == wanted) {
                let found: Vec<String> = unique
                    .iter()
                    .map(|(n, c)| format!("{n} ({})", c.iter().cloned().collect::<Vec<_>>().join(", ")))
                    .collect();
                return Err(DriverError::at_target(format!(
                    "upsert into {} needs a PRIMARY KEY or UNIQUE index on exactly ({}); without one nothing is ever updated and each run appends copies (add the index, or set upsert_keys to the columns of a unique index: {})",
                    plan.table,
                    plan.keys.join(", "),
                    if found.is_empty() { "the table has none".to_string() } else { found.join("; ") }
                )));
            }
        }
        WriteMode::Replace => {
            let cascading: Option<String> = conn
                .query_first(format!(
                    "SELECT GROUP_CONCAT(DISTINCT CONCAT(table_name, ' (ON DELETE ', delete_rule, ')') SEPARATOR ', ') \
                     FROM information_schema.referential_constraints WHERE unique_constraint_schema = {schema} \
                     AND referenced_table_name = {t} AND delete_rule NOT IN ('RESTRICT', 'NO ACTION')"
                ))
                .map_err(query_err)?
                .flatten();
            if let Some(children) = cascading {
                return Err(DriverError::at_target(format!(
                    "replace would delete every row of {} and so change rows of {children} through their foreign keys; nothing was written (use mode upsert, or empty those tables first)",
                    plan.table
                )));
            }
        }
        WriteMode::Append => {}
    }
    Ok(())
}

/// Whether `replace` may load a shadow copy and swap it in: only when nothing hangs on the table's
/// identity (triggers, foreign keys in either direction) and the shadow names fit.
fn can_swap(conn: &mut mysql::Conn, schema_expr: &str, table: &str) -> bool {
    if table.len() + SHADOW_SUFFIX.len() + SHADOW_RANDOM > MAX_IDENTIFIER {
        return false;
    }
    let t = escape_string(table);
    let dependents: Option<u64> = conn
        .query_first(format!(
            "SELECT (SELECT COUNT(*) FROM information_schema.triggers WHERE event_object_schema = {schema_expr} AND event_object_table = {t}) \
             + (SELECT COUNT(*) FROM information_schema.referential_constraints WHERE (constraint_schema = {schema_expr} AND table_name = {t}) \
                OR (unique_constraint_schema = {schema_expr} AND referenced_table_name = {t}))"
        ))
        .ok()
        .flatten();
    dependents == Some(0)
}

/// `replace` without deleting row by row: load a shadow table created `LIKE` the target, then swap
/// the two with one atomic `RENAME TABLE` and drop the old rows. Readers see the old table until
/// the rename and the new one after, never an empty or half-loaded table; a failed load drops the
/// shadow and leaves the target untouched. (Tables with triggers or foreign keys take the
/// DELETE-in-a-transaction path instead, see `can_swap`.)
fn replace_by_swap(
    ctx: &StepContext,
    input: &str,
    plan: &Plan,
    conn: &mut mysql::Conn,
    tmp: &std::path::Path,
) -> Result<u64, DriverError> {
    let qualify = |name: &str| match plan.table.split_once("`.`") {
        Some((schema, _)) => format!("{schema}`.{}", quote_mysql(name)),
        None => quote_mysql(name),
    };
    let mut random = [0u8; SHADOW_RANDOM / 2];
    getrandom::fill(&mut random).map_err(|e| DriverError::Internal(format!("no randomness: {e}")))?;
    let tag: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let shadow_name = format!("{}{SHADOW_SUFFIX}{tag}", plan.table_name);
    let (shadow, old) = (qualify(&shadow_name), qualify(&format!("{}{OLD_SUFFIX}{tag}", plan.table_name)));
    let fail = |e: mysql::Error| DriverError::at_target(plan.write_error(&e)).with_cause(e);
    conn.query_drop(format!("CREATE TABLE {shadow} LIKE {}", plan.table)).map_err(fail)?;
    let shadow_plan = Plan {
        table: shadow.clone(),
        table_name: shadow_name,
        schema_expr: plan.schema_expr.clone(),
        columns: plan.columns.clone(),
        mode: WriteMode::Append,
        keys: plan.keys.clone(),
        batch_size: plan.batch_size,
    };
    let loaded = (|| {
        let mut tx = conn.start_transaction(TxOpts::default()).map_err(fail)?;
        let rows = load_data(ctx, input, &shadow_plan, &mut tx, tmp)?;
        tx.commit().map_err(fail)?;
        Ok(rows)
    })();
    let rows = match loaded {
        Ok(rows) => rows,
        Err(e) => {
            let _ = conn.query_drop(format!("DROP TABLE IF EXISTS {shadow}"));
            return Err(e);
        }
    };
    if let Err(e) = conn.query_drop(format!("RENAME TABLE {} TO {old}, {shadow} TO {}", plan.table, plan.table)) {
        let _ = conn.query_drop(format!("DROP TABLE IF EXISTS {shadow}"));
        return Err(fail(e));
    }
    conn.query_drop(format!("DROP TABLE IF EXISTS {old}")).map_err(fail)?;
    Ok(rows)
}

impl Driver for MysqlWriter {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let input = single_input(inputs, "a MySQL writer")?;
        let config: Config = parse(config).map_err(DriverError::Config)?;
        let table_name = config.table.as_str();
        let table = match config.schema.as_deref() {
            Some(s) => format!("{}.{}", quote_mysql(s), quote_mysql(table_name)),
            None => quote_mysql(table_name),
        };
        let mode = config.effective_mode();
        let keys = config.upsert_keys.clone().unwrap_or_default();
        if mode == WriteMode::Upsert && keys.is_empty() {
            return Err(DriverError::Config("mode upsert needs `upsert_keys`".into()));
        }
        let columns = describe_relation(ctx.conn, &quote_ident(&input)).map_err(sql_error)?;
        let batch_size = config.batch_size.max(1) as usize;
        let schema_expr = config.schema.as_deref().map(escape_string).unwrap_or_else(|| "DATABASE()".into());
        let plan = Plan {
            table: table.clone(),
            table_name: table_name.to_string(),
            schema_expr: schema_expr.clone(),
            columns,
            mode,
            keys,
            batch_size,
        };

        let target = Target::new(&config.server(), ctx.connection).map_err(DriverError::Config)?;
        let mut conn = target.connect(Duration::from_secs(10)).map_err(|e| {
            DriverError::at_target(format!("cannot connect to MySQL at {}: {e}", target.label())).with_cause(e)
        })?;
        // Whatever the server's default: a value that does not fit is an error, never a silent
        // truncation, and backslashes escape (the literals below are written that way).
        conn.query_drop(WRITER_SQL_MODE).map_err(|e| {
            DriverError::at_target(format!("cannot set the session's sql_mode: {}", describe(&e))).with_cause(e)
        })?;
        let tmp = ctx.run_dir.join("tmp");
        std::fs::create_dir_all(&tmp)
            .map_err(|e| DriverError::at_target(format!("cannot create {}: {e}", tmp.display())))?;
        let stream_from = pipe_path(&tmp, ctx.step_id);
        conn.set_local_infile_handler(Some(mysql::LocalInfileHandler::new(move |_name, out| {
            let mut f = std::fs::File::open(&stream_from)?;
            std::io::copy(&mut f, out)?;
            Ok(())
        })));
        let exists: Option<u64> = conn
            .query_first(format!(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = {schema_expr} AND table_name = {}",
                escape_string(table_name)
            ))
            .map_err(|e| DriverError::at_target(describe(&e)).with_cause(e))?;
        let mut created = false;
        if exists.unwrap_or(0) == 0 {
            if !config.create_table {
                return Err(DriverError::at_target(format!(
                    "table {table} does not exist in {}; create it or set `create_table: true`",
                    target.label()
                )));
            }
            let mut defs: Vec<String> = plan
                .columns
                .iter()
                .map(|(n, t)| format!("{} {}", quote_mysql(n), mysql_type(t, plan.keys.contains(n))))
                .collect();
            if !plan.keys.is_empty() {
                defs.push(format!(
                    "PRIMARY KEY ({})",
                    plan.keys.iter().map(|k| quote_mysql(k)).collect::<Vec<_>>().join(", ")
                ));
            }
            let ddl = format!("CREATE TABLE {table} ({}) CHARACTER SET utf8mb4", defs.join(", "));
            conn.query_drop(&ddl)
                .map_err(|e| DriverError::at_target(format!("cannot create {table}: {}", describe(&e))))?;
            ctx.telemetry.event(
                "table.ddl_executed",
                Some(ctx.step_id),
                serde_json::json!({"table": table_name, "operation": "create_table", "ddl": ddl}),
            );
            created = true;
        }
        if !created {
            check_target(&mut conn, &plan)?;
        }
        let swap = plan.mode == WriteMode::Replace && !created && can_swap(&mut conn, &schema_expr, table_name);
        let result = if swap {
            replace_by_swap(ctx, &input, &plan, &mut conn, &tmp)
        } else {
            (|| {
                let mut tx = conn
                    .start_transaction(TxOpts::default())
                    .map_err(|e| DriverError::at_target(describe(&e)).with_cause(e))?;
                let rows = if plan.mode == WriteMode::Upsert {
                    load(ctx, &input, &plan, &mut tx)?
                } else {
                    load_data(ctx, &input, &plan, &mut tx, &tmp)?
                };
                tx.commit().map_err(|e| DriverError::at_target(format!("commit failed: {}", describe(&e))))?;
                Ok(rows)
            })()
        };
        match result {
            Ok(rows) => {
                ctx.telemetry.metric("rows_written", rows as f64, Some(ctx.step_id));
                Ok(StepOutput { relation: None, rows: Some(rows), state: None })
            }
            Err(e) => {
                if created {
                    let _ = conn.query_drop(format!("DROP TABLE IF EXISTS {table}"));
                }
                Err(e)
            }
        }
    }

    /// Every mode reads the input with one query (the bulk pipe's COPY or the upsert SELECT);
    /// describing the input beforehand only binds it.
    fn reads_input_once(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_type_mapping() {
        assert_eq!(mysql_type("UBIGINT", false), "BIGINT UNSIGNED");
        assert_eq!(mysql_type("INTEGER", false), "INT");
        assert_eq!(mysql_type("DECIMAL(38,10)", false), "DECIMAL(38,10)");
        assert_eq!(mysql_type("VARCHAR", false), "LONGTEXT");
        assert_eq!(mysql_type("VARCHAR", true), "VARCHAR(191)");
        assert_eq!(mysql_type("TIMESTAMP", false), "DATETIME(6)");
        assert_eq!(mysql_type("BOOLEAN", false), "TINYINT(1)");
    }

    #[test]
    fn strings_are_escaped_for_mysql() {
        assert_eq!(escape_string("it's a \\ test"), "'it''s a \\\\ test'");
    }
}
