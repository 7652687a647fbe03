//! The bundled business workflows — `sales-call-review.yaml`, `pipeline-insights.yaml` and
//! `customer-health.yaml` — run end to end through the `sophia-host` binary against the real
//! server binaries (sophia-gong, sophia-hubspot, sophia-slack, sophia-linear, sophia-memory),
//! each vendor faked on 127.0.0.1 by the same fake that server's own tests use. Every expected
//! value below is worked out by hand from the seeded data; every workflow runs twice and must
//! give the same bytes (the issue's "same answer every run for the same data"), and a wrong
//! argument is refused before any vendor is asked anything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;
#[path = "../../mcp-servers/gong/tests/common/mod.rs"]
mod gong_fake;
#[path = "../../mcp-servers/hubspot/tests/common/mod.rs"]
mod hubspot_fake;
#[path = "../../mcp-servers/linear/tests/common/mod.rs"]
mod linear_fake;
#[path = "../../mcp-servers/slack/tests/common/mod.rs"]
mod slack_fake;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use common::*;
use gong_fake::FakeCall;

const SERVERS: [&str; 5] = [
    "sophia-memory",
    "sophia-gong",
    "sophia-hubspot",
    "sophia-slack",
    "sophia-linear",
];

// ---------------------------------------------------------------------------------------------
// The seeded data: Acme (acme.com) is the customer under review; Globex and Initech are there
// so that every filter has something to leave out.

/// Gong call ids.
const KICKOFF: &str = "7100000000000000001";
const GLOBEX_INTRO: &str = "7100000000000000003";
const PRICING: &str = "7100000000000000002";
const SECURITY: &str = "7100000000000000004";

fn tracker(name: &str, count: u64, at: &[f64]) -> Value {
    json!({"id": format!("t-{}", name.to_lowercase()), "name": name, "count": count, "type": "Keyword",
           "occurrences": at.iter().map(|t| json!({"startTime": t, "speakerId": "s-cust"})).collect::<Vec<_>>(),
           "phrases": []})
}

/// A call between Ann (ours) and one customer contact, linked in Gong's CRM context to the
/// HubSpot company and deal; `lines` alternate speakers as given, 5 s per sentence.
#[allow(clippy::too_many_arguments)]
fn gong_call(
    id: &str,
    title: &str,
    started: &str,
    customer: &str,
    account: (&str, &str),
    deal: (&str, &str),
    key_points: &[&str],
    trackers: Vec<Value>,
    lines: &[(&str, &str)],
) -> FakeCall {
    let transcript = lines
        .iter()
        .enumerate()
        .map(|(i, (speaker, text))| {
            json!({"speakerId": speaker, "topic": null,
                   "sentences": [{"start": i * 5000, "end": (i + 1) * 5000, "text": text}]})
        })
        .collect();
    FakeCall {
        id: id.into(),
        title: title.into(),
        started: started.into(),
        duration: 1800,
        parties: vec![
            json!({"id": "p-ann", "emailAddress": "ann@ourco.com", "name": "Ann Rep", "userId": "u1",
                   "speakerId": "s-ann", "affiliation": "Internal", "methods": ["Invitee"]}),
            json!({"id": "p-cust", "emailAddress": customer, "name": "Customer Contact",
                   "speakerId": "s-cust", "affiliation": "External", "methods": ["Invitee"]}),
        ],
        context: vec![json!({"system": "HubSpot", "objects": [
            {"objectType": "Account", "objectId": account.0, "timing": "Now", "fields": [{"name": "Name", "value": account.1}]},
            {"objectType": "Opportunity", "objectId": deal.0, "timing": "Now", "fields": [{"name": "Name", "value": deal.1}]}
        ]})],
        brief: None,
        key_points: key_points.iter().map(|k| k.to_string()).collect(),
        topics: vec![],
        trackers,
        interaction: json!({}),
        transcript,
    }
}

