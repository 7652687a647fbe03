//! A fake Pinecone data plane (API version 2025-10) on 127.0.0.1, written from Pinecone's
//! published OpenAPI document and reference pages (cited in `src/pinecone.rs`). Shared by the
//! client's unit tests (`src/pinecone.rs`) and the backend's integration tests
//! (`tests/pinecone_backend.rs`), which include this file by path.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::{
    Router,
    body::Bytes,
    http::{HeaderMap, Method, StatusCode as S, Uri},
    response::{IntoResponse, Response},
};
use reqwest::Url;
use serde_json::{Map, Value, json};

/// The API key the fake accepts.
pub const KEY: &str = "pcsk_test_4f1d2c3b";
/// The `X-Pinecone-Api-Version` it insists on.
pub const API_VERSION: &str = "2025-10";
/// Pinecone's documented limits, enforced as the service does.
pub const MAX_REQUEST_BYTES: usize = 2_000_000;
pub const MAX_METADATA_BYTES: usize = 40 * 1024;

/// One request the fake saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Value,
    pub body_bytes: usize,
}

/// A stored record: values and metadata.
pub type Stored = (Vec<f64>, Map<String, Value>);

#[derive(Default)]
pub struct FakeState {
    /// namespace -> id -> record
    pub namespaces: BTreeMap<String, BTreeMap<String, Stored>>,
    pub dimension: Option<usize>,
    pub seen: Vec<Seen>,
    /// Answers given before the normal ones: (status, retry-after, body).
    pub scripted: VecDeque<(u16, Option<&'static str>, String)>,
}

pub type Shared = Arc<Mutex<FakeState>>;

/// The documented error body (`rpcStatus`).
pub fn rpc_error(status: u16, code: i32, message: &str) -> Response {
    (
        S::from_u16(status).unwrap(),
        axum::Json(json!({"code": code, "message": message, "details": []})),
    )
        .into_response()
}

/// A fake Pinecone data plane on 127.0.0.1: checks `Api-Key` and `X-Pinecone-Api-Version`,
/// stores records per namespace (numbers as 64-bit floats, as Pinecone does) and answers
/// with the 2025-10 response shapes. Returns its base URL and its state.
pub async fn fake() -> (String, Shared) {
    let state: Shared = Arc::new(Mutex::new(FakeState::default()));
    let st = state.clone();
    let app = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let st = st.clone();
            async move { handle(&st, method, uri, headers, body) }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), state)
}

