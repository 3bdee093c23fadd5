//! One page of JSON records, flattened into cells as the page is parsed: no document tree.
//!
//! A GraphQL or PostgREST page of 10,000 records parsed into `serde_json::Value`s costs some 25
//! allocations a record (maps, keys, strings) and as many frees; that, not the network, was the
//! extractor's bottleneck. [`parse_records`] walks the body once with serde's streaming
//! deserializer, follows `data_path` without building anything beside it, and hands each field
//! of each record to a [`Page`]: its column (`parent_child` names with `flatten`), its kind and
//! its text, borrowed from the body where it can be (an arena holds the rest). Values, nested
//! lists and (without `flatten`) nested objects become their compact JSON text.
//!
//! The rules are json_table.rs's: kinds widen BIGINT → DOUBLE → VARCHAR, a scalar or list
//! record is one `value` column, null says nothing about a kind.

use super::json_skim::{key_text, object_members, value_end};
use indexmap::IndexSet;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::fmt;

/// The inferred kind of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// true / false.
    Boolean,
    /// Integers that fit in 64 bits.
    BigInt,
    /// Any other number.
    Double,
    /// Strings, and the widening of mixed kinds.
    Varchar,
    /// Objects and lists.
    Json,
}

impl Kind {
    /// The kind of a JSON value (None for null).
    pub fn of(v: &Value) -> Option<Self> {
        Some(match v {
            Value::Null => return None,
            Value::Bool(_) => Self::Boolean,
            Value::Number(n) if n.is_i64() => Self::BigInt,
            Value::Number(_) => Self::Double,
            Value::String(_) => Self::Varchar,
            Value::Array(_) | Value::Object(_) => Self::Json,
        })
    }

    /// The kind that holds both.
    pub fn widen(self, other: Self) -> Self {
        match (self, other) {
            (a, b) if a == b => a,
            (Self::BigInt, Self::Double) | (Self::Double, Self::BigInt) => Self::Double,
            _ => Self::Varchar,
        }
    }

    /// The DuckDB type.
    pub fn duck_type(self) -> &'static str {
        match self {
            Self::Boolean => "BOOLEAN",
            Self::BigInt => "BIGINT",
            Self::Double => "DOUBLE",
            Self::Varchar => "VARCHAR",
            Self::Json => "JSON",
        }
    }
}

/// Widen an optional kind (None: only nulls so far) with a value's kind.
pub(crate) fn widened(existing: Option<Kind>, kind: Option<Kind>) -> Option<Kind> {
    match (existing, kind) {
        (Some(e), Some(k)) => Some(e.widen(k)),
        (e, k) => e.or(k),
    }
}

/// One non-null field of a record: its page column and its text in the page's arena.
#[derive(Debug, Clone, Copy)]
struct Cell {
    column: u32,
    start: u32,
    end: u32,
}

/// The records of one page as cells.
#[derive(Default)]
pub struct Page {
    names: IndexSet<String>,
    kinds: Vec<Option<Kind>>,
    text: String,
    cells: Vec<Cell>,
    row_ends: Vec<u32>,
    /// Columns of the record being read, in field order, and of the record before: records of
    /// one API share their key order, so a field's column is found by position, not by hashing.
    current: Vec<u32>,
    previous: Vec<u32>,
}

impl Page {
    /// Records in the page.
    pub fn len(&self) -> usize {
        self.row_ends.len()
    }

    /// True when the page holds no record.
    pub fn is_empty(&self) -> bool {
        self.row_ends.is_empty()
    }

    /// The page's columns in first-seen order, with their kinds (None: only nulls).
    pub fn columns(&self) -> impl Iterator<Item = (&str, Option<Kind>)> {
        self.names.iter().map(String::as_str).zip(self.kinds.iter().copied())
    }

    /// Each record as `(column, text)` pairs of its non-null fields.
    pub fn records(&self) -> impl Iterator<Item = impl Iterator<Item = (usize, &str)>> {
        let mut start = 0usize;
        self.row_ends.iter().map(move |&end| {
            let cells = &self.cells[start..end as usize];
            start = end as usize;
            cells.iter().map(|c| (c.column as usize, &self.text[c.start as usize..c.end as usize]))
        })
    }

