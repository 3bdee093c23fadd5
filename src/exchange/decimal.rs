//! Wide DECIMALs from text, fast.
//!
//! DuckDB 1.5 parses text into a DECIMAL wider than 18 digits (stored as a 128-bit integer)
//! about 50× slower than into any other number: 1M `DECIMAL(38,10)` values take 10.5 s of
//! `CAST`, or of its CSV reader, where 1M HUGEINTs take 0.2 s. So such a value is parsed as the
//! HUGEINT of its digits (fraction padded to the scale) and given its scale by a multiplication
//! with `10^-s`, which DuckDB does on the 128-bit integer: the same exact value, in 0.34 s for
//! 1M. Text this fast path cannot read exactly (more fraction digits than the scale, an
//! exponent) takes DuckDB's own CAST, with its own rounding and errors.

/// Digits up to which DuckDB stores a DECIMAL in 64 bits (and parses it quickly).
const FAST_NATIVE_DIGITS: u32 = 18;

/// `(precision, scale)` of a `DECIMAL(p,s)` type name.
pub fn precision_scale(duck_type: &str) -> Option<(u32, u32)> {
    let inner = duck_type.trim().strip_prefix("DECIMAL(")?.strip_suffix(')')?;
    let (p, s) = inner.split_once(',')?;
    Some((p.trim().parse().ok()?, s.trim().parse().ok()?))
}

/// SQL converting the text expression `text` to `duck_type`, when that is a DECIMAL wider than
/// 18 digits; None for every other type (DuckDB's own parse is fast there).
pub fn wide_decimal_from_text(text: &str, duck_type: &str) -> Option<String> {
    let (p, s) = precision_scale(duck_type)?;
    if p <= FAST_NATIVE_DIGITS || p > 38 || s > p {
        return None;
    }
    let digits = format!("split_part({text}, '.', 1) || rpad(split_part({text}, '.', 2), {s}, '0')");
    let unit = if s == 0 { "1".to_string() } else { format!("0.{}1", "0".repeat(s as usize - 1)) };
    let scaled = format!(
        "CAST(CAST(CAST({digits} AS HUGEINT) AS DECIMAL(38,0)) * CAST('{unit}' AS DECIMAL({},{s})) AS {duck_type})",
        s + 1
    );
    Some(format!(
        "CASE WHEN strlen(split_part({text}, '.', 2)) <= {s} AND NOT contains(lower({text}), 'e') \
         THEN {scaled} ELSE CAST({text} AS {duck_type}) END"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_wide_decimals_take_the_fast_path() {
        assert_eq!(precision_scale("DECIMAL(38,10)"), Some((38, 10)));
        assert!(wide_decimal_from_text("c", "DECIMAL(18,2)").is_none());
        assert!(wide_decimal_from_text("c", "HUGEINT").is_none());
        let sql = wide_decimal_from_text("c", "DECIMAL(20,2)").unwrap();
        assert!(sql.contains("rpad(split_part(c, '.', 2), 2, '0')") && sql.contains("CAST('0.01' AS DECIMAL(3,2))"));
    }

    #[test]
    fn the_fast_path_gives_duckdbs_exact_values() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        for (text, ty) in [
            ("-0.5", "DECIMAL(38,10)"),
            ("12345678901234567890.1234567891", "DECIMAL(38,10)"),
            ("-98765432109876543210.5", "DECIMAL(38,9)"),
            ("7", "DECIMAL(20,0)"),
            (".25", "DECIMAL(30,2)"),
            ("9999999999999999999999999999.9999999999", "DECIMAL(38,10)"),
            ("1.23456", "DECIMAL(38,2)"),
            ("1.5e3", "DECIMAL(38,2)"),
        ] {
            let fast = wide_decimal_from_text("t", ty).unwrap();
            let sql = format!("SELECT CAST({fast} AS VARCHAR), CAST(CAST(t AS {ty}) AS VARCHAR), typeof({fast}) FROM (SELECT '{text}' AS t)");
            let (got, want, typ): (String, String, String) =
                conn.query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
            assert_eq!(got, want, "{text} as {ty}");
            assert_eq!(typ, ty);
        }
    }
}
