//! `filesystem.csv_extractor`: DuckDB's own CSV reader (`read_csv`) with the spec's options.
//!
//! Mapping of the spec's options (the original used pandas; differences are deliberate):
//! - `header: false` names columns `0`, `1`, … as pandas did; `header: N` makes row N the header.
//! - `parse_dates: false` (the default) keeps date-like text as VARCHAR, exactly as written;
//!   `true` lets DuckDB detect DATE/TIME/TIMESTAMP columns; a list parses the named columns.
//! - Numbers are detected as BIGINT or DOUBLE, and a column whose values DOUBLE cannot hold exactly
//!   becomes HUGEINT, DECIMAL(38, s) or stays text (csv_numbers.rs): no digit is silently lost.
//!   An unquoted empty field is NULL, a quoted `""` is the empty string.
//! - `na_values` are extra NULL markers (pandas' long default list is not applied).
//! - `dtype` takes pandas names (`int64`, `float64`, `str`, `bool`, `datetime64[ns]`) or DuckDB types.
//! - `chunk_size` has no effect: DuckDB streams in vectors of 2,048 rows regardless.
//! - DuckDB always skips blank lines; `skip_blank_lines: false` is accepted and has no effect.
//! - `compression`: `infer` and `gzip` are read natively; `bz2`, `zip`, `xz` are not supported by
//!   DuckDB's reader and fail with a clear error.

use crate::components::config::parse;
use crate::drivers::{csv_numbers, extracted_relation, Driver, DriverError, Inputs, StepContext, StepOutput};
use indexmap::IndexMap;
use serde::Deserialize;
use crate::exchange::{quote_ident, quote_literal};
use crate::project::resolve_path;
use serde_json::{Map, Value};

/// Reads a CSV file into the step's relation.
pub struct CsvExtractor;

/// The step's config (spec.yaml has the descriptions and defaults).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// File to read.
    pub path: String,
    /// From the filesystem connection: where relative paths resolve (`StepContext::base_dir`).
    pub base_dir: Option<String>,
    /// Field separator.
    pub delimiter: String,
    /// Text encoding of the file.
    pub encoding: Encoding,
    /// Whether (or on which row) there is a header.
    pub header: Header,
    /// Columns to keep, in this order.
    pub columns: Option<Vec<String>>,
    /// Rows skipped at the start.
    pub skip_rows: u64,
    /// Most rows to read.
    pub limit: Option<u64>,
    /// Which columns are parsed as dates.
    pub parse_dates: ParseDates,
    /// Column → type (pandas or DuckDB names).
    pub dtype: Option<IndexMap<String, String>>,
    /// Extra NULL markers.
    pub na_values: Option<Vec<String>>,
    /// Accepted for the original's pipelines; DuckDB reads in its own vectors.
    pub chunk_size: u64,
    /// Accepted; DuckDB always skips blank lines.
    pub skip_blank_lines: bool,
    /// Lines starting with this character are ignored.
    pub comment: Option<String>,
    /// Compression of the file.
    pub compression: Compression,
}

/// File encodings the spec allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Encoding {
    /// UTF-8.
    #[serde(rename = "utf-8")]
    Utf8,
    /// UTF-16 (BOM decides the byte order).
    #[serde(rename = "utf-16")]
    Utf16,
    /// ASCII, read as UTF-8.
    #[serde(rename = "ascii")]
    Ascii,
    /// ISO-8859-1.
    #[serde(rename = "latin-1")]
    Latin1,
    /// ISO-8859-1 by its other name.
    #[serde(rename = "iso-8859-1")]
    Iso88591,
}

/// `header: true|false` or the row holding it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum Header {
    /// First row is (or is not) the header.
    Present(bool),
    /// Row N is the header.
    Row(u64),
}

/// `parse_dates: true|false` or the columns to parse.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ParseDates {
    /// All (true) or none (false).
    All(bool),
    /// Only these columns.
    Columns(Vec<String>),
}

