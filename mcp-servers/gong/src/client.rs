//! The Gong API v2 client and its wire types.
//!
//! Written from Gong's public API reference (<https://help.gong.io/apidocs>, also published as the
//! OpenAPI document linked from <https://app.gong.io/settings/api/documentation>):
//! - Authentication: `Authorization: Basic base64(<accessKey>:<accessKeySecret>)`; the key pair is
//!   created on the Gong API page (company settings → API, technical administrators only).
//!   <https://help.gong.io/apidocs/introduction-2>
//! - Limits: 3 API calls per second and 10,000 per day per company; above that HTTP 429 with a
//!   `Retry-After` header (seconds). Every request of this client waits for a slot of a shared
//!   3-per-second limiter before it is sent.
//! - Cursors: a list answers `records: {totalRecords, currentPageSize, currentPageNumber, cursor}`;
//!   `cursor` is present only when more records exist; the next page repeats the same request with
//!   that cursor, "all other request inputs should remain the same". For `GET` it goes in the query
//!   string, for the `POST` listings in the JSON body (a cursor in the query string of a POST is
//!   ignored and page 1 comes back forever).
//! - Errors: `{"requestId": "...", "errors": ["..."]}`; 404 on a listing means "no calls found
//!   corresponding to the provided filters" — an empty result, not a failure; 401 "access denied".
//! - Endpoints used (all read-only):
//!   - `GET /v2/calls?fromDateTime&toDateTime&workspaceId&cursor` →
//!     `{records, calls: [CallBasicData]}`
//!     <https://help.gong.io/apidocs/retrieve-call-data-by-date-range-v2calls-2>
//!   - `POST /v2/calls/extensive` with `{cursor, filter: {fromDateTime, toDateTime, workspaceId,
//!     callIds, primaryUserIds}, contentSelector: {context, exposedFields: {parties, content:
//!     {topics, trackers, trackerOccurrences, brief, keyPoints, ...}, interaction: {speakers,
//!     personInteractionStats, questions}}}}` → `{records, calls: [{metaData, context, parties,
//!     content, interaction}]}`
//!     <https://help.gong.io/apidocs/retrieve-detailed-call-data-by-various-filters-v2callsextensive-2>
//!   - `POST /v2/calls/transcript` with `{cursor, filter: {fromDateTime, toDateTime, workspaceId,
//!     callIds}}` → `{records, callTranscripts: [{callId, transcript: [{speakerId, topic,
//!     sentences: [{start, end, text}]}]}]}`; `start`/`end` are milliseconds from the start of
//!     the call; `speakerId` matches `parties[].speakerId` of `/v2/calls/extensive`.
//!     <https://help.gong.io/apidocs/retrieve-transcripts-of-calls-by-date-or-callids-v2callstranscript-2>
//!   - `GET /v2/users?cursor&includeAvatars` → `{records, users: [UserMetadata]}`. It has no page
//!     size parameter. <https://help.gong.io/apidocs/list-all-users-v2users>
//!
//! `POST /v2/calls` (without a sub-path) *creates* a call: this client refuses to send any POST
//! other than the two read-only listings above.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mcp_core::upstream::{
    Pacer, RetryPolicy, SendError, build_client, retry_after, send_with_retry,
};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use tokio_util::sync::CancellationToken;

/// Service name used in tool errors.
pub const SERVICE: &str = "Gong";
/// Gong's API host (some companies have a dedicated one, shown on the Gong API page).
pub const DEFAULT_BASE_URL: &str = "https://api.gong.io";
/// Gong's documented default limit.
pub const DEFAULT_REQUESTS_PER_SECOND: f64 = 3.0;
/// The only POST paths this client sends: both read, neither creates anything.
pub const READ_ONLY_POSTS: [&str; 2] = ["/v2/calls/extensive", "/v2/calls/transcript"];

