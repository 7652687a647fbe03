//! The tools, one file per resource group, and what they share: cursor paging within the
//! response budget, and looking an issue up by id or identifier.

mod issues;
mod lists;
mod writes;

use mcp_core::{
    Budget, ToolError,
    budget::{decode_cursor, encode_cursor},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::LinearServer;
use crate::catalog::{connection, malformed};
use crate::gql::{self, Doc};
use crate::model::{Page, WIssue};

/// Where a page starts: Linear's `after` cursor and how many nodes after it were already shown.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Pos {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    s: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Linear's largest `first`.
const LINEAR_MAX_FIRST: usize = 250;

/// A limit within 1..=max, default when absent.
fn limit_of(limit: Option<u32>, default: usize, max: usize) -> Result<usize, ToolError> {
    match limit {
        None => Ok(default),
        Some(0) => Err(ToolError::InvalidInput(format!(
            "limit must be between 1 and {max}"
        ))),
        Some(n) if n as usize > max => Err(ToolError::InvalidInput(format!(
            "limit {n} is over the maximum of {max}; page with cursor instead"
        ))),
        Some(n) => Ok(n as usize),
    }
}

/// One page of a Linear connection, trimmed to `limit` and the response budget, with a cursor
/// that continues exactly where it stopped.
#[allow(clippy::too_many_arguments)]
async fn page<W: DeserializeOwned, O: Serialize>(
    server: &LinearServer,
    doc: &Doc,
    root: &str,
    kind: &str,
    filter: Option<Value>,
    limit: usize,
    cursor: Option<&str>,
    ct: &CancellationToken,
    map: impl Fn(&W) -> O,
) -> Result<Page<O>, ToolError> {
    let pos: Pos = match cursor.filter(|c| !c.trim().is_empty()) {
        Some(c) => decode_cursor(kind, c)?,
        None => Pos::default(),
    };
    let first = (pos.s + limit).clamp(1, LINEAR_MAX_FIRST);
    let mut vars = json!({ "first": first, "after": pos.a });
    if let Some(f) = filter {
        vars["filter"] = f;
    }
    let data = server.client().execute(doc, vars, ct).await?;
    let conn = connection::<W>(&data, root)?;
    let fetched = conn.nodes.len();
    let items: Vec<O> = conn.nodes.iter().skip(pos.s).map(map).collect();
    let budget: Budget = server.budget();
    let packed = Budget::pack(budget.item_chars(), limit, items);
    let shown = packed.items.len();
    let next = if pos.s + shown < fetched {
        Some(Pos {
            a: pos.a.clone(),
            s: pos.s + shown,
        })
    } else if conn.page_info.has_next_page {
        match conn.page_info.end_cursor {
            Some(c) => Some(Pos { a: Some(c), s: 0 }),
            None => {
                return Err(malformed(format!(
                    "`{root}` has a next page but no endCursor"
                )));
            }
        }
    } else {
        None
    };
    let next_cursor = next.map(|p| encode_cursor(kind, &p));
    Ok(Page {
        items: packed.items,
        truncated: next_cursor.is_some(),
        next_cursor,
    })
}

/// The issue with id or identifier `input`, in full; a clear error when it does not exist.
async fn fetch_issue(
    server: &LinearServer,
    input: &str,
    ct: &CancellationToken,
) -> Result<WIssue, ToolError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(ToolError::InvalidInput(
            "issue is empty; give an identifier like ENG-123 or an issue id".into(),
        ));
    }
    let not_found = || {
        ToolError::NotFound(format!(
            "issue not found: {input}; check the identifier (like ENG-123) or find it with issue_list"
        ))
    };
    let data = match server
        .client()
        .execute(&gql::ISSUE_GET, json!({ "id": input }), ct)
        .await
    {
        Ok(d) => d,
        Err(ToolError::NotFound(_)) => return Err(not_found()),
        Err(e) => return Err(e),
    };
    match data.get("issue") {
        None | Some(Value::Null) => Err(not_found()),
        Some(v) => {
            serde_json::from_value(v.clone()).map_err(|e| malformed(format!("`issue`: {e}")))
        }
    }
}