/// Compression as the spec names it (pandas' names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// From the file name.
    Infer,
    /// gzip.
    Gzip,
    /// bzip2 (not read by DuckDB).
    Bz2,
    /// zip (not read by DuckDB).
    Zip,
    /// xz (not read by DuckDB).
    Xz,
}

const TYPES_WITHOUT_DATES: &str = "['BOOLEAN', 'BIGINT', 'DOUBLE', 'VARCHAR']";
const TYPES_WITH_DATES: &str =
    "['BOOLEAN', 'BIGINT', 'DOUBLE', 'TIME', 'DATE', 'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE', 'VARCHAR']";

/// DuckDB type for a pandas dtype name; other names pass through as DuckDB types.
fn duckdb_type(dtype: &str) -> String {
    match dtype.to_ascii_lowercase().as_str() {
        "int64" | "int" => "BIGINT".into(),
        "int32" => "INTEGER".into(),
        "int16" => "SMALLINT".into(),
        "int8" => "TINYINT".into(),
        "uint64" => "UBIGINT".into(),
        "uint32" => "UINTEGER".into(),
        "uint16" => "USMALLINT".into(),
        "uint8" => "UTINYINT".into(),
        "float64" | "float" => "DOUBLE".into(),
        "float32" => "FLOAT".into(),
        "str" | "string" | "object" | "category" => "VARCHAR".into(),
        "bool" | "boolean" => "BOOLEAN".into(),
        "datetime64" | "datetime64[ns]" | "datetime" => "TIMESTAMP".into(),
        "datetime64[ns, utc]" => "TIMESTAMPTZ".into(),
        _ => dtype.to_string(),
    }
}

fn struct_literal(pairs: &[(String, String)]) -> String {
    let items: Vec<String> = pairs.iter().map(|(k, v)| format!("{}: {}", quote_literal(k), quote_literal(v))).collect();
    format!("{{{}}}", items.join(", "))
}

/// The options shared by sniffing and reading: the file and the dialect the config states.
fn base_options(path: &str, cfg: &Config) -> Result<Vec<String>, DriverError> {
    let mut opts = vec![quote_literal(path)];
    opts.push(format!("delim = {}", quote_literal(&cfg.delimiter)));
    opts.push("quote = '\"'".into());
    opts.push("escape = '\"'".into());
    match cfg.header {
        Header::Row(n) => {
            opts.push("header = true".into());
            opts.push(format!("skip = {}", cfg.skip_rows + n));
        }
        Header::Present(header) => {
            opts.push(format!("header = {header}"));
            opts.push(format!("skip = {}", cfg.skip_rows));
        }
    }
    let encoding = match cfg.encoding {
        // utf-16 is decoded to a UTF-8 copy by `decode_utf16_file`: DuckDB's own decoder rejects
        // surrogate pairs (any character outside the Basic Multilingual Plane, such as emoji).
        Encoding::Utf8 | Encoding::Ascii | Encoding::Utf16 => "utf-8",
        Encoding::Latin1 | Encoding::Iso88591 => "latin-1",
    };
    opts.push(format!("encoding = {}", quote_literal(encoding)));
    let mut nulls = vec![String::new()];
    nulls.extend(cfg.na_values.iter().flatten().cloned());
    opts.push(format!("nullstr = [{}]", nulls.iter().map(|s| quote_literal(s)).collect::<Vec<_>>().join(", ")));
    opts.push("allow_quoted_nulls = false".into());
    if let Some(c) = cfg.comment.as_deref().filter(|c| !c.is_empty()) {
        opts.push(format!("comment = {}", quote_literal(c)));
    }
    match cfg.compression {
        Compression::Infer => opts.push("compression = 'auto'".into()),
        Compression::Gzip => opts.push("compression = 'gzip'".into()),
        other => {
            return Err(DriverError::Config(format!(
                "compression `{}` is not supported by DuckDB's CSV reader; decompress the file first or use gzip",
                format!("{other:?}").to_lowercase()
            )))
        }
    }
    Ok(opts)
}

