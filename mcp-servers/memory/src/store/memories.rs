//! Semantic memories in the same SQLite file as the graph: text, metadata, tags, provenance and
//! an optional vector in one row, an FTS5 index kept in step by triggers, and an in-memory
//! contiguous copy of the vectors for exact search. Every write bumps a store revision; a process
//! brings its vector copy up to date by reading only the rows (and tombstones) newer than the
//! revision it last saw, so several processes on one file stay consistent.

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params, params_from_iter};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Store, StoreError};

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS store_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT OR IGNORE INTO store_meta(key, value) VALUES ('rev', '0');
CREATE TABLE IF NOT EXISTS memories (
    rowid       INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    namespace   TEXT NOT NULL,
    document_id TEXT,
    chunk_index INTEGER NOT NULL DEFAULT 0,
    content     TEXT NOT NULL,
    norm_key    TEXT NOT NULL,
    metadata    TEXT NOT NULL DEFAULT '{}',
    tags        TEXT NOT NULL DEFAULT '[]',
    source      TEXT,
    entities    TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    expires_at  TEXT,
    embedder    TEXT,
    embedding   BLOB,
    rev         INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS memories_ns_norm ON memories(namespace, norm_key);
CREATE INDEX IF NOT EXISTS memories_rev ON memories(rev);
CREATE INDEX IF NOT EXISTS memories_ns_updated ON memories(namespace, updated_at);
CREATE INDEX IF NOT EXISTS memories_expiring ON memories(expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS memory_tombstones (
    mem_rowid INTEGER NOT NULL,
    rev       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS memory_tombstones_rev ON memory_tombstones(rev);
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(
    content, content='memories', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS memories_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts(rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER IF NOT EXISTS memories_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;
CREATE TRIGGER IF NOT EXISTS memories_au AFTER UPDATE OF content ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
    INSERT INTO memories_fts(rowid, content) VALUES (new.rowid, new.content);
END;
"#;

/// One stored memory (a chunk, when its document was split).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Memory {
    pub id: String,
    pub namespace: String,
    /// Shared by the chunks of one long text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    #[serde(default)]
    pub chunk_index: i64,
    pub content: String,
    pub metadata: serde_json::Map<String, Value>,
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Knowledge-graph entity names this memory is about.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[serde(default)]
    pub entities: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Whether this memory has a vector from the store's embedder.
    #[serde(default)]
    pub embedded: bool,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// What to write.
#[derive(Debug, Clone, Default)]
pub struct NewMemory {
    /// Upsert this id; None: a new id (or the near-duplicate's).
    pub id: Option<String>,
    pub namespace: String,
    pub document_id: Option<String>,
    pub chunk_index: i64,
    pub content: String,
    pub metadata: serde_json::Map<String, Value>,
    pub tags: Vec<String>,
    pub source: Option<String>,
    pub entities: Vec<String>,
    pub expires_at: Option<String>,
    /// (embedder id, unit vector)
    pub embedding: Option<(String, Vec<f32>)>,
}

/// A memory with everything needed to move it between stores (export / import).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryRecord {
    #[serde(flatten)]
    pub memory: Memory,
    /// The embedder its vector came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
}

/// What a write did to one memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PutOutcome {
    pub id: String,
    /// `created`, `updated` (same id), or `deduplicated` (a near-duplicate was updated instead).
    pub action: String,
    /// Why it counted as a duplicate (`same text` or `cosine 0.98`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of_reason: Option<String>,
}

/// One metadata condition.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
pub struct MetadataCondition {
    /// Metadata field name (letters, digits, `_`, `-`, `.`)
    pub field: String,
    /// `eq`, `ne`, `in`, `gt`, `gte`, `lt`, `lte`
    pub op: String,
    /// A string, number or boolean; an array for `in`. Dates compare as ISO-8601 strings.
    pub value: Value,
}

/// Which memories an operation applies to. Every present field must match.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryFilter {
    /// Conditions on metadata fields
    #[serde(default)]
    pub metadata: Vec<MetadataCondition>,
    /// At least one of these tags
    #[serde(default)]
    pub tags_any: Vec<String>,
    /// All of these tags
    #[serde(default)]
    pub tags_all: Vec<String>,
    /// Source starts with this (e.g. `gong:` or `https://acme.slack.com/`)
    #[serde(default)]
    pub source_prefix: Option<String>,
    /// Created at or after (ISO-8601)
    #[serde(default)]
    pub created_after: Option<String>,
    /// Created before (ISO-8601)
    #[serde(default)]
    pub created_before: Option<String>,
    /// Updated at or after (ISO-8601)
    #[serde(default)]
    pub updated_after: Option<String>,
    /// Updated before (ISO-8601)
    #[serde(default)]
    pub updated_before: Option<String>,
}

impl MemoryFilter {
    /// Whether no condition is set.
    pub fn is_empty(&self) -> bool {
        self.metadata.is_empty()
            && self.tags_any.is_empty()
            && self.tags_all.is_empty()
            && self.source_prefix.is_none()
            && self.created_after.is_none()
            && self.created_before.is_none()
            && self.updated_after.is_none()
            && self.updated_before.is_none()
    }
}

/// Counts for `memory_stats`.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct MemoryCounts {
    /// Memories per namespace
    pub namespaces: std::collections::BTreeMap<String, i64>,
    pub total: i64,
    /// Memories with a vector from the current embedder
    pub embedded: i64,
    /// The embedder the store's vectors belong to, and their dimension
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedder: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimension: Option<usize>,
    /// Size of the database file in bytes
    pub store_bytes: i64,
}

/// The in-memory copy of the vectors: one contiguous `f32` array, rows in any order.
#[derive(Debug, Default)]
pub(crate) struct VectorIndex {
    rev: i64,
    loaded: bool,
    dim: usize,
    rowids: Vec<i64>,
    namespaces: Vec<u32>,
    data: Vec<f32>,
    pos: HashMap<i64, usize>,
    ns_ids: HashMap<String, u32>,
}

impl VectorIndex {
    fn ns_id(&mut self, ns: &str) -> u32 {
        if let Some(id) = self.ns_ids.get(ns) {
            return *id;
        }
        let id = self.ns_ids.len() as u32;
        self.ns_ids.insert(ns.to_string(), id);
        id
    }

    fn remove(&mut self, rowid: i64) {
        let Some(i) = self.pos.remove(&rowid) else {
            return;
        };
        let last = self.rowids.len() - 1;
        if i != last {
            let moved = self.rowids[last];
            self.rowids.swap(i, last);
            self.namespaces.swap(i, last);
            let dim = self.dim;
            for k in 0..dim {
                self.data.swap(i * dim + k, last * dim + k);
            }
            self.pos.insert(moved, i);
        }
        self.rowids.pop();
        self.namespaces.pop();
        let len = self.rowids.len() * self.dim;
        self.data.truncate(len);
    }

    fn upsert(&mut self, rowid: i64, ns: &str, v: &[f32]) {
        if self.dim == 0 {
            self.dim = v.len();
        }
        if v.len() != self.dim {
            return;
        }
        let ns = self.ns_id(ns);
        if let Some(&i) = self.pos.get(&rowid) {
            self.namespaces[i] = ns;
            self.data[i * self.dim..(i + 1) * self.dim].copy_from_slice(v);
            return;
        }
        self.pos.insert(rowid, self.rowids.len());
        self.rowids.push(rowid);
        self.namespaces.push(ns);
        self.data.extend_from_slice(v);
    }

    /// Exact top-k by dot product among rows of `ns` (and in `allowed`, when given).
    fn top_k(
        &self,
        query: &[f32],
        ns: Option<u32>,
        allowed: Option<&HashSet<i64>>,
        k: usize,
    ) -> Vec<(i64, f32)> {
        if self.dim == 0 || query.len() != self.dim || k == 0 {
            return Vec::new();
        }
        let rows = self.rowids.len();
        if rows < PARALLEL_SCAN_ROWS {
            return self.top_k_range(query, ns, allowed, k, 0..rows);
        }
        // Two halves on two threads (the machines we target have 2+ cores); exact either way.
        let mid = rows / 2;
        let (mut a, b) = std::thread::scope(|scope| {
            let other = scope.spawn(|| self.top_k_range(query, ns, allowed, k, mid..rows));
            let mine = self.top_k_range(query, ns, allowed, k, 0..mid);
            (mine, other.join())
        });
        match b {
            Ok(b) => a.extend(b),
            // The scan cannot panic, but if the thread failed the half is scanned here.
            Err(_) => a.extend(self.top_k_range(query, ns, allowed, k, mid..rows)),
        }
        a.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        a.truncate(k);
        a
    }

    fn top_k_range(
        &self,
        query: &[f32],
        ns: Option<u32>,
        allowed: Option<&HashSet<i64>>,
        k: usize,
        range: std::ops::Range<usize>,
    ) -> Vec<(i64, f32)> {
        let mut best: Vec<(i64, f32)> = Vec::with_capacity(k + 1);
        let mut floor = f32::NEG_INFINITY;
        let start = range.start;
        let data = &self.data[range.start * self.dim..range.end * self.dim];
        for (j, row) in data.chunks_exact(self.dim).enumerate() {
            let i = start + j;
            if ns.is_some_and(|n| self.namespaces[i] != n) {
                continue;
            }
            let rowid = self.rowids[i];
            if allowed.is_some_and(|a| !a.contains(&rowid)) {
                continue;
            }
            let score = crate::embed::dot(row, query);
            if best.len() < k || score > floor {
                let at = best.partition_point(|(_, s)| *s >= score);
                best.insert(at, (rowid, score));
                best.truncate(k);
                if best.len() == k {
                    floor = best[k - 1].1;
                }
            }
        }
        best
    }
}

/// Below this many vectors one thread scans faster than two can be started.
const PARALLEL_SCAN_ROWS: usize = 20_000;

/// Now, as the store writes times (`YYYY-MM-DDTHH:MM:SS.mmmZ`).
pub fn now_utc() -> String {
    now()
}

fn now() -> String {
    // RFC 3339 UTC with milliseconds, from SQLite-free std time.
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_utc(d.as_secs() as i64, d.subsec_millis())
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for seconds since the epoch (proleptic Gregorian).
fn format_utc(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let (y, mo, d) = mcp_core::time::civil_from_days(days);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
}

/// Lower-case, collapse whitespace: two texts with the same key are the same memory.
pub fn norm_key(text: &str) -> String {
    text.split_whitespace()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

fn vec_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn blob_to_vec(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn valid_field(field: &str) -> bool {
    !field.is_empty()
        && field.len() <= 128
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// SQL for a filter (`AND`-joined conditions on `memories`), with its bound values.
fn filter_sql(
    namespace: Option<&str>,
    filter: &MemoryFilter,
    now: &str,
) -> Result<(String, Vec<rusqlite::types::Value>), StoreError> {
    use rusqlite::types::Value as V;
    let mut sql = vec!["(expires_at IS NULL OR expires_at > ?)".to_string()];
    let mut args: Vec<V> = vec![V::Text(now.to_string())];
    if let Some(ns) = namespace {
        sql.push("namespace = ?".into());
        args.push(V::Text(ns.to_string()));
    }
    let scalar = |v: &Value| -> Result<V, StoreError> {
        Ok(match v {
            Value::String(s) => V::Text(s.clone()),
            Value::Bool(b) => V::Integer(i64::from(*b)),
            Value::Number(n) => match n.as_i64() {
                Some(i) => V::Integer(i),
                None => V::Real(n.as_f64().unwrap_or(0.0)),
            },
            other => {
                return Err(StoreError::Invalid(format!(
                    "filter values must be strings, numbers or booleans, not {other}"
                )));
            }
        })
    };
    for c in &filter.metadata {
        if !valid_field(&c.field) {
            return Err(StoreError::Invalid(format!(
                "metadata field name {:?} is not allowed: use letters, digits, _, - and .",
                c.field
            )));
        }
        let path = V::Text(format!("$.\"{}\"", c.field));
        let op = match c.op.as_str() {
            "eq" => "=",
            "ne" => "!=",
            "gt" => ">",
            "gte" => ">=",
            "lt" => "<",
            "lte" => "<=",
            "in" => "in",
            other => {
                return Err(StoreError::Invalid(format!(
                    "unknown filter op {other:?}: use eq, ne, in, gt, gte, lt, lte"
                )));
            }
        };
        if op == "in" {
            let Value::Array(items) = &c.value else {
                return Err(StoreError::Invalid(format!(
                    "op 'in' on {:?} needs an array value",
                    c.field
                )));
            };
            if items.is_empty() {
                sql.push("0".into());
                continue;
            }
            sql.push(format!(
                "json_extract(metadata, ?) IN ({})",
                vec!["?"; items.len()].join(", ")
            ));
            args.push(path);
            for i in items {
                args.push(scalar(i)?);
            }
        } else {
            sql.push(format!("json_extract(metadata, ?) {op} ?"));
            args.push(path);
            args.push(scalar(&c.value)?);
        }
    }
    if !filter.tags_any.is_empty() {
        sql.push(format!(
            "EXISTS (SELECT 1 FROM json_each(memories.tags) WHERE value IN ({}))",
            vec!["?"; filter.tags_any.len()].join(", ")
        ));
        args.extend(filter.tags_any.iter().map(|t| V::Text(t.clone())));
    }
    if !filter.tags_all.is_empty() {
        let distinct: HashSet<&String> = filter.tags_all.iter().collect();
        sql.push(format!(
            "(SELECT count(DISTINCT value) FROM json_each(memories.tags) WHERE value IN ({})) = {}",
            vec!["?"; distinct.len()].join(", "),
            distinct.len()
        ));
        args.extend(distinct.into_iter().map(|t| V::Text(t.clone())));
    }
    if let Some(p) = &filter.source_prefix {
        sql.push("substr(source, 1, length(?)) = ?".into());
        args.push(V::Text(p.clone()));
        args.push(V::Text(p.clone()));
    }
    for (value, cond) in [
        (&filter.created_after, "created_at >= ?"),
        (&filter.created_before, "created_at < ?"),
        (&filter.updated_after, "updated_at >= ?"),
        (&filter.updated_before, "updated_at < ?"),
    ] {
        if let Some(v) = value {
            sql.push(cond.into());
            args.push(V::Text(v.clone()));
        }
    }
    Ok((sql.join(" AND "), args))
}

/// English function words left out of keyword queries (when the query has other words).
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "did", "do", "does", "for", "from",
    "had", "has", "have", "he", "her", "his", "how", "i", "in", "is", "it", "its", "me", "my",
    "no", "not", "of", "on", "or", "our", "she", "so", "that", "the", "their", "them", "they",
    "this", "to", "us", "was", "we", "were", "what", "when", "where", "which", "who", "why",
    "will", "with", "you", "your",
];

const MEMORY_COLUMNS: &str = "rowid, id, namespace, document_id, chunk_index, content, metadata, tags, source, entities, created_at, updated_at, expires_at, embedding IS NOT NULL";

fn row_to_memory(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Memory)> {
    let metadata: String = r.get(6)?;
    let tags: String = r.get(7)?;
    let entities: String = r.get(9)?;
    Ok((
        r.get(0)?,
        Memory {
            id: r.get(1)?,
            namespace: r.get(2)?,
            document_id: r.get(3)?,
            chunk_index: r.get(4)?,
            content: r.get(5)?,
            metadata: serde_json::from_str(&metadata).unwrap_or_default(),
            tags: serde_json::from_str(&tags).unwrap_or_default(),
            source: r.get(8)?,
            entities: serde_json::from_str(&entities).unwrap_or_default(),
            created_at: r.get(10)?,
            updated_at: r.get(11)?,
            expires_at: r.get(12)?,
            embedded: r.get(13)?,
        },
    ))
}

fn next_rev(tx: &Transaction<'_>) -> Result<i64, rusqlite::Error> {
    tx.query_row(
        "UPDATE store_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'rev' RETURNING CAST(value AS INTEGER)",
        [],
        |r| r.get(0),
    )
}

fn meta_get(conn: &rusqlite::Connection, key: &str) -> Result<Option<String>, rusqlite::Error> {
    conn.query_row(
        "SELECT value FROM store_meta WHERE key = ?1",
        params![key],
        |r| r.get(0),
    )
    .optional()
}

impl Store {
    /// The embedder id and dimension the store's vectors belong to (None before the first).
    pub fn memory_embedder(&self) -> Result<Option<(String, usize)>, StoreError> {
        let id = meta_get(&self.conn, "embedder")?;
        let dim = meta_get(&self.conn, "dimension")?.and_then(|d| d.parse().ok());
        Ok(id.zip(dim))
    }

    /// Write memories in one transaction. Near-duplicates in the same namespace (same normalised
    /// text, or cosine >= `dup_cosine` with the same embedder) update the existing memory.
    pub fn memory_put(
        &mut self,
        items: Vec<NewMemory>,
        dup_cosine: f32,
    ) -> Result<Vec<PutOutcome>, StoreError> {
        let now = now();
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        // Under the write lock: the near-duplicate check sees every other process's commits.
        catch_up(&tx, &mut self.vectors)?;
        let rev = next_rev(&tx)?;
        // A store holds vectors of one embedder only.
        let stored = {
            let id = meta_get(&tx, "embedder")?;
            let dim: Option<usize> = meta_get(&tx, "dimension")?.and_then(|d| d.parse().ok());
            id.zip(dim)
        };
        let mut outcomes = Vec::with_capacity(items.len());
        for item in items {
            if let Some((eid, v)) = &item.embedding {
                match &stored {
                    Some((sid, sdim)) if sid != eid || *sdim != v.len() => {
                        return Err(StoreError::Invalid(format!(
                            "this store holds vectors of {sid} ({sdim}-d); the embedder is {eid} ({}-d): run `sophia-memory reembed` to switch",
                            v.len()
                        )));
                    }
                    None => {
                        tx.execute(
                            "INSERT OR REPLACE INTO store_meta(key, value) VALUES ('embedder', ?1), ('dimension', ?2)",
                            params![eid, v.len().to_string()],
                        )?;
                    }
                    _ => {}
                }
            }
            let key = norm_key(&item.content);
            // Which existing memory does this write update?
            let mut target: Option<(i64, String, Option<String>)> = None;
            if let Some(id) = &item.id {
                target = tx
                    .query_row(
                        "SELECT rowid, id FROM memories WHERE id = ?1",
                        params![id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?
                    .map(|(rowid, id)| (rowid, id, None));
            }
            if target.is_none() {
                let same_text: Option<(i64, String)> = tx
                    .query_row(
                        "SELECT rowid, id FROM memories WHERE namespace = ?1 AND norm_key = ?2 LIMIT 1",
                        params![item.namespace, key],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                if let Some((rowid, id)) = same_text
                    && item.id.is_none()
                {
                    target = Some((rowid, id, Some("same text".into())));
                }
            }
            if target.is_none()
                && item.id.is_none()
                && let Some((_, v)) = &item.embedding
            {
                let ns = self.vectors.ns_ids.get(&item.namespace).copied();
                if let Some(ns) = ns
                    && let Some((rowid, score)) =
                        self.vectors.top_k(v, Some(ns), None, 1).first().copied()
                    && score >= dup_cosine
                {
                    let id: Option<String> = tx
                        .query_row(
                            "SELECT id FROM memories WHERE rowid = ?1",
                            params![rowid],
                            |r| r.get(0),
                        )
                        .optional()?;
                    if let Some(id) = id {
                        target = Some((rowid, id, Some(format!("cosine {score:.3}"))));
                    }
                }
            }
            let metadata = Value::Object(item.metadata.clone()).to_string();
            let tags = serde_json::to_string(&item.tags).unwrap_or_else(|_| "[]".into());
            let entities = serde_json::to_string(&item.entities).unwrap_or_else(|_| "[]".into());
            let (eid, blob) = match &item.embedding {
                Some((eid, v)) => (Some(eid.clone()), Some(vec_to_blob(v))),
                None => (None, None),
            };
            match target {
                Some((rowid, id, reason)) => {
                    tx.execute(
                        "UPDATE memories SET content = ?2, norm_key = ?3, metadata = ?4, tags = ?5, source = ?6, \
                         entities = ?7, updated_at = ?8, expires_at = ?9, embedder = ?10, embedding = ?11, rev = ?12, \
                         document_id = ?13, chunk_index = ?14 WHERE rowid = ?1",
                        params![
                            rowid, item.content, key, metadata, tags, item.source, entities, now,
                            item.expires_at, eid, blob, rev, item.document_id, item.chunk_index
                        ],
                    )?;
                    outcomes.push(PutOutcome {
                        id,
                        action: if reason.is_some() {
                            "deduplicated"
                        } else {
                            "updated"
                        }
                        .into(),
                        duplicate_of_reason: reason,
                    });
                }
                None => {
                    let id = item
                        .id
                        .clone()
                        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                    tx.execute(
                        "INSERT INTO memories(id, namespace, document_id, chunk_index, content, norm_key, metadata, tags, \
                         source, entities, created_at, updated_at, expires_at, embedder, embedding, rev) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13, ?14, ?15)",
                        params![
                            id, item.namespace, item.document_id, item.chunk_index, item.content, key, metadata,
                            tags, item.source, entities, now, item.expires_at, eid, blob, rev
                        ],
                    )?;
                    outcomes.push(PutOutcome {
                        id,
                        action: "created".into(),
                        duplicate_of_reason: None,
                    });
                }
            }
        }
        tx.commit()?;
        self.sync_vectors()?;
        Ok(outcomes)
    }

    /// Memories linked to any of these entity names, newest first.
    pub fn memory_linked(&self, names: &[String], limit: usize) -> Result<Vec<Memory>, StoreError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut args: Vec<rusqlite::types::Value> = vec![rusqlite::types::Value::Text(now())];
        args.extend(
            names
                .iter()
                .map(|n| rusqlite::types::Value::Text(n.clone())),
        );
        args.push(rusqlite::types::Value::Integer(limit as i64));
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {MEMORY_COLUMNS} FROM memories WHERE (expires_at IS NULL OR expires_at > ?) AND \
             EXISTS (SELECT 1 FROM json_each(memories.entities) WHERE value IN ({})) \
             ORDER BY updated_at DESC, rowid DESC LIMIT ?",
            vec!["?"; names.len()].join(", ")
        ))?;
        let rows = stmt
            .query_map(params_from_iter(args), row_to_memory)?
            .map(|r| r.map(|(_, m)| m))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Every memory with its vector, in insertion order (for `export`).
    pub fn memory_export(&self) -> Result<Vec<MemoryRecord>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {MEMORY_COLUMNS}, embedder, embedding FROM memories ORDER BY rowid"
        ))?;
        let rows = stmt
            .query_map([], |r| {
                let (_, memory) = row_to_memory(r)?;
                let embedder: Option<String> = r.get(14)?;
                let blob: Option<Vec<u8>> = r.get(15)?;
                Ok(MemoryRecord {
                    memory,
                    embedder,
                    embedding: blob.map(|b| blob_to_vec(&b)),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Insert or replace memories as exported (ids, times and vectors kept), in one
    /// transaction. Vectors of another embedder than the store's are dropped (re-embedded later);
    /// returns (written, vectors kept).
    pub fn memory_import(
        &mut self,
        records: Vec<MemoryRecord>,
    ) -> Result<(usize, usize), StoreError> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let rev = next_rev(&tx)?;
        let mut stored: Option<(String, usize)> = {
            let id = meta_get(&tx, "embedder")?;
            let dim: Option<usize> = meta_get(&tx, "dimension")?.and_then(|d| d.parse().ok());
            id.zip(dim)
        };
        let (mut written, mut kept) = (0, 0);
        for rec in records {
            let m = rec.memory;
            let vector = match (rec.embedder, rec.embedding) {
                (Some(eid), Some(v)) => match &stored {
                    Some((sid, sdim)) if *sid == eid && *sdim == v.len() => Some((eid, v)),
                    Some(_) => None,
                    None => {
                        tx.execute(
                            "INSERT OR REPLACE INTO store_meta(key, value) VALUES ('embedder', ?1), ('dimension', ?2)",
                            params![eid, v.len().to_string()],
                        )?;
                        stored = Some((eid.clone(), v.len()));
                        Some((eid, v))
                    }
                },
                _ => None,
            };
            let old: Option<i64> = tx
                .query_row(
                    "SELECT rowid FROM memories WHERE id = ?1",
                    params![m.id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(rowid) = old {
                tx.execute("DELETE FROM memories WHERE rowid = ?1", params![rowid])?;
                tx.execute(
                    "INSERT INTO memory_tombstones(mem_rowid, rev) VALUES (?1, ?2)",
                    params![rowid, rev],
                )?;
            }
            kept += usize::from(vector.is_some());
            let (eid, blob) = match vector {
                Some((e, v)) => (Some(e), Some(vec_to_blob(&v))),
                None => (None, None),
            };
            tx.execute(
                "INSERT INTO memories(id, namespace, document_id, chunk_index, content, norm_key, metadata, tags, \
                 source, entities, created_at, updated_at, expires_at, embedder, embedding, rev) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                params![
                    m.id,
                    m.namespace,
                    m.document_id,
                    m.chunk_index,
                    m.content,
                    norm_key(&m.content),
                    Value::Object(m.metadata).to_string(),
                    serde_json::to_string(&m.tags).unwrap_or_else(|_| "[]".into()),
                    m.source,
                    serde_json::to_string(&m.entities).unwrap_or_else(|_| "[]".into()),
                    m.created_at,
                    m.updated_at,
                    m.expires_at,
                    eid,
                    blob,
                    rev
                ],
            )?;
            written += 1;
        }
        tx.commit()?;
        self.sync_vectors()?;
        Ok((written, kept))
    }

    /// Forget every vector and the store's embedder (before `reembed`).
    pub fn memory_clear_embeddings(&mut self) -> Result<usize, StoreError> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let rev = next_rev(&tx)?;
        let n = tx.execute(
            "UPDATE memories SET embedding = NULL, embedder = NULL, rev = ?1 WHERE embedding IS NOT NULL",
            params![rev],
        )?;
        tx.execute(
            "DELETE FROM store_meta WHERE key IN ('embedder', 'dimension')",
            [],
        )?;
        tx.commit()?;
        self.sync_vectors()?;
        Ok(n)
    }

    /// Attach vectors to memories stored without one (background embedding).
    pub fn memory_set_embeddings(
        &mut self,
        embedder: &str,
        vectors: Vec<(String, Vec<f32>)>,
    ) -> Result<usize, StoreError> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let rev = next_rev(&tx)?;
        let mut n = 0;
        for (id, v) in vectors {
            if meta_get(&tx, "embedder")?.is_none() {
                tx.execute(
                    "INSERT OR REPLACE INTO store_meta(key, value) VALUES ('embedder', ?1), ('dimension', ?2)",
                    params![embedder, v.len().to_string()],
                )?;
            }
            n += tx.execute(
                "UPDATE memories SET embedder = ?2, embedding = ?3, rev = ?4 WHERE id = ?1 AND embedding IS NULL",
                params![id, embedder, vec_to_blob(&v), rev],
            )?;
        }
        tx.commit()?;
        self.sync_vectors()?;
        Ok(n)
    }

    /// Memories without a vector (id, content), oldest first.
    pub fn memory_unembedded(&self, limit: usize) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, content FROM memories WHERE embedding IS NULL ORDER BY rowid LIMIT ?1",
        )?;
        let rows = stmt
            .query_map(params![limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Memories by id (missing ids are skipped), in the order asked.
    pub fn memory_get(&self, ids: &[String]) -> Result<Vec<Memory>, StoreError> {
        let mut out = Vec::new();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {MEMORY_COLUMNS} FROM memories WHERE id = ?1"
        ))?;
        for id in ids {
            if let Some((_, m)) = stmt.query_row(params![id], row_to_memory).optional()? {
                out.push(m);
            }
        }
        Ok(out)
    }

    fn memories_by_rowid(&self, rowids: &[i64]) -> Result<HashMap<i64, Memory>, StoreError> {
        let mut out = HashMap::new();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {MEMORY_COLUMNS} FROM memories WHERE rowid = ?1"
        ))?;
        for rowid in rowids {
            if let Some((r, m)) = stmt.query_row(params![rowid], row_to_memory).optional()? {
                out.insert(r, m);
            }
        }
        Ok(out)
    }

    /// Delete by id; returns the ids that existed.
    pub fn memory_delete(&mut self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let rev = next_rev(&tx)?;
        let mut deleted = Vec::new();
        for id in ids {
            let rowid: Option<i64> = tx
                .query_row(
                    "SELECT rowid FROM memories WHERE id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(rowid) = rowid {
                tx.execute("DELETE FROM memories WHERE rowid = ?1", params![rowid])?;
                tx.execute(
                    "INSERT INTO memory_tombstones(mem_rowid, rev) VALUES (?1, ?2)",
                    params![rowid, rev],
                )?;
                deleted.push(id.clone());
            }
        }
        tx.commit()?;
        self.sync_vectors()?;
        Ok(deleted)
    }

    /// Ids matching a filter (for delete-by-filter's dry run and the delete itself).
    pub fn memory_ids_where(
        &self,
        namespace: Option<&str>,
        filter: &MemoryFilter,
    ) -> Result<Vec<String>, StoreError> {
        let (cond, args) = filter_sql(namespace, filter, &now())?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT id FROM memories WHERE {cond} ORDER BY rowid"
        ))?;
        let ids = stmt
            .query_map(params_from_iter(args), |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    /// Newest first (by update time, then insertion), after `before` (a `(updated_at, rowid)` key).
    pub fn memory_list(
        &self,
        namespace: Option<&str>,
        filter: &MemoryFilter,
        before: Option<(String, i64)>,
        limit: usize,
    ) -> Result<Vec<(i64, Memory)>, StoreError> {
        let (mut cond, mut args) = filter_sql(namespace, filter, &now())?;
        if let Some((updated, rowid)) = before {
            cond.push_str(" AND (updated_at < ? OR (updated_at = ? AND rowid < ?))");
            args.push(rusqlite::types::Value::Text(updated.clone()));
            args.push(rusqlite::types::Value::Text(updated));
            args.push(rusqlite::types::Value::Integer(rowid));
        }
        args.push(rusqlite::types::Value::Integer(limit as i64));
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {MEMORY_COLUMNS} FROM memories WHERE {cond} ORDER BY updated_at DESC, rowid DESC LIMIT ?"
        ))?;
        let rows = stmt
            .query_map(params_from_iter(args), row_to_memory)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// BM25 ranking from FTS5 (best first), among memories matching the filter.
    pub fn memory_keyword(
        &self,
        query: &str,
        namespace: Option<&str>,
        filter: &MemoryFilter,
        k: usize,
    ) -> Result<Vec<(i64, f64)>, StoreError> {
        keyword_search(&self.conn, query, namespace, filter, k)
    }
}

/// A second connection to the same file for keyword searches, so a hybrid search's keyword half
/// does not hold the store (and its vector copy) while FTS5 works. WAL lets it read while the
/// main connection reads or writes; it sees every committed write.
#[derive(Clone)]
pub struct KeywordReader(std::sync::Arc<std::sync::Mutex<rusqlite::Connection>>);

impl KeywordReader {
    pub(crate) fn open(path: &std::path::Path) -> Result<Self, StoreError> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch("PRAGMA cache_size=-2048; PRAGMA query_only=ON;")?;
        Ok(Self(std::sync::Arc::new(std::sync::Mutex::new(conn))))
    }

    /// [`Store::memory_keyword`] on this connection.
    pub fn search(
        &self,
        query: &str,
        namespace: Option<&str>,
        filter: &MemoryFilter,
        k: usize,
    ) -> Result<Vec<(i64, f64)>, StoreError> {
        let conn = self
            .0
            .lock()
            .map_err(|_| StoreError::Invalid("the keyword reader lock is poisoned".into()))?;
        keyword_search(&conn, query, namespace, filter, k)
    }
}

