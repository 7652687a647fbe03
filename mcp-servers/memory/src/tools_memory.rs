//! Semantic memory tools beside the nine graph tools: store, search (hybrid BM25 + cosine fused by
//! reciprocal rank), get, update, delete, list, stats. Results respect the response budget.

use std::collections::HashMap;

use mcp_core::{
    Budget, ToolError,
    budget::{decode_cursor, encode_cursor},
};
use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::MemoryServer;
use crate::store::memories::{Memory, MemoryCounts, MemoryFilter, NewMemory, PutOutcome};

/// Longest content one `store_memory` call takes.
pub const MAX_CONTENT_BYTES: usize = 32 * 1024;
/// Chunk window for long texts when the embedder has no tokenizer (characters; about 200–250
/// tokens of English).
pub const CHUNK_CHARS: usize = 900;
/// Overlap between consecutive chunks.
pub const CHUNK_OVERLAP: usize = 150;
/// Cosine at or above which a new memory updates its near-duplicate.
pub const DUP_COSINE: f32 = 0.97;
/// Reciprocal rank fusion constant.
const RRF_K: f64 = 60.0;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct StoreMemoryParams {
    /// The text to remember (up to 32 KiB; long texts are split into overlapping chunks that
    /// share a document_id)
    pub content: String,
    /// Flat object of string, number or boolean values (e.g. {"account": "Acme", "amount": 5000})
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// Tags, e.g. ["sales", "pricing"]
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Namespace (default: the server's, usually `default`)
    #[serde(default)]
    pub namespace: Option<String>,
    /// Provenance: `gong:call/8123`, a URL, ...
    #[serde(default)]
    pub source: Option<String>,
    /// Update the memory with this id instead of adding one
    #[serde(default)]
    pub id: Option<String>,
    /// Forget after this time (ISO-8601, e.g. 2027-01-01T00:00:00Z)
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Knowledge-graph entity names this memory is about
    #[serde(default)]
    pub entities: Option<Vec<String>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StoreMemoryOutput {
    /// One per stored chunk
    pub results: Vec<PutOutcome>,
    /// Shared by the chunks when the text was split
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    /// Whether vectors were stored now (false: keyword-searchable now, embedded when the embedder is ready)
    pub embedded: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SemanticSearchParams {
    /// What to look for, in natural language
    pub query: String,
    /// How many hits (default 10, max 100)
    #[serde(default)]
    pub top_k: Option<u32>,
    /// Namespace (default: the server's)
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only memories matching these conditions
    #[serde(default)]
    pub filters: Option<MemoryFilter>,
    /// `hybrid` (default: keyword + meaning), `semantic` (meaning only) or `keyword`
    #[serde(default)]
    pub mode: Option<String>,
    /// Drop hits scoring below this (cosine for semantic, fused score for hybrid, BM25 for keyword)
    #[serde(default)]
    pub min_score: Option<f64>,
}

/// Scores of one hit, per signal.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Scores {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bm25: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cosine: Option<f64>,
    /// Reciprocal rank fusion (hybrid)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fused: Option<f64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Hit {
    #[serde(flatten)]
    pub memory: Memory,
    pub scores: Scores,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchOutput {
    pub hits: Vec<Hit>,
    /// The mode actually used (keyword when the embedder is not ready)
    pub mode_used: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[serde(default)]
    pub truncated: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetMemoryParams {
    /// Memory ids
    pub ids: Vec<String>,
    /// Only in this namespace (on the pinecone backend, where ids live per namespace, the
    /// default is the server's namespace)
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MemoriesOutput {
    pub memories: Vec<Memory>,
    /// Requested ids that do not exist
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateMemoryParams {
    /// The memory to change
    pub id: String,
    /// Its namespace (needed on the pinecone backend only; default: the server's)
    #[serde(default)]
    pub namespace: Option<String>,
    /// New content (re-embedded)
    #[serde(default)]
    pub content: Option<String>,
    /// Metadata to merge (or replace, with metadata_mode = "replace")
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// `merge` (default) or `replace`
    #[serde(default)]
    pub metadata_mode: Option<String>,
    /// New tags (replace the old ones)
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MemoryOutput {
    /// The memory as stored after the update
    pub memory: Memory,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteMemoryParams {
    /// Delete these ids
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    /// Or delete everything matching this filter (within `namespace`)
    #[serde(default)]
    pub filter: Option<MemoryFilter>,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Required to delete by filter; without it the call only counts what would be deleted
    #[serde(default)]
    pub confirm: Option<bool>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DeleteMemoryOutput {
    /// How many were (or, in a dry run, would be) deleted
    pub count: usize,
    pub deleted: Vec<String>,
    /// True when nothing was deleted because `confirm` was not set
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListMemoriesParams {
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub filters: Option<MemoryFilter>,
    /// Page size (default 20, max 100)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor of the previous page
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListMemoriesOutput {
    /// Newest first (on the pinecone backend: in id order, see `note`)
    pub items: Vec<Memory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[serde(default)]
    pub truncated: bool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct MemoryStatsParams {}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MemoryStatsOutput {
    #[serde(flatten)]
    pub counts: MemoryCounts,
    /// `local` (SQLite) or `pinecone`
    pub backend: String,
    /// The embedder's state
    pub embedder_status: String,
    /// Whether every memory has a vector
    pub embeddings_complete: bool,
}

// ---------------------------------------------------------------------------------------------

fn check_metadata(m: &serde_json::Map<String, Value>) -> Result<(), ToolError> {
    for (k, v) in m {
        if !matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
            return Err(ToolError::InvalidInput(format!(
                "metadata.{k} must be a string, number or boolean (metadata is flat)"
            )));
        }
    }
    Ok(())
}

fn check_time(what: &str, t: &Option<String>) -> Result<(), ToolError> {
    if let Some(t) = t {
        let ok = t.len() >= 10
            && t.as_bytes()[4] == b'-'
            && t.as_bytes()[7] == b'-'
            && t[..4].bytes().all(|b| b.is_ascii_digit());
        if !ok {
            return Err(ToolError::InvalidInput(format!(
                "{what} must be an ISO-8601 date or time, e.g. 2027-01-01T00:00:00Z"
            )));
        }
    }
    Ok(())
}

/// Split on character boundaries into overlapping windows, preferring to cut at whitespace.
pub fn chunk(text: &str, window: usize, overlap: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= window {
        return vec![text.to_string()];
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let mut end = (start + window).min(chars.len());
        if end < chars.len()
            && let Some(ws) = (start + window / 2..end)
                .rev()
                .find(|&i| chars[i].is_whitespace())
        {
            end = ws;
        }
        out.push(
            chars[start..end]
                .iter()
                .collect::<String>()
                .trim()
                .to_string(),
        );
        if end >= chars.len() {
            break;
        }
        start = end.saturating_sub(overlap).max(start + 1);
    }
    out
}

/// The pinecone backend needs vectors, and the embedder is not ready.
fn not_ready(state: &str) -> ToolError {
    ToolError::Upstream {
        service: "embedder",
        detail: format!(
            "the pinecone backend needs vectors and the embedder is {state}; retry when it is ready"
        ),
        retryable: true,
    }
}

async fn embed_one(e: &dyn crate::embed::Embedder, text: &str) -> Result<Vec<f32>, ToolError> {
    e.embed(&[text.to_string()])
        .await
        .map_err(|err| ToolError::Upstream {
            service: "embedder",
            detail: err.to_string(),
            retryable: true,
        })?
        .into_iter()
        .next()
        .ok_or_else(|| ToolError::Internal("the embedder returned no vector".into()))
}

fn store_err(e: crate::store::StoreError) -> ToolError {
    match e {
        crate::store::StoreError::Invalid(m) => ToolError::InvalidInput(m),
        other => crate::store_error(other),
    }
}

/// Where a Pinecone listing continues: a list token and how many of its page were returned
/// (no filter), or the last id returned (with a filter).
#[derive(Default, Serialize, Deserialize)]
struct PineconePos {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    s: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize)]
struct ListPos {
    u: String,
    r: i64,
}

#[tool_router(router = memory_router, vis = "pub(crate)")]
impl MemoryServer {
    /// Remember a piece of text (a fact, a decision, what a customer said) with metadata, tags and
    /// provenance. Near-duplicates in the same namespace update the existing memory. Returns the id(s).
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn store_memory(
        &self,
        Parameters(p): Parameters<StoreMemoryParams>,
    ) -> Result<Json<StoreMemoryOutput>, ToolError> {
        if p.content.trim().is_empty() {
            return Err(ToolError::InvalidInput("content is empty".into()));
        }
        if p.content.len() > MAX_CONTENT_BYTES {
            return Err(ToolError::InvalidInput(format!(
                "content is {} bytes; the most is {MAX_CONTENT_BYTES} (32 KiB): split it into several memories",
                p.content.len()
            )));
        }
        let metadata = p.metadata.unwrap_or_default();
        check_metadata(&metadata)?;
        check_time("expires_at", &p.expires_at)?;
        let namespace = p.namespace.unwrap_or_else(|| self.shared.namespace.clone());
        // Fail on a misconfigured backend before spending time on embeddings.
        self.shared.backend.pinecone()?;
        let embedder = self.shared.embedder.get();
        // Windows of the model's own tokens when it has a tokenizer (MiniLM: 256), else by
        // characters (about the same size in English).
        let pieces = match embedder.as_ref().and_then(|e| e.chunk(&p.content)) {
            Some(Ok(pieces)) => pieces,
            Some(Err(e)) => {
                return Err(ToolError::Upstream {
                    service: "embedder",
                    detail: e.to_string(),
                    retryable: false,
                });
            }
            None => chunk(&p.content, CHUNK_CHARS, CHUNK_OVERLAP),
        };
        let document_id = (pieces.len() > 1).then(|| {
            p.id.clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
        });
        let vectors = match &embedder {
            Some(e) => Some(e.embed(&pieces).await.map_err(|err| ToolError::Upstream {
                service: "embedder",
                detail: err.to_string(),
                retryable: true,
            })?),
            None => None,
        };
        let items: Vec<NewMemory> = pieces
            .into_iter()
            .enumerate()
            .map(|(i, content)| NewMemory {
                id: match (&document_id, &p.id) {
                    (Some(doc), _) => Some(format!("{doc}#{i}")),
                    (None, id) => id.clone(),
                },
                namespace: namespace.clone(),
                document_id: document_id.clone(),
                chunk_index: i as i64,
                content,
                metadata: metadata.clone(),
                tags: p.tags.clone().unwrap_or_default(),
                source: p.source.clone(),
                entities: p.entities.clone().unwrap_or_default(),
                expires_at: p.expires_at.clone(),
                embedding: match (&embedder, &vectors) {
                    (Some(e), Some(v)) => v.get(i).map(|v| (e.id().to_string(), v.clone())),
                    _ => None,
                },
            })
            .collect();
        let embedded = vectors.is_some();
        let results = match self.shared.backend.pinecone()? {
            Some(pc) => pc.put(items, DUP_COSINE).await?,
            None => {
                self.on_store_tool(move |s| s.memory_put(items, DUP_COSINE).map_err(store_err))
                    .await?
            }
        };
        Ok(Json(StoreMemoryOutput {
            results,
            document_id,
            embedded,
        }))
    }

    /// Find memories by meaning and keywords. `mode`: hybrid (default), semantic or keyword.
    /// Filters narrow by metadata, tags, source prefix and time windows.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn semantic_search(
        &self,
        Parameters(p): Parameters<SemanticSearchParams>,
    ) -> Result<Json<SearchOutput>, ToolError> {
        let k = match p.top_k {
            None => 10,
            Some(0) => return Err(ToolError::InvalidInput("top_k must be at least 1".into())),
            Some(n) if n > 100 => {
                return Err(ToolError::InvalidInput(format!(
                    "top_k {n} is over the maximum of 100"
                )));
            }
            Some(n) => n as usize,
        };
        let asked = p.mode.unwrap_or_else(|| "hybrid".into());
        if !matches!(asked.as_str(), "hybrid" | "semantic" | "keyword") {
            return Err(ToolError::InvalidInput(format!(
                "mode {asked:?}: use hybrid, semantic or keyword"
            )));
        }
        let namespace = p.namespace.unwrap_or_else(|| self.shared.namespace.clone());
        let filter = p.filters.unwrap_or_default();
        let embedder = self.shared.embedder.get();
        if let Some(pc) = self.shared.backend.pinecone()? {
            let Some(e) = &embedder else {
                return Err(not_ready(&self.shared.embedder.describe()));
            };
            let qvec = embed_one(e.as_ref(), &p.query).await?;
            let note = match asked.as_str() {
                "semantic" => None,
                other => Some(format!(
                    "the pinecone backend has no keyword index: {other} ran as semantic"
                )),
            };
            let mut found = pc.search(&namespace, &qvec, &filter, k).await?;
            if let Some(min) = p.min_score {
                found.retain(|(_, score)| *score >= min);
            }
            let hits: Vec<Hit> = found
                .into_iter()
                .map(|(memory, cosine)| Hit {
                    memory,
                    scores: Scores {
                        cosine: Some(cosine),
                        ..Scores::default()
                    },
                })
                .collect();
            let packed = Budget::pack(self.shared.budget.item_chars(), usize::MAX, hits);
            return Ok(Json(SearchOutput {
                hits: packed.items,
                mode_used: "semantic".into(),
                note,
                truncated: packed.more,
            }));
        }
        let (mode, note) = match (&embedder, asked.as_str()) {
            (None, "hybrid" | "semantic") => (
                "keyword".to_string(),
                Some(format!(
                    "embedder {}; searched by keyword only",
                    self.shared.embedder.describe()
                )),
            ),
            _ => (asked.clone(), None),
        };
        let budget = self.shared.budget;
        let min_score = p.min_score;
        let pool = (k * 4).max(40);
        // Two halves at once: keyword search on its own connection (FTS5), and the query's
        // embedding followed by the vector scan on the store. Hybrid then costs about
        // max(keyword, embedding + scan) instead of their sum.
        let keyword = async {
            if mode == "semantic" {
                return Ok(Vec::new());
            }
            let (query, namespace, filter) = (p.query.clone(), namespace.clone(), filter.clone());
            match self.shared.keyword_reader.clone() {
                Some(reader) => tokio::task::spawn_blocking(move || {
                    reader
                        .search(&query, Some(&namespace), &filter, pool)
                        .map_err(store_err)
                })
                .await
                .map_err(|e| ToolError::Internal(format!("keyword task failed: {e}")))?,
                None => {
                    self.on_store_tool(move |s| {
                        s.memory_keyword(&query, Some(&namespace), &filter, pool)
                            .map_err(store_err)
                    })
                    .await
                }
            }
        };
        let vector = async {
            let qvec = match (&embedder, mode.as_str()) {
                (Some(e), "hybrid" | "semantic") => Some(embed_one(e.as_ref(), &p.query).await?),
                _ => None,
            };
            match qvec {
                Some(q) => {
                    let (namespace, filter) = (namespace.clone(), filter.clone());
                    self.on_store_tool(move |s| {
                        s.memory_vector(&q, Some(&namespace), &filter, pool)
                            .map_err(store_err)
                    })
                    .await
                }
                None => Ok(Vec::new()),
            }
        };
        let (kw, vs) = tokio::join!(keyword, vector);
        let (kw, vs) = (kw?, vs?);
        let mode_c = mode.clone();
        let (hits, truncated) = self
            .on_store_tool(move |s| {
                let mut scores: HashMap<i64, Scores> = HashMap::new();
                for (rank, (id, bm)) in kw.iter().enumerate() {
                    let e = scores.entry(*id).or_default();
                    e.bm25 = Some(*bm);
                    *e.fused.get_or_insert(0.0) += 1.0 / (RRF_K + rank as f64 + 1.0);
                }
                for (rank, (id, cos)) in vs.iter().enumerate() {
                    let e = scores.entry(*id).or_default();
                    e.cosine = Some(f64::from(*cos));
                    *e.fused.get_or_insert(0.0) += 1.0 / (RRF_K + rank as f64 + 1.0);
                }
                let main = |sc: &Scores| match mode_c.as_str() {
                    "semantic" => sc.cosine.unwrap_or(f64::NEG_INFINITY),
                    "keyword" => sc.bm25.unwrap_or(f64::NEG_INFINITY),
                    _ => sc.fused.unwrap_or(0.0),
                };
                let mut ranked: Vec<(i64, Scores)> = scores.into_iter().collect();
                ranked.sort_by(|a, b| main(&b.1).total_cmp(&main(&a.1)).then(a.0.cmp(&b.0)));
                if let Some(min) = min_score {
                    ranked.retain(|(_, sc)| main(sc) >= min);
                }
                ranked.truncate(k);
                if mode_c != "hybrid" {
                    for (_, sc) in ranked.iter_mut() {
                        sc.fused = None;
                    }
                }
                let ids: Vec<i64> = ranked.iter().map(|(id, _)| *id).collect();
                let mut rows = s.memory_rows(&ids).map_err(store_err)?;
                let hits: Vec<Hit> = ranked
                    .into_iter()
                    .filter_map(|(id, scores)| {
                        rows.remove(&id).map(|memory| Hit { memory, scores })
                    })
                    .collect();
                let packed = Budget::pack(budget.item_chars(), usize::MAX, hits);
                Ok((packed.items, packed.more))
            })
            .await?;
        Ok(Json(SearchOutput {
            hits,
            mode_used: mode,
            note,
            truncated,
        }))
    }

    /// Read memories by id.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn get_memory(
        &self,
        Parameters(p): Parameters<GetMemoryParams>,
    ) -> Result<Json<MemoriesOutput>, ToolError> {
        if p.ids.len() > 100 {
            return Err(ToolError::InvalidInput("at most 100 ids per call".into()));
        }
        let ids = p.ids.clone();
        let mut memories = match self.shared.backend.pinecone()? {
            Some(pc) => {
                let ns = p
                    .namespace
                    .clone()
                    .unwrap_or_else(|| self.shared.namespace.clone());
                pc.get(&ns, &ids).await?
            }
            None => {
                self.on_store_tool(move |s| s.memory_get(&ids).map_err(store_err))
                    .await?
            }
        };
        if let Some(ns) = &p.namespace {
            memories.retain(|m| &m.namespace == ns);
        }
        let missing = p
            .ids
            .into_iter()
            .filter(|id| !memories.iter().any(|m| &m.id == id))
            .collect();
        Ok(Json(MemoriesOutput { memories, missing }))
    }

    /// Change a memory: new content is re-embedded; metadata is merged (or replaced).
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn update_memory(
        &self,
        Parameters(p): Parameters<UpdateMemoryParams>,
    ) -> Result<Json<MemoryOutput>, ToolError> {
        let id = p.id.clone();
        let pc = self.shared.backend.pinecone()?;
        let found = match &pc {
            Some(pc) => {
                let ns = p
                    .namespace
                    .clone()
                    .unwrap_or_else(|| self.shared.namespace.clone());
                pc.get(&ns, std::slice::from_ref(&id)).await?
            }
            None => {
                self.on_store_tool(move |s| {
                    s.memory_get(std::slice::from_ref(&id)).map_err(store_err)
                })
                .await?
            }
        };
        let current = found
            .into_iter()
            .find(|m| p.namespace.as_ref().is_none_or(|ns| &m.namespace == ns))
            .ok_or_else(|| {
                ToolError::NotFound(format!(
                    "memory {} not found; semantic_search or list_memories give ids",
                    p.id
                ))
            })?;
        let replace = match p.metadata_mode.as_deref() {
            None | Some("merge") => false,
            Some("replace") => true,
            Some(other) => {
                return Err(ToolError::InvalidInput(format!(
                    "metadata_mode {other:?}: use merge or replace"
                )));
            }
        };
        let mut metadata = if replace {
            serde_json::Map::new()
        } else {
            current.metadata.clone()
        };
        if let Some(m) = p.metadata {
            check_metadata(&m)?;
            metadata.extend(m);
        }
        check_time("expires_at", &p.expires_at)?;
        let content = p.content.unwrap_or_else(|| current.content.clone());
        if content.trim().is_empty() || content.len() > MAX_CONTENT_BYTES {
            return Err(ToolError::InvalidInput(
                "content must be 1 byte to 32 KiB".into(),
            ));
        }
        let embedder = self.shared.embedder.get();
        let embedding = match &embedder {
            Some(e) => e
                .embed(std::slice::from_ref(&content))
                .await
                .map_err(|err| ToolError::Upstream {
                    service: "embedder",
                    detail: err.to_string(),
                    retryable: true,
                })?
                .into_iter()
                .next()
                .map(|v| (e.id().to_string(), v)),
            None => None,
        };
        let item = NewMemory {
            id: Some(current.id.clone()),
            namespace: current.namespace.clone(),
            document_id: current.document_id.clone(),
            chunk_index: current.chunk_index,
            content,
            metadata,
            tags: p.tags.unwrap_or(current.tags),
            source: p.source.or(current.source),
            entities: current.entities,
            expires_at: p.expires_at.or(current.expires_at),
            embedding,
        };
        let id = current.id;
        if let Some(pc) = pc {
            if item.embedding.is_none() {
                return Err(not_ready(&self.shared.embedder.describe()));
            }
            let ns = item.namespace.clone();
            pc.put(vec![item], 2.0).await?;
            let memory = pc
                .get(&ns, std::slice::from_ref(&id))
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    ToolError::Internal("the memory vanished during the update".into())
                })?;
            return Ok(Json(MemoryOutput { memory }));
        }
        let memory = self
            .on_store_tool(move |s| {
                s.memory_put(vec![item], 2.0).map_err(store_err)?;
                s.memory_get(std::slice::from_ref(&id)).map_err(store_err)
            })
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ToolError::Internal("the memory vanished during the update".into()))?;
        Ok(Json(MemoryOutput { memory }))
    }

    /// Delete memories by id, or by filter: without `confirm: true` a filter delete only counts.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn delete_memory(
        &self,
        Parameters(p): Parameters<DeleteMemoryParams>,
    ) -> Result<Json<DeleteMemoryOutput>, ToolError> {
        if let Some(pc) = self.shared.backend.pinecone()? {
            let namespace = p.namespace.unwrap_or_else(|| self.shared.namespace.clone());
            return match (p.ids, p.filter) {
                (Some(ids), None) => {
                    let deleted = pc.delete(&namespace, &ids).await?;
                    Ok(Json(DeleteMemoryOutput {
                        count: deleted.len(),
                        deleted,
                        dry_run: false,
                    }))
                }
                (None, Some(filter)) if !filter.is_empty() => {
                    let embedder = self.shared.embedder.get();
                    let ids = pc
                        .ids_where(&namespace, &filter, embedder.as_deref())
                        .await?;
                    let (deleted, dry_run) = if p.confirm == Some(true) {
                        (pc.delete(&namespace, &ids).await?, false)
                    } else {
                        (ids, true)
                    };
                    Ok(Json(DeleteMemoryOutput {
                        count: deleted.len(),
                        deleted,
                        dry_run,
                    }))
                }
                (None, Some(_)) => Err(ToolError::InvalidInput(
                    "an empty filter would delete everything; give at least one condition".into(),
                )),
                _ => Err(ToolError::InvalidInput("give either ids or filter".into())),
            };
        }
        match (p.ids, p.filter) {
            (Some(ids), None) => {
                let deleted = self
                    .on_store_tool(move |s| s.memory_delete(&ids).map_err(store_err))
                    .await?;
                Ok(Json(DeleteMemoryOutput {
                    count: deleted.len(),
                    deleted,
                    dry_run: false,
                }))
            }
            (None, Some(filter)) => {
                if filter.is_empty() {
                    return Err(ToolError::InvalidInput(
                        "an empty filter would delete everything; give at least one condition"
                            .into(),
                    ));
                }
                let namespace = p.namespace.unwrap_or_else(|| self.shared.namespace.clone());
                let confirm = p.confirm == Some(true);
                let (deleted, dry) = self
                    .on_store_tool(move |s| {
                        let ids = s
                            .memory_ids_where(Some(&namespace), &filter)
                            .map_err(store_err)?;
                        if confirm {
                            Ok((s.memory_delete(&ids).map_err(store_err)?, false))
                        } else {
                            Ok((ids, true))
                        }
                    })
                    .await?;
                Ok(Json(DeleteMemoryOutput {
                    count: deleted.len(),
                    deleted,
                    dry_run: dry,
                }))
            }
            _ => Err(ToolError::InvalidInput("give either ids or filter".into())),
        }
    }

    /// List memories, newest first, with filters and cursor paging.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn list_memories(
        &self,
        Parameters(p): Parameters<ListMemoriesParams>,
    ) -> Result<Json<ListMemoriesOutput>, ToolError> {
        let limit = match p.limit {
            None => 20,
            Some(0) => return Err(ToolError::InvalidInput("limit must be at least 1".into())),
            Some(n) if n > 100 => {
                return Err(ToolError::InvalidInput(format!(
                    "limit {n} is over the maximum of 100"
                )));
            }
            Some(n) => n as usize,
        };
        if let Some(pc) = self.shared.backend.pinecone()? {
            const KIND: &str = "list_memories_pinecone";
            let pos: PineconePos = match p.cursor.as_deref() {
                Some(c) if !c.is_empty() => decode_cursor(KIND, c)?,
                _ => PineconePos::default(),
            };
            let namespace = p.namespace.unwrap_or_else(|| self.shared.namespace.clone());
            let filter = p.filters.unwrap_or_default();
            let embedder = self.shared.embedder.get();
            let unfiltered = filter.is_empty();
            let after = if unfiltered {
                pos.t.clone()
            } else {
                pos.a.clone()
            };
            let (rows, next) = pc
                .list(&namespace, &filter, after, limit, embedder.as_deref())
                .await?;
            let skip = if unfiltered { pos.s } else { 0 };
            let rows: Vec<Memory> = rows.into_iter().skip(skip).collect();
            let packed = Budget::pack(self.shared.budget.item_chars(), limit, rows);
            // Cut by the budget: continue inside the same page (without a filter: same Pinecone
            // token, skipping what was returned; with one: after the last id returned).
            let next_pos = match (packed.more, unfiltered) {
                (true, true) => Some(PineconePos {
                    t: pos.t,
                    s: skip + packed.items.len(),
                    a: None,
                }),
                (true, false) => packed.items.last().map(|m| PineconePos {
                    a: Some(m.id.clone()),
                    ..PineconePos::default()
                }),
                (false, true) => next.map(|t| PineconePos {
                    t: Some(t),
                    ..PineconePos::default()
                }),
                (false, false) => next.map(|a| PineconePos {
                    a: Some(a),
                    ..PineconePos::default()
                }),
            };
            let next_cursor = next_pos.map(|pos| encode_cursor(KIND, &pos));
            return Ok(Json(ListMemoriesOutput {
                items: packed.items,
                note: Some("the pinecone backend lists in id order, not newest first".into()),
                truncated: next_cursor.is_some(),
                next_cursor,
            }));
        }
        let before = match p.cursor.as_deref() {
            Some(c) if !c.is_empty() => {
                let pos: ListPos = decode_cursor("list_memories", c)?;
                Some((pos.u, pos.r))
            }
            _ => None,
        };
        let namespace = p.namespace.unwrap_or_else(|| self.shared.namespace.clone());
        let filter = p.filters.unwrap_or_default();
        let budget = self.shared.budget;
        let (items, more) = self
            .on_store_tool(move |s| {
                let rows = s
                    .memory_list(Some(&namespace), &filter, before, limit + 1)
                    .map_err(store_err)?;
                let packed = Budget::pack(budget.item_chars(), limit, rows);
                Ok((packed.items, packed.more))
            })
            .await?;
        let next_cursor = if more {
            items.last().map(|(rowid, m)| {
                encode_cursor(
                    "list_memories",
                    &ListPos {
                        u: m.updated_at.clone(),
                        r: *rowid,
                    },
                )
            })
        } else {
            None
        };
        Ok(Json(ListMemoriesOutput {
            items: items.into_iter().map(|(_, m)| m).collect(),
            note: None,
            truncated: next_cursor.is_some(),
            next_cursor,
        }))
    }

    /// Counts per namespace, the embedder and its dimension, the backend, the store's size, and
    /// whether every memory has been embedded.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn memory_stats(
        &self,
        Parameters(_p): Parameters<MemoryStatsParams>,
    ) -> Result<Json<MemoryStatsOutput>, ToolError> {
        if let Some(pc) = self.shared.backend.pinecone()? {
            let mut counts = pc.counts().await?;
            if let Some(e) = self.shared.embedder.get() {
                counts.embedder = Some(e.id().to_string());
            }
            return Ok(Json(MemoryStatsOutput {
                embeddings_complete: true,
                counts,
                backend: "pinecone".into(),
                embedder_status: self.shared.embedder.describe(),
            }));
        }
        let counts = self
            .on_store_tool(|s| s.memory_counts().map_err(store_err))
            .await?;
        Ok(Json(MemoryStatsOutput {
            embeddings_complete: counts.embedded == counts.total,
            counts,
            backend: "local".into(),
            embedder_status: self.shared.embedder.describe(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_overlap_cover_everything_and_respect_the_window() {
        let text: String = (0..400).map(|i| format!("word{i} ")).collect();
        let parts = chunk(&text, 300, 50);
        assert!(parts.len() > 5);
        assert!(parts.iter().all(|p| p.chars().count() <= 300));
        for w in ["word0", "word199", "word399"] {
            assert!(parts.iter().any(|p| p.contains(w)), "{w} lost");
        }
        assert_eq!(chunk("short", 300, 50), vec!["short".to_string()]);
    }
}
