//! End-to-end tests through the real `osiris` binary. One test binary so DuckDB links once.

mod util;

mod cli;
mod compile;
mod csv_edge_cases;
mod dag;
mod failures;
mod mysql;
mod runtime;
mod secrets;
mod validation;
