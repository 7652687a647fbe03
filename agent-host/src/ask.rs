//! `sophia-host ask`: an LLM tool loop on any OpenAI-compatible chat-completions API
//! (OpenRouter by default; OpenAI, Ollama, vLLM, LM Studio, TEI-style gateways). The aggregated
//! tools are offered as functions; each tool result — errors included — goes back to the model;
//! the loop is bounded in model turns and in total tokens; the answer streams as it arrives.
//!
//! Wire format (OpenAI chat completions, `stream: true` with
//! `stream_options.include_usage`): server-sent events, one `data: {chunk}` per line, ending
//! with `data: [DONE]`; text in `choices[0].delta.content`; tool calls in
//! `choices[0].delta.tool_calls[]`, assembled by `index` (id and name in the first fragment, the
//! JSON `arguments` across later ones); `finish_reason` on the last chunk; `usage` on a final
//! chunk with empty `choices`. SSE comment lines (`: …`, OpenRouter's keep-alives) are skipped.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::hub::Hub;

/// OpenRouter's OpenAI-compatible endpoint.
pub const DEFAULT_BASE_URL: &str = "https://openrouter.ai/api/v1";
/// Used when `SOPHIA_LLM_MODEL` is not set.
pub const DEFAULT_MODEL: &str = "openai/gpt-4o-mini";
/// Longest tool result handed back to the model, in characters.
const MAX_TOOL_RESULT_CHARS: usize = 20_000;

/// Where the model is.
#[derive(Clone)]
pub struct LlmConfig {
    pub base_url: String,
    pub api_key: Option<SecretString>,
    pub model: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .finish()
    }
}

fn is_loopback(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

impl LlmConfig {
    /// From `SOPHIA_LLM_BASE_URL`, `SOPHIA_LLM_API_KEY` (or `OPENROUTER_API_KEY`) and
    /// `SOPHIA_LLM_MODEL`. A key is required unless the endpoint is on this machine (Ollama,
    /// LM Studio).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let base_url = get("SOPHIA_LLM_BASE_URL")
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
            .trim_end_matches('/')
            .to_string();
        let api_key = get("SOPHIA_LLM_API_KEY")
            .or_else(|| get("OPENROUTER_API_KEY"))
            .map(SecretString::from);
        if api_key.is_none() && !is_loopback(&base_url) {
            return Err(format!(
                "no model configured: set SOPHIA_LLM_API_KEY (or OPENROUTER_API_KEY) for \
                 {base_url}, or SOPHIA_LLM_BASE_URL to a local OpenAI-compatible server; \
                 SOPHIA_LLM_MODEL picks the model (default {DEFAULT_MODEL})"
            ));
        }
        Ok(Self {
            base_url,
            api_key,
            model: get("SOPHIA_LLM_MODEL").unwrap_or_else(|| DEFAULT_MODEL.to_string()),
            timeout: Duration::from_secs(300),
        })
    }
}

/// Bounds of one `ask`.
#[derive(Debug, Clone)]
pub struct AskOptions {
    /// Model turns at most (each may call several tools).
    pub max_turns: usize,
    /// Total tokens (prompt + completion, as the API reports them) at most.
    pub max_tokens: u64,
    pub system: Option<String>,
}

impl Default for AskOptions {
    fn default() -> Self {
        Self {
            max_turns: 10,
            max_tokens: 200_000,
            system: None,
        }
    }
}

/// What the caller sees while the loop runs.
pub trait AskObserver {
    fn text(&mut self, delta: &str);
    fn tool_call(&mut self, name: &str, arguments: &str);
    fn tool_result(&mut self, name: &str, ok: bool, chars: usize);
}

/// The outcome.
#[derive(Debug)]
pub struct AskReport {
    /// The model's last text.
    pub answer: String,
    /// The whole conversation as sent to the API (for `--save`).
    pub messages: Vec<Value>,
    pub tool_calls: usize,
    pub turns: usize,
    pub tokens: u64,
    /// Why the loop stopped before the model finished, if it did.
    pub stopped: Option<String>,
}

/// Why `ask` failed.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("{0}")]
    Config(String),
    #[error("the model API failed: {0}")]
    Api(String),
}

#[derive(Default)]
struct PendingCall {
    id: String,
    name: String,
    arguments: String,
}

struct Turn {
    text: String,
    calls: Vec<PendingCall>,
    tokens: u64,
    /// The model that answered, as the API names it.
    model: Option<String>,
    /// The API's `usage` object, as sent.
    usage: Value,
}

