//! `ask` against a scripted fake of the OpenAI chat-completions streaming API (as OpenAI and
//! OpenRouter document it: SSE `data:` chunks, tool calls assembled by index across chunks,
//! `finish_reason`, a usage chunk, `[DONE]`, `: comment` keep-alives), with the real
//! `sophia-memory` behind the host: a tool call and its result, a tool error fed back, the turn
//! bound, the API key in the `Authorization` header only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::{Router, body::Bytes, http::HeaderMap, response::IntoResponse, routing::post};
use secrecy::SecretString;
use serde_json::{Value, json};
use sophia_host::ask::{AskObserver, AskOptions, LlmConfig, ask};
use sophia_host::config::HostConfig;
use sophia_host::hub::Hub;

const KEY: &str = "sk-or-test-key-42";

/// One scripted answer: the SSE body.
type Script = Arc<dyn Fn(usize, &Value) -> String + Send + Sync>;

struct Fake {
    url: String,
    requests: Arc<Mutex<Vec<(Value, String)>>>,
}

async fn fake(script: Script) -> Fake {
    let requests: Arc<Mutex<Vec<(Value, String)>>> = Arc::default();
    let seen = requests.clone();
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move |headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            let script = script.clone();
            async move {
                let v: Value = serde_json::from_slice(&body).unwrap();
                let auth = headers
                    .get("authorization")
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let n = {
                    let mut s = seen.lock().unwrap();
                    s.push((v.clone(), auth.clone()));
                    s.len() - 1
                };
                if auth != format!("Bearer {KEY}") {
                    return (
                        axum::http::StatusCode::UNAUTHORIZED,
                        axum::Json(
                            json!({"error": {"message": "No auth credentials found", "code": 401}}),
                        ),
                    )
                        .into_response();
                }
                ([("content-type", "text/event-stream")], script(n, &v)).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Fake {
        url: format!("http://{addr}/v1"),
        requests,
    }
}

fn sse(chunks: &[Value]) -> String {
    let mut out = String::from(": OPENROUTER PROCESSING\n\n");
    for c in chunks {
        out.push_str(&format!("data: {c}\n\n"));
    }
    out.push_str("data: [DONE]\n\n");
    out
}

fn chunk(delta: Value, finish: Option<&str>) -> Value {
    json!({"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "test/model",
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

fn usage(total: u64) -> Value {
    json!({"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "test/model",
           "choices": [], "usage": {"prompt_tokens": total - 10, "completion_tokens": 10, "total_tokens": total}})
}

/// A tool call whose arguments arrive in two fragments.
fn tool_call(id: &str, name: &str, args: &str) -> Vec<Value> {
    let (a, b) = args.split_at(args.len() / 2);
    vec![
        chunk(
            json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": b}}]}),
            None,
        ),
        chunk(json!({}), Some("tool_calls")),
        usage(100),
    ]
}

#[derive(Default)]
struct Seen {
    text: String,
    calls: Vec<(String, String)>,
    results: Vec<(String, bool)>,
}

impl AskObserver for Seen {
    fn text(&mut self, delta: &str) {
        self.text.push_str(delta);
    }
    fn tool_call(&mut self, name: &str, arguments: &str) {
        self.calls.push((name.into(), arguments.into()));
    }
    fn tool_result(&mut self, name: &str, ok: bool, _chars: usize) {
        self.results.push((name.into(), ok));
    }
}

async fn hub(dir: &std::path::Path) -> Hub {
    let cfg = HostConfig::parse(
        &json!({"mcpServers": {"m": {"command": memory_bin(), "env": {"SOPHIA_MEMORY_DB": dir.join("m.db"), "SOPHIA_EMBEDDER": "none"}}}})
            .to_string(),
        "test",
    )
    .unwrap();
    Hub::connect(&cfg, Duration::from_secs(30)).await
}

fn llm(url: &str, key: &str) -> LlmConfig {
    LlmConfig {
        base_url: url.to_string(),
        api_key: Some(SecretString::from(key.to_string())),
        model: "test/model".into(),
        timeout: Duration::from_secs(30),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_are_called_results_and_errors_fed_back_and_the_answer_streams() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path()).await;
    let script: Script = Arc::new(|n, _req| match n {
        0 => sse(&tool_call(
            "call_1",
            "m__create_entities",
            r#"{"entities":[{"name":"Acme","entityType":"company","observations":["renews in May"]}]}"#,
        )),
        1 => sse(&tool_call(
            "call_2",
            "m__add_observations",
            r#"{"observations":[{"entityName":"Nobody","contents":["x"]}]}"#,
        )),
        _ => sse(&[
            chunk(json!({"role": "assistant", "content": "Acme is "}), None),
            chunk(json!({"content": "recorded."}), None),
            chunk(json!({}), Some("stop")),
            usage(50),
        ]),
    });
    let f = fake(script).await;
    let mut seen = Seen::default();
    let report = ask(
        &hub,
        &llm(&f.url, KEY),
        "Remember that Acme renews in May.",
        &AskOptions::default(),
        &mut seen,
    )
    .await
    .unwrap();
    assert_eq!(report.answer, "Acme is recorded.");
    assert_eq!(seen.text, "Acme is recorded.");
    assert_eq!(report.tool_calls, 2);
    assert_eq!(report.turns, 3);
    assert_eq!(report.tokens, 250);
    assert!(report.stopped.is_none());
    assert_eq!(
        seen.results,
        vec![
            ("m__create_entities".to_string(), true),
            ("m__add_observations".to_string(), false)
        ]
    );
    // The entity really exists in the store.
    let r = hub
        .call("m.open_nodes", json!({"names": ["Acme"]}))
        .await
        .unwrap();
    assert_eq!(
        r.structured_content.unwrap()["entities"][0]["observations"],
        json!(["renews in May"])
    );

    let requests = f.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 3);
    let (first, auth) = &requests[0];
    assert_eq!(auth, &format!("Bearer {KEY}"));
    assert_eq!(first["stream"], true);
    assert_eq!(first["model"], "test/model");
    let names: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"m__search_nodes"), "{names:?}");
    assert!(first["tools"][0]["function"]["parameters"]["type"] == "object");
    // The second request carries the assistant's tool call and the tool's result.
    let msgs = requests[1].0["messages"].as_array().unwrap();
    let assistant = &msgs[msgs.len() - 2];
    assert_eq!(assistant["tool_calls"][0]["id"], "call_1");
    assert_eq!(
        assistant["tool_calls"][0]["function"]["arguments"],
        r#"{"entities":[{"name":"Acme","entityType":"company","observations":["renews in May"]}]}"#
    );
    let tool = &msgs[msgs.len() - 1];
    assert_eq!(tool["role"], "tool");
    assert_eq!(tool["tool_call_id"], "call_1");
    assert!(tool["content"].as_str().unwrap().contains("Acme"));
    // The tool error went back to the model as a result, not as a failure of the loop.
    let msgs = requests[2].0["messages"].as_array().unwrap();
    let last = msgs.last().unwrap();
    assert_eq!(last["tool_call_id"], "call_2");
    assert!(last["content"].as_str().unwrap().starts_with("ERROR:"));
    assert!(last["content"].as_str().unwrap().contains("Nobody"));
    // Nothing of the key travels in a body.
    assert!(!requests.iter().any(|(b, _)| b.to_string().contains(KEY)));
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_stops_at_its_bound_and_a_rejected_key_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path()).await;
    let script: Script = Arc::new(|n, _| {
        sse(&tool_call(
            &format!("call_{n}"),
            "m__read_graph",
            r#"{"limit": 5}"#,
        ))
    });
    let f = fake(script).await;
    let options = AskOptions {
        max_turns: 3,
        ..AskOptions::default()
    };
    let report = ask(
        &hub,
        &llm(&f.url, KEY),
        "loop",
        &options,
        &mut Seen::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.turns, 3);
    assert_eq!(report.tool_calls, 3);
    assert!(report.stopped.unwrap().contains("3 model turns"));
    assert_eq!(f.requests.lock().unwrap().len(), 3);

    let options = AskOptions {
        max_tokens: 150,
        ..AskOptions::default()
    };
    let report = ask(
        &hub,
        &llm(&f.url, KEY),
        "loop",
        &options,
        &mut Seen::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        report.turns, 2,
        "100 tokens per turn: the third would pass 150"
    );
    assert!(report.stopped.unwrap().contains("tokens"));

    let e = ask(
        &hub,
        &llm(&f.url, "sk-wrong-key"),
        "x",
        &AskOptions::default(),
        &mut Seen::default(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("401"), "{e}");
    assert!(!e.contains("sk-wrong-key"), "{e}");
    hub.shutdown().await;
}

/// An answer that quotes its prompt, so a test can tell which prompt produced which result.
fn echo_script() -> Script {
    Arc::new(|_, req: &Value| {
        let prompt = req["messages"][0]["content"].as_str().unwrap_or_default();
        sse(&[
            chunk(json!({"role": "assistant", "content": "re: "}), None),
            chunk(json!({"content": prompt.to_uppercase()}), None),
            chunk(json!({}), Some("stop")),
            usage(42),
        ])
    })
}

const LLM_FLOW: &str = r#"
inputs:
  company: {type: string}
  topics: {type: array, default: [pricing, renewal]}
steps:
  - id: facts
    call: m.create_entities
    args: '{entities: [{name: .inputs.company, entityType: "company", observations: ["renews in May"]}]}'
  - id: summary
    llm: '"Summarise \(.inputs.company): \(.steps.facts.entities[0].observations | join("; "))"'
    max_tokens: 200
  - id: per_topic
    foreach: '.inputs.topics'
    concurrency: 2
    llm: '"Topic \(.index): \(.item)"'
  - id: note
    call: m.add_observations
    args: '{observations: [{entityName: .inputs.company, contents: [.steps.summary.text]}]}'
output: '{summary: .steps.summary, topics: [.steps.per_topic[].text]}'
"#;

/// `llm` steps: the prompt the model receives is the rendered jq template, the answer flows
/// into the next call and the output, a foreach of prompts keeps its order, and no tools are
/// offered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_steps_send_the_rendered_prompt_and_their_answer_flows_on() {
    use sophia_host::workflow::Workflow;
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path()).await;
    let f = fake(echo_script()).await;
    let mut wf = Workflow::parse(LLM_FLOW, "inline").unwrap();
    wf.set_llm(Ok(llm(&f.url, KEY)));
    let inputs = wf
        .resolve_inputs(json!({"company": "Acme"}).as_object().unwrap())
        .unwrap();
    let plan = wf.plan(&inputs);
    assert_eq!(plan["steps"][1]["model"], "test/model");
    assert_eq!(plan["steps"][1]["max_tokens"], 200);
    let report = wf.run(&hub, inputs).await.unwrap();

    let requests = f.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 3);
    let (first, auth) = &requests[0];
    assert_eq!(auth, &format!("Bearer {KEY}"));
    assert_eq!(
        first["messages"],
        json!([{"role": "user", "content": "Summarise Acme: renews in May"}])
    );
    assert_eq!(first["max_tokens"], 200);
    assert_eq!(first["model"], "test/model");
    assert!(first.get("tools").is_none(), "an llm step offers no tools");
    let mut topic_prompts: Vec<&str> = requests[1..]
        .iter()
        .map(|(r, _)| r["messages"][0]["content"].as_str().unwrap())
        .collect();
    topic_prompts.sort();
    assert_eq!(topic_prompts, vec!["Topic 0: pricing", "Topic 1: renewal"]);
    assert_eq!(requests[1].0["max_tokens"], 1024);

    assert_eq!(
        report.output["summary"],
        json!({"text": "re: SUMMARISE ACME: RENEWS IN MAY", "model": "test/model",
               "usage": {"prompt_tokens": 32, "completion_tokens": 10, "total_tokens": 42}})
    );
    assert_eq!(
        report.output["topics"],
        json!(["re: TOPIC 0: PRICING", "re: TOPIC 1: RENEWAL"])
    );
    // The answer reached the next tool call: it is stored in memory.
    let r = hub
        .call("m.open_nodes", json!({"names": ["Acme"]}))
        .await
        .unwrap();
    assert_eq!(
        r.structured_content.unwrap()["entities"][0]["observations"],
        json!(["renews in May", "re: SUMMARISE ACME: RENEWS IN MAY"])
    );
    hub.shutdown().await;
}

