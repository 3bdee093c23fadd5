//! YAML → JSON value, remembering where every node came from.
//!
//! Validation works on plain `serde_json::Value`s (so JSON Schema applies directly); a side table
//! maps each node's path (`steps[2].config.path`) to its line and column for error messages.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::Spanned;
use std::collections::HashMap;
use std::fmt;

/// A parsed YAML document with the source position of every node.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document as JSON.
    pub value: Value,
    positions: HashMap<String, (u64, u64)>,
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// What the parser said.
    pub message: String,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
}

impl Document {
    /// Parse YAML text.
    pub fn parse(text: &str) -> Result<Self, YamlError> {
        if text.trim().is_empty() {
            return Ok(Self { value: Value::Null, positions: HashMap::new() });
        }
        let node: Spanned<Node> = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e.location().map(|l| (Some(l.line()), Some(l.column()))).unwrap_or((None, None));
            YamlError { message: e.to_string(), line, column }
        })?;
        let mut positions = HashMap::new();
        let value = node_to_json(node, String::new(), &mut positions);
        Ok(Self { value, positions })
    }

    /// Line and column of the node at `path`, or of its nearest ancestor that has one.
    pub fn position(&self, path: &str) -> Option<(u64, u64)> {
        let mut p = path.to_string();
        loop {
            if let Some(pos) = self.positions.get(&p) {
                return Some(*pos);
            }
            let cut = p.rfind(['.', '['])?;
            p.truncate(cut);
        }
    }
}

/// Join a map key onto a path: `steps[0]` + `config` → `steps[0].config`.
pub fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn node_to_json(node: Spanned<Node>, path: String, positions: &mut HashMap<String, (u64, u64)>) -> Value {
    let loc = node.referenced;
    positions.insert(path.clone(), (loc.line(), loc.column()));
    match node.value {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(b),
        Node::Int(i) => Value::Number(i.into()),
        Node::UInt(u) => Value::Number(u.into()),
        Node::Float(f) => Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null),
        Node::Str(s) => Value::String(s),
        Node::Seq(items) => Value::Array(
            items.into_iter().enumerate().map(|(i, n)| node_to_json(n, format!("{path}[{i}]"), positions)).collect(),
        ),
        Node::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let p = child_path(&path, &k);
                map.insert(k, node_to_json(v, p, positions));
            }
            Value::Object(map)
        }
    }
}

/// Any YAML node; children keep their spans.
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(String, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::UInt(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        i64::try_from(v).map(Node::Int).map_err(|_| E::custom("integer out of range"))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        u64::try_from(v).map(Node::UInt).map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let key = match key {
                Node::Str(s) => s,
                Node::Int(i) => i.to_string(),
                Node::UInt(u) => u.to_string(),
                Node::Bool(b) => b.to_string(),
                Node::Float(f) => f.to_string(),
                Node::Null => "null".to_string(),
                _ => return Err(de::Error::custom("mapping keys must be scalars")),
            };
            let value = map.next_value::<Spanned<Node>>()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_positions_of_nested_nodes() {
        let doc = Document::parse("name: x\nsteps:\n  - id: a\n    config:\n      path: in.csv\n").unwrap();
        assert_eq!(doc.value["steps"][0]["config"]["path"], "in.csv");
        assert_eq!(doc.position("steps[0].config.path").map(|p| p.0), Some(5));
        assert_eq!(doc.position("steps[0].config.missing"), doc.position("steps[0].config"));
    }

    #[test]
    fn syntax_errors_carry_a_line() {
        let err = Document::parse("name: [unclosed\nsteps: 1\n").unwrap_err();
        assert!(err.line.is_some(), "{err:?}");
    }
}
