//! Discovery for agents: the database's tables and views with their columns typed as osiris will
//! load them, keys, row estimates and a few sample rows.

use super::connect::{describe, quote_mysql, Target};
use super::types::{map_column, render};
use crate::connections::ResolvedConnection;
use mysql::prelude::Queryable;
use serde_json::{json, Value};
use std::time::Duration;

/// Describe every table of the connection's database, with up to `samples` rows each.
pub fn discover(connection: &ResolvedConnection, samples: usize) -> Result<Value, String> {
    let target = Target::of_connection(connection)?;
    let mut conn = target.connect(Duration::from_secs(10)).map_err(|e| format!("{}: {e}", target.label()))?;
    let tables: Vec<(String, String, u64)> = conn
        .exec(
            "SELECT table_name, table_type, COALESCE(table_rows, 0) FROM information_schema.tables \
             WHERE table_schema = ? ORDER BY table_name",
            (&target.database,),
        )
        .map_err(|e| describe(&e))?;
    let keys: Vec<(String, String, String)> = conn
        .exec(
            "SELECT table_name, column_name, column_key FROM information_schema.columns \
             WHERE table_schema = ? AND column_key <> '' ORDER BY table_name, ordinal_position",
            (&target.database,),
        )
        .map_err(|e| describe(&e))?;
    let mut out = Vec::new();
    for (table, kind, estimate) in tables {
        let sql = format!("SELECT * FROM {}.{} LIMIT {samples}", quote_mysql(&target.database), quote_mysql(&table));
        let mut result = conn.query_iter(&sql).map_err(|e| format!("{table}: {}", describe(&e)))?;
        let mappings: Vec<_> = result.columns().as_ref().iter().map(map_column).collect();
        let mut rows = Vec::new();
        for row in result.by_ref() {
            let row = row.map_err(|e| format!("{table}: {}", describe(&e)))?;
            let cells: Vec<Value> = row
                .unwrap()
                .into_iter()
                .zip(&mappings)
                .map(|(v, m)| {
                    if v == mysql::Value::NULL {
                        return Value::Null;
                    }
                    let mut text = Vec::new();
                    match render(v, m.convert, &mut text) {
                        Ok(()) => Value::String(String::from_utf8_lossy(&text).into_owned()),
                        Err(e) => Value::String(format!("<{e}>")),
                    }
                })
                .collect();
            rows.push(Value::Array(cells));
        }
        let key_of = |c: &str| keys.iter().find(|(t, col, _)| *t == table && col == c).map(|(_, _, k)| k.clone());
        let columns: Vec<Value> =
            mappings.iter().map(|m| json!({"name": m.name, "type": m.duck_type, "key": key_of(&m.name)})).collect();
        let primary_key: Vec<&str> =
            keys.iter().filter(|(t, _, k)| *t == table && k == "PRI").map(|(_, c, _)| c.as_str()).collect();
        out.push(json!({
            "schema": target.database, "name": table, "kind": if kind == "VIEW" { "view" } else { "table" },
            "estimated_rows": estimate, "primary_key": primary_key, "columns": columns, "samples": rows,
        }));
    }
    Ok(json!({"database": target.database, "server": target.label(), "tables": out}))
}
