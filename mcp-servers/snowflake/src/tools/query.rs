//! `execute_query` (read-only, checked before submission) and `query_write` (only with
//! `SNOWFLAKE_ALLOW_WRITE=1`).

use mcp_core::budget::{decode_cursor, json_chars};
use mcp_core::{Budget, ToolError};
use rmcp::{
    Json, RoleServer, handler::server::wrapper::Parameters, service::RequestContext, tool,
    tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{cursor_for, limit};
use crate::SnowflakeServer;
use crate::call::Call;
use crate::client::{Bind, Context, Page, ResultCursor, Statement};
use crate::sql;

/// Default and largest row cap of one call.
pub const DEFAULT_ROWS: u32 = 200;
pub const MAX_ROWS: u32 = 10_000;
/// Default and largest statement timeout, seconds.
pub const DEFAULT_TIMEOUT_S: u32 = 120;
pub const MAX_TIMEOUT_S: u32 = 3_600;

/// Snowflake bind types.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BindType {
    #[default]
    Text,
    Fixed,
    Real,
    Boolean,
    Date,
    Time,
    TimestampNtz,
    TimestampLtz,
    TimestampTz,
    Binary,
}

impl BindType {
    fn wire(self) -> &'static str {
        match self {
            BindType::Text => "TEXT",
            BindType::Fixed => "FIXED",
            BindType::Real => "REAL",
            BindType::Boolean => "BOOLEAN",
            BindType::Date => "DATE",
            BindType::Time => "TIME",
            BindType::TimestampNtz => "TIMESTAMP_NTZ",
            BindType::TimestampLtz => "TIMESTAMP_LTZ",
            BindType::TimestampTz => "TIMESTAMP_TZ",
            BindType::Binary => "BINARY",
        }
    }
}

/// A value for one `?` placeholder, in order.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Binding {
    /// Snowflake type of the value (default TEXT)
    #[serde(default, rename = "type")]
    pub kind: Option<BindType>,
    /// The value as text (e.g. "42", "2024-01-31", "true"); omit for NULL
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ExecuteQueryParams {
    /// One read-only SQL statement: SELECT, SHOW, DESCRIBE, EXPLAIN or WITH … SELECT. Put values
    /// in `bindings` as `?` placeholders. Omit when passing `cursor`.
    #[serde(default)]
    pub statement: Option<String>,
    /// Values for the `?` placeholders, in order
    #[serde(default)]
    pub bindings: Option<Vec<Binding>>,
    /// Most rows to return (default 200, max 10000); the response budget may return fewer
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor of an earlier call: the next rows of that result (no new query runs)
    #[serde(default)]
    pub cursor: Option<String>,
    /// Seconds before Snowflake cancels the statement (default 120, max 3600)
    #[serde(default)]
    pub timeout_s: Option<u32>,
    /// Warehouse for this call (default SNOWFLAKE_WAREHOUSE)
    #[serde(default)]
    pub warehouse: Option<String>,
    /// Database for this call (default SNOWFLAKE_DATABASE)
    #[serde(default)]
    pub database: Option<String>,
    /// Schema for this call (default SNOWFLAKE_SCHEMA)
    #[serde(default)]
    pub schema: Option<String>,
    /// Role for this call (default SNOWFLAKE_ROLE)
    #[serde(default)]
    pub role: Option<String>,
}

/// A result column.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ColumnOut {
    pub name: String,
    /// Snowflake type (FIXED, TEXT, DATE, TIMESTAMP_NTZ, VARIANT, …)
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
}

/// Rows of a result: numbers as numbers, dates and timestamps as ISO 8601, variants as JSON.
#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryOutput {
    /// Snowflake's statement handle (also the query id)
    pub statement_handle: String,
    pub columns: Vec<ColumnOut>,
    /// One array per row, values in column order
    pub rows: Vec<Vec<Value>>,
    /// Rows in the whole result
    pub total_rows: u64,
    /// Index of the first row of this page in the whole result
    pub offset: u64,
    /// More rows exist after this page
    pub truncated: bool,
    /// Pass back as `cursor` for the next rows; absent at the end
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct QueryWriteParams {
    /// One SQL statement of any kind (INSERT, UPDATE, CREATE, GRANT, …). Put values in `bindings`.
    pub statement: String,
    /// Values for the `?` placeholders, in order
    #[serde(default)]
    pub bindings: Option<Vec<Binding>>,
    /// Seconds before Snowflake cancels the statement (default 120, max 3600)
    #[serde(default)]
    pub timeout_s: Option<u32>,
    /// Warehouse for this call (default SNOWFLAKE_WAREHOUSE)
    #[serde(default)]
    pub warehouse: Option<String>,
    /// Database for this call (default SNOWFLAKE_DATABASE)
    #[serde(default)]
    pub database: Option<String>,
    /// Schema for this call (default SNOWFLAKE_SCHEMA)
    #[serde(default)]
    pub schema: Option<String>,
    /// Role for this call (default SNOWFLAKE_ROLE)
    #[serde(default)]
    pub role: Option<String>,
}

