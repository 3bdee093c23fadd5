//! The trust boundary for SQL a pipeline carries (`duckdb.processor`'s `query`): one SELECT
//! statement that reads only the pipeline's own relations.
//!
//! The query is parsed by DuckDB itself (`json_serialize_sql`, the parser that will run it) and
//! its syntax tree is checked against allowlists, so nothing depends on matching SQL text:
//! - exactly one statement, and a SELECT (`…; COPY … TO '/path'` or `ATTACH` cannot ride along);
//! - every table it names is a step's relation (or its `input_df` / `df_<step>` alias) or one of
//!   its own CTEs — no file name as a table (`FROM '.env.csv'`), no other catalog;
//! - table functions only from a short list that touches no file, network or environment
//!   (`range`, `generate_series`, `unnest`, `json_each`, `json_tree`); `read_text('.env')`,
//!   `read_csv('/etc/…')` and `glob` are refused — files are read by extractor components, whose
//!   paths the project controls;
//! - no `getenv`.
//!
//! Checked when a run is prepared, so a refused query exits 2 before any step runs.

use serde_json::Value;

/// Table functions a query may call: none of them reads a file, the network or the environment.
const TABLE_FUNCTIONS: &[&str] = &["range", "generate_series", "unnest", "json_each", "json_tree"];

/// Scalar functions a query may not call.
const DENIED_FUNCTIONS: &[&str] = &["getenv"];

/// Why a query was refused, with the byte offset in the query when DuckDB gave one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// What is not allowed and why.
    pub message: String,
    /// Byte offset of the offending part within the query.
    pub offset: Option<usize>,
}

impl Refusal {
    fn at(message: String, node: &Value) -> Self {
        // DuckDB marks "no location" with u64::MAX.
        let offset = node["query_location"].as_u64().filter(|&o| o < u32::MAX as u64).map(|o| o as usize);
        Self { message, offset }
    }
}

/// Check `query` with DuckDB's parser on `conn` (any connection; nothing is executed).
/// `relations` are the names it may read: the pipeline's step ids and their compat aliases.
pub fn check(conn: &duckdb::Connection, query: &str, relations: &[String]) -> Result<(), Refusal> {
    // The text goes in as a string literal: json_serialize_sql wants a constant, and a literal
    // is only parsed as a query by the function, never executed.
    let json: String = conn
        .query_row(&format!("SELECT json_serialize_sql({})::VARCHAR", super::quote_literal(query)), [], |r| r.get(0))
        .map_err(|e| Refusal { message: format!("the query cannot be parsed: {e}"), offset: None })?;
    let ast: Value = serde_json::from_str(&json)
        .map_err(|e| Refusal { message: format!("DuckDB's syntax tree is not JSON: {e}"), offset: None })?;
    check_tree(&ast, relations)
}

/// [`check`] on a syntax tree from `json_serialize_sql`.
pub fn check_tree(ast: &Value, relations: &[String]) -> Result<(), Refusal> {
    if ast["error"] == true {
        let reason = ast["error_message"].as_str().unwrap_or("not a SELECT statement");
        return Err(Refusal { message: format!("the query must be one SELECT statement ({reason})"), offset: None });
    }
    let statements = ast["statements"].as_array().map(Vec::len).unwrap_or(0);
    if statements != 1 {
        return Err(Refusal {
            message: format!("the query must be one SELECT statement, found {statements}"),
            offset: None,
        });
    }
    let mut ctes = Vec::new();
    collect_ctes(ast, &mut ctes);
    walk(ast, relations, &ctes)
}

fn collect_ctes(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            for entry in map.get("cte_map").and_then(|c| c["map"].as_array()).into_iter().flatten() {
                if let Some(name) = entry["key"].as_str() {
                    out.push(name.to_string());
                }
            }
            map.values().for_each(|v| collect_ctes(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_ctes(v, out)),
        _ => {}
    }
}

