//! Catalog: databases, schemas, tables and views (rows, bytes), a table's columns, sample rows.
//! SHOW / DESCRIBE need no running warehouse; sampling does.

use mcp_core::ToolError;
use rmcp::{
    Json, RoleServer, handler::server::wrapper::Parameters, service::RequestContext, tool,
    tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::query::QueryOutput;
use super::{List, Row, as_rows, flag, int, limit, txt};
use crate::call::Call;
use crate::client::Statement;
use crate::sql::{qualified, quote_ident};
use crate::{KnownTable, SnowflakeServer, resource_uri};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PageParams {
    /// Most items (default 100, max 1000)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor of the previous page
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SchemaListParams {
    /// Database name, exactly as database_list reports it
    pub database: String,
    /// Most items (default 100, max 1000)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor of the previous page
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TableListParams {
    /// Database name, exactly as database_list reports it
    pub database: String,
    /// Schema name, exactly as schema_list reports it
    pub schema: String,
    /// Most items (default 100, max 1000)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor of the previous page
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TableParams {
    /// Database name (case-sensitive)
    pub database: String,
    /// Schema name (case-sensitive)
    pub schema: String,
    /// Table or view name (case-sensitive)
    pub table: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TableSampleParams {
    /// Database name (case-sensitive)
    pub database: String,
    /// Schema name (case-sensitive)
    pub schema: String,
    /// Table or view name (case-sensitive)
    pub table: String,
    /// Rows to return (default 10, max 100)
    #[serde(default)]
    pub rows: Option<u32>,
    /// Warehouse to run on (default SNOWFLAKE_WAREHOUSE)
    #[serde(default)]
    pub warehouse: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Database {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// STANDARD, APPLICATION, IMPORTED DATABASE, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Schema {
    pub name: String,
    pub database: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_on: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Table {
    pub name: String,
    /// TABLE or VIEW
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Row count (tables)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<i64>,
    /// Bytes stored (tables)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_on: Option<String>,
    /// The table as an MCP resource
    pub uri: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ColumnInfo {
    pub name: String,
    /// Snowflake type, e.g. NUMBER(38,0), VARCHAR(16777216)
    #[serde(rename = "type")]
    pub kind: String,
    pub nullable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A table's columns and description.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TableDescription {
    pub database: String,
    pub schema: String,
    pub table: String,
    /// The table's comment, when table_list has seen it
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub columns: Vec<ColumnInfo>,
    pub uri: String,
}

fn database(r: &Row) -> Database {
    Database {
        name: txt(r, "name").unwrap_or_default(),
        owner: txt(r, "owner").filter(|s| !s.is_empty()),
        comment: txt(r, "comment").filter(|s| !s.is_empty()),
        kind: txt(r, "kind"),
        created_on: txt(r, "created_on"),
        is_default: flag(r, "is_default"),
    }
}

impl SnowflakeServer {
    /// DESCRIBE TABLE, for table_describe and resources/read.
    pub(crate) async fn describe(
        &self,
        db: &str,
        schema: &str,
        table: &str,
        call: &Call,
    ) -> Result<TableDescription, ToolError> {
        let name = qualified(&[("database", db), ("schema", schema), ("table", table)])?;
        let stmt = Statement::new(format!("DESCRIBE TABLE {name}"));
        let page = self.run(&stmt, 10_000, call).await?;
        let columns = as_rows(&page)
            .iter()
            .map(|r| ColumnInfo {
                name: txt(r, "name").unwrap_or_default(),
                kind: txt(r, "type").unwrap_or_default(),
                nullable: flag(r, "null?").unwrap_or(true),
                default: txt(r, "default").filter(|s| !s.is_empty()),
                primary_key: flag(r, "primary key"),
                comment: txt(r, "comment").filter(|s| !s.is_empty()),
            })
            .collect();
        let uri = resource_uri(db, schema, table);
        let comment = self
            .shared
            .tables
            .lock()
            .ok()
            .and_then(|m| m.get(&uri).and_then(|t| t.comment.clone()));
        Ok(TableDescription {
            database: db.into(),
            schema: schema.into(),
            table: table.into(),
            comment,
            columns,
            uri,
        })
    }
}

#[tool_router(router = catalog_router, vis = "pub(crate)")]
impl SnowflakeServer {
    /// List databases the role can see (SHOW DATABASES).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn database_list(
        &self,
        Parameters(p): Parameters<PageParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<List<Database>>, ToolError> {
        let call = Call::new(&ctx);
        let limit = limit(p.limit, 100, 1000, "limit")?;
        let page = self
            .page(
                "database_list",
                || Ok(Statement::new("SHOW DATABASES")),
                limit,
                p.cursor.as_deref(),
                &call,
            )
            .await?;
        let items = as_rows(&page).iter().map(database).collect();
        Ok(Json(self.pack("database_list", &page, items, limit)))
    }

    /// List schemas of a database (SHOW SCHEMAS IN DATABASE).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn schema_list(
        &self,
        Parameters(p): Parameters<SchemaListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<List<Schema>>, ToolError> {
        let call = Call::new(&ctx);
        let limit = limit(p.limit, 100, 1000, "limit")?;
        let db = p.database.clone();
        let page = self
            .page(
                "schema_list",
                || {
                    Ok(Statement::new(format!(
                        "SHOW SCHEMAS IN DATABASE {}",
                        quote_ident("database", &db)?
                    )))
                },
                limit,
                p.cursor.as_deref(),
                &call,
            )
            .await?;
        let items = as_rows(&page)
            .iter()
            .map(|r| Schema {
                name: txt(r, "name").unwrap_or_default(),
                database: txt(r, "database_name").unwrap_or_else(|| p.database.clone()),
                owner: txt(r, "owner").filter(|s| !s.is_empty()),
                comment: txt(r, "comment").filter(|s| !s.is_empty()),
                created_on: txt(r, "created_on"),
            })
            .collect();
        Ok(Json(self.pack("schema_list", &page, items, limit)))
    }

    /// List tables and views of a schema with row counts and bytes (SHOW OBJECTS IN SCHEMA).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn table_list(
        &self,
        Parameters(p): Parameters<TableListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<List<Table>>, ToolError> {
        let call = Call::new(&ctx);
        let limit = limit(p.limit, 100, 1000, "limit")?;
        let (db, schema) = (p.database.clone(), p.schema.clone());
        let page = self
            .page(
                "table_list",
                || {
                    Ok(Statement::new(format!(
                        "SHOW OBJECTS IN SCHEMA {}",
                        qualified(&[("database", &db), ("schema", &schema)])?
                    )))
                },
                limit,
                p.cursor.as_deref(),
                &call,
            )
            .await?;
        let items: Vec<Table> = as_rows(&page)
            .iter()
            .map(|r| {
                let name = txt(r, "name").unwrap_or_default();
                Table {
                    uri: resource_uri(&p.database, &p.schema, &name),
                    name,
                    kind: txt(r, "kind"),
                    rows: int(r, "rows"),
                    bytes: int(r, "bytes"),
                    comment: txt(r, "comment").filter(|s| !s.is_empty()),
                    owner: txt(r, "owner").filter(|s| !s.is_empty()),
                    created_on: txt(r, "created_on"),
                }
            })
            .collect();
        self.remember_tables(items.iter().map(|t| KnownTable {
            database: p.database.clone(),
            schema: p.schema.clone(),
            name: t.name.clone(),
            kind: t.kind.clone(),
            comment: t.comment.clone(),
        }));
        Ok(Json(self.pack("table_list", &page, items, limit)))
    }

    /// A table's or view's columns: type, nullability, default, primary key, comment.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn table_describe(
        &self,
        Parameters(p): Parameters<TableParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<TableDescription>, ToolError> {
        let call = Call::new(&ctx);
        Ok(Json(
            self.describe(&p.database, &p.schema, &p.table, &call)
                .await?,
        ))
    }

    /// A few rows of a table or view (needs a warehouse).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn table_sample(
        &self,
        Parameters(p): Parameters<TableSampleParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<QueryOutput>, ToolError> {
        let call = Call::new(&ctx);
        let n = limit(p.rows, 10, 100, "rows")?;
        let name = qualified(&[
            ("database", &p.database),
            ("schema", &p.schema),
            ("table", &p.table),
        ])?;
        let mut stmt = Statement::new(format!("SELECT * FROM {name} LIMIT {n}"));
        stmt.context.warehouse = p.warehouse;
        let page = self.run(&stmt, n, &call).await?;
        let mut out = self.query_output("table_sample", page, n);
        // A sample has no continuation.
        out.next_cursor = None;
        out.truncated = false;
        Ok(Json(out))
    }
}
