//! pipeline_summary against the fake: the numbers match a hand computation over the fixture
//! (all deals, and one owner in a close-date window), every page is read (keyset paging on
//! hs_object_id), progress is reported when asked, and cancellation stops the paging loop.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rmcp::{
    ClientHandler, ServiceExt,
    model::{
        ClientRequest, NumberOrString, ProgressNotificationParam, ProgressToken, Request,
        RequestMetaObject,
    },
    service::{NotificationContext, PeerRequestOptions, RoleClient},
};
use serde_json::{Value, json};
use sophia_hubspot::HubSpotServer;

fn stage<'a>(v: &'a Value, pipeline: &str, stage: &str) -> &'a Value {
    let p = v["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == pipeline)
        .unwrap_or_else(|| panic!("pipeline {pipeline} in {v}"));
    p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == stage)
        .unwrap_or_else(|| panic!("stage {stage} in {p}"))
}

fn nums(s: &Value) -> (u64, f64, f64) {
    (
        s["deal_count"].as_u64().unwrap(),
        s["total_amount"].as_f64().unwrap(),
        s["weighted_amount"].as_f64().unwrap(),
    )
}

#[tokio::test]
async fn summary_of_all_deals_matches_the_hand_computation() {
    let fake = Fake::start(FakeState::default()).await;
    // Two deals per page: the nine deals take five pages.
    fake.with(|s| s.page_cap = 2);
    let client = fake.client().await;
    let v = ok_call(&client, "pipeline_summary", json!({})).await;
    // By hand, from DEALS in tests/common (probabilities: appointmentscheduled 0.2,
    // qualifiedtobuy 0.4, closedwon 1.0, closedlost 0.0, r-open 0.5):
    // appointmentscheduled: 1001 (1000) + 1008 (5000)        → 2 deals, 6000.00, weighted 1200.00
    // qualifiedtobuy: 1002 (2500.50) + 1003 (no amount) + 1009 (750)
    //                                                        → 3 deals, 3250.50, weighted 1300.20
    // closedwon: 1004 (4000)                                 → 1 deal,  4000.00, weighted 4000.00
    // closedlost: 1005 (300)                                 → 1 deal,   300.00, weighted    0.00
    // Sales Pipeline                                         → 7 deals, 13550.50, weighted 6500.20
    // r-open: 1006 (1200) + 1007 (800)                       → 2 deals, 2000.00, weighted 1000.00
    // r-won: none                                            → 0 deals
    // All                                                    → 9 deals, 15550.50, weighted 7500.20
    assert_eq!(
        nums(stage(&v, "default", "appointmentscheduled")),
        (2, 6000.0, 1200.0)
    );
    assert_eq!(
        nums(stage(&v, "default", "qualifiedtobuy")),
        (3, 3250.5, 1300.2)
    );
    assert_eq!(
        stage(&v, "default", "qualifiedtobuy")["deals_without_amount"],
        1
    );
    assert_eq!(nums(stage(&v, "default", "closedwon")), (1, 4000.0, 4000.0));
    assert_eq!(nums(stage(&v, "default", "closedlost")), (1, 300.0, 0.0));
    assert_eq!(nums(stage(&v, "renewals", "r-open")), (2, 2000.0, 1000.0));
    assert_eq!(nums(stage(&v, "renewals", "r-won")), (0, 0.0, 0.0));
    assert_eq!(
        v["pipelines"][0]["id"], "default",
        "pipelines in display order"
    );
    assert_eq!(nums(&v["pipelines"][0]), (7, 13550.5, 6500.2));
    assert_eq!(nums(&v["pipelines"][1]), (2, 2000.0, 1000.0));
    assert_eq!(nums(&v), (9, 15550.5, 7500.2));
    assert_eq!(v["deals_without_amount"], 1);
    let stage_ids: Vec<&str> = v["pipelines"][0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        stage_ids,
        [
            "appointmentscheduled",
            "qualifiedtobuy",
            "closedwon",
            "closedlost"
        ]
    );
    // Five pages of two, each asking past the last id seen (never `after`: no 10k cap).
    assert_eq!(v["pages_fetched"], 5);
    let reqs = fake.requests("POST /crm/v3/objects/deals/search");
    assert_eq!(reqs.len(), 5);
    assert!(reqs.iter().all(|r| r.body.get("after").is_none()));
    assert_eq!(
        reqs[0].body["sorts"],
        json!([{"propertyName": "hs_object_id", "direction": "ASCENDING"}])
    );
    assert_eq!(
        reqs[2].body["filterGroups"][0]["filters"],
        json!([{"propertyName": "hs_object_id", "operator": "GT", "value": "1004"}])
    );
}