/// Four calls, in Gong's order (by start). Sentiment by hand, with sophia-gong's lexicon:
/// - kickoff: thanks +1, excellent +3, easy +2 → P 6, N 0 → 1.0 positive; 1 question.
/// - Globex intro: glad +2, interested +1 → 1.0 positive; 0 questions.
/// - pricing: expensive −2, delayed −1, helpful +2 → (2 − 3) / 5 = −0.2 negative; 1 question.
/// - security: blocked −2, concerned −2, delay −1 → −1.0 negative; 1 question.
fn gong_calls() -> Vec<FakeCall> {
    let acme = ("301", "Acme");
    let expansion = ("1101", "Acme expansion");
    vec![
        gong_call(
            KICKOFF,
            "Acme kickoff",
            "2026-11-03T15:00:00Z",
            "bob@acme.com",
            acme,
            expansion,
            &["Budget approved for Q1", "Pilot starts in December"],
            vec![
                tracker("Pricing", 1, &[6.0]),
                tracker("Competitors", 0, &[]),
            ],
            &[
                ("s-ann", "Thanks for joining today."),
                ("s-cust", "The demo was excellent and the setup looks easy."),
                ("s-ann", "Shall we plan the pilot for December?"),
            ],
        ),
        gong_call(
            GLOBEX_INTRO,
            "Globex intro",
            "2026-11-05T09:00:00Z",
            "carol@globex.com",
            ("303", "Globex"),
            ("1102", "Globex pilot"),
            &[],
            vec![],
            &[
                ("s-ann", "Welcome, glad to connect."),
                ("s-cust", "We are interested in a pilot."),
            ],
        ),
        gong_call(
            PRICING,
            "Acme pricing review",
            "2026-11-10T16:00:00Z",
            "bob@acme.com",
            acme,
            expansion,
            &["Price is the main objection"],
            vec![
                tracker("Pricing", 2, &[5.5, 7.0]),
                tracker("Support", 1, &[11.0]),
            ],
            &[
                ("s-ann", "What did the team think of the proposal?"),
                (
                    "s-cust",
                    "Honestly the price is expensive and the rollout is delayed.",
                ),
                ("s-cust", "Support has been helpful though."),
            ],
        ),
        gong_call(
            SECURITY,
            "Acme security review",
            "2026-11-20T13:00:00Z",
            "dana@acme.com",
            acme,
            expansion,
            &["Security questionnaire pending"],
            vec![tracker("Security", 1, &[6.0])],
            &[
                ("s-ann", "Where are we on the security questionnaire?"),
                (
                    "s-cust",
                    "The review is blocked and we are concerned about the delay.",
                ),
            ],
        ),
    ]
}

