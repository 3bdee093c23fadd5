//! `osiris export dagster|k8s PIPELINE`: definitions for the engines users operate
//! (docs/orchestrators.md).

use super::output::invalid;
use osiris::compiler::{self, Compiled};
use osiris::oml;
use osiris::orchestrators::{airflow, dagster, k8s, Image, Pod};
use osiris::registry::Registry;
use std::path::{Path, PathBuf};

/// `export` targets.
#[derive(clap::Subcommand)]
pub enum Command {
    /// A Dagster definitions module: one asset per step (deps from `needs`, group = pipeline),
    /// the pipeline run whole through Dagster Pipes.
    #[command(after_help = "Load it with `dagster dev -f FILE` or import `defs` from it. Each step's \
materialization carries rows, duration_ms, component and relation; exit 2 (invalid pipeline) is not \
retried. Launchers: a local subprocess (default), a Kubernetes pod (`--launcher k8s --image IMAGE`, \
needs dagster-k8s) or a Docker container (`--launcher docker --image IMAGE`, needs dagster-docker). \
docs/orchestrators.md has the whole walk-through.")]
    Dagster(DagsterArgs),
    /// An Airflow DAG: one task running the pipeline, its XCom value the `run --json` object.
    #[command(
        after_help = "Put the file in Airflow's dags folder. The DAG id is osiris_<pipeline>; max_active_runs=1; exit 2 fails without retries, exit 1 is retried twice. docs/orchestrators.md."
    )]
    Airflow(AirflowArgs),
    /// A Kubernetes Job (a CronJob with --schedule) running the pipeline in an image that holds
    /// osiris and the project.
    #[command(after_help = "Secrets come from the Secret named by --secret as environment variables (the \
`${VAR}` references of osiris_connections.yaml), never inline. Exit 2 fails the Job at once; exit 1 is \
retried twice; a CronJob never overlaps itself. Example:\n  osiris export k8s pipelines/orders.yaml \
--image registry.example.com/etl:1.4 --secret etl-env --schedule '0 3 * * *' --memory 2Gi > orders.yaml")]
    K8s(K8sArgs),
}

