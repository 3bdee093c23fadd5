//! Every built-in component, listed once: its spec (data) and its driver (code).
//!
//! A component is one folder here, `src/components/<module>/` holding `spec.yaml` (name, modes,
//! JSON Schema of its config, examples) and `mod.rs` (its typed `Config` and its driver), plus
//! **one line** in the `components!` list below; nothing else in the code base lists components
//! (docs/adding-a-component.md). Components of a connection family (MySQL, PostgreSQL, PostHog,
//! GraphQL) share that family's client code in `crate::drivers::<family>`, where its health check
//! and discovery live too; their folder holds the spec and the config, and names the driver.

pub mod config;

use crate::drivers::Driver;
use serde_json::{Map, Value};

/// A component compiled into this binary.
#[derive(Clone, Copy)]
pub struct Builtin {
    /// The spec's YAML text (its `name:` is the component's name).
    pub spec: &'static str,
    /// Makes the component's driver.
    pub driver: fn() -> Box<dyn Driver>,
    /// Its typed config, when it has one (every folder component does).
    pub config: Option<TypedConfig>,
}

/// What the registry needs of a typed config: check a config (spec defaults filled in) and
/// list the fields.
#[derive(Clone, Copy)]
pub struct TypedConfig {
    /// Deserialise the config; the error says which field and why.
    pub check: fn(&Map<String, Value>) -> Result<(), String>,
    /// The struct's field names.
    pub fields: fn() -> &'static [&'static str],
}

/// Declares each folder component's module and lists it: `module => DriverType`.
macro_rules! components {
    ($($module:ident => $driver:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// The components that live in their own folder under `src/components/`.
        pub const IN_FOLDERS: &[Builtin] = &[
            $(Builtin {
                spec: include_str!(concat!(stringify!($module), "/spec.yaml")),
                driver: || Box::new($module::$driver),
                config: Some(TypedConfig {
                    check: |c| config::parse::<$module::Config>(c).map(|_| ()),
                    fields: config::fields_of::<$module::Config>,
                }),
            },)*
        ];
    };
}

components! {
    graphql_extractor => GraphqlExtractor,
    posthog_extractor => PosthogExtractor,
    mysql_extractor => MysqlExtractor,
    mysql_writer => MysqlWriter,
    supabase_extractor => SupabaseExtractor,
    supabase_writer => SupabaseWriter,
    duckdb_processor => DuckdbProcessor,
    csv_extractor => CsvExtractor,
    csv_writer => CsvWriter,
    json_extractor => JsonExtractor,
    json_writer => JsonWriter,
    parquet_extractor => ParquetExtractor,
    parquet_writer => ParquetWriter,
}

/// Every built-in component.
pub fn all() -> impl Iterator<Item = &'static Builtin> {
    IN_FOLDERS.iter()
}