    fn column(&mut self, name: &str) -> u32 {
        let position = self.current.len();
        let column = match self.previous.get(position) {
            Some(&guess) if self.names.get_index(guess as usize).is_some_and(|n| n == name) => guess,
            _ => match self.names.get_index_of(name) {
                Some(i) => i as u32,
                None => {
                    self.names.insert(name.to_string());
                    self.kinds.push(None);
                    (self.names.len() - 1) as u32
                }
            },
        };
        self.current.push(column);
        column
    }

    /// A field whose text is about to be appended to the arena (`write` appends it).
    fn field(&mut self, name: &str, kind: Option<Kind>, write: impl FnOnce(&mut String)) {
        let column = self.column(name);
        let slot = &mut self.kinds[column as usize];
        *slot = widened(*slot, kind);
        if kind.is_some() {
            let start = self.text.len() as u32;
            write(&mut self.text);
            self.cells.push(Cell { column, start, end: self.text.len() as u32 });
        }
    }

    fn end_record(&mut self) {
        self.row_ends.push(self.cells.len() as u32);
        std::mem::swap(&mut self.current, &mut self.previous);
        self.current.clear();
    }

    /// Add one record given as a JSON value (PostgREST rows, tests).
    pub fn push_value(&mut self, record: &Value, flatten: bool) {
        fn object(page: &mut Page, map: &Map<String, Value>, name: &mut String, flatten: bool) {
            for (k, v) in map {
                let len = name.len();
                if len > 0 {
                    name.push('_');
                }
                name.push_str(k);
                match v {
                    Value::Object(inner) if flatten => object(page, inner, name, flatten),
                    _ => value(page, name, v),
                }
                name.truncate(len);
            }
        }
        fn value(page: &mut Page, name: &str, v: &Value) {
            page.field(name, Kind::of(v), |text| match v {
                Value::String(s) => text.push_str(s),
                other => {
                    use std::fmt::Write;
                    let _ = write!(text, "{other}");
                }
            });
        }
        match record {
            Value::Object(map) => object(self, map, &mut String::new(), flatten),
            other => value(self, "value", other),
        }
        self.end_record();
    }
}

/// One step of a `data_path`: `name`, `[*]` or `[n]` (see graphql.rs's module doc).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// A name: the field of an object, or of each element of a list.
    Key(String),
    /// `[*]`: every element of a list.
    All,
    /// `[n]`: element n of a list.
    At(usize),
}

/// `data.items[*].node` → steps; an index that is not `*` or a number selects nothing.
pub(crate) fn steps(path: &str) -> Vec<Step> {
    let path = path.trim().trim_start_matches('$').trim_start_matches('.');
    let mut steps = Vec::new();
    if path.is_empty() {
        return steps;
    }
    for segment in path.split('.') {
        let (name, index) = match segment.find('[') {
            Some(i) => (&segment[..i], Some(segment[i + 1..].trim_end_matches(']'))),
            None => (segment, None),
        };
        if !name.is_empty() {
            steps.push(Step::Key(name.to_string()));
        }
        match index {
            None => {}
            Some("*") => steps.push(Step::All),
            Some(i) => steps.push(i.parse().map(Step::At).unwrap_or(Step::At(usize::MAX))),
        }
    }
    steps
}

/// What receives the values found at the end of a path.
trait Sink<'de> {
    fn found<D: Deserializer<'de>>(&mut self, value: D) -> Result<(), D::Error>;
}

/// Follows `steps` through a value, skipping everything off the path. A name applied to a list
/// applies to each element (`fan_out`), one level deep, as `select_path` does.
struct Navigate<'a, S> {
    steps: &'a [Step],
    fan_out: bool,
    sink: &'a mut S,
    /// A key of this object (not the one the path follows) whose values are kept as they pass.
    also: Option<(&'a str, &'a mut Vec<Value>)>,
}

impl<'de, S: Sink<'de>> DeserializeSeed<'de> for Navigate<'_, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.steps.is_empty() {
            return self.sink.found(d);
        }
        d.deserialize_any(self)
    }
}

