//! Supabase / PostgreSQL components (`supabase.extractor`, `supabase.writer`): the SQL channel
//! when the connection has a DSN, PostgREST otherwise.

mod binary;
mod connect;
mod discover;
mod doctor;
mod extract;
mod query;
mod rest;
mod tls;
mod types;
mod write;

pub use connect::PgTarget;

pub use discover::discover;
pub use doctor::doctor;
pub use extract::SupabaseExtractor;
pub use rest::Rest;
pub use write::SupabaseWriter;
