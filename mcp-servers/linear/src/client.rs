//! The Linear GraphQL client: one `POST` per operation with `{query, variables, operationName}`.
//!
//! Wire facts, from Linear's public documentation:
//! - Endpoint and auth (<https://linear.app/developers/graphql>, "Authentication"): a personal API
//!   key goes in the header as `Authorization: <API_KEY>` (no `Bearer`); an OAuth access token as
//!   `Authorization: Bearer <ACCESS_TOKEN>`.
//! - Errors (<https://linear.app/developers/graphql>, "Error handling"): the standard GraphQL
//!   `errors` array with `message`, `path` and `extensions` (which carry `code`); a query can
//!   partly succeed with HTTP 200. Authentication failures carry
//!   `extensions.code = "AUTHENTICATION_ERROR"` (seen with HTTP 400 or 401); an entity that does
//!   not exist comes back as `data: null` for its field, with an "Entity not found" error.
//! - Rate limits (<https://linear.app/developers/rate-limiting>): an exceeded limit answers HTTP
//!   400 with `extensions.code = "RATELIMITED"`; headers `X-RateLimit-Requests-Remaining` /
//!   `-Reset` (reset as UTC epoch milliseconds), likewise `X-RateLimit-Complexity-*` and
//!   `X-RateLimit-Endpoint-Requests-*`.
//!
//! We decide by `extensions.code`, never by the HTTP status alone. Queries are retried on HTTP
//! 429/5xx (mcp-core's policy, honouring `Retry-After`) and on `RATELIMITED` (bounded, waiting
//! for the reset the headers announce); mutations are never retried.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mcp_core::ToolError;
use mcp_core::upstream::{RetryPolicy, SendError, send_with_retry};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::gql::Doc;

/// The service name in tool errors.
pub const SERVICE: &str = "Linear";
/// The default endpoint.
pub const DEFAULT_URL: &str = "https://api.linear.app/graphql";

/// Which credential is configured. Debug never shows the secret.
#[derive(Clone)]
pub enum Credential {
    /// `LINEAR_API_KEY`: sent as the `Authorization` value as it is.
    ApiKey(SecretString),
    /// `LINEAR_OAUTH_TOKEN`: sent as `Bearer <token>`.
    OAuth(SecretString),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::ApiKey(_) => "ApiKey([redacted])",
            Credential::OAuth(_) => "OAuth([redacted])",
        })
    }
}

impl Credential {
    /// The environment variable this credential came from.
    pub fn variable(&self) -> &'static str {
        match self {
            Credential::ApiKey(_) => "LINEAR_API_KEY",
            Credential::OAuth(_) => "LINEAR_OAUTH_TOKEN",
        }
    }

    fn secret(&self) -> &str {
        match self {
            Credential::ApiKey(s) | Credential::OAuth(s) => s.expose_secret(),
        }
    }

    fn header(&self) -> Option<HeaderValue> {
        let text = match self {
            // Linear wants a personal key bare; "Bearer lin_api_…" is the most common mistake.
            Credential::ApiKey(s) => {
                let key = s.expose_secret().trim();
                match key.get(..7) {
                    Some(p) if p.eq_ignore_ascii_case("bearer ") => key[7..].trim().to_string(),
                    _ => key.to_string(),
                }
            }
            Credential::OAuth(s) => format!("Bearer {}", s.expose_secret().trim()),
        };
        let mut value = HeaderValue::from_str(&text).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

/// A configured client. Cheap to clone.
#[derive(Clone)]
pub struct LinearClient {
    http: reqwest::Client,
    url: String,
    credential: Option<Credential>,
    auth: Option<HeaderValue>,
    retry: RetryPolicy,
    /// How many times a query answered `RATELIMITED` is sent in all.
    ratelimit_attempts: u32,
}

impl std::fmt::Debug for LinearClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinearClient")
            .field("url", &self.url)
            .field("credential", &self.credential)
            .finish()
    }
}

