//! Running under the engines users already operate: the Dagster Pipes protocol spoken by
//! `osiris run` when Dagster launches it ([`pipes`]), and the Dagster definitions module
//! `osiris export dagster` writes ([`dagster`]). docs/orchestrators.md shows both end to end.

pub mod airflow;
pub mod dagster;
pub mod k8s;
pub mod pipes;

/// A Dagster asset-key component made of a pipeline or step name: letters, digits and `_`
/// (Dagster refuses anything else), the rest replaced by `_`.
pub fn asset_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// The asset key of a step, as Dagster writes it (`pipeline/step`).
pub fn asset_key(pipeline: &str, step: &str) -> String {
    format!("{}/{}", asset_name(pipeline), asset_name(step))
}
