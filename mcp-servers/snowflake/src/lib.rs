//! sophia-snowflake: Snowflake administration as typed MCP tools on the documented SQL API v2 —
//! read-only queries with a row cap, catalog, warehouses, credits and storage, query history and
//! cancel, users/roles/grants — with key-pair JWT auth that renews itself, bind variables for
//! every value, and one quoting function for every name.

pub mod auth;
pub use mcp_core::call;
pub mod client;
pub mod convert;
pub mod sql;
mod tools;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mcp_core::{Budget, ToolError};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::router::tool::ToolRouter,
    model::{
        Implementation, ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams,
        ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
        ResourceContents, ResourceTemplate, ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
    tool_handler,
};
use secrecy::SecretString;

pub use auth::Credential;
pub use client::{ClientOptions, Context, SnowflakeClient};

/// Binary name.
pub const NAME: &str = "sophia-snowflake";
/// Default HTTP port.
pub const PORT: u16 = 9012;
/// The write tool, listed only with `SNOWFLAKE_ALLOW_WRITE=1`.
pub const WRITE_TOOL: &str = "query_write";

/// Typed configuration, built once in `main` (tests build it directly).
#[derive(Clone, Default)]
pub struct SnowflakeConfig {
    /// `SNOWFLAKE_ACCOUNT` (account identifier, e.g. `myorg-myaccount` or `xy12345.us-east-2`).
    pub account: Option<String>,
    /// `SNOWFLAKE_USER`.
    pub user: Option<String>,
    /// `SNOWFLAKE_PRIVATE_KEY_PATH`: unencrypted PKCS#8 PEM.
    pub private_key_path: Option<PathBuf>,
    /// `SNOWFLAKE_TOKEN`: OAuth or programmatic access token.
    pub token: Option<SecretString>,
    /// `SNOWFLAKE_TOKEN_TYPE`: `OAUTH` (default) or `PROGRAMMATIC_ACCESS_TOKEN`.
    pub token_type: Option<String>,
    /// `SNOWFLAKE_BASE_URL` (default `https://<account>.snowflakecomputing.com`).
    pub base_url: Option<String>,
    /// `SNOWFLAKE_WAREHOUSE`, `_DATABASE`, `_SCHEMA`, `_ROLE`.
    pub context: Context,
    /// `SNOWFLAKE_ALLOW_WRITE=1`: list `query_write`.
    pub allow_write: bool,
    /// `--read-only`: remove every tool that is not read-only.
    pub read_only: bool,
    pub budget: Budget,
    pub options: ClientOptions,
}

impl std::fmt::Debug for SnowflakeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnowflakeConfig")
            .field("account", &self.account)
            .field("user", &self.user)
            .field("private_key_path", &self.private_key_path)
            .field("token", &self.token.as_ref().map(|_| "[set]"))
            .field("base_url", &self.base_url)
            .field("context", &self.context)
            .field("allow_write", &self.allow_write)
            .field("read_only", &self.read_only)
            .finish()
    }
}