impl<'de, S: Sink<'de>> Visitor<'de> for Navigate<'_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let wanted = match &self.steps[0] {
            Step::Key(wanted) => Some(wanted.as_str()),
            _ => None,
        };
        let mut also = self.also;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if Some(key.as_str()) == wanted {
                map.next_value_seed(Navigate {
                    steps: &self.steps[1..],
                    fan_out: true,
                    sink: &mut *self.sink,
                    also: None,
                })?;
            } else if let Some((_, values)) = also.as_mut().filter(|(k, _)| *k == key.as_str()) {
                values.push(map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        let mut also = self.also;
        loop {
            let found = match &self.steps[0] {
                Step::All => seq.next_element_seed(Navigate {
                    steps: &self.steps[1..],
                    fan_out: true,
                    sink: &mut *self.sink,
                    also: None,
                })?,
                Step::At(n) if *n == index => seq.next_element_seed(Navigate {
                    steps: &self.steps[1..],
                    fan_out: true,
                    sink: &mut *self.sink,
                    also: None,
                })?,
                Step::Key(_) if self.fan_out => {
                    // A key applied to each element; so is the key kept on the side.
                    let also = also.as_mut().map(|(key, values)| (*key, &mut **values));
                    seq.next_element_seed(Navigate { steps: self.steps, fan_out: false, sink: &mut *self.sink, also })?
                }
                _ => seq.next_element::<IgnoredAny>()?.map(|_| ()),
            };
            if found.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// An object key, borrowed from the body unless it holds escapes.
struct KeySeed;

/// A key as read.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Self::Borrowed(s) => s,
            Self::Owned(s) => s,
        }
    }
}

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key::Owned(v.to_string()))
    }
}

/// Collects the values found, as JSON values (small parts of a page: cursors, errors).
struct Values(Vec<Value>);

impl<'de> Sink<'de> for Values {
    fn found<D: Deserializer<'de>>(&mut self, value: D) -> Result<(), D::Error> {
        self.0.push(serde::Deserialize::deserialize(value)?);
        Ok(())
    }
}

/// Turns the values found into records of a page: null → none, a list → one record per
/// element, anything else → one record.
struct Records<'p> {
    page: &'p mut Page,
    flatten: bool,
    name: String,
}

impl<'de> Sink<'de> for Records<'_> {
    fn found<D: Deserializer<'de>>(&mut self, value: D) -> Result<(), D::Error> {
        value.deserialize_any(FoundVisitor(self))
    }
}

struct FoundVisitor<'r, 'p>(&'r mut Records<'p>);

impl<'de> Visitor<'de> for FoundVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("records")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(RecordSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        RecordSeed(self.0).visit_map(map)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        RecordSeed(self.0).visit_bool(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        RecordSeed(self.0).visit_i64(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        RecordSeed(self.0).visit_u64(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        RecordSeed(self.0).visit_f64(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        RecordSeed(self.0).visit_str(v)
    }
}

/// One record: an object's fields, or a scalar or list as the one `value` column.
struct RecordSeed<'r, 'p>(&'r mut Records<'p>);

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl RecordSeed<'_, '_> {
    fn scalar(self, value: Value) {
        self.0.page.push_value(&value, false);
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let records = self.0;
        records.name.clear();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            records.name.push_str(key.as_str());
            let raw: &'de RawValue = map.next_value()?;
            field(records, raw.get()).map_err(de::Error::custom)?;
            records.name.clear();
        }
        records.page.end_record();
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let list: Value = serde::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        self.scalar(list);
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar(Value::Null);
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.scalar(Value::Bool(v));
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.scalar(v.into());
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.scalar(v.into());
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.scalar(v.into());
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.scalar(Value::String(v.to_string()));
        Ok(())
    }
}

/// One field whose JSON text is `raw`, named `records.name`: its kind from the first byte, its
/// text without copying the body's structure.
fn field(records: &mut Records, raw: &str) -> Result<(), serde_json::Error> {
    let page = &mut *records.page;
    let name = records.name.as_str();
    match raw.as_bytes().first() {
        Some(b'n') => page.field(name, None, |_| {}),
        Some(b't' | b'f') => page.field(name, Some(Kind::Boolean), |text| text.push_str(raw)),
        Some(b'"') => {
            let inner = &raw[1..raw.len() - 1];
            if inner.contains('\\') {
                let decoded: String = serde_json::from_str(raw)?;
                page.field(name, Some(Kind::Varchar), |text| text.push_str(&decoded));
            } else {
                page.field(name, Some(Kind::Varchar), |text| text.push_str(inner));
            }
        }
        Some(b'{') if records.flatten => {
            // A nested object: its fields become `name_field` columns.
            flatten_object(records, raw, 0)?;
        }
        Some(b'{' | b'[') => page.field(name, Some(Kind::Json), |text| push_compact(text, raw)),
        _ => page.field(name, Some(number_kind(raw)), |text| text.push_str(raw)),
    }
    Ok(())
}

/// The fields of the object at `raw[at..]` under `flatten`, named `prefix_field` (nested objects
/// recursively); returns where the object ends. `raw` is text serde has already read whole (a
/// record's field, taken as a `RawValue`), so it is valid JSON and one walk over its bytes
/// (json_skim) finds every field: parsing it again at each level read the innermost fields once
/// per level of nesting (1M GraphQL edges: `node`, `owner`, `plan`).
fn flatten_object(records: &mut Records, raw: &str, at: usize) -> Result<usize, serde_json::Error> {
    let bytes = raw.as_bytes();
    let prefix_len = records.name.len();
    let mut failed = None;
    let end = object_members(bytes, at, |key, start| {
        records.name.truncate(prefix_len);
        records.name.push('_');
        records.name.push_str(&key_text(key)?);
        let read = if bytes.get(start) == Some(&b'{') {
            flatten_object(records, raw, start)
        } else {
            let end = value_end(bytes, start)?;
            field(records, &raw[start..end]).map(|()| end)
        };
        read.map_err(|e| failed = Some(e)).ok()
    });
    records.name.truncate(prefix_len);
    match (end, failed) {
        (_, Some(e)) => Err(e),
        (Some(end), None) => Ok(end),
        (None, None) => Err(de::Error::custom("malformed JSON object")),
    }
}

/// BIGINT when the number is an integer that fits 64 signed bits, else DOUBLE (as serde_json's
/// `is_i64`).
fn number_kind(raw: &str) -> Kind {
    if raw.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) || raw.parse::<i64>().is_err() {
        Kind::Double
    } else {
        Kind::BigInt
    }
}

/// JSON text without the whitespace between tokens (what `Value::to_string` writes).
fn push_compact(out: &mut String, raw: &str) {
    let mut in_string = false;
    let mut escaped = false;
    let mut run_start = 0;
    for (i, b) in raw.bytes().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            out.push_str(&raw[run_start..i]);
            run_start = i + 1;
        }
    }
    out.push_str(&raw[run_start..]);
}

