//! `sophia-host`: parse the command line, connect the configured servers, run one command.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use sophia_host::config::HostConfig;
use sophia_host::hub::{DEFAULT_STARTUP_TIMEOUT, Hub};
use sophia_host::workflow::{Workflow, WorkflowError};

const NAME: &str = "sophia-host";

#[derive(Parser)]
#[command(name = NAME, version, about = "Sophia host: many MCP servers as one")]
struct Cli {
    /// The servers, in Claude Desktop's `mcpServers` format.
    #[arg(long, env = "SOPHIA_HOST_CONFIG", global = true)]
    config: Option<PathBuf>,

    /// Seconds each server may take to start.
    #[arg(long, default_value_t = DEFAULT_STARTUP_TIMEOUT.as_secs_f64(), global = true)]
    startup_timeout: f64,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every tool as server__tool (and every resource and prompt, likewise named), with
    /// each server's state.
    Tools {
        /// The aggregated tools, resources, resource templates and prompts as JSON (with each
        /// server's state).
        #[arg(long)]
        json: bool,
    },
    /// Call one tool: `sophia-host call memory.search_nodes '{"query":"acme"}'`. Prints the
    /// structured result (or the text); exit code 1 when the tool reports an error.
    Call {
        /// server.tool or server__tool
        tool: String,
        /// Arguments as a JSON object (default {}).
        arguments: Option<String>,
    },
    /// Ask a question; the model (any OpenAI-compatible API: SOPHIA_LLM_BASE_URL,
    /// SOPHIA_LLM_API_KEY or OPENROUTER_API_KEY, SOPHIA_LLM_MODEL) may call every tool.
    Ask {
        question: String,
        /// Model turns at most.
        #[arg(long, default_value_t = 10)]
        max_turns: usize,
        /// Total tokens at most.
        #[arg(long, default_value_t = 200_000)]
        max_tokens: u64,
        /// Save the conversation (messages as sent to the API) to this file as JSON.
        #[arg(long)]
        save: Option<PathBuf>,
    },
    /// Serve every tool (and every workflow in --workflows) as one MCP server, over stdio or
    /// HTTP (`/mcp`, `/sse`, `/healthz`) with the shared command line of every Sophia server.
    Serve {
        #[command(flatten)]
        common: mcp_core::CommonArgs,
        /// Folder of workflow files offered as `workflow__<name>` tools (default: ./workflows
        /// when it exists).
        #[arg(long)]
        workflows: Option<PathBuf>,
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// Make a client token for the clients file: prints the token (give it to the client) and
    /// the entry to paste, which holds only the token's SHA-256.
    Token {
        /// The client's name.
        name: String,
    },
    /// Run a workflow: `sophia-host run workflows/quickstart.yaml --input company=Acme`.
    /// Checked against the servers before anything is called.
    Run {
        /// The workflow file (YAML).
        workflow: PathBuf,
        /// An input as NAME=VALUE (VALUE is JSON, or plain text for string inputs).
        #[arg(long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// Check and print the plan; call nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the whole run (output, every step's result, calls made) as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `serve`'s gateway options.
#[derive(clap::Args, Clone, Debug)]
struct GatewayArgs {
    /// Clients file (JSON, or YAML by extension): a token hash, allowed tools, read-only and
    /// rate limits per client. See `sophia-host token`.
    #[arg(long, env = "SOPHIA_CLIENTS")]
    clients: Option<PathBuf>,
    /// Cache results of read-only tools this many seconds (0: no cache).
    #[arg(long, default_value_t = 0.0)]
    cache_ttl: f64,
    /// Per-tool cache time as TOOL_GLOB=SECONDS (first match wins; never applies to tools that
    /// are not read-only).
    #[arg(long = "cache-ttl-for", value_name = "GLOB=SECONDS")]
    cache_ttl_for: Vec<String>,
    /// Most memory the cache may hold, in MiB.
    #[arg(long, default_value_t = 64)]
    cache_max_mb: usize,
    /// Append one JSON line per tool call to this file.
    #[arg(long)]
    audit: Option<PathBuf>,
    /// Include each call's arguments in the audit log (secret-looking values are replaced).
    #[arg(long)]
    audit_args: bool,
}

impl GatewayArgs {
    fn options(&self, read_only: bool) -> Result<sophia_host::gateway::GatewayOptions, String> {
        use sophia_host::cache::CacheConfig;
        let metrics = std::sync::Arc::new(sophia_host::metrics::Metrics::default());
        let policy = match &self.clients {
            Some(path) => Some(std::sync::Arc::new(sophia_host::policy::Policy::load(
                path,
                metrics.clone(),
            )?)),
            None => None,
        };
        if !(self.cache_ttl.is_finite() && self.cache_ttl >= 0.0) {
            return Err("--cache-ttl must be a number of seconds ≥ 0".into());
        }
        let overrides = self
            .cache_ttl_for
            .iter()
            .map(|o| CacheConfig::parse_override(o))
            .collect::<Result<Vec<_>, _>>()?;
        let audit = match &self.audit {
            Some(path) => Some(sophia_host::audit::Audit::open(path, self.audit_args)?),
            None => None,
        };
        Ok(sophia_host::gateway::GatewayOptions {
            read_only,
            policy,
            cache: CacheConfig {
                default_ttl: Duration::from_secs_f64(self.cache_ttl),
                overrides,
                max_bytes: self.cache_max_mb.saturating_mul(1 << 20),
            },
            audit,
            metrics,
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Token { name } = &cli.command {
        return match sophia_host::policy::new_token() {
            Ok((token, hash)) => {
                print(&format!(
                    "# Give this token to {name} (shown once; only its hash is kept):\n{token}\n\n\
                     # Add this entry to the clients file:\n\
                     - name: {name}\n  token_sha256: {hash}\n  tools: [\"*\"]\n  read_only: false\n  rate_limit: 120/min"
                ));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{NAME}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    // A command-line tool: quiet unless asked (SOPHIA_LOG=info shows the protocol traffic).
    mcp_core::telemetry::init_with("warn,sophia_host=info");
    let Some(path) = cli.config.clone() else {
        eprintln!("{NAME}: no configuration: pass --config FILE or set SOPHIA_HOST_CONFIG");
        return ExitCode::from(2);
    };
    let config = match HostConfig::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{NAME}: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let startup = Duration::from_secs_f64(cli.startup_timeout.max(0.1));
    // A workflow and its inputs are checked before any server is started.
    let prepared = match &cli.command {
        Command::Run {
            workflow, inputs, ..
        } => match prepare(workflow, inputs) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("{NAME}: {e}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    if let Command::Serve {
        common,
        workflows,
        gateway,
    } = &cli.command
    {
        let flows = match load_workflows(workflows.as_deref()) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{NAME}: {e}");
                return ExitCode::from(2);
            }
        };
        let options = match gateway.options(common.read_only) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("{NAME}: {e}");
                return ExitCode::from(2);
            }
        };
        let common = common.clone();
        return runtime.block_on(async move {
            let hub = Hub::connect(&config, startup).await;
            let gateway = sophia_host::gateway::Gateway::with_options(hub, flows, options);
            let meta = mcp_core::ServerMeta {
                name: NAME,
                version: env!("CARGO_PKG_VERSION"),
                default_port: sophia_host::gateway::PORT,
            };
            mcp_core::serve::run(meta, &common, gateway).await
        });
    }
    // A workflow starts only the servers its steps call (all of them if a step names one the
    // configuration does not have, so the check can say so).
    let mut config = config;
    if let Some((workflow, _)) = &prepared {
        let used: Vec<String> = workflow
            .file
            .steps
            .iter()
            .filter_map(|s| s.call.as_deref())
            .filter_map(|c| c.split_once('.').or_else(|| c.split_once("__")))
            .map(|(server, _)| server.to_string())
            .collect();
        if used.iter().all(|u| config.servers.contains_key(u)) {
            config.servers.retain(|name, _| used.contains(name));
        }
    }
    runtime.block_on(async move {
        let hub = Hub::connect(&config, startup).await;
        let work = async {
            match (cli.command, prepared) {
                (Command::Tools { json }, _) => list(&hub, json),
                (Command::Call { tool, arguments }, _) => {
                    call(&hub, &tool, arguments.as_deref()).await
                }
                (Command::Run { dry_run, json, .. }, Some((workflow, inputs))) => {
                    run(&hub, &workflow, inputs, dry_run, json).await
                }
                (Command::Run { .. }, None)
                | (Command::Serve { .. } | Command::Token { .. }, _) => ExitCode::from(2),
                (
                    Command::Ask {
                        question,
                        max_turns,
                        max_tokens,
                        save,
                    },
                    _,
                ) => {
                    let options = sophia_host::ask::AskOptions {
                        max_turns,
                        max_tokens,
                        system: None,
                    };
                    ask(&hub, &question, &options, save.as_deref()).await
                }
            }
        };
        // Ctrl-C drops the running call, which tells its server to cancel it.
        let code = tokio::select! {
            code = work => code,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("{NAME}: interrupted; the running call was cancelled");
                tokio::time::sleep(Duration::from_millis(200)).await;
                ExitCode::from(130)
            }
        };
        hub.shutdown().await;
        code
    })
}

fn print(text: &str) {
    // A closed pipe (`| head`) is not worth a panic.
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

fn list(hub: &Hub, as_json: bool) -> ExitCode {
    if as_json {
        let tools: Vec<_> = hub.tools().iter().map(|t| t.as_listed()).collect();
        let resources: Vec<_> = hub.resources().iter().map(|r| r.as_listed()).collect();
        let templates: Vec<_> = hub
            .resource_templates()
            .iter()
            .map(|t| t.as_listed())
            .collect();
        let prompts: Vec<_> = hub.prompts().iter().map(|p| p.as_listed()).collect();
        print(
            &serde_json::to_string_pretty(&json!({
                "tools": tools,
                "resources": resources,
                "resourceTemplates": templates,
                "prompts": prompts,
                "servers": hub.status(),
            }))
            .unwrap_or_default(),
        );
        return ExitCode::SUCCESS;
    }
    for (server, state) in hub.status() {
        print(&format!("# {server}: {state}"));
        for t in hub.tools().iter().filter(|t| t.server == server) {
            let ro = t
                .tool
                .annotations
                .as_ref()
                .and_then(|a| a.read_only_hint)
                .unwrap_or(false);
            let first_line = t
                .tool
                .description
                .as_deref()
                .and_then(|d| d.lines().next())
                .unwrap_or_default()
                .to_string();
            print(&format!(
                "{}{}  {first_line}",
                t.name,
                if ro { "" } else { " (writes)" }
            ));
        }
        for r in hub.resources().iter().filter(|r| r.server == server) {
            print(&format!("resource {}  {}", r.name, r.resource.uri));
        }
        for t in hub
            .resource_templates()
            .iter()
            .filter(|t| t.server == server)
        {
            print(&format!(
                "resource template {}  {}",
                t.name, t.template.uri_template
            ));
        }
        for p in hub.prompts().iter().filter(|p| p.server == server) {
            let args: Vec<String> = p
                .prompt
                .arguments
                .iter()
                .flatten()
                .map(|a| {
                    if a.required == Some(true) {
                        a.name.clone()
                    } else {
                        format!("[{}]", a.name)
                    }
                })
                .collect();
            print(&format!("prompt {}({})", p.name, args.join(", ")));
        }
    }
    ExitCode::SUCCESS
}

async fn call(hub: &Hub, tool: &str, arguments: Option<&str>) -> ExitCode {
    let args: Value = match arguments.map(serde_json::from_str).transpose() {
        Ok(v) => v.unwrap_or(Value::Null),
        Err(e) => {
            eprintln!("{NAME}: the arguments are not JSON: {e}");
            return ExitCode::from(2);
        }
    };
    match hub.call(tool, args).await {
        Ok(result) => {
            let out = match &result.structured_content {
                Some(v) => serde_json::to_string_pretty(v).unwrap_or_default(),
                None => result
                    .content
                    .iter()
                    .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                    .collect::<Vec<_>>()
                    .join("\n"),
            };
            if result.is_error == Some(true) {
                eprintln!("{NAME}: {tool} reported an error:");
                eprintln!("{out}");
                ExitCode::FAILURE
            } else {
                print(&out);
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("{NAME}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Load a workflow and turn `NAME=VALUE` pairs into its typed inputs.
fn prepare(path: &std::path::Path, pairs: &[String]) -> Result<(Workflow, Value), WorkflowError> {
    let mut workflow = Workflow::load(path)?;
    workflow.set_llm(env_llm());
    let mut given = serde_json::Map::new();
    for pair in pairs {
        let Some((name, raw)) = pair.split_once('=') else {
            return Err(WorkflowError::Invalid(vec![format!(
                "--input {pair:?}: use NAME=VALUE"
            )]));
        };
        let is_string = workflow
            .file
            .inputs
            .get(name)
            .is_some_and(|s| s.kind == "string");
        let value = match serde_json::from_str::<Value>(raw) {
            Ok(v) if !is_string || v.is_string() => v,
            _ => Value::String(raw.to_string()),
        };
        given.insert(name.to_string(), value);
    }
    let inputs = workflow.resolve_inputs(&given)?;
    Ok((workflow, inputs))
}

async fn run(
    hub: &Hub,
    workflow: &Workflow,
    inputs: Value,
    dry_run: bool,
    as_json: bool,
) -> ExitCode {
    if dry_run {
        return match workflow.check(hub, &inputs) {
            Ok(()) => {
                print(&serde_json::to_string_pretty(&workflow.plan(&inputs)).unwrap_or_default());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{NAME}: {e}");
                ExitCode::from(2)
            }
        };
    }
    match workflow.run(hub, inputs).await {
        Ok(report) => {
            let shown = if as_json {
                json!({"output": report.output, "steps": report.steps, "calls": report.calls})
            } else {
                report.output
            };
            print(&serde_json::to_string_pretty(&shown).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e @ WorkflowError::Invalid(_)) => {
            eprintln!("{NAME}: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("{NAME}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Streams the answer to stdout and shows each tool call on stderr as it happens.
struct Console;

impl sophia_host::ask::AskObserver for Console {
    fn text(&mut self, delta: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(delta.as_bytes());
        let _ = out.flush();
    }
    fn tool_call(&mut self, name: &str, arguments: &str) {
        let args: String = arguments.chars().take(200).collect();
        eprintln!("-> {name} {args}");
    }
    fn tool_result(&mut self, name: &str, ok: bool, chars: usize) {
        eprintln!(
            "<- {name}: {} ({chars} characters)",
            if ok { "ok" } else { "error" }
        );
    }
}

async fn ask(
    hub: &Hub,
    question: &str,
    options: &sophia_host::ask::AskOptions,
    save: Option<&std::path::Path>,
) -> ExitCode {
    let llm = match env_llm() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            return ExitCode::from(2);
        }
    };
    match sophia_host::ask::ask(hub, &llm, question, options, &mut Console).await {
        Ok(report) => {
            print("");
            if let Some(why) = &report.stopped {
                eprintln!("{NAME}: {why}");
            }
            eprintln!(
                "{NAME}: {} model turns, {} tool calls, {} tokens",
                report.turns, report.tool_calls, report.tokens
            );
            if let Some(path) = save {
                let text = serde_json::to_string_pretty(
                    &json!({"model": llm.model, "messages": report.messages}),
                )
                .unwrap_or_default();
                if let Err(e) = std::fs::write(path, text) {
                    eprintln!(
                        "{NAME}: cannot save the transcript to {}: {e}",
                        path.display()
                    );
                    return ExitCode::FAILURE;
                }
            }
            if report.stopped.is_some() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("{NAME}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Every `*.yaml` / `*.yml` workflow in `dir` (or `./workflows` when no folder is given and it
/// exists), each checked when loaded.
fn load_workflows(dir: Option<&std::path::Path>) -> Result<Vec<Workflow>, WorkflowError> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            let d = PathBuf::from("workflows");
            if !d.is_dir() {
                return Ok(Vec::new());
            }
            d
        }
    };
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| WorkflowError::Load(format!("cannot read {}: {e}", dir.display())))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let mut w = Workflow::load(p)?;
            w.set_llm(env_llm());
            Ok(w)
        })
        .collect()
}

/// The model of `ask` and of workflows' `llm` steps, from the environment.
fn env_llm() -> Result<sophia_host::ask::LlmConfig, String> {
    sophia_host::ask::LlmConfig::from_lookup(|k| std::env::var(k).ok())
}
