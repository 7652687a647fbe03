//! issue_list and issue_get.

use mcp_core::{
    Budget, ToolError,
    budget::{cut_text, json_chars},
};
use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{fetch_issue, limit_of, page};
use crate::LinearServer;
use crate::gql;
use crate::model::{CommentOut, IssueDetail, IssueSummary, Page, WIssue, relations_of};

/// Default issues per page.
pub const ISSUE_LIMIT: usize = 25;
/// Most issues per page.
pub const ISSUE_MAX: usize = 100;

/// A workflow state category.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateType {
    Triage,
    Backlog,
    Unstarted,
    Started,
    Completed,
    Canceled,
}

impl StateType {
    fn as_str(self) -> &'static str {
        match self {
            StateType::Triage => "triage",
            StateType::Backlog => "backlog",
            StateType::Unstarted => "unstarted",
            StateType::Started => "started",
            StateType::Completed => "completed",
            StateType::Canceled => "canceled",
        }
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct IssueListParams {
    /// Team key (e.g. ENG), name or id
    #[serde(default)]
    pub team: Option<String>,
    /// "me", "none" (unassigned), an email, a name or a user id
    #[serde(default)]
    pub assignee: Option<String>,
    /// Workflow state name, e.g. "In Progress"
    #[serde(default)]
    pub state: Option<String>,
    /// Workflow state category
    #[serde(default)]
    pub state_type: Option<StateType>,
    /// Label names; issues with any of them
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// Project name or id
    #[serde(default)]
    pub project: Option<String>,
    /// Cycle number, name, id, or "current"
    #[serde(default)]
    pub cycle: Option<String>,
    /// 0 none, 1 urgent, 2 high, 3 medium, 4 low
    #[serde(default)]
    #[schemars(range(min = 0, max = 4))]
    pub priority: Option<u8>,
    /// Only issues updated at or after this ISO 8601 date/time (2026-01-31, 2026-01-31T09:00:00Z)
    /// or duration before now (-P2W)
    #[serde(default)]
    pub updated_since: Option<String>,
    /// Text to find in the title or description (case-insensitive)
    #[serde(default)]
    pub query: Option<String>,
    /// Issues per page (default 25, max 100), most recently updated first
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor from the previous page
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct IssueGetParams {
    /// Identifier (ENG-123) or issue id
    pub issue: String,
    /// Character offset in the description, to read the rest of a long one
    #[serde(default)]
    pub description_offset: Option<usize>,
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl LinearServer {
    /// The IssueFilter for the list parameters, names resolved to ids. Every value is a variable.
    async fn issue_filter(
        &self,
        p: &IssueListParams,
        ct: &CancellationToken,
    ) -> Result<Option<Value>, ToolError> {
        let client = self.client();
        let catalog = self.catalog();
        let mut and: Vec<Value> = Vec::new();
        let mut team_id: Option<String> = None;
        if let Some(t) = non_empty(&p.team) {
            let team = catalog.team(client, ct, t).await?;
            and.push(json!({"team": {"id": {"eq": team.id}}}));
            team_id = Some(team.id);
        }
        if let Some(a) = non_empty(&p.assignee) {
            match a.to_lowercase().as_str() {
                "me" => and.push(json!({"assignee": {"isMe": {"eq": true}}})),
                "none" | "unassigned" => and.push(json!({"assignee": {"null": true}})),
                _ => {
                    let user = catalog.user(client, ct, a).await?;
                    and.push(json!({"assignee": {"id": {"eq": user.id}}}));
                }
            }
        }
        if let Some(s) = non_empty(&p.state) {
            let ids: Vec<String> = catalog
                .states(client, ct, team_id.as_deref(), s)
                .await?
                .into_iter()
                .map(|s| s.id)
                .collect();
            and.push(json!({"state": {"id": {"in": ids}}}));
        }
        if let Some(t) = p.state_type {
            and.push(json!({"state": {"type": {"eq": t.as_str()}}}));
        }
        if let Some(names) = &p.labels {
            let names: Vec<String> = names
                .iter()
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect();
            if !names.is_empty() {
                let ids: Vec<String> = catalog
                    .labels(client, ct, team_id.as_deref(), &names)
                    .await?
                    .into_iter()
                    .map(|l| l.id)
                    .collect();
                and.push(json!({"labels": {"some": {"id": {"in": ids}}}}));
            }
        }
        if let Some(pr) = non_empty(&p.project) {
            let project = catalog.project(client, ct, pr).await?;
            and.push(json!({"project": {"id": {"eq": project.id}}}));
        }
        if let Some(c) = non_empty(&p.cycle) {
            let ids: Vec<String> = catalog
                .cycles(client, ct, team_id.as_deref(), c)
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect();
            and.push(json!({"cycle": {"id": {"in": ids}}}));
        }
        if let Some(pr) = p.priority {
            if pr > 4 {
                return Err(ToolError::InvalidInput(
                    "priority is 0 (none), 1 (urgent), 2 (high), 3 (medium) or 4 (low)".into(),
                ));
            }
            and.push(json!({"priority": {"eq": pr}}));
        }
        if let Some(since) = non_empty(&p.updated_since) {
            and.push(json!({"updatedAt": {"gte": since}}));
        }
        if let Some(q) = non_empty(&p.query) {
            and.push(json!({"or": [
                {"title": {"containsIgnoreCase": q}},
                {"description": {"containsIgnoreCase": q}},
            ]}));
        }
        Ok((!and.is_empty()).then(|| json!({ "and": and })))
    }
}

/// The issue in full, cut to the budget: the description from `offset`, then as many comments
/// as fit.
pub(crate) fn detail(issue: &WIssue, budget: Budget, offset: usize) -> IssueDetail {
    let description_room = budget.item_chars() / 2;
    let (description, description_next_offset) = match &issue.description {
        Some(d) => {
            let slice = cut_text(d, offset, description_room);
            (Some(slice.text), slice.next_offset)
        }
        None => (None, None),
    };
    let mut out = IssueDetail {
        summary: IssueSummary::from(issue),
        description,
        description_next_offset,
        created_at: issue.created_at.clone(),
        parent: issue.parent.as_ref().map(|p| p.identifier.clone()),
        comments: Vec::new(),
        comments_truncated: false,
        relations: relations_of(issue),
    };
    let comments: Vec<CommentOut> = issue
        .comments
        .iter()
        .flat_map(|c| c.nodes.iter())
        .map(CommentOut::from)
        .collect();
    let used = json_chars(&out);
    let room = budget.item_chars().saturating_sub(used);
    let total = comments.len();
    let packed = Budget::pack(room, total.max(1), comments);
    // A first comment larger than the room is not shown at all.
    let fits: Vec<CommentOut> = if packed.items.len() == 1 && json_chars(&packed.items) > room {
        Vec::new()
    } else {
        packed.items
    };
    out.comments_truncated = fits.len() < total
        || issue
            .comments
            .as_ref()
            .is_some_and(|c| c.page_info.has_next_page);
    out.comments = fits;
    // Escaped characters can make the JSON larger than the character counts above: shrink until
    // the whole result fits (comments first, then the description, then relations).
    while json_chars(&out) > budget.item_chars() {
        if out.comments.pop().is_some() {
            out.comments_truncated = true;
        } else if let Some(d) = out.description.as_mut().filter(|d| d.chars().count() > 64) {
            let keep = d.chars().count() / 2;
            *d = d.chars().take(keep).collect();
            out.description_next_offset = Some(offset + keep);
        } else if out.relations.pop().is_none() {
            break;
        }
    }
    out
}

#[tool_router(router = issue_router, vis = "pub(crate)")]
impl LinearServer {
    /// List Linear issues, most recently updated first, filtered by team, assignee ("me"), state
    /// or state type, labels, project, cycle, priority, update time and text. Names are resolved;
    /// pages with cursor.
    #[tool(
        title = "List issues",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn issue_list(
        &self,
        Parameters(p): Parameters<IssueListParams>,
        ct: CancellationToken,
    ) -> Result<Json<Page<IssueSummary>>, ToolError> {
        let limit = limit_of(p.limit, ISSUE_LIMIT, ISSUE_MAX)?;
        let filter = self.issue_filter(&p, &ct).await?;
        let page = page(
            self,
            &gql::ISSUE_LIST,
            "issues",
            "issue_list",
            filter,
            limit,
            p.cursor.as_deref(),
            &ct,
            |i: &WIssue| IssueSummary::from(i),
        )
        .await?;
        Ok(Json(page))
    }

    /// Get one Linear issue by identifier (ENG-123) or id: description, state, assignee, labels,
    /// project, cycle, parent, comments and relations.
    #[tool(
        title = "Get an issue",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn issue_get(
        &self,
        Parameters(p): Parameters<IssueGetParams>,
        ct: CancellationToken,
    ) -> Result<Json<IssueDetail>, ToolError> {
        let issue = fetch_issue(self, &p.issue, &ct).await?;
        Ok(Json(detail(
            &issue,
            self.budget(),
            p.description_offset.unwrap_or(0),
        )))
    }
}
