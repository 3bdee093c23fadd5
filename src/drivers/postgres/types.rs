//! PostgreSQL ↔ DuckDB types: one table each way, documented in docs/components.md.
//!
//! Reading: a column's `format_type()` text picks the DuckDB type, an optional PostgreSQL
//! expression shapes its text in `COPY … TO STDOUT (FORMAT csv)`, and a DuckDB expression turns
//! that text into the typed value. Writing: a DuckDB type picks the PostgreSQL column type for
//! `create_if_missing`, and an expression renders the value as text PostgreSQL's CSV COPY parses.

use crate::exchange::chunk_load::LoadColumn;

/// How one PostgreSQL result column is read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadMapping {
    /// PostgreSQL expression over `{}` (the quoted column) used in the COPY query.
    pub pg_expression: String,
    /// The DuckDB side: type and load expression.
    pub load: LoadColumn,
}

/// The DuckDB type of a PostgreSQL scalar type, None when it is read as text.
fn scalar(pg: &str) -> Option<String> {
    let base = pg.split('(').next().unwrap_or(pg).trim();
    let t = match base {
        "smallint" => "SMALLINT",
        "integer" => "INTEGER",
        "bigint" | "oid" => "BIGINT",
        "real" => "FLOAT",
        "double precision" => "DOUBLE",
        "boolean" => "BOOLEAN",
        "date" => "DATE",
        "json" | "jsonb" => "JSON",
        "bytea" => "BLOB",
        "uuid" => "UUID",
        "interval" => "INTERVAL",
        "numeric" => return numeric(pg),
        _ if base.starts_with("timestamp") && pg.ends_with("with time zone") && !pg.ends_with("without time zone") => {
            "TIMESTAMPTZ"
        }
        _ if base.starts_with("timestamp") => "TIMESTAMP",
        _ if base.starts_with("time") && pg.ends_with("with time zone") && !pg.ends_with("without time zone") => {
            "TIMETZ"
        }
        _ if base.starts_with("time") => "TIME",
        _ => return None,
    };
    Some(t.to_string())
}

/// `numeric(p,s)` with p ≤ 38 is an exact DECIMAL; wider or unconstrained numeric stays text
/// (exact digits; cast in a processor when a bounded type is known).
fn numeric(pg: &str) -> Option<String> {
    let inner = pg.strip_prefix("numeric(")?.strip_suffix(')')?;
    let (p, s) = inner.split_once(',').unwrap_or((inner, "0"));
    let (p, s): (u32, i32) = (p.trim().parse().ok()?, s.trim().parse().ok()?);
    (p <= 38 && (0..=p as i32).contains(&s)).then(|| format!("DECIMAL({p},{s})"))
}

/// Months, days and microseconds of an interval as three numbers, so no text format is parsed.
const INTERVAL_PARTS: &str = "((extract(year from {}) * 12 + extract(month from {}))::bigint || ' ' || \
     extract(day from {})::bigint || ' ' || (extract(epoch from ({} - date_trunc('day', {}))) * 1000000)::bigint)";
const INTERVAL_LOAD: &str =
    "to_months(CAST(split_part({}, ' ', 1) AS INTEGER)) + to_days(CAST(split_part({}, ' ', 2) AS INTEGER)) \
     + to_microseconds(CAST(split_part({}, ' ', 3) AS BIGINT))";

