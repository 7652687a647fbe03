//! Where semantic memories live: `SOPHIA_MEMORY_BACKEND=local` (default; the SQLite store, see
//! `store/memories.rs`) or `pinecone` (a Pinecone index through [`crate::pinecone`]). The tools
//! in `tools_memory.rs` are the same for both; this module is the Pinecone half of each.
//!
//! What differs on Pinecone, and what the tools say about it:
//! * Vectors are required: a memory is stored only once the embedder is ready (the local store
//!   keeps it for keyword search and embeds it later). The error says to retry shortly.
//! * There is no full-text index: `hybrid` runs as `semantic` and `keyword` runs as `semantic`
//!   too, and `mode_used` plus `note` say so. `source_prefix` filters are refused (no prefix
//!   operator; see `pinecone.rs`).
//! * Near-duplicates are found by a top-1 query (cosine >= 0.97; the same normalised text embeds
//!   to the same vector, so it is caught by the same query). Pinecone has no transactions and
//!   reads are eventually consistent, so two processes storing the same text at the same instant
//!   may both add it: the local store's exactly-once guarantee does not carry over.
//! * `list_memories` pages in Pinecone's own order (by id), not newest first; filtered listing
//!   and delete-by-filter see at most 10,000 matches per call (Pinecone's largest `topK`).
//! * The knowledge graph stays in the local SQLite file on both backends.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use mcp_core::ToolError;
use serde_json::{Value, json};

use crate::embed::Embedder;
use crate::pinecone::{
    KEY_ENTITIES, MAX_TOP_K, PineconeClient, PineconeConfig, PineconeRecord, embedder_of,
    memory_from_record, now_epoch, parse_iso8601, record_from_memory, record_from_new,
    translate_filter_live,
};
use crate::store::memories::{
    Memory, MemoryCounts, MemoryFilter, MemoryRecord, NewMemory, PutOutcome, norm_key, now_utc,
};

/// Which backend holds the memories (`SOPHIA_MEMORY_BACKEND`).
#[derive(Debug, Clone, Default)]
pub enum BackendChoice {
    /// The SQLite store (default).
    #[default]
    Local,
    /// A Pinecone index: its configuration, or why it is incomplete (the server still starts;
    /// every memory tool then says which variable to set).
    Pinecone(Result<PineconeConfig, String>),
}

impl BackendChoice {
    /// From `SOPHIA_MEMORY_BACKEND` (`local` or `pinecone`) and, for Pinecone, its variables.
    pub fn from_lookup(
        backend: Option<&str>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        match backend.map(str::trim).unwrap_or("local") {
            "" | "local" => Ok(Self::Local),
            "pinecone" => Ok(Self::Pinecone(
                PineconeConfig::from_lookup(lookup).map_err(|e| e.to_string()),
            )),
            other => Err(format!(
                "SOPHIA_MEMORY_BACKEND={other:?}: use local or pinecone"
            )),
        }
    }
}

/// The backend as the server holds it.
pub(crate) enum Backend {
    Local,
    Pinecone(Result<Arc<PineconeBackend>, String>),
}

impl Backend {
    pub(crate) fn open(choice: BackendChoice) -> Self {
        match choice {
            BackendChoice::Local => Self::Local,
            BackendChoice::Pinecone(config) => Self::Pinecone(
                config.and_then(|c| PineconeBackend::new(c).map_err(|e| e.to_string())),
            ),
        }
    }

    /// The Pinecone backend, `None` for the local store, or the configuration problem as a tool
    /// error naming what to set.
    pub(crate) fn pinecone(&self) -> Result<Option<Arc<PineconeBackend>>, ToolError> {
        match self {
            Self::Local => Ok(None),
            Self::Pinecone(Ok(b)) => Ok(Some(b.clone())),
            Self::Pinecone(Err(why)) => Err(ToolError::InvalidInput(format!(
                "SOPHIA_MEMORY_BACKEND=pinecone is not usable: {why}"
            ))),
        }
    }
}

/// Most records read to find linked memories for a graph page.
const LINKED_POOL: usize = 100;
/// Records per list page read from Pinecone while exporting.
const EXPORT_PAGE: usize = 100;

/// The memory tools' operations on a Pinecone index.
pub struct PineconeBackend {
    client: PineconeClient,
    dimension: OnceLock<usize>,
}

impl std::fmt::Debug for PineconeBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PineconeBackend")
            .field("index_host", &self.client.index_host())
            .finish_non_exhaustive()
    }
}

/// "Not expired now", plus the caller's filter, in Pinecone's language.
fn live(filter: &MemoryFilter) -> Result<Value, ToolError> {
    translate_filter_live(filter, now_epoch()).map_err(ToolError::InvalidInput)
}

