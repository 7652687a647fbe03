//! A Pinecone backend for semantic memories: a client of Pinecone's REST data plane, the mapping
//! between a [`Memory`] and a Pinecone record, and the translation of our [`MemoryFilter`] into
//! Pinecone's metadata filter language.
//!
//! # Sources (read, not remembered)
//!
//! * The data-plane OpenAPI document, version **2025-10**: `pinecone-io/pinecone-api`,
//!   `2025-10/db_data_2025-10.oas.yaml` (paths `/vectors/upsert`, `/query`, `/vectors/fetch`,
//!   `/vectors/update`, `/vectors/delete`, `/vectors/list`, `/describe_index_stats`; schemas
//!   `UpsertRequest`, `QueryRequest`, `QueryResponse`, `ScoredVector`, `FetchResponse`,
//!   `UpdateRequest`, `DeleteRequest`, `ListResponse`, `Pagination`, `IndexDescription`,
//!   `NamespaceSummary`, `Usage`, `rpcStatus`; security scheme `Api-Key` header; the required
//!   `X-Pinecone-Api-Version` header). Its responses are what the fake in the tests answers.
//! * The API reference pages `https://docs.pinecone.io/reference/api/2026-04/data-plane/query`
//!   and `.../2026-07/data-plane/{upsert,fetch}` (same request/response shapes as 2025-10); they
//!   show 401 answered with the JSON string `"Unauthorized"` and other errors as
//!   `{"code", "message", "details"}`.
//! * Metadata: <https://docs.pinecone.io/guides/data/understanding-metadata> and
//!   <https://docs.pinecone.io/guides/search/filter-by-metadata>: values are strings, numbers
//!   (64-bit floats), booleans or lists of strings; no nulls, no nested objects; 40 KB per record;
//!   operators `$eq $ne $gt $gte $lt $lte $in $nin $exists $and $or`, where `$gt`..`$lte` take
//!   numbers only and `$in`/`$nin` strings or numbers; on a list-of-strings field `$eq`/`$in`
//!   match when any element matches.
//! * Limits: <https://docs.pinecone.io/guides/index-data/data-ingestion-overview> ("Max upsert
//!   size 2MB or 1000 records", "Max metadata size per record 40 KB", "Max length for a record
//!   ID 512 characters"); `DeleteRequest.ids` holds at most 1000 ids; `QueryRequest.topK` is
//!   1..=10000; `fetch`'s `ids` "does not accept values containing spaces".
//! * Errors and retries: <https://docs.pinecone.io/reference/api/errors> and
//!   <https://docs.pinecone.io/guides/production/error-handling> (401 unauthenticated, 403 quota
//!   or deletion protection, 404 not found, 429 rate limited, 5xx retry with backoff).
//!
//! # Transport
//!
//! Every call goes through [`mcp_core::upstream::send_with_retry`] as idempotent: upsert, update
//! and delete by id name their records, so repeating them changes nothing; query, fetch, list and
//! stats only read. 429/502/503/504 are retried with backoff, honouring `Retry-After`.
//!
//! `PINECONE_API_KEY` travels only in the `Api-Key` header (marked sensitive) and never reaches
//! a log line, a `Debug` output or an error message; upstream text is scrubbed of it.
//!
//! # Mapping decisions
//!
//! A memory is one record: id = memory id, values = its vector, metadata = the memory's own
//! metadata keys as they are (no prefix) plus the reserved keys in [`RESERVED_KEYS`]. A user
//! metadata key equal to a reserved key is refused, so a record always maps back losslessly.
//! Times are kept twice: the ISO-8601 strings as given (`_created_at`, ...) for a lossless
//! round trip, and epoch seconds (`_created_ts`, ...) because Pinecone range operators compare
//! numbers only. Numbers come back from Pinecone as 64-bit floats; a whole float in the exactly
//! representable range is returned as an integer (`5000.0` -> `5000`).
//!
//! `source_prefix` is **refused** on this backend: Pinecone has no prefix operator, and
//! post-filtering a top-k query would silently return fewer than k results. The error says so.
//!
//! # Assumptions (not settled by the pages read)
//!
//! * How Pinecone counts the 40 KB of metadata: taken as the serialized JSON, 40,960 bytes.
//! * Whether `$ne` matches records without the field: `ne` is sent as `$exists` AND `$ne`, which
//!   is right either way (and what the SQLite store does).
//! * Delete by metadata filter: the 2024-10 reference said serverless indexes do not support it;
//!   the 2025-10 spec no longer says so. An index that refuses answers 400, reported as "Pinecone
//!   rejected the delete request (HTTP 400): ...".

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use mcp_core::ToolError;
use mcp_core::upstream::{RetryPolicy, SendError, build_client, retry_after, send_with_retry};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::store::memories::{Memory, MemoryFilter, NewMemory};

/// The data-plane API version this client was written against (sent as `X-Pinecone-Api-Version`).
pub const API_VERSION: &str = "2025-10";
/// Per-request timeout unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Records per upsert request. Pinecone allows 1000; 100 keeps requests small and retries cheap.
pub const UPSERT_BATCH: usize = 100;
/// Bytes per upsert request body. Pinecone's limit is "2MB"; read as 2,000,000 to stay under
/// either reading of MB.
pub const MAX_REQUEST_BYTES: usize = 2_000_000;
/// Metadata bytes per record (Pinecone: "40 KB"), measured as the serialized JSON object.
/// Assumption: Pinecone's own accounting is not documented; JSON size is the closest public
/// measure, and 40 KB is read as 40,960 bytes.
pub const MAX_METADATA_BYTES: usize = 40 * 1024;
/// Ids per fetch request (ids go in the query string; keeps URLs short).
pub const FETCH_BATCH: usize = 100;
/// Ids per delete request (`DeleteRequest.ids` maxLength 1000).
pub const DELETE_BATCH: usize = 1000;
/// Largest `topK` Pinecone accepts.
pub const MAX_TOP_K: usize = 10_000;
/// Longest record id Pinecone accepts, in characters.
pub const MAX_ID_CHARS: usize = 512;

const SERVICE: &str = "Pinecone";
const KEY_VAR: &str = "PINECONE_API_KEY";
const HOST_VAR: &str = "PINECONE_INDEX_HOST";
/// Most characters of an upstream error message we repeat.
const MAX_UPSTREAM_MESSAGE: usize = 300;

/// The memory's text.
pub const KEY_CONTENT: &str = "_content";
/// Tags, a list of strings.
pub const KEY_TAGS: &str = "_tags";
/// Provenance, a string.
pub const KEY_SOURCE: &str = "_source";
/// Creation time as given (ISO-8601 string).
pub const KEY_CREATED_AT: &str = "_created_at";
/// Last update time as given (ISO-8601 string).
pub const KEY_UPDATED_AT: &str = "_updated_at";
/// Creation time in epoch seconds (number), for range filters.
pub const KEY_CREATED_TS: &str = "_created_ts";
/// Last update time in epoch seconds (number), for range filters.
pub const KEY_UPDATED_TS: &str = "_updated_ts";
/// Expiry as given (ISO-8601 string), when the memory expires.
pub const KEY_EXPIRES_AT: &str = "_expires_at";
/// Expiry in epoch seconds (number), when the memory expires.
pub const KEY_EXPIRES_TS: &str = "_expires_ts";
/// The document a chunk belongs to.
pub const KEY_DOCUMENT_ID: &str = "_document_id";
/// The chunk's position in its document (number; absent means 0).
pub const KEY_CHUNK_INDEX: &str = "_chunk_index";
/// Knowledge-graph entity names (list of strings).
pub const KEY_ENTITIES: &str = "_entities";
/// The embedder the vector came from (string), when known.
pub const KEY_EMBEDDER: &str = "_embedder";

/// Metadata keys this backend owns; a memory's own metadata may not use them.
pub const RESERVED_KEYS: [&str; 13] = [
    KEY_CONTENT,
    KEY_TAGS,
    KEY_SOURCE,
    KEY_CREATED_AT,
    KEY_UPDATED_AT,
    KEY_CREATED_TS,
    KEY_UPDATED_TS,
    KEY_EXPIRES_AT,
    KEY_EXPIRES_TS,
    KEY_DOCUMENT_ID,
    KEY_CHUNK_INDEX,
    KEY_ENTITIES,
    KEY_EMBEDDER,
];

fn is_reserved(key: &str) -> bool {
    RESERVED_KEYS.contains(&key)
}

// ---------------------------------------------------------------------------------------------
// Configuration

/// Configuration of [`PineconeClient`]. `Debug` redacts the key.
#[derive(Clone)]
pub struct PineconeConfig {
    /// Sent as the `Api-Key` header.
    pub api_key: SecretString,
    /// The index host from the console or `describe_index`, with or without `https://`
    /// (`http://` only for a loopback address, i.e. a local fake or emulator).
    pub index_host: String,
    /// Sent as `X-Pinecone-Api-Version`; [`API_VERSION`], the version the client was written for.
    pub api_version: &'static str,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    /// Retries of 429/502/503/504 and connection failures.
    pub retry: RetryPolicy,
}

impl fmt::Debug for PineconeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PineconeConfig")
            .field("api_key", &"[REDACTED]")
            .field("index_host", &self.index_host)
            .field("api_version", &self.api_version)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

