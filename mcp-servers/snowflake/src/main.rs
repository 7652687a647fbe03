//! `sophia-snowflake`: parse flags and environment, start telemetry, serve.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mcp_core::{Budget, CommonArgs, ServerMeta};
use secrecy::SecretString;
use sophia_snowflake::{Context, NAME, PORT, SnowflakeConfig, SnowflakeServer};

#[derive(Parser)]
#[command(name = NAME, version, about = "Sophia Snowflake: Snowflake administration as MCP tools on the SQL API v2")]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    /// Account identifier (e.g. myorg-myaccount, or a locator like xy12345.us-east-2.aws).
    #[arg(long, env = "SNOWFLAKE_ACCOUNT")]
    account: Option<String>,

    /// The Snowflake user the key pair or token belongs to.
    #[arg(long, env = "SNOWFLAKE_USER")]
    user: Option<String>,

    /// Unencrypted PKCS#8 PEM private key for key-pair JWT auth.
    #[arg(long, env = "SNOWFLAKE_PRIVATE_KEY_PATH")]
    private_key_path: Option<PathBuf>,

    /// OAUTH (default) or PROGRAMMATIC_ACCESS_TOKEN: the kind of SNOWFLAKE_TOKEN.
    #[arg(long, env = "SNOWFLAKE_TOKEN_TYPE")]
    token_type: Option<String>,

    /// The SQL API host (default https://<account>.snowflakecomputing.com).
    #[arg(long, env = "SNOWFLAKE_BASE_URL")]
    base_url: Option<String>,

    #[arg(long, env = "SNOWFLAKE_WAREHOUSE")]
    warehouse: Option<String>,
    #[arg(long, env = "SNOWFLAKE_DATABASE")]
    database: Option<String>,
    #[arg(long, env = "SNOWFLAKE_SCHEMA")]
    schema: Option<String>,
    #[arg(long, env = "SNOWFLAKE_ROLE")]
    role: Option<String>,

    /// List the destructive `query_write` tool (any SQL).
    #[arg(long, env = "SNOWFLAKE_ALLOW_WRITE", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    allow_write: bool,
}

/// A value from the environment; empty counts as unset. Secrets are never flags (`ps` shows flags).
fn env(var: &str) -> Option<String> {
    std::env::var(var)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    mcp_core::telemetry::init();
    let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let config = SnowflakeConfig {
        account: nonempty(cli.account.clone()),
        user: nonempty(cli.user.clone()),
        private_key_path: cli
            .private_key_path
            .clone()
            .filter(|p| !p.as_os_str().is_empty()),
        token: env("SNOWFLAKE_TOKEN").map(SecretString::from),
        token_type: nonempty(cli.token_type.clone()),
        base_url: nonempty(cli.base_url.clone()),
        context: Context {
            warehouse: nonempty(cli.warehouse.clone()),
            database: nonempty(cli.database.clone()),
            schema: nonempty(cli.schema.clone()),
            role: nonempty(cli.role.clone()),
        },
        allow_write: cli.allow_write,
        read_only: cli.common.read_only,
        budget: Budget::from_env(),
        options: Default::default(),
    };
    let meta = ServerMeta {
        name: NAME,
        version: env!("CARGO_PKG_VERSION"),
        default_port: PORT,
    };
    mcp_core::serve::main(meta, &cli.common, move || SnowflakeServer::new(config))
}
