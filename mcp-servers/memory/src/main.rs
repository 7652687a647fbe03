//! `sophia-memory`: parse flags and environment, start telemetry, serve.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mcp_core::{Budget, CommonArgs, ServerMeta};
use sophia_memory::backend::{BackendChoice, PineconeBackend};
use sophia_memory::{
    Durability, EmbedderChoice, MemoryConfig, MemoryServer, ModelSource, NAME, PORT,
    default_db_path,
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

    /// Where memories live: `local` (the SQLite file) or `pinecone` (PINECONE_API_KEY,
    /// PINECONE_INDEX_HOST). The knowledge graph is always in the SQLite file.
    #[arg(long, env = "SOPHIA_MEMORY_BACKEND", default_value = "local", value_parser = ["local", "pinecone"], global = true)]
    backend: String,

    /// Folder with all-MiniLM-L6-v2's model.safetensors, tokenizer.json and config.json.
    #[arg(long, env = "SOPHIA_EMBEDDER_MODEL_DIR", global = true)]
    model_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Import a reference-server memory file (JSONL). Idempotent.
    /// Import a JSONL file: a reference-server memory.jsonl, or what `export` wrote (graph and
    /// memories with their vectors). Idempotent.
    Import {
        /// The file (or use --from).
        file: Option<PathBuf>,
        /// The file.
        #[arg(long = "from")]
        from: Option<PathBuf>,
    },
    /// Write the whole store as JSONL (graph, then memories with vectors) to stdout or --to.
    Export {
        #[arg(long)]
        to: Option<PathBuf>,
    },
    /// Re-embed every memory with the configured embedder (after switching embedders).
    Reembed,
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
        backend: match BackendChoice::from_lookup(Some(&cli.backend), |k| std::env::var(k).ok()) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{NAME}: {e}");
                return ExitCode::FAILURE;
            }
        },
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
        _ => EmbedderChoice::MiniLm(match cli.model_dir.clone() {
            Some(dir) => ModelSource::Dir(dir),
            None => ModelSource::Hub(sophia_memory::embed::hub::HubConfig::from_lookup(|k| {
                std::env::var(k).ok()
            })),
        }),
    };
    match &cli.command {
        Some(Command::Import { file, from }) => {
            let Some(file) = from.as_ref().or(file.as_ref()) else {
                eprintln!(
                    "{NAME}: import needs a file: sophia-memory import FILE (or --from FILE)"
                );
                return ExitCode::FAILURE;
            };
            if let BackendChoice::Pinecone(pc) = &config.backend {
                return import_pinecone(&config, pc.clone(), choice, file);
            }
            return import(&config, file);
        }
        Some(Command::Export { to }) => {
            if let BackendChoice::Pinecone(pc) = &config.backend {
                return export_pinecone(&config, pc.clone(), to.as_deref());
            }
            return export(&config, to.as_deref());
        }
        Some(Command::Reembed) => return reembed(&config, choice),
        None => {}
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
                "imported {} into {}: {} lines read, {} entities added, {} observations added, {} relations added, {} memories written ({} with vectors kept), {} lines skipped",
                file.display(),
                config.db_path.display(),
                report.lines,
                report.entities_added,
                report.observations_added,
                report.relations_added,
                report.memories_written,
                report.vectors_kept,
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

fn export(config: &MemoryConfig, to: Option<&std::path::Path>) -> ExitCode {
    let mut store = match sophia_memory::Store::open(&config.db_path, config.durability) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match to {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => {
                let mut w = std::io::BufWriter::new(f);
                sophia_memory::import::export(&mut store, &mut w)
            }
            Err(e) => {
                eprintln!("{NAME}: cannot create {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            sophia_memory::import::export(&mut store, &mut w)
        }
    };
    match result {
        Ok((e, r, m)) => {
            eprintln!("{NAME}: exported {e} entities, {r} relations, {m} memories");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{NAME}: export failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn reembed(config: &MemoryConfig, choice: EmbedderChoice) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{NAME}: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let embedder = match sophia_memory::load_embedder(choice).await {
            Ok(e) => e,
            Err(why) => {
                eprintln!("{NAME}: reembed needs a working embedder: {why}");
                return ExitCode::FAILURE;
            }
        };
        let mut store = match sophia_memory::Store::open(&config.db_path, config.durability) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{NAME}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let total = match store.memory_clear_embeddings() {
            Ok(_) => store.memory_counts().map(|c| c.total).unwrap_or(0),
            Err(e) => {
                eprintln!("{NAME}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut done = 0i64;
        loop {
            let batch = match store.memory_unembedded(64) {
                Ok(b) if !b.is_empty() => b,
                Ok(_) => break,
                Err(e) => {
                    eprintln!("{NAME}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let texts: Vec<String> = batch.iter().map(|(_, c)| c.clone()).collect();
            let vectors = match embedder.embed(&texts).await {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("{NAME}: embedding failed after {done} of {total}: {e} (run reembed again to finish)");
                    return ExitCode::FAILURE;
                }
            };
            let pairs: Vec<(String, Vec<f32>)> = batch.into_iter().map(|(i, _)| i).zip(vectors).collect();
            done += pairs.len() as i64;
            if let Err(e) = store.memory_set_embeddings(embedder.id(), pairs) {
                eprintln!("{NAME}: {e}");
                return ExitCode::FAILURE;
            }
            eprintln!("{NAME}: re-embedded {done}/{total}");
        }
        println!("{NAME}: re-embedded {done} memories with {} ({}-d)", embedder.id(), embedder.dimension());
        ExitCode::SUCCESS
    })
}

fn small_runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("{NAME}: cannot start the runtime: {e}");
            None
        }
    }
}

fn pinecone_backend(
    pc: Result<sophia_memory::pinecone::PineconeConfig, String>,
) -> Option<std::sync::Arc<PineconeBackend>> {
    match pc.and_then(|c| PineconeBackend::new(c).map_err(|e| e.to_string())) {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!("{NAME}: SOPHIA_MEMORY_BACKEND=pinecone: {e}");
            None
        }
    }
}

/// `import --from FILE` with the pinecone backend: the graph into the SQLite file, the memories
/// into the index (vectors kept when they came from the configured embedder, else re-embedded).
fn import_pinecone(
    config: &MemoryConfig,
    pc: Result<sophia_memory::pinecone::PineconeConfig, String>,
    choice: EmbedderChoice,
    file: &std::path::Path,
) -> ExitCode {
    let Some(backend) = pinecone_backend(pc) else {
        return ExitCode::FAILURE;
    };
    let Some(runtime) = small_runtime() else {
        return ExitCode::FAILURE;
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{NAME}: cannot read {}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let mut report = sophia_memory::import::ImportReport::default();
    let parsed = sophia_memory::import::parse(&text, &mut report);
    for (line, reason) in &report.skipped {
        eprintln!("{}:{line}: skipped: {reason}", file.display());
    }
    let mut store = match sophia_memory::Store::open(&config.db_path, config.durability) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (entities, observations, relations) = match store.import(parsed.entities, parsed.relations)
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{NAME}: import failed, nothing written: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let embedder = match choice {
            EmbedderChoice::None => None,
            choice => match sophia_memory::load_embedder(choice).await {
                Ok(e) => Some(e),
                Err(why) => {
                    eprintln!("{NAME}: no embedder ({why}); memories without a vector are skipped");
                    None
                }
            },
        };
        match backend.import(parsed.memories, embedder).await {
            Ok((written, kept, skipped)) => {
                for (id, why) in &skipped {
                    eprintln!("{NAME}: memory {id} skipped: {why}");
                }
                println!(
                    "imported {} into {} and Pinecone index {}: {} lines read, {entities} entities added, {observations} observations added, {relations} relations added, {written} memories written ({kept} with vectors kept), {} skipped",
                    file.display(),
                    config.db_path.display(),
                    backend.index_host(),
                    report.lines,
                    report.skipped.len() + skipped.len()
                );
                if skipped.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("{NAME}: writing memories to Pinecone failed: {e} (importing again is safe)");
                ExitCode::FAILURE
            }
        }
    })
}

/// `export` with the pinecone backend: the graph from the SQLite file, the memories (with their
/// vectors) from the index.
fn export_pinecone(
    config: &MemoryConfig,
    pc: Result<sophia_memory::pinecone::PineconeConfig, String>,
    to: Option<&std::path::Path>,
) -> ExitCode {
    let Some(backend) = pinecone_backend(pc) else {
        return ExitCode::FAILURE;
    };
    let Some(runtime) = small_runtime() else {
        return ExitCode::FAILURE;
    };
    let memories = match runtime.block_on(backend.export()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{NAME}: reading memories from Pinecone failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut store = match sophia_memory::Store::open(&config.db_path, config.durability) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut write = |out: &mut dyn std::io::Write| {
        sophia_memory::import::export_with(&mut store, &memories, out)
    };
    let result = match to {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => write(&mut std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("{NAME}: cannot create {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        None => write(&mut std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match result {
        Ok((e, r, m)) => {
            eprintln!("{NAME}: exported {e} entities, {r} relations, {m} memories");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{NAME}: export failed: {e}");
            ExitCode::FAILURE
        }
    }
}
