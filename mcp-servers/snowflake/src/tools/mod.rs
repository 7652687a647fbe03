//! The tools: SQL in `query.rs`, catalog in `catalog.rs`, warehouses in `warehouses.rs`, cost,
//! query history and access in `admin.rs`; shared plumbing here.

mod admin;
mod catalog;
mod query;
mod warehouses;

use mcp_core::budget::{decode_cursor, encode_cursor};
use mcp_core::{Budget, ToolError};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::SnowflakeServer;
use crate::call::Call;
use crate::client::{Page, ResultCursor, SfError, Statement};

/// A row keyed by lower-case column name.
pub(crate) type Row = Map<String, Value>;

/// A page of a list.
#[derive(Debug, Serialize, JsonSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    /// Pass back as `cursor` (same other arguments) for the next page; absent at the end
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// More items exist after this page
    pub truncated: bool,
}

pub(crate) fn limit(
    given: Option<u32>,
    default: u32,
    max: u32,
    name: &str,
) -> Result<u64, ToolError> {
    match given {
        None => Ok(u64::from(default)),
        Some(0) => Err(ToolError::InvalidInput(format!(
            "{name} must be at least 1"
        ))),
        Some(n) if n > max => Err(ToolError::InvalidInput(format!(
            "{name} is {n}; the most is {max}"
        ))),
        Some(n) => Ok(u64::from(n)),
    }
}

/// Map a client error to the tool tier.
pub(crate) fn to_tool(server: &SnowflakeServer, e: SfError) -> ToolError {
    match e {
        SfError::NotConfigured(m) => ToolError::Internal(m),
        SfError::Unauthorized {
            status,
            code,
            message,
        } => ToolError::Unauthorized {
            service: "Snowflake",
            variable: server.client().credential().variable(),
            detail: format!("HTTP {status}, code {code}: {message}"),
        },
        SfError::Statement {
            code,
            sql_state,
            message,
            ..
        } => {
            let hint = if code == "002003" {
                "; names are case-sensitive: pass them exactly as the list tools report them (unquoted Snowflake names are upper case), and check the role's privileges"
            } else {
                ""
            };
            ToolError::Upstream {
                service: "Snowflake",
                detail: format!("{message} (code {code}, SQL state {sql_state}){hint}"),
                retryable: false,
            }
        }
        SfError::Timeout { seconds, message } => ToolError::Upstream {
            service: "Snowflake",
            detail: format!(
                "the statement did not finish within {seconds}s and was cancelled ({message}); raise timeout_s or narrow the query"
            ),
            retryable: false,
        },
        e @ (SfError::Cancelled { .. } | SfError::CancelledEarly) => ToolError::Upstream {
            service: "Snowflake",
            detail: e.to_string(),
            retryable: false,
        },
        SfError::RateLimited { retry_after } => ToolError::RateLimited {
            service: "Snowflake",
            retry_after,
        },
        SfError::Http {
            status,
            code,
            message,
        } => ToolError::Upstream {
            service: "Snowflake",
            detail: format!(
                "HTTP {status}{}: {message}",
                code.map(|c| format!(" (code {c})")).unwrap_or_default()
            ),
            retryable: status >= 500,
        },
        SfError::Transport(e) => ToolError::Upstream {
            service: "Snowflake",
            detail: e.to_string(),
            retryable: true,
        },
        SfError::Malformed(m) => ToolError::Upstream {
            service: "Snowflake",
            detail: format!("unexpected answer: {m}"),
            retryable: false,
        },
    }
}

/// Rows of a page keyed by lower-case column name.
pub(crate) fn as_rows(page: &Page) -> Vec<Row> {
    page.rows
        .iter()
        .map(|r| {
            page.columns
                .iter()
                .zip(r.iter())
                .map(|(c, v)| (c.name.to_lowercase(), v.clone()))
                .collect()
        })
        .collect()
}

pub(crate) fn txt(row: &Row, key: &str) -> Option<String> {
    match row.get(key)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

pub(crate) fn int(row: &Row, key: &str) -> Option<i64> {
    match row.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<f64>().ok().map(|f| f as i64),
        _ => None,
    }
}

pub(crate) fn num(row: &Row, key: &str) -> Option<f64> {
    match row.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn flag(row: &Row, key: &str) -> Option<bool> {
    match row.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "y" | "yes" => Some(true),
            "false" | "n" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

impl SnowflakeServer {
    /// Run a statement and return its first `take` rows.
    pub(crate) async fn run(
        &self,
        stmt: &Statement,
        take: u64,
        call: &Call,
    ) -> Result<Page, ToolError> {
        self.ready()?;
        self.client()
            .execute(stmt, take, call)
            .await
            .map_err(|e| to_tool(self, e))
    }

    /// Run `stmt` (or continue the result a cursor points into) and return up to `limit` rows
    /// with a cursor; the caller packs projections with [`Self::pack`].
    pub(crate) async fn page(
        &self,
        kind: &str,
        stmt: impl FnOnce() -> Result<Statement, ToolError>,
        limit: u64,
        cursor: Option<&str>,
        call: &Call,
    ) -> Result<Page, ToolError> {
        self.ready()?;
        match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => {
                let pos: ResultCursor = decode_cursor(kind, c)?;
                self.client()
                    .fetch(&pos.h, pos.c, pos.p, pos.o, limit, call)
                    .await
                    .map_err(|e| to_tool(self, e))
            }
            None => {
                let stmt = stmt()?;
                self.run(&stmt, limit, call).await
            }
        }
    }

    /// Pack projected rows into the budget and make the cursor that continues after them.
    pub(crate) fn pack<T: Serialize>(
        &self,
        kind: &str,
        page: &Page,
        items: Vec<T>,
        limit: u64,
    ) -> List<T> {
        let budget: Budget = self.shared.budget;
        let packed = Budget::pack(budget.item_chars(), limit as usize, items);
        let next = page.offset + packed.items.len() as u64;
        let more = next < page.total;
        List {
            items: packed.items,
            next_cursor: more.then(|| cursor_for(kind, page, next)),
            truncated: more,
        }
    }
}

pub(crate) fn cursor_for(kind: &str, page: &Page, next: u64) -> String {
    encode_cursor(
        kind,
        &ResultCursor {
            h: page.handle.clone(),
            o: next,
            p: page.partitions.clone(),
            c: page.columns.clone(),
        },
    )
}
