//! Resources and prompts through the host: the real `sophia-memory` (its
//! `memory://knowledge-graph` resource) and `examples/prompt_server.rs` (a prompt, a resource
//! and a resource template) behind one hub, each namespaced `<server>__<name>` with URIs kept;
//! reads routed by the server that listed the URI or whose template matches it; prompts routed
//! under the server's own name; the same through the gateway and `sophia-host tools`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};
use sophia_host::config::HostConfig;
use sophia_host::hub::{HostError, Hub};

fn notes_bin() -> PathBuf {
    built(
        target_dir().join("examples").join("prompt_server"),
        &["-p", "sophia-host", "--example", "prompt_server"],
    )
}

fn config_json(dir: &Path) -> Value {
    json!({"mcpServers": {
        "memory": {"command": memory_bin(), "env": {"SOPHIA_MEMORY_DB": dir.join("m.db"), "SOPHIA_EMBEDDER": "none"}},
        "notes": {"command": notes_bin()}
    }})
}

async fn hub(dir: &Path) -> Hub {
    let cfg = HostConfig::parse(&config_json(dir).to_string(), "test").unwrap();
    Hub::connect(&cfg, Duration::from_secs(30)).await
}

fn text(c: &ResourceContents) -> (&str, &str) {
    match c {
        ResourceContents::TextResourceContents { uri, text, .. } => (uri, text),
        other => panic!("not text: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_and_prompts_are_namespaced_and_routed() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path()).await;
    let status = hub.status();
    assert!(status.values().all(|s| s.starts_with("up")), "{status:?}");

    let resources: Vec<(String, String)> = hub
        .resources()
        .iter()
        .map(|r| (r.as_listed().name, r.as_listed().uri))
        .collect();
    assert!(
        resources.contains(&(
            "memory__knowledge-graph".into(),
            "memory://knowledge-graph".into()
        )),
        "{resources:?}"
    );
    assert!(
        resources.contains(&("notes__index".into(), "notes://index".into())),
        "{resources:?}"
    );
    let templates: Vec<(String, String)> = hub
        .resource_templates()
        .iter()
        .map(|t| (t.as_listed().name, t.template.uri_template.clone()))
        .collect();
    assert_eq!(
        templates,
        vec![("notes__summary".into(), "notes://{company}/summary".into())]
    );
    let prompts: Vec<String> = hub.prompts().iter().map(|p| p.as_listed().name).collect();
    assert_eq!(prompts, vec!["notes__account_brief"]);

    // Reads go to the server that listed the URI …
    hub.call(
        "memory.create_entities",
        json!({"entities": [{"name": "Acme", "entityType": "company", "observations": ["renews in May"]}]}),
    )
    .await
    .unwrap();
    let graph = hub.read_resource("memory://knowledge-graph").await.unwrap();
    let (uri, body) = text(&graph.contents[0]);
    assert_eq!(uri, "memory://knowledge-graph");
    assert!(body.contains("renews in May"), "{body}");
    let index = hub.read_resource("notes://index").await.unwrap();
    assert_eq!(text(&index.contents[0]).1, "acme, initech");
    // … or whose template matches it.
    let summary = hub.read_resource("notes://initech/summary").await.unwrap();
    assert_eq!(text(&summary.contents[0]).1, "summary of initech");
    assert!(matches!(
        hub.read_resource("notes://a/b/summary").await,
        Err(HostError::UnknownResource(_))
    ));
    assert!(matches!(
        hub.read_resource("nowhere://x").await,
        Err(HostError::UnknownResource(_))
    ));

    // Prompts by aggregated name or server.prompt, with their arguments.
    let args = json!({"company": "Acme", "tone": "upbeat"});
    let p = hub
        .get_prompt("notes__account_brief", args.as_object().cloned())
        .await
        .unwrap();
    let shown = serde_json::to_value(&p.messages).unwrap();
    assert_eq!(shown[0]["content"]["text"], "Write a upbeat brief on Acme.");
    assert_eq!(shown[0]["role"], "user");
    let p = hub
        .get_prompt(
            "notes.account_brief",
            json!({"company": "Initech"}).as_object().cloned(),
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&p.messages).unwrap()[0]["content"]["text"],
        "Write a neutral brief on Initech."
    );
    let e = hub
        .get_prompt("notes__account_brief", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("company is required"), "{e}");
    assert!(matches!(
        hub.get_prompt("account_brief", None).await,
        Err(HostError::UnknownPrompt(_))
    ));

    // The gateway offers the same, under the same names.
    let gateway = sophia_host::gateway::Gateway::new(hub, Vec::new(), false);
    let client = mcp_core::testing::in_process(gateway).await.unwrap();
    let caps = client.peer_info().unwrap().capabilities.clone();
    assert!(caps.resources.is_some() && caps.prompts.is_some());
    let listed = client.list_all_resources().await.unwrap();
    assert!(
        listed
            .iter()
            .any(|r| r.name == "memory__knowledge-graph" && r.uri == "memory://knowledge-graph")
    );
    let listed = client.list_all_resource_templates().await.unwrap();
    assert_eq!(listed[0].name, "notes__summary");
    let read = client
        .read_resource(ReadResourceRequestParams::new("notes://acme/summary"))
        .await
        .unwrap();
    assert_eq!(text(&read.contents[0]).1, "summary of acme");
    let e = client
        .read_resource(ReadResourceRequestParams::new("nowhere://x"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("nowhere://x"), "{e}");
    let listed = client.list_all_prompts().await.unwrap();
    assert_eq!(listed[0].name, "notes__account_brief");
    assert_eq!(listed[0].arguments.as_ref().unwrap().len(), 2);
    let got = client
        .get_prompt(
            GetPromptRequestParams::new("notes__account_brief")
                .with_arguments(json!({"company": "Globex"}).as_object().cloned().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&got.messages).unwrap()[0]["content"]["text"],
        "Write a neutral brief on Globex."
    );
    // The server's own error reaches the client with its code and message, not as an internal
    // error of the gateway.
    let e = client
        .get_prompt(GetPromptRequestParams::new("notes__account_brief"))
        .await
        .unwrap_err();
    match e {
        rmcp::ServiceError::McpError(data) => {
            assert_eq!(
                data.code,
                rmcp::model::ErrorCode::INVALID_PARAMS,
                "{data:?}"
            );
            assert_eq!(data.message, "company is required");
        }
        other => panic!("not the server's error: {other:?}"),
    }
    client.cancel().await.unwrap();
}

#[test]
fn the_tools_command_lists_resources_and_prompts() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("host.json");
    std::fs::write(&cfg, config_json(dir.path()).to_string()).unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sophia-host"))
            .arg("--config")
            .arg(&cfg)
            .arg("tools")
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = |key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names("resources").contains(&"memory__knowledge-graph".to_string()));
    assert_eq!(names("resourceTemplates"), vec!["notes__summary"]);
    assert_eq!(names("prompts"), vec!["notes__account_brief"]);
    assert_eq!(v["resources"][0]["uri"], "memory://knowledge-graph");
    let out = run(&[]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("resource memory__knowledge-graph  memory://knowledge-graph"),
        "{shown}"
    );
    assert!(
        shown.contains("prompt notes__account_brief(company, [tone])"),
        "{shown}"
    );
}

#[test]
fn uri_templates_match_literally_and_by_segment() {
    use sophia_host::hub::template_matches;
    assert!(template_matches(
        "notes://{company}/summary",
        "notes://acme/summary"
    ));
    assert!(!template_matches(
        "notes://{company}/summary",
        "notes://a/b/summary"
    ));
    assert!(!template_matches(
        "notes://{company}/summary",
        "notes:///summary"
    ));
    assert!(template_matches("file://{+path}", "file://a/b/c.txt"));
    assert!(!template_matches("file://{+path}", "http://a"));
    assert!(template_matches("x://{a}-{b}", "x://1-2"));
}
