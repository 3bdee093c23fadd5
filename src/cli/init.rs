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

const OSIRIS_YAML: &str =
    "# osiris project settings. Relative paths in pipelines resolve against this directory.\nversion: \"1\"\n";
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
