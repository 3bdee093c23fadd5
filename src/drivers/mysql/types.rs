//! MySQL column → DuckDB column: one mapping, documented in docs/components.md.
//!
//! Values arrive as text (the text protocol) or bytes. They are written as CSV chunks that DuckDB
//! reads natively into text columns, and one vectorised CAST gives the mapped types, so
//! DECIMAL(38, s) stays exact and timestamps keep microseconds.

use mysql::consts::{ColumnFlags, ColumnType};
use mysql::Column;

/// How one column is carried into DuckDB.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMapping {
    /// Column name.
    pub name: String,
    /// DuckDB type of the target column.
    pub duck_type: String,
    /// How a raw value is converted.
    pub convert: Convert,
}

/// Value conversions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Convert {
    /// Text handed to DuckDB, which parses it into the column type.
    Text,
    /// Numbers (integers, DECIMAL, FLOAT, YEAR): ASCII by protocol, handed over as they come
    /// (no UTF-8 check; DuckDB's CSV reader rejects anything that is not a number).
    Number,
    /// Dates and timestamps: zero dates (`0000-00-00…`) become NULL, as documented.
    TextZeroDateIsNull,
    /// Raw bytes (BINARY, VARBINARY, BLOB, GEOMETRY).
    Bytes,
    /// BIT(n): big-endian bytes → unsigned integer.
    Bits,
    /// TIME: `[-]HHH:MM:SS[.ffffff]` → INTERVAL (TIME ranges over ±838 hours).
    TimeToInterval,
}

const BINARY_CHARSET: u16 = 63;

/// DuckDB type for a MySQL column.
pub fn map_column(col: &Column) -> ColumnMapping {
    let unsigned = col.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let binary = col.character_set() == BINARY_CHARSET;
    let int = |signed: &str, uns: &str| (if unsigned { uns } else { signed }).to_string();
    use ColumnType::*;
    let (duck_type, convert) = match col.column_type() {
        // TINYINT(1) stays an integer: MySQL stores -128..127 in it, and BOOLEAN would lose 2 or -1.
        MYSQL_TYPE_TINY => (int("TINYINT", "UTINYINT"), Convert::Number),
        MYSQL_TYPE_SHORT => (int("SMALLINT", "USMALLINT"), Convert::Number),
        MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG => (int("INTEGER", "UINTEGER"), Convert::Number),
        MYSQL_TYPE_LONGLONG => (int("BIGINT", "UBIGINT"), Convert::Number),
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => {
            let scale = col.decimals() as u32;
            let precision =
                col.column_length().saturating_sub(u32::from(scale > 0)).saturating_sub(u32::from(!unsigned));
            if precision <= 38 {
                (format!("DECIMAL({},{scale})", precision.max(1)), Convert::Number)
            } else {
                // Wider than DuckDB's DECIMAL: the exact digits as text.
                ("VARCHAR".to_string(), Convert::Text)
            }
        }
        MYSQL_TYPE_FLOAT => ("FLOAT".to_string(), Convert::Number),
        MYSQL_TYPE_DOUBLE => ("DOUBLE".to_string(), Convert::Number),
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => ("DATE".to_string(), Convert::TextZeroDateIsNull),
        MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 | MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => {
            ("TIMESTAMP".to_string(), Convert::TextZeroDateIsNull)
        }
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => ("INTERVAL".to_string(), Convert::TimeToInterval),
        MYSQL_TYPE_YEAR => ("SMALLINT".to_string(), Convert::Number),
        MYSQL_TYPE_BIT => ("UBIGINT".to_string(), Convert::Bits),
        MYSQL_TYPE_GEOMETRY => ("BLOB".to_string(), Convert::Bytes),
        MYSQL_TYPE_TINY_BLOB
        | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB
        | MYSQL_TYPE_BLOB
        | MYSQL_TYPE_VAR_STRING
        | MYSQL_TYPE_STRING
        | MYSQL_TYPE_VARCHAR
            if binary =>
        {
            ("BLOB".to_string(), Convert::Bytes)
        }
        // Text, ENUM, SET and JSON (the bundled DuckDB has no JSON extension, so JSON is text).
        _ => ("VARCHAR".to_string(), Convert::Text),
    };
    ColumnMapping { name: col.name_str().into_owned(), duck_type, convert }
}