/// What DuckDB's sniffer found: columns with types, and the line ending and formats it chose.
struct Sniffed {
    columns: Vec<(String, String)>,
    new_line: Option<String>,
    date_format: Option<String>,
    timestamp_format: Option<String>,
}

/// Sniff the file once; the relation is then declared with explicit columns and
/// `auto_detect = false`, so binding it again (by every reader of a view) costs nothing.
fn sniff(
    conn: &duckdb::Connection,
    base: &[String],
    candidates: &str,
    types: &[(String, String)],
) -> duckdb::Result<Sniffed> {
    let mut args = base.to_vec();
    args.push(format!("auto_type_candidates = {candidates}"));
    if !types.is_empty() {
        args.push(format!("types = {}", struct_literal(types)));
    }
    // One row per column; the dialect fields repeat on every row.
    let sql = format!(
        "SELECT c.name, c.type, NewLineDelimiter, DateFormat, TimestampFormat \
         FROM (SELECT unnest(Columns) AS c, NewLineDelimiter, DateFormat, TimestampFormat FROM sniff_csv({}))",
        args.join(", ")
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut out = Sniffed { columns: Vec::new(), new_line: None, date_format: None, timestamp_format: None };
    while let Some(r) = rows.next()? {
        out.columns.push((r.get(0)?, r.get(1)?));
        out.new_line = r.get::<_, Option<String>>(2)?.filter(|n| n != "mix" && !n.is_empty());
        out.date_format = r.get::<_, Option<String>>(3)?.filter(|f| !f.is_empty());
        out.timestamp_format = r.get::<_, Option<String>>(4)?.filter(|f| !f.is_empty());
    }
    Ok(out)
}

/// Stream a UTF-16 file (BOM decides the byte order; little-endian without one) into UTF-8.
fn decode_utf16_file(src: &std::path::Path, dst: &std::path::Path) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut reader = std::io::BufReader::new(std::fs::File::open(src)?);
    let mut out = std::io::BufWriter::new(std::fs::File::create(dst)?);
    let mut buf = vec![0u8; 1 << 16];
    let mut pending: Vec<u8> = Vec::new();
    let mut big_endian = None;
    let mut held: Option<u16> = None;
    let mut text = String::new();
    loop {
        let n = reader.read(&mut buf)?;
        pending.extend_from_slice(&buf[..n]);
        if big_endian.is_none() && (pending.len() >= 2 || n == 0) {
            big_endian = Some(match pending.get(..2) {
                Some([0xFE, 0xFF]) => {
                    pending.drain(..2);
                    true
                }
                Some([0xFF, 0xFE]) => {
                    pending.drain(..2);
                    false
                }
                _ => false,
            });
        }
        let whole = pending.len() / 2 * 2;
        let mut units: Vec<u16> = held.take().into_iter().collect();
        units.extend(pending[..whole].chunks(2).map(|c| {
            if big_endian == Some(true) {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        }));
        pending.drain(..whole);
        if n > 0 && units.last().is_some_and(|u| (0xD800..0xDC00).contains(u)) {
            held = units.pop();
        }
        text.clear();
        for ch in char::decode_utf16(units) {
            text.push(ch.map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?);
        }
        out.write_all(text.as_bytes())?;
        if n == 0 {
            if !pending.is_empty() {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "odd number of bytes"));
            }
            return out.flush();
        }
    }
}