fn expired(m: &Memory, now: f64) -> bool {
    m.expires_at
        .as_deref()
        .and_then(|e| parse_iso8601(e).ok())
        .is_some_and(|ts| ts <= now)
}

fn records_to_memories(namespace: &str, records: &[PineconeRecord]) -> Vec<Memory> {
    let now = now_epoch();
    records
        .iter()
        .filter_map(|r| match memory_from_record(namespace, r) {
            Ok(m) => Some(m),
            Err(why) => {
                tracing::warn!("skipping a Pinecone record: {why}");
                None
            }
        })
        .filter(|m| !expired(m, now))
        .collect()
}

impl PineconeBackend {
    pub fn new(config: PineconeConfig) -> Result<Arc<Self>, ToolError> {
        Ok(Arc::new(Self {
            client: PineconeClient::new(config)?,
            dimension: OnceLock::new(),
        }))
    }

    /// The index host (no secret).
    pub fn index_host(&self) -> &str {
        self.client.index_host()
    }

    /// The index's dimension: from the embedder when it is ready, else asked once.
    async fn dimension(&self, embedder: Option<&dyn Embedder>) -> Result<usize, ToolError> {
        if let Some(d) = self.dimension.get() {
            return Ok(*d);
        }
        let d = match embedder {
            Some(e) => e.dimension(),
            None => self
                .client
                .stats()
                .await?
                .dimension
                .map(|d| d as usize)
                .filter(|d| *d > 0)
                .ok_or_else(|| ToolError::Upstream {
                    service: "Pinecone",
                    detail: "the index reported no dimension".into(),
                    retryable: false,
                })?,
        };
        Ok(*self.dimension.get_or_init(|| d))
    }

    /// A probe vector for filter-only queries: every record scores the same order-free way.
    async fn probe(&self, embedder: Option<&dyn Embedder>) -> Result<Vec<f32>, ToolError> {
        let d = self.dimension(embedder).await?;
        let mut v = vec![0.0f32; d];
        if let Some(x) = v.first_mut() {
            *x = 1.0;
        }
        Ok(v)
    }

    /// Write memories (all with vectors). An item with an `id` replaces that record (keeping its
    /// creation time); one without is checked for a near-duplicate first.
    pub async fn put(
        &self,
        items: Vec<NewMemory>,
        dup_cosine: f32,
    ) -> Result<Vec<PutOutcome>, ToolError> {
        let now = now_utc();
        let mut records: Vec<(String, PineconeRecord)> = Vec::with_capacity(items.len());
        let mut outcomes = Vec::with_capacity(items.len());
        // Texts added earlier in this call, so a repeat inside one call is caught too.
        let mut added: HashMap<(String, String), String> = HashMap::new();
        for item in items {
            let Some((_, vector)) = &item.embedding else {
                return Err(ToolError::Upstream {
                    service: "embedder",
                    detail: "the pinecone backend stores memories with their vectors, and the \
                             embedder is not ready yet"
                        .into(),
                    retryable: true,
                });
            };
            let key = (item.namespace.clone(), norm_key(&item.content));
            let (id, created_at, action, reason) = match &item.id {
                Some(id) => {
                    let existing = self
                        .client
                        .fetch(&item.namespace, std::slice::from_ref(id))
                        .await?;
                    match records_to_memories(&item.namespace, &existing).pop() {
                        Some(m) => (id.clone(), m.created_at, "updated", None),
                        None => (id.clone(), now.clone(), "created", None),
                    }
                }
                None if added.contains_key(&key) => {
                    let id = added[&key].clone();
                    (
                        id,
                        now.clone(),
                        "deduplicated",
                        Some("same text".to_string()),
                    )
                }
                None => {
                    let top = self
                        .client
                        .query(
                            &item.namespace,
                            vector,
                            1,
                            Some(live(&MemoryFilter::default())?),
                            true,
                        )
                        .await?;
                    let best = top.matches.into_iter().next().and_then(|m| {
                        let score = m.score;
                        memory_from_record(&item.namespace, &m.record)
                            .ok()
                            .map(|mem| (score, mem))
                    });
                    match best {
                        Some((score, m)) if score >= dup_cosine => {
                            let reason = if norm_key(&m.content) == key.1 {
                                "same text".to_string()
                            } else {
                                format!("cosine {score:.3}")
                            };
                            (m.id, m.created_at, "deduplicated", Some(reason))
                        }
                        _ => (
                            uuid::Uuid::new_v4().to_string(),
                            now.clone(),
                            "created",
                            None,
                        ),
                    }
                }
            };
            if item.id.is_none() {
                added.insert(key, id.clone());
            }
            let record =
                record_from_new(&item, &id, &created_at, &now).map_err(ToolError::InvalidInput)?;
            records.push((item.namespace.clone(), record));
            outcomes.push(PutOutcome {
                id,
                action: action.into(),
                duplicate_of_reason: reason,
            });
        }
        self.upsert_by_namespace(records).await?;
        Ok(outcomes)
    }

