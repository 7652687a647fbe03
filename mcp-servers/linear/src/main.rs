//! `sophia-linear`: parse flags and environment, start telemetry, serve.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mcp_core::{Budget, CommonArgs, ServerMeta};
use secrecy::SecretString;
use sophia_linear::{Credential, DEFAULT_URL, LinearConfig, LinearServer, NAME, PORT};

#[derive(Parser)]
#[command(
    name = NAME,
    version,
    about = "Sophia Linear: Linear's GraphQL API as MCP tools (issues, comments, relations, teams, workflow)"
)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    /// Linear's GraphQL endpoint.
    #[arg(long, env = "LINEAR_API_URL", default_value = DEFAULT_URL)]
    api_url: String,

    /// Seconds one request to Linear may take.
    #[arg(long, env = "LINEAR_TIMEOUT_SECS", default_value_t = 30)]
    timeout_secs: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    mcp_core::telemetry::init();
    // Secrets come from the environment only (never a flag: flags show in `ps`).
    let secret = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(SecretString::from)
    };
    let credential = match (secret("LINEAR_API_KEY"), secret("LINEAR_OAUTH_TOKEN")) {
        (Some(key), _) => Some(Credential::ApiKey(key)),
        (None, Some(token)) => Some(Credential::OAuth(token)),
        (None, None) => None,
    };
    if credential.is_none() && !cli.common.print_tools && !cli.common.check {
        tracing::warn!("neither LINEAR_API_KEY nor LINEAR_OAUTH_TOKEN is set: tools will say so");
    }
    let mut config = LinearConfig::new(cli.api_url.clone(), credential);
    config.timeout = Duration::from_secs(cli.timeout_secs.max(1));
    config.budget = Budget::from_env();
    config.read_only = cli.common.read_only;
    let meta = ServerMeta {
        name: NAME,
        version: env!("CARGO_PKG_VERSION"),
        default_port: PORT,
    };
    mcp_core::serve::main(meta, &cli.common, move || LinearServer::new(config))
}