fn handle(st: &Shared, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = st.lock().unwrap();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    s.seen.push(Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        body: parsed.clone(),
        body_bytes: body.len(),
    });
    if let Some((status, retry, body)) = s.scripted.pop_front() {
        let mut r = (S::from_u16(status).unwrap(), body).into_response();
        if let Some(r_a) = retry {
            r.headers_mut().insert("retry-after", r_a.parse().unwrap());
        }
        return r;
    }
    // Security scheme ApiKeyAuth: header `Api-Key`. The reference pages show 401 answered
    // with the JSON string "Unauthorized".
    if headers.get("api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
        return (S::UNAUTHORIZED, axum::Json(json!("Unauthorized"))).into_response();
    }
    if headers
        .get("x-pinecone-api-version")
        .and_then(|v| v.to_str().ok())
        != Some(API_VERSION)
    {
        return rpc_error(400, 3, "fake: X-Pinecone-Api-Version 2025-10 expected");
    }
    let query_pairs: Vec<(String, String)> =
        Url::parse(&format!("http://x/?{}", uri.query().unwrap_or_default()))
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let param = |name: &str| {
        query_pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    match (method.as_str(), uri.path()) {
        ("POST", "/vectors/upsert") => upsert(&mut s, &parsed, body.len()),
        ("POST", "/query") => query(&s, &parsed),
        ("GET", "/vectors/fetch") => {
            let ns = param("namespace").unwrap_or_default();
            let ids: Vec<String> = query_pairs
                .iter()
                .filter(|(k, _)| k == "ids")
                .map(|(_, v)| v.clone())
                .collect();
            if ids.is_empty() {
                return rpc_error(400, 3, "ids required");
            }
            let mut vectors = Map::new();
            if let Some(space) = s.namespaces.get(&ns) {
                for id in ids {
                    if let Some((values, metadata)) = space.get(&id) {
                        vectors.insert(
                            id.clone(),
                            json!({"id": id, "values": values, "metadata": metadata}),
                        );
                    }
                }
            }
            axum::Json(json!({"vectors": vectors, "namespace": ns, "usage": {"readUnits": 1}}))
                .into_response()
        }
        ("POST", "/vectors/update") => {
            let ns = parsed["namespace"].as_str().unwrap_or_default().to_string();
            let id = parsed["id"].as_str().unwrap_or_default().to_string();
            if let Some((values, metadata)) = s
                .namespaces
                .get_mut(&ns)
                .and_then(|space| space.get_mut(&id))
            {
                if let Some(v) = parsed["values"].as_array() {
                    *values = v.iter().map(|x| x.as_f64().unwrap()).collect();
                }
                if let Some(m) = parsed["setMetadata"].as_object() {
                    for (k, v) in m {
                        metadata.insert(k.clone(), as_f64s(v));
                    }
                }
            }
            axum::Json(json!({})).into_response()
        }
        ("POST", "/vectors/delete") => {
            let ns = parsed["namespace"].as_str().unwrap_or_default().to_string();
            let modes = [
                parsed.get("ids").is_some(),
                parsed["deleteAll"].as_bool() == Some(true),
                parsed.get("filter").is_some(),
            ];
            if modes.iter().filter(|m| **m).count() != 1 {
                return rpc_error(400, 3, "ids, deleteAll and filter are mutually exclusive");
            }
            let space = s.namespaces.entry(ns).or_default();
            if let Some(ids) = parsed["ids"].as_array() {
                for id in ids {
                    space.remove(id.as_str().unwrap_or_default());
                }
            } else if modes[1] {
                space.clear();
            } else {
                let f = parsed["filter"].clone();
                space.retain(|_, (_, m)| !matches(&f, m));
            }
            axum::Json(json!({})).into_response()
        }
        ("GET", "/vectors/list") => {
            let ns = param("namespace").unwrap_or_default();
            let prefix = param("prefix").unwrap_or_default();
            let limit: usize = param("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
            let after = param("paginationToken");
            let ids: Vec<String> = s
                .namespaces
                .get(&ns)
                .map(|space| {
                    space
                        .keys()
                        .filter(|id| id.starts_with(&prefix))
                        .filter(|id| after.as_ref().is_none_or(|a| id.as_str() > a.as_str()))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            let page: Vec<Value> = ids.iter().take(limit).map(|id| json!({"id": id})).collect();
            let mut out = json!({"vectors": page, "namespace": ns, "usage": {"readUnits": 1}});
            if ids.len() > limit {
                out["pagination"] = json!({"next": ids[limit - 1]});
            }
            axum::Json(out).into_response()
        }
        ("POST", "/describe_index_stats") => {
            let namespaces: Map<String, Value> = s
                .namespaces
                .iter()
                .filter(|(_, space)| !space.is_empty())
                .map(|(ns, space)| (ns.clone(), json!({"vectorCount": space.len()})))
                .collect();
            let total: usize = s.namespaces.values().map(BTreeMap::len).sum();
            axum::Json(json!({
                "namespaces": namespaces,
                "dimension": s.dimension.unwrap_or(0),
                "indexFullness": 0.0,
                "totalVectorCount": total,
                "metric": "cosine",
                "vectorType": "dense"
            }))
            .into_response()
        }
        _ => rpc_error(404, 5, "Not Found"),
    }
}

/// Numbers as Pinecone keeps them: 64-bit floats.
fn as_f64s(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        other => other.clone(),
    }
}

fn upsert(s: &mut FakeState, body: &Value, bytes: usize) -> Response {
    if bytes > MAX_REQUEST_BYTES {
        return rpc_error(400, 3, "request too large");
    }
    let Some(vectors) = body["vectors"].as_array() else {
        return rpc_error(400, 3, "vectors required");
    };
    if vectors.is_empty() || vectors.len() > 1000 {
        return rpc_error(400, 3, "1..=1000 vectors per upsert");
    }
    let ns = body["namespace"].as_str().unwrap_or_default().to_string();
    for v in vectors {
        let values: Vec<f64> = v["values"]
            .as_array()
            .map(|a| a.iter().map(|x| x.as_f64().unwrap()).collect())
            .unwrap_or_default();
        if *s.dimension.get_or_insert(values.len()) != values.len() {
            return rpc_error(400, 3, "Vector dimension does not match the index");
        }
        let metadata = v["metadata"].as_object().cloned().unwrap_or_default();
        if serde_json::to_vec(&metadata).unwrap().len() > MAX_METADATA_BYTES {
            return rpc_error(400, 3, "Metadata size exceeds the limit of 40960 bytes");
        }
        for (k, val) in &metadata {
            let ok = match val {
                Value::String(_) | Value::Bool(_) | Value::Number(_) => true,
                Value::Array(items) => items.iter().all(Value::is_string),
                _ => false,
            };
            if !ok {
                return rpc_error(400, 3, &format!("metadata {k}: unsupported type"));
            }
        }
        let metadata = metadata
            .iter()
            .map(|(k, v)| (k.clone(), as_f64s(v)))
            .collect();
        s.namespaces
            .entry(ns.clone())
            .or_default()
            .insert(v["id"].as_str().unwrap().to_string(), (values, metadata));
    }
    axum::Json(json!({"upsertedCount": vectors.len()})).into_response()
}

fn query(s: &FakeState, body: &Value) -> Response {
    let Some(top_k) = body["topK"].as_u64() else {
        return rpc_error(400, 3, "topK required");
    };
    let q: Vec<f64> = body["vector"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let ns = body["namespace"].as_str().unwrap_or_default().to_string();
    let filter = body.get("filter").cloned().unwrap_or(json!({}));
    let cosine = |a: &[f64], b: &[f64]| {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
        dot / (na * nb)
    };
    let mut scored: Vec<(f64, &String, &Stored)> = s
        .namespaces
        .get(&ns)
        .map(|space| {
            space
                .iter()
                .filter(|(_, (_, m))| matches(&filter, m))
                .map(|(id, rec)| (cosine(&q, &rec.0), id, rec))
                .collect()
        })
        .unwrap_or_default();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.truncate(top_k as usize);
    let matches: Vec<Value> = scored
        .into_iter()
        .map(|(score, id, (values, metadata))| {
            let mut m = json!({"id": id, "score": score});
            if body["includeValues"].as_bool() == Some(true) {
                m["values"] = json!(values);
            }
            if body["includeMetadata"].as_bool() == Some(true) {
                m["metadata"] = json!(metadata);
            }
            m
        })
        .collect();
    axum::Json(json!({"matches": matches, "namespace": ns, "usage": {"readUnits": 5}}))
        .into_response()
}

/// Pinecone's filter language: `$eq $ne $gt $gte $lt $lte $in $nin $exists $and $or`, and a
/// bare value as `$eq`; on a list-of-strings field `$eq`/`$in` match any element.
pub fn matches(filter: &Value, m: &Map<String, Value>) -> bool {
    let Some(obj) = filter.as_object() else {
        return false;
    };
    obj.iter().all(|(k, cond)| match k.as_str() {
        "$and" => cond.as_array().unwrap().iter().all(|c| matches(c, m)),
        "$or" => cond.as_array().unwrap().iter().any(|c| matches(c, m)),
        field => {
            let ops = match cond.as_object() {
                Some(ops) if ops.keys().all(|k| k.starts_with('$')) => ops.clone(),
                _ => Map::from_iter([("$eq".to_string(), cond.clone())]),
            };
            let value = m.get(field);
            ops.iter().all(|(op, arg)| field_matches(op, arg, value))
        }
    })
}

fn field_matches(op: &str, arg: &Value, value: Option<&Value>) -> bool {
    let eq = |a: &Value, b: &Value| match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    };
    let elements: Vec<&Value> = match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => vec![],
    };
    let num = |v: Option<&Value>| v.and_then(Value::as_f64);
    match op {
        "$exists" => value.is_some() == arg.as_bool().unwrap(),
        "$eq" => elements.iter().any(|e| eq(e, arg)),
        "$ne" => !elements.iter().any(|e| eq(e, arg)),
        "$in" => {
            let set = arg.as_array().unwrap();
            assert!(
                set.iter().all(|x| x.is_string() || x.is_number()),
                "$in takes strings or numbers"
            );
            elements.iter().any(|e| set.iter().any(|x| eq(e, x)))
        }
        "$nin" => {
            let set = arg.as_array().unwrap();
            !elements.iter().any(|e| set.iter().any(|x| eq(e, x)))
        }
        "$gt" | "$gte" | "$lt" | "$lte" => {
            let bound = arg.as_f64().expect("range operators take numbers");
            match num(value) {
                Some(v) => match op {
                    "$gt" => v > bound,
                    "$gte" => v >= bound,
                    "$lt" => v < bound,
                    _ => v <= bound,
                },
                None => false,
            }
        }
        other => panic!("the fake does not know {other}"),
    }
}
