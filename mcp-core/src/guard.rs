//! HTTP guards applied to every route: the bearer token (`SOPHIA_HTTP_TOKEN`) and the Host/Origin
//! checks against DNS rebinding.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// A named client established by [`ClientAuth`]; the guard puts it into the request's
/// extensions, where handlers find it with [`client_of`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(pub Arc<str>);

/// Per-client bearer tokens and the whole-client rate limit, for servers that serve several
/// clients (the gateway). The single `SOPHIA_HTTP_TOKEN` keeps working beside it.
pub trait ClientAuth: Send + Sync + 'static {
    /// The client whose token this is, or `None`. Must not leak timing about partial matches.
    fn authenticate(&self, bearer: &str) -> Option<ClientId>;
    /// Admit one more request from `client`, or say how long until one would be admitted
    /// (the transport answers 429 with `Retry-After`).
    fn admit(&self, client: &ClientId) -> Result<(), Duration>;
}

/// The client behind a request, when it came over HTTP with a client token.
pub fn client_of(extensions: &rmcp::model::Extensions) -> Option<ClientId> {
    extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<ClientId>())
        .cloned()
}

/// What the `Authorization` header established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No token is configured: the listener is loopback-only and open.
    Open,
    /// The single shared `SOPHIA_HTTP_TOKEN`.
    SharedToken,
    /// A token from the clients file.
    Client(ClientId),
    /// Missing or wrong.
    Denied,
}

/// The rules every HTTP request is checked against.
#[derive(Clone)]
pub struct HttpGuard {
    token: Option<Arc<SecretString>>,
    clients: Option<Arc<dyn ClientAuth>>,
    allowed_hosts: Arc<Vec<String>>,
}

impl std::fmt::Debug for HttpGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGuard")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("clients", &self.clients.as_ref().map(|_| "[clients file]"))
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
        Self::with_clients(bind, token, None, extra_hosts)
    }

    /// [`HttpGuard::new`] with per-client tokens besides (or instead of) the shared one.
    pub fn with_clients(
        bind: SocketAddr,
        token: Option<SecretString>,
        clients: Option<Arc<dyn ClientAuth>>,
        extra_hosts: &[String],
    ) -> Result<Self, BindRefused> {
        let token = token.filter(|t| !t.expose_secret().is_empty());
        if !bind.ip().is_loopback() && token.is_none() && clients.is_none() {
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
            clients,
            allowed_hosts: Arc::new(hosts),
        })
    }

    /// The allowed Host names (for rmcp's own check on `/mcp`).
    pub fn allowed_hosts(&self) -> Vec<String> {
        self.allowed_hosts.as_ref().clone()
    }

    /// Whether a bearer token is required.
    pub fn token_required(&self) -> bool {
        self.token.is_some() || self.clients.is_some()
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
        self.authenticate(headers) != Auth::Denied
    }

    /// Who the `Authorization: Bearer <token>` header names: the shared token (constant-time
    /// comparison), a client of the clients file, or nobody.
    pub fn authenticate(&self, headers: &HeaderMap) -> Auth {
        if self.token.is_none() && self.clients.is_none() {
            return Auth::Open;
        }
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Auth::Denied;
        };
        let Some(given) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        else {
            return Auth::Denied;
        };
        let given = given.trim();
        if let Some(expected) = &self.token
            && bool::from(given.as_bytes().ct_eq(expected.expose_secret().as_bytes()))
        {
            return Auth::SharedToken;
        }
        match self.clients.as_ref().and_then(|c| c.authenticate(given)) {
            Some(client) => Auth::Client(client),
            None => Auth::Denied,
        }
    }

    /// The whole-client rate limit (`Ok` when there is none).
    fn admit(&self, client: &ClientId) -> Result<(), Duration> {
        match &self.clients {
            Some(c) => c.admit(client),
            None => Ok(()),
        }
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
    if request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    let mut request = request;
    match guard.authenticate(request.headers()) {
        Auth::Denied => {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "Unauthorized: send 'Authorization: Bearer <token>' (SOPHIA_HTTP_TOKEN or your client token)",
            )
                .into_response();
        }
        Auth::Client(client) => {
            // Messages are POSTs; the long-lived GET streams are not counted.
            if request.method() == axum::http::Method::POST
                && let Err(wait) = guard.admit(&client)
            {
                let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
                tracing::info!(client = %client.0, retry_after_s = secs, "refused request: client over its rate limit");
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, secs.to_string())],
                    format!(
                        "Too Many Requests: client {} is over its rate limit; retry in {secs} s",
                        client.0
                    ),
                )
                    .into_response();
            }
            request.extensions_mut().insert(client);
        }
        Auth::Open | Auth::SharedToken => {}
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

    struct OneClient;

    impl ClientAuth for OneClient {
        fn authenticate(&self, bearer: &str) -> Option<ClientId> {
            (bearer == "c-token").then(|| ClientId("c".into()))
        }
        fn admit(&self, _: &ClientId) -> Result<(), Duration> {
            Err(Duration::from_millis(1500))
        }
    }

    #[test]
    fn client_tokens_beside_the_shared_one() {
        let g = HttpGuard::with_clients(
            "0.0.0.0:9000".parse().unwrap(),
            Some("shared".into()),
            Some(Arc::new(OneClient)),
            &[],
        )
        .unwrap();
        assert_eq!(
            g.authenticate(&headers(&[("authorization", "Bearer shared")])),
            Auth::SharedToken
        );
        assert_eq!(
            g.authenticate(&headers(&[("authorization", "Bearer c-token")])),
            Auth::Client(ClientId("c".into()))
        );
        assert_eq!(
            g.authenticate(&headers(&[("authorization", "Bearer other")])),
            Auth::Denied
        );
        assert_eq!(g.authenticate(&headers(&[])), Auth::Denied);
        assert!(g.admit(&ClientId("c".into())).is_err());
        // A clients file alone is enough to listen beyond loopback; it also closes loopback.
        let only = HttpGuard::with_clients(
            "0.0.0.0:9000".parse().unwrap(),
            None,
            Some(Arc::new(OneClient)),
            &[],
        )
        .unwrap();
        assert!(only.token_required());
        assert_eq!(only.authenticate(&headers(&[])), Auth::Denied);
    }
}
