//! Any OpenAI-compatible embeddings endpoint (OpenAI, Ollama, TEI, vLLM, LM Studio, ...).
//!
//! Request: `POST <url>` with `{"model", "input": [texts], "encoding_format": "float"}` (plus
//! `"dimensions"` when configured) and `Authorization: Bearer <key>` when a key is set (local
//! servers such as Ollama and TEI usually need none). Response:
//! `{"object":"list","data":[{"object":"embedding","index":i,"embedding":[...]}],...}`; `data` may
//! come in any order and is sorted by `index`. Inputs are sent in sequential batches of
//! `batch_size`; 429/502/503/504 are retried through [`mcp_core::upstream::send_with_retry`]
//! (an embeddings POST is idempotent), honouring `Retry-After`. Vectors are normalised here,
//! because not every server does.
//!
//! `SOPHIA_EMBEDDINGS_URL` is either a base such as `https://api.openai.com/v1` or
//! `http://localhost:11434/v1` (`/embeddings` is appended), or a full URL whose path already ends
//! in `/embeddings` (used as is). A query string is kept.
//!
//! The API key never reaches a log line, a `Debug` output or an error message.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use mcp_core::upstream::{RetryPolicy, SendError, build_client, send_with_retry};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{BoxFuture, EmbedError, Embedder, normalize};

/// The endpoint used when `SOPHIA_EMBEDDINGS_URL` is not set.
pub const DEFAULT_URL: &str = "https://api.openai.com/v1";
/// Texts per request unless configured otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 64;
/// Per-request timeout unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

const URL_VAR: &str = "SOPHIA_EMBEDDINGS_URL";
const MODEL_VAR: &str = "SOPHIA_EMBEDDINGS_MODEL";
const KEY_VAR: &str = "SOPHIA_EMBEDDINGS_API_KEY";
const DIMENSIONS_VAR: &str = "SOPHIA_EMBEDDINGS_DIMENSIONS";
const BATCH_VAR: &str = "SOPHIA_EMBEDDINGS_BATCH_SIZE";

/// Most characters of an upstream error message we repeat.
const MAX_UPSTREAM_MESSAGE: usize = 300;

/// Configuration of [`OpenAiEmbedder`]. `Debug` redacts the key.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// A base URL (`/embeddings` is appended) or a full URL ending in `/embeddings`.
    pub url: String,
    /// The model name sent as `model`, e.g. `text-embedding-3-small` or `nomic-embed-text`.
    pub model: String,
    /// Sent as `Authorization: Bearer <key>`; `None` (or empty) sends no `Authorization` header.
    pub api_key: Option<SecretString>,
    /// When set, sent as `dimensions` (OpenAI `text-embedding-3-*` can shorten vectors) and every
    /// reply is checked against it; it is part of [`Embedder::id`].
    pub dimension: Option<usize>,
    /// Texts per request (at least 1).
    pub batch_size: usize,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    /// Retries of 429/502/503/504 and connection failures.
    pub retry: RetryPolicy,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.to_string(),
            model: String::new(),
            api_key: None,
            dimension: None,
            batch_size: DEFAULT_BATCH_SIZE,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("url", &redacted_url_str(&self.url))
            .field("model", &self.model)
            .field(
                "api_key",
                &self
                    .api_key
                    .as_ref()
                    .map(|_| "[REDACTED]")
                    .unwrap_or("none"),
            )
            .field("dimension", &self.dimension)
            .field("batch_size", &self.batch_size)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

impl OpenAiConfig {
    /// Read the configuration from the process environment; see [`OpenAiConfig::from_lookup`].
    pub fn from_env() -> Result<Self, EmbedError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read the configuration through `lookup` (empty values count as unset):
    /// `SOPHIA_EMBEDDINGS_URL` (default `https://api.openai.com/v1`), `SOPHIA_EMBEDDINGS_MODEL`
    /// (required), `SOPHIA_EMBEDDINGS_API_KEY` (optional), and optionally
    /// `SOPHIA_EMBEDDINGS_DIMENSIONS` and `SOPHIA_EMBEDDINGS_BATCH_SIZE`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EmbedError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let model = get(MODEL_VAR).ok_or_else(|| {
            EmbedError::Failed(format!(
                "{MODEL_VAR} is not set: name the embedding model, e.g. text-embedding-3-small \
                 (OpenAI) or nomic-embed-text (Ollama)"
            ))
        })?;
        let positive = |name: &str| -> Result<Option<usize>, EmbedError> {
            match get(name) {
                None => Ok(None),
                Some(v) => match v.parse::<usize>() {
                    Ok(n) if n > 0 => Ok(Some(n)),
                    _ => Err(EmbedError::Failed(format!(
                        "{name} must be a positive whole number, got {v:?}"
                    ))),
                },
            }
        };
        Ok(Self {
            url: get(URL_VAR).unwrap_or_else(|| DEFAULT_URL.to_string()),
            model,
            // Not trimmed: a key is used exactly as given, only an empty one counts as unset.
            api_key: lookup(KEY_VAR)
                .filter(|k| !k.is_empty())
                .map(SecretString::from),
            dimension: positive(DIMENSIONS_VAR)?,
            batch_size: positive(BATCH_VAR)?.unwrap_or(DEFAULT_BATCH_SIZE),
            ..Self::default()
        })
    }
}

