//! The tools: calls, transcripts, search and users in `calls.rs`; the seed's call analysis
//! (`get_talking_points`, `analyze_call_sentiment`) in `analysis.rs`. Shared fetches and shapes
//! here.

mod analysis;
mod calls;

use std::sync::Arc;

use mcp_core::ToolError;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::client::{CallData, ExtensivePage, GongError, Party, TranscriptPage};
use crate::{CallText, GongServer};

/// Most pages one transcript request may run to (one call's transcript is one page in practice).
const MAX_TRANSCRIPT_PAGES: usize = 10;

fn is_false(b: &bool) -> bool {
    !*b
}

/// A participant of a call.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PartyOut {
    /// Display name (or e-mail when Gong has no name)
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Internal (our company), External or Unknown
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affiliation: Option<String>,
    /// Id used in the transcript (only participants who spoke have one)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker_id: Option<String>,
    /// Gong user id, for our own team members
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

pub(crate) fn party_name(p: &Party) -> Option<String> {
    p.name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| p.email_address.clone().filter(|e| !e.trim().is_empty()))
}

pub(crate) fn project_party(p: &Party) -> PartyOut {
    PartyOut {
        name: party_name(p).unwrap_or_else(|| "(unnamed)".into()),
        email: p.email_address.clone().filter(|e| !e.is_empty()),
        title: p.title.clone().filter(|t| !t.is_empty()),
        affiliation: p.affiliation.clone().filter(|a| !a.is_empty()),
        speaker_id: p.speaker_id.clone().filter(|s| !s.is_empty()),
        user_id: p.user_id.clone().filter(|s| !s.is_empty()),
    }
}

/// (name, affiliation) of a transcript speaker, through the call's parties.
pub(crate) fn speaker(parties: &[Party], speaker_id: &str) -> (String, String) {
    match parties
        .iter()
        .find(|p| p.speaker_id.as_deref() == Some(speaker_id))
    {
        Some(p) => (
            party_name(p).unwrap_or_else(|| format!("Speaker {speaker_id}")),
            p.affiliation.clone().unwrap_or_else(|| "Unknown".into()),
        ),
        None => (format!("Speaker {speaker_id}"), "Unknown".into()),
    }
}

/// `contentSelector` asking for parties only.
pub(crate) fn parties_only() -> Value {
    json!({ "exposedFields": { "parties": true } })
}

impl GongServer {
    pub(crate) fn budget(&self) -> mcp_core::Budget {
        self.shared.budget
    }

    /// One call from `/v2/calls/extensive` with `selector`; not found is a tool error.
    pub(crate) async fn one_call(
        &self,
        call_id: &str,
        selector: Value,
        ct: &CancellationToken,
    ) -> Result<CallData, ToolError> {
        let id = check_call_id(call_id)?;
        let body = json!({ "filter": { "callIds": [id] }, "contentSelector": selector });
        let page: Option<ExtensivePage> = self
            .shared
            .client
            .post("/v2/calls/extensive", &body, ct)
            .await
            .map_err(GongError::into_tool)?;
        page.and_then(|p| p.calls.into_iter().find(|c| c.meta_data.id == id))
            .ok_or_else(|| not_found(&id))
    }

    /// A call's transcript and parties (two requests at once, then cached).
    pub(crate) async fn call_text(
        &self,
        call_id: &str,
        ct: &CancellationToken,
    ) -> Result<Arc<CallText>, ToolError> {
        let id = check_call_id(call_id)?;
        if let Some(t) = self.cached_transcript(&id) {
            return Ok(t);
        }
        let (call, monologues) = futures::join!(
            self.one_call(&id, parties_only(), ct),
            self.transcript(&id, ct)
        );
        let call = call?;
        let monologues = monologues?;
        let text = Arc::new(CallText {
            call_id: id,
            title: call.meta_data.title,
            parties: call.parties,
            monologues,
        });
        self.cache_transcript(text.clone());
        Ok(text)
    }

    async fn transcript(
        &self,
        id: &str,
        ct: &CancellationToken,
    ) -> Result<Vec<crate::client::Monologue>, ToolError> {
        let mut cursor: Option<String> = None;
        let mut out = Vec::new();
        let mut found = false;
        for _ in 0..MAX_TRANSCRIPT_PAGES {
            let mut body = json!({ "filter": { "callIds": [id] } });
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
            for t in page.call_transcripts {
                if t.call_id == id {
                    found = true;
                    out.extend(t.transcript);
                }
            }
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        if !found {
            return Err(ToolError::NotFound(format!(
                "no transcript for call {id}: the call does not exist, is not transcribed yet, or these credentials lack the api:calls:read:transcript scope"
            )));
        }
        Ok(out)
    }
}

pub(crate) fn check_call_id(call_id: &str) -> Result<String, ToolError> {
    let id = call_id.trim();
    if id.is_empty() || id.len() > 20 || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(ToolError::InvalidInput(format!(
            "call_id {call_id:?} is not a Gong call id (up to 20 digits); call_list or call_search give ids"
        )));
    }
    Ok(id.to_string())
}

fn not_found(id: &str) -> ToolError {
    ToolError::NotFound(format!(
        "call {id} not found in Gong; call_list or call_search give call ids"
    ))
}

/// Round to 3 decimals (durations in seconds).
pub(crate) fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