    /// The `k` nearest live memories matching `filter`, with their cosine scores.
    pub async fn search(
        &self,
        namespace: &str,
        vector: &[f32],
        filter: &MemoryFilter,
        k: usize,
    ) -> Result<Vec<(Memory, f64)>, ToolError> {
        let result = self
            .client
            .query(namespace, vector, k, Some(live(filter)?), true)
            .await?;
        let now = now_epoch();
        Ok(result
            .matches
            .into_iter()
            .filter_map(|m| match memory_from_record(namespace, &m.record) {
                Ok(mem) if !expired(&mem, now) => Some((mem, f64::from(m.score))),
                Ok(_) => None,
                Err(why) => {
                    tracing::warn!("skipping a Pinecone match: {why}");
                    None
                }
            })
            .collect())
    }

    /// Live memories by id, in the order asked.
    pub async fn get(&self, namespace: &str, ids: &[String]) -> Result<Vec<Memory>, ToolError> {
        let records = self.client.fetch(namespace, ids).await?;
        Ok(records_to_memories(namespace, &records))
    }

    /// Delete these ids; returns the ones that existed.
    pub async fn delete(&self, namespace: &str, ids: &[String]) -> Result<Vec<String>, ToolError> {
        let existing: Vec<String> = self
            .client
            .fetch(namespace, ids)
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect();
        if !existing.is_empty() {
            self.client.delete_ids(namespace, &existing).await?;
        }
        Ok(existing)
    }

    /// Ids of live memories matching `filter` (at most 10,000), sorted.
    pub async fn ids_where(
        &self,
        namespace: &str,
        filter: &MemoryFilter,
        embedder: Option<&dyn Embedder>,
    ) -> Result<Vec<String>, ToolError> {
        let probe = self.probe(embedder).await?;
        let result = self
            .client
            .query(namespace, &probe, MAX_TOP_K, Some(live(filter)?), false)
            .await?;
        let mut ids: Vec<String> = result.matches.into_iter().map(|m| m.record.id).collect();
        ids.sort();
        Ok(ids)
    }

    /// One page of memories in id order. `after` is where the previous page stopped (a Pinecone
    /// pagination token without a filter, the last id with one). Returns the page and where the
    /// next one starts.
    pub async fn list(
        &self,
        namespace: &str,
        filter: &MemoryFilter,
        after: Option<String>,
        limit: usize,
        embedder: Option<&dyn Embedder>,
    ) -> Result<(Vec<Memory>, Option<String>), ToolError> {
        if filter.is_empty() {
            let page = self
                .client
                .list(namespace, None, Some(limit), after.as_deref())
                .await?;
            let records = self.client.fetch(namespace, &page.ids).await?;
            return Ok((records_to_memories(namespace, &records), page.next));
        }
        let ids = self.ids_where(namespace, filter, embedder).await?;
        let rest: Vec<String> = ids
            .into_iter()
            .filter(|id| after.as_ref().is_none_or(|a| id > a))
            .collect();
        let more = rest.len() > limit;
        let page: Vec<String> = rest.into_iter().take(limit).collect();
        let next = if more { page.last().cloned() } else { None };
        let records = self.client.fetch(namespace, &page).await?;
        Ok((records_to_memories(namespace, &records), next))
    }

    /// Counts per namespace and the index's dimension.
    pub async fn counts(&self) -> Result<MemoryCounts, ToolError> {
        let stats = self.client.stats().await?;
        let namespaces: std::collections::BTreeMap<String, i64> = stats
            .namespaces
            .into_iter()
            .map(|(ns, n)| (ns, n as i64))
            .collect();
        let total = stats.total_vector_count as i64;
        Ok(MemoryCounts {
            namespaces,
            total,
            embedded: total,
            embedder: None,
            dimension: stats.dimension.map(|d| d as usize).filter(|d| *d > 0),
            store_bytes: 0,
        })
    }

