//! One tool call's context: its cancellation token, and progress notifications for long
//! paging loops when the client asked for them (a `progressToken` in the request's `_meta`).

use std::sync::atomic::{AtomicU32, Ordering};

use rmcp::RoleServer;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RequestContext};
use tokio_util::sync::CancellationToken;

pub struct Call {
    pub ct: CancellationToken,
    peer: Option<Peer<RoleServer>>,
    token: Option<ProgressToken>,
    step: AtomicU32,
}

impl Call {
    pub fn new(ctx: &RequestContext<RoleServer>) -> Self {
        let token = ctx.meta.get_progress_token();
        Self {
            ct: ctx.ct.clone(),
            peer: token.is_some().then(|| ctx.peer.clone()),
            token,
            step: AtomicU32::new(0),
        }
    }

    /// A call with no client behind it (`--check`, the cancel request).
    pub fn detached() -> Self {
        Self {
            ct: CancellationToken::new(),
            peer: None,
            token: None,
            step: AtomicU32::new(0),
        }
    }

    /// Report one more upstream page read, if the client asked for progress.
    pub async fn progress(&self, message: impl Into<String>) {
        if let (Some(peer), Some(token)) = (&self.peer, &self.token) {
            let n = self.step.fetch_add(1, Ordering::Relaxed) + 1;
            let param =
                ProgressNotificationParam::new(token.clone(), f64::from(n)).with_message(message);
            if let Err(e) = peer.notify_progress(param).await {
                tracing::debug!(error = %e, "progress notification not delivered");
            }
        }
    }
}
