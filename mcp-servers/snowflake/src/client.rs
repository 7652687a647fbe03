//! The Snowflake SQL API v2 client.
//!
//! Written from Snowflake's public reference:
//! - <https://docs.snowflake.com/en/developer-guide/sql-api/reference> (`POST /api/v2/statements`
//!   with `requestId`/`retry`, `GET /api/v2/statements/{statementHandle}?partition=N`,
//!   `POST /api/v2/statements/{statementHandle}/cancel`; ResultSet, QueryStatus,
//!   QueryFailureStatus),
//! - <https://docs.snowflake.com/en/developer-guide/sql-api/submitting-requests> (body fields
//!   `statement`, `timeout`, `database`, `schema`, `warehouse`, `role`, `bindings`, `parameters`;
//!   resubmitting with the same `requestId` and `retry=true`),
//! - <https://docs.snowflake.com/en/developer-guide/sql-api/handling-responses> (200 ResultSet with
//!   `resultSetMetaData{numRows, format, rowType, partitionInfo}` and `data`; 202 QueryStatus with
//!   `statementHandle`/`statementStatusUrl`: poll; partitions after the first by `?partition=N`),
//! - <https://docs.snowflake.com/en/developer-guide/sql-api/handling-errors> (408 timeout, 422
//!   QueryFailureStatus `{code, sqlState, message, statementHandle}`),
//! - <https://docs.snowflake.com/en/developer-guide/sql-api/authenticating> (`Authorization:
//!   Bearer`, `X-Snowflake-Authorization-Token-Type`).
//!
//! Every submission carries a fresh `requestId`; a resubmission (429/5xx, or after renewing a
//! rejected token) carries the same `requestId` plus `retry=true`, so Snowflake never runs the
//! statement twice. Every request sets `MULTI_STATEMENT_COUNT=1`. Rows outside the wanted window
//! are skipped while parsing, so memory follows the row cap, not the result size.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mcp_core::upstream::{RetryPolicy, SendError, send_with_retry};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::Credential;
use crate::call::Call;
use crate::convert::{Column, cell};

/// Where statements run; each field overrides the configured default when set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub warehouse: Option<String>,
    pub database: Option<String>,
    pub schema: Option<String>,
    pub role: Option<String>,
}

impl Context {
    /// `self` with the unset fields taken from `defaults`.
    pub fn or(&self, defaults: &Context) -> Context {
        let pick = |a: &Option<String>, b: &Option<String>| {
            a.clone()
                .filter(|s| !s.trim().is_empty())
                .or_else(|| b.clone())
        };
        Context {
            warehouse: pick(&self.warehouse, &defaults.warehouse),
            database: pick(&self.database, &defaults.database),
            schema: pick(&self.schema, &defaults.schema),
            role: pick(&self.role, &defaults.role),
        }
    }
}

/// One bind variable: a Snowflake type (`TEXT`, `FIXED`, `REAL`, `BOOLEAN`, `DATE`, `TIME`,
/// `TIMESTAMP_NTZ`, …) and its value as a string (`None` binds SQL NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub kind: String,
    pub value: Option<String>,
}

impl Bind {
    pub fn text(v: impl Into<String>) -> Self {
        Self {
            kind: "TEXT".into(),
            value: Some(v.into()),
        }
    }

    pub fn fixed(v: i64) -> Self {
        Self {
            kind: "FIXED".into(),
            value: Some(v.to_string()),
        }
    }
}

/// A statement to submit.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sql: String,
    pub bindings: Vec<Bind>,
    pub context: Context,
    /// Seconds before Snowflake cancels it (the body's `timeout`).
    pub timeout_s: u64,
}

impl Statement {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            bindings: Vec::new(),
            context: Context::default(),
            timeout_s: 60,
        }
    }

    pub fn bind(mut self, b: Bind) -> Self {
        self.bindings.push(b);
        self
    }
}

/// Rows `[offset, offset + take)` of a result, converted by `rowType`.
#[derive(Debug, Clone)]
pub struct Page {
    pub handle: String,
    pub columns: Vec<Column>,
    /// Rows of the whole result (`numRows`).
    pub total: u64,
    /// Row counts of the partitions (`partitionInfo[].rowCount`).
    pub partitions: Vec<u64>,
    pub offset: u64,
    pub rows: Vec<Vec<Value>>,
    /// Partitions fetched for this page (for tests and benchmarks).
    pub partitions_fetched: usize,
}