/// What Snowflake reported for a write (e.g. "number of rows inserted").
#[derive(Debug, Serialize, JsonSchema)]
pub struct WriteOutput {
    pub statement_handle: String,
    /// First keyword of the statement (INSERT, CREATE, …)
    pub kind: String,
    pub columns: Vec<ColumnOut>,
    /// Snowflake's result rows (first 20)
    pub rows: Vec<Vec<Value>>,
}

fn bindings(given: Option<Vec<Binding>>) -> Result<Vec<Bind>, ToolError> {
    let given = given.unwrap_or_default();
    if given.len() > 1000 {
        return Err(ToolError::InvalidInput("at most 1000 bindings".into()));
    }
    Ok(given
        .into_iter()
        .map(|b| Bind {
            kind: b.kind.unwrap_or_default().wire().to_string(),
            value: b.value,
        })
        .collect())
}

fn timeout(given: Option<u32>) -> Result<u64, ToolError> {
    limit(given, DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S, "timeout_s")
}

pub(crate) fn columns_out(page: &Page) -> Vec<ColumnOut> {
    page.columns
        .iter()
        .map(|c| ColumnOut {
            name: c.name.clone(),
            kind: c.kind.to_uppercase(),
            nullable: c.nullable,
        })
        .collect()
}

impl SnowflakeServer {
    /// A page of rows as `QueryOutput`, packed into the budget.
    pub(crate) fn query_output(&self, kind: &str, page: Page, limit: u64) -> QueryOutput {
        let columns = columns_out(&page);
        let budget: Budget = self.shared.budget;
        let header = json_chars(&columns) + 200;
        let packed = Budget::pack(
            budget.item_chars().saturating_sub(header),
            limit as usize,
            page.rows.iter(),
        );
        let n = packed.items.len() as u64;
        let rows: Vec<Vec<Value>> = packed.items.into_iter().cloned().collect();
        let next = page.offset + n;
        let more = next < page.total;
        QueryOutput {
            statement_handle: page.handle.clone(),
            columns,
            total_rows: page.total,
            offset: page.offset,
            truncated: more,
            next_cursor: more.then(|| cursor_for(kind, &page, next)),
            rows,
        }
    }
}

#[tool_router(router = query_router, vis = "pub(crate)")]
impl SnowflakeServer {
    /// Run one read-only SQL statement (SELECT, SHOW, DESCRIBE, EXPLAIN, WITH … SELECT) with
    /// `?` bindings; returns typed rows, capped (default 200), with a cursor for the rest.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn execute_query(
        &self,
        Parameters(p): Parameters<ExecuteQueryParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<QueryOutput>, ToolError> {
        let call = Call::new(&ctx);
        let limit = limit(p.limit, DEFAULT_ROWS, MAX_ROWS, "limit")?;
        self.ready()?;
        if let Some(c) = p.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            let pos: ResultCursor = decode_cursor("execute_query", c)?;
            let page = self
                .client()
                .fetch(&pos.h, pos.c, pos.p, pos.o, limit, &call)
                .await
                .map_err(|e| super::to_tool(self, e))?;
            return Ok(Json(self.query_output("execute_query", page, limit)));
        }
        let Some(statement) = p.statement.filter(|s| !s.trim().is_empty()) else {
            return Err(ToolError::InvalidInput(
                "pass a statement (or the cursor of an earlier call)".into(),
            ));
        };
        sql::check_read_only(&statement)?;
        let stmt = Statement {
            sql: statement,
            bindings: bindings(p.bindings)?,
            context: Context {
                warehouse: p.warehouse,
                database: p.database,
                schema: p.schema,
                role: p.role,
            },
            timeout_s: timeout(p.timeout_s)?,
        };
        let page = self.run(&stmt, limit, &call).await?;
        Ok(Json(self.query_output("execute_query", page, limit)))
    }

    /// Run one SQL statement that may change data or objects (INSERT, UPDATE, DELETE, CREATE,
    /// ALTER, GRANT, …). Destructive. Listed only when SNOWFLAKE_ALLOW_WRITE=1.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn query_write(
        &self,
        Parameters(p): Parameters<QueryWriteParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<WriteOutput>, ToolError> {
        let call = Call::new(&ctx);
        sql::check_single(&p.statement)?;
        let kind = sql::statement_kind(&p.statement).unwrap_or_default();
        let stmt = Statement {
            sql: p.statement,
            bindings: bindings(p.bindings)?,
            context: Context {
                warehouse: p.warehouse,
                database: p.database,
                schema: p.schema,
                role: p.role,
            },
            timeout_s: timeout(p.timeout_s)?,
        };
        let page = self.run(&stmt, 20, &call).await?;
        Ok(Json(WriteOutput {
            statement_handle: page.handle.clone(),
            kind,
            columns: columns_out(&page),
            rows: page.rows,
        }))
    }
}
