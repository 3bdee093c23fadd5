//! Typed component configs. A folder component declares `pub struct Config` (serde, with
//! `deny_unknown_fields`); the step's config is deserialised into it once at validation time
//! (a failure is exit 2, like any schema violation) and again by the driver, which then reads
//! fields instead of looking up strings. Defaults stay in one place, the spec: both parses see
//! the spec's defaults filled in (the compiler writes them into every cfg). A unit test keeps the
//! struct's fields and the spec's properties equal, field by field.

use serde::de::{self, DeserializeOwned, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Keys a step's cfg carries beside the component's own fields: the connection reference
/// (resolved elsewhere) and the manifest's `component` and step `mode`.
const STEP_KEYS: [&str; 3] = ["connection", "component", "mode"];

/// `config` as `T`, without the step keys `T` does not declare itself.
pub fn parse<T: DeserializeOwned>(config: &Map<String, Value>) -> Result<T, String> {
    let fields = fields_of::<T>();
    let own: Map<String, Value> = config
        .iter()
        .filter(|(k, _)| !STEP_KEYS.contains(&k.as_str()) || fields.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::from_value(Value::Object(own)).map_err(|e| e.to_string())
}

/// A text field a connection may write as a number (`project_id: 4242`, `port: "3306"`): kept
/// as text. For `#[serde(default, deserialize_with = "text_or_number")]` on an `Option<String>`.
pub fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(de::Error::custom(format!("expected text or a number, got {other}"))),
    }
}

/// The config a connection alone gives a component (health checks, discovery): the spec's
/// defaults and those of the connection's fields that are config fields.
pub fn from_connection<T: DeserializeOwned>(
    component: &str,
    connection: &crate::connections::ResolvedConnection,
) -> Result<T, String> {
    let spec = crate::registry::Registry::builtin_shared()
        .get(component)
        .ok_or_else(|| format!("no component `{component}`"))?;
    let mut config = spec.defaults();
    let known = fields_of::<T>();
    config.extend(
        connection.fields.iter().filter(|(k, _)| known.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())),
    );
    parse(&config).map_err(|e| format!("the {} connection cannot be used: {e}", connection.family))
}

/// The field names `T` accepts, read from its `Deserialize` implementation.
pub fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Fields(Option<&'static [&'static str]>);
    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("fields read")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }
    impl<'de> de::Deserializer<'de> for &mut Fields {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0 = Some(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut probe = Fields(None);
    let _ = T::deserialize(&mut probe);
    probe.0.unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Example {
        path: String,
        limit: Option<u64>,
    }

    #[test]
    fn fields_come_from_serde_and_unknown_keys_are_refused() {
        assert_eq!(fields_of::<Example>(), ["path", "limit"]);
        let ok: Map<String, Value> = serde_json::from_str(
            r#"{"path": "a", "connection": "@filesystem.x", "component": "c", "mode": "extract"}"#,
        )
        .unwrap();
        assert!(parse::<Example>(&ok).is_ok());
        let bad: Map<String, Value> = serde_json::from_str(r#"{"path": "a", "limt": 3}"#).unwrap();
        assert!(parse::<Example>(&bad).unwrap_err().contains("unknown field `limt`"));
    }
}
