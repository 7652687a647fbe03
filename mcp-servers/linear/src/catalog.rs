//! Names a model gives (team key "ENG", state "In Progress", label "bug", assignee
//! "maria@example.com" or "me", project, cycle) resolved to Linear ids.
//!
//! The lists behind them are fetched lazily, on the first call that needs them (never at start,
//! so `initialize` is never delayed), paged through in full (stopping when the call is
//! cancelled) and kept in memory. A name that is not found triggers one refresh when the list is
//! older than 30 s (it may have been created since), then a tool error that lists the valid
//! choices.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_core::ToolError;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use rmcp::{
    RoleServer,
    model::{ProgressNotificationParam, ProgressToken},
    service::{Peer, RequestContext},
};

use crate::client::LinearClient;
use crate::gql::{self, Doc};
use crate::model::{Connection, WCycle, WLabel, WProject, WState, WTeam, WUser};

/// Page size when reading whole lists (Linear's maximum `first`).
pub const PAGE: usize = 250;
/// Pages read at most for one list (62,500 items).
const MAX_PAGES: usize = 250;
/// Choices listed in an error at most.
const MAX_CHOICES: usize = 40;
/// A name not found refreshes its list only if the list is older than this, so repeated typos
/// do not re-read a large workspace.
const REFRESH_AFTER: Duration = Duration::from_secs(30);

type Slot<T> = Mutex<Option<(Arc<Vec<T>>, Instant)>>;

/// The cached lists. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct Catalog {
    teams: Slot<WTeam>,
    users: Slot<WUser>,
    states: Slot<WState>,
    labels: Slot<WLabel>,
    projects: Slot<WProject>,
    cycles: Slot<WCycle>,
    viewer: Mutex<Option<WUser>>,
}

/// Where progress of a long call goes: the client's `progressToken`, if it sent one.
#[derive(Clone, Default)]
pub struct Progress {
    sink: Option<(Peer<RoleServer>, ProgressToken)>,
}

tokio::task_local! {
    /// The progress sink of the tool call running on this task.
    pub static PROGRESS: Progress;
}

impl Progress {
    /// From a request's `_meta.progressToken`.
    pub fn from_context(context: &RequestContext<RoleServer>) -> Self {
        Self {
            sink: context
                .meta
                .get_progress_token()
                .map(|t| (context.peer.clone(), t)),
        }
    }

    /// Send a progress notification if the client asked for them (best effort).
    async fn report(done: usize, message: String) {
        let Ok(Some((peer, token))) = PROGRESS.try_with(|p| p.sink.clone()) else {
            return;
        };
        let param = ProgressNotificationParam::new(token, done as f64).with_message(message);
        if let Err(e) = peer.notify_progress(param).await {
            tracing::debug!(error = %e, "could not send a progress notification");
        }
    }
}

/// Read every page of a connection, reporting progress after each page when there are more.
pub async fn fetch_all<T: DeserializeOwned>(
    client: &LinearClient,
    doc: &Doc,
    root: &str,
    filter: Option<Value>,
    ct: &CancellationToken,
) -> Result<Vec<T>, ToolError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        if ct.is_cancelled() {
            return Err(ToolError::Cancelled);
        }
        let mut vars = json!({ "first": PAGE, "after": after });
        if let Some(f) = &filter {
            vars["filter"] = f.clone();
        }
        let data = client.execute(doc, vars, ct).await?;
        let page: Connection<T> = connection(&data, root)?;
        out.extend(page.nodes);
        match page.page_info.end_cursor {
            Some(c) if page.page_info.has_next_page => {
                Progress::report(out.len(), format!("read {} {root} from Linear", out.len())).await;
                after = Some(c);
            }
            _ => return Ok(out),
        }
    }
    tracing::warn!(root, "stopped reading after {MAX_PAGES} pages");
    Ok(out)
}

