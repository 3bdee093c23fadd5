//! `osiris init [DIR]`: a project that runs as soon as it is created.

use std::path::PathBuf;

/// Arguments of `init`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory to create the project in.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

/// A complete osiris.yaml: every setting osiris reads, at its default, with what it does.
const OSIRIS_YAML: &str = "\
# osiris project settings. Relative paths in pipelines resolve against this directory.
# Environment variables win over this file: OSIRIS_HOME (project root), OSIRIS_FILESYSTEM_BASE,
# OSIRIS_PROFILE, OSIRIS_RETENTION_RUN_LOGS_DAYS, OSIRIS_AIOP_* (see docs/operating.md).
version: \"2.0\"

filesystem:
  # Root of everything below (relative to this file). Empty: this directory.
  base_path: \"\"
  # Run directories (events, metrics, status, pipeline_data.duckdb). The run index and the AIOP
  # packages live beside it (../index, ../aiop) unless aiop_dir says otherwise.
  run_logs_dir: .osiris/runs
  # AI Operation Packages; default: beside run_logs_dir.
  # aiop_dir: aiop
  retention:
    # `osiris maintenance` / `osiris logs gc` remove runs older than this (the newest run of each
    # pipeline always stays).
    run_logs_days: 7

aiop:
  # An AI Operation Package after every run: summary.json, run-card.md, annex/.
  enabled: true
  # Upper bound of summary.json; beyond it the timeline's tail is dropped (metadata.truncated).
  max_core_bytes: 300000
  # low: run start/end and errors; medium: plus step starts and completions; high: every event.
  timeline_density: medium
  run_card: true
  annex:
    enabled: true
  # previous: compare rows and duration with the previous run of the pipeline; none: do not.
  delta: previous
  retention:
    # Packages kept per pipeline by `osiris logs aiop prune`.
    keep_runs: 50
";
const CONNECTIONS: &str = "\
# Connections referenced from pipelines as `connection: \"@family.alias\"`.
# Secrets: write ${ENV_VAR} here and put the value in the environment or .env (never in pipelines).
version: \"1.0\"
connections:
  filesystem:
    local:
      base_dir: .
      default: true
  # mysql:
  #   default:
  #     host: 127.0.0.1
  #     port: 3306
  #     database: shop
  #     user: etl
  #     password: ${MYSQL_PASSWORD}
";
const ENV_EXAMPLE: &str =
    "# Copy to .env and fill in. .env is read from the current directory and never committed.\nMYSQL_PASSWORD=\n";
const GITIGNORE: &str = ".env\n.osiris/\nbuild/\noutput/\n";
const SAMPLE: &str = "id,customer,amount,ordered_at\n1,Ada,120.50,2024-01-05\n2,Grace,80.00,2024-01-06\n3,Ada,42.25,2024-02-01\n4,Linus,300.00,2024-02-03\n";
const PIPELINE: &str = "\
oml_version: \"0.1.0\"
name: example
description: Total order amount per customer.
params:
  min_amount: 0
steps:
  - id: extract-orders
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/orders.csv
  - id: totals
    component: duckdb.processor
    mode: transform
    needs: [extract-orders]
    config:
      query: |
        SELECT customer, sum(amount) AS total, count(*) AS orders
        FROM \"extract-orders\"
        WHERE amount >= ${params.min_amount}
        GROUP BY customer
        ORDER BY total DESC
  - id: write-totals
    component: filesystem.csv_writer
    mode: write
    needs: [totals]
    config:
      path: output/totals.csv
";

pub fn execute(a: Args) -> anyhow::Result<i32> {
    let files = [
        ("osiris.yaml", OSIRIS_YAML),
        ("osiris_connections.yaml", CONNECTIONS),
        (".env.example", ENV_EXAMPLE),
        (".gitignore", GITIGNORE),
        ("data/orders.csv", SAMPLE),
        ("pipelines/example.yaml", PIPELINE),
    ];
    if !a.force && a.dir.join("osiris.yaml").exists() {
        eprintln!("error: {} already holds an osiris project (use --force to overwrite)", a.dir.display());
        return Ok(2);
    }
    for (name, text) in files {
        let p = a.dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if a.force || !p.exists() {
            std::fs::write(&p, text)?;
        }
    }
    eprintln!(
        "created an osiris project in {}\nnext: cd {} && osiris run pipelines/example.yaml",
        a.dir.display(),
        a.dir.display()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The written file names only settings osiris knows, each at the value osiris uses without it.
    #[test]
    fn the_written_settings_are_known_and_are_the_defaults() {
        let v: serde_json::Value = serde_saphyr::from_str(super::OSIRIS_YAML).unwrap();
        assert_eq!(osiris::project::unknown_settings(&v), Vec::<String>::new());
        let runs = Path::new("p/.osiris/runs");
        let written = osiris::report::aiop::Settings::configured(runs, Path::new("p"), &v).unwrap().unwrap();
        let default = osiris::report::aiop::Settings::configured(runs, Path::new("p"), &serde_json::Value::Null)
            .unwrap()
            .unwrap();
        assert_eq!(serde_json::to_value(written).unwrap(), serde_json::to_value(default).unwrap());
        assert_eq!(super::super::runs_dir(None, Path::new("p"), &v), Path::new("p/.osiris/runs"));
    }
}
