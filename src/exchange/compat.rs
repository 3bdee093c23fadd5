//! Names older pipelines use for a processor's inputs: `input_df` (the single input) and
//! `df_<step id with non-alphanumerics as _>` (every input). They are provided as CTEs in front of
//! the step's query, only when the query mentions them, so they never clash between steps.

use crate::exchange::quote_ident;

/// `df_<id>` with every character outside `[0-9A-Za-z_]` replaced by `_` (`extract-movies` →
/// `df_extract_movies`, `123records` → `df_123records`, as the original's CHANGELOG documents).
pub fn compat_name(step_id: &str) -> String {
    let body: String = step_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    format!("df_{body}")
}

fn mentions(query: &str, name: &str) -> bool {
    let re = regex::Regex::new(&format!(r"(?i)(^|[^A-Za-z0-9_]){}($|[^A-Za-z0-9_])", regex::escape(name)))
        .expect("escaped regex");
    re.is_match(query)
}

/// Skip leading whitespace and SQL comments.
fn skip_leading_comments(q: &str) -> &str {
    let mut s = q.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map(|(_, r)| r).unwrap_or("").trim_start();
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map(|(_, r)| r).unwrap_or("").trim_start();
        } else {
            return s;
        }
    }
}

/// `query` with CTEs for the compatibility names it uses. `inputs` are upstream relation names.
pub fn with_compat_names(query: &str, inputs: &[String]) -> String {
    let mut ctes = Vec::new();
    if inputs.len() == 1 && !inputs.iter().any(|i| i == "input_df") && mentions(query, "input_df") {
        ctes.push(format!("input_df AS (SELECT * FROM {})", quote_ident(&inputs[0])));
    }
    for input in inputs {
        let alias = compat_name(input);
        if !inputs.contains(&alias) && mentions(query, &alias) {
            ctes.push(format!("{alias} AS (SELECT * FROM {})", quote_ident(input)));
        }
    }
    if ctes.is_empty() {
        return query.to_string();
    }
    let body = skip_leading_comments(query);
    let upper = body.get(..15).unwrap_or(body).to_ascii_uppercase();
    if upper.starts_with("WITH RECURSIVE") && body[14..].starts_with(char::is_whitespace) {
        format!("WITH RECURSIVE {}, {}", ctes.join(", "), body[14..].trim_start())
    } else if upper.starts_with("WITH") && body[4..].starts_with(char::is_whitespace) {
        format!("WITH {}, {}", ctes.join(", "), body[4..].trim_start())
    } else {
        format!("WITH {} {}", ctes.join(", "), body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compat_names_match_the_original() {
        assert_eq!(compat_name("extract-movies"), "df_extract_movies");
        assert_eq!(compat_name("123records"), "df_123records");
        assert_eq!(compat_name("v1.orders"), "df_v1_orders");
    }

    #[test]
    fn adds_only_mentioned_names_and_merges_with_existing_with() {
        let inputs = vec!["extract-a".to_string()];
        assert_eq!(with_compat_names("SELECT * FROM \"extract-a\"", &inputs), "SELECT * FROM \"extract-a\"");
        assert_eq!(
            with_compat_names("select * from input_df", &inputs),
            "WITH input_df AS (SELECT * FROM \"extract-a\") select * from input_df"
        );
        assert_eq!(
            with_compat_names("-- c\nWITH x AS (SELECT 1) SELECT * FROM df_extract_a, x", &inputs),
            "WITH df_extract_a AS (SELECT * FROM \"extract-a\"), x AS (SELECT 1) SELECT * FROM df_extract_a, x"
        );
        assert!(!with_compat_names("select my_input_df_col from t", &inputs).starts_with("WITH"));
    }
}
