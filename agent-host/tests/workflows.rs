//! Workflows against the real `sophia-memory` binary: the bundled quickstart from the command
//! line (twice: the second run merges), a wrong argument refused before anything is called,
//! `--dry-run` calling nothing, `foreach` order under concurrency, `when`, `on_error`, and the
//! load-time checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use sophia_host::config::HostConfig;
use sophia_host::hub::Hub;
use sophia_host::workflow::{Workflow, WorkflowError};

/// The host as a newcomer runs it: `sophia-memory` is not on `PATH`; the host finds it next to
/// its own executable.
fn host(db: &Path, args: &[&str]) -> std::process::Output {
    memory_bin();
    let path = "/usr/bin:/bin";
    std::process::Command::new(env!("CARGO_BIN_EXE_sophia-host"))
        .current_dir(repo())
        .arg("--config")
        .arg(repo().join("claude_desktop_config.example.json"))
        .args(args)
        .env("PATH", path)
        .env("SOPHIA_MEMORY_DB", db)
        .env("SOPHIA_EMBEDDER", "none")
        .env_remove("SOPHIA_LOG")
        .output()
        .unwrap()
}

fn graph_names(db: &Path) -> Vec<String> {
    let out = host(db, &["call", "sophia-memory.read_graph", "{}"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_quickstart_runs_with_no_credentials_and_a_second_run_merges() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let out = host(
        &db,
        &[
            "run",
            "workflows/quickstart.yaml",
            "--input",
            "company=Initech",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["company"], "Initech");
    assert_eq!(v["stored"].as_array().unwrap().len(), 3);
    assert!(
        v["stored"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["action"] == "created")
    );
    assert_eq!(
        v["graph"]["relations"],
        json!(["Dana Lee works_at Initech"])
    );
    assert_eq!(v["graph"]["linked_memories"].as_array().unwrap().len(), 3);
    assert!(
        v["search"]["top"][0]
            .as_str()
            .unwrap()
            .contains("Dana Lee will champion"),
        "{v}"
    );
    // The host's stderr stays quiet by default (no protocol chatter).
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("Service initialized"), "{stderr}");

    let again = host(
        &db,
        &[
            "run",
            "workflows/quickstart.yaml",
            "--input",
            "company=Initech",
        ],
    );
    assert!(again.status.success());
    let v: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(
        v["stored"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["action"] == "deduplicated"),
        "{v}"
    );
    assert_eq!(v["graph"]["linked_memories"].as_array().unwrap().len(), 3);
}

#[test]
fn a_wrong_argument_is_refused_before_anything_is_called_and_dry_run_calls_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let wf = dir.path().join("bad.yaml");
    std::fs::write(
        &wf,
        r#"
name: bad
inputs:
  who: {type: string}
steps:
  - id: create
    call: sophia-memory.create_entities
    args: '{entities: [{name: .inputs.who, entityType: "person", observations: []}]}'
  - id: find
    call: sophia-memory.search_nodes
    args: '{qeury: .inputs.who}'
"#,
    )
    .unwrap();
    let out = host(&db, &["run", wf.to_str().unwrap(), "--input", "who=Maria"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(r#"step "find""#), "{stderr}");
    assert!(stderr.contains("args.qeury: unknown argument"), "{stderr}");
    assert!(stderr.contains("args.query: required, missing"), "{stderr}");
    assert!(graph_names(&db).is_empty(), "the first step ran anyway");

    // A missing required input is refused before any server starts.
    let out = host(&db, &["run", wf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("input who is required"));

    // --dry-run on the good quickstart: the plan, with arguments evaluated, and nothing stored.
    let out = host(&db, &["run", "workflows/quickstart.yaml", "--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["steps"][0]["args"]["entities"][0]["name"], "Acme Corp");
    assert!(plan["steps"][2]["foreach"].as_str().is_some());
    assert!(graph_names(&db).is_empty());
}

async fn memory_hub(db: &Path) -> Hub {
    let cfg = HostConfig::parse(
        &json!({"mcpServers": {"m": {"command": memory_bin(), "env": {"SOPHIA_MEMORY_DB": db, "SOPHIA_EMBEDDER": "none"}}}})
            .to_string(),
        "test",
    )
    .unwrap();
    Hub::connect(&cfg, Duration::from_secs(30)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreach_keeps_order_when_skips_and_errors_stop_or_continue() {
    let dir = tempfile::tempdir().unwrap();
    let hub = memory_hub(&dir.path().join("m.db")).await;
    let wf = Workflow::parse(
        r#"
inputs:
  names: {type: array}
  skip_check: {type: boolean, default: true}
steps:
  - id: make
    foreach: '.inputs.names'
    concurrency: 8
    call: m.create_entities
    args: '{entities: [{name: .item, entityType: "n\(.index)", observations: []}]}'
  - id: check
    when: '.inputs.skip_check | not'
    call: m.read_graph
  - id: broken
    call: m.add_observations
    args: '{observations: [{entityName: "Nobody", contents: ["x"]}]}'
    on_error: continue
  - id: open
    call: m.open_nodes
    args: '{names: [.steps.make[].entities[0].name]}'
output: '{made: [.steps.make[].entities[0] | "\(.name):\(.entityType)"], check: .steps.check, broken: .steps.broken.error, opened: (.steps.open.entities | length)}'
"#,
        "inline",
    )
    .unwrap();
    let names: Vec<String> = (0..20).map(|i| format!("e{i:02}")).collect();
    let inputs = wf
        .resolve_inputs(&json!({"names": names}).as_object().unwrap().clone())
        .unwrap();
    let report = wf.run(&hub, inputs).await.unwrap();
    let expected: Vec<String> = (0..20).map(|i| format!("e{i:02}:n{i}")).collect();
    assert_eq!(report.output["made"], json!(expected));
    assert_eq!(report.output["check"], Value::Null);
    assert!(report.output["broken"].as_str().unwrap().contains("Nobody"));
    assert_eq!(report.output["opened"], 20);
    assert_eq!(report.calls, 22);

    // Without on_error the run stops at the failing step and says which one.
    let wf = Workflow::parse(
        r#"
steps:
  - id: broken
    call: m.add_observations
    args: '{observations: [{entityName: "Nobody", contents: ["x"]}]}'
  - id: never
    call: m.create_entities
    args: '{entities: [{name: "Never", entityType: "x", observations: []}]}'
"#,
        "inline",
    )
    .unwrap();
    let e = wf.run(&hub, json!({})).await.unwrap_err();
    match e {
        WorkflowError::Step { step, tool, error } => {
            assert_eq!(step, "broken");
            assert_eq!(tool, "m.add_observations");
            assert!(error.contains("Nobody"), "{error}");
        }
        other => panic!("{other}"),
    }
    let r = hub
        .call("m.open_nodes", json!({"names": ["Never"]}))
        .await
        .unwrap();
    assert_eq!(r.structured_content.unwrap()["entities"], json!([]));

    // An argument that depends on an earlier step is checked just before its call.
    let wf = Workflow::parse(
        r#"
steps:
  - id: g
    call: m.read_graph
  - id: bad
    call: m.search_nodes
    args: '{query: (.steps.g.entities | length)}'
"#,
        "inline",
    )
    .unwrap();
    let e = wf.run(&hub, json!({})).await.unwrap_err().to_string();
    assert!(
        e.contains("args.query: expected string, got a number"),
        "{e}"
    );
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_time_checks_name_every_problem() {
    let e = Workflow::parse(
        r#"
inputs:
  n: {type: integer, default: "three"}
steps:
  - id: Bad-Id
    call: m.read_graph
    args: '{a: .b'
  - id: twice
    call: m.read_graph
  - id: twice
    llm: "summarise"
    call: m.read_graph
    on_error: maybe
"#,
        "inline",
    )
    .err()
    .unwrap()
    .to_string();
    for needle in [
        "input n: default \"three\" is not a integer",
        "jq syntax error",
        "ids use a-z, 0-9 and _",
        "the id is used twice",
        "give either call or llm",
        "on_error is stop or continue",
    ] {
        assert!(e.contains(needle), "{needle} not in {e}");
    }
    assert!(Workflow::parse("steps: [{id: a, call: m.x, argz: '{}'}]", "x").is_err());

    // Unknown servers and tools are found before anything runs.
    let dir = tempfile::tempdir().unwrap();
    let hub = memory_hub(&dir.path().join("m.db")).await;
    let wf = Workflow::parse(
        "steps: [{id: a, call: m.create_entities, args: '{entities: []}'}, {id: b, call: nowhere.tool}, {id: c, call: m.nope}]",
        "x",
    )
    .unwrap();
    let e = wf.check(&hub, &json!({})).unwrap_err().to_string();
    assert!(e.contains(r#"step "b": no tool "nowhere.tool""#), "{e}");
    assert!(e.contains(r#"step "c": no tool "m.nope""#), "{e}");
    let schema = wf.input_schema();
    assert_eq!(schema["type"], "object");
    hub.shutdown().await;
}

#[test]
fn bundled_workflows_parse_and_match_the_editor_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("docs/workflow.schema.json")).unwrap(),
    )
    .unwrap();
    let mut seen = 0;
    for entry in std::fs::read_dir(repo().join("workflows")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        seen += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        Workflow::parse(&text, &path.display().to_string()).unwrap();
        let as_json: Value = yaml_serde::from_str(&text).unwrap();
        let problems = sophia_host::schema_check::check(&schema, &as_json);
        assert!(problems.is_empty(), "{}: {problems:?}", path.display());
    }
    assert!(seen >= 1);
    // The schema catches what the loader refuses.
    let bad: Value = yaml_serde::from_str("steps: [{id: a, call: m.x, argz: '{}'}]").unwrap();
    assert!(!sophia_host::schema_check::check(&schema, &bad).is_empty());
}

/// The bundled sales, pipeline and customer-health workflows fit the real servers they call:
/// every tool exists under the example configuration and every argument that depends only on
/// the inputs passes the tool's input schema. (The servers start without credentials; nothing
/// is called.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_business_workflows_fit_the_servers_they_call() {
    let names = [
        "sophia-memory",
        "sophia-slack",
        "sophia-linear",
        "sophia-hubspot",
        "sophia-gong",
        "sophia-snowflake",
    ];
    let dir = sibling_bins(&names);
    let text = std::fs::read_to_string(repo().join("claude_desktop_config.example.json")).unwrap();
    let mut cfg: Value = serde_json::from_str(&text).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for (name, entry) in cfg["mcpServers"].as_object_mut().unwrap() {
        entry["command"] = json!(dir.join(name));
        entry["env"]["SOPHIA_MEMORY_DB"] = json!(tmp.path().join("m.db"));
        entry["env"]["SOPHIA_EMBEDDER"] = json!("none");
    }
    let hub = Hub::connect(
        &HostConfig::parse(&cfg.to_string(), "example").unwrap(),
        Duration::from_secs(60),
    )
    .await;
    let status = hub.status();
    assert!(status.values().all(|s| s.starts_with("up")), "{status:?}");
    for (file, inputs) in [
        (
            "sales-call-review.yaml",
            json!({"days": 7, "as_of": "2026-11-08"}),
        ),
        (
            "pipeline-insights.yaml",
            json!({"close_from": "2026-12-01", "close_to": "2026-12-31", "as_of": "2026-11-27"}),
        ),
        (
            "customer-health.yaml",
            json!({"domain": "acme.com", "as_of": "2026-11-27"}),
        ),
    ] {
        let wf = Workflow::load(&repo().join("workflows").join(file)).unwrap();
        let inputs = wf
            .resolve_inputs(inputs.as_object().unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        wf.check(&hub, &inputs)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    // The check is not vacuous: a misspelt argument to a real tool is caught.
    let wf = Workflow::parse(
        "steps: [{id: a, call: sophia-hubspot.pipeline_summary, args: '{close_date_form: \"2026-01-01\"}'}]",
        "typo",
    )
    .unwrap();
    let e = wf.check(&hub, &json!({})).unwrap_err().to_string();
    assert!(e.contains("close_date_form: unknown argument"), "{e}");
    hub.shutdown().await;
}

/// `run` starts only the servers the workflow calls: a broken server the workflow does not use
/// is never started (so it cannot slow down or clutter the run).
#[test]
fn run_starts_only_the_servers_the_workflow_calls() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("host.json");
    std::fs::write(
        &cfg,
        json!({"mcpServers": {
            "sophia-memory": {"command": memory_bin(), "env": {"SOPHIA_MEMORY_DB": dir.path().join("m.db"), "SOPHIA_EMBEDDER": "none"}},
            "unused-and-broken": {"command": "/nonexistent/never-started"}
        }})
        .to_string(),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sophia-host"))
        .current_dir(repo())
        .arg("--config")
        .arg(&cfg)
        .args(["run", "workflows/quickstart.yaml"])
        .env_remove("SOPHIA_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("unused-and-broken"), "{stderr}");
    // `tools` still starts everything and reports the broken one.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sophia-host"))
        .arg("--config")
        .arg(&cfg)
        .args(["tools", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["servers"]["unused-and-broken"]
            .as_str()
            .unwrap()
            .starts_with("failed")
    );
}
