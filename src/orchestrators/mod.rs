//! Running under the engines users already operate: the Dagster Pipes protocol spoken by
//! `osiris run` when Dagster launches it ([`pipes`]), and what `osiris export` writes for
//! Dagster ([`dagster`]), Airflow ([`airflow`]) and Kubernetes ([`k8s`]).
//! docs/orchestrators.md shows each end to end.

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

/// A Python string literal (JSON's escapes are Python's).
pub(crate) fn py(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialize")
}

/// An image that holds `osiris` on its PATH and the project in `workdir`.
#[derive(Debug, Clone, Copy)]
pub struct Image<'a> {
    /// The image reference (`registry.example.com/etl:1.4`).
    pub image: &'a str,
    /// The project directory inside the image (where runs are recorded).
    pub workdir: &'a str,
    /// The pipeline file relative to `workdir`.
    pub pipeline_file: &'a str,
}

impl Image<'_> {
    /// The pipeline file's absolute path inside the image.
    pub fn pipeline_path(&self) -> String {
        format!("{}/{}", self.workdir.trim_end_matches('/'), self.pipeline_file)
    }
}

/// A Kubernetes pod running the pipeline from an [`Image`].
#[derive(Debug, Clone, Copy)]
pub struct Pod<'a> {
    /// What the pod runs.
    pub image: Image<'a>,
    /// A Secret whose keys become environment variables (the `${VAR}` references of
    /// osiris_connections.yaml); never inline values.
    pub secret: Option<&'a str>,
    /// The pod's namespace (None: the launcher's default).
    pub namespace: Option<&'a str>,
}
