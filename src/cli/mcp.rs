//! `osiris mcp run|serve|tools|clients`: the MCP server for AI agents.

use super::output::print_json;
use osiris::mcp::{Context, OsirisMcp};
use serde_json::json;
use std::path::PathBuf;

/// Subcommands of `mcp`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Serve MCP over stdio (the original's spelling of `serve`).
    Run(ServeArgs),
    /// Serve MCP over stdio, or streamable HTTP with --http.
    Serve(ServeArgs),
    /// List the tools the server offers (with these flags).
    Tools {
        #[command(flatten)]
        serve: ServeArgs,
        /// JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print ready-to-paste client configuration (Claude Desktop, Claude Code, Cursor).
    Clients {
        /// JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// How the server runs.
#[derive(clap::Args, Clone)]
pub struct ServeArgs {
    /// Serve streamable HTTP at http://ADDR/mcp instead of stdio (e.g. 127.0.0.1:8765).
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// Offer pipeline_run: agents may run pipelines (which write to their targets).
    #[arg(long)]
    allow_run: bool,
    /// Offer memory_capture (writes session notes under .osiris/mcp/memory/).
    #[arg(long)]
    allow_write: bool,
    /// Connections file (default: $OSIRIS_CONNECTIONS, ./osiris_connections.yaml).
    #[arg(long)]
    connections: Option<PathBuf>,
    /// Runs directory (default: the project's).
    #[arg(long)]
    runs_dir: Option<PathBuf>,
    /// Longest a tool call may take, in seconds; a run that takes longer is cancelled.
    #[arg(long, default_value_t = osiris::mcp::DEFAULT_TOOL_TIMEOUT.as_secs())]
    tool_timeout: u64,
}

impl ServeArgs {
    fn context(&self) -> anyhow::Result<Context> {
        let (runs_dir, root, settings) = super::project_runs_dir(self.runs_dir.clone())?;
        let mut ctx =
            Context::new(root, runs_dir, settings, self.connections.clone(), self.allow_run, self.allow_write);
        ctx.tool_timeout = std::time::Duration::from_secs(self.tool_timeout.max(1));
        Ok(ctx)
    }
}

pub fn execute(c: Command) -> anyhow::Result<i32> {
    match c {
        Command::Run(a) | Command::Serve(a) => {
            let ctx = a.context()?;
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            match &a.http {
                Some(addr) => {
                    eprintln!("osiris MCP server on http://{addr}/mcp");
                    runtime.block_on(osiris::mcp::serve_http(ctx, addr))?
                }
                None => runtime.block_on(osiris::mcp::serve_stdio(ctx))?,
            }
            Ok(0)
        }
        Command::Tools { serve, json } => {
            let server = OsirisMcp::new(serve.context()?);
            let tools = server.tool_definitions();
            if json {
                print_json(&serde_json::to_value(&tools)?);
            } else {
                for t in &tools {
                    println!("{:<20} {}", t.name, t.description.as_deref().unwrap_or(""));
                }
            }
            Ok(0)
        }
        Command::Clients { json } => {
            let exe = std::env::current_exe()?;
            let home = std::env::var("OSIRIS_HOME").map(PathBuf::from).unwrap_or_else(|_| {
                osiris::project::find_root(std::path::Path::new("."))
                    .unwrap_or(std::env::current_dir().unwrap_or_default())
            });
            let server = json!({"command": exe, "args": ["mcp", "run"], "env": {"OSIRIS_HOME": home}});
            let desktop = json!({"mcpServers": {"osiris": server}});
            let code =
                format!("claude mcp add osiris --env OSIRIS_HOME={} -- {} mcp run", home.display(), exe.display());
            if json {
                print_json(&json!({"claude_desktop": desktop, "cursor": desktop, "claude_code": code}));
            } else {
                println!("Claude Desktop (claude_desktop_config.json) and Cursor (.cursor/mcp.json):");
                println!("{}", serde_json::to_string_pretty(&desktop)?);
                println!("\nClaude Code:\n  {code}");
                println!("\nAdd --allow-run to the args to let the agent run pipelines.");
            }
            Ok(0)
        }
    }
}