/// The read mapping of a column named `name` whose `format_type()` is `pg`.
pub fn read_mapping(name: &str, pg: &str) -> ReadMapping {
    let plain = |duck: &str| ReadMapping { pg_expression: "{}".into(), load: LoadColumn::cast(name, duck) };
    if let Some(element) = pg.strip_suffix("[]") {
        let duck = match scalar(element).as_deref() {
            Some(t @ ("SMALLINT" | "INTEGER" | "BIGINT" | "FLOAT" | "DOUBLE" | "BOOLEAN" | "DATE" | "UUID")) => {
                format!("{t}[]")
            }
            None if !element.contains('[') => "VARCHAR[]".to_string(),
            _ => "JSON".to_string(),
        };
        let expression = (duck != "JSON").then(|| format!("CAST(CAST({{}} AS JSON) AS {duck})"));
        return ReadMapping {
            pg_expression: "array_to_json({})::text".into(),
            load: LoadColumn { name: name.into(), duck_type: duck, expression },
        };
    }
    match scalar(pg).as_deref() {
        Some("BOOLEAN") => ReadMapping { pg_expression: "{}::text".into(), load: LoadColumn::cast(name, "BOOLEAN") },
        Some("BLOB") => ReadMapping {
            pg_expression: "{}".into(),
            load: LoadColumn {
                name: name.into(),
                duck_type: "BLOB".into(),
                expression: Some("unhex(substr({}, 3))".into()),
            },
        },
        Some("INTERVAL") => ReadMapping {
            pg_expression: INTERVAL_PARTS.into(),
            load: LoadColumn {
                name: name.into(),
                duck_type: "INTERVAL".into(),
                expression: Some(INTERVAL_LOAD.into()),
            },
        },
        Some(t) => plain(t),
        None => ReadMapping { pg_expression: "{}::text".into(), load: LoadColumn::cast(name, "VARCHAR") },
    }
}

/// PostgreSQL column type for a DuckDB type (for `create_if_missing`).
pub fn pg_type(duck: &str) -> String {
    match duck {
        "BOOLEAN" => "boolean".into(),
        "TINYINT" | "SMALLINT" | "UTINYINT" => "smallint".into(),
        "INTEGER" | "USMALLINT" => "integer".into(),
        "BIGINT" | "UINTEGER" => "bigint".into(),
        "UBIGINT" => "numeric(20,0)".into(),
        "HUGEINT" | "UHUGEINT" => "numeric(39,0)".into(),
        "FLOAT" => "real".into(),
        "DOUBLE" => "double precision".into(),
        "DATE" => "date".into(),
        "TIME" => "time".into(),
        "TIME WITH TIME ZONE" => "timetz".into(),
        "TIMESTAMP" | "TIMESTAMP_S" | "TIMESTAMP_MS" | "TIMESTAMP_NS" => "timestamp".into(),
        "TIMESTAMP WITH TIME ZONE" => "timestamptz".into(),
        "INTERVAL" => "interval".into(),
        "BLOB" => "bytea".into(),
        "UUID" => "uuid".into(),
        "JSON" => "jsonb".into(),
        t if t.starts_with("DECIMAL") => t.replace("DECIMAL", "numeric"),
        t if is_nested(t) => "jsonb".into(),
        _ => "text".into(),
    }
}

fn is_nested(duck: &str) -> bool {
    duck.ends_with(']') || duck.starts_with("STRUCT") || duck.starts_with("MAP") || duck.starts_with("UNION")
}

/// DuckDB expression rendering column `col` (quoted) as text PostgreSQL's CSV COPY parses.
pub fn write_expression(duck: &str, col: &str) -> String {
    match duck {
        "BLOB" => format!("'\\x' || lower(hex({col}))"),
        t if is_nested(t) => format!("CAST(to_json({col}) AS VARCHAR)"),
        _ => col.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_map_both_ways() {
        assert_eq!(read_mapping("a", "numeric(38,10)").load.duck_type, "DECIMAL(38,10)");
        assert_eq!(read_mapping("a", "numeric(40,2)").load.duck_type, "VARCHAR");
        assert_eq!(read_mapping("a", "numeric").load.duck_type, "VARCHAR");
        assert_eq!(read_mapping("a", "timestamp(3) with time zone").load.duck_type, "TIMESTAMPTZ");
        assert_eq!(read_mapping("a", "timestamp without time zone").load.duck_type, "TIMESTAMP");
        assert_eq!(read_mapping("a", "time with time zone").load.duck_type, "TIMETZ");
        assert_eq!(read_mapping("a", "integer[]").load.duck_type, "INTEGER[]");
        assert_eq!(read_mapping("a", "text[]").load.duck_type, "VARCHAR[]");
        assert_eq!(read_mapping("a", "jsonb[]").load.duck_type, "JSON");
        assert_eq!(read_mapping("a", "mood").load.duck_type, "VARCHAR");
        assert_eq!(pg_type("DECIMAL(18,3)"), "numeric(18,3)");
        assert_eq!(pg_type("INTEGER[]"), "jsonb");
        assert_eq!(pg_type("STRUCT(a INTEGER)"), "jsonb");
    }
}
