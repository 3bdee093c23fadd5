//! Canonical JSON (keys sorted recursively, compact, UTF-8 unescaped) and SHA-256 fingerprints.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// `value` with every object's keys sorted.
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Compact canonical JSON text.
pub fn to_canonical_string(value: &Value) -> String {
    serde_json::to_string(&sorted(value)).expect("JSON values always serialize")
}

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// `sha256:<hex>` of the canonical JSON of `value`.
pub fn fingerprint(value: &Value) -> String {
    format!("sha256:{}", sha256_hex(to_canonical_string(value).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_fingerprint() {
        let a = json!({"b": 1, "a": {"y": [1, 2], "x": "é"}});
        let b = json!({"a": {"x": "é", "y": [1, 2]}, "b": 1});
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_eq!(to_canonical_string(&a), r#"{"a":{"x":"é","y":[1,2]},"b":1}"#);
    }
}