/// Parse a page body: the records at `data_path` into a [`Page`] (nested objects flattened to
/// `parent_child` columns with `flatten`), and what [`select_values`] gives for the key `also`
/// (GraphQL's `errors`): in the same pass over the body when `data_path` starts with another key,
/// otherwise by a second look. Nothing else off the path is kept.
pub fn parse_records(
    body: &[u8],
    data_path: &str,
    flatten: bool,
    also: Option<&str>,
) -> Result<(Page, Vec<Value>), serde_json::Error> {
    let mut page = Page::default();
    let mut found = Vec::new();
    let steps = steps(data_path);
    let separate = also.filter(|key| !matches!(steps.first(), Some(Step::Key(first)) if first != key));
    let mut sink = Records { page: &mut page, flatten, name: String::new() };
    let mut de = serde_json::Deserializer::from_slice(body);
    let also = also.filter(|_| separate.is_none()).map(|key| (key, &mut found));
    Navigate { steps: &steps, fan_out: true, sink: &mut sink, also }.deserialize(&mut de)?;
    de.end()?;
    if let Some(key) = separate {
        found = select_values(body, key)?;
    }
    Ok((page, found))
}

/// The values at `path` in a body (small parts of it: a cursor, the `errors`), skipping the rest:
/// by a byte-level walk where it answers exactly (json_skim), else through the parser.
pub fn select_values(body: &[u8], path: &str) -> Result<Vec<Value>, serde_json::Error> {
    let steps = steps(path);
    let keys: Option<Vec<&str>> =
        steps.iter().map(|s| if let Step::Key(k) = s { Some(k.as_str()) } else { None }).collect();
    if let Some(raw) = keys.and_then(|keys| super::json_skim::values_at(body, &keys)) {
        if let Ok(values) = raw.iter().map(|t| serde_json::from_slice(t)).collect() {
            return Ok(values);
        }
    }
    parse_values(body, &steps)
}

