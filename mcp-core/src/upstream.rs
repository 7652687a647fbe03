//! The upstream HTTP client every SaaS server uses: timeouts, a user agent, and retries with
//! exponential backoff and jitter on 429 and 5xx (500/502/503/504) for idempotent requests, honouring
//! `Retry-After`, bounded in attempts and total time. Credentials never reach a log line.

use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, Response, StatusCode, header::HeaderMap};

/// Retry and timeout policy.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First backoff; doubled each retry, with full jitter.
    pub base_delay: Duration,
    /// Cap of one backoff (and of an honoured `Retry-After`).
    pub max_delay: Duration,
    /// No retry starts after this much time since the first attempt.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
            max_total: Duration::from_secs(60),
        }
    }
}

/// Spaces request starts by a fixed interval, whatever the concurrency: each caller reserves the
/// next free slot and sleeps until it (the lock is never held while sleeping). For vendors that
/// document a request rate (HubSpot's 5 searches/s, Gong's 3 calls/s).
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

/// The caller's cancellation token fired while it waited for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaceCancelled;

impl Pacer {
    /// At most `per_second` request starts per second; zero, negative or not finite = unpaced.
    pub fn per_second(per_second: f64) -> Self {
        let interval = if per_second.is_finite() && per_second > 0.0 {
            Duration::from_secs_f64(1.0 / per_second)
        } else {
            Duration::ZERO
        };
        Self {
            interval,
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Wait for the next slot, or until `ct` is cancelled.
    pub async fn acquire(
        &self,
        ct: &tokio_util::sync::CancellationToken,
    ) -> Result<(), PaceCancelled> {
        if ct.is_cancelled() {
            return Err(PaceCancelled);
        }
        if self.interval.is_zero() {
            return Ok(());
        }
        let (slot, now) = {
            let mut next = self.next.lock().await;
            let now = tokio::time::Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            (slot, now)
        };
        // A free slot goes at once: tokio's timer would round even an elapsed deadline up to its
        // next 1 ms tick.
        if slot <= now {
            return Ok(());
        }
        tokio::select! {
            biased;
            _ = ct.cancelled() => Err(PaceCancelled),
            _ = tokio::time::sleep_until(slot) => Ok(()),
        }
    }
}

/// Build the `reqwest::Client` for a server: connect and total timeouts, our user agent.
pub fn build_client(
    server_name: &str,
    version: &str,
    timeout: Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(format!("{server_name}/{version} (sophia-mcp)"))
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .timeout(timeout)
        .build()
}

/// Whether a request with this method may be repeated safely.
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// `Retry-After` as seconds (HTTP-date forms are treated as absent).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Why a request finally failed at the transport level.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("request timed out")]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Other(String),
}

impl From<reqwest::Error> for SendError {
    fn from(e: reqwest::Error) -> Self {
        // reqwest's Display may include the URL; strip it so query-string credentials never leak.
        let e = e.without_url();
        if e.is_timeout() {
            SendError::Timeout
        } else if e.is_connect() {
            SendError::Connect(e.to_string())
        } else {
            SendError::Other(e.to_string())
        }
    }
}

/// Send a request, retrying per `policy`. `idempotent` overrides the method's own idempotency
/// (e.g. a POST search endpoint that only reads); 5xx and connection failures are retried only
/// for idempotent requests, 429 (refused before processing) for every request. The last response is returned whatever its
/// status, so the caller maps 4xx/5xx bodies into tool errors.
pub async fn send_with_retry(
    build: impl Fn() -> RequestBuilder,
    idempotent: bool,
    policy: &RetryPolicy,
) -> Result<Response, SendError> {
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let request = build();
        let outcome = request.send().await;
        let can_retry = idempotent && attempt < policy.max_attempts;
        // A 429 means the request was refused before it was processed: repeating it is safe
        // even for a write.
        let can_retry_429 = attempt < policy.max_attempts;
        let delay = match &outcome {
            Ok(resp)
                if (retryable_status(resp.status()) && can_retry)
                    || (resp.status() == StatusCode::TOO_MANY_REQUESTS && can_retry_429) =>
            {
                let backoff = backoff(policy, attempt);
                let wait = retry_after(resp.headers())
                    .map(|d| d.min(policy.max_delay))
                    .unwrap_or(backoff);
                tracing::debug!(status = %resp.status(), attempt, wait_ms = wait.as_millis() as u64, "upstream asked us to retry");
                Some(wait)
            }
            Err(e) if can_retry && (e.is_timeout() || e.is_connect()) => {
                Some(backoff(policy, attempt))
            }
            _ => None,
        };
        match delay {
            Some(wait) if started.elapsed() + wait <= policy.max_total => {
                tokio::time::sleep(wait).await;
            }
            _ => return outcome.map_err(SendError::from),
        }
    }
}

