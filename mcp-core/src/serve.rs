//! One command line over three transports: stdio, Streamable HTTP (`/mcp`) and legacy SSE
//! (`/sse` + `/message`), plus `/healthz`, `--print-tools`, `--check` and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::{
    Json as AxumJson, Router, extract::State, response::IntoResponse, routing::get,
    serve::ListenerExt,
};
use rmcp::{
    ServerHandler, ServiceExt,
    model::Tool,
    transport::{
        StreamableHttpServerConfig, StreamableHttpService,
        streamable_http_server::session::local::LocalSessionManager,
    },
};
use secrecy::SecretString;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::cli::{CommonArgs, TransportKind};
use crate::guard::{BindRefused, HttpGuard, guard_middleware};
use crate::sse::{self, SseConfig, SseTransport};

/// Identity of one Sophia server binary.
#[derive(Debug, Clone, Copy)]
pub struct ServerMeta {
    /// Binary name, e.g. `sophia-memory`.
    pub name: &'static str,
    /// The server crate's version (`env!("CARGO_PKG_VERSION")` in the server crate).
    pub version: &'static str,
    /// Default HTTP port from the contract's table.
    pub default_port: u16,
}

/// What `mcp-core` needs from a server beyond rmcp's `ServerHandler`.
pub trait SophiaServer: ServerHandler + Clone + Send + Sync + 'static {
    /// The tools this server lists (after `--read-only` filtering).
    fn tools(&self) -> Vec<Tool>;

    /// Upstream/backing-store state for `/healthz`. Never include secrets.
    fn health(&self) -> impl Future<Output = serde_json::Value> + Send {
        async { json!({}) }
    }

    /// `--check`: validate config and call the cheapest authenticated upstream endpoint.
    fn check(&self) -> impl Future<Output = Result<String, String>> + Send;

    /// Per-client tokens and rate limits for the HTTP transport (the gateway's clients file).
    fn client_auth(&self) -> Option<Arc<dyn crate::guard::ClientAuth>> {
        None
    }

    /// Extra HTTP routes (e.g. `/metrics`), behind the same guard as `/mcp`.
    fn extra_routes(&self) -> Option<Router> {
        None
    }

    /// Called once at graceful shutdown, after in-flight calls finished (flush here).
    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// How long in-flight requests may take to finish after SIGINT/SIGTERM.
const DRAIN: Duration = Duration::from_secs(10);

/// `tools/list` as printed by `--print-tools`.
pub fn tools_json(tools: &[Tool]) -> serde_json::Value {
    json!({ "tools": tools })
}

/// A server binary's whole `main` after flags and configuration: the runtime the transport
/// wants (one thread for a stdio connection, two workers for HTTP), the server built inside it
/// (`build` may spawn tasks), then [`run`]. A failure to build is printed as `NAME: reason`.
pub fn main<S, E>(
    meta: ServerMeta,
    args: &CommonArgs,
    build: impl FnOnce() -> Result<S, E>,
) -> ExitCode
where
    S: SophiaServer,
    E: std::fmt::Display,
{
    let mut builder = if args.transport == TransportKind::Stdio {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}: cannot start the runtime: {e}", meta.name);
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let server = match build() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{}: {e}", meta.name);
                return ExitCode::FAILURE;
            }
        };
        run(meta, args, server).await
    })
}

/// Run a server per the shared command line. `main` calls this after parsing flags and building
/// the server (with `--read-only` already applied to its router).
pub async fn run<S: SophiaServer>(meta: ServerMeta, args: &CommonArgs, server: S) -> ExitCode {
    if args.print_tools {
        let tools = server.tools();
        return match serde_json::to_string_pretty(&tools_json(&tools)) {
            Ok(s) => {
                use std::io::Write;
                // A closed pipe (`| head`) is not an error worth a panic.
                let _ = writeln!(std::io::stdout().lock(), "{s}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: cannot print tools: {e}", meta.name);
                ExitCode::FAILURE
            }
        };
    }
    if args.check {
        return match server.check().await {
            Ok(line) => {
                use std::io::Write;
                let _ = writeln!(std::io::stdout().lock(), "{}: ok: {line}", meta.name);
                ExitCode::SUCCESS
            }
            Err(line) => {
                use std::io::Write;
                let _ = writeln!(std::io::stdout().lock(), "{}: not ok: {line}", meta.name);
                ExitCode::FAILURE
            }
        };
    }
    let shutdown = CancellationToken::new();
    spawn_signal_listener(shutdown.clone());
    let result = match args.transport {
        TransportKind::Stdio => serve_stdio(server.clone(), shutdown).await,
        TransportKind::Http => serve_http(meta, args, server.clone(), shutdown).await,
    };
    server.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{}: {message}", meta.name);
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn spawn_signal_listener(shutdown: CancellationToken) {
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        shutdown.cancel();
    });
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

