//! `osiris export k8s`: a Kubernetes Job (or, with a schedule, a CronJob) that runs one pipeline
//! in an image holding osiris and the project. Secrets come from a named Secret as environment
//! variables (`envFrom`), never inline; exit 2 (invalid pipeline) fails the Job at once through a
//! pod failure policy, exit 1 is retried up to `backoffLimit`; a CronJob never runs two of the
//! same pipeline at once (`concurrencyPolicy: Forbid`).

use serde_json::{json, Value};

/// What the Job needs.
pub struct Job<'a> {
    /// OML `name`.
    pub pipeline: &'a str,
    /// The pipeline file relative to the image's project directory.
    pub pipeline_file: &'a str,
    /// The image (holding `osiris` on PATH and the project in `workdir`).
    pub image: &'a str,
    /// The project directory in the image.
    pub workdir: &'a str,
    /// Cron schedule: a CronJob instead of a Job.
    pub schedule: Option<&'a str>,
    /// A Secret whose keys become environment variables (`${VAR}` in connections).
    pub secret: Option<&'a str>,
    /// CPU request (`500m`).
    pub cpu: Option<&'a str>,
    /// Memory request (`1Gi`); the DuckDB memory limit stays below it.
    pub memory: Option<&'a str>,
    /// Namespace.
    pub namespace: Option<&'a str>,
}

/// A DNS-1123 name from a pipeline name: lowercase letters, digits and `-`, at most `max`.
pub fn dns_name(name: &str, max: usize) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed: String = out.trim_matches('-').chars().take(max).collect();
    trimmed.trim_end_matches('-').to_string()
}

/// The Job or CronJob, as YAML.
pub fn manifest(j: &Job) -> String {
    // CronJob names are limited to 52 characters (the controller appends a suffix).
    let name = format!("osiris-{}", dns_name(j.pipeline, 45));
    let labels = json!({"app.kubernetes.io/name": "osiris", "app.kubernetes.io/component": "pipeline-run", "osiris.dev/pipeline": dns_name(j.pipeline, 63)});
    let mut container = json!({
        "name": "osiris",
        "image": j.image,
        "workingDir": j.workdir,
        "command": ["osiris", "run", j.pipeline_file, "--json", "--quiet"],
    });
    if let Some(secret) = j.secret {
        container["envFrom"] = json!([{"secretRef": {"name": secret}}]);
    }
    let mut requests = serde_json::Map::new();
    if let Some(cpu) = j.cpu {
        requests.insert("cpu".into(), json!(cpu));
    }
    if let Some(memory) = j.memory {
        requests.insert("memory".into(), json!(memory));
    }
    if !requests.is_empty() {
        container["resources"] = json!({"requests": requests});
    }
    let job_spec = json!({
        "backoffLimit": 2,
        "podFailurePolicy": {"rules": [
            {"action": "FailJob", "onExitCodes": {"containerName": "osiris", "operator": "In", "values": [2]}}
        ]},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"restartPolicy": "Never", "containers": [container]},
        },
    });
    let mut metadata = json!({"name": name, "labels": labels});
    if let Some(ns) = j.namespace {
        metadata["namespace"] = json!(ns);
    }
    let doc: Value = match j.schedule {
        Some(schedule) => json!({
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": metadata,
            "spec": {
                "schedule": schedule,
                "concurrencyPolicy": "Forbid",
                "jobTemplate": {"metadata": {"labels": labels}, "spec": job_spec},
            },
        }),
        None => json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": job_spec}),
    };
    format!(
        "# Written by `osiris export k8s` for pipeline {:?}.\n{}",
        j.pipeline,
        serde_saphyr::to_string(&doc).expect("JSON values serialize to YAML")
    )
}

#[cfg(test)]
mod tests {
    use super::dns_name;

    #[test]
    fn names_are_dns_labels() {
        assert_eq!(dns_name("Orders Report_2", 63), "orders-report-2");
        assert_eq!(dns_name("--x--", 63), "x");
        assert_eq!(dns_name(&"a".repeat(80), 45).len(), 45);
    }
}