    /// Memories of `namespace` linked to any of `names`, newest first, at most `limit`.
    pub async fn linked(
        &self,
        namespace: &str,
        names: &[String],
        limit: usize,
        embedder: Option<&dyn Embedder>,
    ) -> Result<Vec<Memory>, ToolError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let probe = self.probe(embedder).await?;
        let filter = json!({"$and": [
            {KEY_ENTITIES: {"$in": names}},
            live(&MemoryFilter::default())?,
        ]});
        let result = self
            .client
            .query(namespace, &probe, LINKED_POOL, Some(filter), true)
            .await?;
        let records: Vec<PineconeRecord> = result.matches.into_iter().map(|m| m.record).collect();
        let mut memories = records_to_memories(namespace, &records);
        memories.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
        memories.truncate(limit);
        Ok(memories)
    }

    /// Every record of every namespace, with its vector (for `export`).
    pub async fn export(&self) -> Result<Vec<MemoryRecord>, ToolError> {
        let stats = self.client.stats().await?;
        let mut out = Vec::new();
        for ns in stats.namespaces.keys() {
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .client
                    .list(ns, None, Some(EXPORT_PAGE), token.as_deref())
                    .await?;
                for r in self.client.fetch(ns, &page.ids).await? {
                    match memory_from_record(ns, &r) {
                        Ok(memory) => out.push(MemoryRecord {
                            memory,
                            embedder: embedder_of(&r).map(str::to_string),
                            embedding: Some(r.values.clone()),
                        }),
                        Err(why) => tracing::warn!("not exported: {why}"),
                    }
                }
                match page.next {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
        }
        Ok(out)
    }

    /// Write exported memories. A vector is kept when it came from `embedder` (or when no
    /// embedder is given); otherwise the text is embedded again. Returns (written, vectors kept,
    /// skipped with the reason).
    pub async fn import(
        &self,
        records: Vec<MemoryRecord>,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> Result<(usize, usize, Vec<(String, String)>), ToolError> {
        let mut ready: Vec<(String, PineconeRecord)> = Vec::new();
        let mut to_embed: Vec<MemoryRecord> = Vec::new();
        let mut skipped = Vec::new();
        let mut kept = 0;
        for r in records {
            let same_embedder = match (&embedder, &r.embedder) {
                (None, _) => true,
                (Some(e), Some(id)) => e.id() == id,
                (Some(_), None) => false,
            };
            match (&r.embedding, same_embedder) {
                (Some(v), true) if !v.is_empty() => {
                    match record_from_memory(&r.memory, v.clone(), r.embedder.as_deref()) {
                        Ok(rec) => {
                            kept += 1;
                            ready.push((r.memory.namespace.clone(), rec));
                        }
                        Err(why) => skipped.push((r.memory.id.clone(), why)),
                    }
                }
                _ => to_embed.push(r),
            }
        }
        if !to_embed.is_empty() {
            let Some(e) = &embedder else {
                for r in to_embed {
                    skipped.push((
                        r.memory.id,
                        "no vector in the file and no embedder configured".into(),
                    ));
                }
                return self.upsert_grouped(ready, kept, skipped).await;
            };
            for batch in to_embed.chunks(32) {
                let texts: Vec<String> = batch.iter().map(|r| r.memory.content.clone()).collect();
                let vectors = e.embed(&texts).await.map_err(|err| ToolError::Upstream {
                    service: "embedder",
                    detail: err.to_string(),
                    retryable: true,
                })?;
                for (r, v) in batch.iter().zip(vectors) {
                    match record_from_memory(&r.memory, v, Some(e.id())) {
                        Ok(rec) => ready.push((r.memory.namespace.clone(), rec)),
                        Err(why) => skipped.push((r.memory.id.clone(), why)),
                    }
                }
            }
        }
        self.upsert_grouped(ready, kept, skipped).await
    }

    async fn upsert_grouped(
        &self,
        ready: Vec<(String, PineconeRecord)>,
        kept: usize,
        skipped: Vec<(String, String)>,
    ) -> Result<(usize, usize, Vec<(String, String)>), ToolError> {
        let written = ready.len();
        self.upsert_by_namespace(ready).await?;
        Ok((written, kept, skipped))
    }

    /// One upsert per namespace (a call normally has one).
    async fn upsert_by_namespace(
        &self,
        records: Vec<(String, PineconeRecord)>,
    ) -> Result<(), ToolError> {
        let mut by_ns: std::collections::BTreeMap<String, Vec<PineconeRecord>> =
            std::collections::BTreeMap::new();
        for (ns, r) in records {
            by_ns.entry(ns).or_default().push(r);
        }
        for (ns, rs) in by_ns {
            self.client.upsert(&ns, rs).await?;
        }
        Ok(())
    }

    /// `--check`: one authenticated call.
    pub async fn check(&self) -> Result<String, String> {
        let stats = self.client.stats().await.map_err(|e| e.to_string())?;
        Ok(format!(
            "pinecone index {}: {} records in {} namespaces, dimension {}",
            self.client.index_host(),
            stats.total_vector_count,
            stats.namespaces.len(),
            stats
                .dimension
                .map(|d| d.to_string())
                .unwrap_or_else(|| "unknown".into())
        ))
    }
}
