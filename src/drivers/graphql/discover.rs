//! Discovery for agents by introspection: the query type's fields with their arguments and
//! return types, the fields of each return type as columns, and for a Relay connection the
//! `data_path` and `pagination_path` that `graphql.extractor` takes, with sample nodes fetched
//! through `first: N` when the field needs no other argument.

use super::{connection_request, graphql_errors, records, DriverError, Request};
use crate::connections::ResolvedConnection;
use serde_json::{json, Map, Value};
use std::sync::atomic::AtomicBool;

const INTROSPECTION: &str =
    "query OsirisDiscovery { __schema { queryType { name } types { kind name possibleTypes { name } fields { \
name description args { name type { ...T } } type { ...T } } } } } \
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

/// Describe the endpoint's query fields, with up to `samples` nodes for Relay connections.
pub fn discover(connection: &ResolvedConnection, samples: usize) -> Result<Value, String> {
    let request = connection_request(connection, 2, 30).map_err(|e| e.to_string())?;
    let schema = post(&request, INTROSPECTION)?;
    let schema = schema.pointer("/data/__schema").ok_or("the endpoint answered introspection without a schema")?;
    let types: Map<String, Value> = schema["types"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["name"].as_str()?.to_string(), t.clone())))
        .collect();
    let query_type = schema.pointer("/queryType/name").and_then(Value::as_str).unwrap_or("Query");
    let fields = types.get(query_type).and_then(|t| t["fields"].as_array()).cloned().unwrap_or_default();
    let mut tables = Vec::new();
    for field in fields.iter().filter(|f| !f["name"].as_str().unwrap_or("__").starts_with("__")) {
        let name = field["name"].as_str().unwrap_or_default();
        let args: Vec<Value> = field["args"]
            .as_array()
            .into_iter()
            .flatten()
            .map(
                |a| json!({"name": a["name"], "type": render(&a["type"]), "required": a["type"]["kind"] == "NON_NULL"}),
            )
            .collect();
        let returns = named(&field["type"]);
        let mut table = json!({
            "name": name, "kind": "query_field", "description": field["description"], "type": render(&field["type"]),
            "args": args, "columns": columns(&types, returns), "samples": [],
        });
        if let Some(node) = relay_node(&types, returns) {
            let (scalars, selection) = node_selection(&types, node);
            table["relay"] = json!({
                "data_path": format!("data.{name}.edges[*].node"),
                "pagination_path": format!("data.{name}.pageInfo"),
                "node_type": node,
            });
            table["columns"] = columns(&types, node);
            let only_first = args.iter().all(|a| a["name"] == "first" || a["required"] == false)
                && args.iter().any(|a| a["name"] == "first");
            if samples > 0 && only_first && !scalars.is_empty() {
                let query = format!("{{ {name}(first: {samples}) {{ edges {{ node {{ {selection} }} }} }} }}");
                table["samples"] = match post(&request, &query) {
                    Ok(answer) => records(&answer, &format!("data.{name}.edges[*].node"))
                        .iter()
                        .map(|n| {
                            Value::Array(scalars.iter().map(|s| n.get(s).cloned().unwrap_or(Value::Null)).collect())
                        })
                        .collect(),
                    Err(e) => json!({"error": e}),
                };
                table["sample_columns"] = json!(scalars);
            }
        }
        tables.push(table);
    }
    Ok(json!({"query_type": query_type, "tables": tables}))
}

fn post(request: &Request, query: &str) -> Result<Value, String> {
    let never = AtomicBool::new(false);
    let answer =
        request.post_with(&never, &json!({"query": query}), |_, _| {}).map_err(|e: DriverError| e.to_string())?;
    match graphql_errors(&answer) {
        Some(e) => Err(format!("the GraphQL API answered with errors: {e}")),
        None => Ok(answer),
    }
}

