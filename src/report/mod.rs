//! The operating side of runs: history (`logs list/show`), the HTML report, the AI Operation
//! Package (AIOP) and run bundles. Everything here reads run directories; nothing runs steps.

pub mod aiop;
pub mod bundle;
pub mod history;
pub mod html;
mod svg;