/// With no model configured, a workflow with an `llm` step is refused before any call, naming
/// the variables that configure one; a failing model stops the run at that step, or records the
/// error and goes on with `on_error: continue`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_steps_without_a_model_are_refused_and_model_errors_name_the_step() {
    use sophia_host::workflow::{Workflow, WorkflowError};
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path()).await;
    let wf = Workflow::parse(LLM_FLOW, "inline").unwrap();
    let inputs = wf
        .resolve_inputs(json!({"company": "Acme"}).as_object().unwrap())
        .unwrap();
    let e = wf.run(&hub, inputs.clone()).await.unwrap_err();
    assert!(matches!(e, WorkflowError::Invalid(_)), "{e}");
    let e = e.to_string();
    for var in [
        "SOPHIA_LLM_BASE_URL",
        "SOPHIA_LLM_API_KEY",
        "OPENROUTER_API_KEY",
        "SOPHIA_LLM_MODEL",
    ] {
        assert!(e.contains(var), "{var} not in {e}");
    }
    assert!(e.contains(r#"step "summary""#), "{e}");
    let r = hub
        .call("m.open_nodes", json!({"names": ["Acme"]}))
        .await
        .unwrap();
    assert_eq!(
        r.structured_content.unwrap()["entities"],
        json!([]),
        "the first step ran although the check failed"
    );

    // The model rejects the key: the run stops at the llm step, naming it and the model.
    let f = fake(echo_script()).await;
    let mut wf = Workflow::parse(LLM_FLOW, "inline").unwrap();
    wf.set_llm(Ok(llm(&f.url, "sk-wrong-key")));
    match wf.run(&hub, inputs.clone()).await.unwrap_err() {
        WorkflowError::Step { step, tool, error } => {
            assert_eq!(step, "summary");
            assert_eq!(tool, "llm test/model");
            assert!(error.contains("401"), "{error}");
            assert!(!error.contains("sk-wrong-key"), "{error}");
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        f.requests.lock().unwrap().len(),
        1,
        "nothing after the failure"
    );

    // on_error: continue records the error and the run goes on.
    let flow = r#"
steps:
  - id: summary
    llm: '"hello"'
    on_error: continue
  - id: after
    call: m.read_graph
output: '{error: .steps.summary.error, after: (.steps.after.entities | length)}'
"#;
    let mut wf = Workflow::parse(flow, "inline").unwrap();
    wf.set_llm(Ok(llm(&f.url, "sk-wrong-key")));
    let report = wf.run(&hub, json!({})).await.unwrap();
    assert!(
        report.output["error"].as_str().unwrap().contains("401"),
        "{}",
        report.output
    );
    assert_eq!(
        report.output["after"], 1,
        "Acme from the failed run's first step"
    );
    hub.shutdown().await;
}

/// From the command line: the model comes from the environment; without one, `--dry-run`
/// already names the variables; with one, the run answers through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_takes_the_model_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("host.json");
    std::fs::write(
        &cfg,
        json!({"mcpServers": {"m": {"command": memory_bin(), "env": {"SOPHIA_MEMORY_DB": dir.path().join("m.db"), "SOPHIA_EMBEDDER": "none"}}}})
            .to_string(),
    )
    .unwrap();
    let wf = dir.path().join("wf.yaml");
    std::fs::write(
        &wf,
        "inputs: {who: {type: string}}\nsteps:\n  - id: hi\n    llm: '\"Greet \\(.inputs.who)\"'\noutput: .steps.hi.text\n",
    )
    .unwrap();
    let f = fake(echo_script()).await;
    let host = |env: &[(&str, &str)], extra: &[&str]| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sophia-host"));
        cmd.arg("--config")
            .arg(&cfg)
            .args(["run", wf.to_str().unwrap(), "--input", "who=Ada"])
            .args(extra);
        for var in [
            "SOPHIA_LLM_BASE_URL",
            "SOPHIA_LLM_API_KEY",
            "OPENROUTER_API_KEY",
            "SOPHIA_LLM_MODEL",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied());
        cmd.output()
    };
    let out = host(&[], &["--dry-run"]).await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SOPHIA_LLM_API_KEY") && stderr.contains("SOPHIA_LLM_BASE_URL"),
        "{stderr}"
    );
    let env = [
        ("SOPHIA_LLM_BASE_URL", f.url.as_str()),
        ("SOPHIA_LLM_API_KEY", KEY),
        ("SOPHIA_LLM_MODEL", "test/model"),
    ];
    let out = host(&env, &["--dry-run"]).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["steps"][0]["llm"], "Greet Ada");
    assert_eq!(plan["steps"][0]["model"], "test/model");
    assert!(
        f.requests.lock().unwrap().is_empty(),
        "a dry run asked the model"
    );
    let out = host(&env, &[]).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, json!("re: GREET ADA"));
}