/// A type reference as GraphQL writes it: `[Repo!]!`.
fn render(t: &Value) -> String {
    match t["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", render(&t["ofType"])),
        Some("LIST") => format!("[{}]", render(&t["ofType"])),
        _ => t["name"].as_str().unwrap_or("?").to_string(),
    }
}

/// The named type under NON_NULL and LIST wrappers.
fn named(t: &Value) -> &str {
    match t["kind"].as_str() {
        Some("NON_NULL" | "LIST") => named(&t["ofType"]),
        _ => t["name"].as_str().unwrap_or_default(),
    }
}

/// The object types a type stands for: itself, or a union's or interface's possible types.
fn concrete<'a>(types: &'a Map<String, Value>, type_name: &'a str) -> Vec<&'a str> {
    match types.get(type_name).and_then(|t| t["possibleTypes"].as_array()) {
        Some(possible) if !possible.is_empty() => possible.iter().filter_map(|p| p["name"].as_str()).collect(),
        _ => vec![type_name],
    }
}

/// The fields of a type as columns (`name`, GraphQL `type`); for a union, the fields of every
/// member, each once.
fn columns(types: &Map<String, Value>, type_name: &str) -> Value {
    let mut seen = std::collections::HashSet::new();
    concrete(types, type_name)
        .into_iter()
        .filter_map(|t| types.get(t).and_then(|t| t["fields"].as_array()))
        .flatten()
        .filter(|f| seen.insert(f["name"].as_str().unwrap_or_default().to_string()))
        .map(|f| json!({"name": f["name"], "type": render(&f["type"])}))
        .collect()
}

/// The scalar columns of a node and the selection that reads them (`... on T { … }` per member of
/// a union or interface).
fn node_selection(types: &Map<String, Value>, node: &str) -> (Vec<String>, String) {
    let members = concrete(types, node);
    let mut columns: Vec<String> = Vec::new();
    let mut selection = Vec::new();
    for member in &members {
        let scalars = scalar_fields(types, member);
        for s in &scalars {
            if !columns.contains(s) {
                columns.push(s.clone());
            }
        }
        match members.as_slice() {
            [only] if only == &node => selection.push(scalars.join(" ")),
            _ if !scalars.is_empty() => selection.push(format!("... on {member} {{ {} }}", scalars.join(" "))),
            _ => {}
        }
    }
    (columns, selection.join(" "))
}

/// The node type of a Relay connection (`edges { node }` and `pageInfo`), if `type_name` is one.
fn relay_node<'a>(types: &'a Map<String, Value>, type_name: &str) -> Option<&'a str> {
    let fields = types.get(type_name)?["fields"].as_array()?;
    let field = |n: &str| fields.iter().find(|f| f["name"] == n);
    field("pageInfo")?;
    let edge = types.get(named(&field("edges")?["type"]))?;
    let node = edge["fields"].as_array()?.iter().find(|f| f["name"] == "node")?;
    Some(named(&node["type"]))
}

/// The fields of `type_name` that are scalars or enums (selectable without a sub-selection).
fn scalar_fields(types: &Map<String, Value>, type_name: &str) -> Vec<String> {
    let kind = |t: &str| types.get(t).and_then(|t| t["kind"].as_str()).unwrap_or_default().to_string();
    types
        .get(type_name)
        .and_then(|t| t["fields"].as_array())
        .into_iter()
        .flatten()
        .filter(|f| matches!(kind(named(&f["type"])).as_str(), "SCALAR" | "ENUM"))
        .filter(|f| f["args"].as_array().is_none_or(|a| a.iter().all(|a| a["type"]["kind"] != "NON_NULL")))
        .filter_map(|f| f["name"].as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_references_render_as_graphql_writes_them() {
        let t = json!({"kind": "NON_NULL", "ofType": {"kind": "LIST", "ofType": {"kind": "NON_NULL", "ofType": {"kind": "OBJECT", "name": "Repo"}}}});
        assert_eq!(render(&t), "[Repo!]!");
        assert_eq!(named(&t), "Repo");
    }
}