/// How a Gong call failed.
#[derive(Debug)]
pub enum GongError {
    /// `GONG_ACCESS_KEY` or `GONG_ACCESS_KEY_SECRET` is not set.
    MissingCredential(&'static str),
    /// HTTP 401/403 with Gong's `errors`.
    Unauthorized { status: u16, detail: String },
    /// HTTP 429 after our retries.
    RateLimited(Option<Duration>),
    /// Any other non-2xx status (404 is handled as "nothing found" by the callers).
    Http { status: u16, detail: String },
    /// The body was not what Gong documents.
    Malformed(String),
    /// Transport failure (timeout, connect).
    Send(SendError),
    /// The MCP call was cancelled.
    Cancelled,
    /// A request this client refuses to send.
    Refused(String),
}

impl GongError {
    /// The tool error a model can act on.
    pub fn into_tool(self) -> mcp_core::ToolError {
        use mcp_core::ToolError;
        match self {
            GongError::MissingCredential(variable) => ToolError::MissingCredential {
                service: "Gong (set both GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET)",
                variable,
            },
            GongError::Unauthorized { status, detail } => ToolError::Unauthorized {
                service: SERVICE,
                variable: "GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET",
                detail: format!("HTTP {status}: {detail}"),
            },
            GongError::RateLimited(retry_after) => ToolError::RateLimited {
                service: SERVICE,
                retry_after,
            },
            GongError::Http { status, detail } => ToolError::Upstream {
                service: SERVICE,
                detail: format!("HTTP {status}: {detail}"),
                retryable: status >= 500,
            },
            GongError::Malformed(detail) => ToolError::Upstream {
                service: SERVICE,
                detail,
                retryable: true,
            },
            GongError::Send(e) => ToolError::Upstream {
                service: SERVICE,
                detail: e.to_string(),
                retryable: true,
            },
            GongError::Cancelled => ToolError::Cancelled,
            GongError::Refused(what) => ToolError::Forbidden(what),
        }
    }
}

tokio::task_local! {
    /// Requests sent by the current tool call, when it asked (see [`count_requests`]).
    static CALL_REQUESTS: Arc<AtomicU64>;
}

/// Run `work`, counting the requests it sends to Gong (retries included). Concurrent calls
/// on the same client each count their own.
pub async fn count_requests<F: std::future::Future>(work: F) -> (F::Output, u64) {
    let counter = Arc::new(AtomicU64::new(0));
    let out = CALL_REQUESTS.scope(counter.clone(), work).await;
    (out, counter.load(Ordering::Relaxed))
}

struct Inner {
    http: reqwest::Client,
    base: String,
    key: Option<SecretString>,
    secret: Option<SecretString>,
    retry: RetryPolicy,
    limiter: Pacer,
    requests: AtomicU64,
}

/// A cheap-to-clone Gong API client.
#[derive(Clone)]
pub struct GongClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GongClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GongClient")
            .field("base", &self.inner.base)
            .field("access_key", &self.inner.key.as_ref().map(|_| "[set]"))
            .field(
                "access_key_secret",
                &self.inner.secret.as_ref().map(|_| "[set]"),
            )
            .finish()
    }
}

