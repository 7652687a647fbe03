//! pipeline_list, owner_list, property_list.

use mcp_core::{
    Budget, ToolError,
    budget::{decode_cursor, encode_cursor},
};
use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{Page, limit_of, object_type};
use crate::HubSpotServer;
use crate::client::seg;
use crate::model::{WList, parse};

/// Default items per page of these lists.
pub const LIST_LIMIT: usize = 50;
/// Most items per page.
pub const LIST_MAX: usize = 200;
/// HubSpot's largest owners page.
const OWNERS_PAGE_MAX: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WStage {
    pub id: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub display_order: Option<i64>,
    #[serde(default)]
    pub metadata: serde_json::Map<String, Value>,
    #[serde(default)]
    pub archived: bool,
}

impl WStage {
    fn meta_text(&self, k: &str) -> Option<String> {
        match self.metadata.get(k)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// `metadata.probability` ("0.2" in v3; a number elsewhere), within 0..=1.
    pub fn probability(&self) -> Option<f64> {
        self.meta_text("probability")?
            .parse::<f64>()
            .ok()
            .filter(|p| (0.0..=1.0).contains(p))
    }

    pub fn is_closed(&self) -> Option<bool> {
        self.meta_text("isClosed").map(|s| s == "true")
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WPipeline {
    pub id: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub display_order: Option<i64>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub stages: Vec<WStage>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StageOut {
    pub id: String,
    pub label: String,
    /// Win probability 0..1 (deal stages)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_closed: Option<bool>,
    /// OPEN or CLOSED (ticket stages)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_state: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PipelineOut {
    pub id: String,
    pub label: String,
    /// Stages in display order
    pub stages: Vec<StageOut>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PipelineParams {
    /// deals (default) or tickets
    #[serde(default)]
    pub object_type: Option<String>,
    /// Pipelines per page (default 50, max 200)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor from the previous page
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct OwnerParams {
    /// Only the owner with this email
    #[serde(default)]
    pub email: Option<String>,
    /// Owners per page (default 50, max 200)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor from the previous page
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct OwnerOut {
    /// The owner id (the value of hubspot_owner_id)
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PropertyParams {
    /// contacts, companies, deals, tickets, or a custom object type id (2-…)
    pub object_type: String,
    /// Text to find in the name or label (case-insensitive)
    #[serde(default)]
    pub query: Option<String>,
    /// Only custom (not HubSpot-defined) properties
    #[serde(default)]
    pub custom_only: Option<bool>,
    /// Properties per page (default 50, max 200)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor from the previous page
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PropertyOut {
    /// Internal name, used in filters and writes
    pub name: String,
    pub label: String,
    /// string, number, date, datetime, enumeration, bool …
    #[serde(rename = "type")]
    pub kind: String,
    pub field_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Created in this account (not HubSpot-defined)
    pub custom: bool,
    /// Cannot be written through the API (calculated or read-only)
    pub read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Allowed values of an enumeration (first 50)
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WProperty {
    name: String,
    #[serde(default)]
    label: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    field_type: String,
    #[serde(default)]
    group_name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    hubspot_defined: Option<bool>,
    #[serde(default)]
    calculated: Option<bool>,
    #[serde(default)]
    modification_metadata: Option<Value>,
    #[serde(default)]
    options: Vec<Value>,
    #[serde(default)]
    hidden: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WOwner {
    #[serde(deserialize_with = "id_string")]
    id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    teams: Vec<Value>,
}

fn id_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(serde::de::Error::custom("expected an id")),
    }
}

/// Offset paging over a list HubSpot returns whole.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Offset {
    o: usize,
}

/// Owners paging: HubSpot's `after` plus items already shown after it.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Pos {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<String>,
    #[serde(default)]
    s: usize,
}

fn page_of<T: Serialize>(
    budget: Budget,
    kind: &str,
    all: Vec<T>,
    offset: usize,
    limit: usize,
) -> Page<T> {
    let total = all.len();
    let packed = Budget::pack(budget.item_chars(), limit, all.into_iter().skip(offset));
    let shown = packed.items.len();
    let next_cursor =
        (offset + shown < total).then(|| encode_cursor(kind, &Offset { o: offset + shown }));
    Page {
        items: packed.items,
        truncated: next_cursor.is_some(),
        next_cursor,
    }
}

impl HubSpotServer {
    /// All pipelines of `ty` as HubSpot returns them.
    pub(crate) async fn pipelines(
        &self,
        ty: &str,
        ct: &CancellationToken,
    ) -> Result<Vec<WPipeline>, ToolError> {
        let path = format!("/crm/v3/pipelines/{}", seg(ty));
        let a = self.client().get(&path, &[], ct).await?;
        let list: WList<WPipeline> = parse(a.body, "pipelines")?;
        Ok(list.results)
    }
}

#[tool_router(router = meta_router, vis = "pub(crate)")]
impl HubSpotServer {
    /// List the deal (or ticket) pipelines and their stages with ids, labels and deal stage
    /// win probabilities.
    #[tool(
        title = "List pipelines and stages",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn pipeline_list(
        &self,
        Parameters(p): Parameters<PipelineParams>,
        ct: CancellationToken,
    ) -> Result<Json<Page<PipelineOut>>, ToolError> {
        let ty = object_type(p.object_type.as_deref().unwrap_or("deals"))?;
        let limit = limit_of(p.limit, LIST_LIMIT, LIST_MAX)?;
        let offset = match p.cursor.as_deref().filter(|c| !c.trim().is_empty()) {
            Some(c) => decode_cursor::<Offset>("pipeline_list", c)?.o,
            None => 0,
        };
        let mut pipelines = self.pipelines(&ty, &ct).await?;
        pipelines.retain(|p| !p.archived);
        pipelines.sort_by_key(|p| p.display_order.unwrap_or(i64::MAX));
        let out: Vec<PipelineOut> = pipelines
            .into_iter()
            .map(|mut p| {
                p.stages.retain(|s| !s.archived);
                p.stages
                    .sort_by_key(|s| s.display_order.unwrap_or(i64::MAX));
                PipelineOut {
                    id: p.id,
                    label: p.label,
                    stages: p
                        .stages
                        .iter()
                        .map(|s| StageOut {
                            id: s.id.clone(),
                            label: s.label.clone(),
                            probability: s.probability(),
                            is_closed: s.is_closed(),
                            ticket_state: s.meta_text("ticketState"),
                        })
                        .collect(),
                }
            })
            .collect();
        Ok(Json(page_of(
            self.budget(),
            "pipeline_list",
            out,
            offset,
            limit,
        )))
    }

    /// List the account's owners (the people deals, contacts and tickets are assigned to):
    /// owner id, email, name, teams.
    #[tool(
        title = "List owners",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn owner_list(
        &self,
        Parameters(p): Parameters<OwnerParams>,
        ct: CancellationToken,
    ) -> Result<Json<Page<OwnerOut>>, ToolError> {
        let limit = limit_of(p.limit, LIST_LIMIT, LIST_MAX)?;
        let pos: Pos = match p.cursor.as_deref().filter(|c| !c.trim().is_empty()) {
            Some(c) => decode_cursor("owner_list", c)?,
            None => Pos::default(),
        };
        let mut query: Vec<(&str, String)> = vec![
            ("limit", (pos.s + limit).min(OWNERS_PAGE_MAX).to_string()),
            ("archived", "false".into()),
        ];
        if let Some(a) = &pos.a {
            query.push(("after", a.clone()));
        }
        if let Some(e) = p.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            query.push(("email", e.to_string()));
        }
        let a = self.client().get("/crm/v3/owners", &query, &ct).await?;
        let list: WList<WOwner> = parse(a.body, "owners")?;
        let fetched = list.results.len();
        let next_after = list.next_after();
        let items: Vec<OwnerOut> = list
            .results
            .into_iter()
            .skip(pos.s)
            .map(|o| {
                let name = [o.first_name, o.last_name]
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                OwnerOut {
                    id: o.id,
                    email: o.email.filter(|e| !e.is_empty()),
                    name: (!name.is_empty()).then_some(name),
                    teams: o
                        .teams
                        .iter()
                        .filter_map(|t| t.get("name").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect(),
                }
            })
            .collect();
        let packed = Budget::pack(self.budget().item_chars(), limit, items);
        let shown = packed.items.len();
        let next = if pos.s + shown < fetched {
            Some(Pos {
                a: pos.a,
                s: pos.s + shown,
            })
        } else {
            next_after.map(|a| Pos { a: Some(a), s: 0 })
        };
        let next_cursor = next.map(|n| encode_cursor("owner_list", &n));
        Ok(Json(Page {
            items: packed.items,
            truncated: next_cursor.is_some(),
            next_cursor,
        }))
    }

    /// List an object type's properties (custom ones included): internal name, label, type,
    /// enumeration options, whether custom or read-only. Use the names in filters and writes.
    #[tool(
        title = "List properties",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn property_list(
        &self,
        Parameters(p): Parameters<PropertyParams>,
        ct: CancellationToken,
    ) -> Result<Json<Page<PropertyOut>>, ToolError> {
        let ty = object_type(&p.object_type)?;
        let limit = limit_of(p.limit, LIST_LIMIT, LIST_MAX)?;
        let offset = match p.cursor.as_deref().filter(|c| !c.trim().is_empty()) {
            Some(c) => decode_cursor::<Offset>("property_list", c)?.o,
            None => 0,
        };
        let path = format!("/crm/v3/properties/{}", seg(&ty));
        let a = self
            .client()
            .get(&path, &[("archived", "false".into())], &ct)
            .await?;
        let list: WList<WProperty> = parse(a.body, "properties")?;
        let needle = p
            .query
            .as_deref()
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty());
        let custom_only = p.custom_only.unwrap_or(false);
        let mut out: Vec<PropertyOut> = list
            .results
            .into_iter()
            .filter(|w| !w.hidden.unwrap_or(false))
            .map(|w| {
                let read_only = w.calculated.unwrap_or(false)
                    || w.modification_metadata
                        .as_ref()
                        .and_then(|m| m.get("readOnlyValue"))
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                PropertyOut {
                    custom: !w.hubspot_defined.unwrap_or(false),
                    read_only,
                    description: w
                        .description
                        .filter(|d| !d.trim().is_empty())
                        .map(|d| d.chars().take(200).collect()),
                    options: w
                        .options
                        .iter()
                        .filter_map(|o| o.get("value").and_then(Value::as_str))
                        .take(50)
                        .map(str::to_string)
                        .collect(),
                    name: w.name,
                    label: w.label,
                    kind: w.kind,
                    field_type: w.field_type,
                    group: w.group_name,
                }
            })
            .filter(|p| !custom_only || p.custom)
            .filter(|p| {
                needle.as_ref().is_none_or(|n| {
                    p.name.to_lowercase().contains(n) || p.label.to_lowercase().contains(n)
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Json(page_of(
            self.budget(),
            "property_list",
            out,
            offset,
            limit,
        )))
    }
}