impl PineconeConfig {
    /// A configuration with the default version, timeout and retries.
    pub fn new(api_key: SecretString, index_host: impl Into<String>) -> Self {
        Self {
            api_key,
            index_host: index_host.into(),
            api_version: API_VERSION,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }

    /// Read the configuration from the process environment; see [`PineconeConfig::from_lookup`].
    pub fn from_env() -> Result<Self, ToolError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read `PINECONE_API_KEY` and `PINECONE_INDEX_HOST` through `lookup` (empty values count as
    /// unset). The host is checked here, so a bad value fails at start-up, not at first use.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ToolError> {
        // Not trimmed: a key is used exactly as given; only an empty one counts as unset.
        let api_key =
            lookup(KEY_VAR)
                .filter(|k| !k.is_empty())
                .ok_or(ToolError::MissingCredential {
                    service: SERVICE,
                    variable: KEY_VAR,
                })?;
        let host = lookup(HOST_VAR)
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .ok_or(ToolError::MissingCredential {
                service: SERVICE,
                variable: HOST_VAR,
            })?;
        let base = normalize_host(&host)?;
        Ok(Self::new(
            SecretString::from(api_key),
            base.as_str().trim_end_matches('/').to_string(),
        ))
    }
}

/// `PINECONE_INDEX_HOST` to a base URL: `https://` is added when no scheme is given; `http://`
/// is accepted for loopback hosts only (the key must not cross a network in clear text).
fn normalize_host(raw: &str) -> Result<Url, ToolError> {
    let raw = raw.trim().trim_end_matches('/');
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| {
        ToolError::InvalidInput(format!(
            "{HOST_VAR} is not a valid host ({e}): use the index host from the Pinecone console, \
             e.g. my-index-abc123.svc.aped-4627-b74a.pinecone.io"
        ))
    })?;
    let host = url.host_str().unwrap_or_default().to_string();
    if host.is_empty() {
        return Err(ToolError::InvalidInput(format!(
            "{HOST_VAR} has no host name: use the index host from the Pinecone console"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(ToolError::InvalidInput(format!(
            "{HOST_VAR} must be a bare host (no user, password or query); the key goes in \
             {KEY_VAR}"
        )));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => {
            return Err(ToolError::InvalidInput(format!(
                "{HOST_VAR} uses http:// for {host}: Pinecone needs https:// (plain http is \
                 accepted only for a local emulator on a loopback address)"
            )));
        }
        other => {
            return Err(ToolError::InvalidInput(format!(
                "{HOST_VAR} must be an https host, not {other}://"
            )));
        }
    }
    Ok(url)
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

// ---------------------------------------------------------------------------------------------
// Wire types

/// One Pinecone record: what upsert sends and fetch returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PineconeRecord {
    pub id: String,
    /// The dense vector (empty when a response left it out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<f32>,
    #[serde(
        default,
        skip_serializing_if = "Map::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub metadata: Map<String, Value>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(d)?.unwrap_or_default())
}

/// One query match, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryMatch {
    /// Similarity by the index's metric; higher is more similar for cosine and dot product.
    pub score: f32,
    /// Id and (when asked for) metadata; `values` is empty (not requested).
    pub record: PineconeRecord,
}

/// What a query returned.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub matches: Vec<QueryMatch>,
    pub namespace: String,
    pub read_units: Option<u64>,
}

/// One page of record ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    pub ids: Vec<String>,
    /// Pass back as `pagination_token` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// Index statistics from `describe_index_stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexStats {
    /// Records per namespace.
    pub namespaces: BTreeMap<String, u64>,
    pub dimension: Option<u64>,
    pub total_vector_count: u64,
    pub index_fullness: Option<f64>,
    pub metric: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueryRequest<'a> {
    namespace: &'a str,
    vector: &'a [f32],
    top_k: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<&'a Value>,
    include_values: bool,
    include_metadata: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UpdateRequest<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    values: Option<&'a [f32]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    set_metadata: Option<&'a Map<String, Value>>,
    namespace: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeleteRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ids: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delete_all: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<&'a Value>,
    namespace: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpsertResponse {
    #[serde(default)]
    upserted_count: u64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Usage {
    #[serde(default)]
    read_units: Option<u64>,
}

#[derive(Deserialize)]
struct ScoredVector {
    id: String,
    #[serde(default)]
    score: f32,
    #[serde(default)]
    values: Vec<f32>,
    #[serde(default, deserialize_with = "null_as_empty")]
    metadata: Map<String, Value>,
}

#[derive(Deserialize)]
struct QueryResponse {
    #[serde(default)]
    matches: Vec<ScoredVector>,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct FetchResponse {
    #[serde(default)]
    vectors: HashMap<String, PineconeRecord>,
}

#[derive(Deserialize)]
struct ListItem {
    id: String,
}

#[derive(Deserialize)]
struct Pagination {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct ListResponse {
    #[serde(default)]
    vectors: Vec<ListItem>,
    #[serde(default)]
    pagination: Option<Pagination>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NamespaceSummary {
    #[serde(default)]
    vector_count: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexDescription {
    #[serde(default)]
    namespaces: BTreeMap<String, NamespaceSummary>,
    #[serde(default)]
    dimension: Option<u64>,
    #[serde(default)]
    index_fullness: Option<f64>,
    #[serde(default)]
    total_vector_count: u64,
    #[serde(default)]
    metric: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Client

/// A client of one Pinecone index's data plane.
pub struct PineconeClient {
    client: reqwest::Client,
    /// Scheme and host (and any path), no trailing slash.
    base: String,
    api_key: SecretString,
    api_key_header: HeaderValue,
    api_version: HeaderValue,
    retry: RetryPolicy,
}

impl fmt::Debug for PineconeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PineconeClient")
            .field("index_host", &self.base)
            .field("api_key", &"[REDACTED]")
            .field("api_version", &self.api_version)
            .finish()
    }
}

/// Which call, for messages.
#[derive(Clone, Copy)]
enum Op {
    Upsert,
    Query,
    Fetch,
    Update,
    Delete,
    List,
    Stats,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Upsert => "upsert",
            Op::Query => "query",
            Op::Fetch => "fetch",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::List => "list",
            Op::Stats => "describe_index_stats",
        }
    }
}

impl PineconeClient {
    /// Check the configuration and build the HTTP client. No request is made.
    pub fn new(config: PineconeConfig) -> Result<Self, ToolError> {
        let url = normalize_host(&config.index_host)?;
        let base = url.as_str().trim_end_matches('/').to_string();
        let mut api_key_header =
            HeaderValue::from_str(config.api_key.expose_secret()).map_err(|_| {
                ToolError::InvalidInput(format!(
                    "{KEY_VAR} contains characters that cannot go in an HTTP header; paste the \
                     key again from the Pinecone console"
                ))
            })?;
        api_key_header.set_sensitive(true);
        let api_version = HeaderValue::from_str(config.api_version).map_err(|_| {
            ToolError::Internal("the Pinecone API version is not a valid header".into())
        })?;
        let client = build_client("sophia-memory", env!("CARGO_PKG_VERSION"), config.timeout)
            .map_err(|e| {
                ToolError::Internal(format!(
                    "could not build the HTTP client for Pinecone: {}",
                    e.without_url()
                ))
            })?;
        Ok(Self {
            client,
            base,
            api_key: config.api_key,
            api_key_header,
            api_version,
            retry: config.retry,
        })
    }

    /// The index host requests go to.
    pub fn index_host(&self) -> &str {
        &self.base
    }

    /// Upsert records into `namespace` in requests of at most [`UPSERT_BATCH`] records and
    /// [`MAX_REQUEST_BYTES`] bytes, sent one after another. Returns the upserted count Pinecone
    /// reported. A failure stops at the failing batch (earlier batches stay written; upserting
    /// again is harmless).
    pub async fn upsert(
        &self,
        namespace: &str,
        records: Vec<PineconeRecord>,
    ) -> Result<u64, ToolError> {
        for r in &records {
            check_id(&r.id)?;
            if r.values.is_empty() {
                return Err(ToolError::InvalidInput(format!(
                    "record {:?} has no vector; a Pinecone index stores only records with one",
                    r.id
                )));
            }
        }
        let bodies = upsert_bodies(namespace, &records)?;
        let mut upserted = 0;
        for body in bodies {
            tracing::debug!(namespace, bytes = body.len(), "pinecone upsert batch");
            let parsed: UpsertResponse = self
                .send(Op::Upsert, namespace, || {
                    self.request(reqwest::Method::POST, "/vectors/upsert")
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.clone())
                })
                .await?;
            upserted += parsed.upserted_count;
        }
        Ok(upserted)
    }

    /// The `top_k` records of `namespace` nearest to `vector` that match `filter` (Pinecone filter
    /// JSON, e.g. from [`translate_filter`]), best first; metadata when `include_metadata`.
    pub async fn query(
        &self,
        namespace: &str,
        vector: &[f32],
        top_k: usize,
        filter: Option<Value>,
        include_metadata: bool,
    ) -> Result<QueryResult, ToolError> {
        if top_k == 0 {
            return Ok(QueryResult {
                matches: Vec::new(),
                namespace: namespace.to_string(),
                read_units: None,
            });
        }
        if top_k > MAX_TOP_K {
            return Err(ToolError::InvalidInput(format!(
                "Pinecone returns at most {MAX_TOP_K} matches per query, not {top_k}"
            )));
        }
        if vector.is_empty() {
            return Err(ToolError::InvalidInput(
                "a Pinecone query needs a non-empty vector".into(),
            ));
        }
        let body = QueryRequest {
            namespace,
            vector,
            top_k,
            filter: filter.as_ref(),
            include_values: false,
            include_metadata,
        };
        let parsed: QueryResponse = self
            .send(Op::Query, namespace, || {
                self.request(reqwest::Method::POST, "/query").json(&body)
            })
            .await?;
        Ok(QueryResult {
            matches: parsed
                .matches
                .into_iter()
                .map(|m| QueryMatch {
                    score: m.score,
                    record: PineconeRecord {
                        id: m.id,
                        values: m.values,
                        metadata: m.metadata,
                    },
                })
                .collect(),
            namespace: parsed.namespace,
            read_units: parsed.usage.unwrap_or_default().read_units,
        })
    }

