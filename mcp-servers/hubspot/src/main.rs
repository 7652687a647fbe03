//! `sophia-hubspot`: parse flags and environment, start telemetry, serve.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mcp_core::{Budget, CommonArgs, ServerMeta};
use secrecy::SecretString;
use sophia_hubspot::{DEFAULT_BASE_URL, HubSpotConfig, HubSpotServer, NAME, PORT, TOKEN_VAR};

#[derive(Parser)]
#[command(
    name = NAME,
    version,
    about = "Sophia HubSpot: the HubSpot CRM API as MCP tools (search, records, associations, notes, pipelines, pipeline summary)"
)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    /// HubSpot's API base URL.
    #[arg(long, env = "HUBSPOT_API_BASE_URL", default_value = DEFAULT_BASE_URL)]
    api_base_url: String,

    /// Search requests per second at most (HubSpot allows 5 per account; 0 = unpaced).
    #[arg(long, env = "HUBSPOT_SEARCH_PER_SECOND", default_value_t = 5)]
    search_per_second: u32,

    /// Seconds one request to HubSpot may take.
    #[arg(long, env = "HUBSPOT_TIMEOUT_SECS", default_value_t = 30)]
    timeout_secs: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    mcp_core::telemetry::init();
    // The token comes from the environment only (never a flag: flags show in `ps`).
    let token = std::env::var(TOKEN_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(SecretString::from);
    if token.is_none() && !cli.common.print_tools && !cli.common.check {
        tracing::warn!("{TOKEN_VAR} is not set: tools will say so");
    }
    let mut config = HubSpotConfig::new(cli.api_base_url.clone(), token);
    config.timeout = Duration::from_secs(cli.timeout_secs.max(1));
    config.budget = Budget::from_env();
    config.read_only = cli.common.read_only;
    config.search_per_second = cli.search_per_second;
    let meta = ServerMeta {
        name: NAME,
        version: env!("CARGO_PKG_VERSION"),
        default_port: PORT,
    };
    mcp_core::serve::main(meta, &cli.common, move || HubSpotServer::new(config))
}
