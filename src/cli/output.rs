//! Printing helpers shared by commands: findings, JSON, terminal detection.

use osiris::{Diagnostic, Invalid};
use serde_json::{json, Value};
use std::io::IsTerminal;

/// Print one JSON document on stdout.
pub fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).expect("JSON serializes"));
}

/// Print warnings to stderr (human mode).
pub fn print_warnings(warnings: &[Diagnostic]) {
    for w in warnings {
        eprintln!("{w}");
    }
}

/// Report invalid input and return exit code 2.
pub fn invalid(e: &Invalid, as_json: bool) -> i32 {
    if as_json {
        let errors: Vec<&Diagnostic> = e.errors().collect();
        let warnings: Vec<&Diagnostic> = e.diagnostics.iter().filter(|d| !d.is_error()).collect();
        let first = errors.first();
        print_json(&json!({
            "status": "invalid",
            "valid": false,
            "error": {"step": first.and_then(|d| d.step.clone()), "kind": first.map(|d| d.kind.clone()), "message": first.map(|d| d.to_string())},
            "errors": errors,
            "warnings": warnings,
        }));
    } else {
        eprint!("{e}");
    }
    2
}

/// True when stderr is an interactive terminal.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}