/// Run the loop: the question, tool calls answered through the hub, until the model answers
/// without calling a tool or a bound is reached.
pub async fn ask(
    hub: &Hub,
    llm: &LlmConfig,
    question: &str,
    options: &AskOptions,
    observer: &mut dyn AskObserver,
) -> Result<AskReport, AskError> {
    let client = http_client(llm.timeout)?;
    let tools: Vec<Value> = hub
        .tools()
        .iter()
        .map(|t| {
            json!({"type": "function", "function": {
                "name": t.name,
                "description": t.tool.description.clone().unwrap_or_default(),
                "parameters": Value::Object((*t.tool.input_schema).clone()),
            }})
        })
        .collect();
    let mut messages = Vec::new();
    if let Some(s) = &options.system {
        messages.push(json!({"role": "system", "content": s}));
    }
    messages.push(json!({"role": "user", "content": question}));
    let mut report = AskReport {
        answer: String::new(),
        messages: Vec::new(),
        tool_calls: 0,
        turns: 0,
        tokens: 0,
        stopped: None,
    };
    loop {
        if report.turns >= options.max_turns {
            report.stopped = Some(format!(
                "stopped after {} model turns (--max-turns)",
                options.max_turns
            ));
            break;
        }
        if report.tokens >= options.max_tokens {
            report.stopped = Some(format!(
                "stopped after {} tokens (--max-tokens {})",
                report.tokens, options.max_tokens
            ));
            break;
        }
        report.turns += 1;
        let mut body = json!({
            "model": llm.model,
            "messages": messages,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if !tools.is_empty() {
            body["tools"] = json!(tools);
        }
        let turn = complete(&client, llm, &body, observer).await?;
        report.tokens += turn.tokens;
        report.answer = turn.text.clone();
        let mut assistant = json!({"role": "assistant", "content": if turn.text.is_empty() { Value::Null } else { json!(turn.text) }});
        if turn.calls.is_empty() {
            messages.push(assistant);
            break;
        }
        assistant["tool_calls"] = json!(
            turn.calls
                .iter()
                .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                .collect::<Vec<_>>()
        );
        messages.push(assistant);
        for call in &turn.calls {
            report.tool_calls += 1;
            observer.tool_call(&call.name, &call.arguments);
            let (ok, content) = run_tool(hub, call).await;
            observer.tool_result(&call.name, ok, content.chars().count());
            messages.push(json!({"role": "tool", "tool_call_id": call.id, "content": content}));
        }
    }
    report.messages = messages;
    Ok(report)
}

fn http_client(timeout: Duration) -> Result<reqwest::Client, AskError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(timeout)
        .user_agent(concat!("sophia-host/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AskError::Config(e.to_string()))
}

/// One answer to one prompt (a workflow's `llm` step): no tools offered.
#[derive(Debug, Clone)]
pub struct Completion {
    pub text: String,
    /// The model that answered (as the API reports it, else the configured one).
    pub model: String,
    /// The API's `usage` object (`prompt_tokens`, `completion_tokens`, `total_tokens`), or null.
    pub usage: Value,
}

struct Quiet;

impl AskObserver for Quiet {
    fn text(&mut self, _delta: &str) {}
    fn tool_call(&mut self, _name: &str, _arguments: &str) {}
    fn tool_result(&mut self, _name: &str, _ok: bool, _chars: usize) {}
}

/// Send one user message and return the model's answer: one streamed chat completion, no
/// tools, at most `max_tokens` completion tokens, within `timeout`.
pub async fn complete_prompt(
    llm: &LlmConfig,
    prompt: &str,
    max_tokens: u64,
    timeout: Duration,
) -> Result<Completion, AskError> {
    let client = http_client(timeout)?;
    let body = json!({
        "model": llm.model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let mut quiet = Quiet;
    let work = complete(&client, llm, &body, &mut quiet);
    let turn = tokio::time::timeout(timeout, work).await.map_err(|_| {
        AskError::Api(format!(
            "no complete answer within {}s",
            timeout.as_secs_f64()
        ))
    })??;
    Ok(Completion {
        text: turn.text,
        model: turn.model.unwrap_or_else(|| llm.model.clone()),
        usage: turn.usage,
    })
}

async fn run_tool(hub: &Hub, call: &PendingCall) -> (bool, String) {
    let args: Value = if call.arguments.trim().is_empty() {
        json!({})
    } else {
        match serde_json::from_str(&call.arguments) {
            Ok(v) => v,
            Err(e) => return (false, format!("ERROR: the arguments are not JSON ({e})")),
        }
    };
    let (ok, text) = match hub.call(&call.name, args).await {
        Ok(result) => {
            let text = match &result.structured_content {
                Some(v) => v.to_string(),
                None => result
                    .content
                    .iter()
                    .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                    .collect::<Vec<_>>()
                    .join("\n"),
            };
            if result.is_error == Some(true) {
                (false, format!("ERROR: {text}"))
            } else {
                (true, text)
            }
        }
        Err(e) => (false, format!("ERROR: {e}")),
    };
    let cut: String = text.chars().take(MAX_TOOL_RESULT_CHARS).collect();
    if cut.len() < text.len() {
        (
            ok,
            format!("{cut}\n[cut at {MAX_TOOL_RESULT_CHARS} characters]"),
        )
    } else {
        (ok, cut)
    }
}

/// One streamed completion: text as it arrives, tool calls assembled, tokens counted.
async fn complete<O: AskObserver + ?Sized>(
    client: &reqwest::Client,
    llm: &LlmConfig,
    body: &Value,
    observer: &mut O,
) -> Result<Turn, AskError> {
    let mut request = client
        .post(format!("{}/chat/completions", llm.base_url))
        .json(body);
    if let Some(key) = &llm.api_key {
        request = request.bearer_auth(key.expose_secret());
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| AskError::Api(e.without_url().to_string()))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        let detail: String = text.chars().take(300).collect();
        return Err(AskError::Api(format!("HTTP {status}: {detail}")));
    }
    let mut turn = Turn {
        text: String::new(),
        calls: Vec::new(),
        tokens: 0,
        model: None,
        usage: Value::Null,
    };
    let mut buf: Vec<u8> = Vec::new();
    let mut done = false;
    while !done {
        let chunk = response
            .chunk()
            .await
            .map_err(|e| AskError::Api(e.without_url().to_string()))?;
        let Some(chunk) = chunk else { break };
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            let Some(data) = line.strip_prefix("data:") else {
                continue; // blank separators, `event:` and `: comment` lines
            };
            let data = data.trim_start();
            if data == "[DONE]" {
                done = true;
                break;
            }
            let v: Value = serde_json::from_str(data)
                .map_err(|e| AskError::Api(format!("a stream chunk is not JSON: {e}")))?;
            if let Some(err) = v.get("error") {
                return Err(AskError::Api(format!("the model reported an error: {err}")));
            }
            if let Some(t) = v["usage"]["total_tokens"].as_u64() {
                turn.tokens = t;
            }
            if v["usage"].is_object() {
                turn.usage = v["usage"].clone();
            }
            if let Some(m) = v["model"].as_str()
                && turn.model.is_none()
            {
                turn.model = Some(m.to_string());
            }
            let delta = &v["choices"][0]["delta"];
            if let Some(text) = delta["content"].as_str()
                && !text.is_empty()
            {
                observer.text(text);
                turn.text.push_str(text);
            }
            if let Some(calls) = delta["tool_calls"].as_array() {
                for c in calls {
                    let i = c["index"].as_u64().unwrap_or(0) as usize;
                    while turn.calls.len() <= i {
                        turn.calls.push(PendingCall::default());
                    }
                    let slot = &mut turn.calls[i];
                    if let Some(id) = c["id"].as_str() {
                        slot.id = id.to_string();
                    }
                    if let Some(name) = c["function"]["name"].as_str() {
                        slot.name.push_str(name);
                    }
                    if let Some(args) = c["function"]["arguments"].as_str() {
                        slot.arguments.push_str(args);
                    }
                }
            }
        }
    }
    for (i, c) in turn.calls.iter_mut().enumerate() {
        if c.id.is_empty() {
            c.id = format!("call_{i}");
        }
    }
    Ok(turn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_required_for_remote_endpoints_only_and_never_shown() {
        let none = |_: &str| None;
        let e = LlmConfig::from_lookup(none).unwrap_err();
        assert!(
            e.contains("SOPHIA_LLM_API_KEY") && e.contains("OPENROUTER_API_KEY"),
            "{e}"
        );
        let local = LlmConfig::from_lookup(|k| {
            (k == "SOPHIA_LLM_BASE_URL").then(|| "http://127.0.0.1:11434/v1/".to_string())
        })
        .unwrap();
        assert_eq!(local.base_url, "http://127.0.0.1:11434/v1");
        assert_eq!(local.model, DEFAULT_MODEL);
        let keyed = LlmConfig::from_lookup(|k| {
            (k == "OPENROUTER_API_KEY").then(|| "sk-or-secret-99".to_string())
        })
        .unwrap();
        assert_eq!(keyed.base_url, DEFAULT_BASE_URL);
        assert!(!format!("{keyed:?}").contains("sk-or-secret-99"));
    }
}
