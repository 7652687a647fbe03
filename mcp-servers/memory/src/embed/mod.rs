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
    /// Split a long text into windows that fit the model, counted in the model's own tokens, or
    /// `None` when the embedder has no tokenizer (the caller then splits by characters).
    fn chunk(&self, _text: &str) -> Option<Result<Vec<String>, EmbedError>> {
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

/// Dot product (cosine similarity of unit vectors). Sixteen independent accumulators let the
/// compiler vectorise the loop (a single running sum cannot be reordered); measured 10x faster
/// on the 100k scan in BENCHMARKS.md.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let chunks = n / LANES;
    for c in 0..chunks {
        let (xa, xb) = (
            &a[c * LANES..(c + 1) * LANES],
            &b[c * LANES..(c + 1) * LANES],
        );
        for i in 0..LANES {
            acc[i] += xa[i] * xb[i];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for i in chunks * LANES..n {
        sum += a[i] * b[i];
    }
    sum
}

#[cfg(test)]
mod tests {
    #[test]
    fn dot_matches_the_plain_sum() {
        for n in [0usize, 1, 15, 16, 17, 384, 1000] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) / 10.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 10.0).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((super::dot(&a, &b) - plain).abs() < 1e-4, "n={n}");
        }
    }
}