/// Embeddings from an OpenAI-compatible `/embeddings` endpoint.
pub struct OpenAiEmbedder {
    client: reqwest::Client,
    endpoint: Url,
    /// The endpoint without credentials or query, for messages.
    shown_url: String,
    model: String,
    api_key: Option<SecretString>,
    configured_dimension: Option<usize>,
    /// The dimension the endpoint actually returned, once it has answered.
    observed_dimension: OnceLock<usize>,
    batch_size: usize,
    retry: RetryPolicy,
    id: String,
}

impl fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("id", &self.id)
            .field("endpoint", &self.shown_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("dimension", &self.dimension())
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

#[derive(Serialize)]
struct EmbeddingsRequest<'a> {
    model: &'a str,
    input: &'a [String],
    encoding_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    /// Absent on a few servers; then the position in `data` is the index.
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

impl OpenAiEmbedder {
    /// Validate the configuration and build the HTTP client. No request is made: call
    /// [`OpenAiEmbedder::probe`] to check the endpoint and learn the dimension.
    pub fn new(config: OpenAiConfig) -> Result<Self, EmbedError> {
        let model = config.model.trim().to_string();
        if model.is_empty() {
            return Err(EmbedError::Failed(format!(
                "{MODEL_VAR} is empty: name the embedding model, e.g. text-embedding-3-small"
            )));
        }
        if config.batch_size == 0 {
            return Err(EmbedError::Failed(
                "the embeddings batch size must be at least 1".to_string(),
            ));
        }
        if config.dimension == Some(0) {
            return Err(EmbedError::Failed(
                "the embeddings dimension must be at least 1".to_string(),
            ));
        }
        let endpoint = resolve_endpoint(&config.url)?;
        let shown_url = redacted_url(&endpoint);
        let client = build_client("sophia-memory", env!("CARGO_PKG_VERSION"), config.timeout)
            .map_err(|e| {
                EmbedError::Failed(format!(
                    "could not build the HTTP client for the embeddings endpoint: {}",
                    e.without_url()
                ))
            })?;
        let api_key = config.api_key.filter(|k| !k.expose_secret().is_empty());
        let id = match config.dimension {
            Some(d) => format!("openai:{model}@{d}"),
            None => format!("openai:{model}"),
        };
        Ok(Self {
            client,
            endpoint,
            shown_url,
            model,
            api_key,
            configured_dimension: config.dimension,
            observed_dimension: OnceLock::new(),
            batch_size: config.batch_size,
            retry: config.retry,
            id,
        })
    }

    /// The URL requests go to, without credentials or query string.
    pub fn endpoint(&self) -> &str {
        &self.shown_url
    }

    /// The vector length: embeds one short text unless the endpoint has already answered, and
    /// caches what it returned (so [`Embedder::dimension`] knows it from then on). Also a cheap
    /// check that URL, model and key work.
    pub async fn probe(&self) -> Result<usize, EmbedError> {
        if let Some(d) = self.observed_dimension.get() {
            return Ok(*d);
        }
        let vectors = self.embed_all(&["dimension probe".to_string()]).await?;
        match (self.observed_dimension.get(), vectors.first()) {
            (Some(d), _) => Ok(*d),
            (None, Some(v)) => Ok(v.len()),
            (None, None) => Err(EmbedError::Failed(
                "the embeddings endpoint returned no vector for the probe".to_string(),
            )),
        }
    }

    async fn embed_all(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.batch_size) {
            let vectors = self.embed_batch(batch).await?;
            out.extend(vectors);
        }
        Ok(out)
    }

    async fn embed_batch(&self, batch: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = EmbeddingsRequest {
            model: &self.model,
            input: batch,
            encoding_format: "float",
            dimensions: self.configured_dimension,
        };
        let build = || {
            let request = self.client.post(self.endpoint.clone()).json(&body);
            match &self.api_key {
                Some(key) => request.bearer_auth(key.expose_secret()),
                None => request,
            }
        };
        tracing::debug!(
            texts = batch.len(),
            model = %self.model,
            endpoint = %self.shown_url,
            "embedding batch"
        );
        let response = send_with_retry(build, true, &self.retry)
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(SendError::from(e)))?;
        if !status.is_success() {
            return Err(self.status_error(status, &bytes));
        }
        let parsed: EmbeddingsResponse = serde_json::from_slice(&bytes).map_err(|e| {
            let upstream = upstream_message(&bytes)
                .map(|m| format!(" (it said: {})", self.scrub(&m)))
                .unwrap_or_default();
            EmbedError::Failed(format!(
                "the embeddings endpoint at {} answered HTTP {} with malformed JSON, not an \
                 embeddings list: {e}{upstream}",
                self.shown_url,
                status.as_u16()
            ))
        })?;
        self.check_and_order(batch.len(), parsed.data)
    }

    /// Sort by index, check count and dimensions, normalise.
    fn check_and_order(
        &self,
        expected: usize,
        data: Vec<EmbeddingItem>,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        if data.len() != expected {
            return Err(EmbedError::Failed(format!(
                "the embeddings endpoint at {} returned {} vectors for {expected} texts",
                self.shown_url,
                data.len()
            )));
        }
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
        for (position, item) in data.into_iter().enumerate() {
            let index = item.index.unwrap_or(position);
            match slots.get_mut(index) {
                Some(slot @ None) => *slot = Some(item.embedding),
                Some(Some(_)) => {
                    return Err(EmbedError::Failed(format!(
                        "the embeddings endpoint at {} returned index {index} twice",
                        self.shown_url
                    )));
                }
                None => {
                    return Err(EmbedError::Failed(format!(
                        "the embeddings endpoint at {} returned index {index} for {expected} texts",
                        self.shown_url
                    )));
                }
            }
        }
        // Every slot is filled: `expected` distinct indices below `expected`.
        let mut vectors: Vec<Vec<f32>> = slots.into_iter().flatten().collect();
        let Some(dimension) = vectors.first().map(Vec::len) else {
            return Ok(vectors);
        };
        if dimension == 0 {
            return Err(EmbedError::Failed(format!(
                "the embeddings endpoint at {} returned empty vectors",
                self.shown_url
            )));
        }
        if let Some(other) = vectors.iter().map(Vec::len).find(|l| *l != dimension) {
            return Err(EmbedError::Failed(format!(
                "the embeddings endpoint at {} returned vectors of different lengths ({dimension} \
                 and {other}) in one reply",
                self.shown_url
            )));
        }
        if let Some(want) = self.configured_dimension
            && want != dimension
        {
            return Err(EmbedError::Failed(format!(
                "the embeddings endpoint at {} returned {dimension}-dimensional vectors, but \
                 {want} dimensions were configured ({DIMENSIONS_VAR}); this model may not support \
                 the `dimensions` parameter",
                self.shown_url
            )));
        }
        let known = *self.observed_dimension.get_or_init(|| dimension);
        if known != dimension {
            return Err(EmbedError::Failed(format!(
                "the embeddings endpoint at {} now returns {dimension}-dimensional vectors but \
                 returned {known} before; did the model behind {URL_VAR} / {MODEL_VAR} change?",
                self.shown_url
            )));
        }
        for v in &mut vectors {
            if v.iter().any(|x| !x.is_finite()) {
                return Err(EmbedError::Failed(format!(
                    "the embeddings endpoint at {} returned a vector with non-finite values",
                    self.shown_url
                )));
            }
            normalize(v);
        }
        Ok(vectors)
    }

    fn transport_error(&self, e: SendError) -> EmbedError {
        let what = match e {
            SendError::Timeout => "timed out".to_string(),
            SendError::Connect(m) => format!("could not connect ({})", self.scrub(&m)),
            SendError::Other(m) => format!("failed ({})", self.scrub(&m)),
        };
        EmbedError::Failed(format!(
            "the request to the embeddings endpoint at {} {what}; check {URL_VAR} and that the \
             server is running, then retry",
            self.shown_url
        ))
    }

    fn status_error(&self, status: StatusCode, body: &[u8]) -> EmbedError {
        let code = status.as_u16();
        // Never repeat the body of an auth failure: OpenAI echoes a masked form of the key there.
        let said = || {
            upstream_message(body)
                .map(|m| format!(": {}", self.scrub(&m)))
                .unwrap_or_default()
        };
        let message = match code {
            401 | 403 => match self.api_key {
                Some(_) => format!(
                    "the embeddings endpoint at {} refused the API key (HTTP {code}); check \
                     {KEY_VAR}",
                    self.shown_url
                ),
                None => format!(
                    "the embeddings endpoint at {} requires an API key (HTTP {code}); set \
                     {KEY_VAR}",
                    self.shown_url
                ),
            },
            404 => {
                let hint = if self.endpoint.path().contains("/v1/") {
                    ""
                } else {
                    " (OpenAI-compatible servers usually serve it under /v1, e.g. \
                     http://localhost:11434/v1)"
                };
                format!(
                    "the embeddings endpoint at {} answered 404 not found{}; check {URL_VAR} (a \
                     base such as https://api.openai.com/v1, or a full URL ending in \
                     /embeddings){hint} and {MODEL_VAR} (model {:?})",
                    self.shown_url,
                    said(),
                    self.model
                )
            }
            429 => format!(
                "rate limited, retry later: the embeddings endpoint at {} still answered HTTP \
                 429 after retrying{}",
                self.shown_url,
                said()
            ),
            500..=599 => format!(
                "the embeddings endpoint at {} failed (HTTP {code}){}; retry later",
                self.shown_url,
                said()
            ),
            _ => format!(
                "the embeddings endpoint at {} rejected the request (HTTP {code}){}; check \
                 {MODEL_VAR} (model {:?}){}",
                self.shown_url,
                said(),
                self.model,
                if self.configured_dimension.is_some() {
                    format!(" and {DIMENSIONS_VAR}")
                } else {
                    String::new()
                }
            ),
        };
        EmbedError::Failed(message)
    }

    /// Remove the key from text that came from elsewhere.
    fn scrub(&self, text: &str) -> String {
        match &self.api_key {
            Some(key) if !key.expose_secret().is_empty() => {
                text.replace(key.expose_secret(), "[REDACTED]")
            }
            _ => text.to_string(),
        }
    }
}

