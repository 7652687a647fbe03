//! Wire types (what Linear returns, as the schema names it) and the small projections our tools
//! return.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// Wire types.

/// A Relay connection: `nodes` and `pageInfo`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection<T> {
    pub nodes: Vec<T>,
    #[serde(default)]
    pub page_info: PageInfo,
}

impl<T> Default for Connection<T> {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            page_info: PageInfo::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    #[serde(default)]
    pub has_next_page: bool,
    #[serde(default)]
    pub end_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WTeam {
    pub id: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WUser {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WState {
    pub id: String,
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub position: Option<f64>,
    #[serde(default)]
    pub team: Option<WTeam>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WLabel {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub team: Option<WTeam>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WProject {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub target_date: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WCycle {
    pub id: String,
    #[serde(default)]
    pub number: Option<f64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub starts_at: Option<String>,
    #[serde(default)]
    pub ends_at: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub team: Option<WTeam>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WIssueRef {
    pub id: String,
    pub identifier: String,
    #[serde(default)]
    pub title: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WComment {
    pub id: String,
    pub body: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub user: Option<WUser>,
    #[serde(default)]
    pub issue: Option<WIssueRef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WRelation {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub issue: Option<WIssueRef>,
    #[serde(default)]
    pub related_issue: Option<WIssueRef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WIssue {
    pub id: String,
    pub identifier: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub priority: Option<f64>,
    #[serde(default)]
    pub priority_label: Option<String>,
    #[serde(default)]
    pub estimate: Option<f64>,
    #[serde(default)]
    pub due_date: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub state: Option<WState>,
    #[serde(default)]
    pub assignee: Option<WUser>,
    #[serde(default)]
    pub team: Option<WTeam>,
    #[serde(default)]
    pub project: Option<WProject>,
    #[serde(default)]
    pub cycle: Option<WCycle>,
    #[serde(default)]
    pub parent: Option<WIssueRef>,
    #[serde(default)]
    pub labels: Option<Connection<WLabel>>,
    #[serde(default)]
    pub comments: Option<Connection<WComment>>,
    #[serde(default)]
    pub relations: Option<Connection<WRelation>>,
    #[serde(default)]
    pub inverse_relations: Option<Connection<WRelation>>,
}

// ---------------------------------------------------------------------------------------------
// Projections.

/// One issue in a list.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IssueSummary {
    pub id: String,
    /// Team key + number, e.g. ENG-123
    pub identifier: String,
    pub title: String,
    /// Workflow state name
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// triage, backlog, unstarted, started, completed or canceled
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_type: Option<String>,
    /// 0 none, 1 urgent, 2 high, 3 medium, 4 low
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee_email: Option<String>,
    /// Team key
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Cycle number
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycle: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate: Option<f64>,
    /// YYYY-MM-DD
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A comment.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CommentOut {
    pub id: String,
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// A relation seen from this issue.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RelationOut {
    pub id: String,
    /// blocks, blocked_by, related, duplicate_of, duplicated_by or similar
    #[serde(rename = "type")]
    pub kind: String,
    /// The other issue's identifier
    pub issue: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// One issue in full.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IssueDetail {
    #[serde(flatten)]
    pub summary: IssueSummary,
    /// Markdown (cut to the response budget; see description_next_offset)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where the rest of the description starts; pass it as description_offset
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description_next_offset: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Parent issue identifier
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default)]
    pub comments: Vec<CommentOut>,
    /// True when more comments exist than are shown
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub comments_truncated: bool,
    #[serde(default)]
    pub relations: Vec<RelationOut>,
}

fn team_key(t: &Option<WTeam>) -> Option<String> {
    t.as_ref()
        .and_then(|t| t.key.clone().or_else(|| t.name.clone()))
}

impl From<&WIssue> for IssueSummary {
    fn from(i: &WIssue) -> Self {
        Self {
            id: i.id.clone(),
            identifier: i.identifier.clone(),
            title: i.title.clone(),
            state: i.state.as_ref().map(|s| s.name.clone()),
            state_type: i.state.as_ref().and_then(|s| s.kind.clone()),
            priority: i.priority.map(|p| p.clamp(0.0, 4.0) as u8),
            assignee: i
                .assignee
                .as_ref()
                .and_then(|u| u.name.clone().or_else(|| u.display_name.clone())),
            assignee_email: i.assignee.as_ref().and_then(|u| u.email.clone()),
            team: team_key(&i.team),
            labels: i
                .labels
                .as_ref()
                .map(|c| c.nodes.iter().map(|l| l.name.clone()).collect())
                .unwrap_or_default(),
            project: i.project.as_ref().map(|p| p.name.clone()),
            cycle: i.cycle.as_ref().and_then(|c| c.number).map(|n| n as u32),
            estimate: i.estimate,
            due_date: i.due_date.clone(),
            updated_at: i.updated_at.clone(),
            url: i.url.clone(),
        }
    }
}

/// Relations seen from the issue: outgoing (`relations`) and incoming (`inverseRelations`).
pub fn relations_of(i: &WIssue) -> Vec<RelationOut> {
    let mut out = Vec::new();
    for r in i.relations.iter().flat_map(|c| c.nodes.iter()) {
        if let Some(other) = &r.related_issue {
            let kind = match r.kind.as_str() {
                "duplicate" => "duplicate_of",
                k => k,
            };
            out.push(RelationOut {
                id: r.id.clone(),
                kind: kind.to_string(),
                issue: other.identifier.clone(),
                title: other.title.clone(),
            });
        }
    }
    for r in i.inverse_relations.iter().flat_map(|c| c.nodes.iter()) {
        if let Some(other) = &r.issue {
            let kind = match r.kind.as_str() {
                "blocks" => "blocked_by",
                "duplicate" => "duplicated_by",
                k => k,
            };
            out.push(RelationOut {
                id: r.id.clone(),
                kind: kind.to_string(),
                issue: other.identifier.clone(),
                title: other.title.clone(),
            });
        }
    }
    out
}

impl From<&WComment> for CommentOut {
    fn from(c: &WComment) -> Self {
        Self {
            id: c.id.clone(),
            body: c.body.clone(),
            author: c.user.as_ref().and_then(|u| u.name.clone()),
            created_at: c.created_at.clone(),
        }
    }
}

/// A team.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TeamOut {
    pub id: String,
    /// Prefix of issue identifiers, e.g. ENG
    pub key: String,
    pub name: String,
}

/// A user.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UserOut {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub active: bool,
}

/// A workflow state.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StateOut {
    pub id: String,
    pub name: String,
    /// triage, backlog, unstarted, started, completed or canceled
    #[serde(rename = "type")]
    pub kind: String,
    /// Team key
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

/// An issue label.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LabelOut {
    pub id: String,
    pub name: String,
    /// Team key; absent for workspace labels
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

/// A project.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProjectOut {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A cycle.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CycleOut {
    pub id: String,
    pub number: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    pub active: bool,
    /// Team key
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

impl From<&WTeam> for TeamOut {
    fn from(t: &WTeam) -> Self {
        Self {
            id: t.id.clone(),
            key: t.key.clone().unwrap_or_default(),
            name: t.name.clone().unwrap_or_default(),
        }
    }
}

impl From<&WUser> for UserOut {
    fn from(u: &WUser) -> Self {
        Self {
            id: u.id.clone(),
            name: u.name.clone().unwrap_or_default(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            active: u.active.unwrap_or(true),
        }
    }
}

impl From<&WState> for StateOut {
    fn from(s: &WState) -> Self {
        Self {
            id: s.id.clone(),
            name: s.name.clone(),
            kind: s.kind.clone().unwrap_or_default(),
            team: team_key(&s.team),
        }
    }
}

impl From<&WLabel> for LabelOut {
    fn from(l: &WLabel) -> Self {
        Self {
            id: l.id.clone(),
            name: l.name.clone(),
            team: team_key(&l.team),
        }
    }
}

impl From<&WProject> for ProjectOut {
    fn from(p: &WProject) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            target_date: p.target_date.clone(),
            url: p.url.clone(),
        }
    }
}

impl From<&WCycle> for CycleOut {
    fn from(c: &WCycle) -> Self {
        Self {
            id: c.id.clone(),
            number: c.number.map(|n| n as u32).unwrap_or_default(),
            name: c.name.clone(),
            starts_at: c.starts_at.clone(),
            ends_at: c.ends_at.clone(),
            active: c.is_active.unwrap_or(false),
            team: team_key(&c.team),
        }
    }
}

/// A list page: `items`, `next_cursor` (absent at the end) and `truncated`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back as `cursor` to continue; absent at the end
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// True when more items exist after this page
    pub truncated: bool,
}