/// Why the credential is not usable (the tool error names the variable).
#[derive(Debug, Clone)]
pub(crate) enum NotReady {
    Missing(&'static str),
    Invalid(&'static str, String),
}

fn build_credential(config: &SnowflakeConfig) -> (Credential, Option<NotReady>) {
    let set = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    if let Some(token) = &config.token {
        let token_type = set(&config.token_type)
            .map(|t| t.to_uppercase())
            .unwrap_or_else(|| "OAUTH".into());
        return (
            Credential::Token {
                token: token.clone(),
                token_type,
            },
            None,
        );
    }
    let Some(path) = &config.private_key_path else {
        return (
            Credential::Missing(
                "set SNOWFLAKE_PRIVATE_KEY_PATH (key-pair) or SNOWFLAKE_TOKEN".into(),
            ),
            Some(NotReady::Missing(
                "SNOWFLAKE_PRIVATE_KEY_PATH or SNOWFLAKE_TOKEN",
            )),
        );
    };
    let (Some(account), Some(user)) = (set(&config.account), set(&config.user)) else {
        let var = if set(&config.account).is_none() {
            "SNOWFLAKE_ACCOUNT"
        } else {
            "SNOWFLAKE_USER"
        };
        return (
            Credential::Missing(format!("set {var}")),
            Some(NotReady::Missing(var)),
        );
    };
    let pem = match std::fs::read_to_string(path) {
        Ok(p) => p,
        Err(e) => {
            let why = format!("cannot read {}: {e}", path.display());
            return (
                Credential::Missing(why.clone()),
                Some(NotReady::Invalid("SNOWFLAKE_PRIVATE_KEY_PATH", why)),
            );
        }
    };
    match auth::KeyPairJwt::new(&account, &user, &pem) {
        Ok(k) => (Credential::KeyPair(Box::new(k)), None),
        Err(why) => (
            Credential::Missing(why.clone()),
            Some(NotReady::Invalid("SNOWFLAKE_PRIVATE_KEY_PATH", why)),
        ),
    }
}

/// A table seen by `table_list`, offered as a resource.
#[derive(Debug, Clone)]
pub(crate) struct KnownTable {
    pub database: String,
    pub schema: String,
    pub name: String,
    pub kind: Option<String>,
    pub comment: Option<String>,
}

pub(crate) struct Shared {
    pub client: SnowflakeClient,
    pub not_ready: Option<NotReady>,
    pub budget: Budget,
    pub account: Option<String>,
    /// `snowflake://db/schema/table` → table, filled lazily by `table_list`.
    pub tables: Mutex<BTreeMap<String, KnownTable>>,
}

/// The server. Cheap to clone: rmcp's per-session factory clones it; the state is shared.
#[derive(Clone)]
pub struct SnowflakeServer {
    pub(crate) shared: Arc<Shared>,
    tool_router: Arc<ToolRouter<Self>>,
}

impl SnowflakeServer {
    /// Build the client and the router (write tool only with allow_write; `--read-only`
    /// applied). Never calls Snowflake.
    pub fn new(config: SnowflakeConfig) -> Result<Self, String> {
        let (credential, not_ready) = build_credential(&config);
        let base = config
            .base_url
            .clone()
            .filter(|b| !b.trim().is_empty())
            .or_else(|| {
                config
                    .account
                    .as_deref()
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(|a| format!("https://{}.snowflakecomputing.com", a.to_lowercase()))
            })
            .unwrap_or_default();
        let not_ready = not_ready.or_else(|| {
            base.is_empty()
                .then_some(NotReady::Missing("SNOWFLAKE_ACCOUNT"))
        });
        let client = SnowflakeClient::new(
            &base,
            credential,
            config.context.clone(),
            config.options.clone(),
        )?;
        let mut router = Self::query_router();
        router.merge(Self::catalog_router());
        router.merge(Self::warehouse_router());
        router.merge(Self::admin_router());
        if !config.allow_write {
            router.remove_route(WRITE_TOOL);
        }
        if config.read_only {
            mcp_core::serve::retain_read_only(&mut router);
        }
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                not_ready,
                budget: config.budget,
                account: config.account.clone(),
                tables: Mutex::new(BTreeMap::new()),
            }),
            tool_router: Arc::new(router),
        })
    }

    pub(crate) fn client(&self) -> &SnowflakeClient {
        &self.shared.client
    }

    /// A tool error naming the variable to set when the credential is not usable.
    pub(crate) fn ready(&self) -> Result<(), ToolError> {
        match &self.shared.not_ready {
            None => Ok(()),
            Some(NotReady::Missing(variable)) => Err(ToolError::MissingCredential {
                service: "Snowflake",
                variable,
            }),
            Some(NotReady::Invalid(variable, detail)) => Err(ToolError::Unauthorized {
                service: "Snowflake",
                variable,
                detail: detail.clone(),
            }),
        }
    }

    pub(crate) fn remember_tables(&self, tables: impl IntoIterator<Item = KnownTable>) {
        if let Ok(mut map) = self.shared.tables.lock() {
            for t in tables {
                if map.len() >= 10_000 {
                    break;
                }
                map.insert(resource_uri(&t.database, &t.schema, &t.name), t);
            }
        }
    }
}

/// `%` and `/` escaped so any name round-trips through a URI path segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            ' ' => out.push_str("%20"),
            c => out.push(c),
        }
    }
    out
}