/// [`select_values`] through the parser.
fn parse_values(body: &[u8], steps: &[Step]) -> Result<Vec<Value>, serde_json::Error> {
    let mut sink = Values(Vec::new());
    let mut de = serde_json::Deserializer::from_slice(body);
    Navigate { steps, fan_out: true, sink: &mut sink, also: None }.deserialize(&mut de)?;
    de.end()?;
    Ok(sink.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_records(body: &[u8], data_path: &str, flatten: bool) -> Result<Page, serde_json::Error> {
        Ok(super::parse_records(body, data_path, flatten, None)?.0)
    }

    /// The page as rows of `column = text` (nulls left out).
    fn rows(page: &Page) -> Vec<Vec<String>> {
        let names: Vec<&str> = page.columns().map(|(n, _)| n).collect();
        page.records().map(|r| r.map(|(c, t)| format!("{}={t}", names[c])).collect()).collect()
    }

    #[test]
    fn streamed_records_match_the_value_route_for_every_path_form() {
        let body = json!({"data": {"repos": {
            "edges": [
                {"cursor": "a", "node": {"id": 1, "name": "x\"y", "score": 1.5, "big": 18446744073709551615u64,
                                         "owner": {"login": "me", "plan": {"seats": 3}}, "tags": ["t", "u"], "gone": null}},
                {"cursor": "b", "node": {"id": 2, "name": "caf\u{e9}", "ok": true, "tags": []}}
            ],
            "pageInfo": {"endCursor": "b", "hasNextPage": false}}},
            "errors": []});
        // Pretty-printed, so the raw text of lists differs from the compact form kept.
        let text = serde_json::to_string_pretty(&body).unwrap();
        for (path, flatten) in [
            ("data.repos.edges[*].node", true),
            ("data.repos.edges.node", false),
            ("$.data.repos.edges", true),
            ("data.repos.edges[1].node", true),
        ] {
            let streamed = parse_records(text.as_bytes(), path, flatten).unwrap();
            let mut expected = Page::default();
            for record in crate::drivers::graphql::records(&body, path) {
                expected.push_value(record, flatten);
            }
            assert_eq!(rows(&streamed), rows(&expected), "{path}");
            let kinds = |p: &Page| p.columns().map(|(n, k)| format!("{n}:{k:?}")).collect::<Vec<_>>();
            assert_eq!(kinds(&streamed), kinds(&expected), "{path}");
        }
        let flat = parse_records(text.as_bytes(), "data.repos.edges[*].node", true).unwrap();
        assert_eq!(
            rows(&flat)[0],
            [
                "id=1",
                "name=x\"y",
                "score=1.5",
                "big=18446744073709551615",
                "owner_login=me",
                "owner_plan_seats=3",
                "tags=[\"t\",\"u\"]"
            ]
        );
        let kinds: Vec<Option<Kind>> = flat.columns().map(|(_, k)| k).collect();
        assert_eq!(kinds[3], Some(Kind::Double), "a u64 beyond i64 is a DOUBLE, as before");
        assert_eq!(kinds[7], None, "a column seen only as null has no kind yet");
        assert_eq!(
            select_values(text.as_bytes(), "data.repos.pageInfo").unwrap(),
            [json!({"endCursor": "b", "hasNextPage": false})]
        );
        assert_eq!(select_values(text.as_bytes(), "errors").unwrap(), [json!([])]);
    }

    /// A small deterministic generator of JSON values (no extra dependency): objects, lists,
    /// strings with quotes, escapes and non-ASCII, integers beyond i64, floats, booleans, nulls.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0 >> 33
        }

        fn value(&mut self, depth: u32) -> Value {
            match self.next() % if depth > 2 { 6 } else { 8 } {
                0 => Value::Null,
                1 => Value::Bool(self.next().is_multiple_of(2)),
                2 => json!(self.next() as i64 - (1 << 30)),
                3 => json!(u64::MAX - self.next()),
                4 => json!((self.next() as f64) / 7.0),
                5 => Value::String(
                    ["plain", "q\"uote", "back\\slash", "caf\u{e9} \u{1f600}", "tab\tnew\nline", ""]
                        [(self.next() % 6) as usize]
                        .into(),
                ),
                6 => Value::Array((0..self.next() % 3).map(|_| self.value(depth + 1)).collect()),
                _ => {
                    let mut m = Map::new();
                    for _ in 0..self.next() % 4 {
                        let key = ["a", "b", "c_d", "é", "q\"k"][(self.next() % 5) as usize];
                        m.insert(key.into(), self.value(depth + 1));
                    }
                    Value::Object(m)
                }
            }
        }
    }

    #[test]
    fn generated_documents_stream_as_their_values_do() {
        let mut gen = Gen(7);
        for case in 0..300u32 {
            let items: Vec<Value> = (0..gen.next() % 5).map(|_| gen.value(0)).collect();
            let doc = json!({"data": {"items": items}});
            for flatten in [false, true] {
                let text =
                    if case.is_multiple_of(2) { doc.to_string() } else { serde_json::to_string_pretty(&doc).unwrap() };
                let streamed = parse_records(text.as_bytes(), "data.items", flatten).unwrap();
                let mut expected = Page::default();
                for record in &items {
                    expected.push_value(record, flatten);
                }
                let rows_of = |p: &Page| {
                    let names: Vec<&str> = p.columns().map(|(n, _)| n).collect();
                    let rows: Vec<Vec<(String, Value)>> = p
                        .records()
                        .map(|r| {
                            // Compare JSON texts as values: whitespace and escapes may differ.
                            r.map(|(c, t)| {
                                (names[c].to_string(), serde_json::from_str(t).unwrap_or(Value::String(t.into())))
                            })
                            .collect()
                        })
                        .collect();
                    let kinds: Vec<(String, Option<Kind>)> = p.columns().map(|(n, k)| (n.to_string(), k)).collect();
                    (rows, kinds)
                };
                assert_eq!(rows_of(&streamed), rows_of(&expected), "case {case}, flatten {flatten}: {text}");
            }
        }
    }

    #[test]
    fn generated_documents_give_the_same_values_skimmed_as_parsed() {
        let mut gen = Gen(11);
        let mut skimmed = 0;
        for case in 0..300u32 {
            let doc = json!({"data": {"items": gen.value(0), "a": gen.value(0)}, "b": gen.value(0), "q\"k": 1});
            let text =
                if case.is_multiple_of(2) { doc.to_string() } else { serde_json::to_string_pretty(&doc).unwrap() };
            for path in ["data.a", "data.a.b", "data.items", "data.items.c_d", "b", "b.a.b", "errors", "q\"k"] {
                let parsed = parse_values(text.as_bytes(), &steps(path)).unwrap();
                assert_eq!(select_values(text.as_bytes(), path).unwrap(), parsed, "case {case}, {path}: {text}");
                let keys: Vec<&str> = path.split('.').collect();
                skimmed += usize::from(super::super::json_skim::values_at(text.as_bytes(), &keys).is_some());
            }
        }
        assert!(skimmed > 1500, "most paths are answered by the walk ({skimmed} of 2400)");
    }

    #[test]
    fn a_key_read_beside_the_records_gives_what_its_own_look_gives() {
        let mut gen = Gen(13);
        for case in 0..240u32 {
            let doc = match case % 3 {
                0 => json!({"data": {"items": gen.value(0)}, "errors": gen.value(0), "b": gen.value(0)}),
                1 => json!([{"errors": gen.value(0), "data": {"items": gen.value(0)}}, gen.value(0)]),
                _ => gen.value(0),
            };
            let text = doc.to_string();
            for data_path in ["data.items", "errors", "errors.message", "", "[*].data", "b"] {
                let alone = parse_records(text.as_bytes(), data_path, true).unwrap();
                for also in ["errors", "b"] {
                    let (page, found) = super::parse_records(text.as_bytes(), data_path, true, Some(also)).unwrap();
                    let looked = select_values(text.as_bytes(), also).unwrap();
                    assert_eq!(found, looked, "case {case}, {data_path}, {also}: {text}");
                    assert_eq!(rows(&page), rows(&alone), "case {case}, {data_path}, {also}");
                }
            }
        }
        let repeated = br#"{"errors": [1], "data": {"items": [{"a": 1}]}, "errors": [2]}"#;
        let (page, found) = super::parse_records(repeated, "data.items", false, Some("errors")).unwrap();
        assert_eq!((rows(&page), found), (vec![vec!["a=1".to_string()]], vec![json!([1]), json!([2])]));
    }

    #[test]
    fn scalar_lists_null_and_missing_paths_give_the_documented_records() {
        let page = parse_records(br#"{"ids": [1, "a", null, [2]]}"#, "ids", true).unwrap();
        assert_eq!(rows(&page), [vec!["value=1"], vec!["value=a"], vec![], vec!["value=[2]"]]);
        assert_eq!(page.columns().next().unwrap().1, Some(Kind::Varchar));
        assert!(parse_records(br#"{"data": null}"#, "data.items", true).unwrap().is_empty());
        assert!(parse_records(br#"{"data": {"items": null}}"#, "data.items", true).unwrap().is_empty());
        assert_eq!(parse_records(br#"[{"a": 1}, {"b": 2}]"#, "", false).unwrap().len(), 2);
        assert!(parse_records(br#"{"data": [1,"#, "data", true).is_err(), "a truncated body is an error");
    }
}
