//! The legacy SSE bridge's limits: a session cap, an idle timeout, keep-alive comments.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::sync::Arc;
use std::time::Duration;

use mcp_core::sse::{SessionStarter, SseConfig, SseTransport, router};
use rmcp::{ServerHandler, ServiceExt, model::ServerConfig};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct Empty;
impl ServerHandler for Empty {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::default()
    }
}

async fn serve(config: SseConfig) -> String {
    let starter: SessionStarter = Arc::new(|transport: SseTransport, ct| {
        tokio::spawn(async move {
            if let Ok(r) = Empty.serve_with_ct(transport, ct).await {
                let _ = r.waiting().await;
            }
        });
    });
    let app = router(config, starter, CancellationToken::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn session_cap_refuses_the_next_session_until_one_closes() {
    let base = serve(SseConfig {
        max_sessions: 1,
        ..SseConfig::default()
    })
    .await;
    let first = mcp_core::testing::SseClient::connect(&base, None)
        .await
        .unwrap();
    let second = reqwest::get(format!("{base}/sse")).await.unwrap();
    assert_eq!(second.status(), 503);
    drop(first);
    // The slot frees once the first stream is gone.
    let mut ok = false;
    for _ in 0..50 {
        if reqwest::get(format!("{base}/sse")).await.unwrap().status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "the session slot was not released");
}

#[tokio::test]
async fn idle_session_is_closed_and_then_unknown() {
    let base = serve(SseConfig {
        idle_timeout: Duration::from_millis(300),
        ..SseConfig::default()
    })
    .await;
    let client = mcp_core::testing::SseClient::connect(&base, None)
        .await
        .unwrap();
    let url = client.post_url().to_string();
    let msg = serde_json::json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    let http = reqwest::Client::new();
    assert_eq!(
        http.post(&url).json(&msg).send().await.unwrap().status(),
        202
    );
    let mut closed = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if http.post(&url).body("{}").send().await.unwrap().status() == 404 {
            closed = true;
            break;
        }
        // A 400 (the body is not a message) still means the session exists; do not refresh it
        // with valid traffic.
    }
    assert!(closed, "idle session was never closed");
}

#[tokio::test]
async fn keep_alive_comments_flow() {
    let base = serve(SseConfig {
        keep_alive: Duration::from_millis(100),
        ..SseConfig::default()
    })
    .await;
    let mut resp = reqwest::get(format!("{base}/sse")).await.unwrap();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !seen.contains("\n:") && !seen.starts_with(':') {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: endpoint"), "{seen}");
    assert!(seen.contains("\n:"), "a keep-alive comment line: {seen}");
}