async fn serve_stdio<S: SophiaServer>(
    server: S,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let transport = rmcp::transport::stdio_pipes();
    let running = server
        .serve_with_ct(transport, shutdown.child_token())
        .await
        .map_err(|e| format!("stdio session failed to start: {e}"))?;
    let ct = running.cancellation_token();
    let waiting = running.waiting();
    tokio::pin!(waiting);
    tokio::select! {
        r = &mut waiting => { r.map_err(|e| format!("stdio session ended abnormally: {e}"))?; }
        _ = shutdown.cancelled() => {
            ct.cancel();
            let _ = tokio::time::timeout(DRAIN, waiting).await;
        }
    }
    Ok(())
}

/// Everything needed to mount a server on HTTP.
pub struct HttpApp {
    pub router: Router,
    pub guard: HttpGuard,
}

/// Build the HTTP surface (`/mcp`, `/sse`, `/message`, `/healthz`) for `server` bound on `bind`.
/// Exposed for in-process tests; [`run`] uses it.
pub fn http_app<S: SophiaServer>(
    meta: ServerMeta,
    bind: SocketAddr,
    token: Option<SecretString>,
    allowed_hosts: &[String],
    server: S,
    shutdown: CancellationToken,
) -> Result<HttpApp, BindRefused> {
    let guard = HttpGuard::with_clients(bind, token, server.client_auth(), allowed_hosts)?;
    let extra = server.extra_routes();
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(guard.allowed_hosts())
        .with_cancellation_token(shutdown.child_token())
        .with_sse_keep_alive(Some(Duration::from_secs(15)));
    let factory_server = server.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(factory_server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let sse_server = server.clone();
    let starter: sse::SessionStarter = Arc::new(move |transport: SseTransport, ct| {
        let server = sse_server.clone();
        tokio::spawn(async move {
            match server.serve_with_ct(transport, ct).await {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(e) => tracing::warn!(error = %e, "sse session failed to initialise"),
            }
        });
    });
    let health = HealthState {
        meta,
        started: Instant::now(),
        server: Arc::new(server),
    };
    let mut router = Router::new()
        .nest_service("/mcp", mcp)
        .merge(sse::router(SseConfig::default(), starter, shutdown))
        .route("/healthz", get(healthz::<S>).with_state(health));
    if let Some(extra) = extra {
        router = router.merge(extra);
    }
    let router = router.layer(axum::middleware::from_fn_with_state(
        guard.clone(),
        guard_middleware,
    ));
    Ok(HttpApp { router, guard })
}

#[derive(Clone)]
struct HealthState<S> {
    meta: ServerMeta,
    started: Instant,
    server: Arc<S>,
}

async fn healthz<S: SophiaServer>(State(state): State<HealthState<S>>) -> impl IntoResponse {
    AxumJson(json!({
        "name": state.meta.name,
        "version": state.meta.version,
        "status": "ok",
        "uptime_s": state.started.elapsed().as_secs(),
        "upstream": state.server.health().await,
    }))
}

async fn serve_http<S: SophiaServer>(
    meta: ServerMeta,
    args: &CommonArgs,
    server: S,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let bind = args.bind_addr(meta.default_port);
    let token = std::env::var("SOPHIA_HTTP_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .map(SecretString::from);
    let app = http_app(
        meta,
        bind,
        token,
        &args.allowed_hosts,
        server,
        shutdown.clone(),
    )
    .map_err(|e| e.0)?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    // A fixed line on stderr so scripts and tests can find the port (also with --bind :0); with
    // JSON logs it is a log event, so stderr stays JSON lines.
    let listening = format!(
        "{} {} listening on http://{local} (/mcp, /sse, /healthz){}",
        meta.name,
        meta.version,
        if app.guard.token_required() {
            "; bearer token required"
        } else {
            ""
        }
    );
    if crate::telemetry::json_format() {
        tracing::info!("{listening}");
    } else {
        eprintln!("{listening}");
    }
    let listener = listener.tap_io(|tcp| {
        // Without TCP_NODELAY every response stalls ~40 ms on delayed ACKs.
        let _ = tcp.set_nodelay(true);
    });
    let graceful = shutdown.clone();
    let serve = axum::serve(listener, app.router)
        .with_graceful_shutdown(async move { graceful.cancelled().await });
    let server_task = tokio::spawn(async move { serve.await });
    shutdown.cancelled().await;
    match tokio::time::timeout(DRAIN, server_task).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(format!("http server failed: {e}")),
        Ok(Err(e)) => Err(format!("http server task failed: {e}")),
        Err(_) => {
            tracing::warn!("in-flight requests did not finish within {DRAIN:?}; exiting");
            Ok(())
        }
    }
}

/// `--read-only`: remove every tool whose `read_only_hint` is not `true` from the router.
pub fn retain_read_only<S: Send + Sync + 'static>(
    router: &mut rmcp::handler::server::router::tool::ToolRouter<S>,
) {
    let writes: Vec<String> = router
        .list_all()
        .into_iter()
        .filter(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) != Some(true))
        .map(|t| t.name.to_string())
        .collect();
    for name in writes {
        router.remove_route(&name);
    }
}
