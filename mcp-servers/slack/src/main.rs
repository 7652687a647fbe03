//! `sophia-slack`: parse flags and environment, start telemetry, serve.

use std::process::ExitCode;

use clap::Parser;
use mcp_core::{Budget, CommonArgs, ServerMeta};
use secrecy::SecretString;
use sophia_slack::{NAME, PORT, SlackConfig, SlackServer, client::DEFAULT_BASE_URL};

#[derive(Parser)]
#[command(name = NAME, version, about = "Sophia Slack: the Slack Web API as MCP tools")]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    /// The Slack Web API (tests and proxies point this elsewhere).
    #[arg(long, env = "SLACK_API_BASE_URL", default_value = DEFAULT_BASE_URL)]
    api_base_url: String,

    /// Channels (ids or #names, comma-separated) the write tools may touch; empty: any.
    #[arg(long, env = "SLACK_WRITE_CHANNELS", value_delimiter = ',')]
    write_channels: Vec<String>,
}

/// A token from the environment; empty counts as unset. Never a flag: flags show up in `ps`.
fn token(var: &str) -> Option<SecretString> {
    std::env::var(var)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .map(SecretString::from)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    mcp_core::telemetry::init();
    let mut config = SlackConfig::new(
        cli.api_base_url.clone(),
        token("SLACK_BOT_TOKEN"),
        token("SLACK_USER_TOKEN"),
    );
    config.write_channels = cli.write_channels.clone();
    config.budget = Budget::from_env();
    config.read_only = cli.common.read_only;
    let meta = ServerMeta {
        name: NAME,
        version: env!("CARGO_PKG_VERSION"),
        default_port: PORT,
    };
    mcp_core::serve::main(meta, &cli.common, move || SlackServer::new(config))
}
