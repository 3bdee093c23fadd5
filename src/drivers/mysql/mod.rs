//! MySQL / MariaDB components.

mod connect;
mod doctor;
mod extract;
mod types;
mod write;

pub use doctor::doctor;
pub use extract::MysqlExtractor;
pub use write::MysqlWriter;
