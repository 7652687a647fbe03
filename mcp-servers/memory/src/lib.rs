//! sophia-memory: the reference MCP memory server's knowledge graph (same nine tools, same
//! shapes) on an embedded SQLite store that several processes can share without losing a write,
//! with paged reads that respect the response budget.

pub mod backend;
pub mod embed;
pub mod import;
pub mod model;
pub mod pinecone;
pub mod store;
mod tools;
mod tools_memory;

/// The fake Pinecone data plane the tests run against (shared with `tests/`).
#[cfg(test)]
#[path = "../tests/common/pinecone_fake.rs"]
pub(crate) mod pinecone_fake;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mcp_core::{Budget, ToolError};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::router::tool::ToolRouter,
    model::{
        Implementation, ListResourcesResult, PaginatedRequestParams, ReadResourceRequestParams,
        ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ServerCapabilities,
        ServerConfig, SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
    },
    service::{Peer, RequestContext, SubscriptionContext, SubscriptionSink},
    tool_handler,
};

pub use store::{Durability, Store, StoreError};

/// The one resource: the whole graph.
pub const GRAPH_URI: &str = "memory://knowledge-graph";
/// Binary name.
pub const NAME: &str = "sophia-memory";
/// Default HTTP port.
pub const PORT: u16 = 9000;

/// Typed configuration, built once in `main` (tests build it directly).
#[derive(Clone)]
pub struct MemoryConfig {
    /// The SQLite file (`SOPHIA_MEMORY_DB`).
    pub db_path: PathBuf,
    pub durability: Durability,
    pub budget: Budget,
    /// Remove every tool that is not read-only.
    pub read_only: bool,
    /// Default namespace of memories (`SOPHIA_MEMORY_NAMESPACE`, else `default`).
    pub namespace: String,
    /// The embedder (possibly still loading).
    pub embedder: embed::slot::EmbedderSlot,
    /// Where memories live (`SOPHIA_MEMORY_BACKEND`); the graph is always in `db_path`.
    pub backend: backend::BackendChoice,
}

impl MemoryConfig {
    /// Defaults for a database at `db_path`.
    pub fn new(db_path: impl Into<PathBuf>) -> Self {
        Self {
            db_path: db_path.into(),
            durability: Durability::Full,
            budget: Budget::default(),
            read_only: false,
            namespace: "default".into(),
            embedder: embed::slot::EmbedderSlot::new(embed::slot::EmbedState::Disabled),
            backend: backend::BackendChoice::Local,
        }
    }
}

/// The default database location: the user's data directory, `…/sophia/memory.db`.
pub fn default_db_path() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let base = if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        PathBuf::from(x)
    } else if cfg!(target_os = "macos") {
        home.map(|h| h.join("Library/Application Support"))
            .unwrap_or_else(|| PathBuf::from("."))
    } else if cfg!(windows) {
        std::env::var_os("APPDATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
    } else {
        home.map(|h| h.join(".local/share"))
            .unwrap_or_else(|| PathBuf::from("."))
    };
    base.join("sophia").join("memory.db")
}

enum Subscriber {
    /// `resources/subscribe` (protocol versions before 2026-07-28).
    Legacy {
        peer: Peer<RoleServer>,
        uri: String,
        /// The HTTP session id, or "" for stdio/SSE connections.
        session: String,
    },
    /// `subscriptions/listen` (2026-07-28).
    Listen { id: u64, sink: SubscriptionSink },
}

struct Shared {
    store: Mutex<Store>,
    budget: Budget,
    namespace: String,
    embedder: embed::slot::EmbedderSlot,
    backend: backend::Backend,
    /// A second connection for keyword searches (file stores), so they do not hold the store.
    keyword_reader: Option<store::memories::KeywordReader>,
    db_path: PathBuf,
    subscribers: Mutex<Vec<Subscriber>>,
    next_listen_id: std::sync::atomic::AtomicU64,
}

/// The server. Cheap to clone: rmcp's per-request factory clones it; the state is shared.
#[derive(Clone)]
pub struct MemoryServer {
    shared: Arc<Shared>,
    tool_router: Arc<ToolRouter<Self>>,
}

impl MemoryServer {
    /// Open the store and build the router (with `--read-only` applied).
    pub fn new(config: MemoryConfig) -> Result<Self, StoreError> {
        let store = Store::open(&config.db_path, config.durability)?;
        Ok(Self::from_store(store, config))
    }