impl Embedder for OpenAiEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    /// The configured dimension, else the one the endpoint returned; 0 until either is known
    /// (call [`OpenAiEmbedder::probe`] first when no dimension is configured).
    fn dimension(&self) -> usize {
        self.observed_dimension
            .get()
            .copied()
            .or(self.configured_dimension)
            .unwrap_or(0)
    }

    fn max_tokens(&self) -> Option<usize> {
        match self.model.as_str() {
            "text-embedding-3-small" | "text-embedding-3-large" | "text-embedding-ada-002" => {
                Some(8191)
            }
            _ => None,
        }
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        Box::pin(self.embed_all(texts))
    }
}

/// `SOPHIA_EMBEDDINGS_URL` to the URL requests go to: a path ending in `/embeddings` is kept,
/// anything else gets `/embeddings` appended; the query string is kept.
fn resolve_endpoint(raw: &str) -> Result<Url, EmbedError> {
    let mut url = Url::parse(raw.trim()).map_err(|e| {
        EmbedError::Failed(format!(
            "{URL_VAR} is not a valid URL ({e}): use a base such as https://api.openai.com/v1 or \
             a full URL ending in /embeddings"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(EmbedError::Failed(format!(
            "{URL_VAR} must be an http or https URL, not {}:",
            url.scheme()
        )));
    }
    let path = url.path().trim_end_matches('/').to_string();
    if !path.ends_with("/embeddings") {
        url.set_path(&format!("{path}/embeddings"));
    } else {
        url.set_path(&path);
    }
    Ok(url)
}

/// A URL for messages: no user, password, query or fragment.
fn redacted_url(url: &Url) -> String {
    let mut shown = url.clone();
    // Both fail only for URLs that cannot have credentials; nothing to hide then.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

fn redacted_url_str(raw: &str) -> String {
    match Url::parse(raw.trim()) {
        Ok(url) => redacted_url(&url),
        Err(_) => "[invalid URL]".to_string(),
    }
}

/// The human part of an error body: `{"error":{"message":..}}` (OpenAI, Ollama),
/// `{"error":"..."}` (TEI), `{"message":..}` (vLLM), else the start of the text.
fn upstream_message(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let message = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(json) => json
            .pointer("/error/message")
            .and_then(|m| m.as_str())
            .or_else(|| json.get("error").and_then(|m| m.as_str()))
            .or_else(|| json.get("message").and_then(|m| m.as_str()))
            .or_else(|| json.get("detail").and_then(|m| m.as_str()))
            .map(str::to_string),
        Err(_) => Some(text.split_whitespace().collect::<Vec<_>>().join(" ")),
    }?;
    let message = message.trim();
    if message.is_empty() {
        return None;
    }
    Some(match message.char_indices().nth(MAX_UPSTREAM_MESSAGE) {
        Some((cut, _)) => format!("{}...", &message[..cut]),
        None => message.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use axum::{
        Router,
        body::Bytes,
        http::{HeaderMap, StatusCode as S, Uri},
        response::{IntoResponse, Response},
    };
    use serde_json::{Value, json};

    use super::*;

    /// One request the fake saw.
    #[derive(Debug, Clone)]
    struct Seen {
        path: String,
        auth: Option<String>,
        body: Value,
    }

    type Script = Arc<dyn Fn(usize, &Value) -> Response + Send + Sync>;

    /// A fake embeddings server on 127.0.0.1 answering every path with `script(n, body)`; returns
    /// its root URL (no trailing slash) and what it saw.
    async fn fake(script: Script) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
        let log = seen.clone();
        let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            let script = script.clone();
            async move {
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(Seen {
                        path: uri.path().to_string(),
                        auth: headers
                            .get("authorization")
                            .map(|v| v.to_str().unwrap().to_string()),
                        body: body.clone(),
                    });
                    log.len() - 1
                };
                script(n, &body)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), seen)
    }

    /// The vector for input text `"t<k>"`: `[k+1, 1, 0, ...]` of `dim` (not normalised), so the
    /// ratio of the first two components identifies the text after normalisation.
    fn vector_for(text: &str, dim: usize) -> Vec<f32> {
        let k: f32 = text.trim_start_matches('t').parse().unwrap_or(0.0);
        let mut v = vec![0.0; dim];
        v[0] = k + 1.0;
        v[1] = 1.0;
        v
    }

    /// A documented-shape success reply for `body`'s inputs, `data` reversed if asked.
    fn reply(body: &Value, dim: usize, reverse: bool) -> Response {
        let inputs: Vec<String> = body["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let mut data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": vector_for(t, dim)}))
            .collect();
        if reverse {
            data.reverse();
        }
        axum::Json(json!({
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": inputs.len(), "total_tokens": inputs.len()}
        }))
        .into_response()
    }

    fn ok(dim: usize) -> Script {
        Arc::new(move |_, body| reply(body, dim, false))
    }

    fn openai_error(status: u16, message: &str, kind: &str, code: &str) -> Response {
        (
            S::from_u16(status).unwrap(),
            axum::Json(
                json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
            ),
        )
            .into_response()
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(2),
            max_total: Duration::from_secs(10),
        }
    }

    fn config(url: &str, key: Option<&str>) -> OpenAiConfig {
        OpenAiConfig {
            url: url.to_string(),
            model: "text-embedding-3-small".to_string(),
            api_key: key.map(SecretString::from),
            timeout: Duration::from_secs(5),
            retry: fast(),
            ..OpenAiConfig::default()
        }
    }

    fn texts(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("t{i}")).collect()
    }

    /// `v` is unit length and is text `t<k>`'s vector.
    fn assert_is(v: &[f32], k: usize) {
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "not unit length: {norm}");
        let ratio = v[0] / v[1];
        assert!(
            (ratio - (k as f32 + 1.0)).abs() < 1e-3,
            "expected the vector of t{k}, got ratio {ratio}"
        );
    }

    fn failed(e: EmbedError) -> String {
        match e {
            EmbedError::Failed(m) => m,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn sends_the_documented_body_and_bearer_header() {
        let (base, seen) = fake(ok(4)).await;
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), Some("sk-test-123"))).unwrap();
        let out = e.embed(&texts(2)).await.unwrap();
        assert_eq!(out.len(), 2);
        assert_is(&out[0], 0);
        assert_is(&out[1], 1);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].path, "/v1/embeddings");
        assert_eq!(seen[0].auth.as_deref(), Some("Bearer sk-test-123"));
        assert_eq!(
            seen[0].body,
            json!({"model": "text-embedding-3-small", "input": ["t0", "t1"], "encoding_format": "float"})
        );
    }

    #[tokio::test]
    async fn sends_dimensions_when_configured_and_checks_them() {
        let (base, seen) = fake(ok(8)).await;
        let e = OpenAiEmbedder::new(OpenAiConfig {
            dimension: Some(8),
            ..config(&format!("{base}/v1"), None)
        })
        .unwrap();
        assert_eq!(e.id(), "openai:text-embedding-3-small@8");
        assert_eq!(e.dimension(), 8);
        e.embed(&texts(1)).await.unwrap();
        assert_eq!(seen.lock().unwrap()[0].body["dimensions"], json!(8));

        // A server that ignores `dimensions` is caught.
        let (base, _) = fake(ok(5)).await;
        let e = OpenAiEmbedder::new(OpenAiConfig {
            dimension: Some(8),
            ..config(&format!("{base}/v1"), None)
        })
        .unwrap();
        let m = failed(e.embed(&texts(1)).await.unwrap_err());
        assert!(
            m.contains("5-dimensional") && m.contains("8 dimensions"),
            "{m}"
        );
    }

    #[tokio::test]
    async fn no_key_sends_no_authorization_header() {
        let (base, seen) = fake(ok(3)).await;
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), None)).unwrap();
        e.embed(&texts(1)).await.unwrap();
        // An empty key counts as none, too.
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), Some(""))).unwrap();
        e.embed(&texts(1)).await.unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen.iter().all(|s| s.auth.is_none()), "{seen:?}");
    }

    #[tokio::test]
    async fn out_of_order_data_is_sorted_by_index() {
        let (base, _) = fake(Arc::new(|_, body| reply(body, 4, true))).await;
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), None)).unwrap();
        let out = e.embed(&texts(5)).await.unwrap();
        for (k, v) in out.iter().enumerate() {
            assert_is(v, k);
        }
    }

    #[tokio::test]
    async fn batches_sequentially_and_keeps_order() {
        let (base, seen) = fake(Arc::new(|_, body| reply(body, 4, true))).await;
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), None)).unwrap();
        let out = e.embed(&texts(130)).await.unwrap();
        assert_eq!(out.len(), 130);
        for (k, v) in out.iter().enumerate() {
            assert_is(v, k);
        }
        let seen = seen.lock().unwrap();
        let sizes: Vec<usize> = seen
            .iter()
            .map(|s| s.body["input"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, vec![64, 64, 2]);
        assert_eq!(seen[2].body["input"], json!(["t128", "t129"]));
    }

    #[tokio::test]
    async fn empty_input_makes_no_request() {
        let (base, seen) = fake(ok(4)).await;
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), None)).unwrap();
        assert!(e.embed(&[]).await.unwrap().is_empty());
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn retries_429_honouring_retry_after_then_succeeds() {
        let (base, seen) = fake(Arc::new(|n, body| {
            if n == 0 {
                let mut r = openai_error(
                    429,
                    "Rate limit reached for requests",
                    "requests",
                    "rate_limit_exceeded",
                );
                r.headers_mut().insert("retry-after", "1".parse().unwrap());
                r
            } else {
                reply(body, 4, false)
            }
        }))
        .await;
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), Some("sk-x"))).unwrap();
        let t = Instant::now();
        let out = e.embed(&texts(3)).await.unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(seen.lock().unwrap().len(), 2);
        assert!(
            t.elapsed() >= Duration::from_millis(950),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test]
    async fn persistent_429_says_rate_limited_retry_later() {
        let (base, seen) = fake(Arc::new(|_, _| {
            openai_error(429, "Rate limit reached", "requests", "rate_limit_exceeded")
        }))
        .await;
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), Some("sk-x"))).unwrap();
        let m = failed(e.embed(&texts(1)).await.unwrap_err());
        assert!(m.contains("rate limited, retry later"), "{m}");
        assert!(m.contains("Rate limit reached"), "{m}");
        assert_eq!(seen.lock().unwrap().len(), 3, "max_attempts requests");
    }

    #[tokio::test]
    async fn server_error_after_retries_says_retry_later() {
        let (base, seen) = fake(Arc::new(|_, _| {
            openai_error(
                503,
                "The engine is currently overloaded",
                "server_error",
                "overloaded",
            )
        }))
        .await;
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), None)).unwrap();
        let m = failed(e.embed(&texts(1)).await.unwrap_err());
        assert!(
            m.contains("HTTP 503") && m.contains("overloaded") && m.contains("retry later"),
            "{m}"
        );
        assert_eq!(seen.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn unauthorized_names_the_variable_and_never_the_key() {
        let key = "sk-proj-SuperSecret0123456789";
        let (base, _) = fake(Arc::new(move |_, _| {
            openai_error(
                401,
                &format!("Incorrect API key provided: {key}. You can find your API key at https://platform.openai.com/account/api-keys."),
                "invalid_request_error",
                "invalid_api_key",
            )
        }))
        .await;
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), Some(key))).unwrap();
        let m = failed(e.embed(&texts(1)).await.unwrap_err());
        assert!(m.contains("SOPHIA_EMBEDDINGS_API_KEY"), "{m}");
        assert!(m.contains("401"), "{m}");
        assert!(!m.contains("SuperSecret"), "{m}");
        let debug = format!("{e:?}");
        assert!(!debug.contains("SuperSecret"), "{debug}");

        // Without a key the message says to set one.
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), None)).unwrap();
        let m = failed(e.embed(&texts(1)).await.unwrap_err());
        assert!(m.contains("set SOPHIA_EMBEDDINGS_API_KEY"), "{m}");
    }

    #[tokio::test]
    async fn other_errors_scrub_the_key_from_upstream_text() {
        let key = "sk-echoed-secret";
        let (base, _) = fake(Arc::new(move |_, _| {
            openai_error(
                400,
                &format!("bad request from {key}"),
                "invalid_request_error",
                "x",
            )
        }))
        .await;
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), Some(key))).unwrap();
        let m = failed(e.embed(&texts(1)).await.unwrap_err());
        assert!(
            m.contains("HTTP 400") && m.contains("bad request from [REDACTED]"),
            "{m}"
        );
        assert!(!m.contains("echoed-secret"), "{m}");
    }

    #[tokio::test]
    async fn not_found_points_at_url_and_model() {
        let (base, _) = fake(Arc::new(|_, _| {
            openai_error(
                404,
                "The model `no-such-model` does not exist or you do not have access to it.",
                "invalid_request_error",
                "model_not_found",
            )
        }))
        .await;
        let e = OpenAiEmbedder::new(OpenAiConfig {
            model: "no-such-model".to_string(),
            ..config(&format!("{base}/v1"), None)
        })
        .unwrap();
        let m = failed(e.embed(&texts(1)).await.unwrap_err());
        assert!(
            m.contains("SOPHIA_EMBEDDINGS_URL") && m.contains("SOPHIA_EMBEDDINGS_MODEL"),
            "{m}"
        );
        assert!(
            m.contains("does not exist") && m.contains("no-such-model"),
            "{m}"
        );

        // Without /v1 the message suggests it.
        let e = OpenAiEmbedder::new(config(&base, None)).unwrap();
        let m = failed(e.embed(&texts(1)).await.unwrap_err());
        assert!(m.contains("under /v1"), "{m}");
    }

    #[tokio::test]
    async fn tei_and_vllm_error_shapes_are_repeated() {
        let (base, _) = fake(Arc::new(|n, _| {
            let body = if n == 0 {
                json!({"error": "Input validation error: inputs must have less than 512 tokens", "error_type": "Validation"})
            } else {
                json!({"object": "error", "message": "This model's maximum context length is 512", "type": "BadRequestError", "code": 400})
            };
            (S::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
        }))
        .await;
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), None)).unwrap();
        let m = failed(e.embed(&texts(1)).await.unwrap_err());
        assert!(
            m.contains("HTTP 422") && m.contains("less than 512 tokens"),
            "{m}"
        );
        let m = failed(e.embed(&texts(1)).await.unwrap_err());
        assert!(m.contains("maximum context length"), "{m}");
    }

    #[tokio::test]
    async fn malformed_json_is_a_clear_error() {
        let (base, _) = fake(Arc::new(|n, _| match n {
            0 => (S::OK, "<html>proxy says hi</html>").into_response(),
            _ => axum::Json(json!({"object": "list", "data": [{"index": 0, "embedding": "AAAA"}]}))
                .into_response(),
        }))
        .await;
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), None)).unwrap();
        let m = failed(e.embed(&texts(1)).await.unwrap_err());
        assert!(
            m.contains("malformed JSON") && m.contains("HTTP 200"),
            "{m}"
        );
        let m = failed(e.embed(&texts(1)).await.unwrap_err());
        assert!(m.contains("malformed JSON"), "{m}");
    }

    #[tokio::test]
    async fn wrong_count_bad_indices_and_ragged_vectors_are_refused() {
        let (base, _) = fake(Arc::new(|n, _| {
            let data = match n {
                0 => json!([{"index": 0, "embedding": [1.0, 0.0]}]),
                1 => json!([{"index": 0, "embedding": [1.0, 0.0]}, {"index": 0, "embedding": [0.0, 1.0]}]),
                2 => json!([{"index": 0, "embedding": [1.0, 0.0]}, {"index": 7, "embedding": [0.0, 1.0]}]),
                _ => json!([{"index": 0, "embedding": [1.0, 0.0]}, {"index": 1, "embedding": [0.0, 1.0, 0.0]}]),
            };
            axum::Json(json!({"object": "list", "data": data})).into_response()
        }))
        .await;
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), None)).unwrap();
        let two = texts(2);
        let m = failed(e.embed(&two).await.unwrap_err());
        assert!(m.contains("1 vectors for 2 texts"), "{m}");
        let m = failed(e.embed(&two).await.unwrap_err());
        assert!(m.contains("index 0 twice"), "{m}");
        let m = failed(e.embed(&two).await.unwrap_err());
        assert!(m.contains("index 7"), "{m}");
        let m = failed(e.embed(&two).await.unwrap_err());
        assert!(m.contains("different lengths"), "{m}");
    }

    #[tokio::test]
    async fn a_changed_dimension_is_refused() {
        let (base, _) = fake(Arc::new(|n, body| {
            reply(body, if n == 0 { 4 } else { 6 }, false)
        }))
        .await;
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), None)).unwrap();
        e.embed(&texts(1)).await.unwrap();
        let m = failed(e.embed(&texts(1)).await.unwrap_err());
        assert!(
            m.contains("now returns 6") && m.contains("returned 4 before"),
            "{m}"
        );
        assert_eq!(e.dimension(), 4);
    }

    #[tokio::test]
    async fn probe_learns_and_caches_the_dimension() {
        let (base, seen) = fake(ok(7)).await;
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), None)).unwrap();
        assert_eq!(e.id(), "openai:text-embedding-3-small");
        assert_eq!(e.dimension(), 0, "unknown before the first answer");
        assert_eq!(e.probe().await.unwrap(), 7);
        assert_eq!(e.dimension(), 7);
        assert_eq!(e.probe().await.unwrap(), 7);
        assert_eq!(seen.lock().unwrap().len(), 1, "the second probe is cached");

        // An ordinary embed call teaches the dimension too.
        let e = OpenAiEmbedder::new(config(&format!("{base}/v1"), None)).unwrap();
        e.embed(&texts(2)).await.unwrap();
        assert_eq!(e.dimension(), 7);
        assert_eq!(e.probe().await.unwrap(), 7);
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn probe_reports_an_unreachable_endpoint() {
        // Port 9 (discard) on loopback is closed here: connection refused.
        let e = OpenAiEmbedder::new(OpenAiConfig {
            retry: RetryPolicy {
                max_attempts: 1,
                ..fast()
            },
            ..config(
                "http://user:pw-secret@127.0.0.1:9/v1?key=q-secret",
                Some("sk-x"),
            )
        })
        .unwrap();
        let m = failed(e.probe().await.unwrap_err());
        assert!(
            m.contains("could not connect") && m.contains("SOPHIA_EMBEDDINGS_URL"),
            "{m}"
        );
        assert!(!m.contains("secret"), "{m}");
    }

    #[tokio::test]
    async fn base_url_and_full_url_both_work() {
        let (base, seen) = fake(ok(3)).await;
        for url in [
            format!("{base}/v1"),
            format!("{base}/v1/"),
            format!("{base}/v1/embeddings"),
            format!("{base}/v1/embeddings/"),
        ] {
            let e = OpenAiEmbedder::new(config(&url, None)).unwrap();
            e.embed(&texts(1)).await.unwrap();
        }
        let paths: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.path.clone())
            .collect();
        assert_eq!(paths, vec!["/v1/embeddings"; 4]);
    }

    #[test]
    fn endpoint_resolution() {
        let r = |u: &str| resolve_endpoint(u).unwrap().to_string();
        assert_eq!(
            r("https://api.openai.com/v1"),
            "https://api.openai.com/v1/embeddings"
        );
        assert_eq!(
            r("http://localhost:11434/v1/"),
            "http://localhost:11434/v1/embeddings"
        );
        assert_eq!(
            r("http://localhost:8080"),
            "http://localhost:8080/embeddings"
        );
        assert_eq!(
            r("https://h.example/openai/deployments/x/embeddings?api-version=2024-02-01"),
            "https://h.example/openai/deployments/x/embeddings?api-version=2024-02-01"
        );
        assert_eq!(
            r("https://h.example/v1?x=1"),
            "https://h.example/v1/embeddings?x=1"
        );
        assert!(resolve_endpoint("not a url").is_err());
        assert!(resolve_endpoint("ftp://h/v1").is_err());
    }

    #[test]
    fn config_validation_and_ids() {
        let bad = |c: OpenAiConfig| failed(OpenAiEmbedder::new(c).unwrap_err());
        let good = config("http://127.0.0.1:1/v1", None);
        assert!(
            bad(OpenAiConfig {
                model: " ".into(),
                ..good.clone()
            })
            .contains("SOPHIA_EMBEDDINGS_MODEL")
        );
        assert!(
            bad(OpenAiConfig {
                batch_size: 0,
                ..good.clone()
            })
            .contains("batch size")
        );
        assert!(
            bad(OpenAiConfig {
                dimension: Some(0),
                ..good.clone()
            })
            .contains("dimension")
        );
        assert!(
            bad(OpenAiConfig {
                url: "nope".into(),
                ..good.clone()
            })
            .contains("SOPHIA_EMBEDDINGS_URL")
        );
        let e = OpenAiEmbedder::new(OpenAiConfig {
            model: "nomic-embed-text".into(),
            ..good
        })
        .unwrap();
        assert_eq!(e.id(), "openai:nomic-embed-text");
        assert_eq!(e.max_tokens(), None);
        assert_eq!(e.endpoint(), "http://127.0.0.1:1/v1/embeddings");
    }

    #[test]
    fn debug_redacts_the_key_and_url_credentials() {
        let c = config(
            "https://u:pw-secret@api.example/v1?token=q-secret",
            Some("sk-live-secret"),
        );
        let d = format!("{c:?}");
        assert!(d.contains("[REDACTED]") && !d.contains("secret"), "{d}");
        let e = OpenAiEmbedder::new(c).unwrap();
        let d = format!("{e:?}");
        assert!(!d.contains("secret"), "{d}");
        assert_eq!(e.endpoint(), "https://api.example/v1/embeddings");
    }

    #[test]
    fn config_from_lookup() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let c = OpenAiConfig::from_lookup(env(&[
            ("SOPHIA_EMBEDDINGS_MODEL", "text-embedding-3-large"),
            ("SOPHIA_EMBEDDINGS_API_KEY", "sk-abc"),
        ]))
        .unwrap();
        assert_eq!(c.url, DEFAULT_URL);
        assert_eq!(c.model, "text-embedding-3-large");
        assert_eq!(
            c.api_key.as_ref().map(|k| k.expose_secret().to_string()),
            Some("sk-abc".into())
        );
        assert_eq!(c.batch_size, DEFAULT_BATCH_SIZE);
        assert_eq!(c.dimension, None);

        let c = OpenAiConfig::from_lookup(env(&[
            ("SOPHIA_EMBEDDINGS_URL", "http://localhost:11434/v1"),
            ("SOPHIA_EMBEDDINGS_MODEL", "nomic-embed-text"),
            ("SOPHIA_EMBEDDINGS_API_KEY", ""),
            ("SOPHIA_EMBEDDINGS_DIMENSIONS", "256"),
            ("SOPHIA_EMBEDDINGS_BATCH_SIZE", "16"),
        ]))
        .unwrap();
        assert_eq!(c.url, "http://localhost:11434/v1");
        assert!(c.api_key.is_none());
        assert_eq!(c.dimension, Some(256));
        assert_eq!(c.batch_size, 16);

        let m = failed(OpenAiConfig::from_lookup(env(&[])).unwrap_err());
        assert!(m.contains("SOPHIA_EMBEDDINGS_MODEL"), "{m}");
        let m = failed(
            OpenAiConfig::from_lookup(env(&[
                ("SOPHIA_EMBEDDINGS_MODEL", "m"),
                ("SOPHIA_EMBEDDINGS_BATCH_SIZE", "0"),
            ]))
            .unwrap_err(),
        );
        assert!(m.contains("SOPHIA_EMBEDDINGS_BATCH_SIZE"), "{m}");
    }

    #[test]
    fn upstream_message_shapes() {
        let m = |b: &str| upstream_message(b.as_bytes());
        assert_eq!(
            m(r#"{"error":{"message":"boom","type":"x"}}"#).as_deref(),
            Some("boom")
        );
        assert_eq!(
            m(r#"{"error":"tei says no"}"#).as_deref(),
            Some("tei says no")
        );
        assert_eq!(
            m(r#"{"object":"error","message":"vllm"}"#).as_deref(),
            Some("vllm")
        );
        assert_eq!(m("  plain\n text ").as_deref(), Some("plain text"));
        assert_eq!(m(r#"{"other":1}"#), None);
        assert_eq!(m(""), None);
        let long = "é".repeat(1000);
        assert!(m(&long).unwrap().chars().count() <= MAX_UPSTREAM_MESSAGE + 3);
    }
}