fn keyword_search(
    conn: &rusqlite::Connection,
    query: &str,
    namespace: Option<&str>,
    filter: &MemoryFilter,
    k: usize,
) -> Result<Vec<(i64, f64)>, StoreError> {
    let words: Vec<&str> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    // Words that match most of any English corpus cost much and rank nothing; keep them
    // only when the query has nothing else.
    let content: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !STOPWORDS.contains(&w.to_lowercase().as_str()))
        .collect();
    let words = if content.is_empty() { words } else { content };
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let fts_query = words
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" OR ");
    let (cond, mut args) = filter_sql(namespace, filter, &now())?;
    let mut all = vec![rusqlite::types::Value::Text(fts_query)];
    let sql = Store::keyword_sql(&cond, filter.is_empty());
    if filter.is_empty() {
        all.push(rusqlite::types::Value::Integer((k * 8).max(200) as i64));
    }
    all.append(&mut args);
    all.push(rusqlite::types::Value::Integer(k as i64));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(all), |r| {
            Ok((r.get(0)?, r.get::<_, f64>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    // bm25() is lower-is-better; report it as a positive relevance.
    Ok(rows.into_iter().map(|(id, s)| (id, -s)).collect())
}

impl Store {
    /// The keyword search's SQL: the FTS query, then (without other filters) the FTS pool size,
    /// then `cond`'s arguments, then k.
    fn keyword_sql(cond: &str, unfiltered: bool) -> String {
        if unfiltered {
            // FTS5 ranks on its own (fast), then the few best are checked against namespace and
            // expiry; a generous pool keeps the filter from starving the top k. CROSS JOIN pins
            // the order: without it the planner may walk every memory of the namespace (by its
            // index) and probe the FTS result, reading 100k large rows per query.
            format!(
                "SELECT memories.rowid, top.score FROM \
                 (SELECT rowid, bm25(memories_fts) AS score FROM memories_fts WHERE memories_fts MATCH ? \
                  ORDER BY rank LIMIT ?) AS top \
                 CROSS JOIN memories ON memories.rowid = top.rowid WHERE {cond} ORDER BY top.score LIMIT ?"
            )
        } else {
            format!(
                "SELECT memories.rowid, bm25(memories_fts) AS score FROM memories_fts \
                 CROSS JOIN memories ON memories.rowid = memories_fts.rowid \
                 WHERE memories_fts MATCH ? AND {cond} ORDER BY score LIMIT ?"
            )
        }
    }

    /// Exact cosine top-k among memories matching the filter.
    pub fn memory_vector(
        &mut self,
        query: &[f32],
        namespace: Option<&str>,
        filter: &MemoryFilter,
        k: usize,
    ) -> Result<Vec<(i64, f32)>, StoreError> {
        self.sync_vectors()?;
        let ns = match namespace {
            Some(n) => match self.vectors.ns_ids.get(n) {
                Some(id) => Some(*id),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        // Filter first (SQL), then scan only what passed; expired memories never pass.
        let (cond, args) = filter_sql(namespace, filter, &now())?;
        let allowed: Option<HashSet<i64>> = if filter.is_empty() && !self.any_expiring()? {
            None
        } else {
            let mut stmt = self
                .conn
                .prepare(&format!("SELECT rowid FROM memories WHERE {cond}"))?;
            let ids = stmt
                .query_map(params_from_iter(args), |r| r.get(0))?
                .collect::<Result<HashSet<i64>, _>>()?;
            Some(ids)
        };
        Ok(self.vectors.top_k(query, ns, allowed.as_ref(), k))
    }

    fn any_expiring(&self) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM memories WHERE expires_at IS NOT NULL)",
            [],
            |r| r.get(0),
        )?)
    }

    /// Load the memories a ranking refers to.
    pub fn memory_rows(&self, rowids: &[i64]) -> Result<HashMap<i64, Memory>, StoreError> {
        self.memories_by_rowid(rowids)
    }

    /// Counts per namespace, embedder, dimension, file size.
    pub fn memory_counts(&self) -> Result<MemoryCounts, StoreError> {
        let mut counts = MemoryCounts::default();
        let mut stmt = self.conn.prepare(
            "SELECT namespace, count(*) FROM memories GROUP BY namespace ORDER BY namespace",
        )?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (ns, n) = row?;
            counts.total += n;
            counts.namespaces.insert(ns, n);
        }
        counts.embedded = self.conn.query_row(
            "SELECT count(*) FROM memories WHERE embedding IS NOT NULL",
            [],
            |r| r.get(0),
        )?;
        if let Some((id, dim)) = self.memory_embedder()? {
            counts.embedder = Some(id);
            counts.dimension = Some(dim);
        }
        counts.store_bytes = self.conn.query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get(0),
        )?;
        Ok(counts)
    }

    /// Bring the in-memory vectors up to the store's revision (own and other processes' writes).
    fn sync_vectors(&mut self) -> Result<(), StoreError> {
        let rev: i64 = meta_get(&self.conn, "rev")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if self.vectors.loaded && self.vectors.rev == rev {
            return Ok(());
        }
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)?;
        catch_up(&tx, &mut self.vectors)?;
        tx.commit()?;
        Ok(())
    }
}

