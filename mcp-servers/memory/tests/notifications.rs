//! `memory://knowledge-graph` subscribers hear about every successful write, and nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
#![allow(deprecated)] // resources/subscribe is the pre-2026-07-28 API, which clients still use

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rmcp::{
    ClientHandler, ServiceExt,
    model::{CallToolRequestParams, ResourceUpdatedNotificationParam, SubscribeRequestParams},
    service::{NotificationContext, RoleClient},
};
use serde_json::json;

#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl ClientHandler for Counter {
    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        assert_eq!(params.uri, "memory://knowledge-graph");
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn settle(counter: &Counter, expected: usize) -> usize {
    for _ in 0..100 {
        if counter.0.load(Ordering::SeqCst) >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Give a stray extra notification the chance to show up.
    tokio::time::sleep(Duration::from_millis(50)).await;
    counter.0.load(Ordering::SeqCst)
}

#[tokio::test]
async fn writes_notify_subscribers_and_reads_or_failures_do_not() {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(r) = common::server().serve(server_io).await {
            let _ = r.waiting().await;
        }
    });
    let counter = Counter::default();
    let client = counter.clone().serve(client_io).await.unwrap();
    let call = |name: &str, args: serde_json::Value| {
        CallToolRequestParams::new(name.to_string())
            .with_arguments(args.as_object().unwrap().clone())
    };

    // Not subscribed yet: no notification.
    client
        .call_tool(call(
            "create_entities",
            json!({"entities":[{"name":"A","entityType":"t","observations":[]}]}),
        ))
        .await
        .unwrap();
    assert_eq!(settle(&counter, 0).await, 0);

    client
        .subscribe(SubscribeRequestParams::new("memory://knowledge-graph"))
        .await
        .unwrap();
    client
        .call_tool(call(
            "add_observations",
            json!({"observations":[{"entityName":"A","contents":["x"]}]}),
        ))
        .await
        .unwrap();
    assert_eq!(settle(&counter, 1).await, 1);

    // Reads and failed writes do not notify.
    client
        .call_tool(call("read_graph", json!({})))
        .await
        .unwrap();
    let failed = client
        .call_tool(call(
            "add_observations",
            json!({"observations":[{"entityName":"Missing","contents":["x"]}]}),
        ))
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true));
    assert_eq!(settle(&counter, 1).await, 1);

    client
        .call_tool(call("delete_entities", json!({"entityNames":["A"]})))
        .await
        .unwrap();
    assert_eq!(settle(&counter, 2).await, 2);

    client
        .unsubscribe(rmcp::model::UnsubscribeRequestParams::new(
            "memory://knowledge-graph",
        ))
        .await
        .unwrap();
    client
        .call_tool(call(
            "create_entities",
            json!({"entities":[{"name":"B","entityType":"t","observations":[]}]}),
        ))
        .await
        .unwrap();
    assert_eq!(
        settle(&counter, 2).await,
        2,
        "no notification after unsubscribe"
    );
}

/// Protocol 2026-07-28 replaces resources/subscribe with `subscriptions/listen`.
#[tokio::test]
async fn subscriptions_listen_on_2026_07_28_delivers_graph_updates() {
    use rmcp::ClientServiceExt;
    use rmcp::model::{ServerNotification, SubscriptionFilter};

    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(r) = common::server().serve(server_io).await {
            let _ = r.waiting().await;
        }
    });
    let client = Counter::default()
        .serve_with_lifecycle(
            client_io,
            rmcp::ClientLifecycleMode::Discover {
                preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    let mut sub = client
        .peer()
        .listen(
            SubscriptionFilter::builder()
                .resource_subscription("memory://knowledge-graph")
                .resource_subscription("memory://something-else")
                .build(),
        )
        .await
        .unwrap();
    assert_eq!(
        sub.acknowledged().resource_subscriptions,
        Some(vec!["memory://knowledge-graph".to_string()]),
        "only our resource is accepted"
    );
    client
        .call_tool(
            CallToolRequestParams::new("create_entities").with_arguments(
                json!({"entities":[{"name":"L","entityType":"t","observations":[]}]})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a notification within 5s")
        .unwrap()
        .expect("subscription still open");
    match n {
        ServerNotification::ResourceUpdatedNotification(u) => {
            assert_eq!(u.params.uri, "memory://knowledge-graph")
        }
        other => panic!("unexpected notification {other:?}"),
    }
}
