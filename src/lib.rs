//! osiris: a pipeline compiler and runner for AI-authored ETL.
//!
//! A pipeline is written in OML (a small YAML format). [`oml`] parses and validates it,
//! [`compiler`] turns it into a deterministic manifest, and [`runtime`] executes the manifest's
//! steps as a DAG. Steps exchange data through one DuckDB file per run ([`exchange`]); each step's
//! output is a relation named exactly by its step id. Components (spec + driver) are listed once in [`components`], their specs parsed in [`registry`],
//! connection files and secrets in [`connections`], and the step implementations in [`drivers`].
//!
//! The library never prints; the `osiris` binary is the only place that talks to a terminal.

pub mod compiler;
pub mod components;
pub mod confine;
pub mod connections;
pub mod diagnostics;
pub mod discovery;
pub mod drivers;
pub mod exchange;
pub mod http;
pub mod mcp;
pub mod oml;
pub mod orchestrators;
pub mod project;
pub mod registry;
pub mod remote;
pub mod report;
pub mod runtime;

pub use diagnostics::{Diagnostic, Invalid, Severity};
