//! team_list, user_list, workflow_state_list, label_list, project_list, cycle_list.

use mcp_core::ToolError;
use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{limit_of, page};
use crate::LinearServer;
use crate::gql;
use crate::model::{
    CycleOut, LabelOut, Page, ProjectOut, StateOut, TeamOut, UserOut, WCycle, WLabel, WProject,
    WState, WTeam, WUser,
};

/// Default items per page of these lists.
pub const LIST_LIMIT: usize = 50;
/// Most items per page.
pub const LIST_MAX: usize = 250;

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ListParams {
    /// Items per page (default 50, max 250)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor from the previous page
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct UserListParams {
    /// Text to find in the name, display name or email (case-insensitive)
    #[serde(default)]
    pub query: Option<String>,
    /// Items per page (default 50, max 250)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor from the previous page
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct TeamListParams {
    /// Team key (e.g. ENG), name or id; all teams when absent
    #[serde(default)]
    pub team: Option<String>,
    /// Items per page (default 50, max 250)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor from the previous page
    #[serde(default)]
    pub cursor: Option<String>,
}

impl LinearServer {
    async fn team_id(
        &self,
        team: &Option<String>,
        ct: &CancellationToken,
    ) -> Result<Option<String>, ToolError> {
        match team.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => Ok(Some(self.catalog().team(self.client(), ct, t).await?.id)),
            None => Ok(None),
        }
    }
}

#[tool_router(router = list_router, vis = "pub(crate)")]
impl LinearServer {
    /// List the workspace's teams: key (the prefix of issue identifiers), name, id.
    #[tool(
        title = "List teams",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn team_list(
        &self,
        Parameters(p): Parameters<ListParams>,
        ct: CancellationToken,
    ) -> Result<Json<Page<TeamOut>>, ToolError> {
        let limit = limit_of(p.limit, LIST_LIMIT, LIST_MAX)?;
        let page = page(
            self,
            &gql::TEAMS,
            "teams",
            "team_list",
            None,
            limit,
            p.cursor.as_deref(),
            &ct,
            |t: &WTeam| TeamOut::from(t),
        )
        .await?;
        Ok(Json(page))
    }

    /// List the workspace's users (name, email, active), optionally matching a text.
    #[tool(
        title = "List users",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn user_list(
        &self,
        Parameters(p): Parameters<UserListParams>,
        ct: CancellationToken,
    ) -> Result<Json<Page<UserOut>>, ToolError> {
        let limit = limit_of(p.limit, LIST_LIMIT, LIST_MAX)?;
        let filter = p
            .query
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(|q| {
                json!({"or": [
                    {"name": {"containsIgnoreCase": q}},
                    {"displayName": {"containsIgnoreCase": q}},
                    {"email": {"containsIgnoreCase": q}},
                ]})
            });
        let page = page(
            self,
            &gql::USERS,
            "users",
            "user_list",
            filter,
            limit,
            p.cursor.as_deref(),
            &ct,
            |u: &WUser| UserOut::from(u),
        )
        .await?;
        Ok(Json(page))
    }

    /// List workflow states (name, type, team), of one team or all.
    #[tool(
        title = "List workflow states",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn workflow_state_list(
        &self,
        Parameters(p): Parameters<TeamListParams>,
        ct: CancellationToken,
    ) -> Result<Json<Page<StateOut>>, ToolError> {
        let limit = limit_of(p.limit, LIST_LIMIT, LIST_MAX)?;
        let filter = self
            .team_id(&p.team, &ct)
            .await?
            .map(|id| json!({"team": {"id": {"eq": id}}}));
        let page = page(
            self,
            &gql::WORKFLOW_STATES,
            "workflowStates",
            "workflow_state_list",
            filter,
            limit,
            p.cursor.as_deref(),
            &ct,
            |s: &WState| StateOut::from(s),
        )
        .await?;
        Ok(Json(page))
    }

    /// List issue labels: a team's own plus workspace labels, or all.
    #[tool(
        title = "List labels",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn label_list(
        &self,
        Parameters(p): Parameters<TeamListParams>,
        ct: CancellationToken,
    ) -> Result<Json<Page<LabelOut>>, ToolError> {
        let limit = limit_of(p.limit, LIST_LIMIT, LIST_MAX)?;
        let filter: Option<Value> = self
            .team_id(&p.team, &ct)
            .await?
            .map(|id| json!({"or": [{"team": {"id": {"eq": id}}}, {"team": {"null": true}}]}));
        let page = page(
            self,
            &gql::LABELS,
            "issueLabels",
            "label_list",
            filter,
            limit,
            p.cursor.as_deref(),
            &ct,
            |l: &WLabel| LabelOut::from(l),
        )
        .await?;
        Ok(Json(page))
    }

    /// List projects (name, target date, url).
    #[tool(
        title = "List projects",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn project_list(
        &self,
        Parameters(p): Parameters<ListParams>,
        ct: CancellationToken,
    ) -> Result<Json<Page<ProjectOut>>, ToolError> {
        let limit = limit_of(p.limit, LIST_LIMIT, LIST_MAX)?;
        let page = page(
            self,
            &gql::PROJECTS,
            "projects",
            "project_list",
            None,
            limit,
            p.cursor.as_deref(),
            &ct,
            |p: &WProject| ProjectOut::from(p),
        )
        .await?;
        Ok(Json(page))
    }

    /// List cycles (number, name, dates, whether active), of one team or all.
    #[tool(
        title = "List cycles",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cycle_list(
        &self,
        Parameters(p): Parameters<TeamListParams>,
        ct: CancellationToken,
    ) -> Result<Json<Page<CycleOut>>, ToolError> {
        let limit = limit_of(p.limit, LIST_LIMIT, LIST_MAX)?;
        let filter = self
            .team_id(&p.team, &ct)
            .await?
            .map(|id| json!({"team": {"id": {"eq": id}}}));
        let page = page(
            self,
            &gql::CYCLES,
            "cycles",
            "cycle_list",
            filter,
            limit,
            p.cursor.as_deref(),
            &ct,
            |c: &WCycle| CycleOut::from(c),
        )
        .await?;
        Ok(Json(page))
    }
}