/// Arguments of `export dagster`.
#[derive(clap::Args)]
pub struct DagsterArgs {
    /// Pipeline file (OML).
    pipeline: PathBuf,
    /// `subprocess`: a local process running the `osiris` on PATH; `k8s`: a pod from --image
    /// (PipesK8sClient); `docker`: a container from --image (PipesDockerClient).
    #[arg(long, default_value = "subprocess", value_parser = ["subprocess", "k8s", "docker"])]
    launcher: String,
    #[command(flatten)]
    image: ImageArgs,
    /// With --launcher docker: an environment variable passed on to the container by name
    /// (repeatable; its value is read when the asset runs, never written into the module).
    #[arg(long = "env", value_name = "NAME")]
    env: Vec<String>,
    /// Write the module here (default: stdout).
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

/// Where a containerised launcher finds osiris and the project.
#[derive(clap::Args)]
struct ImageArgs {
    /// With a container launcher: the image holding osiris and the project in --workdir.
    #[arg(long, required_if_eq_any([("launcher", "k8s"), ("launcher", "docker")]))]
    image: Option<String>,
    /// With a container launcher: the project directory inside the image (its WORKDIR).
    #[arg(long, default_value = "/project")]
    workdir: String,
    /// With --launcher k8s: a Secret whose keys become environment variables of the pod.
    #[arg(long)]
    secret: Option<String>,
    /// With --launcher k8s: the pod's namespace.
    #[arg(long)]
    namespace: Option<String>,
}

impl ImageArgs {
    /// The pod these arguments describe (None without --image).
    fn pod<'a>(&'a self, pipeline_file: &'a str) -> Option<Pod<'a>> {
        let image = Image { image: self.image.as_deref()?, workdir: &self.workdir, pipeline_file };
        Some(Pod { image, secret: self.secret.as_deref(), namespace: self.namespace.as_deref() })
    }
}

/// Arguments of `export airflow`.
#[derive(clap::Args)]
pub struct AirflowArgs {
    /// Pipeline file (OML).
    pipeline: PathBuf,
    /// `local`: a Python task running the worker's `osiris`; `k8s`: a KubernetesPodOperator
    /// running --image (needs apache-airflow-providers-cncf-kubernetes).
    #[arg(long, default_value = "local", value_parser = ["local", "k8s"])]
    launcher: String,
    #[command(flatten)]
    image: ImageArgs,
    /// Cron schedule (`0 3 * * *`); without one the DAG runs when triggered.
    #[arg(long)]
    schedule: Option<String>,
    /// Write the DAG file here (default: stdout).
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

/// Arguments of `export k8s`.
#[derive(clap::Args)]
pub struct K8sArgs {
    /// Pipeline file (OML).
    pipeline: PathBuf,
    /// Image holding `osiris` on PATH and the project in --workdir.
    #[arg(long)]
    image: String,
    /// The project directory inside the image.
    #[arg(long, default_value = "/project")]
    workdir: String,
    /// Cron schedule (`0 3 * * *`): a CronJob instead of a Job.
    #[arg(long)]
    schedule: Option<String>,
    /// Secret whose keys become environment variables of the run.
    #[arg(long)]
    secret: Option<String>,
    /// CPU request, e.g. 500m.
    #[arg(long)]
    cpu: Option<String>,
    /// Memory request, e.g. 2Gi.
    #[arg(long)]
    memory: Option<String>,
    /// Namespace.
    #[arg(long)]
    namespace: Option<String>,
    /// Write the manifest here (default: stdout).
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

/// What every export needs of the pipeline.
struct Exported {
    /// Compiled: its steps in topological order.
    compiled: Compiled,
    /// The pipeline file, absolute.
    path: PathBuf,
    /// The project root, absolute.
    project_dir: PathBuf,
}

impl Exported {
    /// The pipeline file relative to the project root (its path inside an image of the project).
    fn relative_path(&self) -> String {
        self.path.strip_prefix(&self.project_dir).unwrap_or(&self.path).display().to_string()
    }
}

/// The pipeline compiled with its paths, or the exit code of invalid input.
fn load(pipeline: &Path) -> anyhow::Result<Result<Exported, i32>> {
    let registry = Registry::builtin();
    let compiled = match oml::load(pipeline, &Default::default())
        .and_then(|p| compiler::plan(p, &registry))
        .map(|plan| compiler::compile(&plan, &registry))
    {
        Ok(c) => c,
        Err(e) => return Ok(Err(invalid(&e, false))),
    };
    let path = std::path::absolute(pipeline)?;
    let project_dir = std::path::absolute(osiris::project::base_dir_for(pipeline))?;
    Ok(Ok(Exported { compiled, path, project_dir }))
}

fn emit(output: Option<PathBuf>, text: String, what: &str) -> anyhow::Result<i32> {
    match output {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            osiris::runtime::write_atomic(&path, text)?;
            eprintln!("wrote {} ({what})", path.display());
        }
        None => print!("{text}"),
    }
    Ok(0)
}

pub fn execute(c: Command) -> anyhow::Result<i32> {
    let pipeline = match &c {
        Command::Dagster(a) => &a.pipeline,
        Command::Airflow(a) => &a.pipeline,
        Command::K8s(a) => &a.pipeline,
    };
    let e = match load(pipeline)? {
        Ok(e) => e,
        Err(code) => return Ok(code),
    };
    let name = &e.compiled.manifest.name;
    match c {
        Command::Dagster(a) => {
            // Flags another launcher would ignore are mistakes worth naming, not silence.
            if a.launcher != "docker" && !a.env.is_empty() {
                eprintln!("error: --env applies to --launcher docker (a k8s pod takes its environment from --secret)");
                return Ok(2);
            }
            if a.launcher != "k8s" && (a.image.secret.is_some() || a.image.namespace.is_some()) {
                eprintln!("error: --secret and --namespace apply to --launcher k8s (a docker container takes its environment from --env NAME)");
                return Ok(2);
            }
            let relative = e.relative_path();
            let launcher = match (a.launcher.as_str(), a.image.pod(&relative)) {
                ("k8s", Some(pod)) => dagster::Launcher::Kubernetes(pod),
                ("docker", Some(pod)) => dagster::Launcher::Docker { image: pod.image, env: &a.env },
                _ => dagster::Launcher::Subprocess,
            };
            let text = dagster::module(&dagster::Export {
                pipeline: name,
                pipeline_path: &e.path,
                project_dir: &e.project_dir,
                steps: &e.compiled.manifest.steps,
                launcher,
            });
            emit(a.output, text, &format!("{} assets", e.compiled.manifest.steps.len()))
        }
        Command::Airflow(a) => {
            let relative = e.relative_path();
            let launcher = match (a.launcher.as_str(), a.image.pod(&relative)) {
                ("k8s", Some(pod)) => airflow::Launcher::Kubernetes(pod),
                _ => airflow::Launcher::Local,
            };
            let text = airflow::dag_file(&airflow::Dag {
                pipeline: name,
                pipeline_path: &e.path,
                project_dir: &e.project_dir,
                schedule: a.schedule.as_deref(),
                launcher,
            });
            emit(a.output, text, "DAG")
        }
        Command::K8s(a) => {
            let text = k8s::manifest(&k8s::Job {
                pipeline: name,
                pipeline_file: &e.relative_path(),
                image: &a.image,
                workdir: &a.workdir,
                schedule: a.schedule.as_deref(),
                secret: a.secret.as_deref(),
                cpu: a.cpu.as_deref(),
                memory: a.memory.as_deref(),
                namespace: a.namespace.as_deref(),
            });
            emit(a.output, text, if a.schedule.is_some() { "CronJob" } else { "Job" })
        }
    }
}