fn walk(node: &Value, relations: &[String], ctes: &[String]) -> Result<(), Refusal> {
    match node {
        Value::Object(map) => {
            match map.get("type").and_then(Value::as_str) {
                Some("BASE_TABLE") => {
                    let table = map.get("table_name").and_then(Value::as_str).unwrap_or_default();
                    let schema = map.get("schema_name").and_then(Value::as_str).unwrap_or_default();
                    let catalog = map.get("catalog_name").and_then(Value::as_str).unwrap_or_default();
                    // Unquoted identifiers are case-insensitive in DuckDB.
                    let known = relations.iter().chain(ctes).any(|r| r.eq_ignore_ascii_case(table));
                    if !known || !schema.is_empty() || !catalog.is_empty() {
                        let shown = [catalog, schema, table]
                            .iter()
                            .filter(|s| !s.is_empty())
                            .copied()
                            .collect::<Vec<_>>()
                            .join(".");
                        return Err(Refusal::at(
                            format!(
                                "`{shown}` is not a relation of this pipeline; a query reads the relations of its steps (by step id) and its own CTEs"
                            ),
                            node,
                        ));
                    }
                }
                Some("TABLE_FUNCTION") => {
                    let name = map.get("function").and_then(|f| f["function_name"].as_str()).unwrap_or_default();
                    if !TABLE_FUNCTIONS.contains(&name) {
                        return Err(Refusal::at(
                            format!(
                                "table function `{name}` is not allowed in pipeline SQL (files are read by extractor components; allowed: {})",
                                TABLE_FUNCTIONS.join(", ")
                            ),
                            node,
                        ));
                    }
                }
                _ => {}
            }
            if map.get("class").and_then(Value::as_str) == Some("FUNCTION") {
                let name = map.get("function_name").and_then(Value::as_str).unwrap_or_default();
                if DENIED_FUNCTIONS.contains(&name) {
                    return Err(Refusal::at(format!("`{name}()` is not allowed in pipeline SQL"), node));
                }
            }
            map.values().try_for_each(|v| walk(v, relations, ctes))
        }
        Value::Array(items) => items.iter().try_for_each(|v| walk(v, relations, ctes)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    fn verdict(query: &str) -> Result<(), String> {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let relations = vec!["orders".to_string(), "extract-cities".to_string(), "input_df".to_string()];
        check(&conn, query, &relations).map_err(|r| r.message)
    }

    #[test]
    fn selects_over_step_relations_ctes_and_pure_table_functions_pass() {
        for ok in [
            "SELECT * FROM orders",
            "SELECT o.*, c.country FROM orders o JOIN \"extract-cities\" c USING (city)",
            "WITH t AS (SELECT * FROM input_df) SELECT count(*) FROM t, range(3) r(i)",
            "SELECT unnest([1, 2]) AS x UNION ALL SELECT i FROM generate_series(1, 3) g(i)",
            "SELECT (SELECT max(a) FROM ORDERS) AS m",
        ] {
            assert_eq!(verdict(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn files_environment_other_statements_and_unknown_tables_are_refused() {
        for (bad, why) in [
            ("SELECT * FROM read_text('.env')", "read_text"),
            ("SELECT * FROM orders WHERE a IN (SELECT content FROM read_text('osiris_connections.yaml'))", "read_text"),
            ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
            ("SELECT * FROM 'secrets.csv'", "secrets.csv"),
            ("SELECT * FROM glob('*')", "glob"),
            ("SELECT getenv('HOME')", "getenv"),
            ("SELECT 1; COPY orders TO '/tmp/x.csv'", "one SELECT"),
            ("COPY orders TO '/tmp/x.csv'", "one SELECT"),
            ("ATTACH '/tmp/other.duckdb'", "one SELECT"),
            ("SELECT * FROM other_db.main.orders", "other_db.main.orders"),
            ("SELECT * FROM not_a_step", "not_a_step"),
        ] {
            let e = verdict(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
