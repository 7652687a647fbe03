//! The HubSpot CRM REST client: JSON over HTTPS with `Authorization: Bearer <token>`.
//!
//! Wire facts, from HubSpot's public documentation:
//! - Auth (<https://developers.hubspot.com/docs/api/private-apps>): a private-app or OAuth access
//!   token in `Authorization: Bearer <token>`.
//! - Objects (<https://developers.hubspot.com/docs/api/crm/understanding-the-crm>):
//!   `GET /crm/v3/objects/{objectType}/{id}?properties=a,b` (optionally `idProperty=email`),
//!   `POST /crm/v3/objects/{objectType}` (201), `PATCH /crm/v3/objects/{objectType}/{id}` (200).
//!   Every property value is a string (numbers and dates included), `null` when unset; only the
//!   default properties come back unless `properties` names others.
//! - Search (<https://developers.hubspot.com/docs/api/crm/search>): `POST
//!   /crm/v3/objects/{objectType}/search` with `{query, filterGroups:[{filters:[{propertyName,
//!   operator, value|highValue|values}]}], sorts:[{propertyName, direction}], properties, limit,
//!   after}`; answers `{total, results, paging:{next:{after, link}}}`. At most 200 results per
//!   page and 10,000 per query (paging past that is refused).
//! - Batch read (`POST /crm/v3/objects/{objectType}/batch/read` with `{inputs:[{id}],
//!   properties}`): 200 when all were found, 207 Multi-Status with `errors[]` (category
//!   `OBJECT_NOT_FOUND`, `context.ids`) next to the `results` that were.
//! - Associations v4 (<https://developers.hubspot.com/docs/api/crm/associations>): `GET
//!   /crm/v4/objects/{from}/{id}/associations/{to}` answers `{results:[{toObjectId,
//!   associationTypes:[{category, typeId, label}]}], paging}`.
//! - Notes (<https://developers.hubspot.com/docs/api/crm/notes>): `POST /crm/v3/objects/notes` with
//!   `hs_timestamp`, `hs_note_body` and `associations:[{to:{id}, types:[{associationCategory:
//!   "HUBSPOT_DEFINED", associationTypeId}]}]` (note→contact 202, →company 190, →deal 214,
//!   →ticket 228).
//! - Pipelines (<https://developers.hubspot.com/docs/api/crm/pipelines>): `GET
//!   /crm/v3/pipelines/{objectType}`; a deal stage's `metadata.probability` is "0.0".."1.0".
//! - Owners (<https://developers.hubspot.com/docs/api/crm/owners>): `GET /crm/v3/owners?limit&after`.
//! - Properties (<https://developers.hubspot.com/docs/api/crm/properties>): `GET
//!   /crm/v3/properties/{objectType}`; `hubspotDefined` is absent/false on custom properties.
//! - Account (<https://developers.hubspot.com/docs/api-reference/latest/account/account-information/get-account-details>):
//!   `GET /account-info/v3/details` → `{portalId, accountType, timeZone, companyCurrency, uiDomain, …}`.
//! - Errors (<https://developers.hubspot.com/docs/faq/api-error-responses>): a JSON body
//!   `{status:"error", message, correlationId, category}`; 401 bad token, 403 missing scopes, 404
//!   missing object, 429 rate limited (often without `Retry-After`), 502/504 transient.
//!
//! Reads (GET, search and batch read, which are POSTs that only read) are retried on 429/5xx by
//! mcp-core's policy; writes are never retried. Search requests are spaced to HubSpot's
//! documented search limit (5 requests per second per account,
//! <https://developers.hubspot.com/docs/api/crm/search>, "Limitations") so a long pipeline
//! summary does not run into 429s.

use std::time::Duration;

use mcp_core::ToolError;
use mcp_core::upstream::{Pacer, RetryPolicy, SendError, send_with_retry};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The service name in tool errors.
pub const SERVICE: &str = "HubSpot";
/// The default API base.
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";
/// The credential variable.
pub const TOKEN_VAR: &str = "HUBSPOT_ACCESS_TOKEN";

/// A configured client. Cheap to clone; `Debug` never shows the token.
#[derive(Clone)]
pub struct HubSpotClient {
    http: reqwest::Client,
    base: String,
    token: Option<SecretString>,
    auth: Option<HeaderValue>,
    retry: RetryPolicy,
    /// Spacing of search requests (HubSpot allows 5 search requests per second per account).
    search_pacer: std::sync::Arc<Pacer>,
}

