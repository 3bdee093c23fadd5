//! Exact numbers from CSV: the type a column the sniffer calls DOUBLE really needs.
//!
//! DuckDB's sniffer types every number with a fraction, and every integer beyond 64 bits, as
//! DOUBLE, which silently rounds `12345678901234567890.123456789` to `1.2345678901234567e19`. So
//! such a column is read as text, its values in the sniffer's sample (the first
//! [`SAMPLE_ROWS`] rows) are measured, and the column gets the narrowest exact type:
//!
//! | values in the sample | type |
//! |---|---|
//! | at most 15 significant digits (text → DOUBLE → shortest text gives the same number) | `DOUBLE` |
//! | integers of up to 39 digits (within ±1.7 × 10^38) | `HUGEINT` |
//! | up to 38 digits with `s` after the point, no exponent | `DECIMAL(38, s)` |
//! | anything wider | `VARCHAR` (the exact text) |
//!
//! Rows after the sample are not trusted to fit: every value passes a guard that converts it when
//! the type holds it exactly and otherwise fails the step, naming the column, the value and the
//! `dtype` that reads it. The guard tests the text length first, so for ordinary prices it costs
//! one comparison per value.

use crate::exchange::decimal::wide_decimal_from_text;
use crate::exchange::{quote_ident, quote_literal};

/// Rows measured to choose a type: the sniffer's own default sample size.
pub const SAMPLE_ROWS: u64 = 20_480;

/// Significant digits every DOUBLE round-trips through its shortest text.
const DOUBLE_DIGITS: u64 = 15;

/// Digits of DuckDB's widest DECIMAL.
const MAX_DIGITS: u64 = 38;

/// Digits of the widest HUGEINT (±1.7 × 10^38); a 39-digit value beyond its range fails the
/// cast with DuckDB's own error rather than being rounded.
const HUGEINT_DIGITS: u64 = 39;

/// What the sample holds, for one column read as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NumberProfile {
    /// Most significant digits of a value (leading and trailing zeros not counted).
    pub significant: u64,
    /// Most digits before the point (leading zeros not counted).
    pub integer_digits: u64,
    /// Most digits after the point.
    pub scale: u64,
    /// Some value is written with an exponent (`1.5e10`).
    pub exponent: bool,
}

/// The exact type for a column whose sample measures `p`.
pub fn exact_type(p: NumberProfile) -> String {
    if p.significant <= DOUBLE_DIGITS {
        "DOUBLE".into()
    } else if p.exponent {
        "VARCHAR".into()
    } else if p.scale == 0 && p.integer_digits <= HUGEINT_DIGITS {
        "HUGEINT".into()
    } else if p.integer_digits + p.scale > MAX_DIGITS {
        "VARCHAR".into()
    } else {
        format!("DECIMAL({MAX_DIGITS},{})", p.scale)
    }
}

/// The mantissa's digits of text column `c`: sign, point and exponent removed.
fn mantissa(c: &str) -> String {
    format!("regexp_replace(split_part(lower({c}), 'e', 1), '^[+-]', '')")
}

/// SQL measuring one text column: significant digits, integer digits, scale, exponent used.
pub fn profile_sql(c: &str) -> [String; 4] {
    let m = mantissa(c);
    [
        format!("max(strlen(rtrim(ltrim(replace({m}, '.', ''), '0'), '0')))"),
        format!("max(strlen(ltrim(split_part({m}, '.', 1), '0')))"),
        format!("max(strlen(split_part({m}, '.', 2)))"),
        format!("coalesce(bool_or(contains(lower({c}), 'e')), false)"),
    ]
}

/// SQL converting text column `c` (named `name` in messages) to `ty` when `ty` holds the value
/// exactly, and failing with an error that says what to do otherwise.
pub fn guarded(c: &str, name: &str, ty: &str) -> String {
    let m = mantissa(c);
    let fits = match ty {
        "DOUBLE" => format!(
            "strlen({c}) <= {DOUBLE_DIGITS} OR strlen(rtrim(ltrim(replace({m}, '.', ''), '0'), '0')) <= {DOUBLE_DIGITS}"
        ),
        "HUGEINT" => format!(
            "NOT contains(lower({c}), 'e') AND NOT contains({c}, '.') AND strlen(ltrim({m}, '0')) <= {HUGEINT_DIGITS}"
        ),
        decimal => {
            let scale: u64 = decimal
                .trim_start_matches("DECIMAL(")
                .trim_end_matches(')')
                .split(',')
                .nth(1)
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            format!(
                "NOT contains(lower({c}), 'e') AND strlen(split_part({m}, '.', 2)) <= {scale} \
                 AND strlen(ltrim(split_part({m}, '.', 1), '0')) <= {}",
                MAX_DIGITS - scale
            )
        }
    };
    let before = format!("CSV column {} holds `", quote_ident(name));
    let after = format!(
        "`, which {ty} (chosen from the first {SAMPLE_ROWS} rows) cannot hold exactly; \
         read it with dtype: {{{name}: VARCHAR}} or an exact type such as DECIMAL(38,10)"
    );
    let convert = wide_decimal_from_text(c, ty).unwrap_or_else(|| format!("CAST({c} AS {ty})"));
    format!(
        "CASE WHEN {c} IS NULL OR ({fits}) THEN {convert} ELSE error({} || {c} || {}) END",
        quote_literal(&before),
        quote_literal(&after)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(significant: u64, integer_digits: u64, scale: u64, exponent: bool) -> NumberProfile {
        NumberProfile { significant, integer_digits, scale, exponent }
    }

    #[test]
    fn the_narrowest_exact_type_is_chosen() {
        assert_eq!(exact_type(p(5, 3, 2, false)), "DOUBLE");
        assert_eq!(exact_type(p(15, 1, 14, true)), "DOUBLE");
        assert_eq!(exact_type(p(29, 20, 9, false)), "DECIMAL(38,9)");
        assert_eq!(exact_type(p(24, 24, 0, false)), "HUGEINT");
        assert_eq!(exact_type(p(39, 39, 0, false)), "HUGEINT");
        assert_eq!(exact_type(p(40, 40, 0, false)), "VARCHAR");
        assert_eq!(exact_type(p(40, 30, 10, false)), "VARCHAR");
        assert_eq!(exact_type(p(17, 1, 16, true)), "VARCHAR");
    }
}
