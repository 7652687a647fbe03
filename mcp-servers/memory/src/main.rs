//! `sophia-memory`: parse flags and environment, start telemetry, serve.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mcp_core::{Budget, CommonArgs, ServerMeta};
use sophia_memory::{
    Durability, EmbedderChoice, MemoryConfig, MemoryServer, NAME, PORT, default_db_path,
};

#[derive(Parser)]
#[command(name = NAME, version, about = "Sophia memory: a knowledge graph MCP server on an embedded SQLite store")]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,

    /// The SQLite database file (default: the user's data directory, sophia/memory.db).
    #[arg(long, env = "SOPHIA_MEMORY_DB", global = true)]
    db: Option<PathBuf>,

    /// `full` fsyncs every commit (survives power loss); `normal` survives a process crash only.
    #[arg(long, env = "SOPHIA_MEMORY_SYNC", default_value = "full", value_parser = ["full", "normal"], global = true)]
    sync: String,

    /// Default namespace of memories.
    #[arg(
        long,
        env = "SOPHIA_MEMORY_NAMESPACE",
        default_value = "default",
        global = true
    )]
    namespace: String,

    /// `minilm` (default; needs SOPHIA_EMBEDDER_MODEL_DIR), `openai` (SOPHIA_EMBEDDINGS_URL,
    /// _MODEL, _API_KEY), `hash` (deterministic, no meaning: tests and demos) or `none`.
    #[arg(long, env = "SOPHIA_EMBEDDER", default_value = "minilm", value_parser = ["minilm", "openai", "hash", "none"], global = true)]
    embedder: String,

    /// Folder with all-MiniLM-L6-v2's model.safetensors, tokenizer.json and config.json.
    #[arg(long, env = "SOPHIA_EMBEDDER_MODEL_DIR", global = true)]
    model_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Import a reference-server memory file (JSONL). Idempotent.
    Import {
        /// The memory.jsonl file of @modelcontextprotocol/server-memory.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    mcp_core::telemetry::init();
    let config = MemoryConfig {
        db_path: cli.db.clone().unwrap_or_else(default_db_path),
        durability: if cli.sync == "normal" {
            Durability::Normal
        } else {
            Durability::Full
        },
        budget: Budget::from_env(),
        read_only: cli.common.read_only,
        namespace: cli.namespace.clone(),
        embedder: sophia_memory::embed::slot::EmbedderSlot::new(
            sophia_memory::embed::slot::EmbedState::Disabled,
        ),
    };
    let choice = match cli.embedder.as_str() {
        "none" => EmbedderChoice::None,
        "hash" => EmbedderChoice::Hash(384),
        "openai" => match sophia_memory::embed::openai::OpenAiConfig::from_env() {
            Ok(c) => EmbedderChoice::OpenAi(Box::new(c)),
            Err(e) => {
                eprintln!("{NAME}: SOPHIA_EMBEDDER=openai: {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => EmbedderChoice::MiniLm(cli.model_dir.clone()),
    };
    if let Some(Command::Import { file }) = &cli.command {
        return import(&config, file);
    }
    // Store calls run on blocking threads but serialise on one connection: a few threads are
    // enough, and a burst of requests must not grow hundreds of them.
    // One stdio connection needs no worker pool: a current-thread runtime is faster and smaller
    // (measured in BENCHMARKS.md); HTTP serves many clients on a small pool.
    let mut builder = if cli.common.transport == mcp_core::TransportKind::Stdio {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    };
    let runtime = match builder.max_blocking_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{NAME}: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        // --print-tools must not create a database as a side effect.
        let opened = if cli.common.print_tools {
            sophia_memory::Store::open_in_memory()
                .map(|store| MemoryServer::from_store(store, config))
        } else {
            MemoryServer::new(config)
        };
        let server = match opened {
            Ok(s) => s,
            Err(e) => {
                if cli.common.check {
                    use std::io::Write;
                    let _ = writeln!(std::io::stdout().lock(), "{NAME}: not ok: {e}");
                } else {
                    eprintln!("{NAME}: {e}");
                }
                return ExitCode::FAILURE;
            }
        };
        if !cli.common.print_tools && !cli.common.check {
            server.preload_in_background();
            server.start_embedder(choice);
        }
        let meta = ServerMeta {
            name: NAME,
            version: env!("CARGO_PKG_VERSION"),
            default_port: PORT,
        };
        mcp_core::serve::run(meta, &cli.common, server).await
    })
}

fn import(config: &MemoryConfig, file: &std::path::Path) -> ExitCode {
    let mut store = match sophia_memory::Store::open(&config.db_path, config.durability) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match sophia_memory::import::import_file(&mut store, file) {
        Ok(report) => {
            for (line, reason) in &report.skipped {
                eprintln!("{}:{line}: skipped: {reason}", file.display());
            }
            println!(
                "imported {} into {}: {} lines read, {} entities added, {} observations added, {} relations added, {} lines skipped",
                file.display(),
                config.db_path.display(),
                report.lines,
                report.entities_added,
                report.observations_added,
                report.relations_added,
                report.skipped.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{NAME}: import failed, nothing written: {e}");
            ExitCode::FAILURE
        }
    }
}