/// For each column in `candidates` (read as text from `source`), the exact type its values in
/// the first [`csv_numbers::SAMPLE_ROWS`] rows need; and whether those rows were the whole file
/// (then the types are final and no value needs a guard).
fn exact_types(
    conn: &duckdb::Connection,
    source: &str,
    columns: &[(String, String)],
    candidates: &[usize],
) -> duckdb::Result<(Vec<(usize, String)>, bool)> {
    if candidates.is_empty() {
        return Ok((Vec::new(), true));
    }
    let measures: Vec<String> =
        candidates.iter().flat_map(|&i| csv_numbers::profile_sql(&quote_ident(&columns[i].0))).collect();
    let projected: Vec<String> = candidates.iter().map(|&i| quote_ident(&columns[i].0)).collect();
    // One row more than the sample tells whether the file goes on after it.
    let sql = format!(
        "SELECT {}, count(*) FROM (SELECT {} FROM {source} LIMIT {})",
        measures.join(", "),
        projected.join(", "),
        csv_numbers::SAMPLE_ROWS + 1
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let row = rows.next()?.expect("an aggregate returns one row");
    let mut out = Vec::new();
    for (k, &i) in candidates.iter().enumerate() {
        let count = |j: usize| row.get::<_, Option<i64>>(4 * k + j).map(|v| v.unwrap_or(0).max(0) as u64);
        let profile = csv_numbers::NumberProfile {
            significant: count(0)?,
            integer_digits: count(1)?,
            scale: count(2)?,
            exponent: row.get(4 * k + 3)?,
        };
        out.push((i, csv_numbers::exact_type(profile)));
    }
    let sampled: i64 = row.get(4 * candidates.len())?;
    Ok((out, sampled <= csv_numbers::SAMPLE_ROWS as i64))
}

fn is_temporal(duck_type: &str) -> bool {
    matches!(duck_type, "DATE" | "TIME" | "TIMESTAMP" | "TIMESTAMP WITH TIME ZONE")
}

impl Driver for CsvExtractor {
    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, _inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let cfg: Config = parse(config).map_err(DriverError::Config)?;
        let path = resolve_path(ctx.base_dir, &cfg.path);
        if !path.exists() {
            return Err(DriverError::at_source(format!("file not found: {}", path.display())));
        }
        if !path.is_file() {
            return Err(DriverError::at_source(format!("not a file: {}", path.display())));
        }
        if std::fs::metadata(&path).map(|m| m.len() == 0).unwrap_or(false) {
            return Err(DriverError::at_source(format!("file is empty (no header, no rows): {}", path.display())));
        }
        let mut path_str = std::path::absolute(&path).unwrap_or(path.clone()).display().to_string();
        if cfg.encoding == Encoding::Utf16 {
            let dir = ctx.run_dir.join("artifacts").join(ctx.step_id);
            let decoded = dir.join("decoded-utf8.csv");
            std::fs::create_dir_all(&dir)
                .and_then(|_| decode_utf16_file(&path, &decoded))
                .map_err(|e| DriverError::at_source(format!("cannot decode {} as utf-16: {e}", path.display())))?;
            path_str = decoded.display().to_string();
        }
        let types: Vec<(String, String)> =
            cfg.dtype.iter().flatten().map(|(k, t)| (k.clone(), duckdb_type(t))).collect();
        let base = base_options(&path_str, &cfg)?;
        let read_error = |e: duckdb::Error| DriverError::at_source(format!("cannot read CSV {}: {e}", path.display()));
        let candidates = match &cfg.parse_dates {
            ParseDates::All(true) | ParseDates::Columns(_) => TYPES_WITH_DATES,
            ParseDates::All(false) => TYPES_WITHOUT_DATES,
        };
        let mut sniffed = sniff(ctx.conn, &base, candidates, &types).map_err(read_error)?;
        if let ParseDates::Columns(listed) = &cfg.parse_dates {
            // Only the listed columns become dates; the others keep their text.
            let listed: Vec<&str> = listed.iter().map(String::as_str).collect();
            for want in &listed {
                if !sniffed.columns.iter().any(|(n, _)| n == want) {
                    return Err(DriverError::Config(format!(
                        "parse_dates names column `{want}`, which the file does not have"
                    )));
                }
            }
            for (name, ty) in sniffed.columns.iter_mut() {
                let explicit = types.iter().any(|(k, _)| k == name);
                if listed.contains(&name.as_str()) && !explicit && ty == "VARCHAR" {
                    *ty = "TIMESTAMP".into();
                } else if !listed.contains(&name.as_str()) && !explicit && is_temporal(ty) {
                    *ty = "VARCHAR".into();
                }
            }
        }
        // Columns the sniffer calls DOUBLE are read as text and converted by a guard to the
        // exact type their sample needs (csv_numbers.rs).
        let doubles: Vec<usize> = (0..sniffed.columns.len())
            .filter(|&i| sniffed.columns[i].1 == "DOUBLE" && !types.iter().any(|(k, _)| *k == sniffed.columns[i].0))
            .collect();
        let mut read_types = sniffed.columns.clone();
        for &i in &doubles {
            read_types[i].1 = "VARCHAR".into();
        }
        let mut args = base;
        args.push("auto_detect = false".into());
        if let Some(n) = &sniffed.new_line {
            args.push(format!("new_line = {}", quote_literal(n)));
        }
        if let Some(f) = &sniffed.date_format {
            args.push(format!("dateformat = {}", quote_literal(f)));
        }
        if let Some(f) = &sniffed.timestamp_format {
            args.push(format!("timestampformat = {}", quote_literal(f)));
        }
        let source_with = |columns: &[(String, String)]| {
            format!("read_csv({}, columns = {})", args.join(", "), struct_literal(columns))
        };
        let (exact, whole_file) =
            exact_types(ctx.conn, &source_with(&read_types), &read_types, &doubles).map_err(read_error)?;
        // When the sample was the whole file, DOUBLE and HUGEINT are final: the reader parses
        // them directly (no guard); otherwise every value passes the guard.
        let mut guarded_columns = Vec::new();
        for (i, ty) in &exact {
            if whole_file && (ty == "DOUBLE" || ty == "HUGEINT") {
                read_types[*i].1 = ty.clone();
            } else if ty != "VARCHAR" {
                guarded_columns.push((*i, ty.clone()));
            }
        }
        let source = source_with(&read_types);
        let columns = sniffed.columns;
        let column_expr = |i: usize| match guarded_columns.iter().find(|(j, _)| *j == i) {
            Some((_, ty)) => csv_numbers::guarded(&quote_ident(&columns[i].0), &columns[i].0, ty),
            None => quote_ident(&columns[i].0),
        };
        let header = !matches!(cfg.header, Header::Present(false));
        let mut select: Vec<String> = if header {
            (0..columns.len()).map(|i| format!("{} AS {}", column_expr(i), quote_ident(&columns[i].0))).collect()
        } else {
            (0..columns.len()).map(|i| format!("{} AS {}", column_expr(i), quote_ident(&i.to_string()))).collect()
        };
        if let Some(wanted) = &cfg.columns {
            let names: Vec<String> = if header {
                columns.iter().map(|(n, _)| n.clone()).collect()
            } else {
                (0..columns.len()).map(|i| i.to_string()).collect()
            };
            select = Vec::new();
            for w in wanted {
                let i = names.iter().position(|n| n == w).ok_or_else(|| {
                    DriverError::Config(format!(
                        "`columns` names `{w}`, which {} does not have (columns: {})",
                        path.display(),
                        names.join(", ")
                    ))
                })?;
                select.push(format!("{} AS {}", column_expr(i), quote_ident(w)));
            }
        }
        let limit = cfg.limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        let query = format!("SELECT {} FROM {source}{limit}", select.join(", "));
        extracted_relation(ctx, &query)
            .map_err(|e| DriverError::at_source(format!("cannot read CSV {}: {e}", path.display())))
    }

    fn can_be_view(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pandas_dtypes_map_to_duckdb_types() {
        assert_eq!(duckdb_type("int64"), "BIGINT");
        assert_eq!(duckdb_type("datetime64[ns]"), "TIMESTAMP");
        assert_eq!(duckdb_type("DECIMAL(18,2)"), "DECIMAL(18,2)");
    }
}