    /// Records by id, in the order asked; ids Pinecone does not have are skipped.
    pub async fn fetch(
        &self,
        namespace: &str,
        ids: &[String],
    ) -> Result<Vec<PineconeRecord>, ToolError> {
        for id in ids {
            check_id(id)?;
        }
        let mut found: HashMap<String, PineconeRecord> = HashMap::new();
        let unique: Vec<&String> = {
            let mut seen = HashSet::new();
            ids.iter().filter(|id| seen.insert(id.as_str())).collect()
        };
        for batch in unique.chunks(FETCH_BATCH) {
            let mut pairs: Vec<(&str, &str)> =
                batch.iter().map(|id| ("ids", id.as_str())).collect();
            pairs.push(("namespace", namespace));
            let url = self.url_with_query("/vectors/fetch", &pairs)?;
            let parsed: FetchResponse = self
                .send(Op::Fetch, namespace, || {
                    self.request_url(reqwest::Method::GET, url.clone())
                })
                .await?;
            for (key, mut record) in parsed.vectors {
                if record.id.is_empty() {
                    record.id = key.clone();
                }
                found.insert(key, record);
            }
        }
        Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
    }

    /// Overwrite a record's vector and/or merge `set_metadata` into its metadata (Pinecone adds or
    /// overwrites the keys given; it cannot remove keys: upsert the whole record for that).
    pub async fn update(
        &self,
        namespace: &str,
        id: &str,
        values: Option<Vec<f32>>,
        set_metadata: Option<Map<String, Value>>,
    ) -> Result<(), ToolError> {
        check_id(id)?;
        if values.is_none() && set_metadata.is_none() {
            return Ok(());
        }
        if let Some(m) = &set_metadata {
            check_metadata_values(m)?;
        }
        let body = UpdateRequest {
            id,
            values: values.as_deref(),
            set_metadata: set_metadata.as_ref(),
            namespace,
        };
        let _: Value = self
            .send(Op::Update, namespace, || {
                self.request(reqwest::Method::POST, "/vectors/update")
                    .json(&body)
            })
            .await?;
        Ok(())
    }

    /// Delete records by id (in requests of at most [`DELETE_BATCH`] ids). Missing ids are not an
    /// error.
    pub async fn delete_ids(&self, namespace: &str, ids: &[String]) -> Result<(), ToolError> {
        for batch in ids.chunks(DELETE_BATCH) {
            let body = DeleteRequest {
                ids: Some(batch),
                delete_all: None,
                filter: None,
                namespace,
            };
            self.delete(namespace, &body).await?;
        }
        Ok(())
    }

    /// Delete every record of `namespace` matching `filter` (Pinecone filter JSON). An empty
    /// filter object is refused: use [`PineconeClient::delete_all`] to empty a namespace.
    pub async fn delete_filter(&self, namespace: &str, filter: Value) -> Result<(), ToolError> {
        if filter.as_object().is_none_or(Map::is_empty) {
            return Err(ToolError::InvalidInput(
                "delete by filter needs a non-empty filter object".into(),
            ));
        }
        let body = DeleteRequest {
            ids: None,
            delete_all: None,
            filter: Some(&filter),
            namespace,
        };
        self.delete(namespace, &body).await
    }

    /// Delete every record of `namespace` (`deleteAll`).
    pub async fn delete_all(&self, namespace: &str) -> Result<(), ToolError> {
        let body = DeleteRequest {
            ids: None,
            delete_all: Some(true),
            filter: None,
            namespace,
        };
        self.delete(namespace, &body).await
    }

    async fn delete(&self, namespace: &str, body: &DeleteRequest<'_>) -> Result<(), ToolError> {
        let _: Value = self
            .send(Op::Delete, namespace, || {
                self.request(reqwest::Method::POST, "/vectors/delete")
                    .json(body)
            })
            .await?;
        Ok(())
    }

    /// One page of record ids in `namespace` (sorted; starting with `prefix` when given). Pinecone
    /// supports `list` on serverless indexes only.
    pub async fn list(
        &self,
        namespace: &str,
        prefix: Option<&str>,
        limit: Option<usize>,
        pagination_token: Option<&str>,
    ) -> Result<ListPage, ToolError> {
        if limit == Some(0) {
            return Err(ToolError::InvalidInput(
                "list limit must be at least 1".into(),
            ));
        }
        let limit = limit.map(|l| l.to_string());
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(p) = prefix.filter(|p| !p.is_empty()) {
            pairs.push(("prefix", p));
        }
        if let Some(l) = &limit {
            pairs.push(("limit", l));
        }
        if let Some(t) = pagination_token.filter(|t| !t.is_empty()) {
            pairs.push(("paginationToken", t));
        }
        pairs.push(("namespace", namespace));
        let url = self.url_with_query("/vectors/list", &pairs)?;
        let parsed: ListResponse = self
            .send(Op::List, namespace, || {
                self.request_url(reqwest::Method::GET, url.clone())
            })
            .await?;
        Ok(ListPage {
            ids: parsed.vectors.into_iter().map(|v| v.id).collect(),
            next: parsed
                .pagination
                .and_then(|p| p.next)
                .filter(|n| !n.is_empty()),
        })
    }

    /// Record counts per namespace, dimension, fullness (`describe_index_stats`, no filter:
    /// serverless indexes do not filter stats).
    pub async fn stats(&self) -> Result<IndexStats, ToolError> {
        let body = json!({});
        let parsed: IndexDescription = self
            .send(Op::Stats, "", || {
                self.request(reqwest::Method::POST, "/describe_index_stats")
                    .json(&body)
            })
            .await?;
        Ok(IndexStats {
            namespaces: parsed
                .namespaces
                .into_iter()
                .map(|(ns, s)| (ns, s.vector_count))
                .collect(),
            dimension: parsed.dimension,
            total_vector_count: parsed.total_vector_count,
            index_fullness: parsed.index_fullness,
            metric: parsed.metric,
        })
    }

    // -- plumbing --

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.with_headers(self.client.request(method, format!("{}{path}", self.base)))
    }

    fn request_url(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        self.with_headers(self.client.request(method, url))
    }

    fn with_headers(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request
            .header("Api-Key", self.api_key_header.clone())
            .header("X-Pinecone-Api-Version", self.api_version.clone())
            .header(ACCEPT, "application/json")
    }

    /// `base + path` with the pairs form-encoded as its query (reqwest's `query` feature is off
    /// in this workspace; `Url::query_pairs_mut` does the encoding).
    fn url_with_query(&self, path: &str, pairs: &[(&str, &str)]) -> Result<Url, ToolError> {
        let mut url = Url::parse(&format!("{}{path}", self.base)).map_err(|e| {
            ToolError::InvalidInput(format!("{HOST_VAR} does not make a valid URL: {e}"))
        })?;
        url.query_pairs_mut().extend_pairs(pairs);
        Ok(url)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        op: Op,
        namespace: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, ToolError> {
        let response = send_with_retry(build, true, &self.retry)
            .await
            .map_err(|e| self.transport_error(op, e))?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(op, SendError::from(e)))?;
        if !status.is_success() {
            return Err(self.status_error(op, namespace, status, wait, &bytes));
        }
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(text).map_err(|e| ToolError::Upstream {
            service: SERVICE,
            detail: format!(
                "{} at {} answered HTTP {} with malformed JSON, not a {} response: {e}",
                op.name(),
                self.base,
                status.as_u16(),
                op.name()
            ),
            retryable: false,
        })
    }

    fn transport_error(&self, op: Op, e: SendError) -> ToolError {
        let (what, retryable) = match e {
            SendError::Timeout => ("timed out".to_string(), true),
            SendError::Connect(m) => (format!("could not connect ({})", self.scrub(&m)), true),
            SendError::Other(m) => (format!("failed ({})", self.scrub(&m)), false),
        };
        ToolError::Upstream {
            service: SERVICE,
            detail: format!("{} at {} {what}; check {HOST_VAR}", op.name(), self.base),
            retryable,
        }
    }

    fn status_error(
        &self,
        op: Op,
        namespace: &str,
        status: StatusCode,
        wait: Option<Duration>,
        body: &[u8],
    ) -> ToolError {
        let code = status.as_u16();
        let said = upstream_message(body)
            .map(|m| format!(": {}", self.scrub(&m)))
            .unwrap_or_default();
        match code {
            401 => ToolError::Unauthorized {
                service: SERVICE,
                variable: KEY_VAR,
                detail: format!("HTTP 401 on {}{said}", op.name()),
            },
            403 => ToolError::Unauthorized {
                service: SERVICE,
                variable: KEY_VAR,
                detail: format!(
                    "HTTP 403 forbidden on {}{said}; the key may belong to another project, or \
                     a quota is exceeded",
                    op.name()
                ),
            },
            404 => ToolError::Upstream {
                service: SERVICE,
                detail: format!(
                    "{} answered 404 not found at {}{said}; check {HOST_VAR} (the index \
                     host from the Pinecone console, e.g. \
                     my-index-abc123.svc.aped-4627-b74a.pinecone.io) and the namespace \
                     {namespace:?}",
                    op.name(),
                    self.base
                ),
                retryable: false,
            },
            429 => ToolError::RateLimited {
                service: SERVICE,
                retry_after: wait,
            },
            500..=599 => ToolError::Upstream {
                service: SERVICE,
                detail: format!("{} failed with HTTP {code}{said}", op.name()),
                retryable: true,
            },
            _ => ToolError::InvalidInput(format!(
                "Pinecone rejected the {} request (HTTP {code}){said}",
                op.name()
            )),
        }
    }

