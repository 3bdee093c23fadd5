//! Discovery for agents over the SQL channel: tables and views of every user schema with their
//! columns typed as `supabase.extractor` loads them (`format_type()` through the read mapping),
//! primary keys, row estimates and a few sample rows as text.

use super::connect::{describe, quote_pg, PgTarget};
use super::types::read_mapping;
use crate::connections::ResolvedConnection;
use serde_json::{json, Value};

const RELATIONS: &str = "SELECT n.nspname::text, c.relname::text, c.relkind::text, greatest(c.reltuples, 0)::bigint \
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm') \
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
    AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1, 2";

const COLUMNS: &str = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), \
    coalesce(a.attnum = ANY(i.indkey), false) FROM pg_attribute a \
    LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary \
    WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

/// Describe the database behind a connection's DSN, with up to `samples` rows per relation.
pub fn discover(connection: &ResolvedConnection, samples: usize) -> Result<Value, String> {
    let target = PgTarget::from_connection(Some(connection))?
        .ok_or("discovery needs the SQL channel: the connection has no DSN (pg_dsn)")?;
    let mut client = target.connect().map_err(|e| e.to_string())?;
    let relations = client.query(RELATIONS, &[]).map_err(|e| describe(&e))?;
    let mut tables = Vec::new();
    for r in relations {
        let (schema, name, kind, estimate): (String, String, String, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
        let qualified = format!("{}.{}", quote_pg(&schema), quote_pg(&name));
        let columns = match client.query(COLUMNS, &[&qualified]) {
            Ok(c) => c,
            // Dropped since it was listed: not part of the answer.
            Err(e) if e.code() == Some(&postgres::error::SqlState::UNDEFINED_TABLE) => continue,
            Err(e) => return Err(format!("{qualified}: {}", describe(&e))),
        };
        let described: Vec<(String, String, bool)> = columns.iter().map(|c| (c.get(0), c.get(1), c.get(2))).collect();
        let select: Vec<String> = described.iter().map(|(n, _, _)| format!("{}::text", quote_pg(n))).collect();
        let rows: Vec<Value> = if samples == 0 || select.is_empty() {
            Vec::new()
        } else {
            client
                .query(&format!("SELECT {} FROM {qualified} LIMIT {samples}", select.join(", ")), &[])
                .map_err(|e| format!("{qualified}: {}", describe(&e)))?
                .iter()
                .map(|row| {
                    Value::Array(
                        (0..row.len())
                            .map(|i| row.get::<_, Option<String>>(i).map_or(Value::Null, Value::String))
                            .collect(),
                    )
                })
                .collect()
        };
        tables.push(json!({
            "schema": schema, "name": name,
            "kind": match kind.as_str() { "v" => "view", "m" => "materialized_view", _ => "table" },
            "estimated_rows": u64::try_from(estimate).ok(),
            "primary_key": described.iter().filter(|c| c.2).map(|c| &c.0).collect::<Vec<_>>(),
            "columns": described.iter().map(|(n, pg, key)| json!({
                "name": n, "type": read_mapping(n, pg).load.duck_type, "source_type": pg, "key": key.then_some("PRI"),
            })).collect::<Vec<_>>(),
            "samples": rows,
        }));
    }
    Ok(json!({"server": target.label, "tables": tables}))
}
