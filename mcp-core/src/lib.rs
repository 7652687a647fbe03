//! What every Sophia MCP server shares.
//!
//! Each rule of `SERVER-CONTRACT.md` is implemented once here: the command line ([`cli`]), serving
//! over stdio, Streamable HTTP and legacy SSE ([`serve`], [`sse`]), bearer auth and DNS-rebinding
//! guards ([`guard`]), telemetry to stderr ([`telemetry`]), the two-tier tool error ([`error`]),
//! the response budget and cursors ([`budget`]), a tool call's cancellation and progress
//! ([`call`]), the upstream HTTP client ([`upstream`]), schema
//! snapshots ([`schema`]) and test helpers ([`testing`]).

pub mod budget;
pub mod call;
pub mod cli;
pub mod error;
pub mod guard;
pub mod reply;
pub mod schema;
pub mod serve;
pub mod sse;
pub mod telemetry;
pub mod testing;
pub mod time;
pub mod upstream;

pub use budget::Budget;
pub use cli::{CommonArgs, TransportKind};
pub use error::{ToolError, ToolResult};
pub use guard::{ClientAuth, ClientId, client_of};
pub use reply::Reply;
pub use serve::{ServerMeta, SophiaServer};