    /// Build on an already opened store.
    pub fn from_store(store: Store, config: MemoryConfig) -> Self {
        let mut router = Self::tool_router();
        router.merge(Self::memory_router());
        if config.read_only {
            mcp_core::serve::retain_read_only(&mut router);
        }
        let keyword_reader = store.keyword_reader();
        Self {
            shared: Arc::new(Shared {
                keyword_reader,
                store: Mutex::new(store),
                budget: config.budget,
                namespace: config.namespace,
                embedder: config.embedder,
                backend: backend::Backend::open(config.backend),
                db_path: config.db_path,
                subscribers: Mutex::new(Vec::new()),
                next_listen_id: std::sync::atomic::AtomicU64::new(1),
            }),
            tool_router: Arc::new(router),
        }
    }

    /// Load the graph mirror on a blocking thread without delaying `initialize`.
    pub fn preload_in_background(&self) {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            if let Ok(mut store) = shared.store.lock()
                && let Err(e) = store.preload()
            {
                tracing::warn!(error = %e, "could not preload the graph");
            }
        });
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.shared.db_path
    }

    /// Run `f` on the store off the async executor.
    async fn on_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ToolError> {
        self.on_store_tool(move |s| f(s).map_err(store_error)).await
    }

    /// Like `on_store`, for work that can also fail with a tool error (a bad cursor).
    async fn on_store_tool<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, ToolError> + Send + 'static,
    ) -> Result<T, ToolError> {
        let shared = self.shared.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut store = shared
                .store
                .lock()
                .map_err(|_| ToolError::Internal("the store lock is poisoned".into()))?;
            f(&mut store)
        })
        .await;
        joined.map_err(|e| ToolError::Internal(format!("store task failed: {e}")))?
    }

    /// Tell subscribers the graph changed. Sent before the tool's response, as the reference does.
    async fn graph_updated(&self) {
        let targets: Vec<(usize, Either)> = {
            let Ok(subs) = self.shared.subscribers.lock() else {
                return;
            };
            subs.iter()
                .enumerate()
                .filter_map(|(i, s)| match s {
                    Subscriber::Legacy { peer, uri, .. } if uri == GRAPH_URI => {
                        Some((i, Either::Peer(peer.clone())))
                    }
                    Subscriber::Listen { sink, .. } => Some((i, Either::Sink(sink.clone()))),
                    _ => None,
                })
                .collect()
        };
        let mut dead = Vec::new();
        for (i, target) in targets {
            let ok = match target {
                Either::Peer(p) => p
                    .notify_resource_updated(rmcp::model::ResourceUpdatedNotificationParam::new(
                        GRAPH_URI,
                    ))
                    .await
                    .is_ok(),
                Either::Sink(s) => s.notify_resource_updated(GRAPH_URI).await.is_ok(),
            };
            if !ok {
                dead.push(i);
            }
        }
        if !dead.is_empty()
            && let Ok(mut subs) = self.shared.subscribers.lock()
        {
            let mut i = 0;
            subs.retain(|_| {
                let keep = !dead.contains(&i);
                i += 1;
                keep
            });
        }
    }
}

enum Either {
    Peer(Peer<RoleServer>),
    Sink(SubscriptionSink),
}

/// A store failure as the caller sees it.
pub(crate) fn store_error(e: StoreError) -> ToolError {
    match e {
        StoreError::EntityNotFound(_) => ToolError::NotFound(e.to_string()),
        other => {
            tracing::error!(error = %other, "store failure");
            ToolError::Internal(other.to_string())
        }
    }
}

