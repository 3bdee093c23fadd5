//! End-to-end tests through the real `osiris` binary. One test binary so DuckDB links once.

mod util;

mod cli;
mod compile;
mod csv_edge_cases;
mod dag;
mod failures;
mod graphql;
mod http_limits;
mod json_files;
mod mcp;
mod mysql;
mod operating;
mod orchestrators;
mod params;
mod parquet_files;
mod postgres;
mod posthog;
mod remote;
mod report_browser;
mod runtime;
mod secrets;
mod snapshots;
mod supabase_rest;
mod validation;
