//! The MCP server: an agent goes from intent to a verified run through it alone.
//!
//! Every tool runs in-process on the same library as the CLI ([`tools`]); [`server`] is the
//! rmcp glue (stdio, or streamable HTTP when asked). The server is read-only unless started with
//! `--allow-run` (pipeline_run) or `--allow-write` (memory_capture); a tool it does not offer is
//! refused with the flag that enables it.

pub mod context;
pub mod resources;
pub mod server;
pub mod tools;

pub use context::Context;
pub use server::{OsirisMcp, MAX_PAYLOAD_BYTES};

/// How long a tool call may take by default (`--tool-timeout`).
pub const DEFAULT_TOOL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

use rmcp::ServiceExt;

/// Why the server stopped.
#[derive(Debug, thiserror::Error)]
pub enum McpServeError {
    /// The transport failed to start or broke.
    #[error("MCP transport: {0}")]
    Transport(String),
    /// The HTTP listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Serve over stdin/stdout until the client closes them.
pub async fn serve_stdio(ctx: Context) -> Result<(), McpServeError> {
    let service = OsirisMcp::new(ctx)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| McpServeError::Transport(e.to_string()))?;
    service.waiting().await.map_err(|e| McpServeError::Transport(e.to_string()))?;
    Ok(())
}

/// Serve streamable HTTP at `http://ADDR/mcp` until the process ends.
pub async fn serve_http(ctx: Context, addr: &str) -> Result<(), McpServeError> {
    use rmcp::transport::streamable_http_server::{
        session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
    };
    let server = OsirisMcp::new(ctx);
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| McpServeError::Bind { addr: addr.to_string(), source })?;
    axum::serve(listener, router).await.map_err(|e| McpServeError::Transport(e.to_string()))
}