/// Which connection a request came from: the session id of Streamable HTTP (header) or legacy
/// SSE (set by mcp-core's bridge), or "" on stdio, where a process has one connection.
fn session_key(context: &RequestContext<RoleServer>) -> String {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.headers.get("mcp-session-id"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn graph_resource() -> Resource {
    Resource::new(GRAPH_URI, "knowledge-graph")
        .with_title("Knowledge Graph")
        .with_description("The full knowledge graph with all entities and relations")
        .with_mime_type("application/json")
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for MemoryServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .build(),
        )
        .with_server_info(Implementation::new(NAME, env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "A persistent knowledge graph: entities (name, type, observations) and relations. \
             read_graph and search_nodes page large results: pass next_cursor back as cursor.",
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![graph_resource()]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri != GRAPH_URI {
            // -32602 as the reference server answers (and SEP-2164 settles on).
            return Err(ErrorData::invalid_params(
                format!("Resource {} not found", request.uri),
                None,
            ));
        }
        let graph = self
            .on_store(|s| s.read_graph())
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let text = tools::whole_graph_text(graph);
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, GRAPH_URI).with_mime_type("application/json"),
        ])
        .into())
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if let Ok(mut subs) = self.shared.subscribers.lock() {
            subs.retain(
                |s| !matches!(s, Subscriber::Legacy { peer, .. } if peer.is_transport_closed()),
            );
            let key = session_key(&context);
            // One subscription per URI per connection, however often the client subscribes.
            let known = subs.iter().any(|s| {
                matches!(s, Subscriber::Legacy { uri, session, .. } if *uri == request.uri && *session == key)
            });
            if !known {
                subs.push(Subscriber::Legacy {
                    peer: context.peer.clone(),
                    uri: request.uri,
                    session: key,
                });
            }
        }
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if let Ok(mut subs) = self.shared.subscribers.lock() {
            let key = session_key(&context);
            subs.retain(|s| match s {
                Subscriber::Legacy { uri, session, .. } => {
                    !(uri == &request.uri && *session == key)
                }
                Subscriber::Listen { .. } => true,
            });
        }
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = SubscriptionFilter::new();
        if let Some(uris) = &requested.resource_subscriptions {
            let ours: Vec<String> = uris.iter().filter(|u| *u == GRAPH_URI).cloned().collect();
            if !ours.is_empty() {
                accepted.resource_subscriptions = Some(ours);
            }
        }
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let id = self
            .shared
            .next_listen_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut subs) = self.shared.subscribers.lock() {
            subs.push(Subscriber::Listen {
                id,
                sink: context.sink().clone(),
            });
        }
        context.cancelled().await;
        if let Ok(mut subs) = self.shared.subscribers.lock() {
            subs.retain(|s| !matches!(s, Subscriber::Listen { id: i, .. } if *i == id));
        }
        Ok(())
    }
}

impl mcp_core::SophiaServer for MemoryServer {
    fn tools(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router.list_all()
    }

    async fn health(&self) -> serde_json::Value {
        let counts = self.on_store(|s| s.counts()).await.ok();
        if let backend::Backend::Pinecone(b) = &self.shared.backend {
            // No upstream call here: /healthz must stay cheap; `--check` calls Pinecone.
            return serde_json::json!({
                "store": "sqlite",
                "path": self.shared.db_path.display().to_string(),
                "ok": counts.is_some() && b.is_ok(),
                "counts": counts,
                "backend": "pinecone",
                "index_host": b.as_ref().ok().map(|b| b.index_host().to_string()),
                "backend_problem": b.as_ref().err(),
                "embedder": self.shared.embedder.describe(),
            });
        }
        let memories = self.on_store(|s| s.memory_counts()).await.ok();
        serde_json::json!({
            "backend": "local",
            "store": "sqlite",
            "path": self.shared.db_path.display().to_string(),
            "ok": counts.is_some() && memories.is_some(),
            "counts": counts,
            "memories": memories.as_ref().map(|m| m.total),
            "embedded": memories.as_ref().map(|m| m.embedded),
            "embedder": self.shared.embedder.describe(),
        })
    }

    async fn check(&self) -> Result<String, String> {
        let path = self.shared.db_path.display().to_string();
        let counts = self
            .on_store(|s| s.counts())
            .await
            .map_err(|e| format!("store at {path}: {e}"))?;
        if let Some(pc) = self.shared.backend.pinecone().map_err(|e| e.to_string())? {
            let remote = pc.check().await?;
            return Ok(format!(
                "store {path}: {} entities, {} relations, {} observations; memories in {remote}",
                counts.entities, counts.relations, counts.observations
            ));
        }
        let memories = self
            .on_store(|s| s.memory_counts())
            .await
            .map_err(|e| format!("store at {path}: {e}"))?;
        Ok(format!(
            "store {path}: {} entities, {} relations, {} observations, {} memories ({} embedded{})",
            counts.entities,
            counts.relations,
            counts.observations,
            memories.total,
            memories.embedded,
            memories
                .embedder
                .map(|e| format!(" by {e}"))
                .unwrap_or_default()
        ))
    }
}

/// Where the minilm model files are.
#[derive(Debug, Clone)]
pub enum ModelSource {
    Dir(PathBuf),
    Hub(embed::hub::HubConfig),
}

/// Which embedder to run (`SOPHIA_EMBEDDER`).
#[derive(Debug, Clone)]
pub enum EmbedderChoice {
    /// all-MiniLM-L6-v2 (default): from `SOPHIA_EMBEDDER_MODEL_DIR`, else the Hugging Face cache,
    /// downloaded into it on first use.
    MiniLm(ModelSource),
    /// An OpenAI-compatible endpoint (`SOPHIA_EMBEDDINGS_URL`, `_MODEL`, `_API_KEY`).
    OpenAi(Box<embed::openai::OpenAiConfig>),
    /// Deterministic feature hashing (tests and demos; no meaning).
    Hash(usize),
    /// Keyword search only.
    None,
}