fn props(pairs: &[(&str, &str)]) -> hubspot_fake::Obj {
    hubspot_fake::Obj {
        props: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// Companies, deals and tickets, with their associations. Pipelines and stage probabilities are
/// the fake's (default: appointmentscheduled 0.2, qualifiedtobuy 0.4, closedwon 1.0;
/// renewals: r-open 0.5).
fn hubspot_state() -> hubspot_fake::FakeState {
    let mut st = hubspot_fake::FakeState::default();
    let mut companies = BTreeMap::new();
    for (id, name, domain) in [
        (301, "Acme", "acme.com"),
        (302, "Initech", "initech.com"),
        (303, "Globex", "globex.com"),
    ] {
        companies.insert(
            id,
            props(&[
                ("name", name),
                ("domain", domain),
                ("createdate", "2025-01-01T00:00:00Z"),
            ]),
        );
    }
    let mut deals = BTreeMap::new();
    let mut associations = Vec::new();
    for (id, name, amount, pipeline, stage, close, closed, company) in [
        (
            1101,
            "Acme expansion",
            "50000",
            "default",
            "qualifiedtobuy",
            "2026-12-15T00:00:00Z",
            "false",
            Some(301),
        ),
        (
            1102,
            "Globex pilot",
            "20000",
            "default",
            "appointmentscheduled",
            "2026-12-20T00:00:00Z",
            "false",
            Some(303),
        ),
        (
            1103,
            "Initech renewal",
            "8000",
            "renewals",
            "r-open",
            "2026-12-05T00:00:00Z",
            "false",
            Some(302),
        ),
        (
            1104,
            "Acme support add-on",
            "5000",
            "default",
            "closedwon",
            "2026-10-15T00:00:00Z",
            "true",
            Some(301),
        ),
        (
            1105,
            "Hooli trial",
            "3000",
            "default",
            "appointmentscheduled",
            "2027-01-20T00:00:00Z",
            "false",
            None,
        ),
    ] {
        deals.insert(
            id,
            props(&[
                ("dealname", name),
                ("amount", amount),
                ("pipeline", pipeline),
                ("dealstage", stage),
                ("closedate", close),
                ("hs_is_closed", closed),
                ("hubspot_owner_id", "101"),
                ("createdate", "2026-09-01T00:00:00Z"),
            ]),
        );
        if let Some(c) = company {
            associations.push((
                "deals".to_string(),
                id,
                "companies".to_string(),
                c,
                Some("Primary".to_string()),
            ));
        }
    }
    let mut tickets = BTreeMap::new();
    for (id, subject, stage, created, closed, company) in [
        (
            411,
            "SSO login fails for Acme users",
            "1",
            "2026-11-18T10:00:00Z",
            None,
            301,
        ),
        (
            412,
            "Invoice address change",
            "4",
            "2026-10-30T10:00:00Z",
            Some("2026-11-02T10:00:00Z"),
            301,
        ),
        (
            413,
            "CSV export times out",
            "1",
            "2026-11-21T10:00:00Z",
            None,
            301,
        ),
        (
            414,
            "Globex password reset",
            "1",
            "2026-11-19T10:00:00Z",
            None,
            303,
        ),
    ] {
        let mut o = props(&[
            ("subject", subject),
            ("hs_pipeline", "0"),
            ("hs_pipeline_stage", stage),
            ("createdate", created),
        ]);
        if let Some(c) = closed {
            o.props.insert("closed_date".into(), c.into());
        }
        tickets.insert(id, o);
        associations.push((
            "tickets".to_string(),
            id,
            "companies".to_string(),
            company,
            None,
        ));
    }
    st.objects.insert("companies".into(), companies);
    st.objects.insert("deals".into(), deals);
    st.objects.insert("tickets".into(), tickets);
    st.associations = associations;
    st
}

/// Acme's Linear issues: ENG-3 (open, title), OPS-2 (open, description only), ENG-4 (done);
/// ENG-5 is Globex's.
fn linear_state() -> linear_fake::FakeState {
    let mut st = linear_fake::FakeState::default();
    st.add_issue("ENG", "SSO fails for acme.com tenants", |i| {
        i.description = Some("Reported by bob@acme.com after the SAML change.".into());
        i.state = "s-eng-prog".into();
        i.priority = 1;
        i.updated_at = "2026-11-19T10:00:00.000Z".into();
    });
    st.add_issue("ENG", "Export timeout for acme.com", |i| {
        i.state = "s-eng-done".into();
        i.updated_at = "2026-11-12T10:00:00.000Z".into();
    });
    st.add_issue("ENG", "Globex SAML setup", |i| {
        i.description = Some("For globex.com".into());
        i.state = "s-eng-todo".into();
        i.updated_at = "2026-11-21T10:00:00.000Z".into();
    });
    st.add_issue("OPS", "Provision a sandbox", |i| {
        i.description = Some("For the acme.com pilot in December.".into());
        i.state = "s-ops-todo".into();
        i.updated_at = "2026-11-15T10:00:00.000Z".into();
    });
    st
}

/// Messages in #sales (newest first, as the fake keeps them) and one in #general.
fn seed_slack(fake: &slack_fake::Fake) {
    let msg = |ts: u64, user: &str, text: &str| slack_fake::Msg {
        ts: format!("{ts}.000100"),
        user: user.into(),
        text: text.into(),
        thread_ts: None,
        reactions: vec![],
        bot: false,
    };
    let mut st = fake.state.lock().unwrap();
    st.history.insert(
        "C0SALES001".into(),
        vec![
            // 2026-11-18T14:00:00Z
            msg(
                1_795_010_400,
                "U0ALICE001",
                "acme.com reported SSO login failures again",
            ),
            // 2026-11-02T09:30:00Z
            msg(
                1_793_611_800,
                "U0BOB00001",
                "Renewal call with acme.com went well",
            ),
            // 2026-08-15T12:00:00Z: before the window
            msg(
                1_786_795_200,
                "U0BOB00001",
                "Kickoff with acme.com is booked",
            ),
        ],
    );
    st.history.insert(
        "C0GENERAL1".into(),
        // 2026-11-20T08:00:00Z
        vec![msg(1_795_161_600, "U0CAROL001", "globex.com wants a demo")],
    );
}

// ---------------------------------------------------------------------------------------------
// The fakes, the host configuration, and the host.

struct Vendors {
    gong: gong_fake::Fake,
    hubspot: hubspot_fake::Fake,
    slack: slack_fake::Fake,
    linear: linear_fake::Fake,
}

impl Vendors {
    async fn start() -> Self {
        let gong = gong_fake::Fake::with(gong_calls(), vec![gong_fake::user(0, true)], 100).await;
        let hubspot = hubspot_fake::Fake::start(hubspot_state()).await;
        let slack = slack_fake::Fake::start().await;
        seed_slack(&slack);
        let linear = linear_fake::Fake::start(linear_state()).await;
        Self {
            gong,
            hubspot,
            slack,
            linear,
        }
    }

    /// Requests each vendor has received so far.
    fn requests(&self) -> BTreeMap<&'static str, usize> {
        BTreeMap::from([
            ("gong", self.gong.log().len()),
            ("hubspot", self.hubspot.requests("").len()),
            ("slack", self.slack.log().len()),
            ("linear", self.linear.with(|s| s.requests.len())),
        ])
    }
}

/// A host configuration (the `mcpServers` format) in `dir`: the real binaries, each pointed at
/// its fake with the fake's credentials; sophia-memory on a database in `dir`, with the real
/// model when CI provides it (SOPHIA_EMBEDDER_MODEL_DIR) and keyword-only otherwise.
fn host_config(dir: &Path, v: &Vendors) -> PathBuf {
    let bins = sibling_bins(&SERVERS);
    let memory_env = match std::env::var("SOPHIA_EMBEDDER_MODEL_DIR") {
        Ok(model) if !model.is_empty() => json!({
            "SOPHIA_MEMORY_DB": dir.join("memory.db"),
            "SOPHIA_EMBEDDER": "minilm",
            "SOPHIA_EMBEDDER_MODEL_DIR": model,
        }),
        _ => json!({"SOPHIA_MEMORY_DB": dir.join("memory.db"), "SOPHIA_EMBEDDER": "none"}),
    };
    let config = json!({"mcpServers": {
        "sophia-memory": {"command": bins.join("sophia-memory"), "env": memory_env},
        "sophia-gong": {"command": bins.join("sophia-gong"), "env": {
            "GONG_API_BASE_URL": v.gong.url,
            "GONG_ACCESS_KEY": gong_fake::KEY,
            "GONG_ACCESS_KEY_SECRET": gong_fake::SECRET,
            "GONG_REQUESTS_PER_SECOND": "100",
        }},
        "sophia-hubspot": {"command": bins.join("sophia-hubspot"), "env": {
            "HUBSPOT_API_BASE_URL": v.hubspot.url,
            "HUBSPOT_ACCESS_TOKEN": hubspot_fake::TOKEN,
        }},
        "sophia-slack": {"command": bins.join("sophia-slack"), "env": {
            "SLACK_API_BASE_URL": v.slack.url,
            "SLACK_BOT_TOKEN": slack_fake::BOT,
            "SLACK_USER_TOKEN": slack_fake::USER,
        }},
        "sophia-linear": {"command": bins.join("sophia-linear"), "env": {
            "LINEAR_API_URL": v.linear.url,
            "LINEAR_API_KEY": linear_fake::API_KEY,
        }},
    }});
    let path = dir.join("host.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    path
}

/// `sophia-host --config CONFIG ARGS…` from the repository root, off the runtime that serves
/// the fakes.
async fn host(config: &Path, args: &[&str]) -> std::process::Output {
    let config = config.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sophia-host"))
            .current_dir(repo())
            .arg("--config")
            .arg(&config)
            .args(&args)
            .env_remove("SOPHIA_LOG")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// `run WORKFLOW --json` with inputs, parsed.
async fn run_json(config: &Path, workflow: &str, inputs: &[&str]) -> Value {
    let mut args = vec!["run", workflow, "--json"];
    for i in inputs {
        args.push("--input");
        args.push(i);
    }
    let out = host(config, &args).await;
    assert!(
        out.status.success(),
        "{workflow}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs `run WORKFLOW` (plain output) twice more and checks that both print the same bytes,
/// and the same answer as `first` (a `--json` run's `output`). Only the answer is compared:
/// the tools' own bookkeeping in `--json`'s `steps` may differ (sophia-gong's
/// `scanned.requests` counts every request the server sent meanwhile, so it depends on what
/// ran concurrently).
async fn assert_same_answer(config: &Path, workflow: &str, inputs: &[&str], first: &Value) {
    let mut args = vec!["run", workflow];
    for i in inputs {
        args.push("--input");
        args.push(i);
    }
    let a = host(config, &args).await;
    let b = host(config, &args).await;
    assert!(a.status.success() && b.status.success());
    assert_eq!(
        String::from_utf8(a.stdout.clone()).unwrap(),
        String::from_utf8(b.stdout).unwrap()
    );
    assert_eq!(&serde_json::from_slice::<Value>(&a.stdout).unwrap(), first);
}

// ---------------------------------------------------------------------------------------------
// The workflows.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_call_review_tables_the_calls_and_remembers_each_once() {
    let vendors = Vendors::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = host_config(dir.path(), &vendors);
    let inputs = ["as_of=2026-11-14", "days=14"];
    let first = run_json(&config, "workflows/sales-call-review.yaml", &inputs).await;
    let out = &first["output"];

    // The window 2026-10-31T00:00Z..2026-11-15T00:00Z holds three calls (the security review on
    // the 20th is outside), in Gong's order.
    let window = vendors
        .gong
        .log()
        .into_iter()
        .find(|(m, p, _, _)| m == "GET" && p == "/v2/calls")
        .unwrap()
        .2;
    assert!(
        window.contains("fromDateTime=2026-10-31T00%3A00%3A00Z")
            && window.contains("toDateTime=2026-11-15T00%3A00%3A00Z"),
        "{window}"
    );
    assert_eq!(out["calls"], 3);
    let rows = out["rows"].as_array().unwrap();
    let row = |i: usize, field: &str| rows[i][field].clone();
    assert_eq!(
        rows.iter()
            .map(|r| r["call_id"].clone())
            .collect::<Vec<_>>(),
        [json!(KICKOFF), json!(GLOBEX_INTRO), json!(PRICING)]
    );
    assert_eq!(
        rows.iter().map(|r| r["call"].clone()).collect::<Vec<_>>(),
        [
            json!("Acme kickoff"),
            json!("Globex intro"),
            json!("Acme pricing review")
        ]
    );
    // Sentiment, worked out by hand in gong_calls().
    for (i, label, score, questions) in [
        (0, "positive", 1.0, 1),
        (1, "positive", 1.0, 0),
        (2, "negative", -0.2, 1),
    ] {
        assert_eq!(row(i, "sentiment"), label, "{}", rows[i]);
        assert_eq!(row(i, "score").as_f64().unwrap(), score, "{}", rows[i]);
        assert_eq!(row(i, "questions"), questions, "{}", rows[i]);
    }
    // Trackers that fired (Competitors did not), most frequent first; Gong's key points.
    assert_eq!(row(0, "trackers"), json!(["Pricing x1"]));
    assert_eq!(row(1, "trackers"), json!([]));
    assert_eq!(row(2, "trackers"), json!(["Pricing x2", "Support x1"]));
    assert_eq!(
        row(0, "key_points"),
        json!(["Budget approved for Q1", "Pilot starts in December"])
    );
    assert_eq!(row(2, "source"), format!("gong:call/{PRICING}"));
    let table = out["table"].as_str().unwrap();
    assert_eq!(table.lines().count(), 5, "{table}");
    assert!(
        table.contains("| Acme pricing review | 2026-11-10T16:00:00Z | negative | -0.2 | 1 | Pricing x2, Support x1 |"),
        "{table}"
    );
    // One memory per call, created now.
    let stored = first["steps"]["remember"].as_array().unwrap();
    assert_eq!(stored.len(), 3);
    assert!(
        stored
            .iter()
            .all(|s| s["results"][0]["action"] == "created"),
        "{stored:?}"
    );
    assert_eq!(row(0, "memory"), format!("gong-call-{KICKOFF}"));
    // Without a model the memories are keyword-searchable only. With CI's model it depends on
    // whether the model finished loading in the background before the store (sophia-memory's
    // own tests cover embedding), so nothing is asserted then.
    let with_model = std::env::var("SOPHIA_EMBEDDER_MODEL_DIR").is_ok_and(|m| !m.is_empty());
    if !with_model {
        assert!(stored.iter().all(|s| s["embedded"] == false), "{stored:?}");
    }
    assert!(stored.iter().all(|s| s["embedded"].is_boolean()));

    // A second host call reads them back from sophia-memory: one per call, with provenance.
    let memories = |config: PathBuf| async move {
        let out = host(
            &config,
            &[
                "call",
                "sophia-memory.list_memories",
                r#"{"filters": {"source_prefix": "gong:call/"}, "limit": 50}"#,
            ],
        )
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["items"].as_array().unwrap().clone()
    };
    let items = memories(config.clone()).await;
    let mut by_source: BTreeMap<String, Value> = items
        .iter()
        .map(|m| (m["source"].as_str().unwrap().to_string(), m.clone()))
        .collect();
    assert_eq!(
        by_source.keys().cloned().collect::<Vec<_>>(),
        [KICKOFF, PRICING, GLOBEX_INTRO]
            .iter()
            .map(|id| format!("gong:call/{id}"))
            .collect::<Vec<_>>()
    );
    let pricing = by_source.remove(&format!("gong:call/{PRICING}")).unwrap();
    assert_eq!(pricing["id"], format!("gong-call-{PRICING}"));
    assert_eq!(
        pricing["content"],
        "Gong call \"Acme pricing review\" on 2026-11-10T16:00:00Z: sentiment negative (-0.2), 1 questions. \
         Trackers: Pricing x2, Support x1. Key points: Price is the main objection."
    );
    assert_eq!(pricing["metadata"]["sentiment"], "negative");
    assert_eq!(pricing["tags"], json!(["gong", "call-review"]));

    // Same data, same answer: the second run prints the same output and updates the same three
    // memories instead of adding three more.
    let second = run_json(&config, "workflows/sales-call-review.yaml", &inputs).await;
    assert_eq!(
        serde_json::to_string(&second["output"]).unwrap(),
        serde_json::to_string(&first["output"]).unwrap()
    );
    assert!(
        second["steps"]["remember"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["results"][0]["action"] == "updated"),
        "{}",
        second["steps"]["remember"]
    );
    assert_same_answer(&config, "workflows/sales-call-review.yaml", &inputs, out).await;
    assert_eq!(memories(config.clone()).await.len(), 3);
    // Nothing was asked of the vendors the workflow does not use.
    let asked = vendors.requests();
    assert_eq!(
        (asked["hubspot"], asked["slack"], asked["linear"]),
        (0, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_insights_finds_the_deals_without_a_recent_call() {
    let vendors = Vendors::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = host_config(dir.path(), &vendors);
    let inputs = [
        "close_from=2026-12-01",
        "close_to=2026-12-31",
        "as_of=2026-11-27",
        "quiet_days=14",
    ];
    let first = run_json(&config, "workflows/pipeline-insights.yaml", &inputs).await;
    let out = &first["output"];
    // Closing in December: 1103 (12-05), 1101 (12-15), 1102 (12-20); 1104 closed in October and
    // 1105 closes in January.
    assert_eq!(out["deals"], 3);
    assert_eq!(out["checked"], 3);
    assert_eq!(out["total_amount"].as_f64().unwrap(), 78_000.0);
    // 50,000 × 0.4 + 20,000 × 0.2 + 8,000 × 0.5
    assert_eq!(out["weighted_amount"].as_f64().unwrap(), 28_000.0);
    let pipelines: BTreeMap<String, (u64, f64, f64)> = out["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                (
                    p["deals"].as_u64().unwrap(),
                    p["total_amount"].as_f64().unwrap(),
                    p["weighted_amount"].as_f64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(pipelines["default"], (2, 70_000.0, 24_000.0));
    assert_eq!(pipelines["renewals"], (1, 8_000.0, 4_000.0));
    // Calls since 2026-11-13: only the security review (11-20, on deal 1101). Globex's intro
    // (11-05) is too old and Initech has no call at all: both at risk, in close-date order.
    assert_eq!(out["as_of"], "2026-11-27");
    assert_eq!(out["calls_since"], "2026-11-13");
    assert_eq!(
        out["at_risk"],
        json!([
            {"id": "1103", "name": "Initech renewal", "amount": "8000", "close_date": "2026-12-05T00:00:00Z", "stage": "r-open"},
            {"id": "1102", "name": "Globex pilot", "amount": "20000", "close_date": "2026-12-20T00:00:00Z", "stage": "appointmentscheduled"}
        ])
    );
    assert_eq!(
        out["with_recent_calls"],
        json!([{"id": "1101", "name": "Acme expansion",
                "last_call": {"id": SECURITY, "title": "Acme security review", "started": "2026-11-20T13:00:00Z"}}])
    );
    // Each deal's calls were searched in the same window.
    let searches: Vec<String> = vendors
        .gong
        .log()
        .into_iter()
        .filter(|(_, p, _, _)| p == "/v2/calls/extensive")
        .map(|(_, _, _, body)| body)
        .collect();
    assert!(!searches.is_empty());
    assert!(
        searches.iter().all(|b| {
            b.contains("\"fromDateTime\":\"2026-11-13T00:00:00Z\"")
                && b.contains("\"toDateTime\":\"2026-11-28T00:00:00Z\"")
        }),
        "{searches:?}"
    );

    assert_same_answer(&config, "workflows/pipeline-insights.yaml", &inputs, out).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_health_scores_by_the_formula_with_its_evidence() {
    let vendors = Vendors::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = host_config(dir.path(), &vendors);
    let inputs = ["domain=acme.com", "as_of=2026-11-27", "days=60"];
    let first = run_json(&config, "workflows/customer-health.yaml", &inputs).await;
    let out = &first["output"];
    let c = &out["components"];
    assert_eq!(out["company"], json!({"id": "301", "name": "Acme"}));
    assert_eq!(
        out["window"],
        json!({"from": "2026-09-28", "to": "2026-11-27"})
    );
    // Tickets of Acme: 411 and 413 open, 412 closed (Globex's 414 is not Acme's) → 2 × 10.
    assert_eq!(c["open_tickets"]["penalty"], 20);
    assert_eq!(
        c["open_tickets"]["evidence"],
        json!([{"id": "411", "subject": "SSO login fails for Acme users"},
               {"id": "413", "subject": "CSV export times out"}])
    );
    // Calls with acme.com people in the window: three (Globex's is left out) → no penalty.
    assert_eq!(c["no_recent_call"]["penalty"], 0);
    assert_eq!(
        c["no_recent_call"]["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].clone())
            .collect::<Vec<_>>(),
        [json!(KICKOFF), json!(PRICING), json!(SECURITY)]
    );
    // Open Linear issues mentioning acme.com: ENG-3 (title) and OPS-2 (description); ENG-4 is
    // done → 2 × 5.
    assert_eq!(c["open_linear_issues"]["penalty"], 10);
    let mut issues: Vec<String> = c["open_linear_issues"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["identifier"].as_str().unwrap().to_string())
        .collect();
    issues.sort();
    assert_eq!(issues, ["ENG-3", "OPS-2"]);
    // The most recent call (security review, 11-20) is negative (−1.0) → 10.
    assert_eq!(c["last_call_sentiment"]["penalty"], 10);
    assert_eq!(
        c["last_call_sentiment"]["evidence"],
        json!({"call_id": SECURITY, "title": "Acme security review", "label": "negative", "score": -1.0})
    );
    // Open deal: Acme expansion (the add-on is closed won) → +5.
    assert_eq!(c["open_deal"]["bonus"], 5);
    assert_eq!(
        c["open_deal"]["evidence"],
        json!([{"id": "1101", "name": "Acme expansion", "amount": "50000", "stage": "qualifiedtobuy"}])
    );
    // 100 − 20 − 0 − 10 − 10 + 5
    assert_eq!(out["score"], 65);
    // Slack: the two mentions in the window, newest first (August's is too old; Globex's does
    // not mention Acme); shown, not scored.
    let slack = &out["slack_mentions"];
    assert_eq!(slack["scored"], false);
    assert_eq!(
        slack["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].clone())
            .collect::<Vec<_>>(),
        [
            json!("acme.com reported SSO login failures again"),
            json!("Renewal call with acme.com went well")
        ]
    );
    assert_eq!(slack["evidence"][0]["channel"], "sales");
    let slack_query = vendors
        .slack
        .log()
        .into_iter()
        .find(|(_, m, _)| m == "search.messages")
        .unwrap()
        .2;
    assert!(
        slack_query.contains("query=acme.com after:2026-09-27 before:2026-11-28"),
        "{slack_query}"
    );

    assert_same_answer(&config, "workflows/customer-health.yaml", &inputs, out).await;
}

/// A customer nobody has heard of: no company, no call, no mention; the score says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_health_of_an_unknown_domain_is_the_silence_penalty() {
    let vendors = Vendors::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = host_config(dir.path(), &vendors);
    let v = run_json(
        &config,
        "workflows/customer-health.yaml",
        &["domain=umbrella.example", "as_of=2026-11-27"],
    )
    .await;
    let out = &v["output"];
    assert_eq!(out["company"], Value::Null);
    assert_eq!(out["score"], 85);
    assert_eq!(out["components"]["no_recent_call"]["penalty"], 15);
    assert_eq!(
        out["components"]["last_call_sentiment"]["evidence"],
        Value::Null
    );
    // No company: deals and tickets were not searched.
    assert_eq!(v["steps"]["deals"], Value::Null);
    assert_eq!(
        vendors.hubspot.requests("POST /crm/v3/objects/deals").len(),
        0
    );
}

/// A wrong argument (a misspelt one in a copy of customer-health, or an input of the wrong type)
/// is refused before any vendor receives a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_argument_is_refused_before_any_vendor_is_asked() {
    let vendors = Vendors::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = host_config(dir.path(), &vendors);
    let text = std::fs::read_to_string(repo().join("workflows/customer-health.yaml")).unwrap();
    assert!(text.contains("email_domain: .inputs.domain"));
    let typo = dir.path().join("customer-health-typo.yaml");
    std::fs::write(
        &typo,
        text.replace(
            "email_domain: .inputs.domain",
            "email_domian: .inputs.domain",
        ),
    )
    .unwrap();
    let out = host(
        &config,
        &[
            "run",
            typo.to_str().unwrap(),
            "--input",
            "domain=acme.com",
            "--input",
            "as_of=2026-11-27",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(r#"step "calls""#), "{stderr}");
    assert!(
        stderr.contains("email_domian: unknown argument"),
        "{stderr}"
    );

    // An input of the wrong type: refused before any server starts.
    let out = host(
        &config,
        &[
            "run",
            "workflows/customer-health.yaml",
            "--input",
            "domain=acme.com",
            "--input",
            "days=sixty",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("input days"), "{stderr}");

    // A bad date in an argument of the first step, caught by the server's own check of the
    // window — still before Gong is asked.
    let out = host(
        &config,
        &[
            "run",
            "workflows/sales-call-review.yaml",
            "--input",
            "as_of=2026-13-45",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(r#"step "calls""#), "{stderr}");

    assert_eq!(
        vendors.requests(),
        BTreeMap::from([("gong", 0), ("hubspot", 0), ("linear", 0), ("slack", 0)])
    );
}

/// Days since 1970-01-01 of a `YYYY-MM-DD…` date (Howard Hinnant's days_from_civil).
fn days_of(date: &str) -> i64 {
    let (y, m, d): (i64, i64, i64) = (
        date[0..4].parse().unwrap(),
        date[5..7].parse().unwrap(),
        date[8..10].parse().unwrap(),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// Without `as_of` the window ends with today (UTC): `--dry-run` shows the arguments the first
/// call would get, and calls nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_defaults_to_today() {
    let vendors = Vendors::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = host_config(dir.path(), &vendors);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 86_400;
    let out = host(
        &config,
        &["run", "workflows/sales-call-review.yaml", "--dry-run"],
    )
    .await;
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 86_400;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let args = &plan["steps"][0]["args"];
    let (from, to) = (args["from"].as_str().unwrap(), args["to"].as_str().unwrap());
    assert!(
        from.ends_with("T00:00:00Z") && to.ends_with("T00:00:00Z"),
        "{args}"
    );
    // to = the start of tomorrow; from = 7 days (the default) before the start of today.
    assert!((before + 1..=after + 1).contains(&days_of(to)), "{args}");
    assert_eq!(days_of(to) - days_of(from), 8, "{args}");
    assert_eq!(vendors.requests()["gong"], 0);
}
