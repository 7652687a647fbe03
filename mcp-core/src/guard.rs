//! HTTP guards applied to every route: the bearer token (`SOPHIA_HTTP_TOKEN`) and the Host/Origin
//! checks against DNS rebinding.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// The rules every HTTP request is checked against.
#[derive(Clone)]
pub struct HttpGuard {
    token: Option<Arc<SecretString>>,
    allowed_hosts: Arc<Vec<String>>,
}

impl std::fmt::Debug for HttpGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGuard")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish()
    }
}

/// Why the server refuses to start with this configuration.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BindRefused(pub String);

impl HttpGuard {
    /// Build the guard for a listener on `bind`. Loopback names are always allowed; `extra_hosts`
    /// come from `--allowed-host`; a specific non-loopback bind IP is allowed as a Host too.
    /// Binding a non-loopback address without a token is refused.
    pub fn new(
        bind: SocketAddr,
        token: Option<SecretString>,
        extra_hosts: &[String],
    ) -> Result<Self, BindRefused> {
        let token = token.filter(|t| !t.expose_secret().is_empty());
        if !bind.ip().is_loopback() && token.is_none() {
            return Err(BindRefused(format!(
                "refusing to listen on {bind} without a token: anyone who can reach that address could use this server. \
                 Set SOPHIA_HTTP_TOKEN (clients then send 'Authorization: Bearer <token>') or bind 127.0.0.1"
            )));
        }
        let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        if !bind.ip().is_unspecified() && !bind.ip().is_loopback() {
            hosts.push(bind.ip().to_string());
        }
        for h in extra_hosts {
            let h = h.trim().to_ascii_lowercase();
            if !h.is_empty() && !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        Ok(Self {
            token: token.map(Arc::new),
            allowed_hosts: Arc::new(hosts),
        })
    }

    /// The allowed Host names (for rmcp's own check on `/mcp`).
    pub fn allowed_hosts(&self) -> Vec<String> {
        self.allowed_hosts.as_ref().clone()
    }

    /// Whether a bearer token is required.
    pub fn token_required(&self) -> bool {
        self.token.is_some()
    }

    /// `Host` must name an allowed host (any port); absent Host (HTTP/1.0) is refused.
    pub fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        self.authority_allowed(host)
    }

    /// `Origin`, when present, must be http(s) on an allowed host.
    pub fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let rest = if let Some(r) = origin.strip_prefix("http://") {
            r
        } else if let Some(r) = origin.strip_prefix("https://") {
            r
        } else {
            return false;
        };
        self.authority_allowed(rest.trim_end_matches('/'))
    }

    fn authority_allowed(&self, authority: &str) -> bool {
        let authority = authority.trim().to_ascii_lowercase();
        if self.allowed_hosts.contains(&authority) {
            return true;
        }
        let host = host_of(&authority);
        self.allowed_hosts.iter().any(|h| h == host)
    }

    /// Constant-time check of `Authorization: Bearer <token>`.
    pub fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some(given) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        else {
            return false;
        };
        let expected = expected.expose_secret().as_bytes();
        bool::from(given.trim().as_bytes().ct_eq(expected))
    }
}

/// The host part of an authority (`name`, `name:port`, `[v6]:port`, `v6`).
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    if authority.parse::<IpAddr>().is_ok() {
        return authority;
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

/// Middleware: Host/Origin on every route, the token on every route but `/healthz`.
pub async fn guard_middleware(
    State(guard): State<HttpGuard>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let headers = request.headers();
    if !guard.host_allowed(headers) {
        tracing::warn!(host = ?headers.get(header::HOST), "refused request: Host not allowed");
        return (
            StatusCode::FORBIDDEN,
            "Forbidden: Host header is not allowed (use --allowed-host to add one)",
        )
            .into_response();
    }
    if !guard.origin_allowed(headers) {
        tracing::warn!(origin = ?headers.get(header::ORIGIN), "refused request: Origin not allowed");
        return (StatusCode::FORBIDDEN, "Forbidden: Origin is not allowed").into_response();
    }
    if request.uri().path() != "/healthz" && !guard.authorized(headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "Unauthorized: send 'Authorization: Bearer <SOPHIA_HTTP_TOKEN>'",
        )
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(*k, v);
            }
        }
        h
    }

    fn local() -> HttpGuard {
        HttpGuard::new(
            "127.0.0.1:9000".parse().unwrap(),
            Some(SecretString::from("s3cret")),
            &["mcp.example.com".into()],
        )
        .unwrap()
    }

    #[test]
    fn refuses_public_bind_without_token() {
        let e = HttpGuard::new("0.0.0.0:9000".parse().unwrap(), None, &[]).unwrap_err();
        assert!(e.0.contains("SOPHIA_HTTP_TOKEN"));
        assert!(HttpGuard::new("0.0.0.0:9000".parse().unwrap(), Some("t".into()), &[]).is_ok());
        assert!(HttpGuard::new("127.0.0.1:9000".parse().unwrap(), None, &[]).is_ok());
    }

    #[test]
    fn host_rules() {
        let g = local();
        assert!(g.host_allowed(&headers(&[("host", "127.0.0.1:9000")])));
        assert!(g.host_allowed(&headers(&[("host", "localhost")])));
        assert!(g.host_allowed(&headers(&[("host", "[::1]:9000")])));
        assert!(g.host_allowed(&headers(&[("host", "MCP.example.com:443")])));
        assert!(!g.host_allowed(&headers(&[("host", "evil.example:9000")])));
        assert!(!g.host_allowed(&headers(&[("host", "localhost.evil.example")])));
        assert!(!g.host_allowed(&headers(&[])));
    }

    #[test]
    fn origin_rules() {
        let g = local();
        assert!(g.origin_allowed(&headers(&[])));
        assert!(g.origin_allowed(&headers(&[("origin", "http://localhost:6274")])));
        assert!(!g.origin_allowed(&headers(&[("origin", "http://evil.example")])));
        assert!(!g.origin_allowed(&headers(&[("origin", "null")])));
    }

    #[test]
    fn bearer_rules() {
        let g = local();
        assert!(g.authorized(&headers(&[("authorization", "Bearer s3cret")])));
        assert!(!g.authorized(&headers(&[("authorization", "Bearer s3cre")])));
        assert!(!g.authorized(&headers(&[("authorization", "s3cret")])));
        assert!(!g.authorized(&headers(&[])));
        let open = HttpGuard::new("127.0.0.1:1".parse().unwrap(), None, &[]).unwrap();
        assert!(open.authorized(&headers(&[])));
        assert!(!format!("{g:?}").contains("s3cret"));
    }
}