/// `data[root]` as a connection; a missing or null field is a malformed answer.
pub fn connection<T: DeserializeOwned>(
    data: &Value,
    root: &str,
) -> Result<Connection<T>, ToolError> {
    let field = data.get(root).cloned().unwrap_or(Value::Null);
    if field.is_null() {
        return Err(malformed(format!("no `{root}` in the answer")));
    }
    serde_json::from_value(field).map_err(|e| malformed(format!("`{root}`: {e}")))
}

/// A malformed-answer tool error.
pub fn malformed(detail: String) -> ToolError {
    ToolError::Upstream {
        service: crate::client::SERVICE,
        detail: format!("malformed response: {detail}"),
        retryable: false,
    }
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

/// `value` equals the already normalised `want`, ignoring case and outer spaces, without
/// allocating (name lookups scan every cached user).
fn same(value: Option<&str>, want: &str) -> bool {
    value.is_some_and(|v| {
        let v = v.trim();
        if v.is_ascii() && want.is_ascii() {
            v.eq_ignore_ascii_case(want)
        } else {
            v.chars().flat_map(char::to_lowercase).eq(want.chars())
        }
    })
}

/// "no X matches "y"; valid choices: a, b, c".
pub fn no_match(what: &str, input: &str, choices: Vec<String>, tool: &str) -> ToolError {
    let total = choices.len();
    let mut shown: Vec<String> = choices.into_iter().take(MAX_CHOICES).collect();
    if total > MAX_CHOICES {
        shown.push(format!("… {} more", total - MAX_CHOICES));
    }
    let list = if shown.is_empty() {
        "none".to_string()
    } else {
        shown.join(", ")
    };
    ToolError::InvalidInput(format!(
        "no {what} matches {input:?}; valid choices: {list} (call {tool} for details)"
    ))
}

impl Catalog {
    async fn cached<T: DeserializeOwned + Clone>(
        slot: &Slot<T>,
        client: &LinearClient,
        doc: &Doc,
        root: &str,
        refresh: bool,
        ct: &CancellationToken,
    ) -> Result<Arc<Vec<T>>, ToolError> {
        if let Ok(guard) = slot.lock()
            && let Some((v, at)) = guard.as_ref()
            && (!refresh || at.elapsed() < REFRESH_AFTER)
        {
            return Ok(v.clone());
        }
        let items = Arc::new(fetch_all::<T>(client, doc, root, None, ct).await?);
        if let Ok(mut guard) = slot.lock() {
            *guard = Some((items.clone(), Instant::now()));
        }
        Ok(items)
    }

    /// Items matching `hit`, refreshing the list once on a miss. Returns the hits and the list.
    async fn find<T: DeserializeOwned + Clone>(
        slot: &Slot<T>,
        client: &LinearClient,
        doc: &Doc,
        root: &str,
        ct: &CancellationToken,
        hit: impl Fn(&T) -> bool,
    ) -> Result<(Vec<T>, Arc<Vec<T>>), ToolError> {
        let all = Self::cached(slot, client, doc, root, false, ct).await?;
        let hits: Vec<T> = all.iter().filter(|t| hit(t)).cloned().collect();
        if !hits.is_empty() {
            return Ok((hits, all));
        }
        let all = Self::cached(slot, client, doc, root, true, ct).await?;
        let hits = all.iter().filter(|t| hit(t)).cloned().collect();
        Ok((hits, all))
    }

    /// Number of cached users (for /healthz and benchmarks).
    pub fn cached_users(&self) -> usize {
        self.users
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|(v, _)| v.len()))
            .unwrap_or(0)
    }

    /// Fill the user cache (benchmarks, warm-up on demand).
    pub async fn load_users(
        &self,
        client: &LinearClient,
        ct: &CancellationToken,
    ) -> Result<usize, ToolError> {
        Ok(
            Self::cached(&self.users, client, &gql::USERS, "users", true, ct)
                .await?
                .len(),
        )
    }

    /// The authenticated user.
    pub async fn viewer(
        &self,
        client: &LinearClient,
        ct: &CancellationToken,
    ) -> Result<WUser, ToolError> {
        if let Ok(g) = self.viewer.lock()
            && let Some(v) = g.as_ref()
        {
            return Ok(v.clone());
        }
        let data = client.execute(&gql::VIEWER, json!({}), ct).await?;
        let viewer: WUser = serde_json::from_value(data.get("viewer").cloned().unwrap_or_default())
            .map_err(|e| malformed(format!("`viewer`: {e}")))?;
        if let Ok(mut g) = self.viewer.lock() {
            *g = Some(viewer.clone());
        }
        Ok(viewer)
    }

    /// A team by key, name or id.
    pub async fn team(
        &self,
        client: &LinearClient,
        ct: &CancellationToken,
        input: &str,
    ) -> Result<WTeam, ToolError> {
        let want = norm(input);
        let (hits, all) = Self::find(
            &self.teams,
            client,
            &gql::TEAMS,
            "teams",
            ct,
            |t: &WTeam| {
                t.id == input.trim()
                    || same(t.key.as_deref(), &want)
                    || same(t.name.as_deref(), &want)
            },
        )
        .await?;
        hits.into_iter().next().ok_or_else(|| {
            no_match(
                "team",
                input,
                all.iter()
                    .map(|t| {
                        format!(
                            "{} ({})",
                            t.key.clone().unwrap_or_default(),
                            t.name.clone().unwrap_or_default()
                        )
                    })
                    .collect(),
                "team_list",
            )
        })
    }

    /// A user by "me", email, name, display name or id.
    pub async fn user(
        &self,
        client: &LinearClient,
        ct: &CancellationToken,
        input: &str,
    ) -> Result<WUser, ToolError> {
        let want = norm(input);
        if want == "me" {
            return self.viewer(client, ct).await;
        }
        let (hits, all) = Self::find(
            &self.users,
            client,
            &gql::USERS,
            "users",
            ct,
            |u: &WUser| {
                u.id == input.trim()
                    || same(u.email.as_deref(), &want)
                    || same(u.name.as_deref(), &want)
                    || same(u.display_name.as_deref(), &want)
            },
        )
        .await?;
        match hits.len() {
            1 => Ok(hits
                .into_iter()
                .next()
                .ok_or_else(|| ToolError::Internal("empty".into()))?),
            0 => Err(no_match(
                "user",
                input,
                all.iter()
                    .filter(|u| u.active.unwrap_or(true))
                    .map(|u| {
                        format!(
                            "{} <{}>",
                            u.name.clone().unwrap_or_default(),
                            u.email.clone().unwrap_or_default()
                        )
                    })
                    .collect(),
                "user_list",
            )),
            _ => {
                // One exact email match wins over several name matches.
                if let Some(u) = hits.iter().find(|u| same(u.email.as_deref(), &want)) {
                    return Ok(u.clone());
                }
                Err(ToolError::InvalidInput(format!(
                    "{input:?} matches several users: {}; give the email instead",
                    hits.iter()
                        .map(|u| u.email.clone().unwrap_or_else(|| u.id.clone()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }
    }

    /// Workflow states named `input` (or with that id), of `team_id` when given.
    pub async fn states(
        &self,
        client: &LinearClient,
        ct: &CancellationToken,
        team_id: Option<&str>,
        input: &str,
    ) -> Result<Vec<WState>, ToolError> {
        let want = norm(input);
        let in_team =
            |s: &WState| team_id.is_none_or(|t| s.team.as_ref().is_some_and(|st| st.id == t));
        let (hits, all) = Self::find(
            &self.states,
            client,
            &gql::WORKFLOW_STATES,
            "workflowStates",
            ct,
            |s: &WState| in_team(s) && (s.id == input.trim() || same(Some(s.name.as_str()), &want)),
        )
        .await?;
        if hits.is_empty() {
            let mut names: Vec<String> = all
                .iter()
                .filter(|s| in_team(s))
                .map(|s| s.name.clone())
                .collect();
            names.sort();
            names.dedup();
            return Err(no_match(
                "workflow state",
                input,
                names,
                "workflow_state_list",
            ));
        }
        Ok(hits)
    }

    /// One label per name; a team's own label is preferred over a workspace label of the same
    /// name. Without a team, every label of that name.
    pub async fn labels(
        &self,
        client: &LinearClient,
        ct: &CancellationToken,
        team_id: Option<&str>,
        names: &[String],
    ) -> Result<Vec<WLabel>, ToolError> {
        let usable = |l: &WLabel| match (team_id, &l.team) {
            (None, _) | (_, None) => true,
            (Some(t), Some(lt)) => lt.id == t,
        };
        let mut out = Vec::new();
        for input in names {
            let want = norm(input);
            let (mut hits, all) = Self::find(
                &self.labels,
                client,
                &gql::LABELS,
                "issueLabels",
                ct,
                |l: &WLabel| {
                    usable(l) && (l.id == input.trim() || same(Some(l.name.as_str()), &want))
                },
            )
            .await?;
            if hits.is_empty() {
                let mut choices: Vec<String> = all
                    .iter()
                    .filter(|l| usable(l))
                    .map(|l| l.name.clone())
                    .collect();
                choices.sort();
                choices.dedup();
                return Err(no_match("label", input, choices, "label_list"));
            }
            if team_id.is_some() {
                hits.sort_by_key(|l| l.team.is_none());
                hits.truncate(1);
            }
            out.extend(hits);
        }
        Ok(out)
    }

    /// A project by name or id.
    pub async fn project(
        &self,
        client: &LinearClient,
        ct: &CancellationToken,
        input: &str,
    ) -> Result<WProject, ToolError> {
        let want = norm(input);
        let (hits, all) = Self::find(
            &self.projects,
            client,
            &gql::PROJECTS,
            "projects",
            ct,
            |p: &WProject| p.id == input.trim() || same(Some(p.name.as_str()), &want),
        )
        .await?;
        hits.into_iter().next().ok_or_else(|| {
            no_match(
                "project",
                input,
                all.iter().map(|p| p.name.clone()).collect(),
                "project_list",
            )
        })
    }

    /// Cycles by number, name, id, or "current" (the active one), of `team_id` when given.
    pub async fn cycles(
        &self,
        client: &LinearClient,
        ct: &CancellationToken,
        team_id: Option<&str>,
        input: &str,
    ) -> Result<Vec<WCycle>, ToolError> {
        let want = norm(input);
        let number: Option<f64> = want.trim_start_matches("cycle").trim().parse().ok();
        let in_team =
            |c: &WCycle| team_id.is_none_or(|t| c.team.as_ref().is_some_and(|ct| ct.id == t));
        let (hits, all) = Self::find(
            &self.cycles,
            client,
            &gql::CYCLES,
            "cycles",
            ct,
            |c: &WCycle| {
                in_team(c)
                    && (c.id == input.trim()
                        || ((want == "current" || want == "active") && c.is_active == Some(true))
                        || (number.is_some() && c.number == number)
                        || same(c.name.as_deref(), &want))
            },
        )
        .await?;
        if hits.is_empty() {
            return Err(no_match(
                "cycle",
                input,
                all.iter()
                    .filter(|c| in_team(c))
                    .map(|c| {
                        let n = c.number.map(|n| n as u32).unwrap_or_default();
                        match &c.name {
                            Some(name) if !name.is_empty() => format!("{n} ({name})"),
                            _ => n.to_string(),
                        }
                    })
                    .chain(std::iter::once("current".to_string()))
                    .collect(),
                "cycle_list",
            ));
        }
        Ok(hits)
    }
}
