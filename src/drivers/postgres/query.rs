//! The supabase.extractor's PostgREST-style fields (`select`, `filter`, `order`) as SQL, for the
//! direct PostgreSQL channel. Only the forms SQL can express one-to-one are accepted; anything
//! else (embedded resources, unknown operators) gets an error naming the field.

use super::connect::{pg_literal as literal, qualified, quote_pg};
use crate::components::supabase_extractor::Config;
use serde_json::Value;

/// `select`: `*` or a comma-separated list of column names.
fn select_list(select: &str) -> Result<String, String> {
    let select = select.trim();
    if select.is_empty() || select == "*" {
        return Ok("*".into());
    }
    let mut cols = Vec::new();
    for c in select.split(',').map(str::trim) {
        if c.is_empty() || c.contains(['(', ')', ':', '!']) {
            return Err(format!(
                "`select: {select}` uses PostgREST syntax SQL cannot express (`{c}`); list plain columns, or use a connection without a DSN to read over REST"
            ));
        }
        cols.push(quote_pg(c));
    }
    Ok(cols.join(", "))
}

/// One `filter` entry `column: op.value` as a SQL condition.
fn condition(column: &str, spec: &str) -> Result<String, String> {
    let col = quote_pg(column);
    let (negate, spec) = match spec.strip_prefix("not.") {
        Some(rest) => (true, rest),
        None => (false, spec),
    };
    let (op, value) =
        spec.split_once('.').ok_or_else(|| format!("filter `{column}: {spec}` must look like `op.value`"))?;
    let cond = match op {
        "eq" => format!("{col} = {}", literal(value)),
        "neq" => format!("{col} <> {}", literal(value)),
        "gt" => format!("{col} > {}", literal(value)),
        "gte" => format!("{col} >= {}", literal(value)),
        "lt" => format!("{col} < {}", literal(value)),
        "lte" => format!("{col} <= {}", literal(value)),
        "like" => format!("{col} LIKE {}", literal(&value.replace('*', "%"))),
        "ilike" => format!("{col} ILIKE {}", literal(&value.replace('*', "%"))),
        "is" => match value {
            "null" => format!("{col} IS NULL"),
            "true" => format!("{col} IS TRUE"),
            "false" => format!("{col} IS FALSE"),
            other => return Err(format!("filter `{column}: is.{other}`: `is` takes null, true or false")),
        },
        "in" => {
            let inner = value
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or_else(|| format!("filter `{column}: in.{value}` must look like `in.(a,b)`"))?;
            let items: Vec<String> = inner.split(',').map(|v| literal(v.trim().trim_matches('"'))).collect();
            format!("{col} IN ({})", items.join(", "))
        }
        other => return Err(format!("filter `{column}`: operator `{other}` is not supported over SQL (eq, neq, gt, gte, lt, lte, like, ilike, is, in)")),
    };
    Ok(if negate { format!("NOT ({cond})") } else { cond })
}

/// `order`: `col[.asc|.desc][.nullsfirst|.nullslast]`, comma-separated.
fn order_by(order: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    for item in order.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut it = item.split('.');
        let col = quote_pg(it.next().unwrap_or_default());
        let mut sql = col;
        for m in it {
            sql.push_str(match m {
                "asc" => " ASC",
                "desc" => " DESC",
                "nullsfirst" => " NULLS FIRST",
                "nullslast" => " NULLS LAST",
                other => return Err(format!("order `{item}`: unknown modifier `{other}`")),
            });
        }
        parts.push(sql);
    }
    Ok(parts.join(", "))
}

/// The SELECT a supabase.extractor config describes.
pub fn extract_sql(config: &Config) -> Result<String, String> {
    let mut sql = format!("SELECT {} FROM {}", select_list(&config.select)?, qualified(&config.schema, &config.table));
    if let Some(filter) = &config.filter {
        let conds = filter
            .iter()
            .map(|(c, v)| match v {
                Value::String(spec) => condition(c, spec),
                other => condition(c, &format!("eq.{}", other.to_string().trim_matches('"'))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !conds.is_empty() {
            sql.push_str(&format!(" WHERE {}", conds.join(" AND ")));
        }
    }
    if let Some(order) = config.order.as_deref().filter(|o| !o.trim().is_empty()) {
        sql.push_str(&format!(" ORDER BY {}", order_by(order)?));
    }
    if config.offset > 0 {
        sql.push_str(&format!(" OFFSET {}", config.offset));
    }
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A typed config: the spec's defaults and `v`.
    fn config(v: Value) -> Config {
        let spec = crate::registry::Registry::builtin_shared().get("supabase.extractor").unwrap();
        let mut c = spec.defaults();
        c.extend(v.as_object().unwrap().clone());
        crate::components::config::parse(&c).unwrap()
    }

    #[test]
    fn postgrest_fields_become_sql() {
        let cfg = json!({"table": "orders", "schema": "sales", "select": "id, total",
            "filter": {"status": "eq.completed", "created_at": "gte.2024-01-01", "note": "is.null", "id": "not.in.(1,2)"},
            "order": "created_at.desc.nullslast,id", "offset": 5});
        assert_eq!(
            extract_sql(&config(cfg)).unwrap(),
            "SELECT \"id\", \"total\" FROM \"sales\".\"orders\" WHERE \"status\" = 'completed' AND \"created_at\" >= '2024-01-01' \
             AND \"note\" IS NULL AND NOT (\"id\" IN ('1', '2')) ORDER BY \"created_at\" DESC NULLS LAST, \"id\" OFFSET 5"
        );
        let embedded = json!({"table": "orders", "select": "id, customer(name)"});
        assert!(extract_sql(&config(embedded)).unwrap_err().contains("customer(name)"));
    }
}
