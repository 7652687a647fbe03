//! Cost and usage (SNOWFLAKE.ACCOUNT_USAGE), query history, status and cancel, and access
//! (users, roles, grants). Every value is a bind variable; names go through `quote_ident`.

use mcp_core::ToolError;
use rmcp::{
    Json, RoleServer, handler::server::wrapper::Parameters, service::RequestContext, tool,
    tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::catalog::PageParams;
use super::{List, Row, as_rows, flag, int, limit, num, txt};
use crate::SnowflakeServer;
use crate::call::Call;
use crate::client::{Bind, Statement, valid_handle};
use crate::sql::{qualified, quote_ident};

fn opt_text(v: &Option<String>) -> Bind {
    Bind {
        kind: "TEXT".into(),
        value: v.clone().filter(|s| !s.trim().is_empty()),
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreditsParams {
    /// Days back from now (default 7, max 365)
    #[serde(default)]
    pub days: Option<u32>,
    /// Only this warehouse (exact name)
    #[serde(default)]
    pub warehouse: Option<String>,
    /// Most rows (default 200, max 1000)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor of the previous page
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Credits one warehouse used on one day.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CreditsRow {
    pub warehouse: String,
    /// UTC day, YYYY-MM-DD
    pub day: String,
    pub credits: f64,
    pub credits_compute: f64,
    pub credits_cloud_services: f64,
}

/// What to rank queries by.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    #[default]
    ElapsedTime,
    BytesScanned,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct QueryTopParams {
    /// Days back from now (default 7, max 365)
    #[serde(default)]
    pub days: Option<u32>,
    /// Rank by elapsed_time (default) or bytes_scanned
    #[serde(default)]
    pub by: Option<RankBy>,
    /// Only this warehouse (exact name)
    #[serde(default)]
    pub warehouse: Option<String>,
    /// Only this user (exact name)
    #[serde(default)]
    pub user: Option<String>,
    /// How many (default 20, max 200)
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One query from QUERY_HISTORY.
#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryInfo {
    pub query_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// SUCCESS, FAIL, INCIDENT, RUNNING, QUEUED, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_scanned: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_produced: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// First 300 characters of the SQL
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_text: Option<String>,
}

fn query_info(r: &Row) -> QueryInfo {
    QueryInfo {
        query_id: txt(r, "query_id").unwrap_or_default(),
        user: txt(r, "user_name"),
        warehouse: txt(r, "warehouse_name"),
        role: txt(r, "role_name"),
        status: txt(r, "execution_status"),
        query_type: txt(r, "query_type"),
        start_time: txt(r, "start_time"),
        end_time: txt(r, "end_time"),
        elapsed_ms: int(r, "total_elapsed_time"),
        bytes_scanned: int(r, "bytes_scanned"),
        rows_produced: int(r, "rows_produced"),
        error_message: txt(r, "error_message"),
        query_text: txt(r, "query_text").map(|t| t.chars().take(300).collect()),
    }
}

const QUERY_COLUMNS: &str = "QUERY_ID, USER_NAME, WAREHOUSE_NAME, ROLE_NAME, EXECUTION_STATUS, QUERY_TYPE, START_TIME, END_TIME, TOTAL_ELAPSED_TIME, BYTES_SCANNED, ROWS_PRODUCED, ERROR_MESSAGE, LEFT(QUERY_TEXT, 300) AS QUERY_TEXT";

#[derive(Debug, Deserialize, JsonSchema)]
pub struct QueryHistoryParams {
    /// Only this user (exact name)
    #[serde(default)]
    pub user: Option<String>,
    /// Only this warehouse (exact name)
    #[serde(default)]
    pub warehouse: Option<String>,
    /// Only this execution status: SUCCESS, FAIL, INCIDENT
    #[serde(default)]
    pub status: Option<String>,
    /// From this time (ISO 8601, e.g. 2024-05-01T00:00:00Z); default 24 hours ago
    #[serde(default)]
    pub start: Option<String>,
    /// Until this time (ISO 8601); default now
    #[serde(default)]
    pub end: Option<String>,
    /// Most rows (default 50, max 1000)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor of the previous page
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct QueryIdParams {
    /// The query id (statement handle), e.g. 01b2c3d4-0000-1234-0000-000100020003
    pub query_id: String,
}

/// The result of SYSTEM$CANCEL_QUERY and the query's status afterwards.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CancelOutput {
    pub query_id: String,
    /// What Snowflake answered
    pub message: String,
    /// The query as QUERY_HISTORY reports it after the cancel (when visible)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<QueryInfo>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StorageRow {
    pub database: String,
    /// UTC day of the measurement
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    pub database_bytes: f64,
    pub failsafe_bytes: f64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct User {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_warehouse: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_rsa_public_key: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success_login: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Role {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to_users: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_to_roles: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_roles: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Object kinds grant_list can ask about.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ObjectType {
    Database,
    Schema,
    Table,
    View,
    Warehouse,
    Role,
}

impl ObjectType {
    fn keyword(self) -> &'static str {
        match self {
            ObjectType::Database => "DATABASE",
            ObjectType::Schema => "SCHEMA",
            ObjectType::Table => "TABLE",
            ObjectType::View => "VIEW",
            ObjectType::Warehouse => "WAREHOUSE",
            ObjectType::Role => "ROLE",
        }
    }

    fn parts(self) -> usize {
        match self {
            ObjectType::Database | ObjectType::Warehouse | ObjectType::Role => 1,
            ObjectType::Schema => 2,
            ObjectType::Table | ObjectType::View => 3,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GrantListParams {
    /// Privileges and roles granted to this role
    #[serde(default)]
    pub to_role: Option<String>,
    /// Roles granted to this user
    #[serde(default)]
    pub to_user: Option<String>,
    /// Who can access an object: its type (with `object`)
    #[serde(default)]
    pub object_type: Option<ObjectType>,
    /// Who can access an object: its name parts, e.g. ["DB", "PUBLIC", "ORDERS"] for a table
    #[serde(default)]
    pub object: Option<Vec<String>>,
    /// Most rows (default 200, max 1000)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor of the previous page
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One grant (SHOW GRANTS).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Grant {
    /// USAGE, SELECT, OWNERSHIP, … (absent for a role granted to a user)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privilege: Option<String>,
    /// Kind of the object the privilege is on
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_on: Option<String>,
    /// The object (or the role, for grants to a user)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ROLE, USER, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grantee_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_option: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_by: Option<String>,
}

fn days(given: Option<u32>) -> Result<i64, ToolError> {
    limit(given, 7, 365, "days").map(|d| -(d as i64))
}

#[tool_router(router = admin_router, vis = "pub(crate)")]
impl SnowflakeServer {
    /// Credits used by warehouse and day (ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY; up to
    /// 3 hours behind).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn cost_credits(
        &self,
        Parameters(p): Parameters<CreditsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<List<CreditsRow>>, ToolError> {
        let call = Call::new(&ctx);
        let limit = limit(p.limit, 200, 1000, "limit")?;
        let page = self
            .page(
                "cost_credits",
                || {
                    Ok(Statement::new(
                        "SELECT WAREHOUSE_NAME, TO_CHAR(TO_DATE(START_TIME), 'YYYY-MM-DD') AS DAY, SUM(CREDITS_USED) AS CREDITS, \
                         SUM(CREDITS_USED_COMPUTE) AS CREDITS_COMPUTE, SUM(CREDITS_USED_CLOUD_SERVICES) AS CREDITS_CLOUD_SERVICES \
                         FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY \
                         WHERE START_TIME >= DATEADD('day', ?, CURRENT_TIMESTAMP()) AND (? IS NULL OR WAREHOUSE_NAME = ?) \
                         GROUP BY 1, 2 ORDER BY 2 DESC, 3 DESC",
                    )
                    .bind(Bind::fixed(days(p.days)?))
                    .bind(opt_text(&p.warehouse))
                    .bind(opt_text(&p.warehouse)))
                },
                limit,
                p.cursor.as_deref(),
                &call,
            )
            .await?;
        let items = as_rows(&page)
            .iter()
            .map(|r| CreditsRow {
                warehouse: txt(r, "warehouse_name").unwrap_or_default(),
                day: txt(r, "day").unwrap_or_default(),
                credits: num(r, "credits").unwrap_or(0.0),
                credits_compute: num(r, "credits_compute").unwrap_or(0.0),
                credits_cloud_services: num(r, "credits_cloud_services").unwrap_or(0.0),
            })
            .collect();
        Ok(Json(self.pack("cost_credits", &page, items, limit)))
    }

    /// The most expensive queries by elapsed time or bytes scanned (ACCOUNT_USAGE.QUERY_HISTORY;
    /// up to 45 minutes behind).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn query_top(
        &self,
        Parameters(p): Parameters<QueryTopParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<List<QueryInfo>>, ToolError> {
        let call = Call::new(&ctx);
        let n = limit(p.limit, 20, 200, "limit")?;
        let order = match p.by.unwrap_or_default() {
            RankBy::ElapsedTime => "TOTAL_ELAPSED_TIME",
            RankBy::BytesScanned => "BYTES_SCANNED",
        };
        let stmt = Statement::new(format!(
            "SELECT {QUERY_COLUMNS} FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY \
             WHERE START_TIME >= DATEADD('day', ?, CURRENT_TIMESTAMP()) \
             AND (? IS NULL OR WAREHOUSE_NAME = ?) AND (? IS NULL OR USER_NAME = ?) \
             ORDER BY {order} DESC NULLS LAST LIMIT {n}"
        ))
        .bind(Bind::fixed(days(p.days)?))
        .bind(opt_text(&p.warehouse))
        .bind(opt_text(&p.warehouse))
        .bind(opt_text(&p.user))
        .bind(opt_text(&p.user));
        let page = self.run(&stmt, n, &call).await?;
        let items = as_rows(&page).iter().map(query_info).collect();
        let mut out = self.pack("query_top", &page, items, n);
        out.next_cursor = None;
        out.truncated = false;
        Ok(Json(out))
    }

    /// Storage by database, latest day (ACCOUNT_USAGE.DATABASE_STORAGE_USAGE_HISTORY).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn storage_usage(
        &self,
        Parameters(p): Parameters<PageParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<List<StorageRow>>, ToolError> {
        let call = Call::new(&ctx);
        let limit = limit(p.limit, 100, 1000, "limit")?;
        let page = self
            .page(
                "storage_usage",
                || {
                    Ok(Statement::new(
                        "SELECT DATABASE_NAME, TO_CHAR(USAGE_DATE, 'YYYY-MM-DD') AS DAY, AVERAGE_DATABASE_BYTES, AVERAGE_FAILSAFE_BYTES \
                         FROM SNOWFLAKE.ACCOUNT_USAGE.DATABASE_STORAGE_USAGE_HISTORY \
                         WHERE USAGE_DATE = (SELECT MAX(USAGE_DATE) FROM SNOWFLAKE.ACCOUNT_USAGE.DATABASE_STORAGE_USAGE_HISTORY) \
                         ORDER BY AVERAGE_DATABASE_BYTES DESC",
                    ))
                },
                limit,
                p.cursor.as_deref(),
                &call,
            )
            .await?;
        let items = as_rows(&page)
            .iter()
            .map(|r| StorageRow {
                database: txt(r, "database_name").unwrap_or_default(),
                day: txt(r, "day"),
                database_bytes: num(r, "average_database_bytes").unwrap_or(0.0),
                failsafe_bytes: num(r, "average_failsafe_bytes").unwrap_or(0.0),
            })
            .collect();
        Ok(Json(self.pack("storage_usage", &page, items, limit)))
    }

    /// Query history filtered by user, warehouse, status and time window, newest first
    /// (ACCOUNT_USAGE.QUERY_HISTORY; up to 45 minutes behind).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn query_history(
        &self,
        Parameters(p): Parameters<QueryHistoryParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<List<QueryInfo>>, ToolError> {
        let call = Call::new(&ctx);
        let limit = limit(p.limit, 50, 1000, "limit")?;
        let page = self
            .page(
                "query_history",
                || {
                    Ok(Statement::new(format!(
                        "SELECT {QUERY_COLUMNS} FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY \
                         WHERE START_TIME >= COALESCE(TRY_TO_TIMESTAMP_LTZ(?), DATEADD('hour', -24, CURRENT_TIMESTAMP())) \
                         AND START_TIME <= COALESCE(TRY_TO_TIMESTAMP_LTZ(?), CURRENT_TIMESTAMP()) \
                         AND (? IS NULL OR USER_NAME = ?) AND (? IS NULL OR WAREHOUSE_NAME = ?) \
                         AND (? IS NULL OR EXECUTION_STATUS = ?) \
                         ORDER BY START_TIME DESC"
                    ))
                    .bind(opt_text(&p.start))
                    .bind(opt_text(&p.end))
                    .bind(opt_text(&p.user))
                    .bind(opt_text(&p.user))
                    .bind(opt_text(&p.warehouse))
                    .bind(opt_text(&p.warehouse))
                    .bind(opt_text(&p.status.as_ref().map(|s| s.to_uppercase())))
                    .bind(opt_text(&p.status.as_ref().map(|s| s.to_uppercase()))))
                },
                limit,
                p.cursor.as_deref(),
                &call,
            )
            .await?;
        let items = as_rows(&page).iter().map(query_info).collect();
        Ok(Json(self.pack("query_history", &page, items, limit)))
    }

    /// Status of one query, live (INFORMATION_SCHEMA.QUERY_HISTORY, last 7 days).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn query_status(
        &self,
        Parameters(p): Parameters<QueryIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<QueryInfo>, ToolError> {
        let call = Call::new(&ctx);
        self.query_lookup(&p.query_id, &call)
            .await?
            .map(Json)
            .ok_or_else(|| {
                ToolError::NotFound(format!(
                    "query {} is not in this role's query history of the last 7 days",
                    p.query_id
                ))
            })
    }

    /// Cancel a running query (SYSTEM$CANCEL_QUERY) and report its status afterwards.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn query_cancel(
        &self,
        Parameters(p): Parameters<QueryIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<CancelOutput>, ToolError> {
        let call = Call::new(&ctx);
        let id = p.query_id.trim().to_string();
        if !valid_handle(&id) {
            return Err(ToolError::InvalidInput(
                "query_id must look like 01b2c3d4-0000-1234-0000-000100020003".into(),
            ));
        }
        let stmt = Statement::new("SELECT SYSTEM$CANCEL_QUERY(?)").bind(Bind::text(&id));
        let page = self.run(&stmt, 1, &call).await?;
        let message = page
            .rows
            .first()
            .and_then(|r| r.first())
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .unwrap_or_default();
        let query = self.query_lookup(&id, &call).await.ok().flatten();
        Ok(Json(CancelOutput {
            query_id: id,
            message,
            query,
        }))
    }

    /// List users (SHOW USERS).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn user_list(
        &self,
        Parameters(p): Parameters<PageParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<List<User>>, ToolError> {
        let call = Call::new(&ctx);
        let limit = limit(p.limit, 100, 1000, "limit")?;
        let page = self
            .page(
                "user_list",
                || Ok(Statement::new("SHOW USERS")),
                limit,
                p.cursor.as_deref(),
                &call,
            )
            .await?;
        let nonempty = |r: &Row, k: &str| txt(r, k).filter(|s| !s.is_empty() && s != "null");
        let items = as_rows(&page)
            .iter()
            .map(|r| User {
                name: txt(r, "name").unwrap_or_default(),
                login_name: nonempty(r, "login_name"),
                display_name: nonempty(r, "display_name"),
                email: nonempty(r, "email"),
                disabled: flag(r, "disabled"),
                default_role: nonempty(r, "default_role"),
                default_warehouse: nonempty(r, "default_warehouse"),
                has_rsa_public_key: flag(r, "has_rsa_public_key"),
                last_success_login: nonempty(r, "last_success_login"),
            })
            .collect();
        Ok(Json(self.pack("user_list", &page, items, limit)))
    }

    /// List roles (SHOW ROLES).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn role_list(
        &self,
        Parameters(p): Parameters<PageParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<List<Role>>, ToolError> {
        let call = Call::new(&ctx);
        let limit = limit(p.limit, 100, 1000, "limit")?;
        let page = self
            .page(
                "role_list",
                || Ok(Statement::new("SHOW ROLES")),
                limit,
                p.cursor.as_deref(),
                &call,
            )
            .await?;
        let items = as_rows(&page)
            .iter()
            .map(|r| Role {
                name: txt(r, "name").unwrap_or_default(),
                assigned_to_users: int(r, "assigned_to_users"),
                granted_to_roles: int(r, "granted_to_roles"),
                granted_roles: int(r, "granted_roles"),
                owner: txt(r, "owner").filter(|s| !s.is_empty()),
                comment: txt(r, "comment").filter(|s| !s.is_empty()),
            })
            .collect();
        Ok(Json(self.pack("role_list", &page, items, limit)))
    }

    /// Grants to a role, roles granted to a user, or who can access an object (SHOW GRANTS).
    /// Pass exactly one of to_role, to_user, or object_type + object.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn grant_list(
        &self,
        Parameters(p): Parameters<GrantListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<List<Grant>>, ToolError> {
        let call = Call::new(&ctx);
        let limit = limit(p.limit, 200, 1000, "limit")?;
        let build = || -> Result<Statement, ToolError> {
            let modes = [
                p.to_role.is_some(),
                p.to_user.is_some(),
                p.object_type.is_some() || p.object.is_some(),
            ];
            if modes.iter().filter(|m| **m).count() != 1 {
                return Err(ToolError::InvalidInput(
                    "pass exactly one of: to_role, to_user, or object_type with object".into(),
                ));
            }
            if let Some(r) = &p.to_role {
                return Ok(Statement::new(format!(
                    "SHOW GRANTS TO ROLE {}",
                    quote_ident("to_role", r)?
                )));
            }
            if let Some(u) = &p.to_user {
                return Ok(Statement::new(format!(
                    "SHOW GRANTS TO USER {}",
                    quote_ident("to_user", u)?
                )));
            }
            let (Some(kind), Some(parts)) = (p.object_type, p.object.as_ref()) else {
                return Err(ToolError::InvalidInput(
                    "object_type and object go together".into(),
                ));
            };
            if parts.len() != kind.parts() {
                return Err(ToolError::InvalidInput(format!(
                    "a {} is named by {} part(s), e.g. {}",
                    kind.keyword(),
                    kind.parts(),
                    match kind.parts() {
                        1 => "[\"NAME\"]",
                        2 => "[\"DB\", \"SCHEMA\"]",
                        _ => "[\"DB\", \"SCHEMA\", \"TABLE\"]",
                    }
                )));
            }
            let named: Vec<(&str, &str)> = parts.iter().map(|s| ("object", s.as_str())).collect();
            Ok(Statement::new(format!(
                "SHOW GRANTS ON {} {}",
                kind.keyword(),
                qualified(&named)?
            )))
        };
        let page = self
            .page("grant_list", build, limit, p.cursor.as_deref(), &call)
            .await?;
        let items = as_rows(&page)
            .iter()
            .map(|r| Grant {
                privilege: txt(r, "privilege"),
                granted_on: txt(r, "granted_on"),
                name: txt(r, "name").or_else(|| txt(r, "role")),
                granted_to: txt(r, "granted_to"),
                grantee_name: txt(r, "grantee_name"),
                grant_option: flag(r, "grant_option"),
                granted_by: txt(r, "granted_by").filter(|s| !s.is_empty()),
            })
            .collect();
        Ok(Json(self.pack("grant_list", &page, items, limit)))
    }
}

impl SnowflakeServer {
    async fn query_lookup(&self, id: &str, call: &Call) -> Result<Option<QueryInfo>, ToolError> {
        let stmt = Statement::new(format!(
            "SELECT {QUERY_COLUMNS} FROM TABLE(SNOWFLAKE.INFORMATION_SCHEMA.QUERY_HISTORY(\
             END_TIME_RANGE_START => DATEADD('day', -7, CURRENT_TIMESTAMP()), RESULT_LIMIT => 10000)) \
             WHERE QUERY_ID = ?"
        ))
        .bind(Bind::text(id.trim()));
        let page = self.run(&stmt, 1, call).await?;
        Ok(as_rows(&page).first().map(query_info))
    }
}
