//! sophia-host: the thin agent host. Many MCP servers as one (every tool as `<server>__<tool>`),
//! configured in the `mcpServers` format Claude Desktop and Cursor use; `sophia-host tools` and
//! `sophia-host call` on top. Workflows, the LLM loop and the gateway build on [`hub::Hub`].

pub mod ask;
pub mod audit;
pub mod cache;
pub mod config;
pub mod gateway;
pub mod hub;
pub mod jq;
pub mod metrics;
pub mod naming;
pub mod policy;
pub mod schema_check;
pub mod sse_client;
pub mod workflow;
