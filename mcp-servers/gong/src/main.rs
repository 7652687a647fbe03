//! `sophia-gong`: parse flags and environment, start telemetry, serve.

use std::process::ExitCode;

use clap::Parser;
use mcp_core::{Budget, CommonArgs, ServerMeta};
use secrecy::SecretString;
use sophia_gong::{GongConfig, GongServer, NAME, PORT, client::DEFAULT_BASE_URL};

#[derive(Parser)]
#[command(name = NAME, version, about = "Sophia Gong: the Gong API as MCP tools")]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    /// The Gong API host (companies with a dedicated host see it on the Gong API page).
    #[arg(long, env = "GONG_API_BASE_URL", default_value = DEFAULT_BASE_URL)]
    api_base_url: String,

    /// Requests per second to Gong, shared by all tool calls (Gong's documented default is 3;
    /// raise it only if Gong raised your company's limit).
    #[arg(long, env = "GONG_REQUESTS_PER_SECOND", default_value_t = sophia_gong::client::DEFAULT_REQUESTS_PER_SECOND)]
    requests_per_second: f64,
}

/// A secret from the environment; empty counts as unset. Never a flag: flags show up in `ps`.
fn secret(var: &str) -> Option<SecretString> {
    std::env::var(var)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .map(SecretString::from)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    mcp_core::telemetry::init();
    let mut config = GongConfig::new(
        cli.api_base_url.clone(),
        secret("GONG_ACCESS_KEY"),
        secret("GONG_ACCESS_KEY_SECRET"),
    );
    config.budget = Budget::from_env();
    config.read_only = cli.common.read_only;
    config.requests_per_second = cli.requests_per_second;
    let meta = ServerMeta {
        name: NAME,
        version: env!("CARGO_PKG_VERSION"),
        default_port: PORT,
    };
    mcp_core::serve::main(meta, &cli.common, move || GongServer::new(config))
}