#[tokio::test]
async fn summary_for_one_owner_and_a_close_date_window_matches_the_hand_computation() {
    let fake = Fake::start(FakeState::default()).await;
    let client = fake.client().await;
    let v = ok_call(
        &client,
        "pipeline_summary",
        json!({"owner_id": "101", "close_date_from": "2026-01-01", "close_date_to": "2026-03-31"}),
    )
    .await;
    // Owner 101 with close date in 2026-01-01..=2026-03-31: 1001, 1002, 1005 and 1009 (closes
    // on 03-31: the end day is inclusive); 1006 closes in April.
    // appointmentscheduled: 1001 (1000)          → 1, 1000.00, weighted 200.00
    // qualifiedtobuy: 1002 (2500.50) + 1009 (750) → 2, 3250.50, weighted 1300.20
    // closedlost: 1005 (300)                      → 1, 300.00, weighted 0.00
    // All                                         → 4, 4550.50, weighted 1500.20
    assert_eq!(
        nums(stage(&v, "default", "appointmentscheduled")),
        (1, 1000.0, 200.0)
    );
    assert_eq!(
        nums(stage(&v, "default", "qualifiedtobuy")),
        (2, 3250.5, 1300.2)
    );
    assert_eq!(nums(stage(&v, "default", "closedwon")), (0, 0.0, 0.0));
    assert_eq!(nums(stage(&v, "default", "closedlost")), (1, 300.0, 0.0));
    assert_eq!(nums(&v), (4, 4550.5, 1500.2));
    assert_eq!(
        v["pipelines"].as_array().unwrap().len(),
        1,
        "no renewals deal matched"
    );
    let req = &fake.requests("POST /crm/v3/objects/deals/search")[0];
    assert_eq!(
        req.body["filterGroups"][0]["filters"],
        json!([
            {"propertyName": "hubspot_owner_id", "operator": "EQ", "value": "101"},
            {"propertyName": "closedate", "operator": "GTE", "value": "1767225600000"},
            {"propertyName": "closedate", "operator": "LTE", "value": "1775001599999"}
        ])
    );
    let e = err_call(&client, "pipeline_summary", json!({"pipeline": "nope"})).await;
    assert!(
        e.contains("pipeline \"nope\" not found") && e.contains("default (Sales Pipeline)"),
        "{e}"
    );
    let e = err_call(
        &client,
        "pipeline_summary",
        json!({"close_date_from": "31/12/2026"}),
    )
    .await;
    assert!(e.contains("not a date"), "{e}");
}

/// (progress, total) of each notification.
type Seen = Arc<Mutex<Vec<(f64, Option<f64>)>>>;

#[derive(Clone, Default)]
struct Progress(Seen);

impl ClientHandler for Progress {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        // (rmcp's client substitutes its own token for the one set on the request.)
        self.0.lock().unwrap().push((params.progress, params.total));
    }
}

#[tokio::test]
async fn summary_reports_progress_when_asked() {
    let fake = Fake::start(FakeState::default()).await;
    fake.with(|s| s.page_cap = 4);
    let server = HubSpotServer::new(fake.config()).unwrap();
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(r) = server.serve(server_io).await {
            let _ = r.waiting().await;
        }
    });
    let progress = Progress::default();
    let client = progress.clone().serve(client_io).await.unwrap();
    let mut params = call("pipeline_summary", json!({}));
    params.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
        NumberOrString::Number(7),
    )));
    let r = client.call_tool(params).await.unwrap();
    assert_eq!(r.structured_content.unwrap()["deal_count"], 9);
    for _ in 0..100 {
        if progress.0.lock().unwrap().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Pages of 4, 4, 1: progress after each, out of the total HubSpot announced.
    assert_eq!(
        *progress.0.lock().unwrap(),
        vec![(4.0, Some(9.0)), (8.0, Some(9.0)), (9.0, Some(9.0))]
    );
}

#[tokio::test]
async fn cancelling_the_summary_stops_the_paging_loop() {
    let fake = Fake::start(FakeState::default()).await;
    // One deal per page; from the third page on HubSpot is slow.
    fake.with(|s| {
        s.page_cap = 1;
        s.search_delay = Some((2, Duration::from_secs(60)));
    });
    let client = fake.client().await;
    let request = ClientRequest::CallToolRequest(Request::new(call("pipeline_summary", json!({}))));
    let handle = client
        .peer()
        .send_cancellable_request(
            request,
            PeerRequestOptions::with_timeout(Duration::from_millis(500)),
        )
        .await
        .unwrap();
    // The client times out and sends notifications/cancelled.
    assert!(handle.await_response().await.is_err());
    let mut waited = 0;
    while !fake.aborted.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        assert!(waited < 200, "the in-flight search was not abandoned");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        fake.requests("POST /crm/v3/objects/deals/search").len(),
        3,
        "no page is requested after the cancellation"
    );
    // The server still answers.
    fake.with(|s| s.search_delay = None);
    ok_call(&client, "pipeline_list", json!({})).await;
}