/// What is loading, in words (for `mode_used` notes and `memory_stats`; no secrets).
fn describe_choice(choice: &EmbedderChoice) -> String {
    match choice {
        EmbedderChoice::MiniLm(ModelSource::Dir(dir)) => {
            format!("all-MiniLM-L6-v2 from {}", dir.display())
        }
        EmbedderChoice::MiniLm(ModelSource::Hub(_)) => {
            "all-MiniLM-L6-v2 (fetched from the Hugging Face hub on first use, then cached)".into()
        }
        EmbedderChoice::OpenAi(_) => "an OpenAI-compatible embeddings endpoint".into(),
        EmbedderChoice::Hash(d) => format!("hash-{d}"),
        EmbedderChoice::None => "none".into(),
    }
}

/// Load an embedder (model load or endpoint probe).
pub async fn load_embedder(choice: EmbedderChoice) -> Result<Arc<dyn embed::Embedder>, String> {
    match choice {
        EmbedderChoice::Hash(d) => Ok(Arc::new(embed::hash::HashEmbedder::new(d))),
        EmbedderChoice::MiniLm(source) => {
            let dir = match source {
                ModelSource::Dir(dir) => dir,
                ModelSource::Hub(hub) => embed::hub::ensure_model(&hub)
                    .await
                    .map_err(|e| e.to_string())?,
            };
            tokio::task::spawn_blocking(move || embed::minilm::MiniLm::load(&dir))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
                .map(|m| Arc::new(m) as Arc<dyn embed::Embedder>)
        }
        EmbedderChoice::OpenAi(config) => {
            let e = embed::openai::OpenAiEmbedder::new(*config).map_err(|e| e.to_string())?;
            e.probe().await.map_err(|e| e.to_string())?;
            Ok(Arc::new(e))
        }
        EmbedderChoice::None => Err("SOPHIA_EMBEDDER=none".into()),
    }
}

impl MemoryServer {
    /// Load the embedder in the background (never delaying `initialize`), then embed memories
    /// stored while it was loading. Refuses an embedder other than the one the store's vectors
    /// came from.
    pub fn start_embedder(&self, choice: EmbedderChoice) {
        use embed::slot::EmbedState;
        let slot = self.shared.embedder.clone();
        let server = self.clone();
        match choice {
            EmbedderChoice::None => slot.set(EmbedState::Disabled),
            choice => {
                slot.set(EmbedState::Loading(describe_choice(&choice)));
                tokio::spawn(async move {
                    let loaded = load_embedder(choice).await;
                    let embedder = match loaded {
                        Ok(e) => e,
                        Err(why) => {
                            tracing::warn!("embedder unavailable: {why}");
                            slot.set(EmbedState::Failed(why));
                            return;
                        }
                    };
                    let recorded = server.on_store(|s| s.memory_embedder()).await;
                    if let Ok(Some((id, dim))) = recorded
                        && (id != embedder.id() || dim != embedder.dimension())
                    {
                        let why = format!(
                            "the store's vectors come from {id} ({dim}-d), not {} ({}-d); run `sophia-memory reembed` or use the old embedder",
                            embedder.id(),
                            embedder.dimension()
                        );
                        tracing::warn!("{why}");
                        slot.set(EmbedState::Failed(why));
                        return;
                    }
                    tracing::info!(embedder = embedder.id(), "embedder ready");
                    slot.set(EmbedState::Ready(embedder.clone()));
                    server.backfill_embeddings(embedder).await;
                });
            }
        }
    }

    /// Embed memories stored without a vector, in batches.
    async fn backfill_embeddings(&self, embedder: Arc<dyn embed::Embedder>) {
        loop {
            let batch = match self.on_store(|s| s.memory_unembedded(32)).await {
                Ok(b) if !b.is_empty() => b,
                _ => return,
            };
            let texts: Vec<String> = batch.iter().map(|(_, c)| c.clone()).collect();
            let vectors = match embedder.embed(&texts).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "background embedding failed; will retry at the next start");
                    return;
                }
            };
            let id = embedder.id().to_string();
            let pairs: Vec<(String, Vec<f32>)> =
                batch.into_iter().map(|(i, _)| i).zip(vectors).collect();
            let n = pairs.len();
            if self
                .on_store(move |s| s.memory_set_embeddings(&id, pairs))
                .await
                .is_err()
                || n == 0
            {
                return;
            }
        }
    }
}