/// Exponential backoff with full jitter: uniform in [base*2^(n-1)/2, base*2^(n-1)], capped.
fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy
        .base_delay
        .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16));
    let cap = exp.min(policy.max_delay);
    let jitter: f64 = rand::random::<f64>();
    cap.mul_f64(0.5 + 0.5 * jitter)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::{Router, http::StatusCode as S, response::IntoResponse, routing::any};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pacer_spaces_starts_and_stops_on_cancel() {
        let ct = tokio_util::sync::CancellationToken::new();
        let pacer = std::sync::Arc::new(Pacer::per_second(4.0));
        let t0 = tokio::time::Instant::now();
        // Eight concurrent callers: starts at 0, 0.25, … 1.75 s, whatever the order.
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (p, ct) = (pacer.clone(), ct.clone());
                tokio::spawn(async move {
                    p.acquire(&ct).await.unwrap();
                    t0.elapsed()
                })
            })
            .collect();
        let mut starts = Vec::new();
        for t in tasks {
            starts.push(t.await.unwrap());
        }
        starts.sort();
        let want: Vec<Duration> = (0..8).map(|i| Duration::from_millis(250 * i)).collect();
        assert_eq!(starts, want);
        // A waiter whose call is cancelled gives up at once.
        let waiting = {
            let (p, ct) = (pacer.clone(), ct.clone());
            tokio::spawn(async move { p.acquire(&ct).await })
        };
        tokio::task::yield_now().await;
        ct.cancel();
        assert_eq!(waiting.await.unwrap(), Err(PaceCancelled));
        // Unpaced: never waits.
        let free = Pacer::per_second(0.0);
        let t1 = tokio::time::Instant::now();
        for _ in 0..100 {
            free.acquire(&tokio_util::sync::CancellationToken::new())
                .await
                .unwrap();
        }
        assert_eq!(t1.elapsed(), Duration::ZERO);
    }

    /// A fake upstream answering the scripted statuses in order, then 200.
    async fn fake(script: Vec<(u16, Option<&'static str>)>) -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let app = Router::new().route(
            "/x",
            any(move || {
                let h = h.clone();
                let script = script.clone();
                async move {
                    let n = h.fetch_add(1, Ordering::SeqCst);
                    match script.get(n) {
                        Some((code, retry)) => {
                            let code = S::from_u16(*code).unwrap_or(S::INTERNAL_SERVER_ERROR);
                            match retry {
                                Some(r) => {
                                    (code, [("retry-after", *r)], "slow down").into_response()
                                }
                                None => (code, "nope").into_response(),
                            }
                        }
                        None => (S::OK, "{\"ok\":true}").into_response(),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}/x"), hits)
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(2),
            max_total: Duration::from_secs(10),
        }
    }

    #[tokio::test]
    async fn retries_429_then_succeeds() {
        let (url, hits) = fake(vec![(429, None), (503, None), (500, None)]).await;
        let client = build_client("t", "0", Duration::from_secs(5)).unwrap();
        let r = send_with_retry(|| client.get(&url), true, &fast())
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(hits.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn honours_retry_after() {
        let (url, hits) = fake(vec![(429, Some("1"))]).await;
        let client = build_client("t", "0", Duration::from_secs(5)).unwrap();
        let t = Instant::now();
        let r = send_with_retry(|| client.get(&url), true, &fast())
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        // Lower bound only: waiting at least what the server asked is the behaviour under test.
        assert!(
            t.elapsed() >= Duration::from_millis(950),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test]
    async fn gives_up_after_the_bound() {
        let (url, hits) = fake(vec![(503, None); 10]).await;
        let client = build_client("t", "0", Duration::from_secs(5)).unwrap();
        let r = send_with_retry(|| client.get(&url), true, &fast())
            .await
            .unwrap();
        assert_eq!(r.status(), 503, "the last response is handed back");
        assert_eq!(hits.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn gives_up_when_retry_after_exceeds_total_time() {
        let (url, hits) = fake(vec![(429, Some("30"))]).await;
        let client = build_client("t", "0", Duration::from_secs(5)).unwrap();
        let policy = RetryPolicy {
            max_delay: Duration::from_secs(60),
            max_total: Duration::from_secs(5),
            ..fast()
        };
        let r = send_with_retry(|| client.get(&url), true, &policy)
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_write_refused_with_429_is_retried_because_nothing_was_applied() {
        let (url, hits) = fake(vec![(429, Some("0"))]).await;
        let client = build_client("t", "0", Duration::from_secs(5)).unwrap();
        let r = send_with_retry(|| client.post(&url), false, &fast())
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn non_idempotent_post_is_not_retried() {
        let (url, hits) = fake(vec![(503, None)]).await;
        let client = build_client("t", "0", Duration::from_secs(5)).unwrap();
        let r = send_with_retry(|| client.post(&url), false, &fast())
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn errors_never_carry_the_url_or_its_secrets() {
        let client = build_client("t", "0", Duration::from_millis(500)).unwrap();
        let policy = RetryPolicy {
            max_attempts: 1,
            ..fast()
        };
        // Port 9 (discard) on loopback is closed here: connection refused.
        let e = send_with_retry(
            || client.get("http://127.0.0.1:9/x?token=supersecret"),
            true,
            &policy,
        )
        .await
        .unwrap_err();
        assert!(!e.to_string().contains("supersecret"), "{e}");
    }

    #[test]
    fn idempotency_by_method() {
        assert!(is_idempotent(&Method::GET));
        assert!(is_idempotent(&Method::PUT));
        assert!(!is_idempotent(&Method::POST));
        assert!(!is_idempotent(&Method::PATCH));
    }
}
