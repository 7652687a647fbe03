//! issue_create, issue_update, comment_create, issue_relation_create.
//!
//! Every write resolves names to ids first (a wrong name fails before anything is written), sends
//! one mutation (never retried: a repeated create would duplicate the issue), then reads the
//! result back and reports each requested field that Linear did not store in `not_applied`,
//! instead of claiming success.

use std::collections::BTreeSet;

use mcp_core::ToolError;
use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::fetch_issue;
use crate::LinearServer;
use crate::catalog::malformed;
use crate::gql;
use crate::model::{CommentOut, IssueSummary, WComment, WIssue, WRelation};

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct IssueCreateParams {
    /// Team key (e.g. ENG), name or id
    pub team: String,
    pub title: String,
    /// Markdown
    #[serde(default)]
    pub description: Option<String>,
    /// Workflow state name (default: the team's first backlog or triage state)
    #[serde(default)]
    pub state: Option<String>,
    /// "me", an email, a name or a user id
    #[serde(default)]
    pub assignee: Option<String>,
    /// Label names
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// 0 none, 1 urgent, 2 high, 3 medium, 4 low
    #[serde(default)]
    #[schemars(range(min = 0, max = 4))]
    pub priority: Option<u8>,
    /// Estimate points
    #[serde(default)]
    pub estimate: Option<i64>,
    /// Project name or id
    #[serde(default)]
    pub project: Option<String>,
    /// Cycle number, name, id, or "current"
    #[serde(default)]
    pub cycle: Option<String>,
    /// YYYY-MM-DD
    #[serde(default)]
    pub due_date: Option<String>,
    /// Parent issue identifier (ENG-100) or id
    #[serde(default)]
    pub parent: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct IssueUpdateParams {
    /// Identifier (ENG-123) or issue id
    pub issue: String,
    #[serde(default)]
    pub title: Option<String>,
    /// Markdown; replaces the description
    #[serde(default)]
    pub description: Option<String>,
    /// Workflow state name of the issue's team, e.g. "In Progress"
    #[serde(default)]
    pub state: Option<String>,
    /// "me", "none" (unassign), an email, a name or a user id
    #[serde(default)]
    pub assignee: Option<String>,
    /// Label names; replaces all labels ([] removes them all)
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// Label names to add, keeping the others
    #[serde(default)]
    pub add_labels: Option<Vec<String>>,
    /// Label names to remove
    #[serde(default)]
    pub remove_labels: Option<Vec<String>>,
    /// 0 none, 1 urgent, 2 high, 3 medium, 4 low
    #[serde(default)]
    #[schemars(range(min = 0, max = 4))]
    pub priority: Option<u8>,
    /// Estimate points
    #[serde(default)]
    pub estimate: Option<i64>,
    /// Project name or id, or "none" to remove it from its project
    #[serde(default)]
    pub project: Option<String>,
    /// Cycle number, name, id, "current", or "none"
    #[serde(default)]
    pub cycle: Option<String>,
    /// YYYY-MM-DD, or "none" to clear
    #[serde(default)]
    pub due_date: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CommentCreateParams {
    /// Identifier (ENG-123) or issue id
    pub issue: String,
    /// Markdown
    pub body: String,
}

/// How the issue relates to the other one.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// issue blocks related_issue
    Blocks,
    /// issue is blocked by related_issue
    BlockedBy,
    /// the two are related
    Related,
    /// issue is a duplicate of related_issue
    #[serde(alias = "duplicate_of")]
    Duplicate,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RelationCreateParams {
    /// Identifier (ENG-123) or issue id
    pub issue: String,
    /// blocks, blocked_by, related or duplicate (issue is a duplicate of related_issue)
    #[serde(rename = "type")]
    pub kind: RelationKind,
    /// The other issue: identifier or id
    pub related_issue: String,
}

/// A requested field that Linear did not store.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NotApplied {
    pub field: String,
    pub requested: String,
    /// What Linear stored instead (absent: nothing)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<String>,
}

/// An issue as Linear stored it after the write.
#[derive(Debug, Serialize, JsonSchema)]
pub struct IssueWriteOut {
    pub issue: IssueSummary,
    /// Requested fields Linear stored as asked
    pub applied: Vec<String>,
    /// Requested fields Linear did not store; empty when everything took
    pub not_applied: Vec<NotApplied>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// A comment as Linear stored it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CommentWriteOut {
    pub comment: CommentOut,
    /// The issue's identifier
    pub issue: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub not_applied: Vec<NotApplied>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// A relation as Linear stored it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RelationWriteOut {
    pub id: String,
    pub issue: String,
    /// blocks, blocked_by, related or duplicate
    #[serde(rename = "type")]
    pub kind: String,
    pub related_issue: String,
    pub not_applied: Vec<NotApplied>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// What a field should read after the write.
enum Want {
    Title(String),
    Description(String),
    State(String),
    Assignee(Option<String>),
    Labels(BTreeSet<String>),
    Priority(u8),
    Estimate(i64),
    Project(Option<String>),
    Cycle(Option<String>),
    DueDate(Option<String>),
    Parent(String),
}

struct Expect {
    field: &'static str,
    requested: String,
    want: Want,
}

impl Expect {
    /// None when the issue holds what was asked; else what it holds.
    fn stored_if_different(&self, i: &WIssue) -> Option<Option<String>> {
        let (ok, stored) = match &self.want {
            Want::Title(t) => (i.title == *t, Some(i.title.clone())),
            Want::Description(d) => (
                i.description.as_deref().map(str::trim) == Some(d.trim())
                    || (d.trim().is_empty() && i.description.as_deref().is_none_or(str::is_empty)),
                i.description.clone(),
            ),
            Want::State(id) => (
                i.state.as_ref().is_some_and(|s| s.id == *id),
                i.state.as_ref().map(|s| s.name.clone()),
            ),
            Want::Assignee(id) => (
                i.assignee.as_ref().map(|u| &u.id) == id.as_ref(),
                i.assignee
                    .as_ref()
                    .map(|u| u.email.clone().or(u.name.clone()).unwrap_or(u.id.clone())),
            ),
            Want::Labels(ids) => {
                let nodes = i.labels.as_ref().map(|c| c.nodes.as_slice()).unwrap_or(&[]);
                let have: BTreeSet<String> = nodes.iter().map(|l| l.id.clone()).collect();
                (
                    have == *ids,
                    Some(
                        nodes
                            .iter()
                            .map(|l| l.name.clone())
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                )
            }
            Want::Priority(p) => (
                i.priority.map(|x| x.round() as i64) == Some(*p as i64),
                i.priority.map(|x| x.to_string()),
            ),
            Want::Estimate(e) => (
                i.estimate.map(|x| x.round() as i64) == Some(*e),
                i.estimate.map(|x| x.to_string()),
            ),
            Want::Project(id) => (
                i.project.as_ref().map(|p| &p.id) == id.as_ref(),
                i.project.as_ref().map(|p| p.name.clone()),
            ),
            Want::Cycle(id) => (
                i.cycle.as_ref().map(|c| &c.id) == id.as_ref(),
                i.cycle.as_ref().map(|c| {
                    c.number
                        .map(|n| (n as u32).to_string())
                        .unwrap_or(c.id.clone())
                }),
            ),
            Want::DueDate(d) => (
                i.due_date.as_deref().map(|s| s.get(..10).unwrap_or(s)) == d.as_deref(),
                i.due_date.clone(),
            ),
            Want::Parent(id) => (
                i.parent.as_ref().is_some_and(|p| p.id == *id),
                i.parent.as_ref().map(|p| p.identifier.clone()),
            ),
        };
        if ok { None } else { Some(stored) }
    }
}

fn report(issue: &WIssue, expects: &[Expect]) -> IssueWriteOut {
    let mut applied = Vec::new();
    let mut not_applied = Vec::new();
    for e in expects {
        match e.stored_if_different(issue) {
            None => applied.push(e.field.to_string()),
            Some(stored) => not_applied.push(NotApplied {
                field: e.field.to_string(),
                requested: e.requested.clone(),
                stored,
            }),
        }
    }
    let warning = warning_for(&not_applied);
    IssueWriteOut {
        issue: IssueSummary::from(issue),
        applied,
        not_applied,
        warning,
    }
}

fn warning_for(not_applied: &[NotApplied]) -> Option<String> {
    (!not_applied.is_empty()).then(|| {
        format!(
            "Linear did not store {} of the requested fields: {}",
            not_applied.len(),
            not_applied
                .iter()
                .map(|n| n.field.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

fn is_none_word(s: &str) -> bool {
    matches!(s.trim().to_lowercase().as_str(), "none" | "null" | "")
}

fn check_priority(p: u8) -> Result<(), ToolError> {
    if p > 4 {
        return Err(ToolError::InvalidInput(
            "priority is 0 (none), 1 (urgent), 2 (high), 3 (medium) or 4 (low)".into(),
        ));
    }
    Ok(())
}

fn check_date(d: &str) -> Result<String, ToolError> {
    let d = d.trim();
    let ok = d.len() == 10
        && d.chars().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !ok {
        return Err(ToolError::InvalidInput(format!(
            "due_date {d:?} is not a date; use YYYY-MM-DD"
        )));
    }
    Ok(d.to_string())
}

/// The `success` flag and the created entity's id from a mutation payload.
fn payload_id(data: &Value, root: &str, entity: &str) -> Result<String, ToolError> {
    let payload = data
        .get(root)
        .filter(|v| !v.is_null())
        .ok_or_else(|| malformed(format!("no `{root}` in the answer")))?;
    if payload.get("success").and_then(Value::as_bool) != Some(true) {
        return Err(ToolError::Upstream {
            service: crate::client::SERVICE,
            detail: format!("{root} answered success: false; nothing was changed"),
            retryable: false,
        });
    }
    payload
        .pointer(&format!("/{entity}/id"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| malformed(format!("`{root}.{entity}.id` is missing")))
}

impl LinearServer {
    /// Resolve the optional fields shared by create and update into `input` and expectations.
    #[allow(clippy::too_many_arguments)]
    async fn common_fields(
        &self,
        ct: &CancellationToken,
        team_id: &str,
        input: &mut Map<String, Value>,
        expects: &mut Vec<Expect>,
        state: Option<&str>,
        assignee: Option<&str>,
        priority: Option<u8>,
        estimate: Option<i64>,
        project: Option<&str>,
        cycle: Option<&str>,
        due_date: Option<&str>,
    ) -> Result<(), ToolError> {
        let client = self.client();
        let catalog = self.catalog();
        if let Some(s) = state {
            let st = catalog
                .states(client, ct, Some(team_id), s)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| ToolError::Internal("no state".into()))?;
            input.insert("stateId".into(), json!(st.id));
            expects.push(Expect {
                field: "state",
                requested: st.name.clone(),
                want: Want::State(st.id),
            });
        }
        if let Some(a) = assignee {
            if is_none_word(a) || a.trim().eq_ignore_ascii_case("unassigned") {
                input.insert("assigneeId".into(), Value::Null);
                expects.push(Expect {
                    field: "assignee",
                    requested: "none".into(),
                    want: Want::Assignee(None),
                });
            } else {
                let u = catalog.user(client, ct, a).await?;
                input.insert("assigneeId".into(), json!(u.id));
                expects.push(Expect {
                    field: "assignee",
                    requested: u.email.clone().or(u.name.clone()).unwrap_or(u.id.clone()),
                    want: Want::Assignee(Some(u.id)),
                });
            }
        }
        if let Some(p) = priority {
            check_priority(p)?;
            input.insert("priority".into(), json!(p));
            expects.push(Expect {
                field: "priority",
                requested: p.to_string(),
                want: Want::Priority(p),
            });
        }
        if let Some(e) = estimate {
            input.insert("estimate".into(), json!(e));
            expects.push(Expect {
                field: "estimate",
                requested: e.to_string(),
                want: Want::Estimate(e),
            });
        }
        if let Some(p) = project {
            if is_none_word(p) {
                input.insert("projectId".into(), Value::Null);
                expects.push(Expect {
                    field: "project",
                    requested: "none".into(),
                    want: Want::Project(None),
                });
            } else {
                let pr = catalog.project(client, ct, p).await?;
                input.insert("projectId".into(), json!(pr.id));
                expects.push(Expect {
                    field: "project",
                    requested: pr.name.clone(),
                    want: Want::Project(Some(pr.id)),
                });
            }
        }
        if let Some(c) = cycle {
            if is_none_word(c) {
                input.insert("cycleId".into(), Value::Null);
                expects.push(Expect {
                    field: "cycle",
                    requested: "none".into(),
                    want: Want::Cycle(None),
                });
            } else {
                let cy = catalog
                    .cycles(client, ct, Some(team_id), c)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(|| ToolError::Internal("no cycle".into()))?;
                input.insert("cycleId".into(), json!(cy.id));
                expects.push(Expect {
                    field: "cycle",
                    requested: cy
                        .number
                        .map(|n| (n as u32).to_string())
                        .unwrap_or(c.to_string()),
                    want: Want::Cycle(Some(cy.id)),
                });
            }
        }
        if let Some(d) = due_date {
            if is_none_word(d) {
                input.insert("dueDate".into(), Value::Null);
                expects.push(Expect {
                    field: "due_date",
                    requested: "none".into(),
                    want: Want::DueDate(None),
                });
            } else {
                let d = check_date(d)?;
                input.insert("dueDate".into(), json!(d));
                expects.push(Expect {
                    field: "due_date",
                    requested: d.clone(),
                    want: Want::DueDate(Some(d)),
                });
            }
        }
        Ok(())
    }

    /// Label ids for names in the issue's team.
    async fn label_ids(
        &self,
        ct: &CancellationToken,
        team_id: &str,
        names: &[String],
    ) -> Result<Vec<(String, String)>, ToolError> {
        let names: Vec<String> = names
            .iter()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .catalog()
            .labels(self.client(), ct, Some(team_id), &names)
            .await?
            .into_iter()
            .map(|l| (l.id, l.name))
            .collect())
    }
}

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref()
}

#[tool_router(router = write_router, vis = "pub(crate)")]
impl LinearServer {
    /// Create a Linear issue in a team (by key). State, assignee, labels, project and cycle are
    /// given by name. Returns the issue as Linear stored it and any field that did not take.
    #[tool(
        title = "Create an issue",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn issue_create(
        &self,
        Parameters(p): Parameters<IssueCreateParams>,
        ct: CancellationToken,
    ) -> Result<Json<IssueWriteOut>, ToolError> {
        if p.title.trim().is_empty() {
            return Err(ToolError::InvalidInput("title is empty".into()));
        }
        let team = self.catalog().team(self.client(), &ct, &p.team).await?;
        let mut input = Map::new();
        let mut expects = Vec::new();
        input.insert("teamId".into(), json!(team.id));
        input.insert("title".into(), json!(p.title));
        expects.push(Expect {
            field: "title",
            requested: p.title.clone(),
            want: Want::Title(p.title.clone()),
        });
        if let Some(d) = &p.description {
            input.insert("description".into(), json!(d));
            expects.push(Expect {
                field: "description",
                requested: mcp_core::budget::cut_text(d, 0, 80).text,
                want: Want::Description(d.clone()),
            });
        }
        self.common_fields(
            &ct,
            &team.id,
            &mut input,
            &mut expects,
            opt(&p.state),
            opt(&p.assignee),
            p.priority,
            p.estimate,
            opt(&p.project),
            opt(&p.cycle),
            opt(&p.due_date),
        )
        .await?;
        if let Some(names) = &p.labels {
            let labels = self.label_ids(&ct, &team.id, names).await?;
            if !labels.is_empty() {
                input.insert(
                    "labelIds".into(),
                    json!(labels.iter().map(|l| &l.0).collect::<Vec<_>>()),
                );
                expects.push(Expect {
                    field: "labels",
                    requested: labels
                        .iter()
                        .map(|l| l.1.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    want: Want::Labels(labels.into_iter().map(|l| l.0).collect()),
                });
            }
        }
        if let Some(parent) = p.parent.as_deref().filter(|s| !s.trim().is_empty()) {
            let parent = fetch_issue(self, parent, &ct).await?;
            input.insert("parentId".into(), json!(parent.id));
            expects.push(Expect {
                field: "parent",
                requested: parent.identifier.clone(),
                want: Want::Parent(parent.id),
            });
        }
        let data = self
            .client()
            .execute(&gql::ISSUE_CREATE, json!({ "input": input }), &ct)
            .await?;
        let id = payload_id(&data, "issueCreate", "issue")?;
        let stored = fetch_issue(self, &id, &ct).await?;
        Ok(Json(report(&stored, &expects)))
    }

    /// Update a Linear issue: title, description, state by name, assignee by name or email,
    /// labels (replace, add or remove) by name, priority, estimate, project, cycle, due date.
    /// Reads the issue back and lists any field that did not take.
    #[tool(
        title = "Update an issue",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn issue_update(
        &self,
        Parameters(p): Parameters<IssueUpdateParams>,
        ct: CancellationToken,
    ) -> Result<Json<IssueWriteOut>, ToolError> {
        let current = fetch_issue(self, &p.issue, &ct).await?;
        let team_id = current
            .team
            .as_ref()
            .map(|t| t.id.clone())
            .ok_or_else(|| malformed("the issue has no team".into()))?;
        let mut input = Map::new();
        let mut expects = Vec::new();
        if let Some(t) = &p.title {
            if t.trim().is_empty() {
                return Err(ToolError::InvalidInput("title is empty".into()));
            }
            input.insert("title".into(), json!(t));
            expects.push(Expect {
                field: "title",
                requested: t.clone(),
                want: Want::Title(t.clone()),
            });
        }
        if let Some(d) = &p.description {
            input.insert("description".into(), json!(d));
            expects.push(Expect {
                field: "description",
                requested: mcp_core::budget::cut_text(d, 0, 80).text,
                want: Want::Description(d.clone()),
            });
        }
        self.common_fields(
            &ct,
            &team_id,
            &mut input,
            &mut expects,
            opt(&p.state),
            opt(&p.assignee),
            p.priority,
            p.estimate,
            opt(&p.project),
            opt(&p.cycle),
            opt(&p.due_date),
        )
        .await?;
        if p.labels.is_some() || p.add_labels.is_some() || p.remove_labels.is_some() {
            let current_labels: Vec<(String, String)> = current
                .labels
                .as_ref()
                .map(|c| {
                    c.nodes
                        .iter()
                        .map(|l| (l.id.clone(), l.name.clone()))
                        .collect()
                })
                .unwrap_or_default();
            let mut set: Vec<(String, String)> = match &p.labels {
                Some(names) => self.label_ids(&ct, &team_id, names).await?,
                None => current_labels,
            };
            if let Some(add) = &p.add_labels {
                for l in self.label_ids(&ct, &team_id, add).await? {
                    if !set.iter().any(|s| s.0 == l.0) {
                        set.push(l);
                    }
                }
            }
            if let Some(remove) = &p.remove_labels {
                let gone = self.label_ids(&ct, &team_id, remove).await?;
                set.retain(|s| !gone.iter().any(|g| g.0 == s.0));
            }
            input.insert(
                "labelIds".into(),
                json!(set.iter().map(|l| &l.0).collect::<Vec<_>>()),
            );
            expects.push(Expect {
                field: "labels",
                requested: set
                    .iter()
                    .map(|l| l.1.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                want: Want::Labels(set.into_iter().map(|l| l.0).collect()),
            });
        }
        if input.is_empty() {
            return Err(ToolError::InvalidInput(
                "nothing to update: give at least one of title, description, state, assignee, labels, add_labels, remove_labels, priority, estimate, project, cycle, due_date".into(),
            ));
        }
        let data = self
            .client()
            .execute(
                &gql::ISSUE_UPDATE,
                json!({ "id": current.id, "input": input }),
                &ct,
            )
            .await?;
        payload_id(&data, "issueUpdate", "issue")?;
        let stored = fetch_issue(self, &current.id, &ct).await?;
        Ok(Json(report(&stored, &expects)))
    }

    /// Comment on a Linear issue (Markdown). Returns the comment as Linear stored it.
    #[tool(
        title = "Comment on an issue",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn comment_create(
        &self,
        Parameters(p): Parameters<CommentCreateParams>,
        ct: CancellationToken,
    ) -> Result<Json<CommentWriteOut>, ToolError> {
        if p.body.trim().is_empty() {
            return Err(ToolError::InvalidInput("body is empty".into()));
        }
        let issue = fetch_issue(self, &p.issue, &ct).await?;
        let data = self
            .client()
            .execute(
                &gql::COMMENT_CREATE,
                json!({ "input": { "issueId": issue.id, "body": p.body } }),
                &ct,
            )
            .await?;
        let id = payload_id(&data, "commentCreate", "comment")?;
        let data = self
            .client()
            .execute(&gql::COMMENT_GET, json!({ "id": id }), &ct)
            .await?;
        let comment: WComment = serde_json::from_value(
            data.get("comment")
                .filter(|v| !v.is_null())
                .cloned()
                .ok_or_else(|| malformed("the new comment cannot be read back".into()))?,
        )
        .map_err(|e| malformed(format!("`comment`: {e}")))?;
        let mut not_applied = Vec::new();
        if comment.body.trim() != p.body.trim() {
            not_applied.push(NotApplied {
                field: "body".into(),
                requested: mcp_core::budget::cut_text(&p.body, 0, 80).text,
                stored: Some(mcp_core::budget::cut_text(&comment.body, 0, 80).text),
            });
        }
        if comment.issue.as_ref().is_some_and(|i| i.id != issue.id) {
            not_applied.push(NotApplied {
                field: "issue".into(),
                requested: issue.identifier.clone(),
                stored: comment.issue.as_ref().map(|i| i.identifier.clone()),
            });
        }
        let warning = warning_for(&not_applied);
        Ok(Json(CommentWriteOut {
            comment: CommentOut::from(&comment),
            issue: issue.identifier,
            url: comment.url.clone(),
            not_applied,
            warning,
        }))
    }

    /// Relate two Linear issues: blocks, blocked_by, related, or duplicate (the issue duplicates
    /// related_issue). Returns the relation as Linear stored it.
    #[tool(
        title = "Relate two issues",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn issue_relation_create(
        &self,
        Parameters(p): Parameters<RelationCreateParams>,
        ct: CancellationToken,
    ) -> Result<Json<RelationWriteOut>, ToolError> {
        let issue = fetch_issue(self, &p.issue, &ct).await?;
        let related = fetch_issue(self, &p.related_issue, &ct).await?;
        if issue.id == related.id {
            return Err(ToolError::InvalidInput(
                "an issue cannot be related to itself".into(),
            ));
        }
        // Linear stores "blocked by" as the other issue blocking this one.
        let (from, to, kind, shown) = match p.kind {
            RelationKind::Blocks => (&issue, &related, "blocks", "blocks"),
            RelationKind::BlockedBy => (&related, &issue, "blocks", "blocked_by"),
            RelationKind::Related => (&issue, &related, "related", "related"),
            RelationKind::Duplicate => (&issue, &related, "duplicate", "duplicate"),
        };
        let data = self
            .client()
            .execute(
                &gql::RELATION_CREATE,
                json!({ "input": { "issueId": from.id, "relatedIssueId": to.id, "type": kind } }),
                &ct,
            )
            .await?;
        let id = payload_id(&data, "issueRelationCreate", "issueRelation")?;
        let data = self
            .client()
            .execute(&gql::RELATION_GET, json!({ "id": id }), &ct)
            .await?;
        let rel: WRelation = serde_json::from_value(
            data.get("issueRelation")
                .filter(|v| !v.is_null())
                .cloned()
                .ok_or_else(|| malformed("the new relation cannot be read back".into()))?,
        )
        .map_err(|e| malformed(format!("`issueRelation`: {e}")))?;
        let mut not_applied = Vec::new();
        let stored_from = rel.issue.as_ref().map(|i| i.id.as_str());
        let stored_to = rel.related_issue.as_ref().map(|i| i.id.as_str());
        if rel.kind != kind
            || stored_from != Some(from.id.as_str())
            || stored_to != Some(to.id.as_str())
        {
            not_applied.push(NotApplied {
                field: "type".into(),
                requested: format!("{} {kind} {}", from.identifier, to.identifier),
                stored: Some(format!(
                    "{} {} {}",
                    rel.issue
                        .as_ref()
                        .map(|i| i.identifier.as_str())
                        .unwrap_or("?"),
                    rel.kind,
                    rel.related_issue
                        .as_ref()
                        .map(|i| i.identifier.as_str())
                        .unwrap_or("?")
                )),
            });
        }
        let warning = warning_for(&not_applied);
        Ok(Json(RelationWriteOut {
            id: rel.id,
            issue: issue.identifier,
            kind: shown.to_string(),
            related_issue: related.identifier,
            not_applied,
            warning,
        }))
    }
}
