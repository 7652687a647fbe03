//! The embedder a server uses, which may still be loading: searches run keyword-only until it is
//! ready, and say so.

use std::sync::{Arc, RwLock};

use super::Embedder;

/// Where the embedder is.
#[derive(Clone)]
pub enum EmbedState {
    /// Keyword search only, by configuration (`SOPHIA_EMBEDDER=none`).
    Disabled,
    /// Loading (model load, endpoint probe).
    Loading(String),
    /// Ready.
    Ready(Arc<dyn Embedder>),
    /// Could not load; the text says what to fix.
    Failed(String),
}

/// Shared, swappable embedder state.
#[derive(Clone)]
pub struct EmbedderSlot(Arc<RwLock<EmbedState>>);

impl EmbedderSlot {
    pub fn new(state: EmbedState) -> Self {
        Self(Arc::new(RwLock::new(state)))
    }

    pub fn ready(embedder: Arc<dyn Embedder>) -> Self {
        Self::new(EmbedState::Ready(embedder))
    }

    pub fn set(&self, state: EmbedState) {
        if let Ok(mut s) = self.0.write() {
            *s = state;
        }
    }

    /// The embedder when it is ready.
    pub fn get(&self) -> Option<Arc<dyn Embedder>> {
        match self.0.read().ok()?.clone() {
            EmbedState::Ready(e) => Some(e),
            _ => None,
        }
    }

    /// One line for results and `memory_stats`.
    pub fn describe(&self) -> String {
        match self.0.read().map(|s| s.clone()) {
            Ok(EmbedState::Disabled) => "disabled (keyword search only)".into(),
            Ok(EmbedState::Loading(what)) => format!("loading {what}"),
            Ok(EmbedState::Ready(e)) => format!("ready: {} ({}-d)", e.id(), e.dimension()),
            Ok(EmbedState::Failed(why)) => format!("unavailable: {why}"),
            Err(_) => "unknown".into(),
        }
    }
}
