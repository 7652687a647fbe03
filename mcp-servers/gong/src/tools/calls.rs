//! call_list, call_get, call_transcript, call_search, user_list.

use std::collections::HashMap;

use mcp_core::ToolError;
use mcp_core::budget::{cut_text, json_chars};
use rmcp::model::ProgressNotificationParam;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, handler::server::wrapper::Parameters, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{PartyOut, is_false, party_name, project_party, r3, speaker};
use crate::GongServer;
use crate::client::{
    CallData, CallMeta, CallsPage, ExtensivePage, GongError, TranscriptPage, UsersPage,
};
use crate::pager::{Collector, Pos, limit};
use crate::time::{clock, gong_datetime, now_iso};

/// Most pages of `/v2/calls/extensive` one `call_search` may scan (Gong pages hold up to 100
/// calls): 20 pages = 2,000 calls, about 7 s of Gong's 3 requests/s without a keyword.
pub const SEARCH_MAX_PAGES: u32 = 20;
/// Default pages per `call_search`.
pub const SEARCH_DEFAULT_PAGES: u32 = 5;
/// Snippets kept per matching call.
const SNIPPETS_PER_CALL: usize = 3;

// ---------------------------------------------------------------------------------------------
// Shapes

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CallListParams {
    /// Start of the window: 2024-05-01 (midnight UTC) or 2024-05-01T09:30:00Z, inclusive
    pub from: String,
    /// End of the window, exclusive (default: now). A bare date means its midnight UTC, so to=2024-06-01 includes May 31
    #[serde(default)]
    pub to: Option<String>,
    /// Only calls of this Gong workspace
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// Most calls to return (default 50, max 100)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor of the previous page, with the same other arguments
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A call, as listed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CallSummary {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// When recording started (ISO-8601)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Inbound, Outbound, Conference or Unknown
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// internal or external (some participants outside the company)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Conferencing or telephony system
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Gong user id of the host
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_user_id: Option<String>,
    /// The call in Gong's web app
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

fn summary(m: CallMeta) -> CallSummary {
    let ne = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    CallSummary {
        id: m.id,
        title: ne(m.title),
        started: ne(m.started),
        scheduled: ne(m.scheduled),
        duration_s: m.duration,
        direction: ne(m.direction),
        scope: ne(m.scope),
        system: ne(m.system),
        language: ne(m.language),
        primary_user_id: ne(m.primary_user_id),
        url: ne(m.url),
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CallListOutput {
    /// The window Gong was asked for
    pub from: String,
    pub to: String,
    /// Calls in the window, as Gong counts them
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    pub items: Vec<CallSummary>,
    /// Pass back as cursor for more; absent at the end
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// More results remain
    pub truncated: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CallGetParams {
    /// Gong call id (digits), from call_list or call_search
    pub call_id: String,
}

/// A CRM record linked to the call.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CrmObject {
    /// e.g. Salesforce, HubSpot
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Account, Opportunity, Contact, Lead...
    pub object_type: String,
    pub object_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TopicOut {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TrackerCount {
    pub name: String,
    /// Keyword or Smart
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TalkTime {
    pub name: String,
    pub talk_time_s: f64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StatOut {
    /// Talk Ratio, Longest Monologue, Longest Customer Story, Interactivity, Patience
    pub name: String,
    pub value: f64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct QuestionsOut {
    /// Questions asked by our team
    pub company: u64,
    /// Questions asked by others
    pub non_company: u64,
}

/// One call in detail.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CallDetails {
    #[serde(flatten)]
    pub call: CallSummary,
    pub parties: Vec<PartyOut>,
    /// Accounts, opportunities and other CRM records linked to the call
    pub crm: Vec<CrmObject>,
    /// Gong's spotlight brief
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brief: Option<String>,
    pub key_points: Vec<String>,
    pub topics: Vec<TopicOut>,
    /// Trackers that fired (get_talking_points shows the sentences)
    pub trackers: Vec<TrackerCount>,
    pub talk_time: Vec<TalkTime>,
    /// Gong's interaction statistics for the host
    pub interaction_stats: Vec<StatOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub questions: Option<QuestionsOut>,
    /// Some lists or the brief were shortened to fit the response budget
    #[serde(skip_serializing_if = "is_false")]
    pub truncated: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TranscriptParams {
    /// Gong call id (digits)
    pub call_id: String,
    /// Character offset to start at (default 0); pass the previous next_offset to read on
    #[serde(default)]
    pub offset: Option<u64>,
    /// Most characters of transcript text to return (default and max: what fits the response budget)
    #[serde(default)]
    pub max_chars: Option<u64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SpeakerOut {
    pub speaker_id: String,
    pub name: String,
    /// Internal, External or Unknown
    pub affiliation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TranscriptOutput {
    pub call_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Who speaks in the text, named through the call's parties
    pub speakers: Vec<SpeakerOut>,
    /// One line per monologue: "[mm:ss] Name: what they said"
    pub text: String,
    /// Character offset of text in the whole transcript
    pub offset: u64,
    /// Characters in the whole transcript
    pub total_chars: u64,
    /// Offset of the rest; absent when text reaches the end
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
    /// More text remains
    pub truncated: bool,
    /// How to read the rest
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CallSearchParams {
    /// Start of the window to scan: 2024-05-01 or 2024-05-01T09:30:00Z, inclusive
    pub from: String,
    /// End of the window, exclusive (default: now)
    #[serde(default)]
    pub to: Option<String>,
    /// CRM account: part of its name (case-insensitive) or its exact id
    #[serde(default)]
    pub account: Option<String>,
    /// A participant's e-mail domain, e.g. acme.com
    #[serde(default)]
    pub email_domain: Option<String>,
    /// CRM opportunity id (Salesforce Opportunity or HubSpot Deal), exact
    #[serde(default)]
    pub opportunity_id: Option<String>,
    /// Word or phrase said in the call (case-insensitive; scans transcripts)
    #[serde(default)]
    pub keyword: Option<String>,
    /// Most matching calls to return (default 20, max 100)
    #[serde(default)]
    pub limit: Option<u32>,
    /// Most pages of up to 100 calls to scan in this call (default 5, max 20); next_cursor continues the scan
    #[serde(default)]
    pub max_pages: Option<u32>,
    /// next_cursor of the previous result, with the same other arguments
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A sentence around a keyword.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Snippet {
    /// Time in the call, mm:ss
    pub at: String,
    pub speaker: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CallMatch {
    #[serde(flatten)]
    pub call: CallSummary,
    /// What matched: account, email_domain, opportunity, keyword
    pub matched: Vec<String>,
    /// CRM accounts linked to the call
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Where the keyword was said (up to 3)
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snippets: Vec<Snippet>,
}

/// What one call_search looked at.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Scanned {
    pub from: String,
    pub to: String,
    /// Pages of calls read in this call
    pub pages: u64,
    /// Calls looked at in this call
    pub calls: u64,
    /// Transcripts searched for the keyword in this call
    pub transcripts: u64,
    /// Calls in the window, as Gong counts them
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_calls: Option<u64>,
    /// Requests sent to Gong for this call
    pub requests: u64,
    /// The whole window has been scanned (no next_cursor)
    pub complete: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CallSearchOutput {
    pub items: Vec<CallMatch>,
    pub scanned: Scanned,
    /// Pass back as cursor to scan on; absent when the window is done
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// The scan stopped before the end of the window (limit, max_pages or budget)
    pub truncated: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UserListParams {
    /// Only users whose name, e-mail or title contains this text (case-insensitive)
    #[serde(default)]
    pub query: Option<String>,
    /// Include deactivated users (default false)
    #[serde(default)]
    pub include_inactive: Option<bool>,
    /// Most users to return (default 50, max 100)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor of the previous page, with the same other arguments
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UserOut {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager_id: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UserListOutput {
    pub items: Vec<UserOut>,
    /// Pass back as cursor for more; absent at the end
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// More results remain
    pub truncated: bool,
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn window(from: &str, to: Option<&str>) -> Result<(String, String), ToolError> {
    let from = gong_datetime("from", from)?;
    let to = match to.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => gong_datetime("to", t)?,
        None => now_iso(),
    };
    Ok((from, to))
}

fn crm_objects(call: &CallData) -> Vec<CrmObject> {
    call.context
        .iter()
        .flat_map(|ctx| {
            ctx.objects.iter().filter_map(move |o| {
                Some(CrmObject {
                    system: ctx.system.clone(),
                    object_type: o.object_type.clone()?,
                    object_id: o.object_id.clone()?,
                    name: o.field("Name"),
                })
            })
        })
        .collect()
}

/// The text of a transcript, one line per monologue.
fn render(text: &crate::CallText) -> String {
    let mut out = String::new();
    for m in &text.monologues {
        let Some(first) = m.sentences.first() else {
            continue;
        };
        let (name, _) = speaker(&text.parties, &m.speaker_id);
        out.push('[');
        out.push_str(&clock(first.start / 1000.0));
        out.push_str("] ");
        out.push_str(&name);
        out.push(':');
        for s in &m.sentences {
            out.push(' ');
            out.push_str(s.text.trim());
        }
        out.push('\n');
    }
    out
}

/// Up to 240 characters of `text` around the first occurrence of `needle` (lower case).
fn around(text: &str, needle: &str) -> String {
    let lower = text.to_lowercase();
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 240 {
        return text.to_string();
    }
    // Position in characters of the match (lower-casing can change byte lengths, so count).
    let at = lower
        .find(needle)
        .map(|b| lower[..b].chars().count())
        .unwrap_or(0);
    let start = at.saturating_sub(100).min(chars.len().saturating_sub(240));
    let piece: String = chars.iter().skip(start).take(240).collect();
    format!(
        "{}{piece}{}",
        if start > 0 { "…" } else { "" },
        if start + 240 < chars.len() { "…" } else { "" }
    )
}

impl GongServer {
    async fn extensive_page(
        &self,
        filter: &Value,
        selector: &Value,
        cursor: Option<&str>,
        ct: &CancellationToken,
    ) -> Result<Option<ExtensivePage>, ToolError> {
        let mut body = json!({ "filter": filter, "contentSelector": selector });
        if let Some(c) = cursor {
            // Gong reads the cursor of a POST listing from the body, never the query string.
            body["cursor"] = json!(c);
        }
        self.shared
            .client
            .post("/v2/calls/extensive", &body, ct)
            .await
            .map_err(GongError::into_tool)
    }

    /// Keyword snippets of `call_ids` (one transcript page in memory at a time).
    async fn keyword_hits(
        &self,
        call_ids: &[String],
        parties: &HashMap<String, Vec<crate::client::Party>>,
        window: &(String, String),
        needle: &str,
        ct: &CancellationToken,
    ) -> Result<(HashMap<String, Vec<Snippet>>, u64), ToolError> {
        let mut hits: HashMap<String, Vec<Snippet>> = HashMap::new();
        let mut scanned = 0u64;
        if call_ids.is_empty() {
            return Ok((hits, 0));
        }
        let mut cursor: Option<String> = None;
        loop {
            let mut body = json!({ "filter": {
                "fromDateTime": window.0, "toDateTime": window.1, "callIds": call_ids } });
            if let Some(c) = &cursor {
                body["cursor"] = json!(c);
            }
            let page: Option<TranscriptPage> = self
                .shared
                .client
                .post("/v2/calls/transcript", &body, ct)
                .await
                .map_err(GongError::into_tool)?;
            let Some(page) = page else { break };
            let next = page.records.next();
            for t in &page.call_transcripts {
                scanned += 1;
                let empty = Vec::new();
                let people = parties.get(&t.call_id).unwrap_or(&empty);
                for m in &t.transcript {
                    for s in &m.sentences {
                        if !s.text.to_lowercase().contains(needle) {
                            continue;
                        }
                        let list = hits.entry(t.call_id.clone()).or_default();
                        if list.len() < SNIPPETS_PER_CALL {
                            list.push(Snippet {
                                at: clock(s.start / 1000.0),
                                speaker: speaker(people, &m.speaker_id).0,
                                text: around(s.text.trim(), needle),
                            });
                        }
                    }
                }
            }
            // The page is dropped here, before the next one is fetched.
            drop(page);
            match next {
                Some(c) if cursor.as_deref() != Some(c.as_str()) => cursor = Some(c),
                _ => break,
            }
        }
        Ok((hits, scanned))
    }
}

// ---------------------------------------------------------------------------------------------
// Tools

#[tool_router(router = calls_router, vis = "pub(crate)")]
impl GongServer {
    /// List calls recorded in a date window (newest data from Gong's GET /v2/calls).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn call_list(
        &self,
        Parameters(p): Parameters<CallListParams>,
        ct: CancellationToken,
    ) -> Result<Json<CallListOutput>, ToolError> {
        let limit = limit(p.limit, 50, 100, "limit")?;
        let mut pos = Pos::start("call_list", p.cursor.as_deref())?;
        let (from, to) = window(&p.from, p.to.as_deref().or(pos.t.as_deref()))?;
        pos.t = Some(to.clone());
        let mut out = Collector::new(limit, self.budget(), 300);
        let mut total = None;
        let mut next_cursor = None;
        let mut pages = 0;
        loop {
            pages += 1;
            let mut query = vec![("fromDateTime", from.clone()), ("toDateTime", to.clone())];
            if let Some(w) = p.workspace_id.as_deref().filter(|w| !w.is_empty()) {
                query.push(("workspaceId", w.to_string()));
            }
            if let Some(c) = &pos.c {
                query.push(("cursor", c.clone()));
            }
            let page: Option<CallsPage> = self
                .shared
                .client
                .get("/v2/calls", &query, &ct)
                .await
                .map_err(GongError::into_tool)?;
            // 404: no calls in the window — an empty list.
            let Some(page) = page else { break };
            total = page.records.total_records.or(total);
            let next = page.records.next();
            let mut stopped = None;
            for (i, call) in page.calls.into_iter().enumerate().skip(pos.s) {
                if !out.push(summary(call)) {
                    stopped = Some(i);
                    break;
                }
            }
            if let Some(i) = stopped {
                pos.s = i;
                next_cursor = Some(pos.encode("call_list"));
                break;
            }
            match next {
                None => break,
                Some(c) => {
                    pos = Pos {
                        c: Some(c),
                        s: 0,
                        t: pos.t.take(),
                    };
                    if out.full() || pages >= 20 {
                        next_cursor = Some(pos.encode("call_list"));
                        break;
                    }
                }
            }
        }
        Ok(Json(CallListOutput {
            from,
            to,
            total,
            truncated: next_cursor.is_some(),
            items: out.items,
            next_cursor,
        }))
    }

    /// One call in detail: parties, CRM account and opportunity, brief, key points, topics, trackers, talk time and interaction stats.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn call_get(
        &self,
        Parameters(p): Parameters<CallGetParams>,
        ct: CancellationToken,
    ) -> Result<Json<CallDetails>, ToolError> {
        let selector = json!({
            "context": "Extended",
            "exposedFields": {
                "parties": true,
                "content": { "topics": true, "trackers": true, "brief": true, "keyPoints": true },
                "interaction": { "speakers": true, "personInteractionStats": true, "questions": true }
            }
        });
        let call = self.one_call(&p.call_id, selector, &ct).await?;
        let crm = crm_objects(&call);
        let content = call.content.clone().unwrap_or_default();
        let interaction = call.interaction.clone().unwrap_or_default();
        let talk_time = interaction
            .speakers
            .iter()
            .map(|s| {
                let party = call.parties.iter().find(|p| {
                    (p.id.is_some() && p.id == s.id)
                        || (s.user_id.is_some() && p.user_id == s.user_id)
                });
                TalkTime {
                    name: party
                        .and_then(party_name)
                        .or_else(|| s.id.clone())
                        .unwrap_or_else(|| "(unknown)".into()),
                    talk_time_s: r3(s.talk_time.unwrap_or(0.0)),
                }
            })
            .collect();
        let mut details = CallDetails {
            parties: call.parties.iter().map(project_party).collect(),
            crm,
            brief: content.brief.filter(|b| !b.trim().is_empty()),
            key_points: content
                .key_points
                .into_iter()
                .map(|k| k.text)
                .filter(|t| !t.is_empty())
                .collect(),
            topics: content
                .topics
                .into_iter()
                .filter(|t| t.duration.unwrap_or(1.0) > 0.0)
                .map(|t| TopicOut {
                    name: t.name,
                    duration_s: t.duration,
                })
                .collect(),
            trackers: content
                .trackers
                .into_iter()
                .filter(|t| t.count.unwrap_or(0) > 0)
                .map(|t| TrackerCount {
                    name: t.name,
                    kind: t.kind,
                    count: t.count.unwrap_or(0),
                })
                .collect(),
            talk_time,
            interaction_stats: interaction
                .interaction_stats
                .into_iter()
                .filter_map(|s| {
                    Some(StatOut {
                        value: r3(s.value?),
                        name: s.name,
                    })
                })
                .collect(),
            questions: interaction.questions.map(|q| QuestionsOut {
                company: q.company_count.unwrap_or(0),
                non_company: q.non_company_count.unwrap_or(0),
            }),
            call: summary(call.meta_data),
            truncated: false,
        };
        // Keep the result within the budget: shorten the brief, then drop list tails.
        let max = self.budget().max_chars;
        while json_chars(&details) > max {
            details.truncated = true;
            if let Some(b) = details.brief.as_mut().filter(|b| b.chars().count() > 400) {
                let keep = b.chars().count() / 2;
                *b = format!("{}…", b.chars().take(keep).collect::<String>());
                continue;
            }
            let longest = [
                details.parties.len(),
                details.key_points.len(),
                details.crm.len(),
                details.topics.len(),
                details.trackers.len(),
                details.talk_time.len(),
            ];
            match longest.iter().enumerate().max_by_key(|(_, n)| **n) {
                Some((_, 0)) | None => break,
                Some((0, _)) => drop(details.parties.pop()),
                Some((1, _)) => drop(details.key_points.pop()),
                Some((2, _)) => drop(details.crm.pop()),
                Some((3, _)) => drop(details.topics.pop()),
                Some((4, _)) => drop(details.trackers.pop()),
                Some(_) => drop(details.talk_time.pop()),
            }
        }
        Ok(Json(details))
    }

    /// A call's transcript with speakers named, in pieces that fit the context: pass next_offset back as offset to read on.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn call_transcript(
        &self,
        Parameters(p): Parameters<TranscriptParams>,
        ct: CancellationToken,
    ) -> Result<Json<TranscriptOutput>, ToolError> {
        let text = self.call_text(&p.call_id, &ct).await?;
        let whole = render(&text);
        let mut seen: Vec<&str> = Vec::new();
        let speakers: Vec<SpeakerOut> = text
            .monologues
            .iter()
            .filter(|m| {
                if seen.contains(&m.speaker_id.as_str()) {
                    false
                } else {
                    seen.push(&m.speaker_id);
                    true
                }
            })
            .map(|m| {
                let party = text
                    .parties
                    .iter()
                    .find(|p| p.speaker_id.as_deref() == Some(m.speaker_id.as_str()));
                let (name, affiliation) = speaker(&text.parties, &m.speaker_id);
                SpeakerOut {
                    speaker_id: m.speaker_id.clone(),
                    name,
                    affiliation,
                    email: party.and_then(|p| p.email_address.clone()),
                }
            })
            .collect();
        let offset = usize::try_from(p.offset.unwrap_or(0)).unwrap_or(usize::MAX);
        let mut out = TranscriptOutput {
            call_id: text.call_id.clone(),
            title: text.title.clone(),
            speakers,
            text: String::new(),
            offset: 0,
            total_chars: 0,
            next_offset: None,
            truncated: false,
            hint: None,
        };
        let room = self
            .budget()
            .max_chars
            .saturating_sub(json_chars(&out) + 64)
            .max(200);
        let mut max_chars = p
            .max_chars
            .map(|m| usize::try_from(m).unwrap_or(usize::MAX))
            .unwrap_or(room)
            .clamp(1, room);
        loop {
            let slice = cut_text(&whole, offset, max_chars);
            out.offset = slice.offset as u64;
            out.total_chars = slice.total_chars as u64;
            out.next_offset = slice.next_offset.map(|n| n as u64);
            out.truncated = slice.next_offset.is_some();
            out.hint = slice.next_offset.map(|n| {
                format!(
                    "{} of {} characters shown; call call_transcript again with call_id={} and offset={n} to read the rest",
                    n, slice.total_chars, text.call_id
                )
            });
            out.text = slice.text;
            // JSON escapes (newlines, quotes) make the text longer than its characters.
            let size = json_chars(&out);
            if size <= self.budget().max_chars || max_chars <= 100 {
                break;
            }
            max_chars = max_chars
                .saturating_sub(size - self.budget().max_chars + 16)
                .max(100);
        }
        Ok(Json(out))
    }

    /// Find calls in a window by CRM account, participant e-mail domain, CRM opportunity id and/or a keyword said in the call. Gong cannot filter these server-side, so this scans a bounded number of pages (max_pages) and reports what it scanned; next_cursor scans on.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn call_search(
        &self,
        Parameters(p): Parameters<CallSearchParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<CallSearchOutput>, ToolError> {
        // Requests are counted for this call only (concurrent calls share the client).
        let (result, requests) = crate::client::count_requests(self.scan_calls(p, ctx)).await;
        result.map(|Json(mut out)| {
            out.scanned.requests = requests;
            Json(out)
        })
    }

    /// The body of `call_search`.
    async fn scan_calls(
        &self,
        p: CallSearchParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<CallSearchOutput>, ToolError> {
        let ct = ctx.ct.clone();
        let limit = limit(p.limit, 20, 100, "limit")?;
        let max_pages = crate::pager::limit(
            p.max_pages,
            SEARCH_DEFAULT_PAGES,
            SEARCH_MAX_PAGES,
            "max_pages",
        )?;
        let clean = |s: &Option<String>| {
            s.as_deref()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
        };
        let account = clean(&p.account);
        let domain = clean(&p.email_domain).map(|d| d.trim_start_matches('@').to_string());
        let opportunity = p
            .opportunity_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let keyword = clean(&p.keyword);
        if account.is_none() && domain.is_none() && opportunity.is_none() && keyword.is_none() {
            return Err(ToolError::InvalidInput(
                "give at least one of account, email_domain, opportunity_id or keyword (call_list lists every call of a window)".into(),
            ));
        }
        let mut pos = Pos::start("call_search", p.cursor.as_deref())?;
        let win = window(&p.from, p.to.as_deref().or(pos.t.as_deref()))?;
        pos.t = Some(win.1.clone());
        let filter = json!({ "fromDateTime": win.0, "toDateTime": win.1 });
        let needs_crm = account.is_some() || opportunity.is_some();
        let selector = if needs_crm {
            json!({ "context": "Extended", "exposedFields": { "parties": true } })
        } else {
            json!({ "exposedFields": { "parties": true } })
        };
        let progress = ctx.meta.get_progress_token();
        let mut out = Collector::new(limit, self.budget(), 600);
        let mut scanned = Scanned {
            from: win.0.clone(),
            to: win.1.clone(),
            pages: 0,
            calls: 0,
            transcripts: 0,
            total_calls: None,
            requests: 0,
            complete: false,
        };
        let mut next_cursor = None;
        let mut per_page = 0u64;
        let mut page = self
            .extensive_page(&filter, &selector, pos.c.as_deref(), &ct)
            .await?;
        loop {
            // 404: nothing in the window.
            let Some(current) = page.take() else {
                scanned.complete = true;
                break;
            };
            scanned.pages += 1;
            scanned.total_calls = current.records.total_records.or(scanned.total_calls);
            per_page = per_page.max(current.records.current_page_size.unwrap_or(0));
            let next = current.records.next();
            let skip = pos.s;
            // Metadata filters first; the keyword only for calls that passed them.
            let mut candidates: Vec<(usize, CallData, Vec<String>, Vec<String>)> = Vec::new();
            for (i, call) in current.calls.into_iter().enumerate().skip(skip) {
                scanned.calls += 1;
                let crm = crm_objects(&call);
                let accounts: Vec<String> = crm
                    .iter()
                    .filter(|o| o.object_type.eq_ignore_ascii_case("account"))
                    .filter_map(|o| o.name.clone())
                    .collect();
                let mut matched = Vec::new();
                if let Some(a) = &account {
                    let hit = crm.iter().any(|o| {
                        o.object_type.eq_ignore_ascii_case("account")
                            && (o.object_id.eq_ignore_ascii_case(a)
                                || o.name
                                    .as_deref()
                                    .is_some_and(|n| n.to_lowercase().contains(a)))
                    });
                    if !hit {
                        continue;
                    }
                    matched.push("account".to_string());
                }
                if let Some(d) = &domain {
                    let hit = call.parties.iter().any(|pt| {
                        pt.email_address.as_deref().is_some_and(|e| {
                            let e = e.to_lowercase();
                            e.rsplit_once('@').is_some_and(|(_, host)| {
                                host == d || host.ends_with(&format!(".{d}"))
                            })
                        })
                    });
                    if !hit {
                        continue;
                    }
                    matched.push("email_domain".to_string());
                }
                if let Some(o) = &opportunity {
                    // Salesforce links an Opportunity; HubSpot's integration links a Deal.
                    let hit = crm.iter().any(|x| {
                        (x.object_type.eq_ignore_ascii_case("opportunity")
                            || x.object_type.eq_ignore_ascii_case("deal"))
                            && x.object_id == *o
                    });
                    if !hit {
                        continue;
                    }
                    matched.push("opportunity".to_string());
                }
                candidates.push((i, call, matched, accounts));
            }
            // The keyword scan of this page runs while the next page of calls is fetched.
            let fetch_next = next.is_some() && (scanned.pages as usize) < max_pages;
            let next_page = async {
                match (&next, fetch_next && keyword.is_some()) {
                    (Some(c), true) => self
                        .extensive_page(&filter, &selector, Some(c), &ct)
                        .await
                        .map(Some),
                    _ => Ok(None),
                }
            };
            let hits = async {
                match &keyword {
                    Some(k) => {
                        let ids: Vec<String> = candidates
                            .iter()
                            .map(|c| c.1.meta_data.id.clone())
                            .collect();
                        let parties: HashMap<String, Vec<crate::client::Party>> = candidates
                            .iter()
                            .map(|c| (c.1.meta_data.id.clone(), c.1.parties.clone()))
                            .collect();
                        self.keyword_hits(&ids, &parties, &win, k, &ct)
                            .await
                            .map(Some)
                    }
                    None => Ok(None),
                }
            };
            let (prefetched, hits) = futures::join!(next_page, hits);
            let mut hits = hits?;
            if let Some((_, n)) = &hits {
                scanned.transcripts += n;
            }
            let mut stopped = None;
            for (i, call, mut matched, accounts) in candidates {
                let mut snippets = Vec::new();
                if let Some((h, _)) = hits.as_mut() {
                    match h.remove(&call.meta_data.id) {
                        Some(s) => snippets = s,
                        None => continue,
                    }
                    matched.push("keyword".to_string());
                }
                let item = CallMatch {
                    call: summary(call.meta_data),
                    matched,
                    accounts,
                    snippets,
                };
                if !out.push(item) {
                    stopped = Some(i);
                    break;
                }
            }
            if let Some(token) = &progress {
                let total_pages = scanned
                    .total_calls
                    .map(|t| t.div_ceil(per_page.max(1)).max(1))
                    .unwrap_or(max_pages as u64)
                    .min(max_pages as u64);
                let _ = ctx
                    .peer
                    .notify_progress(
                        ProgressNotificationParam::new(token.clone(), scanned.pages as f64)
                            .with_total(total_pages.max(scanned.pages) as f64)
                            .with_message(format!(
                                "scanned {} calls ({} transcripts), {} matches",
                                scanned.calls,
                                scanned.transcripts,
                                out.items.len()
                            )),
                    )
                    .await;
            }
            if let Some(i) = stopped {
                pos.s = i;
                next_cursor = Some(pos.encode("call_search"));
                break;
            }
            let Some(c) = next else {
                scanned.complete = true;
                break;
            };
            pos = Pos {
                c: Some(c),
                s: 0,
                t: pos.t.take(),
            };
            if out.full() || scanned.pages as usize >= max_pages {
                next_cursor = Some(pos.encode("call_search"));
                break;
            }
            page = match prefetched? {
                Some(p) => p,
                None => {
                    self.extensive_page(&filter, &selector, pos.c.as_deref(), &ct)
                        .await?
                }
            };
            if page.is_none() {
                scanned.complete = true;
                break;
            }
        }
        Ok(Json(CallSearchOutput {
            truncated: next_cursor.is_some(),
            items: out.items,
            scanned,
            next_cursor,
        }))
    }

    /// List the company's Gong users (filter by name, e-mail or title).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn user_list(
        &self,
        Parameters(p): Parameters<UserListParams>,
        ct: CancellationToken,
    ) -> Result<Json<UserListOutput>, ToolError> {
        let limit = limit(p.limit, 50, 100, "limit")?;
        let query = p
            .query
            .as_deref()
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty());
        let include_inactive = p.include_inactive.unwrap_or(false);
        let max_pages = if query.is_some() { 20 } else { 5 };
        let mut pos = Pos::start("user_list", p.cursor.as_deref())?;
        let mut out = Collector::new(limit, self.budget(), 200);
        let mut next_cursor = None;
        for page_no in 1..=max_pages {
            let mut q = Vec::new();
            if let Some(c) = &pos.c {
                q.push(("cursor", c.clone()));
            }
            let page: Option<UsersPage> = self
                .shared
                .client
                .get("/v2/users", &q, &ct)
                .await
                .map_err(GongError::into_tool)?;
            let Some(page) = page else { break };
            let next = page.records.next();
            let mut stopped = None;
            for (i, u) in page.users.into_iter().enumerate().skip(pos.s) {
                let active = u.active.unwrap_or(true);
                let name = [u.first_name.as_deref(), u.last_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                let keep = (include_inactive || active)
                    && query.as_ref().is_none_or(|q| {
                        [
                            Some(name.as_str()),
                            u.email_address.as_deref(),
                            u.title.as_deref(),
                        ]
                        .into_iter()
                        .flatten()
                        .any(|s| s.to_lowercase().contains(q.as_str()))
                    });
                if !keep {
                    continue;
                }
                let item = UserOut {
                    name: if name.is_empty() {
                        u.email_address.clone().unwrap_or_else(|| u.id.clone())
                    } else {
                        name
                    },
                    id: u.id,
                    email: u.email_address,
                    title: u.title.filter(|t| !t.is_empty()),
                    active,
                    manager_id: u.manager_id.filter(|m| !m.is_empty()),
                };
                if !out.push(item) {
                    stopped = Some(i);
                    break;
                }
            }
            if let Some(i) = stopped {
                pos.s = i;
                next_cursor = Some(pos.encode("user_list"));
                break;
            }
            match next {
                None => break,
                Some(c) => {
                    pos = Pos {
                        c: Some(c),
                        s: 0,
                        t: None,
                    };
                    if out.full() || page_no == max_pages {
                        next_cursor = Some(pos.encode("user_list"));
                        break;
                    }
                }
            }
        }
        Ok(Json(UserListOutput {
            truncated: next_cursor.is_some(),
            items: out.items,
            next_cursor,
        }))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn snippet_is_cut_around_the_match() {
        let long = format!(
            "{} pricing is the issue {}",
            "a ".repeat(200),
            "b ".repeat(200)
        );
        let s = super::around(&long, "pricing");
        assert!(s.contains("pricing"));
        assert!(s.chars().count() <= 242);
        assert_eq!(super::around("short pricing", "pricing"), "short pricing");
    }
}
