//! MySQL / MariaDB components.

mod connect;
mod doctor;
mod extract;
mod types;

pub use doctor::doctor;
pub use extract::MysqlExtractor;
