//! The seed's call-analysis tools, under the names the seed gave them: `get_talking_points`
//! (trackers and key points that fired, with the sentences that triggered them) and
//! `analyze_call_sentiment` (talk ratio, questions, longest monologue and lexicon sentiment per
//! speaker; see `crate::sentiment` for the method).

use mcp_core::ToolError;
use mcp_core::budget::json_chars;
use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{is_false, speaker};
use crate::client::{Monologue, Occurrence};
use crate::sentiment::{self, Sentiment, SpeakerStats};
use crate::time::clock;
use crate::{CallText, GongServer};

/// Longest sentence quoted for a tracker occurrence.
const SENTENCE_CHARS: usize = 300;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TalkingPointsParams {
    /// Gong call id (digits)
    pub call_id: String,
    /// Most occurrences quoted per tracker (default 5, max 50)
    #[serde(default)]
    pub max_occurrences: Option<u32>,
}

/// One moment a tracker fired.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TrackerHit {
    /// Time in the call, mm:ss
    pub at: String,
    /// Seconds from the start of the call
    pub time_s: f64,
    pub speaker: String,
    /// Internal, External or Unknown
    pub affiliation: String,
    /// The keyword-tracker phrase, when Gong reports per phrase
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phrase: Option<String>,
    /// The transcript sentence said at that moment
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentence: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TrackerPoints {
    pub name: String,
    /// Keyword or Smart
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Times it fired in the call
    pub count: u64,
    pub occurrences: Vec<TrackerHit>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TalkingPointsOutput {
    pub call_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Gong's key points of the call
    pub key_points: Vec<String>,
    /// Trackers that fired, most frequent first
    pub trackers: Vec<TrackerPoints>,
    /// Occurrences or trackers were left out (max_occurrences or the response budget)
    #[serde(skip_serializing_if = "is_false")]
    pub truncated: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SentimentParams {
    /// Gong call id (digits)
    pub call_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SentimentOutput {
    pub call_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The scoring method (the README explains it; same transcript, same numbers)
    pub method: String,
    /// Per speaker, in order of first words
    pub speakers: Vec<SpeakerStats>,
    /// Seconds of speech of everyone
    pub total_talk_time_s: f64,
    pub total_questions: u64,
    /// Sentiment of everyone's words together
    pub overall: Sentiment,
}

/// The sentence of `speaker_id` said at `ms` (or the nearest one of theirs, or anyone's).
fn sentence_at(monologues: &[Monologue], speaker_id: Option<&str>, ms: f64) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for m in monologues {
        let same = speaker_id.is_none_or(|s| s == m.speaker_id);
        for s in &m.sentences {
            let distance = if ms >= s.start && ms <= s.end {
                0.0
            } else {
                (s.start - ms).abs().min((s.end - ms).abs())
            };
            // Another speaker's sentence only counts when it contains the moment.
            if !same && distance > 0.0 {
                continue;
            }
            let distance = if same { distance } else { distance + 0.5 };
            if best.is_none_or(|(d, _)| distance < d) {
                best = Some((distance, s.text.as_str()));
            }
        }
    }
    // More than 10 s away is not the sentence that triggered it.
    best.filter(|(d, _)| *d <= 10_000.0).map(|(_, t)| {
        let (text, cut) = {
            let slice = mcp_core::budget::cut_text(t.trim(), 0, SENTENCE_CHARS);
            let cut = slice.next_offset.is_some();
            (slice.text, cut)
        };
        if cut { format!("{text}…") } else { text }
    })
}

fn hit(
    text: &CallText,
    occurrence: &Occurrence,
    phrase: Option<&str>,
) -> Option<(f64, TrackerHit)> {
    let t = occurrence.start_time?;
    let sid = occurrence.speaker_id.as_deref();
    let (name, affiliation) = match sid {
        Some(s) => speaker(&text.parties, s),
        None => ("(unknown)".into(), "Unknown".into()),
    };
    Some((
        t,
        TrackerHit {
            at: clock(t),
            time_s: (t * 1000.0).round() / 1000.0,
            speaker: name,
            affiliation,
            phrase: phrase.map(str::to_string),
            sentence: sentence_at(&text.monologues, sid, t * 1000.0),
        },
    ))
}

#[tool_router(router = analysis_router, vis = "pub(crate)")]
impl GongServer {
    /// The trackers and key points that fired on a call, each tracker with the sentences that triggered it (speaker and time).
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn get_talking_points(
        &self,
        Parameters(p): Parameters<TalkingPointsParams>,
        ct: CancellationToken,
    ) -> Result<Json<TalkingPointsOutput>, ToolError> {
        let max_occ = crate::pager::limit(p.max_occurrences, 5, 50, "max_occurrences")?;
        let selector = json!({
            "exposedFields": {
                "parties": true,
                "content": { "trackers": true, "trackerOccurrences": true, "keyPoints": true }
            }
        });
        let (call, text) = futures::join!(
            self.one_call(&p.call_id, selector, &ct),
            self.call_text(&p.call_id, &ct)
        );
        let call = call?;
        // A call without a transcript still has trackers and key points worth returning.
        let text = match text {
            Ok(t) => t,
            Err(ToolError::NotFound(_)) => std::sync::Arc::new(CallText {
                call_id: call.meta_data.id.clone(),
                title: call.meta_data.title.clone(),
                parties: call.parties.clone(),
                monologues: Vec::new(),
            }),
            Err(e) => return Err(e),
        };
        let content = call.content.unwrap_or_default();
        let mut truncated = false;
        let mut trackers: Vec<TrackerPoints> = content
            .trackers
            .into_iter()
            .filter(|t| t.count.unwrap_or(0) > 0 || !t.occurrences.is_empty())
            .map(|t| {
                let mut hits: Vec<(f64, TrackerHit)> = t
                    .occurrences
                    .iter()
                    .filter_map(|o| hit(&text, o, None))
                    .collect();
                if hits.is_empty() {
                    for ph in &t.phrases {
                        hits.extend(
                            ph.occurrences
                                .iter()
                                .filter_map(|o| hit(&text, o, ph.phrase.as_deref())),
                        );
                    }
                }
                hits.sort_by(|a, b| a.0.total_cmp(&b.0));
                if hits.len() > max_occ {
                    truncated = true;
                    hits.truncate(max_occ);
                }
                TrackerPoints {
                    count: t.count.unwrap_or(hits.len() as u64),
                    name: t.name,
                    kind: t.kind,
                    occurrences: hits.into_iter().map(|(_, h)| h).collect(),
                }
            })
            .collect();
        trackers.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
        let mut out = TalkingPointsOutput {
            call_id: call.meta_data.id,
            title: call.meta_data.title,
            key_points: content
                .key_points
                .into_iter()
                .map(|k| k.text)
                .filter(|t| !t.is_empty())
                .collect(),
            trackers,
            truncated,
        };
        // Within the budget: drop quoted occurrences from the largest trackers, then trackers.
        let max = self.budget().max_chars;
        while json_chars(&out) > max {
            out.truncated = true;
            if let Some(t) = out
                .trackers
                .iter_mut()
                .filter(|t| !t.occurrences.is_empty())
                .max_by_key(|t| t.occurrences.len())
            {
                t.occurrences.pop();
            } else if out.trackers.pop().is_none() && out.key_points.pop().is_none() {
                break;
            }
        }
        Ok(Json(out))
    }

    /// Per-speaker talk ratio, questions asked, longest monologue and a lexicon sentiment score per speaker and overall. Deterministic and explainable: no model, the words that moved each score are listed.
    #[tool(annotations(
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn analyze_call_sentiment(
        &self,
        Parameters(p): Parameters<SentimentParams>,
        ct: CancellationToken,
    ) -> Result<Json<SentimentOutput>, ToolError> {
        let text = self.call_text(&p.call_id, &ct).await?;
        let analysis = sentiment::analyse(&text.monologues, |id| speaker(&text.parties, id));
        Ok(Json(SentimentOutput {
            call_id: text.call_id.clone(),
            title: text.title.clone(),
            method: sentiment::METHOD.to_string(),
            speakers: analysis.speakers,
            total_talk_time_s: analysis.total_talk_time_s,
            total_questions: analysis.total_questions,
            overall: analysis.overall,
        }))
    }
}
