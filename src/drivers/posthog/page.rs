//! A HogQL page as the loader reads it: each cell as the text its chunk record carries, borrowed
//! from the body where the JSON string has no escapes.
//!
//! Parsed as `serde_json::Value`s, every string of a page was its own allocation, freed a moment
//! later: `perf` on 1M events put ~8 % of osiris's CPU in malloc, free and their consolidation.
//! UUIDs, event names, timestamps and distinct ids have no escapes, so most cells now borrow; a
//! number or an object keeps its JSON text, as `Value::to_string` gives it.

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// The parts of a HogQL answer the loader uses.
#[derive(Debug, Deserialize)]
pub struct HogqlPage<'a> {
    /// Column names.
    #[serde(default)]
    pub columns: Vec<String>,
    /// `[name, ClickHouse type]` pairs, when the server sends them.
    #[serde(default)]
    pub types: Vec<Value>,
    /// Rows, each a list of cells in column order.
    #[serde(default, borrow)]
    pub results: Vec<Vec<Cell<'a>>>,
}

/// One value of a row, as chunk text: `None` for null, a string as it is, anything else as its
/// JSON text.
#[derive(Debug, PartialEq)]
pub struct Cell<'a>(pub Option<Cow<'a, str>>);

impl Cell<'_> {
    /// The cell's text; `None` for null.
    pub fn text(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// The text a [`Cell`] holds, for a value already parsed (the fetcher's last row).
pub fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Cell<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CellVisitor)
    }
}

struct CellVisitor;

fn text<'a, E>(value: impl Into<Value>) -> Result<Cell<'a>, E> {
    Ok(Cell(Some(Cow::Owned(value.into().to_string()))))
}

impl<'de> Visitor<'de> for CellVisitor {
    type Value = Cell<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cell(Some(Cow::Borrowed(s))))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cell(Some(Cow::Owned(s.to_string()))))
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Cell(Some(Cow::Owned(s))))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Cell(None))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Cell(None))
    }
    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        text(b)
    }
    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        text(n)
    }
    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        text(n)
    }
    fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
        text(n)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        text(Value::deserialize(SeqAccessDeserializer::new(seq))?)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        text(Value::deserialize(MapAccessDeserializer::new(map))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_carry_the_text_a_value_gives_and_borrow_plain_strings() {
        let body = r#"{"columns": ["a"], "results": [["plain", "q\"uote", null, 3, -4, 1.5, 1e300, true,
            18446744073709551615, [1, {"b": "c"}], {"x": [null]}]]}"#;
        let page: HogqlPage = serde_json::from_str(body).unwrap();
        let values: Vec<Value> = serde_json::from_str::<Value>(body).unwrap()["results"][0].as_array().unwrap().clone();
        let cells = &page.results[0];
        assert_eq!(cells.len(), values.len());
        for (cell, value) in cells.iter().zip(&values) {
            assert_eq!(cell.0.as_deref(), value_text(value).as_deref(), "{value}");
        }
        assert!(matches!(cells[0].0, Some(Cow::Borrowed("plain"))));
        assert_eq!(cells[0].text(), Some("plain"));
    }
}