impl GongClient {
    /// A client of `base` (e.g. `https://api.gong.io`).
    pub fn new(
        base: &str,
        key: Option<SecretString>,
        secret: Option<SecretString>,
        timeout: Duration,
        retry: RetryPolicy,
        requests_per_second: f64,
    ) -> Result<Self, String> {
        let http = build_client("sophia-gong", env!("CARGO_PKG_VERSION"), timeout)
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base: base.trim_end_matches('/').to_string(),
                key,
                secret,
                retry,
                // A rate that is not a positive number falls back to Gong's documented 3/s.
                limiter: Pacer::per_second(
                    if requests_per_second.is_finite() && requests_per_second > 0.0 {
                        requests_per_second
                    } else {
                        DEFAULT_REQUESTS_PER_SECOND
                    },
                ),
                requests: AtomicU64::new(0),
            }),
        })
    }

    /// The base URL (no secrets in it).
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// Which credential is missing, if any.
    pub fn missing_credential(&self) -> Option<&'static str> {
        if self.inner.key.is_none() {
            Some("GONG_ACCESS_KEY")
        } else if self.inner.secret.is_none() {
            Some("GONG_ACCESS_KEY_SECRET")
        } else {
            None
        }
    }

    /// Requests sent to Gong so far (retries included).
    pub fn requests_sent(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// `GET path?query`; `Ok(None)` on 404 (nothing matched).
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        ct: &CancellationToken,
    ) -> Result<Option<T>, GongError> {
        let url = format!("{}{path}", self.inner.base);
        let url = reqwest::Url::parse_with_params(&url, query.iter()).map_err(|e| {
            GongError::Send(SendError::Other(format!(
                "GONG_API_BASE_URL does not make a valid URL: {e}"
            )))
        })?;
        self.send(path, ct, |http| http.get(url.clone())).await
    }

    /// `POST path` with a JSON body, only for the read-only listings; `Ok(None)` on 404.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
        ct: &CancellationToken,
    ) -> Result<Option<T>, GongError> {
        if !READ_ONLY_POSTS.contains(&path) {
            return Err(GongError::Refused(format!(
                "POST {path} is not a read-only Gong endpoint; this server never creates or changes anything in Gong"
            )));
        }
        let url = format!("{}{path}", self.inner.base);
        self.send(path, ct, |http| http.post(&url).json(body)).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        path: &str,
        ct: &CancellationToken,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Option<T>, GongError> {
        let key = self
            .inner
            .key
            .as_ref()
            .ok_or(GongError::MissingCredential("GONG_ACCESS_KEY"))?;
        let secret = self
            .inner
            .secret
            .as_ref()
            .ok_or(GongError::MissingCredential("GONG_ACCESS_KEY_SECRET"))?;
        self.inner
            .limiter
            .acquire(ct)
            .await
            .map_err(|_| GongError::Cancelled)?;
        let http = &self.inner.http;
        let requests = &self.inner.requests;
        // Every request here reads (GET, or one of the two read-only POST listings), so 429 and
        // 5xx are retried by mcp-core, honouring Retry-After.
        let sent = send_with_retry(
            || {
                requests.fetch_add(1, Ordering::Relaxed);
                let _ = CALL_REQUESTS.try_with(|c| c.fetch_add(1, Ordering::Relaxed));
                build(http).basic_auth(key.expose_secret(), Some(secret.expose_secret()))
            },
            true,
            &self.inner.retry,
        );
        let response = tokio::select! {
            biased;
            _ = ct.cancelled() => return Err(GongError::Cancelled),
            r = sent => r.map_err(GongError::Send)?,
        };
        let status = response.status().as_u16();
        let wait = retry_after(response.headers());
        let bytes = tokio::select! {
            biased;
            _ = ct.cancelled() => return Err(GongError::Cancelled),
            b = response.bytes() => b.map_err(|e| GongError::Send(SendError::from(e)))?,
        };
        if (200..300).contains(&status) {
            return serde_json::from_slice::<T>(&bytes).map(Some).map_err(|e| {
                GongError::Malformed(format!(
                    "{path} answered a body that is not what Gong documents ({e})"
                ))
            });
        }
        let detail = error_detail(&bytes);
        match status {
            404 => {
                tracing::debug!(path, detail, "Gong found nothing");
                Ok(None)
            }
            401 | 403 => Err(GongError::Unauthorized { status, detail }),
            429 => Err(GongError::RateLimited(wait)),
            _ => Err(GongError::Http { status, detail }),
        }
    }
}

/// Gong's `errors` joined, or a short note when the body is not Gong's error shape.
fn error_detail(bytes: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(default, rename = "requestId")]
        request_id: Option<String>,
        #[serde(default)]
        errors: Vec<String>,
    }
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(b) if !b.errors.is_empty() => match b.request_id {
            Some(id) => format!("{} (requestId {id})", b.errors.join("; ")),
            None => b.errors.join("; "),
        },
        _ => "no error details in the answer".to_string(),
    }
}

/// A field that Gong may send as `null`: the type's default instead.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// Wire types: only the fields we project; everything else Gong sends is ignored (Gong's
// "forward compatibility" note says fields may be added without warning).

/// `records` of every listing.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Records {
    #[serde(default)]
    pub total_records: Option<u64>,
    #[serde(default)]
    pub current_page_size: Option<u64>,
    #[serde(default)]
    pub current_page_number: Option<u64>,
    #[serde(default)]
    pub cursor: Option<String>,
}

impl Records {
    /// The cursor of the next page; absent or empty means the end.
    pub fn next(&self) -> Option<String> {
        self.cursor.clone().filter(|c| !c.trim().is_empty())
    }
}

/// `CallBasicData`: `GET /v2/calls` items and `metaData` of `/v2/calls/extensive`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallMeta {
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub scheduled: Option<String>,
    #[serde(default)]
    pub started: Option<String>,
    /// Seconds.
    #[serde(default)]
    pub duration: Option<f64>,
    #[serde(default)]
    pub primary_user_id: Option<String>,
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub media: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub purpose: Option<String>,
}