impl std::fmt::Debug for HubSpotClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpotClient")
            .field("base", &self.base)
            .field(
                "token",
                &self.token.as_ref().map(|_| "[redacted]").unwrap_or("none"),
            )
            .finish()
    }
}

/// One successful answer: its status (200, 201, 207 …) and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl HubSpotClient {
    /// A client for `base` with `token` (None: every call answers which variable to set).
    pub fn new(
        base: impl Into<String>,
        token: Option<SecretString>,
        timeout: Duration,
        retry: RetryPolicy,
        search_per_second: u32,
    ) -> Result<Self, String> {
        let http =
            mcp_core::upstream::build_client(crate::NAME, env!("CARGO_PKG_VERSION"), timeout)
                .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let auth = token.as_ref().and_then(|t| {
            let mut v =
                HeaderValue::from_str(&format!("Bearer {}", t.expose_secret().trim())).ok()?;
            v.set_sensitive(true);
            Some(v)
        });
        let base: String = base.into();
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
            auth,
            retry,
            search_pacer: std::sync::Arc::new(Pacer::per_second(f64::from(search_per_second))),
        })
    }

    /// Wait for the next search slot (or the cancellation).
    async fn pace_search(&self, ct: &CancellationToken) -> Result<(), ToolError> {
        self.search_pacer.acquire(ct).await.map_err(|_| cancelled())
    }

    /// The API base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether a token is configured.
    pub fn configured(&self) -> bool {
        self.token.is_some()
    }

    fn auth_header(&self) -> Result<HeaderValue, ToolError> {
        if self.token.is_none() {
            return Err(ToolError::MissingCredential {
                service: SERVICE,
                variable: TOKEN_VAR,
            });
        }
        self.auth.clone().ok_or_else(|| ToolError::Unauthorized {
            service: SERVICE,
            variable: TOKEN_VAR,
            detail: "the value contains characters an HTTP header cannot carry".into(),
        })
    }

    /// GET `path` with `query`; retried on 429/5xx.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        ct: &CancellationToken,
    ) -> Result<Answer, ToolError> {
        self.send(Method::GET, path, query, None, true, ct).await
    }

    /// POST `body` to an endpoint that only reads (search, batch read); retried on 429/5xx.
    pub async fn post_read(
        &self,
        path: &str,
        body: &Value,
        ct: &CancellationToken,
    ) -> Result<Answer, ToolError> {
        if path.ends_with("/search") {
            self.pace_search(ct).await?;
        }
        self.send(Method::POST, path, &[], Some(body), true, ct)
            .await
    }

    /// A write (POST/PATCH/PUT): never retried.
    pub async fn write(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        ct: &CancellationToken,
    ) -> Result<Answer, ToolError> {
        self.send(method, path, &[], body, false, ct).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotent: bool,
        ct: &CancellationToken,
    ) -> Result<Answer, ToolError> {
        let auth = self.auth_header()?;
        let mut url = format!("{}{}", self.base, path);
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{}={}", seg(k), seg(v)))
                .collect();
            url.push('?');
            url.push_str(&q.join("&"));
        }
        let body = match body {
            Some(b) => Some(
                serde_json::to_vec(b)
                    .map_err(|e| ToolError::Internal(format!("cannot encode the request: {e}")))?,
            ),
            None => None,
        };
        let send = send_with_retry(
            || {
                let mut r = self
                    .http
                    .request(method.clone(), &url)
                    .header(AUTHORIZATION, auth.clone())
                    .header("accept", "application/json");
                if let Some(b) = &body {
                    r = r.header("content-type", "application/json").body(b.clone());
                }
                r
            },
            idempotent,
            &self.retry,
        );
        let response = tokio::select! {
            r = send => r,
            _ = ct.cancelled() => return Err(cancelled()),
        };
        let response = response.map_err(|e| self.send_error(e, idempotent))?;
        let status = response.status().as_u16();
        let retry_after = mcp_core::upstream::retry_after(response.headers());
        let bytes = tokio::select! {
            b = response.bytes() => b,
            _ = ct.cancelled() => return Err(cancelled()),
        };
        let bytes = bytes.map_err(|e| self.send_error(SendError::from(e), idempotent))?;
        tracing::debug!(%method, path, status, "HubSpot answered");
        let parsed: Option<Value> = if bytes.is_empty() {
            Some(Value::Null)
        } else {
            serde_json::from_slice(&bytes).ok()
        };
        if (200..300).contains(&status) {
            return match parsed {
                Some(body) => Ok(Answer { status, body }),
                None => Err(malformed(format!(
                    "HTTP {status} with a body that is not JSON"
                ))),
            };
        }
        Err(self.status_error(status, parsed.as_ref(), retry_after, idempotent))
    }

    fn status_error(
        &self,
        status: u16,
        body: Option<&Value>,
        retry_after: Option<Duration>,
        idempotent: bool,
    ) -> ToolError {
        let text = |k: &str| {
            body.and_then(|b| b.get(k))
                .and_then(Value::as_str)
                .map(|s| self.scrub(s))
        };
        let message = text("message").unwrap_or_else(|| format!("HTTP {status}"));
        let category = text("category").unwrap_or_default();
        let correlation = text("correlationId")
            .map(|c| format!(" (correlationId {c})"))
            .unwrap_or_default();
        // HubSpot's validation errors list the offending fields in `errors[].message`.
        let details: Vec<String> = body
            .and_then(|b| b.get("errors"))
            .and_then(Value::as_array)
            .map(|errs| {
                errs.iter()
                    .filter_map(|e| e.get("message").and_then(Value::as_str))
                    .map(|m| self.scrub(m))
                    .take(5)
                    .collect()
            })
            .unwrap_or_default();
        let full = if details.is_empty() {
            message.clone()
        } else {
            format!("{message}: {}", details.join("; "))
        };
        match status {
            401 => ToolError::Unauthorized {
                service: SERVICE,
                variable: TOKEN_VAR,
                detail: format!("HTTP 401: {message}"),
            },
            403 => ToolError::Forbidden(format!(
                "HubSpot refused the operation{}: {full}{correlation}; the private app may lack a scope (see the README's scope list)",
                if category.is_empty() {
                    String::new()
                } else {
                    format!(" ({category})")
                }
            )),
            404 => ToolError::NotFound(format!("HubSpot: {message}{correlation}")),
            429 => ToolError::RateLimited {
                service: SERVICE,
                retry_after: Some(retry_after.unwrap_or(Duration::from_secs(10))),
            },
            400 | 409 | 422 => ToolError::InvalidInput(format!(
                "HubSpot rejected the request: {full}{correlation}"
            )),
            500..=599 => ToolError::Upstream {
                service: SERVICE,
                detail: format!("HTTP {status}: {message}{correlation}"),
                retryable: idempotent || matches!(status, 502..=504),
            },
            _ => ToolError::Upstream {
                service: SERVICE,
                detail: format!("HTTP {status}: {full}{correlation}"),
                retryable: false,
            },
        }
    }

    fn send_error(&self, e: SendError, idempotent: bool) -> ToolError {
        let connect = matches!(e, SendError::Connect(_));
        let mut detail = match e {
            SendError::Timeout => "the request timed out".to_string(),
            SendError::Connect(m) => format!("cannot reach {}: {}", self.base, self.scrub(&m)),
            SendError::Other(m) => self.scrub(&m),
        };
        if !idempotent && !connect {
            detail.push_str(
                "; the change may or may not have been applied: read the object before retrying",
            );
        }
        ToolError::Upstream {
            service: SERVICE,
            detail,
            retryable: idempotent || connect,
        }
    }

    /// Remove the token from any upstream text we repeat.
    fn scrub(&self, text: &str) -> String {
        match &self.token {
            Some(t) if !t.expose_secret().trim().is_empty() => {
                text.replace(t.expose_secret().trim(), "[redacted]")
            }
            _ => text.to_string(),
        }
    }
}

/// The error a cancelled call ends with.
pub fn cancelled() -> ToolError {
    ToolError::Cancelled
}

/// An answer that does not have the documented shape.
pub fn malformed(detail: impl std::fmt::Display) -> ToolError {
    ToolError::Upstream {
        service: SERVICE,
        detail: format!("malformed response: {detail}"),
        retryable: false,
    }
}

/// Percent-encode one path segment (everything but RFC 3986 unreserved characters).
pub fn seg(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn debug_hides_the_token() {
        let c = HubSpotClient::new(
            "http://127.0.0.1:1",
            Some(SecretString::from("pat-na1-topsecret")),
            Duration::from_secs(1),
            RetryPolicy::default(),
            5,
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("topsecret"));
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(seg("a b/c@d.e"), "a%20b%2Fc%40d.e");
        assert_eq!(seg("2-123"), "2-123");
    }
}
