#!/usr/bin/env python3
"""The Chroma side of `benches/semantic.rs`: Chroma's local persistent client on the same
vectors, documents and query vectors as sophia-memory, measured the same way.

Pinned: chromadb==1.5.9, numpy==2.4.6 (the bench creates target/bench-venv with exactly these
when it is missing). Embeddings are passed in directly, so Chroma's default embedding function
never runs and no model is downloaded.

Two sub-commands, each run as its own process by the Rust bench so that each process's peak
RSS is its own:

  chroma_peer.py ingest --data DIR --db CHROMA_DIR --out FILE.json [--batch 5000]
      Loads DIR/corpus.f32 (N x 384 little-endian f32, unit vectors), DIR/corpus.txt (one
      document per line) and DIR/queries.f32; computes the exact top-10 with numpy (a cross-check
      of the bench's own ground truth); creates a persistent collection with
      metadata {"hnsw:space": "cosine"} and adds ids `m000000`..., embeddings and documents in
      batches; then runs one query, so any indexing Chroma defers is inside the ingest figure.

  chroma_peer.py query --data DIR --db CHROMA_DIR --out FILE.json [--warmup 10]
      Opens the same persistent directory in a fresh process, times the first query (opening
      the index), runs the warm-ups, then one `collection.query(query_embeddings=[q],
      n_results=10, include=["documents", "distances"])` per query vector, sequentially.

Results are written as JSON to --out (stdout is left to Chroma's own messages).
"""

import argparse
import json
import os
import resource
import sys
import time

import numpy as np

DIM = 384
K = 10


def vm_hwm_kib():
    """Peak resident set size of this process (VmHWM, KiB)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def vm_rss_kib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def load(data, name):
    a = np.fromfile(os.path.join(data, name), dtype="<f4")
    return a.reshape(-1, DIM)


def client(path):
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))


def dir_bytes(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def ingest(args):
    import chromadb

    vecs = load(args.data, "corpus.f32")
    queries = load(args.data, "queries.f32")
    with open(os.path.join(args.data, "corpus.txt"), encoding="utf-8") as f:
        docs = f.read().split("\n")[: len(vecs)]
    if len(docs) != len(vecs):
        sys.exit(f"corpus.txt has {len(docs)} lines for {len(vecs)} vectors")

    # Exact top-10 by brute force (float32 BLAS), in slices of queries to bound memory.
    truth = []
    for start in range(0, len(queries), 50):
        s = queries[start : start + 50] @ vecs.T
        idx = np.argpartition(-s, K, axis=1)[:, :K]
        for r, row in enumerate(idx):
            order = row[np.argsort(-s[r, row], kind="stable")]
            truth.append([int(i) for i in order])
    del s

    rss_before = vm_rss_kib()
    c = client(args.db)
    col = c.create_collection("bench", metadata={"hnsw:space": "cosine"})
    batch = min(args.batch, c.get_max_batch_size())
    t0 = time.perf_counter()
    for start in range(0, len(vecs), batch):
        end = min(start + batch, len(vecs))
        col.add(
            ids=[f"m{i:06d}" for i in range(start, end)],
            embeddings=vecs[start:end],
            documents=docs[start:end],
        )
    add_secs = time.perf_counter() - t0
    t1 = time.perf_counter()
    col.query(query_embeddings=queries[:1], n_results=K)
    first_query = time.perf_counter() - t1
    count = col.count()
    try:
        config = col.configuration_json
    except Exception:  # noqa: BLE001 - informational only
        config = None
    out = {
        "chromadb": chromadb.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "n": len(vecs),
        "count": count,
        "batch": batch,
        "add_secs": add_secs,
        "first_query_secs": first_query,
        "numpy_truth": truth,
        "rss_before_chroma_kib": rss_before,
        "harness_arrays_bytes": int(vecs.nbytes + queries.nbytes),
        "peak_rss_kib": vm_hwm_kib(),
        "db_bytes": dir_bytes(args.db),
        "configuration": config,
    }
    with open(args.out, "w") as f:
        json.dump(out, f)


def query(args):
    import chromadb

    queries = load(args.data, "queries.f32")
    c = client(args.db)
    col = c.get_collection("bench")
    t0 = time.perf_counter()
    col.query(query_embeddings=queries[:1], n_results=K, include=["documents", "distances"])
    first = time.perf_counter() - t0
    for i in range(min(args.warmup, len(queries))):
        col.query(query_embeddings=queries[i : i + 1], n_results=K, include=["documents", "distances"])
    lat_ms = []
    ids = []
    for i in range(len(queries)):
        q = queries[i : i + 1]
        t = time.perf_counter()
        r = col.query(query_embeddings=q, n_results=K, include=["documents", "distances"])
        lat_ms.append((time.perf_counter() - t) * 1e3)
        ids.append(r["ids"][0])
    out = {
        "chromadb": chromadb.__version__,
        "first_query_secs": first,
        "lat_ms": lat_ms,
        "ids": ids,
        "peak_rss_kib": vm_hwm_kib(),
    }
    with open(args.out, "w") as f:
        json.dump(out, f)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["ingest", "query"])
    p.add_argument("--data", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--batch", type=int, default=5000)
    p.add_argument("--warmup", type=int, default=10)
    args = p.parse_args()
    if args.command == "ingest":
        ingest(args)
    else:
        query(args)


if __name__ == "__main__":
    main()
