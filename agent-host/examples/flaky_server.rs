//! A deliberately unreliable MCP server for the host's tests (built by `cargo test`): it can
//! crash, be slow while reporting progress, and record cancellations. Not shipped.
//!
//! Environment: `FLAKY_DIR` (a directory for its marker and log files).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test fixture

use std::time::Duration;

use rmcp::{
    Json, RoleServer, ServerHandler, ServiceExt,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{ProgressNotificationParam, ServerCapabilities, ServerConfig},
    service::RequestContext,
    tool, tool_handler, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone)]
struct Flaky {
    tool_router: ToolRouter<Self>,
}

#[derive(Deserialize, JsonSchema)]
struct SlowParams {
    /// Total milliseconds to take.
    ms: u64,
    /// Report progress this often (0: never).
    progress_ms: u64,
}

#[derive(Deserialize, JsonSchema)]
struct Empty {}

#[derive(Deserialize, JsonSchema)]
struct TextParams {
    /// Any text.
    text: String,
}

#[derive(Serialize, JsonSchema)]
struct Echoed {
    text: String,
    pid: u32,
}

#[derive(Serialize, JsonSchema)]
struct Pid {
    pid: u32,
}

fn dir() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("FLAKY_DIR").unwrap())
}

fn log(line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir().join("log"))
        .unwrap();
    writeln!(f, "{line}").unwrap();
}

#[tool_router]
impl Flaky {
    /// This process's id.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn pid(&self, Parameters(_): Parameters<Empty>) -> Json<Pid> {
        Json(Pid {
            pid: std::process::id(),
        })
    }

    /// Read-only: answers the text back and logs `echo <text>` (so tests count server calls).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn echo(&self, Parameters(p): Parameters<TextParams>) -> Json<Echoed> {
        log(&format!("echo {}", p.text));
        Json(Echoed {
            text: p.text,
            pid: std::process::id(),
        })
    }

    /// Not read-only: logs `note <text>`.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn note(&self, Parameters(p): Parameters<TextParams>) -> Json<Echoed> {
        log(&format!("note {}", p.text));
        Json(Echoed {
            text: p.text,
            pid: std::process::id(),
        })
    }

    /// Exits the process without answering.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn crash(&self, Parameters(_): Parameters<Empty>) -> Json<Pid> {
        log(&format!("crash {}", std::process::id()));
        std::process::exit(3)
    }

    /// Read-only; the first call ever (per FLAKY_DIR) kills the process, later ones answer.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn read_once_dies(&self, Parameters(_): Parameters<Empty>) -> Json<Pid> {
        let marker = dir().join("died-once");
        if !marker.exists() {
            std::fs::write(&marker, "x").unwrap();
            std::process::exit(4);
        }
        Json(Pid {
            pid: std::process::id(),
        })
    }

    /// Sleeps, reporting progress; records a cancellation.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn slow(
        &self,
        Parameters(p): Parameters<SlowParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Json<Pid> {
        let token = ctx.meta.get_progress_token();
        let start = tokio::time::Instant::now();
        let end = start + Duration::from_millis(p.ms);
        let step = Duration::from_millis(if p.progress_ms == 0 {
            p.ms.max(1)
        } else {
            p.progress_ms
        });
        let mut n = 0.0;
        while tokio::time::Instant::now() < end {
            tokio::select! {
                _ = ctx.ct.cancelled() => {
                    log("cancelled");
                    return Json(Pid { pid: 0 });
                }
                _ = tokio::time::sleep(step.min(end - tokio::time::Instant::now())) => {}
            }
            if p.progress_ms > 0
                && let Some(t) = &token
            {
                n += 1.0;
                let _ = ctx
                    .peer
                    .notify_progress(ProgressNotificationParam::new(t.clone(), n))
                    .await;
            }
        }
        log("finished");
        Json(Pid {
            pid: std::process::id(),
        })
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Flaky {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let server = Flaky {
        tool_router: Flaky::tool_router(),
    };
    let running = server.serve(rmcp::transport::stdio()).await.unwrap();
    let _ = running.waiting().await;
}