    /// Remove the key from text that came from elsewhere.
    fn scrub(&self, text: &str) -> String {
        let key = self.api_key.expose_secret();
        if key.is_empty() {
            text.to_string()
        } else {
            text.replace(key, "[REDACTED]")
        }
    }
}

/// The human part of an error body: `{"code","message","details"}` (rpcStatus), a JSON string
/// (`"Unauthorized"`), or the start of the text.
fn upstream_message(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let message = match serde_json::from_str::<Value>(&text) {
        Ok(Value::String(s)) => s,
        Ok(json) => json
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| json.pointer("/error/message").and_then(Value::as_str))
            .map(str::to_string)?,
        Err(_) => text.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    let message = message.trim();
    if message.is_empty() {
        return None;
    }
    Some(match message.char_indices().nth(MAX_UPSTREAM_MESSAGE) {
        Some((cut, _)) => format!("{}...", &message[..cut]),
        None => message.to_string(),
    })
}

fn check_id(id: &str) -> Result<(), ToolError> {
    if id.is_empty() {
        return Err(ToolError::InvalidInput(
            "a record id cannot be empty".into(),
        ));
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Err(ToolError::InvalidInput(format!(
            "record id {:?}... is longer than Pinecone's {MAX_ID_CHARS} characters",
            id.chars().take(40).collect::<String>()
        )));
    }
    if id.chars().any(char::is_whitespace) {
        return Err(ToolError::InvalidInput(format!(
            "record id {id:?} contains whitespace, which Pinecone's fetch does not accept"
        )));
    }
    Ok(())
}

/// Request bodies for an upsert: at most [`UPSERT_BATCH`] records and [`MAX_REQUEST_BYTES`] each.
fn upsert_bodies(namespace: &str, records: &[PineconeRecord]) -> Result<Vec<Vec<u8>>, ToolError> {
    let ns = serde_json::to_string(namespace)
        .map_err(|e| ToolError::Internal(format!("namespace does not serialize: {e}")))?;
    let head = b"{\"vectors\":[";
    let tail = format!("],\"namespace\":{ns}}}");
    let envelope = head.len() + tail.len();
    let mut bodies = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut count = 0usize;
    let finish = |current: &mut Vec<u8>, bodies: &mut Vec<Vec<u8>>| {
        current.extend_from_slice(tail.as_bytes());
        bodies.push(std::mem::take(current));
    };
    for r in records {
        let json = serde_json::to_vec(r)
            .map_err(|e| ToolError::Internal(format!("record does not serialize: {e}")))?;
        if envelope + json.len() > MAX_REQUEST_BYTES {
            return Err(ToolError::InvalidInput(format!(
                "record {:?} alone is {} bytes, over Pinecone's {MAX_REQUEST_BYTES}-byte request \
                 limit",
                r.id,
                json.len()
            )));
        }
        let would_be = current.len() + 1 + json.len() + tail.len();
        if count > 0 && (count == UPSERT_BATCH || would_be > MAX_REQUEST_BYTES) {
            finish(&mut current, &mut bodies);
            count = 0;
        }
        if count == 0 {
            current.extend_from_slice(head);
        } else {
            current.push(b',');
        }
        current.extend_from_slice(&json);
        count += 1;
    }
    if count > 0 {
        finish(&mut current, &mut bodies);
    }
    Ok(bodies)
}

// ---------------------------------------------------------------------------------------------
// Memory <-> record

/// Metadata values Pinecone stores: strings, numbers, booleans, lists of strings.
fn check_metadata_values(m: &Map<String, Value>) -> Result<(), ToolError> {
    for (k, v) in m {
        check_value(k, v).map_err(ToolError::InvalidInput)?;
    }
    Ok(())
}

fn check_value(k: &str, v: &Value) -> Result<(), String> {
    match v {
        Value::String(_) | Value::Bool(_) => Ok(()),
        Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => Ok(()),
        Value::Array(items) if items.iter().all(Value::is_string) => Ok(()),
        other => Err(format!(
            "metadata.{k} is {other}: Pinecone stores strings, numbers, booleans and lists of \
             strings only (no null, no nested objects)"
        )),
    }
}

/// The record for a stored memory and its vector. `embedder` (when known) is kept as
/// `_embedder`. Fails when a metadata key is reserved, a value is not a type Pinecone stores, a
/// time is not ISO-8601, the id is not a valid Pinecone id, the vector is empty, or the metadata
/// would exceed [`MAX_METADATA_BYTES`]; in that last case nothing is truncated and the message
/// says how many bytes of content would fit (split the text into chunks, or shorten it).
pub fn record_from_memory(
    memory: &Memory,
    values: Vec<f32>,
    embedder: Option<&str>,
) -> Result<PineconeRecord, String> {
    check_id(&memory.id).map_err(|e| e.to_string())?;
    if values.is_empty() {
        return Err(format!(
            "memory {} has no vector yet; the pinecone backend stores only embedded memories",
            memory.id
        ));
    }
    if values.iter().any(|x| !x.is_finite()) {
        return Err(format!(
            "memory {} has a vector with non-finite values",
            memory.id
        ));
    }
    let mut metadata = Map::new();
    for (k, v) in &memory.metadata {
        if is_reserved(k) {
            return Err(format!(
                "metadata key {k:?} is reserved by the pinecone backend (it stores the memory's \
                 own fields under {}); rename it",
                RESERVED_KEYS.join(", ")
            ));
        }
        check_value(k, v)?;
        metadata.insert(k.clone(), v.clone());
    }
    if !memory.tags.is_empty() {
        metadata.insert(KEY_TAGS.into(), json!(memory.tags));
    }
    if let Some(s) = &memory.source {
        metadata.insert(KEY_SOURCE.into(), json!(s));
    }
    metadata.insert(KEY_CREATED_AT.into(), json!(memory.created_at));
    metadata.insert(
        KEY_CREATED_TS.into(),
        json!(parse_iso8601(&memory.created_at).map_err(|e| format!("created_at: {e}"))?),
    );
    metadata.insert(KEY_UPDATED_AT.into(), json!(memory.updated_at));
    metadata.insert(
        KEY_UPDATED_TS.into(),
        json!(parse_iso8601(&memory.updated_at).map_err(|e| format!("updated_at: {e}"))?),
    );
    if let Some(e) = &memory.expires_at {
        metadata.insert(KEY_EXPIRES_AT.into(), json!(e));
        metadata.insert(
            KEY_EXPIRES_TS.into(),
            json!(parse_iso8601(e).map_err(|err| format!("expires_at: {err}"))?),
        );
    }
    if let Some(d) = &memory.document_id {
        metadata.insert(KEY_DOCUMENT_ID.into(), json!(d));
    }
    if memory.chunk_index != 0 {
        metadata.insert(KEY_CHUNK_INDEX.into(), json!(memory.chunk_index));
    }
    if !memory.entities.is_empty() {
        metadata.insert(KEY_ENTITIES.into(), json!(memory.entities));
    }
    if let Some(e) = embedder {
        metadata.insert(KEY_EMBEDDER.into(), json!(e));
    }
    // Size without the text first, so the message can say what would fit.
    metadata.insert(KEY_CONTENT.into(), json!(""));
    let base = json_len(&metadata);
    let content_json = serde_json::to_string(&memory.content)
        .map_err(|e| format!("content does not serialize: {e}"))?
        .len()
        - 2;
    if base + content_json > MAX_METADATA_BYTES {
        return Err(format!(
            "memory {} is too large for Pinecone: its metadata would be {} bytes, over the \
             {MAX_METADATA_BYTES}-byte (40 KB) limit per record; the content is {} bytes and at \
             most {} bytes of it fit with this metadata. Nothing was truncated: split the text \
             into smaller chunks or shorten it",
            memory.id,
            base + content_json,
            memory.content.len(),
            MAX_METADATA_BYTES.saturating_sub(base)
        ));
    }
    metadata.insert(KEY_CONTENT.into(), json!(memory.content));
    Ok(PineconeRecord {
        id: memory.id.clone(),
        values,
        metadata,
    })
}

/// The record for a memory being written: `id` (the new or existing id), `created_at` (the
/// existing memory's, or now) and `updated_at` (now) as ISO-8601 strings; the vector and
/// embedder come from `new.embedding`, which is required.
pub fn record_from_new(
    new: &NewMemory,
    id: &str,
    created_at: &str,
    updated_at: &str,
) -> Result<PineconeRecord, String> {
    let Some((embedder, values)) = &new.embedding else {
        return Err(
            "the pinecone backend stores only memories with a vector: no embedder is ready"
                .to_string(),
        );
    };
    let memory = Memory {
        id: id.to_string(),
        namespace: new.namespace.clone(),
        document_id: new.document_id.clone(),
        chunk_index: new.chunk_index,
        content: new.content.clone(),
        metadata: new.metadata.clone(),
        tags: new.tags.clone(),
        source: new.source.clone(),
        entities: new.entities.clone(),
        created_at: created_at.to_string(),
        updated_at: updated_at.to_string(),
        expires_at: new.expires_at.clone(),
        embedded: true,
    };
    record_from_memory(&memory, values.clone(), Some(embedder))
}

/// The memory a record (from fetch or a query with metadata) stands for, in `namespace`.
/// Reserved keys become the memory's fields; every other key is its metadata. Fails when
/// `_content` is missing (the record was not written by this backend, or the query did not ask
/// for metadata).
pub fn memory_from_record(namespace: &str, record: &PineconeRecord) -> Result<Memory, String> {
    let m = &record.metadata;
    let text = |key: &str| m.get(key).and_then(Value::as_str).map(str::to_string);
    let strings = |key: &str| -> Vec<String> {
        m.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let content = text(KEY_CONTENT).ok_or_else(|| {
        format!(
            "Pinecone record {:?} has no {KEY_CONTENT}: it was not written by sophia-memory, or \
             it was read without metadata",
            record.id
        )
    })?;
    let metadata: Map<String, Value> = m
        .iter()
        .filter(|(k, _)| !is_reserved(k))
        .map(|(k, v)| (k.clone(), normalize_number(v)))
        .collect();
    let chunk_index = m
        .get(KEY_CHUNK_INDEX)
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
        .unwrap_or(0);
    Ok(Memory {
        id: record.id.clone(),
        namespace: namespace.to_string(),
        document_id: text(KEY_DOCUMENT_ID),
        chunk_index,
        content,
        metadata,
        tags: strings(KEY_TAGS),
        source: text(KEY_SOURCE),
        entities: strings(KEY_ENTITIES),
        created_at: text(KEY_CREATED_AT).unwrap_or_default(),
        updated_at: text(KEY_UPDATED_AT).unwrap_or_default(),
        expires_at: text(KEY_EXPIRES_AT),
        // A record in a dense index always has a vector.
        embedded: true,
    })
}

/// The embedder recorded with a record (`_embedder`), if any.
pub fn embedder_of(record: &PineconeRecord) -> Option<&str> {
    record.metadata.get(KEY_EMBEDDER).and_then(Value::as_str)
}

/// Pinecone stores numbers as 64-bit floats; give whole ones back as integers.
fn normalize_number(v: &Value) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match v {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < EXACT => json!(f as i64),
            _ => v.clone(),
        },
        _ => v.clone(),
    }
}

