//! Warehouses: list, suspend, resume, resize and auto-suspend. Each change is read back with
//! SHOW WAREHOUSES and returned as Snowflake reports it, with any requested value that did not
//! take.

use mcp_core::ToolError;
use rmcp::{
    Json, RoleServer, handler::server::wrapper::Parameters, service::RequestContext, tool,
    tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::catalog::PageParams;
use super::{List, Row, as_rows, flag, int, limit, txt};
use crate::SnowflakeServer;
use crate::call::Call;
use crate::client::Statement;
use crate::sql::quote_ident;

/// A warehouse as SHOW WAREHOUSES reports it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Warehouse {
    pub name: String,
    /// STARTED, SUSPENDED, RESIZING, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// X-Small, Small, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// STANDARD or SNOWPARK-OPTIMIZED
    #[serde(skip_serializing_if = "Option::is_none", rename = "type")]
    pub kind: Option<String>,
    /// Seconds of inactivity before suspending (absent: never)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_suspend_s: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_resume: Option<bool>,
    /// Queries running now
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<i64>,
    /// Queries queued now
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_cluster_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cluster_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_monitor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

fn warehouse(r: &Row) -> Warehouse {
    Warehouse {
        name: txt(r, "name").unwrap_or_default(),
        state: txt(r, "state"),
        size: txt(r, "size"),
        kind: txt(r, "type"),
        auto_suspend_s: int(r, "auto_suspend"),
        auto_resume: flag(r, "auto_resume"),
        running: int(r, "running"),
        queued: int(r, "queued"),
        min_cluster_count: int(r, "min_cluster_count"),
        max_cluster_count: int(r, "max_cluster_count"),
        resource_monitor: txt(r, "resource_monitor").filter(|s| !s.is_empty() && s != "null"),
        owner: txt(r, "owner").filter(|s| !s.is_empty()),
        comment: txt(r, "comment").filter(|s| !s.is_empty()),
    }
}

/// Warehouse sizes.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
pub enum WarehouseSize {
    #[serde(rename = "X-Small")]
    XSmall,
    Small,
    Medium,
    Large,
    #[serde(rename = "X-Large")]
    XLarge,
    #[serde(rename = "2X-Large")]
    X2Large,
    #[serde(rename = "3X-Large")]
    X3Large,
    #[serde(rename = "4X-Large")]
    X4Large,
    #[serde(rename = "5X-Large")]
    X5Large,
    #[serde(rename = "6X-Large")]
    X6Large,
}

impl WarehouseSize {
    /// The literal for `WAREHOUSE_SIZE = '…'` (from our table, never from input).
    fn literal(self) -> &'static str {
        match self {
            WarehouseSize::XSmall => "XSMALL",
            WarehouseSize::Small => "SMALL",
            WarehouseSize::Medium => "MEDIUM",
            WarehouseSize::Large => "LARGE",
            WarehouseSize::XLarge => "XLARGE",
            WarehouseSize::X2Large => "XXLARGE",
            WarehouseSize::X3Large => "XXXLARGE",
            WarehouseSize::X4Large => "X4LARGE",
            WarehouseSize::X5Large => "X5LARGE",
            WarehouseSize::X6Large => "X6LARGE",
        }
    }

    /// How SHOW WAREHOUSES spells it.
    fn shown(self) -> &'static str {
        match self {
            WarehouseSize::XSmall => "X-Small",
            WarehouseSize::Small => "Small",
            WarehouseSize::Medium => "Medium",
            WarehouseSize::Large => "Large",
            WarehouseSize::XLarge => "X-Large",
            WarehouseSize::X2Large => "2X-Large",
            WarehouseSize::X3Large => "3X-Large",
            WarehouseSize::X4Large => "4X-Large",
            WarehouseSize::X5Large => "5X-Large",
            WarehouseSize::X6Large => "6X-Large",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WarehouseParams {
    /// Warehouse name, exactly as warehouse_list reports it
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WarehouseUpdateParams {
    /// Warehouse name, exactly as warehouse_list reports it
    pub name: String,
    /// New size
    #[serde(default)]
    pub size: Option<WarehouseSize>,
    /// Seconds of inactivity before it suspends (60 or more; 0 = never)
    #[serde(default)]
    pub auto_suspend_s: Option<u32>,
    /// Resume automatically when a query arrives
    #[serde(default)]
    pub auto_resume: Option<bool>,
}

/// The warehouse after a change, as Snowflake reports it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WarehouseChange {
    pub warehouse: Warehouse,
    /// Requested values Snowflake does not report (yet): e.g. a resize still in progress
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_applied: Vec<String>,
}

impl SnowflakeServer {
    /// Read one warehouse back (SHOW WAREHOUSES, matched by exact name).
    async fn warehouse_get(&self, name: &str, call: &Call) -> Result<Warehouse, ToolError> {
        let page = self
            .run(&Statement::new("SHOW WAREHOUSES"), 10_000, call)
            .await?;
        as_rows(&page)
            .iter()
            .map(warehouse)
            .find(|w| w.name == name)
            .ok_or_else(|| {
                ToolError::NotFound(format!(
                    "warehouse {name} is not visible to this role after the change; call warehouse_list"
                ))
            })
    }

    async fn warehouse_alter(
        &self,
        name: &str,
        action: &str,
        call: &Call,
    ) -> Result<(), ToolError> {
        let stmt = Statement::new(format!(
            "ALTER WAREHOUSE {} {action}",
            quote_ident("warehouse", name)?
        ));
        self.run(&stmt, 10, call).await.map(|_| ())
    }
}

#[tool_router(router = warehouse_router, vis = "pub(crate)")]
impl SnowflakeServer {
    /// List warehouses with state, size, auto-suspend and running/queued load (SHOW WAREHOUSES).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn warehouse_list(
        &self,
        Parameters(p): Parameters<PageParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<List<Warehouse>>, ToolError> {
        let call = Call::new(&ctx);
        let limit = limit(p.limit, 100, 1000, "limit")?;
        let page = self
            .page(
                "warehouse_list",
                || Ok(Statement::new("SHOW WAREHOUSES")),
                limit,
                p.cursor.as_deref(),
                &call,
            )
            .await?;
        let items = as_rows(&page).iter().map(warehouse).collect();
        Ok(Json(self.pack("warehouse_list", &page, items, limit)))
    }

    /// Suspend a warehouse (running queries finish first); returns it as Snowflake reports it.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn warehouse_suspend(
        &self,
        Parameters(p): Parameters<WarehouseParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<WarehouseChange>, ToolError> {
        let call = Call::new(&ctx);
        self.warehouse_alter(&p.name, "SUSPEND", &call).await?;
        let w = self.warehouse_get(&p.name, &call).await?;
        let not_applied = match w.state.as_deref() {
            Some("SUSPENDED") | Some("SUSPENDING") => vec![],
            other => vec![format!("state is {}", other.unwrap_or("unknown"))],
        };
        Ok(Json(WarehouseChange {
            warehouse: w,
            not_applied,
        }))
    }

    /// Resume a suspended warehouse (starts billing); returns it as Snowflake reports it.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn warehouse_resume(
        &self,
        Parameters(p): Parameters<WarehouseParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<WarehouseChange>, ToolError> {
        let call = Call::new(&ctx);
        self.warehouse_alter(&p.name, "RESUME IF SUSPENDED", &call)
            .await?;
        let w = self.warehouse_get(&p.name, &call).await?;
        let not_applied = match w.state.as_deref() {
            Some("STARTED") | Some("RESUMING") => vec![],
            other => vec![format!("state is {}", other.unwrap_or("unknown"))],
        };
        Ok(Json(WarehouseChange {
            warehouse: w,
            not_applied,
        }))
    }

    /// Resize a warehouse and/or set auto-suspend and auto-resume; returns it as Snowflake
    /// reports it after the change.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn warehouse_update(
        &self,
        Parameters(p): Parameters<WarehouseUpdateParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<WarehouseChange>, ToolError> {
        let call = Call::new(&ctx);
        let mut sets = Vec::new();
        if let Some(size) = p.size {
            sets.push(format!("WAREHOUSE_SIZE = '{}'", size.literal()));
        }
        if let Some(s) = p.auto_suspend_s {
            if s != 0 && s < 60 {
                return Err(ToolError::InvalidInput(
                    "auto_suspend_s must be 0 (never) or at least 60".into(),
                ));
            }
            sets.push(format!("AUTO_SUSPEND = {s}"));
        }
        if let Some(r) = p.auto_resume {
            sets.push(format!(
                "AUTO_RESUME = {}",
                if r { "TRUE" } else { "FALSE" }
            ));
        }
        if sets.is_empty() {
            return Err(ToolError::InvalidInput(
                "nothing to change: pass size, auto_suspend_s or auto_resume".into(),
            ));
        }
        self.warehouse_alter(&p.name, &format!("SET {}", sets.join(" ")), &call)
            .await?;
        let w = self.warehouse_get(&p.name, &call).await?;
        let mut not_applied = Vec::new();
        if let Some(size) = p.size {
            let norm = |s: &str| s.replace('-', "").to_uppercase();
            if w.size.as_deref().map(norm) != Some(norm(size.shown())) {
                not_applied.push(format!(
                    "size: asked {}, Snowflake reports {}",
                    size.shown(),
                    w.size.clone().unwrap_or_default()
                ));
            }
        }
        if let Some(s) = p.auto_suspend_s {
            let reported = w.auto_suspend_s.unwrap_or(0);
            if reported != i64::from(s) {
                not_applied.push(format!(
                    "auto_suspend_s: asked {s}, Snowflake reports {reported}"
                ));
            }
        }
        if let Some(r) = p.auto_resume
            && w.auto_resume != Some(r)
        {
            not_applied.push(format!(
                "auto_resume: asked {r}, Snowflake reports {:?}",
                w.auto_resume
            ));
        }
        Ok(Json(WarehouseChange {
            warehouse: w,
            not_applied,
        }))
    }
}