/// Why a statement failed.
#[derive(Debug, thiserror::Error)]
pub enum SfError {
    #[error("{0}")]
    NotConfigured(String),
    #[error("Snowflake rejected the credentials (HTTP {status}, code {code}: {message})")]
    Unauthorized {
        status: u16,
        code: String,
        message: String,
    },
    #[error("Snowflake refused the statement: {message} (code {code}, SQL state {sql_state})")]
    Statement {
        code: String,
        sql_state: String,
        message: String,
        handle: Option<String>,
    },
    #[error("the statement timed out and was cancelled after {seconds}s: {message}")]
    Timeout { seconds: u64, message: String },
    #[error("the call was cancelled; statement {handle} was cancelled in Snowflake")]
    Cancelled { handle: String },
    #[error("the call was cancelled before Snowflake accepted the statement")]
    CancelledEarly,
    #[error("Snowflake is rate limiting requests")]
    RateLimited { retry_after: Option<Duration> },
    #[error("Snowflake answered HTTP {status}: {message}")]
    Http {
        status: u16,
        code: Option<String>,
        message: String,
    },
    #[error("{0}")]
    Transport(#[from] SendError),
    #[error("Snowflake's answer was not the documented JSON: {0}")]
    Malformed(String),
}

/// Client configuration (tests shorten the polling).
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub http_timeout: Duration,
    pub poll_initial: Duration,
    pub poll_max: Duration,
    /// How long past the statement's own `timeout` we keep polling before cancelling it.
    pub timeout_grace: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            http_timeout: Duration::from_secs(90),
            poll_initial: Duration::from_millis(250),
            poll_max: Duration::from_secs(5),
            timeout_grace: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// The SQL API client: one reqwest client, the credential, the default context.
pub struct SnowflakeClient {
    http: reqwest::Client,
    base: String,
    credential: Credential,
    defaults: Context,
    options: ClientOptions,
}

/// The wanted rows of one response body.
#[derive(Debug, Default)]
struct Body {
    meta: Option<Meta>,
    rows: Vec<Vec<Option<String>>>,
    handle: Option<String>,
    status_url: Option<String>,
    code: Option<String>,
    message: Option<String>,
    sql_state: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    #[serde(default)]
    num_rows: Option<u64>,
    #[serde(default)]
    row_type: Vec<Column>,
    #[serde(default)]
    partition_info: Vec<PartitionInfo>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartitionInfo {
    #[serde(default)]
    row_count: u64,
}

/// Keep rows `[skip, skip + take)` of `data`; skip the rest without allocating them.
#[derive(Clone, Copy)]
struct Window {
    skip: u64,
    take: u64,
}

struct BodySeed(Window);

impl<'de> DeserializeSeed<'de> for BodySeed {
    type Value = Body;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Body, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BodySeed {
    type Value = Body;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Snowflake SQL API response object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
        let mut body = Body::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "resultSetMetaData" => body.meta = map.next_value()?,
                "data" => body.rows = map.next_value_seed(RowsSeed(self.0))?.unwrap_or_default(),
                "statementHandle" => body.handle = map.next_value()?,
                "statementStatusUrl" => body.status_url = map.next_value()?,
                "code" => body.code = map.next_value::<Option<CodeValue>>()?.map(|c| c.0),
                "message" => body.message = map.next_value()?,
                "sqlState" => body.sql_state = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(body)
    }
}

/// `code` is a string in the docs; accept a number too.
struct CodeValue(String);

impl<'de> Deserialize<'de> for CodeValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(CodeValue(match v {
            Value::String(s) => s,
            other => other.to_string(),
        }))
    }
}

struct RowsSeed(Window);