/// Apply to `index` every vector change committed after the revision it has seen, reading
/// through `conn` (inside the caller's transaction, so what it sees is consistent).
fn catch_up(conn: &rusqlite::Connection, index: &mut VectorIndex) -> Result<(), StoreError> {
    let rev: i64 = meta_get(conn, "rev")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if index.loaded && index.rev == rev {
        return Ok(());
    }
    let since = if index.loaded { index.rev } else { -1 };
    {
        let mut stmt =
            conn.prepare_cached("SELECT mem_rowid FROM memory_tombstones WHERE rev > ?1")?;
        for r in stmt.query_map(params![since], |r| r.get::<_, i64>(0))? {
            index.remove(r?);
        }
        let mut stmt = conn.prepare_cached(
            "SELECT rowid, namespace, embedding FROM memories INDEXED BY memories_rev WHERE rev > ?1",
        )?;
        let mut rows = stmt.query(params![since])?;
        while let Some(row) = rows.next()? {
            let rowid: i64 = row.get(0)?;
            let ns: String = row.get(1)?;
            match row.get::<_, Option<Vec<u8>>>(2)? {
                Some(blob) => index.upsert(rowid, &ns, &blob_to_vec(&blob)),
                None => index.remove(rowid),
            }
        }
    }
    index.rev = rev;
    index.loaded = true;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::hash::HashEmbedder;

    #[test]
    fn keyword_search_ranks_in_fts_first_and_only_then_reads_rows() {
        let store = crate::Store::open_in_memory().unwrap();
        let tagged = MemoryFilter {
            tags_any: vec!["pricing".into()],
            ..MemoryFilter::default()
        };
        for filter in [MemoryFilter::default(), tagged] {
            let (cond, _) = filter_sql(Some("default"), &filter, "x").unwrap();
            let sql = Store::keyword_sql(&cond, filter.is_empty());
            let mut stmt = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let n = stmt.parameter_count();
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(vec!["x"; n]), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            // The memories table is only probed by rowid for FTS matches, never walked.
            assert!(
                plan.iter()
                    .any(|l| l.starts_with("SEARCH memories USING INTEGER PRIMARY KEY")),
                "{plan:?}"
            );
            assert!(
                !plan.iter().any(|l| (l.starts_with("SCAN memories")
                    && !l.starts_with("SCAN memories_fts"))
                    || l.starts_with("SEARCH memories USING INDEX")
                    || l.starts_with("SEARCH memories USING COVERING INDEX")),
                "{plan:?}"
            );
        }
    }

    #[test]
    fn the_two_thread_scan_finds_exactly_what_one_thread_finds() {
        let dim = 8;
        let n = PARALLEL_SCAN_ROWS * 2 + 17;
        let mut index = VectorIndex {
            dim,
            ..VectorIndex::default()
        };
        // Deterministic pseudo-random vectors, two namespaces, the best rows in both halves.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..n {
            index.rowids.push(i as i64 + 1);
            index.namespaces.push((i % 2) as u32);
            for _ in 0..dim {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                index.data.push((x % 2000) as f32 / 1000.0 - 1.0);
            }
        }
        let query: Vec<f32> = (0..dim).map(|d| d as f32 / 8.0 - 0.4).collect();
        let allowed: HashSet<i64> = (1..=n as i64).filter(|r| r % 3 != 0).collect();
        for (ns, allowed) in [(None, None), (Some(1), None), (Some(0), Some(&allowed))] {
            let both = index.top_k(&query, ns, allowed, 25);
            let one = index.top_k_range(&query, ns, allowed, 25, 0..n);
            assert_eq!(both.len(), 25);
            let scores = |v: &[(i64, f32)]| v.iter().map(|(_, s)| *s).collect::<Vec<_>>();
            assert_eq!(scores(&both), scores(&one));
            let mut a: Vec<i64> = both.iter().map(|(r, _)| *r).collect();
            let mut b: Vec<i64> = one.iter().map(|(r, _)| *r).collect();
            a.sort();
            b.sort();
            assert_eq!(a, b);
            assert!(both.iter().any(|(r, _)| *r as usize > n / 2));
        }
    }

    fn mem(ns: &str, content: &str, e: &HashEmbedder) -> NewMemory {
        NewMemory {
            namespace: ns.into(),
            content: content.into(),
            embedding: Some((crate::embed::Embedder::id(e).to_string(), e.vector(content))),
            ..Default::default()
        }
    }

    #[test]
    fn the_keyword_reader_finds_what_the_store_finds_and_sees_later_writes() {
        let e = HashEmbedder::new(64);
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("k.db"), crate::Durability::Normal).unwrap();
        let reader = s.keyword_reader().expect("file stores have a reader");
        s.memory_put(
            vec![
                mem("default", "Acme asked for a discount", &e),
                mem("default", "The outage hit Frankfurt", &e),
                mem("other", "Acme in another namespace", &e),
            ],
            2.0,
        )
        .unwrap();
        let f = MemoryFilter::default();
        let via_store = s
            .memory_keyword("acme discount", Some("default"), &f, 10)
            .unwrap();
        let via_reader = reader
            .search("acme discount", Some("default"), &f, 10)
            .unwrap();
        assert_eq!(via_store, via_reader);
        assert_eq!(via_reader.len(), 1);
        // A write made after the reader was opened is visible to it.
        s.memory_put(vec![mem("default", "Acme renewed for two years", &e)], 2.0)
            .unwrap();
        assert_eq!(
            reader
                .search("acme", Some("default"), &f, 10)
                .unwrap()
                .len(),
            2
        );
        assert!(Store::open_in_memory().unwrap().keyword_reader().is_none());
    }

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_utc(1_795_737_600, 5), "2026-11-27T00:00:00.005Z");
        assert_eq!(format_utc(951_782_400, 0), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn put_dedupes_by_text_and_by_cosine_within_a_namespace() {
        let e = HashEmbedder::new(64);
        let mut s = Store::open_in_memory().unwrap();
        let a = s
            .memory_put(vec![mem("default", "Acme renewed for two years", &e)], 0.97)
            .unwrap();
        assert_eq!(a[0].action, "created");
        let b = s
            .memory_put(
                vec![mem("default", "  acme RENEWED for two   years ", &e)],
                0.97,
            )
            .unwrap();
        assert_eq!(b[0].action, "deduplicated");
        assert_eq!(b[0].id, a[0].id);
        let c = s
            .memory_put(vec![mem("other", "Acme renewed for two years", &e)], 0.97)
            .unwrap();
        assert_eq!(c[0].action, "created", "namespaces do not dedupe across");
        assert_eq!(s.memory_counts().unwrap().total, 2);
    }

    #[test]
    fn filters_select_by_metadata_tags_source_and_refuse_bad_fields() {
        let e = HashEmbedder::new(64);
        let mut s = Store::open_in_memory().unwrap();
        let mut m1 = mem("default", "call with Acme about pricing", &e);
        m1.metadata.insert("amount".into(), 5000.into());
        m1.metadata.insert("region".into(), "emea".into());
        m1.tags = vec!["sales".into(), "pricing".into()];
        m1.source = Some("gong:call/1".into());
        let mut m2 = mem("default", "incident in the EU cluster", &e);
        m2.metadata.insert("amount".into(), 10.into());
        m2.tags = vec!["ops".into()];
        m2.source = Some("slack:C1/123".into());
        s.memory_put(vec![m1, m2], 0.97).unwrap();
        let f = |json: Value| -> MemoryFilter { serde_json::from_value(json).unwrap() };
        let ids =
            |s: &Store, flt: MemoryFilter| s.memory_ids_where(Some("default"), &flt).unwrap().len();
        assert_eq!(
            ids(
                &s,
                f(serde_json::json!({"metadata":[{"field":"amount","op":"gte","value":1000}]}))
            ),
            1
        );
        assert_eq!(
            ids(
                &s,
                f(
                    serde_json::json!({"metadata":[{"field":"region","op":"in","value":["emea","apac"]}]})
                )
            ),
            1
        );
        assert_eq!(
            ids(&s, f(serde_json::json!({"tags_any":["ops","pricing"]}))),
            2
        );
        assert_eq!(
            ids(&s, f(serde_json::json!({"tags_all":["sales","pricing"]}))),
            1
        );
        assert_eq!(ids(&s, f(serde_json::json!({"source_prefix":"gong:"}))), 1);
        let bad =
            f(serde_json::json!({"metadata":[{"field":"x') OR 1=1 --","op":"eq","value":1}]}));
        assert!(s.memory_ids_where(None, &bad).is_err());
    }

    #[test]
    fn keyword_and_vector_rankings_and_deletes_stay_in_step() {
        let e = HashEmbedder::new(128);
        let mut s = Store::open_in_memory().unwrap();
        let out = s
            .memory_put(
                vec![
                    mem("default", "the customer asked about pricing tiers", &e),
                    mem("default", "quarterly revenue grew in EMEA", &e),
                    mem("default", "pricing discussion with procurement", &e),
                ],
                0.97,
            )
            .unwrap();
        let kw = s
            .memory_keyword("pricing", Some("default"), &MemoryFilter::default(), 10)
            .unwrap();
        assert_eq!(kw.len(), 2);
        let q = e.vector("customer pricing tiers");
        let v = s
            .memory_vector(&q, Some("default"), &MemoryFilter::default(), 2)
            .unwrap();
        let rows = s.memory_rows(&[v[0].0]).unwrap();
        assert_eq!(
            rows[&v[0].0].content,
            "the customer asked about pricing tiers"
        );
        s.memory_delete(&[out[0].id.clone()]).unwrap();
        let v = s
            .memory_vector(&q, Some("default"), &MemoryFilter::default(), 3)
            .unwrap();
        assert_eq!(v.len(), 2);
        assert!(
            s.memory_keyword("customer", None, &MemoryFilter::default(), 10)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn refuses_to_mix_embedders() {
        let e = HashEmbedder::new(64);
        let f = HashEmbedder::new(32);
        let mut s = Store::open_in_memory().unwrap();
        s.memory_put(vec![mem("default", "one", &e)], 0.97).unwrap();
        let err = s
            .memory_put(vec![mem("default", "two", &f)], 0.97)
            .unwrap_err();
        assert!(err.to_string().contains("reembed"), "{err}");
    }
}