fn decode_segment(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `snowflake://<db>/<schema>/<table>`.
pub fn resource_uri(database: &str, schema: &str, table: &str) -> String {
    format!(
        "snowflake://{}/{}/{}",
        encode_segment(database),
        encode_segment(schema),
        encode_segment(table)
    )
}

/// The three names of a `snowflake://` URI.
pub fn parse_resource_uri(uri: &str) -> Option<(String, String, String)> {
    let rest = uri.strip_prefix("snowflake://")?;
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    Some((
        decode_segment(parts[0])?,
        decode_segment(parts[1])?,
        decode_segment(parts[2])?,
    ))
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SnowflakeServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new(NAME, env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Snowflake administration: read-only SQL (execute_query) with a row cap; catalog \
             (database_list, schema_list, table_list, table_describe, table_sample); warehouses \
             (list, suspend, resume, update); credits, top queries and storage; query history, \
             status and cancel; users, roles and grants. Names are case-sensitive, exactly as \
             the list tools report them (unquoted Snowflake names are upper case). Lists page: \
             pass next_cursor back as cursor. Tables are also resources: snowflake://db/schema/table.",
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        // Never calls Snowflake: the tables seen so far (table_list fills this lazily).
        let resources = self
            .shared
            .tables
            .lock()
            .map(|map| {
                map.iter()
                    .take(1000)
                    .map(|(uri, t)| {
                        let mut r = Resource::new(
                            uri.clone(),
                            format!("{}.{}.{}", t.database, t.schema, t.name),
                        );
                        r.description =
                            Some(t.comment.clone().filter(|c| !c.is_empty()).unwrap_or_else(
                                || {
                                    format!(
                                        "{} {}.{}.{}: columns and descriptions",
                                        t.kind.clone().unwrap_or_else(|| "TABLE".into()),
                                        t.database,
                                        t.schema,
                                        t.name
                                    )
                                },
                            ));
                        r.mime_type = Some("application/json".into());
                        r
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let mut t =
            ResourceTemplate::new("snowflake://{database}/{schema}/{table}", "Snowflake table");
        t.description =
            Some("A table's or view's columns (type, nullability, comment) and description".into());
        t.mime_type = Some("application/json".into());
        Ok(ListResourceTemplatesResult::with_all_items(vec![t]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let Some((db, schema, table)) = parse_resource_uri(&request.uri) else {
            return Err(ErrorData::resource_not_found(
                format!(
                    "not a snowflake://<database>/<schema>/<table> URI: {}",
                    request.uri
                ),
                None,
            ));
        };
        let call = call::Call::new(&context);
        let described = self
            .describe(&db, &schema, &table, &call)
            .await
            .map_err(|e| ErrorData::resource_not_found(e.to_string(), None))?;
        let text = serde_json::to_string_pretty(&described)
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, request.uri.clone()).with_mime_type("application/json"),
        ])
        .into())
    }
}

impl mcp_core::SophiaServer for SnowflakeServer {
    fn tools(&self) -> Vec<Tool> {
        self.tool_router.list_all()
    }

    async fn health(&self) -> serde_json::Value {
        let c = self.client();
        let d = c.defaults();
        serde_json::json!({
            "api": c.base_url(),
            "account": self.shared.account,
            "auth": c.credential().describe(),
            "ready": self.shared.not_ready.is_none(),
            "warehouse": d.warehouse,
            "database": d.database,
            "schema": d.schema,
            "role": d.role,
            "write_tool": self.tool_router.has_route(WRITE_TOOL),
            "known_tables": self.shared.tables.lock().map(|m| m.len()).unwrap_or(0),
        })
    }

    async fn check(&self) -> Result<String, String> {
        self.ready().map_err(|e| e.to_string())?;
        let call = call::Call::detached();
        let stmt = client::Statement::new(
            "SELECT CURRENT_ACCOUNT(), CURRENT_USER(), CURRENT_ROLE(), CURRENT_WAREHOUSE()",
        );
        let page = self
            .client()
            .execute(&stmt, 1, &call)
            .await
            .map_err(|e| format!("{e}"))?;
        let row = page.rows.first().cloned().unwrap_or_default();
        let field = |i: usize| {
            row.get(i)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "(none)".into())
        };
        Ok(format!(
            "account {}, user {}, role {}, warehouse {} ({})",
            field(0),
            field(1),
            field(2),
            field(3),
            self.client().credential().describe()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_uris_round_trip_any_name() {
        for (d, s, t) in [
            ("DB", "PUBLIC", "ORDERS"),
            ("my db", "a/b", "100%"),
            ("Ü", "\"q\"", "x.y"),
        ] {
            let uri = resource_uri(d, s, t);
            assert_eq!(
                parse_resource_uri(&uri),
                Some((d.into(), s.into(), t.into())),
                "{uri}"
            );
        }
        assert_eq!(parse_resource_uri("snowflake://a/b"), None);
        assert_eq!(parse_resource_uri("memory://a/b/c"), None);
    }
}
