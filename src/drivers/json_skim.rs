//! Find the values at a path of object keys in a JSON text without parsing what lies off it.
//!
//! The fetcher of a GraphQL page needs its cursor (`pagination_path`) before it asks for the
//! next page, and used to find it through serde's `IgnoredAny` over the whole page, which
//! validates every string and number it skips (with the loader's look for `errors`, now read in
//! the records' own pass: 18 % of osiris's CPU for 1M GraphQL nodes, `perf`). Here the skipped
//! parts are only walked — strings to their closing quote, containers to their matching bracket
//! — and the values found are handed to serde. The records' parse still reads the whole page
//! with serde, so a malformed page fails there as before; it also walks the nested objects of a
//! field serde has already read whole with these functions (json_page's `flatten_object`).
//!
//! The walk answers only what it can answer exactly; it returns `None` (the caller then parses)
//! for a list on the path (a key applied to a list fans out over its elements in
//! `json_page::select_values`) or text it cannot follow.

use std::borrow::Cow;

/// The raw texts of the values at `keys` (object keys from the top), in document order — several
/// when an object repeats a key. `None`: the walk cannot say exactly (module doc).
pub fn values_at<'b>(body: &'b [u8], keys: &[&str]) -> Option<Vec<&'b [u8]>> {
    let mut found = Vec::new();
    let end = find(body, whitespace_end(body, 0), keys, &mut found)?;
    (whitespace_end(body, end) == body.len()).then_some(found)
}

/// Walk the value starting at `at` along `keys`; returns where the value ends.
fn find<'b>(body: &'b [u8], at: usize, keys: &[&str], found: &mut Vec<&'b [u8]>) -> Option<usize> {
    let Some((wanted, rest)) = keys.split_first() else {
        let end = value_end(body, at)?;
        found.push(&body[at..end]);
        return Some(end);
    };
    match body.get(at)? {
        b'{' => object_members(body, at, |key, start| {
            if key_text(key)? == *wanted {
                find(body, start, rest, found)
            } else {
                value_end(body, start)
            }
        }),
        b'[' => None,
        _ => value_end(body, at),
    }
}

/// Walk the members of the object opening at `at`: `member` is given each key as written (with
/// its quotes) and where its value starts, and returns where that value ends. Returns where the
/// object ends; `None` where the text cannot be followed or `member` gives `None`.
pub(crate) fn object_members<'b>(
    body: &'b [u8],
    at: usize,
    mut member: impl FnMut(&'b [u8], usize) -> Option<usize>,
) -> Option<usize> {
    let mut i = whitespace_end(body, at + 1);
    if body.get(i) == Some(&b'}') {
        return Some(i + 1);
    }
    loop {
        if body.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(body, i)?;
        let colon = whitespace_end(body, key_end);
        if body.get(colon) != Some(&b':') {
            return None;
        }
        i = whitespace_end(body, member(&body[i..key_end], whitespace_end(body, colon + 1))?);
        match body.get(i)? {
            b',' => i = whitespace_end(body, i + 1),
            b'}' => return Some(i + 1),
            _ => return None,
        }
    }
}

/// The text of a key as written (with its quotes): borrowed, or decoded where it holds escapes
/// (as rare as it is exact). `None`: not UTF-8 or not a JSON string.
pub(crate) fn key_text(quoted: &[u8]) -> Option<Cow<'_, str>> {
    let inner = quoted.get(1..quoted.len().checked_sub(1)?)?;
    if inner.contains(&b'\\') {
        serde_json::from_slice::<String>(quoted).ok().map(Cow::Owned)
    } else {
        std::str::from_utf8(inner).ok().map(Cow::Borrowed)
    }
}

/// Where the value starting at `at` ends (one past its last byte).
pub(crate) fn value_end(body: &[u8], at: usize) -> Option<usize> {
    match body.get(at)? {
        b'"' => string_end(body, at),
        b'{' | b'[' => container_end(body, at),
        _ => {
            let len = body[at..].iter().position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'));
            let end = at + len.unwrap_or(body.len() - at);
            (end > at).then_some(end)
        }
    }
}

/// Where the string whose opening quote is at `at` ends (one past its closing quote). A byte at a
/// time: `memchr2` to the next quote or backslash walked a GraphQL page 30 % slower (its strings
/// are short).
fn string_end(body: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        match body.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// Where the object or list opening at `at` ends (one past its matching bracket).
fn container_end(body: &[u8], at: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = at;
    loop {
        match body.get(i)? {
            b'"' => {
                i = string_end(body, i)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// The first byte at or after `at` that is not JSON whitespace.
fn whitespace_end(body: &[u8], at: usize) -> usize {
    at + body.get(at..).unwrap_or_default().iter().take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(body: &str, keys: &[&str]) -> Option<Vec<String>> {
        values_at(body.as_bytes(), keys).map(|v| v.iter().map(|t| String::from_utf8_lossy(t).into_owned()).collect())
    }

    #[test]
    fn finds_values_past_strings_brackets_and_escapes_it_skips() {
        let body = r#" {"data": {"repos": {"edges": [{"cursor": "a\"}]", "node": {"name": "x\\", "n": -1.5e3, "t": [true, null, {}]}}],
            "pageInfo" : {"endCursor": "b", "hasNextPage": false}}}, "extensions": {"cost": 3}} "#;
        assert_eq!(
            texts(body, &["data", "repos", "pageInfo"]).unwrap(),
            [r#"{"endCursor": "b", "hasNextPage": false}"#]
        );
        assert_eq!(texts(body, &["extensions", "cost"]).unwrap(), ["3"]);
        assert_eq!(texts(body, &["errors"]).unwrap(), Vec::<String>::new(), "no such key: nothing found");
        assert_eq!(texts(body, &["data", "repos", "pageInfo", "endCursor", "deeper"]).unwrap(), Vec::<String>::new());
        assert_eq!(texts(r#"{"a": 1, "a": [2]}"#, &["a"]).unwrap(), ["1", "[2]"], "a repeated key gives both");
        assert_eq!(texts("{}", &["a"]).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn leaves_to_the_parser_what_it_cannot_answer_exactly() {
        assert_eq!(texts(r#"{"data": [{"a": 1}]}"#, &["data", "a"]), None, "a list on the path fans out");
        assert_eq!(texts(r#"{"d\u0061ta": 1, "q\"": 2}"#, &["data"]).unwrap(), ["1"], "keys written with escapes");
        assert_eq!(texts(r#"{"data": 1"#, &["data"]), None, "cut short");
        assert_eq!(texts(r#"{"data": 1} x"#, &["data"]), None, "trailing text");
        assert_eq!(texts(r#"{"data" 1}"#, &["data"]), None, "no colon");
        assert_eq!(texts(r#"{"a": "unterminated}"#, &["b"]), None);
    }
}
