//! Supabase / PostgreSQL components (`supabase.extractor`, `supabase.writer`): the SQL channel
//! when the connection has a DSN, PostgREST otherwise.

mod binary;
mod connect;
mod doctor;
mod extract;
mod query;
mod rest;
mod types;
mod write;

pub use doctor::doctor;
pub use extract::SupabaseExtractor;
pub use write::SupabaseWriter;
