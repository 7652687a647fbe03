//! The embedder seam: text in, unit-length vectors out. Implementations: `hash` (deterministic,
//! for tests that do not need meaning), `minilm` (all-MiniLM-L6-v2 in pure Rust), `openai` (any
//! OpenAI-compatible `/v1/embeddings` endpoint), `none` (keyword search only).

use std::future::Future;
use std::pin::Pin;

pub mod hash;
pub mod hub;
pub mod minilm;
pub mod openai;
pub mod slot;

/// A boxed future, so embedders can live behind `Arc<dyn Embedder>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why embedding failed. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The embedder is still loading (model download or load in progress).
    #[error("the embedder is not ready yet")]
    NotReady,
    /// The model or endpoint is misconfigured or failed; the text says what to fix.
    #[error("{0}")]
    Failed(String),
}

/// Text to vectors.
pub trait Embedder: Send + Sync {
    /// Stable identity stored with the vectors, e.g. `minilm:all-MiniLM-L6-v2` or `hash-384`.
    /// A store refuses to mix vectors of different embedders.
    fn id(&self) -> &str;
    /// Length of every vector.
    fn dimension(&self) -> usize;
    /// Most tokens one text may have before it must be chunked (None: no limit we know of).
    fn max_tokens(&self) -> Option<usize> {
        None
    }
    /// Embed a batch; one unit-length vector per text, in order.
    fn embed<'a>(&'a self, texts: &'a [String])
    -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>>;
}

/// Scale `v` to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in v.iter_mut() {
            *x /= norm;
        }
    }
}

/// Dot product (cosine similarity of unit vectors).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