/// Append one raw value to a CSV line as DuckDB will read it back: NULL is an empty field, the
/// empty string is `""`, text is quoted where it holds a comma, quote or line break. Bytes go as
/// hex, BIT as its integer, TIME as signed microseconds; [`load_expression`] turns them back into
/// types.
pub fn render(value: mysql::Value, how: Convert, out: &mut Vec<u8>) -> Result<(), String> {
    let bytes = match value {
        mysql::Value::NULL => return Ok(()),
        mysql::Value::Bytes(b) => b,
        other => other.as_sql(true).into_bytes(),
    };
    match how {
        Convert::Bytes => {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push(b'"');
            for b in &bytes {
                out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
            out.push(b'"');
        }
        Convert::Bits => {
            if bytes.len() > 8 {
                return Err(format!("BIT value of {} bytes does not fit 64 bits", bytes.len()));
            }
            let n = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Convert::TextZeroDateIsNull if bytes.starts_with(b"0000-00-00") => {}
        Convert::TimeToInterval => {
            let text = std::str::from_utf8(&bytes).map_err(|e| e.to_string())?;
            let micros = parse_time_micros(text).ok_or_else(|| format!("unreadable TIME value `{text}`"))?;
            out.extend_from_slice(micros.to_string().as_bytes());
        }
        Convert::Number | Convert::Text | Convert::TextZeroDateIsNull => {
            if how != Convert::Number {
                std::str::from_utf8(&bytes).map_err(|e| format!("text is not UTF-8: {e}"))?;
            }
            // Quotes only where CSV needs them (and for the empty string, which unquoted would
            // read as NULL): DuckDB parses plain fields faster than quoted ones.
            if bytes.is_empty() || bytes.iter().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
                out.push(b'"');
                for (i, part) in bytes.split(|b| *b == b'"').enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b"\"\"");
                    }
                    out.extend_from_slice(part);
                }
                out.push(b'"');
            } else {
                out.extend_from_slice(&bytes);
            }
        }
    }
    Ok(())
}

/// SQL turning the staged text column `col` (already quoted) into the mapped DuckDB type; None
/// when the value is the text parsed as that type (DuckDB's CSV reader does it).
pub fn load_expression(m: &ColumnMapping, col: &str) -> Option<String> {
    match m.convert {
        Convert::Bytes => Some(format!("unhex({col})")),
        Convert::Bits => Some(format!("CAST({col} AS UBIGINT)")),
        Convert::TimeToInterval => Some(format!("to_microseconds(CAST({col} AS BIGINT))")),
        Convert::Text | Convert::TextZeroDateIsNull | Convert::Number => None,
    }
}

/// `[-]H+:MM:SS[.ffffff]` → signed microseconds.
pub fn parse_time_micros(text: &str) -> Option<i64> {
    let (neg, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let mut parts = rest.splitn(3, ':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec = parts.next()?;
    let (s, frac) = sec.split_once('.').unwrap_or((sec, ""));
    let s: i64 = s.parse().ok()?;
    // Digits only: the text comes from a server and is sliced by bytes below.
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_micros: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<6}")[..6].parse().ok()? };
    let total = ((h * 60 + m) * 60 + s) * 1_000_000 + frac_micros;
    Some(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_values_beyond_a_day_and_negative() {
        assert_eq!(parse_time_micros("838:59:59"), Some(((838 * 60 + 59) * 60 + 59) * 1_000_000));
        assert_eq!(parse_time_micros("-00:00:01.5"), Some(-1_500_000));
        assert_eq!(parse_time_micros("12:34:56.000123"), Some(((12 * 60 + 34) * 60 + 56) * 1_000_000 + 123));
        assert_eq!(parse_time_micros("bad"), None);
        assert_eq!(parse_time_micros("00:00:01.é5"), None, "a non-digit fraction is refused, not sliced");
    }

    fn rendered(v: mysql::Value, how: Convert) -> String {
        let mut out = Vec::new();
        render(v, how, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rendering_for_the_csv_chunks() {
        assert_eq!(rendered(mysql::Value::Bytes(vec![0x01, 0x02]), Convert::Bits), "258");
        assert_eq!(rendered(mysql::Value::Bytes(b"0000-00-00 00:00:00".to_vec()), Convert::TextZeroDateIsNull), "");
        assert_eq!(rendered(mysql::Value::NULL, Convert::Text), "");
        assert_eq!(rendered(mysql::Value::Bytes(Vec::new()), Convert::Text), "\"\"");
        assert_eq!(rendered(mysql::Value::Bytes(b"a\"b".to_vec()), Convert::Text), "\"a\"\"b\"");
        assert_eq!(rendered(mysql::Value::Bytes(vec![0, 255]), Convert::Bytes), "\"00FF\"");
        assert_eq!(rendered(mysql::Value::Bytes(b"-00:00:01.5".to_vec()), Convert::TimeToInterval), "-1500000");
        assert_eq!(rendered(mysql::Value::Bytes(b"plain text".to_vec()), Convert::Text), "plain text");
        assert_eq!(rendered(mysql::Value::Bytes(b"a,b\nc".to_vec()), Convert::Text), "\"a,b\nc\"");
        assert_eq!(rendered(mysql::Value::Bytes(b"-12.50".to_vec()), Convert::Number), "-12.50");
        assert!(render(mysql::Value::Bytes(vec![0xff]), Convert::Text, &mut Vec::new()).is_err());
    }
}
