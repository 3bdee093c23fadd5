//! MySQL / MariaDB components.

pub(crate) mod connect;
mod discover;
mod doctor;
mod extract;
mod types;
mod write;

pub use connect::Server;
pub use discover::discover;
pub use doctor::doctor;
pub use extract::MysqlExtractor;
pub use write::MysqlWriter;
