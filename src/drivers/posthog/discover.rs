//! Discovery for agents: the four data types with their columns typed as osiris loads them, row
//! counts and sample rows; for `events` also the event names and property keys seen in the last
//! [`RECENT_DAYS`] days, with counts (what an agent needs to write `event_types` and a
//! transform over `properties`).

use super::client::PosthogClient;
use super::query::{columns, DATA_TYPES};
use crate::connections::ResolvedConnection;
use serde_json::{json, Value};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// The window event names and property keys are counted over (PostHog's own default view).
pub const RECENT_DAYS: u32 = 30;

/// Most event names and property keys listed.
const TOP: usize = 200;

/// Describe the project's data types, with up to `samples` rows each.
pub fn discover(connection: &ResolvedConnection, samples: usize) -> Result<Value, String> {
    let endpoint = connection.fields_as::<super::Endpoint>()?;
    let client = PosthogClient::new(&endpoint, Some(connection), Duration::from_secs(30))?.with_retries(2);
    let never = AtomicBool::new(false);
    let query = |hogql: &str| client.query(hogql, &never, |_, _| {}).map_err(|e| e.to_string());
    // The cheapest question first: a wrong key or project fails discovery at once.
    query("SELECT 1")?;
    let mut tables = Vec::new();
    for dt in DATA_TYPES {
        let answer = match query(&format!("SELECT {} FROM {} LIMIT {samples}", dt.select, dt.table)) {
            Ok(a) => a,
            Err(e) => {
                tables.push(json!({"name": dt.name, "kind": "data_type", "error": e}));
                continue;
            }
        };
        let count = query(&format!("SELECT count() FROM {}", dt.table))
            .ok()
            .and_then(|a| a.results.first().and_then(|r| r.first()).and_then(Value::as_u64));
        let cols: Vec<Value> = columns(&dt, &answer.columns, &answer.types)
            .into_iter()
            .map(|c| json!({"name": c.name, "type": c.duck_type}))
            .collect();
        let rows: Vec<Value> = answer.results.into_iter().take(samples).map(Value::from).collect();
        let mut table = json!({
            "name": dt.name, "kind": "data_type", "hogql_table": dt.table, "estimated_rows": count,
            "primary_key": [dt.id], "incremental_by": dt.timestamp, "columns": cols, "samples": rows,
        });
        if dt.name == "events" {
            let recent = format!("timestamp > now() - INTERVAL {RECENT_DAYS} DAY");
            table["event_names"] = counted(query(&format!(
                "SELECT event, count() AS n FROM events WHERE {recent} GROUP BY event ORDER BY n DESC LIMIT {TOP}"
            ))?);
            table["property_keys"] = counted(query(&format!(
                "SELECT arrayJoin(JSONExtractKeys(properties)) AS key, count() AS n FROM events WHERE {recent} \
                 GROUP BY key ORDER BY n DESC LIMIT {TOP}"
            ))?);
            table["recent_days"] = json!(RECENT_DAYS);
        }
        tables.push(table);
    }
    Ok(json!({"project_id": connection.str_field("project_id"), "tables": tables}))
}

/// `[name, count]` rows as `[{name, count}]`.
fn counted(answer: super::client::HogqlResponse) -> Value {
    answer
        .results
        .into_iter()
        .filter_map(|r| match r.as_slice() {
            [name, n] => Some(json!({"name": name, "count": n.as_u64()})),
            _ => None,
        })
        .collect()
}