impl<'de> DeserializeSeed<'de> for RowsSeed {
    type Value = Option<Vec<Vec<Option<String>>>>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed {
    type Value = Option<Vec<Vec<Option<String>>>>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of rows")
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        let mut i = 0u64;
        loop {
            if i >= self.0.skip && i < self.0.skip.saturating_add(self.0.take) {
                match seq.next_element::<Vec<Option<CellText>>>()? {
                    Some(row) => out.push(row.into_iter().map(|c| c.map(|c| c.0)).collect()),
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(Some(out))
    }
}

/// A cell: a string in `jsonv2`; tolerate other JSON scalars by printing them.
struct CellText(String);

impl<'de> Deserialize<'de> for CellText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(CellText(match v {
            Value::String(s) => s,
            other => other.to_string(),
        }))
    }
}

/// Statement handles are UUID-like; anything else never reaches a URL path.
pub fn valid_handle(handle: &str) -> bool {
    !handle.is_empty()
        && handle.len() <= 64
        && handle
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Statement handles we got from Snowflake.
fn checked_handle(handle: Option<String>) -> Result<String, SfError> {
    match handle {
        Some(h) if valid_handle(&h) => Ok(h),
        Some(_) => Err(SfError::Malformed(
            "statementHandle has unexpected characters".into(),
        )),
        None => Err(SfError::Malformed("no statementHandle".into())),
    }
}

impl SnowflakeClient {
    pub fn new(
        base_url: &str,
        credential: Credential,
        defaults: Context,
        options: ClientOptions,
    ) -> Result<Self, String> {
        let http = mcp_core::upstream::build_client(
            crate::NAME,
            env!("CARGO_PKG_VERSION"),
            options.http_timeout,
        )
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            credential,
            defaults,
            options,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    pub fn defaults(&self) -> &Context {
        &self.defaults
    }

    /// Send one request built by `build(bearer, token_type, attempt)`: retries 429/5xx with the
    /// same request (the caller adds `retry=true` from attempt 1 on), renews a rejected token
    /// once. Returns the status and body of the last answer.
    async fn send(
        &self,
        build: impl Fn(&str, &str, u32) -> reqwest::RequestBuilder,
        call: &Call,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes), SfError> {
        let attempt = AtomicU32::new(0);
        for auth_try in 0..2 {
            let (token, kind) = self.credential.bearer().map_err(SfError::NotConfigured)?;
            let kind = kind.to_string();
            let fut = send_with_retry(
                || {
                    build(
                        token.expose_secret(),
                        &kind,
                        attempt.fetch_add(1, Ordering::SeqCst),
                    )
                },
                true,
                &self.options.retry,
            );
            let resp = tokio::select! {
                r = fut => r?,
                _ = call.ct.cancelled() => return Err(SfError::CancelledEarly),
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = tokio::select! {
                b = resp.bytes() => b.map_err(|e| SfError::Transport(SendError::from(e)))?,
                _ = call.ct.cancelled() => return Err(SfError::CancelledEarly),
            };
            if status == StatusCode::UNAUTHORIZED && auth_try == 0 && self.credential.renew() {
                tracing::info!("Snowflake rejected the token; re-signing and retrying once");
                continue;
            }
            return Ok((status, headers, body));
        }
        Err(SfError::Malformed("unreachable: auth loop ended".into()))
    }

    fn authed(
        &self,
        rb: reqwest::RequestBuilder,
        token: &str,
        kind: &str,
    ) -> reqwest::RequestBuilder {
        rb.bearer_auth(token)
            .header("X-Snowflake-Authorization-Token-Type", kind)
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Run `stmt` and return rows `[0, take)`.
    pub async fn execute(&self, stmt: &Statement, take: u64, call: &Call) -> Result<Page, SfError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let context = stmt.context.or(&self.defaults);
        let mut body = json!({
            "statement": stmt.sql,
            "timeout": stmt.timeout_s,
            "parameters": {"MULTI_STATEMENT_COUNT": "1"},
        });
        for (key, value) in [
            ("warehouse", &context.warehouse),
            ("database", &context.database),
            ("schema", &context.schema),
            ("role", &context.role),
        ] {
            if let Some(v) = value {
                body[key] = json!(v);
            }
        }
        if !stmt.bindings.is_empty() {
            let mut b = serde_json::Map::new();
            for (i, bind) in stmt.bindings.iter().enumerate() {
                b.insert(
                    (i + 1).to_string(),
                    json!({"type": bind.kind, "value": bind.value}),
                );
            }
            body["bindings"] = Value::Object(b);
        }
        let url = format!("{}/api/v2/statements", self.base);
        let window = Window { skip: 0, take };
        let (status, headers, bytes) = self
            .send(
                |token, kind, attempt| {
                    // requestId is a UUID: nothing to escape.
                    let full = if attempt > 0 {
                        format!("{url}?requestId={request_id}&retry=true")
                    } else {
                        format!("{url}?requestId={request_id}")
                    };
                    self.authed(self.http.post(full), token, kind).json(&body)
                },
                call,
            )
            .await?;
        let deadline =
            Instant::now() + Duration::from_secs(stmt.timeout_s) + self.options.timeout_grace;
        let first = self
            .settle(
                status,
                &headers,
                &bytes,
                window,
                deadline,
                stmt.timeout_s,
                call,
            )
            .await?;
        self.collect(first, 0, take, call).await
    }

    /// Turn an answer into a finished first-partition body: poll 202s, map errors.
    #[allow(clippy::too_many_arguments)]
    async fn settle(
        &self,
        mut status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        bytes: &[u8],
        window: Window,
        deadline: Instant,
        timeout_s: u64,
        call: &Call,
    ) -> Result<Body, SfError> {
        let mut body = parse(bytes, window, status)?;
        let mut headers = headers.clone();
        let mut delay = self.options.poll_initial;
        let mut polls = 0u32;
        loop {
            match status.as_u16() {
                200 => return Ok(body),
                202 => {}
                code => return Err(self.error(code, &headers, body, timeout_s)),
            }
            let handle = checked_handle(body.handle.clone())?;
            polls += 1;
            call.progress(format!("statement {handle} still running (poll {polls})"))
                .await;
            if Instant::now() >= deadline {
                self.cancel(&handle).await;
                return Err(SfError::Timeout {
                    seconds: timeout_s,
                    message: "Snowflake did not finish in time".into(),
                });
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = call.ct.cancelled() => {
                    self.cancel(&handle).await;
                    return Err(SfError::Cancelled { handle });
                }
            }
            delay = (delay * 2).min(self.options.poll_max);
            let path = body
                .status_url
                .clone()
                .filter(|u| {
                    u.starts_with("/api/v2/statements/") && !u.contains("..") && !u.contains('#')
                })
                .unwrap_or_else(|| format!("/api/v2/statements/{handle}"));
            let url = format!("{}{path}", self.base);
            let result = self
                .send(
                    |token, kind, _| self.authed(self.http.get(&url), token, kind),
                    call,
                )
                .await;
            let (s, h, b) = match result {
                Ok(r) => r,
                Err(SfError::CancelledEarly) => {
                    self.cancel(&handle).await;
                    return Err(SfError::Cancelled { handle });
                }
                Err(e) => return Err(e),
            };
            status = s;
            headers = h;
            body = parse(&b, window, status)?;
            if body.handle.is_none() {
                body.handle = Some(handle);
            }
        }
    }

    fn error(
        &self,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: Body,
        timeout_s: u64,
    ) -> SfError {
        let message = body
            .message
            .unwrap_or_else(|| "no message".into())
            .chars()
            .take(600)
            .collect::<String>();
        match status {
            401 | 403
                if body.code.as_deref().is_some_and(|c| c.starts_with("390")) || status == 401 =>
            {
                SfError::Unauthorized {
                    status,
                    code: body.code.unwrap_or_default(),
                    message,
                }
            }
            408 => SfError::Timeout {
                seconds: timeout_s,
                message,
            },
            422 => SfError::Statement {
                code: body.code.unwrap_or_default(),
                sql_state: body.sql_state.unwrap_or_default(),
                message,
                handle: body.handle,
            },
            429 => SfError::RateLimited {
                retry_after: mcp_core::upstream::retry_after(headers),
            },
            _ => SfError::Http {
                status,
                code: body.code,
                message,
            },
        }
    }

    /// Ask Snowflake to cancel `handle` (best effort).
    pub async fn cancel(&self, handle: &str) {
        if !valid_handle(handle) {
            return;
        }
        let url = format!("{}/api/v2/statements/{handle}/cancel", self.base);
        let request_id = uuid::Uuid::new_v4().to_string();
        let detached = Call::detached();
        let result = self
            .send(
                |token, kind, _| {
                    self.authed(
                        self.http.post(format!("{url}?requestId={request_id}")),
                        token,
                        kind,
                    )
                },
                &detached,
            )
            .await;
        match result {
            Ok((s, _, _)) => tracing::info!(handle, status = s.as_u16(), "cancel requested"),
            Err(e) => tracing::warn!(handle, error = %e, "cancel request failed"),
        }
    }

    /// Rows `[offset, offset + take)` of an earlier statement, by handle.
    pub async fn fetch(
        &self,
        handle: &str,
        columns: Vec<Column>,
        partitions: Vec<u64>,
        offset: u64,
        take: u64,
        call: &Call,
    ) -> Result<Page, SfError> {
        if !valid_handle(handle) {
            return Err(SfError::Malformed(
                "the cursor's statement handle is not valid".into(),
            ));
        }
        let total = partitions.iter().sum();
        let mut page = Page {
            handle: handle.to_string(),
            columns,
            total,
            partitions,
            offset,
            rows: Vec::new(),
            partitions_fetched: 0,
        };
        self.fill(&mut page, None, take, call).await?;
        Ok(page)
    }

    /// The first answer's rows plus later partitions as far as `take` needs.
    async fn collect(
        &self,
        first: Body,
        offset: u64,
        take: u64,
        call: &Call,
    ) -> Result<Page, SfError> {
        let handle = checked_handle(first.handle.clone())?;
        let meta = first.meta.clone().unwrap_or_default();
        let mut partitions: Vec<u64> = meta.partition_info.iter().map(|p| p.row_count).collect();
        if partitions.is_empty() {
            partitions.push(first.rows.len() as u64);
        }
        let total = meta.num_rows.unwrap_or_else(|| partitions.iter().sum());
        let mut page = Page {
            handle,
            columns: meta.row_type,
            total,
            partitions,
            offset,
            rows: Vec::new(),
            partitions_fetched: 1,
        };
        self.fill(&mut page, Some(first), take, call).await?;
        Ok(page)
    }

    /// Fill `page.rows` from `page.offset` for up to `take` rows, fetching only the partitions
    /// the window touches. `first` is partition 0 when already in hand.
    async fn fill(
        &self,
        page: &mut Page,
        first: Option<Body>,
        take: u64,
        call: &Call,
    ) -> Result<(), SfError> {
        let mut start = 0u64;
        let mut first = first;
        let want_end = page
            .offset
            .saturating_add(take)
            .min(page.total.max(page.offset));
        for (p, count) in page.partitions.clone().into_iter().enumerate() {
            let end = start + count;
            let have = page.offset + page.rows.len() as u64;
            if have >= want_end {
                break;
            }
            if end > have && start < want_end {
                let skip = have - start;
                let n = (want_end - have).min(end - have);
                let body = match (p, first.take()) {
                    (0, Some(b)) => b,
                    _ => {
                        let url = format!("{}/api/v2/statements/{}", self.base, page.handle);
                        let window = Window { skip, take: n };
                        let (s, _, bytes) = self
                            .send(
                                |token, kind, _| {
                                    self.authed(
                                        self.http.get(format!("{url}?partition={p}")),
                                        token,
                                        kind,
                                    )
                                },
                                call,
                            )
                            .await?;
                        page.partitions_fetched += 1;
                        call.progress(format!(
                            "read partition {} of {}",
                            p + 1,
                            page.partitions.len()
                        ))
                        .await;
                        let body = parse(&bytes, window, s)?;
                        if s != StatusCode::OK {
                            return Err(self.error(
                                s.as_u16(),
                                &reqwest::header::HeaderMap::new(),
                                body,
                                0,
                            ));
                        }
                        if page.columns.is_empty()
                            && let Some(m) = &body.meta
                        {
                            page.columns = m.row_type.clone();
                        }
                        body
                    }
                };
                // Partition 0 from the first answer was windowed from row 0 of the result.
                let rows = if p == 0 && skip > 0 && body.rows.len() as u64 > n {
                    body.rows
                        .into_iter()
                        .skip(skip as usize)
                        .take(n as usize)
                        .collect()
                } else {
                    body.rows.into_iter().take(n as usize).collect::<Vec<_>>()
                };
                if rows.is_empty() && n > 0 {
                    return Err(SfError::Malformed(format!("partition {p} carried no rows")));
                }
                for row in rows {
                    let converted = page
                        .columns
                        .iter()
                        .enumerate()
                        .map(|(i, c)| cell(c, row.get(i).and_then(|v| v.as_deref())))
                        .collect();
                    page.rows.push(converted);
                }
            }
            start = end;
        }
        Ok(())
    }
}

/// Parse a body, keeping only the window's rows. Non-JSON bodies on error statuses become an
/// empty body with the HTTP status to report.
fn parse(bytes: &[u8], window: Window, status: StatusCode) -> Result<Body, SfError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match BodySeed(window).deserialize(&mut de) {
        Ok(b) => Ok(b),
        Err(_) if !status.is_success() => Ok(Body {
            message: Some(
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                    .trim()
                    .to_string(),
            ),
            ..Body::default()
        }),
        Err(e) => Err(SfError::Malformed(e.to_string())),
    }
}

/// What a cursor of a statement result carries: enough to fetch more rows by handle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultCursor {
    /// statement handle
    pub h: String,
    /// next row
    pub o: u64,
    /// partition row counts
    pub p: Vec<u64>,
    /// columns
    pub c: Vec<Column>,
}