fn json_len(m: &Map<String, Value>) -> usize {
    serde_json::to_vec(m).map(|v| v.len()).unwrap_or(usize::MAX)
}

// ---------------------------------------------------------------------------------------------
// Filters

fn valid_field(field: &str) -> bool {
    !field.is_empty()
        && field.len() <= 128
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// A filter no record matches, in documented operators only.
fn match_nothing(field: &str) -> Value {
    json!({"$and": [{field: {"$exists": true}}, {field: {"$exists": false}}]})
}

/// Our filter as Pinecone filter JSON (`None` when it has no condition). Metadata conditions:
/// `eq` -> `$eq`; `ne` -> `$ne` on records that have the field (as the SQLite store, where a
/// missing field never matches); `in` -> `$in` (`$or` of `$eq` when it holds booleans; an empty
/// list matches nothing); `gt`/`gte`/`lt`/`lte` -> `$gt`.. with a number (Pinecone compares only
/// numbers, so a string bound is refused). `tags_any` -> `{"_tags":{"$in":[..]}}`; `tags_all` ->
/// `$and` of one `$in` per tag; time windows -> ranges on `_created_ts`/`_updated_ts` in epoch
/// seconds (`after` inclusive, `before` exclusive). `source_prefix` is refused: Pinecone has no
/// prefix operator. Expiry is not included: see [`translate_filter_live`].
pub fn translate_filter(filter: &MemoryFilter) -> Result<Option<Value>, String> {
    let mut clauses: Vec<Value> = Vec::new();
    for c in &filter.metadata {
        if !valid_field(&c.field) {
            return Err(format!(
                "metadata field name {:?} is not allowed: use letters, digits, _, - and .",
                c.field
            ));
        }
        if is_reserved(&c.field) {
            return Err(format!(
                "metadata field {:?} is reserved by the pinecone backend; use tags_any, \
                 tags_all and the created/updated windows instead",
                c.field
            ));
        }
        let f = c.field.as_str();
        let scalar = |v: &Value| -> Result<Value, String> {
            match v {
                Value::String(_) | Value::Bool(_) | Value::Number(_) => Ok(v.clone()),
                other => Err(format!(
                    "filter values must be strings, numbers or booleans, not {other}"
                )),
            }
        };
        let clause = match c.op.as_str() {
            "eq" => json!({f: {"$eq": scalar(&c.value)?}}),
            "ne" => json!({"$and": [
                {f: {"$exists": true}},
                {f: {"$ne": scalar(&c.value)?}}
            ]}),
            op @ ("gt" | "gte" | "lt" | "lte") => {
                let Value::Number(n) = &c.value else {
                    return Err(format!(
                        "op {op:?} on {f:?} needs a number on the pinecone backend (Pinecone \
                         range operators compare numbers only, not {}); store dates as epoch \
                         seconds, or use created_after/created_before/updated_after/\
                         updated_before",
                        c.value
                    ));
                };
                json!({f: {format!("${op}"): n}})
            }
            "in" => {
                let Value::Array(items) = &c.value else {
                    return Err(format!("op 'in' on {f:?} needs an array value"));
                };
                let items = items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?;
                if items.is_empty() {
                    match_nothing(f)
                } else if items.iter().any(Value::is_boolean) {
                    let alternatives: Vec<Value> =
                        items.iter().map(|v| json!({f: {"$eq": v}})).collect();
                    json!({"$or": alternatives})
                } else {
                    json!({f: {"$in": items}})
                }
            }
            other => {
                return Err(format!(
                    "unknown filter op {other:?}: use eq, ne, in, gt, gte, lt, lte"
                ));
            }
        };
        clauses.push(clause);
    }
    if !filter.tags_any.is_empty() {
        clauses.push(json!({KEY_TAGS: {"$in": filter.tags_any}}));
    }
    let mut seen = HashSet::new();
    for tag in &filter.tags_all {
        if seen.insert(tag.as_str()) {
            clauses.push(json!({KEY_TAGS: {"$in": [tag]}}));
        }
    }
    if filter.source_prefix.is_some() {
        return Err(
            "source_prefix is not supported on the pinecone backend: Pinecone's metadata filters \
             have no prefix operator; filter by tags or metadata instead"
                .to_string(),
        );
    }
    for (value, key, op, what) in [
        (
            &filter.created_after,
            KEY_CREATED_TS,
            "$gte",
            "created_after",
        ),
        (
            &filter.created_before,
            KEY_CREATED_TS,
            "$lt",
            "created_before",
        ),
        (
            &filter.updated_after,
            KEY_UPDATED_TS,
            "$gte",
            "updated_after",
        ),
        (
            &filter.updated_before,
            KEY_UPDATED_TS,
            "$lt",
            "updated_before",
        ),
    ] {
        if let Some(v) = value {
            let ts = parse_iso8601(v).map_err(|e| format!("{what}: {e}"))?;
            clauses.push(json!({key: {op: ts}}));
        }
    }
    Ok(match clauses.len() {
        0 => None,
        1 => clauses.pop(),
        _ => Some(json!({"$and": clauses})),
    })
}

/// [`translate_filter`] plus "not expired at `now` (epoch seconds)", as the SQLite store never
/// returns expired memories: `_expires_ts` absent or after `now`.
pub fn translate_filter_live(filter: &MemoryFilter, now: f64) -> Result<Value, String> {
    let live = json!({"$or": [
        {KEY_EXPIRES_TS: {"$exists": false}},
        {KEY_EXPIRES_TS: {"$gt": now}}
    ]});
    Ok(match translate_filter(filter)? {
        None => live,
        Some(f) => json!({"$and": [f, live]}),
    })
}

/// Seconds since the epoch, now.
pub fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// An ISO-8601 date or date-time as seconds since the epoch: `YYYY-MM-DD`, optionally followed by
/// `T` (or a space) and `HH:MM[:SS[.fraction]]`, optionally followed by `Z` or an offset
/// (`+HH:MM`, `+HHMM`, `+HH`). Without an offset the time is UTC, as the store writes it.
pub fn parse_iso8601(s: &str) -> Result<f64, String> {
    let bad = || {
        format!("{s:?} is not an ISO-8601 date or time, e.g. 2027-01-01 or 2027-01-01T09:30:00Z")
    };
    let b = s.trim().as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let (y, mo, d) = match (num(0, 4), b.get(4), num(5, 2), b.get(7), num(8, 2)) {
        (Some(y), Some(b'-'), Some(mo), Some(b'-'), Some(d)) => (y, mo, d),
        _ => return Err(bad()),
    };
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return Err(bad());
    }
    let mut i = 10;
    let mut secs = 0f64;
    if matches!(b.get(i), Some(b'T' | b't' | b' ')) {
        let (Some(h), Some(b':'), Some(mi)) = (num(i + 1, 2), b.get(i + 3), num(i + 4, 2)) else {
            return Err(bad());
        };
        i += 6;
        let mut sec = 0f64;
        if b.get(i) == Some(&b':') {
            let Some(s2) = num(i + 1, 2) else {
                return Err(bad());
            };
            sec = s2 as f64;
            i += 3;
            if matches!(b.get(i), Some(b'.' | b',')) {
                let start = i + 1;
                let mut end = start;
                while b.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                if end == start {
                    return Err(bad());
                }
                let frac: f64 = std::str::from_utf8(&b[start..end])
                    .ok()
                    .and_then(|f| format!("0.{f}").parse().ok())
                    .ok_or_else(bad)?;
                sec += frac;
                i = end;
            }
        }
        if h > 23 || mi > 59 || sec >= 61.0 {
            return Err(bad());
        }
        secs = (h * 3600 + mi * 60) as f64 + sec;
        match b.get(i) {
            None => {}
            Some(b'Z' | b'z') if i + 1 == b.len() => i += 1,
            Some(sign @ (b'+' | b'-')) => {
                let sign = if *sign == b'+' { 1 } else { -1 };
                let oh = num(i + 1, 2).ok_or_else(bad)?;
                let rest = &b[i + 3..];
                let om = match rest {
                    [] => 0,
                    [b':', _, _] => num(i + 4, 2).ok_or_else(bad)?,
                    [_, _] => num(i + 3, 2).ok_or_else(bad)?,
                    _ => return Err(bad()),
                };
                if oh > 23 || om > 59 {
                    return Err(bad());
                }
                secs -= (sign * (oh * 3600 + om * 60)) as f64;
                i = b.len();
            }
            Some(_) => return Err(bad()),
        }
    }
    if i != b.len() {
        return Err(bad());
    }
    Ok(mcp_core::time::days_from_civil(y, mo as u32, d as u32) as f64 * 86_400.0 + secs)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::pinecone_fake::{KEY, Seen, fake};

    // -- helpers ------------------------------------------------------------------------------

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(2),
            max_total: Duration::from_secs(10),
        }
    }

    fn client(base: &str, key: &str) -> PineconeClient {
        PineconeClient::new(PineconeConfig {
            timeout: Duration::from_secs(5),
            retry: fast(),
            ..PineconeConfig::new(SecretString::from(key.to_string()), base)
        })
        .unwrap()
    }

    fn memory(id: &str, content: &str) -> Memory {
        Memory {
            id: id.into(),
            namespace: "default".into(),
            document_id: None,
            chunk_index: 0,
            content: content.into(),
            metadata: Map::new(),
            tags: vec![],
            source: None,
            entities: vec![],
            created_at: "2026-03-01T10:00:00.000Z".into(),
            updated_at: "2026-03-01T10:00:00.000Z".into(),
            expires_at: None,
            embedded: true,
        }
    }

    fn full_memory() -> Memory {
        let mut m = memory(
            "mem-1",
            "Acme renewed for two years \"at\" 5% off\nnext: QBR",
        );
        m.document_id = Some("doc-9".into());
        m.chunk_index = 3;
        m.metadata.insert("amount".into(), json!(5000));
        m.metadata.insert("ratio".into(), json!(0.25));
        m.metadata.insert("region".into(), json!("emea"));
        m.metadata.insert("won".into(), json!(true));
        m.metadata.insert("negative".into(), json!(-12));
        m.tags = vec!["sales".into(), "renewal".into()];
        m.source = Some("gong:call/1".into());
        m.entities = vec!["Acme".into()];
        m.created_at = "2026-02-03T04:05:06.789Z".into();
        m.updated_at = "2026-03-01T10:00:00.000Z".into();
        m.expires_at = Some("2027-01-01T00:00:00Z".into());
        m
    }

    fn filter(v: Value) -> MemoryFilter {
        serde_json::from_value(v).unwrap()
    }

    fn message(e: ToolError) -> String {
        e.to_string()
    }

    // -- configuration ------------------------------------------------------------------------

    #[test]
    fn config_reads_both_variables_and_names_the_missing_one() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let e = PineconeConfig::from_lookup(env(&[(HOST_VAR, "idx.pinecone.io")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Pinecone is not configured: set PINECONE_API_KEY"
        );
        let e = PineconeConfig::from_lookup(env(&[(KEY_VAR, "k"), (HOST_VAR, "  ")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Pinecone is not configured: set PINECONE_INDEX_HOST"
        );
        let c = PineconeConfig::from_lookup(env(&[
            (KEY_VAR, "pcsk_secret"),
            (HOST_VAR, "my-index-abc.svc.aped-1.pinecone.io/"),
        ]))
        .unwrap();
        assert_eq!(c.index_host, "https://my-index-abc.svc.aped-1.pinecone.io");
        assert_eq!(c.api_version, "2025-10");
        let shown = format!("{c:?}");
        assert!(!shown.contains("pcsk_secret"), "{shown}");
        let c = PineconeConfig::from_lookup(env(&[
            (KEY_VAR, "k"),
            (HOST_VAR, "https://idx.pinecone.io"),
        ]))
        .unwrap();
        assert_eq!(c.index_host, "https://idx.pinecone.io");
        let e = PineconeConfig::from_lookup(env(&[
            (KEY_VAR, "k"),
            (HOST_VAR, "http://idx.pinecone.io"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("PINECONE_INDEX_HOST"), "{e}");
        assert!(e.to_string().contains("https://"), "{e}");
        let client = PineconeClient::new(PineconeConfig::new(
            SecretString::from("pcsk_secret".to_string()),
            "http://127.0.0.1:9",
        ))
        .unwrap();
        assert!(!format!("{client:?}").contains("pcsk_secret"));
    }

    // -- mapping ------------------------------------------------------------------------------

    #[test]
    fn memory_round_trips_through_a_record() {
        let m = full_memory();
        let r = record_from_memory(&m, vec![0.5, -0.25, 1.0], Some("minilm")).unwrap();
        assert_eq!(r.id, "mem-1");
        assert_eq!(r.metadata["_content"], json!(m.content));
        assert_eq!(r.metadata["_tags"], json!(["sales", "renewal"]));
        assert_eq!(r.metadata["_created_ts"], json!(1_770_091_506.789));
        assert_eq!(r.metadata["_expires_ts"], json!(1_798_761_600.0));
        assert_eq!(r.metadata["_chunk_index"], json!(3));
        assert_eq!(
            r.metadata["region"],
            json!("emea"),
            "user keys keep their names"
        );
        assert_eq!(embedder_of(&r), Some("minilm"));
        assert_eq!(memory_from_record("default", &r).unwrap(), m);
        // Pinecone keeps numbers as 64-bit floats; whole ones come back as integers.
        let mut wire: PineconeRecord =
            serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        for v in wire.metadata.values_mut() {
            if let Value::Number(n) = v {
                *v = json!(n.as_f64().unwrap());
            }
        }
        assert_eq!(wire.metadata["amount"], json!(5000.0));
        assert_eq!(memory_from_record("default", &wire).unwrap(), m);
        // A minimal memory stays minimal.
        let small = memory("m2", "hi");
        let r = record_from_memory(&small, vec![1.0], None).unwrap();
        let keys: Vec<&str> = r.metadata.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "_content",
                "_created_at",
                "_created_ts",
                "_updated_at",
                "_updated_ts"
            ]
        );
        assert_eq!(memory_from_record("default", &r).unwrap(), small);
    }

    #[test]
    fn record_from_new_takes_the_vector_and_embedder() {
        let new = NewMemory {
            namespace: "ops".into(),
            content: "disk full on db-2".into(),
            tags: vec!["ops".into()],
            embedding: Some(("hash:64".into(), vec![0.6, 0.8])),
            ..Default::default()
        };
        let r =
            record_from_new(&new, "id-7", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z").unwrap();
        assert_eq!(r.values, vec![0.6, 0.8]);
        assert_eq!(embedder_of(&r), Some("hash:64"));
        let m = memory_from_record("ops", &r).unwrap();
        assert_eq!(m.content, "disk full on db-2");
        assert_eq!(m.created_at, "2026-01-01T00:00:00Z");
        assert_eq!(m.updated_at, "2026-01-02T00:00:00Z");
        let e = record_from_new(
            &NewMemory {
                embedding: None,
                ..new
            },
            "id-7",
            "2026-01-01",
            "2026-01-01",
        )
        .unwrap_err();
        assert!(e.contains("vector"), "{e}");
    }

    #[test]
    fn mapping_refuses_what_pinecone_cannot_hold_without_losing_data() {
        let mut m = memory("m", "x");
        m.metadata.insert("_tags".into(), json!("oops"));
        let e = record_from_memory(&m, vec![1.0], None).unwrap_err();
        assert!(e.contains("reserved"), "{e}");

        let mut m = memory("m", "x");
        m.metadata.insert("nested".into(), json!({"a": 1}));
        let e = record_from_memory(&m, vec![1.0], None).unwrap_err();
        assert!(e.contains("no nested objects"), "{e}");

        let mut m = memory("m", "x");
        m.metadata.insert("missing".into(), Value::Null);
        assert!(record_from_memory(&m, vec![1.0], None).is_err());

        let mut m = memory("m", "x");
        m.metadata.insert("labels".into(), json!(["a", "b"]));
        assert!(
            record_from_memory(&m, vec![1.0], None).is_ok(),
            "lists of strings are fine"
        );

        assert!(record_from_memory(&memory("has space", "x"), vec![1.0], None).is_err());
        assert!(record_from_memory(&memory("m", "x"), vec![], None).is_err());

        let big = memory("big", &"é".repeat(25_000)); // 50,000 bytes
        let e = record_from_memory(&big, vec![1.0], None).unwrap_err();
        assert!(e.contains("40 KB"), "{e}");
        assert!(e.contains("50000 bytes"), "{e}");
        assert!(e.contains("Nothing was truncated"), "{e}");
        // The size the message names does fit.
        let fits: usize = e
            .split("at most ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(record_from_memory(&memory("big", &"a".repeat(fits)), vec![1.0], None).is_ok());
        assert!(
            record_from_memory(&memory("big", &"a".repeat(fits + 1)), vec![1.0], None).is_err()
        );
    }

    #[test]
    fn foreign_records_are_refused_clearly() {
        let r = PineconeRecord {
            id: "x".into(),
            values: vec![],
            metadata: Map::from_iter([("genre".to_string(), json!("drama"))]),
        };
        let e = memory_from_record("default", &r).unwrap_err();
        assert!(e.contains("_content"), "{e}");
    }

    // -- filters ------------------------------------------------------------------------------

    #[test]
    fn iso8601_parses_dates_times_and_offsets() {
        assert_eq!(parse_iso8601("1970-01-01").unwrap(), 0.0);
        assert_eq!(parse_iso8601("2000-02-29").unwrap(), 951_782_400.0);
        assert_eq!(
            parse_iso8601("2026-11-27T00:00:00.005Z").unwrap(),
            1_795_737_600.005
        );
        assert_eq!(
            parse_iso8601("2026-11-27T01:30:00+01:30").unwrap(),
            1_795_737_600.0
        );
        assert_eq!(
            parse_iso8601("2026-11-26T22:00-0200").unwrap(),
            1_795_737_600.0
        );
        assert_eq!(
            parse_iso8601("2026-11-27 00:00:00").unwrap(),
            1_795_737_600.0
        );
        assert_eq!(parse_iso8601("1969-12-31T23:59:59Z").unwrap(), -1.0);
        for bad in [
            "",
            "2026",
            "2026-13-01",
            "2026-02-29",
            "2026-01-01T25:00",
            "2026-01-01T10",
            "2026-01-01Tnoon",
            "2026-01-01T10:00:00Zjunk",
            "01/02/2026",
        ] {
            assert!(parse_iso8601(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn filters_translate_to_pinecone_operators() {
        assert_eq!(translate_filter(&MemoryFilter::default()).unwrap(), None);
        let one = translate_filter(&filter(
            json!({"metadata":[{"field":"region","op":"eq","value":"emea"}]}),
        ))
        .unwrap();
        assert_eq!(one, Some(json!({"region": {"$eq": "emea"}})));
        let all = translate_filter(&filter(json!({
            "metadata": [
                {"field": "amount", "op": "gte", "value": 1000},
                {"field": "amount", "op": "lt", "value": 9000.5},
                {"field": "region", "op": "in", "value": ["emea", "apac"]},
                {"field": "stage", "op": "ne", "value": "lost"},
                {"field": "won", "op": "in", "value": [true]}
            ],
            "tags_any": ["sales", "ops"],
            "tags_all": ["a", "b", "a"],
            "created_after": "2026-01-01",
            "created_before": "2026-02-01T00:00:00Z",
            "updated_after": "2026-01-15T12:00:00+00:00",
            "updated_before": "2026-03-01"
        })))
        .unwrap()
        .unwrap();
        assert_eq!(
            all,
            json!({"$and": [
                {"amount": {"$gte": 1000}},
                {"amount": {"$lt": 9000.5}},
                {"region": {"$in": ["emea", "apac"]}},
                {"$and": [{"stage": {"$exists": true}}, {"stage": {"$ne": "lost"}}]},
                {"$or": [{"won": {"$eq": true}}]},
                {"_tags": {"$in": ["sales", "ops"]}},
                {"_tags": {"$in": ["a"]}},
                {"_tags": {"$in": ["b"]}},
                {"_created_ts": {"$gte": 1_767_225_600.0}},
                {"_created_ts": {"$lt": 1_769_904_000.0}},
                {"_updated_ts": {"$gte": 1_768_478_400.0}},
                {"_updated_ts": {"$lt": 1_772_323_200.0}}
            ]})
        );
        let empty_in = translate_filter(&filter(
            json!({"metadata":[{"field":"region","op":"in","value":[]}]}),
        ))
        .unwrap();
        assert_eq!(
            empty_in,
            Some(json!({"$and": [{"region": {"$exists": true}}, {"region": {"$exists": false}}]}))
        );
        let live = translate_filter_live(&MemoryFilter::default(), 100.0).unwrap();
        assert_eq!(
            live,
            json!({"$or": [{"_expires_ts": {"$exists": false}}, {"_expires_ts": {"$gt": 100.0}}]})
        );
    }

    #[test]
    fn filters_pinecone_cannot_express_are_refused_with_a_reason() {
        let err = |v: Value| translate_filter(&filter(v)).unwrap_err();
        let e = err(json!({"source_prefix": "gong:"}));
        assert!(
            e.contains("source_prefix is not supported on the pinecone backend"),
            "{e}"
        );
        let e = err(json!({"metadata":[{"field":"due","op":"gt","value":"2026-01-01"}]}));
        assert!(e.contains("numbers only"), "{e}");
        let e = err(json!({"metadata":[{"field":"x') OR 1=1","op":"eq","value":1}]}));
        assert!(e.contains("not allowed"), "{e}");
        let e = err(json!({"metadata":[{"field":"_content","op":"eq","value":"x"}]}));
        assert!(e.contains("reserved"), "{e}");
        let e = err(json!({"metadata":[{"field":"a","op":"like","value":"x"}]}));
        assert!(e.contains("unknown filter op"), "{e}");
        let e = err(json!({"metadata":[{"field":"a","op":"in","value":"x"}]}));
        assert!(e.contains("array"), "{e}");
        let e = err(json!({"metadata":[{"field":"a","op":"eq","value":{"b":1}}]}));
        assert!(e.contains("strings, numbers or booleans"), "{e}");
        let e = err(json!({"created_after": "last tuesday"}));
        assert!(e.contains("created_after"), "{e}");
    }

    // -- batching -----------------------------------------------------------------------------

    fn records(n: usize, dim: usize) -> Vec<PineconeRecord> {
        (0..n)
            .map(|i| {
                let m = memory(&format!("r{i:04}"), &format!("text {i}"));
                let values = (0..dim)
                    .map(|k| ((i + k) % 7) as f32 * 0.123_456_7 + 0.1)
                    .collect();
                record_from_memory(&m, values, None).unwrap()
            })
            .collect()
    }

    #[test]
    fn upsert_bodies_respect_count_and_size() {
        let bodies = upsert_bodies("ns", &records(250, 4)).unwrap();
        let counts: Vec<usize> = bodies
            .iter()
            .map(|b| {
                let v: Value = serde_json::from_slice(b).unwrap();
                assert_eq!(v["namespace"], "ns");
                v["vectors"].as_array().unwrap().len()
            })
            .collect();
        assert_eq!(counts, [100, 100, 50]);
        // Large vectors: the 2 MB bound splits before the count bound does.
        let big = records(40, 10_000);
        let bodies = upsert_bodies("ns", &big).unwrap();
        assert!(bodies.len() >= 2, "{}", bodies.len());
        let mut total = 0;
        for b in &bodies {
            assert!(b.len() <= MAX_REQUEST_BYTES, "{}", b.len());
            let v: Value = serde_json::from_slice(b).unwrap();
            total += v["vectors"].as_array().unwrap().len();
        }
        assert_eq!(total, 40);
        assert!(upsert_bodies("ns", &[]).unwrap().is_empty());
    }

    // -- against the fake ---------------------------------------------------------------------

    #[tokio::test]
    async fn upsert_of_250_records_is_three_documented_requests() {
        let (base, state) = fake().await;
        let c = client(&base, KEY);
        let n = c.upsert("default", records(250, 4)).await.unwrap();
        assert_eq!(n, 250);
        let s = state.lock().unwrap();
        let upserts: Vec<&Seen> = s
            .seen
            .iter()
            .filter(|r| r.path == "/vectors/upsert")
            .collect();
        assert_eq!(upserts.len(), 3);
        let sizes: Vec<usize> = upserts
            .iter()
            .map(|r| r.body["vectors"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert!(upserts.iter().all(|r| r.method == "POST"));
        assert!(upserts.iter().all(|r| r.body_bytes <= MAX_REQUEST_BYTES));
        assert_eq!(s.namespaces["default"].len(), 250);
    }

    #[tokio::test]
    async fn memories_survive_upsert_fetch_and_query() {
        let (base, _state) = fake().await;
        let c = client(&base, KEY);
        let m = full_memory();
        let r = record_from_memory(&m, vec![1.0, 0.0, 0.0], Some("hash:3")).unwrap();
        let mut other = memory("mem-2", "incident in the EU cluster");
        other.tags = vec!["ops".into()];
        other.metadata.insert("amount".into(), json!(10));
        let r2 = record_from_memory(&other, vec![0.0, 1.0, 0.0], None).unwrap();
        let mut elsewhere = memory("mem-3", "same vector, other namespace");
        elsewhere.namespace = "team-b".into();
        let r3 = record_from_memory(&elsewhere, vec![1.0, 0.0, 0.0], None).unwrap();
        c.upsert("default", vec![r, r2]).await.unwrap();
        c.upsert("team-b", vec![r3]).await.unwrap();

        // fetch: asked order, missing skipped, lossless (numbers came back as floats).
        let got = c
            .fetch(
                "default",
                &["mem-2".to_string(), "nope".to_string(), "mem-1".to_string()],
            )
            .await
            .unwrap();
        let ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["mem-2", "mem-1"]);
        assert_eq!(got[1].values, vec![1.0, 0.0, 0.0]);
        assert_eq!(memory_from_record("default", &got[1]).unwrap(), m);
        assert_eq!(memory_from_record("default", &got[0]).unwrap(), other);

        // query: namespaces are separate; results complete with metadata.
        let q = c
            .query("default", &[0.9, 0.1, 0.0], 10, None, true)
            .await
            .unwrap();
        assert_eq!(q.namespace, "default");
        assert_eq!(q.read_units, Some(5));
        assert_eq!(q.matches.len(), 2);
        assert_eq!(q.matches[0].record.id, "mem-1");
        assert!(q.matches[0].score > q.matches[1].score);
        assert_eq!(
            memory_from_record("default", &q.matches[0].record).unwrap(),
            m
        );

        // query with a translated filter: metadata range, tags, time window, expiry.
        let f = filter(json!({
            "metadata": [{"field": "amount", "op": "gte", "value": 1000}],
            "tags_all": ["sales", "renewal"],
            "created_after": "2026-02-01",
            "created_before": "2026-02-04"
        }));
        let pf = translate_filter_live(&f, parse_iso8601("2026-06-01").unwrap()).unwrap();
        let q = c
            .query("default", &[0.0, 1.0, 0.0], 10, Some(pf), true)
            .await
            .unwrap();
        let ids: Vec<&str> = q.matches.iter().map(|m| m.record.id.as_str()).collect();
        assert_eq!(ids, ["mem-1"]);
        // After its expiry the same memory is filtered out.
        let pf = translate_filter_live(&f, parse_iso8601("2027-06-01").unwrap()).unwrap();
        let q = c
            .query("default", &[0.0, 1.0, 0.0], 10, Some(pf), true)
            .await
            .unwrap();
        assert!(q.matches.is_empty());
        let ops = translate_filter(&filter(json!({"tags_any": ["ops"]}))).unwrap();
        let q = c
            .query("default", &[1.0, 0.0, 0.0], 1, ops, false)
            .await
            .unwrap();
        assert_eq!(q.matches.len(), 1);
        assert_eq!(q.matches[0].record.id, "mem-2");
        assert!(
            q.matches[0].record.metadata.is_empty(),
            "metadata not asked for"
        );

        let q = c
            .query("team-b", &[1.0, 0.0, 0.0], 10, None, true)
            .await
            .unwrap();
        assert_eq!(q.matches.len(), 1);
        assert_eq!(q.matches[0].record.id, "mem-3");
    }

    #[tokio::test]
    async fn update_list_delete_and_stats() {
        let (base, state) = fake().await;
        let c = client(&base, KEY);
        c.upsert("default", records(5, 2)).await.unwrap();
        let mut tagged = memory("x-tagged", "to be deleted by filter");
        tagged.tags = vec!["tmp".into()];
        c.upsert(
            "default",
            vec![record_from_memory(&tagged, vec![1.0, 1.0], None).unwrap()],
        )
        .await
        .unwrap();
        c.upsert("other", records(2, 2)).await.unwrap();

        // update: values and merged metadata.
        let set = Map::from_iter([("stage".to_string(), json!("won"))]);
        c.update("default", "r0001", Some(vec![0.5, 0.5]), Some(set))
            .await
            .unwrap();
        let got = c.fetch("default", &["r0001".to_string()]).await.unwrap();
        assert_eq!(got[0].values, vec![0.5, 0.5]);
        let m = memory_from_record("default", &got[0]).unwrap();
        assert_eq!(m.metadata["stage"], json!("won"));
        assert_eq!(m.content, "text 1", "other metadata kept");
        {
            let s = state.lock().unwrap();
            let last = s.seen.last().unwrap();
            assert_eq!(last.path, "/vectors/fetch");
            assert_eq!(last.query, "ids=r0001&namespace=default");
            let update = s.seen.iter().find(|r| r.path == "/vectors/update").unwrap();
            assert_eq!(
                update.body,
                json!({"id": "r0001", "values": [0.5, 0.5], "setMetadata": {"stage": "won"}, "namespace": "default"})
            );
        }

        // list: pages of ids with a prefix.
        let p1 = c.list("default", Some("r"), Some(2), None).await.unwrap();
        assert_eq!(p1.ids, ["r0000", "r0001"]);
        let p2 = c
            .list("default", Some("r"), Some(2), p1.next.as_deref())
            .await
            .unwrap();
        assert_eq!(p2.ids, ["r0002", "r0003"]);
        let p3 = c
            .list("default", Some("r"), Some(2), p2.next.as_deref())
            .await
            .unwrap();
        assert_eq!(p3.ids, ["r0004"]);
        assert_eq!(p3.next, None);

        // delete by id, by filter, all.
        c.delete_ids("default", &["r0000".to_string(), "r0001".to_string()])
            .await
            .unwrap();
        let f = translate_filter(&filter(json!({"tags_any": ["tmp"]})))
            .unwrap()
            .unwrap();
        c.delete_filter("default", f).await.unwrap();
        assert!(c.delete_filter("default", json!({})).await.is_err());
        let stats = c.stats().await.unwrap();
        assert_eq!(stats.namespaces["default"], 3);
        assert_eq!(stats.namespaces["other"], 2);
        assert_eq!(stats.total_vector_count, 5);
        assert_eq!(stats.dimension, Some(2));
        assert_eq!(stats.metric.as_deref(), Some("cosine"));
        c.delete_all("other").await.unwrap();
        let stats = c.stats().await.unwrap();
        assert!(!stats.namespaces.contains_key("other"));
        let s = state.lock().unwrap();
        let deletes: Vec<&Value> = s
            .seen
            .iter()
            .filter(|r| r.path == "/vectors/delete")
            .map(|r| &r.body)
            .collect();
        assert_eq!(
            deletes[0],
            &json!({"ids": ["r0000", "r0001"], "namespace": "default"})
        );
        assert_eq!(
            deletes[1],
            &json!({"filter": {"_tags": {"$in": ["tmp"]}}, "namespace": "default"})
        );
        assert_eq!(
            deletes[2],
            &json!({"deleteAll": true, "namespace": "other"})
        );
    }

    #[tokio::test]
    async fn rate_limit_with_retry_after_is_retried_then_succeeds() {
        let (base, state) = fake().await;
        state.lock().unwrap().scripted.push_back((
            429,
            Some("1"),
            json!({"code": 8, "message": "Too many requests", "details": []}).to_string(),
        ));
        let c = client(&base, KEY);
        let started = std::time::Instant::now();
        let stats = c.stats().await.unwrap();
        assert_eq!(stats.total_vector_count, 0);
        assert!(started.elapsed() >= Duration::from_millis(950));
        assert_eq!(state.lock().unwrap().seen.len(), 2);
    }

    #[tokio::test]
    async fn persistent_rate_limit_says_so() {
        let (base, state) = fake().await;
        for _ in 0..3 {
            state.lock().unwrap().scripted.push_back((
                429,
                Some("0"),
                json!({"code": 8, "message": "Request failed. You've reached your read unit limit", "details": []})
                    .to_string(),
            ));
        }
        let c = client(&base, KEY);
        let e = c.stats().await.unwrap_err();
        assert!(matches!(e, ToolError::RateLimited { .. }), "{e:?}");
        assert!(message(e).contains("rate limiting"));
        assert_eq!(state.lock().unwrap().seen.len(), 3);
    }

    #[tokio::test]
    async fn wrong_key_names_the_variable_and_never_the_key() {
        let (base, _state) = fake().await;
        let c = client(&base, "pcsk_wrong_key_123");
        let e = message(c.stats().await.unwrap_err());
        assert!(e.contains("PINECONE_API_KEY"), "{e}");
        assert!(e.contains("401"), "{e}");
        assert!(e.contains("Unauthorized"), "{e}");
        assert!(!e.contains("pcsk_wrong_key_123"), "{e}");
        let e = message(c.query("default", &[1.0], 1, None, true).await.unwrap_err());
        assert!(e.contains("PINECONE_API_KEY"), "{e}");
    }

    #[tokio::test]
    async fn upstream_text_is_scrubbed_of_the_key() {
        let (base, state) = fake().await;
        state.lock().unwrap().scripted.push_back((
            400,
            None,
            json!({"code": 3, "message": format!("bad request from key {KEY}"), "details": []})
                .to_string(),
        ));
        let c = client(&base, KEY);
        let e = message(c.stats().await.unwrap_err());
        assert!(e.contains("bad request from key [REDACTED]"), "{e}");
        assert!(!e.contains(KEY), "{e}");
    }

    #[tokio::test]
    async fn not_found_names_the_index_host_and_namespace() {
        let (base, state) = fake().await;
        state.lock().unwrap().scripted.push_back((
            404,
            None,
            json!({"code": 5, "message": "Not Found", "details": []}).to_string(),
        ));
        let c = client(&base, KEY);
        let e = message(c.query("team-x", &[1.0], 1, None, true).await.unwrap_err());
        assert!(e.contains("PINECONE_INDEX_HOST"), "{e}");
        assert!(e.contains("\"team-x\""), "{e}");
        assert!(e.contains("404"), "{e}");
    }

    #[tokio::test]
    async fn server_errors_are_retried_then_say_retry_later() {
        let (base, state) = fake().await;
        for _ in 0..3 {
            state.lock().unwrap().scripted.push_back((
                503,
                None,
                json!({"code": 14, "message": "Unavailable", "details": []}).to_string(),
            ));
        }
        let c = client(&base, KEY);
        let e = message(c.stats().await.unwrap_err());
        assert!(e.contains("HTTP 503: Unavailable"), "{e}");
        assert!(e.contains("retry later"), "{e}");
        assert_eq!(state.lock().unwrap().seen.len(), 3);
    }

    #[tokio::test]
    async fn malformed_json_is_a_clear_error() {
        let (base, state) = fake().await;
        state
            .lock()
            .unwrap()
            .scripted
            .push_back((200, None, "<html>gateway</html>".to_string()));
        let c = client(&base, KEY);
        let e = message(c.query("default", &[1.0], 1, None, true).await.unwrap_err());
        assert!(e.contains("malformed JSON"), "{e}");
        assert!(e.contains("query"), "{e}");
    }

    #[tokio::test]
    async fn refuses_bad_input_before_sending() {
        let (base, state) = fake().await;
        let c = client(&base, KEY);
        assert!(c.fetch("default", &["a b".to_string()]).await.is_err());
        assert!(
            c.query("default", &[1.0], MAX_TOP_K + 1, None, true)
                .await
                .is_err()
        );
        assert!(
            c.query("default", &[1.0], 0, None, true)
                .await
                .unwrap()
                .matches
                .is_empty()
        );
        let no_vector = PineconeRecord {
            id: "a".into(),
            values: vec![],
            metadata: Map::new(),
        };
        assert!(c.upsert("default", vec![no_vector]).await.is_err());
        assert!(state.lock().unwrap().seen.is_empty());
    }
}