/// Why a response was not usable, before it becomes a tool error.
#[derive(Debug)]
enum Failure {
    Auth(String),
    RateLimited(Option<Duration>),
    Forbidden(String),
    NotFound(String),
    Input(String),
    Graphql(String),
    Http(u16, bool),
    Malformed(String),
}

impl LinearClient {
    /// A client for `url` with `credential` (None: every call answers which variable to set).
    pub fn new(
        url: impl Into<String>,
        credential: Option<Credential>,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Self, String> {
        let http =
            mcp_core::upstream::build_client(crate::NAME, env!("CARGO_PKG_VERSION"), timeout)
                .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let auth = credential.as_ref().and_then(Credential::header);
        Ok(Self {
            http,
            url: url.into(),
            credential,
            auth,
            ratelimit_attempts: retry.max_attempts.max(1),
            retry,
        })
    }

    /// The endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The configured credential's variable, if any.
    pub fn credential_variable(&self) -> Option<&'static str> {
        self.credential.as_ref().map(Credential::variable)
    }

    fn auth_header(&self) -> Result<HeaderValue, ToolError> {
        let Some(credential) = &self.credential else {
            return Err(ToolError::MissingCredential {
                service: SERVICE,
                variable: "LINEAR_API_KEY (a personal API key) or LINEAR_OAUTH_TOKEN",
            });
        };
        self.auth.clone().ok_or_else(|| ToolError::Unauthorized {
            service: SERVICE,
            variable: credential.variable(),
            detail: "the value contains characters an HTTP header cannot carry".into(),
        })
    }

    /// Run `doc` with `variables`; returns the `data` object. Stops when `ct` is cancelled.
    pub async fn execute(
        &self,
        doc: &Doc,
        variables: Value,
        ct: &CancellationToken,
    ) -> Result<Value, ToolError> {
        let auth = self.auth_header()?;
        let body = json!({
            "query": doc.text,
            "variables": variables,
            "operationName": doc.name,
        });
        let body = serde_json::to_vec(&body)
            .map_err(|e| ToolError::Internal(format!("cannot encode the request: {e}")))?;
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let send = send_with_retry(
                || {
                    self.http
                        .post(&self.url)
                        .header(AUTHORIZATION, auth.clone())
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.clone())
                },
                !doc.mutation,
                &self.retry,
            );
            let response = tokio::select! {
                r = send => r,
                _ = ct.cancelled() => return Err(cancelled()),
            };
            let response = response.map_err(|e| self.send_error(e, doc))?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = tokio::select! {
                b = response.bytes() => b,
                _ = ct.cancelled() => return Err(cancelled()),
            };
            let bytes = bytes.map_err(|e| self.send_error(SendError::from(e), doc))?;
            match interpret(status, &headers, &bytes) {
                Ok(data) => return Ok(data),
                // HTTP 429 was already retried by `send_with_retry`; this loop is for Linear's
                // RATELIMITED in the body (HTTP 400), which that policy cannot see.
                Err(Failure::RateLimited(wait))
                    if !doc.mutation && status != 429 && attempt < self.ratelimit_attempts =>
                {
                    let wait =
                        wait.unwrap_or_else(|| self.retry.base_delay.saturating_mul(1 << attempt));
                    // A reset further away than one backoff (Linear's windows are an hour long)
                    // or than the time left is not waited for: the caller is told when to retry.
                    if wait > self.retry.max_delay
                        || started.elapsed() + wait > self.retry.max_total
                    {
                        return Err(self.tool_error(Failure::RateLimited(Some(wait))));
                    }
                    tracing::debug!(
                        operation = doc.name,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "Linear answered RATELIMITED; waiting"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = ct.cancelled() => return Err(cancelled()),
                    }
                }
                Err(failure) => {
                    tracing::debug!(operation = doc.name, status, ?failure, "Linear call failed");
                    return Err(self.tool_error(failure));
                }
            }
        }
    }

    fn send_error(&self, e: SendError, doc: &Doc) -> ToolError {
        let connect = matches!(e, SendError::Connect(_));
        let mut detail = match e {
            SendError::Timeout => format!("{} timed out", doc.name),
            SendError::Connect(m) => format!("cannot reach {}: {}", self.url, self.scrub(&m)),
            SendError::Other(m) => self.scrub(&m),
        };
        // A write whose answer was lost may have been applied: say so instead of "retry".
        if doc.mutation && !connect {
            detail.push_str(
                "; the change may or may not have been applied: read the issue before retrying",
            );
        }
        ToolError::Upstream {
            service: SERVICE,
            detail,
            retryable: !doc.mutation || connect,
        }
    }

    /// Remove the credential from any upstream text we repeat.
    fn scrub(&self, text: &str) -> String {
        match &self.credential {
            Some(c) if !c.secret().trim().is_empty() => {
                text.replace(c.secret().trim(), "[redacted]")
            }
            _ => text.to_string(),
        }
    }

    fn tool_error(&self, failure: Failure) -> ToolError {
        let variable = self.credential_variable().unwrap_or("LINEAR_API_KEY");
        match failure {
            Failure::Auth(m) => ToolError::Unauthorized {
                service: SERVICE,
                variable,
                detail: format!(
                    "{}; a personal API key is sent without \"Bearer\" (LINEAR_API_KEY), an OAuth token with it (LINEAR_OAUTH_TOKEN)",
                    self.scrub(&m)
                ),
            },
            Failure::RateLimited(wait) => ToolError::RateLimited {
                service: SERVICE,
                retry_after: wait.map(|w| w.max(Duration::from_secs(1))),
            },
            Failure::Forbidden(m) => {
                ToolError::Forbidden(format!("Linear refused the operation: {}", self.scrub(&m)))
            }
            Failure::NotFound(m) => ToolError::NotFound(self.scrub(&m)),
            Failure::Input(m) => {
                ToolError::InvalidInput(format!("Linear rejected the input: {}", self.scrub(&m)))
            }
            Failure::Graphql(m) => ToolError::Upstream {
                service: SERVICE,
                detail: self.scrub(&m),
                retryable: false,
            },
            Failure::Http(status, retryable) => ToolError::Upstream {
                service: SERVICE,
                detail: format!("HTTP {status}"),
                retryable,
            },
            Failure::Malformed(m) => ToolError::Upstream {
                service: SERVICE,
                detail: format!("malformed response: {}", self.scrub(&m)),
                retryable: false,
            },
        }
    }
}

