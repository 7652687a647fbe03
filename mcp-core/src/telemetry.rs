//! Logs go to stderr only: stdout belongs to JSON-RPC in stdio mode.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Install the global subscriber: `SOPHIA_LOG` is the filter (default `info`),
/// `SOPHIA_LOG_FORMAT=json` switches to JSON lines. Safe to call twice (the second call is a no-op).
pub fn init() {
    init_with("info");
}

/// [`init`] with another default filter (a command-line tool that should stay quiet unless
/// asked, e.g. `warn,sophia_host=info`).
pub fn init_with(default_filter: &str) {
    let filter =
        EnvFilter::try_from_env("SOPHIA_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = json_format();
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry
            .with(
                fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_current_span(false),
            )
            .try_init()
    } else {
        registry
            .with(fmt::layer().with_writer(std::io::stderr).with_ansi(false))
            .try_init()
    };
    let _ = result;
}

/// Whether `SOPHIA_LOG_FORMAT=json` is set.
pub fn json_format() -> bool {
    std::env::var("SOPHIA_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"))
}
