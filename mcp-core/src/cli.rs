//! The command line every Sophia server shares (`SERVER-CONTRACT.md`, "Command line").

use std::net::SocketAddr;

use clap::{Args, ValueEnum};

/// Which transport to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum TransportKind {
    /// JSON-RPC over stdin/stdout (what Claude Desktop and Cursor launch).
    #[default]
    Stdio,
    /// One HTTP listener: Streamable HTTP on `/mcp`, legacy SSE on `/sse` + `/message`, `/healthz`.
    Http,
}

/// Flags shared by every server. Flatten this into the server's own clap struct.
#[derive(Debug, Clone, Args, Default)]
pub struct CommonArgs {
    /// Transport to serve.
    #[arg(long, value_enum, default_value_t = TransportKind::Stdio, env = "SOPHIA_TRANSPORT")]
    pub transport: TransportKind,

    /// Address to listen on in http mode (default 127.0.0.1:<the server's port>).
    #[arg(long, env = "SOPHIA_BIND")]
    pub bind: Option<SocketAddr>,

    /// Remove every tool that is not read-only.
    #[arg(long, env = "SOPHIA_READ_ONLY", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub read_only: bool,

    /// Extra Host names (or host:port) accepted in http mode, besides loopback.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,

    /// Print tools/list as JSON on stdout and exit.
    #[arg(long)]
    pub print_tools: bool,

    /// Validate configuration, call the upstream's cheapest authenticated endpoint, print one
    /// line and exit 0 (ok) or 1.
    #[arg(long)]
    pub check: bool,
}

impl CommonArgs {
    /// The address to bind in http mode.
    pub fn bind_addr(&self, default_port: u16) -> SocketAddr {
        self.bind
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], default_port)))
    }
}
