//! A deterministic embedder for tests that need vectors but not meaning: feature hashing of
//! lower-cased word unigrams and bigrams into `dimension` buckets, normalised. Texts sharing words
//! get similar vectors; identical texts get identical vectors.

use super::{BoxFuture, EmbedError, Embedder, normalize};

/// Feature-hashing embedder.
pub struct HashEmbedder {
    dimension: usize,
    id: String,
}

impl HashEmbedder {
    pub fn new(dimension: usize) -> Self {
        Self {
            dimension: dimension.max(8),
            id: format!("hash-{}", dimension.max(8)),
        }
    }

    /// One vector, synchronously.
    pub fn vector(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dimension];
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| w.to_lowercase())
            .collect();
        let mut add = |feature: &str, weight: f32| {
            let h = fnv1a(feature.as_bytes());
            let bucket = (h % self.dimension as u64) as usize;
            let sign = if (h >> 63) & 1 == 1 { -1.0 } else { 1.0 };
            v[bucket] += sign * weight;
        };
        for w in &words {
            add(w, 1.0);
        }
        for pair in words.windows(2) {
            add(&format!("{} {}", pair[0], pair[1]), 0.5);
        }
        normalize(&mut v);
        v
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Embedder for HashEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        Box::pin(async move { Ok(texts.iter().map(|t| self.vector(t)).collect()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::dot;

    #[test]
    fn deterministic_unit_vectors_that_reflect_shared_words() {
        let e = HashEmbedder::new(384);
        let a = e.vector("The customer asked about pricing");
        let b = e.vector("the customer asked about PRICING");
        let c = e.vector("Quarterly revenue grew in EMEA");
        assert_eq!(a, b);
        assert!((dot(&a, &a) - 1.0).abs() < 1e-5);
        assert!(dot(&a, &b) > 0.99);
        assert!(dot(&a, &c) < 0.5);
    }
}
