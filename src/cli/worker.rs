//! `osiris worker`: execute runs for a host over stdin/stdout.

use std::path::PathBuf;

/// Arguments of `worker`.
#[derive(clap::Args)]
#[command(after_help = "Started by `osiris run PIPELINE --remote CMD` on the host, where CMD reaches this command's \
stdin and stdout, e.g.\n  osiris run pipelines/orders.yaml --remote \"ssh etl-box osiris worker --project /srv/etl\"\n  \
osiris run pipelines/orders.yaml --remote \"docker exec -i etl osiris worker\"\n\nstdin carries the host's commands \
and stdout the replies, one JSON object per line (docs/worker-protocol.md); diagnostics go to stderr. Connections \
arrive resolved from the host and are kept in memory only; this machine needs no connections file and no .env. \
Exit codes: 0 after the host's `cleanup`, 1 when the host went away or broke the protocol, 2 on a protocol version \
mismatch.")]
pub struct Args {
    /// Where relative paths in step configs resolve on this machine (default: the current directory).
    #[arg(long)]
    project: Option<PathBuf>,
    /// Where session directories go (default: $TMPDIR/osiris-worker); each is removed at `cleanup`.
    #[arg(long)]
    sessions_dir: Option<PathBuf>,
}

pub fn execute(a: Args) -> anyhow::Result<i32> {
    let project_dir = match a.project {
        Some(p) => std::path::absolute(p)?,
        None => std::env::current_dir()?,
    };
    let sessions_dir = a.sessions_dir.unwrap_or_else(|| std::env::temp_dir().join("osiris-worker"));
    osiris::runtime::create_private_dir(&sessions_dir)?;
    let opts = osiris::remote::worker::WorkerOptions { sessions_dir, project_dir };
    Ok(osiris::remote::worker::serve(std::io::stdin().lock(), Box::new(std::io::stdout()), &opts))
}