/// `GET /v2/calls`
#[derive(Debug, Deserialize)]
pub struct CallsPage {
    #[serde(default, deserialize_with = "nullable")]
    pub records: Records,
    #[serde(default, deserialize_with = "nullable")]
    pub calls: Vec<CallMeta>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ContextField {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default)]
    pub value: serde_json::Value,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextObject {
    #[serde(default)]
    pub object_type: Option<String>,
    #[serde(default)]
    pub object_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub fields: Vec<ContextField>,
}

impl ContextObject {
    /// A field's value as text (`Name`, `Amount`...), case-insensitive on the name.
    pub fn field(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .and_then(|f| match &f.value {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            })
    }
}

/// A link to an external system (CRM, dialer...).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CallContext {
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub objects: Vec<ContextObject>,
}

/// A participant of a call.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub speaker_id: Option<String>,
    /// `Internal`, `External` or `Unknown`.
    #[serde(default)]
    pub affiliation: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Topic {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Seconds.
    #[serde(default)]
    pub duration: Option<f64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Occurrence {
    /// Seconds from the start of the call.
    #[serde(default)]
    pub start_time: Option<f64>,
    #[serde(default)]
    pub speaker_id: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct TrackerPhrase {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default, deserialize_with = "nullable")]
    pub occurrences: Vec<Occurrence>,
    #[serde(default)]
    pub phrase: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Tracker {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default)]
    pub count: Option<u64>,
    /// `Keyword` or `Smart`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub occurrences: Vec<Occurrence>,
    #[serde(default, deserialize_with = "nullable")]
    pub phrases: Vec<TrackerPhrase>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct KeyPoint {
    #[serde(default, deserialize_with = "nullable")]
    pub text: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    #[serde(default, deserialize_with = "nullable")]
    pub topics: Vec<Topic>,
    #[serde(default, deserialize_with = "nullable")]
    pub trackers: Vec<Tracker>,
    #[serde(default)]
    pub brief: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub key_points: Vec<KeyPoint>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpeakerTime {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    /// Seconds.
    #[serde(default)]
    pub talk_time: Option<f64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Stat {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default)]
    pub value: Option<f64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Questions {
    #[serde(default)]
    pub company_count: Option<u64>,
    #[serde(default)]
    pub non_company_count: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interaction {
    #[serde(default, deserialize_with = "nullable")]
    pub speakers: Vec<SpeakerTime>,
    #[serde(default, deserialize_with = "nullable")]
    pub interaction_stats: Vec<Stat>,
    #[serde(default)]
    pub questions: Option<Questions>,
}

/// One call of `/v2/calls/extensive`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallData {
    #[serde(default, deserialize_with = "nullable")]
    pub meta_data: CallMeta,
    #[serde(default, deserialize_with = "nullable")]
    pub context: Vec<CallContext>,
    #[serde(default, deserialize_with = "nullable")]
    pub parties: Vec<Party>,
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default)]
    pub interaction: Option<Interaction>,
}

/// `POST /v2/calls/extensive`
#[derive(Debug, Deserialize)]
pub struct ExtensivePage {
    #[serde(default, deserialize_with = "nullable")]
    pub records: Records,
    #[serde(default, deserialize_with = "nullable")]
    pub calls: Vec<CallData>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Sentence {
    /// Milliseconds from the start of the call.
    #[serde(default)]
    pub start: f64,
    /// Milliseconds from the start of the call.
    #[serde(default)]
    pub end: f64,
    #[serde(default, deserialize_with = "nullable")]
    pub text: String,
}

/// A monologue: consecutive sentences of one speaker.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Monologue {
    #[serde(default, deserialize_with = "nullable")]
    pub speaker_id: String,
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub sentences: Vec<Sentence>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallTranscript {
    #[serde(default, deserialize_with = "nullable")]
    pub call_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub transcript: Vec<Monologue>,
}

/// `POST /v2/calls/transcript`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptPage {
    #[serde(default, deserialize_with = "nullable")]
    pub records: Records,
    #[serde(default, deserialize_with = "nullable")]
    pub call_transcripts: Vec<CallTranscript>,
}

/// `UserMetadata` of `GET /v2/users`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub manager_id: Option<String>,
    #[serde(default)]
    pub created: Option<String>,
}

/// `GET /v2/users`
#[derive(Debug, Deserialize)]
pub struct UsersPage {
    #[serde(default, deserialize_with = "nullable")]
    pub records: Records,
    #[serde(default, deserialize_with = "nullable")]
    pub users: Vec<User>,
}