fn cancelled() -> ToolError {
    ToolError::Cancelled
}

/// Turn one HTTP answer into `data` or a failure, by GraphQL error code first.
fn interpret(status: u16, headers: &HeaderMap, bytes: &[u8]) -> Result<Value, Failure> {
    let parsed: Result<Value, _> = serde_json::from_slice(bytes);
    let Ok(Value::Object(mut body)) = parsed else {
        return Err(match status {
            429 => Failure::RateLimited(rate_limit_wait(headers)),
            500..=599 => Failure::Http(status, true),
            200..=299 => Failure::Malformed(format!(
                "HTTP {status} with a body that is not a JSON object"
            )),
            _ => Failure::Http(status, false),
        });
    };
    let errors = body
        .get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let data = body.remove("data").unwrap_or(Value::Null);
    if !errors.is_empty() {
        let code_of = |e: &Value| {
            e.pointer("/extensions/code")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let message_of = |e: &Value| {
            let m = e.get("message").and_then(Value::as_str).unwrap_or("error");
            match e
                .pointer("/extensions/userPresentableMessage")
                .and_then(Value::as_str)
            {
                Some(u) if u != m => format!("{m} ({u})"),
                _ => m.to_string(),
            }
        };
        if let Some(e) = errors.iter().find(|e| code_of(e) == "AUTHENTICATION_ERROR") {
            return Err(Failure::Auth(message_of(e)));
        }
        if errors.iter().any(|e| code_of(e) == "RATELIMITED") {
            return Err(Failure::RateLimited(rate_limit_wait(headers)));
        }
        if let Some(e) = errors.iter().find(|e| code_of(e) == "FORBIDDEN") {
            return Err(Failure::Forbidden(message_of(e)));
        }
        // Partial success: some fields resolved. The callers check the fields they need.
        let any_data = data
            .as_object()
            .is_some_and(|d| d.values().any(|v| !v.is_null()));
        if any_data {
            tracing::debug!(errors = errors.len(), "Linear answered data with errors");
            return Ok(data);
        }
        let first = &errors[0];
        let message = message_of(first);
        if errors.iter().any(|e| {
            e.get("message")
                .and_then(Value::as_str)
                .is_some_and(|m| m.to_ascii_lowercase().contains("not found"))
        }) {
            return Err(Failure::NotFound(message));
        }
        return Err(match code_of(first).as_str() {
            "INPUT_ERROR" | "INVALID_INPUT" | "BAD_USER_INPUT" => Failure::Input(message),
            "" => Failure::Graphql(message),
            code => Failure::Graphql(format!("{code}: {message}")),
        });
    }
    match status {
        429 => return Err(Failure::RateLimited(rate_limit_wait(headers))),
        500..=599 => return Err(Failure::Http(status, true)),
        200..=299 => {}
        _ => return Err(Failure::Http(status, false)),
    }
    match data {
        Value::Object(_) => Ok(data),
        Value::Null => Err(Failure::NotFound("Linear returned no data".into())),
        _ => Err(Failure::Malformed("`data` is not an object".into())),
    }
}

/// How long to wait before a rate-limited query may succeed: `Retry-After`, else the reset of
/// an exhausted limit (epoch milliseconds), else unknown.
fn rate_limit_wait(headers: &HeaderMap) -> Option<Duration> {
    if let Some(d) = mcp_core::upstream::retry_after(headers) {
        return Some(d);
    }
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as f64)
        .unwrap_or(0.0);
    let mut waits = Vec::new();
    for kind in ["Requests", "Complexity", "Endpoint-Requests"] {
        let remaining = number(&format!("X-RateLimit-{kind}-Remaining"));
        let reset = number(&format!("X-RateLimit-{kind}-Reset"));
        if let (Some(r), Some(reset)) = (remaining, reset)
            && r <= 0.0
            && reset > now_ms
        {
            waits.push(Duration::from_millis((reset - now_ms) as u64));
        }
    }
    waits.into_iter().max()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn auth_error_wins_over_status() {
        let body = br#"{"errors":[{"message":"Authentication required, not authenticated","extensions":{"type":"authentication error","code":"AUTHENTICATION_ERROR","statusCode":401,"userPresentableMessage":"You need to authenticate to access this operation."}}]}"#;
        assert!(matches!(
            interpret(400, &HeaderMap::new(), body),
            Err(Failure::Auth(_))
        ));
    }

    #[test]
    fn ratelimited_on_400_uses_the_reset_header() {
        let mut h = HeaderMap::new();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        h.insert(
            "X-RateLimit-Requests-Remaining",
            HeaderValue::from_static("0"),
        );
        h.insert(
            "X-RateLimit-Requests-Reset",
            HeaderValue::from_str(&(now + 5_000).to_string()).unwrap(),
        );
        let body =
            br#"{"errors":[{"message":"rate limited","extensions":{"code":"RATELIMITED"}}]}"#;
        let Err(Failure::RateLimited(Some(wait))) = interpret(400, &h, body) else {
            panic!("expected RATELIMITED")
        };
        assert!(wait > Duration::from_secs(3) && wait <= Duration::from_secs(5));
    }

    #[test]
    fn not_found_and_malformed() {
        let body = br#"{"data":null,"errors":[{"message":"Entity not found: Issue","extensions":{"code":"INPUT_ERROR"}}]}"#;
        assert!(matches!(
            interpret(200, &HeaderMap::new(), body),
            Err(Failure::NotFound(_))
        ));
        assert!(matches!(
            interpret(200, &HeaderMap::new(), b"<html>"),
            Err(Failure::Malformed(_))
        ));
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = Credential::ApiKey(SecretString::from("lin_api_topsecret"));
        assert!(!format!("{c:?}").contains("topsecret"));
    }
}
