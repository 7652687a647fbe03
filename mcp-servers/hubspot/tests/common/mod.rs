//! A fake of HubSpot's CRM API on 127.0.0.1, answering as HubSpot's docs show
//! (<https://developers.hubspot.com/docs/api/crm/search>, /crm/understanding-the-crm,
//! /crm/associations, /crm/pipelines, /crm/owners, /crm/properties, /faq/api-error-responses):
//! `Authorization: Bearer <token>` (anything else: 401 with `category: INVALID_AUTHENTICATION`),
//! every property value a string (`null` when unset), only default properties unless
//! `properties` names others, search pages of at most 200 with `paging.next.after` and a 400
//! past 10,000 results, 404 `OBJECT_NOT_FOUND`, batch read 207 with `errors[].context.ids`.
//! It records every request and can script answers (429 without Retry-After, malformed bodies)
//! and slow searches (to cancel).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err,
    clippy::collapsible_if
)]

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use mcp_core::testing::Client;
use mcp_core::upstream::RetryPolicy;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use secrecy::SecretString;
use serde_json::{Value, json};
use sophia_hubspot::{HubSpotConfig, HubSpotServer};

pub const TOKEN: &str = "pat-na1-fake-0123456789-secret";

pub const TOOLS: &[&str] = &[
    "note_create",
    "object_create",
    "object_get",
    "object_search",
    "object_update",
    "owner_list",
    "pipeline_list",
    "pipeline_summary",
    "property_list",
];
pub const READ_TOOLS: &[&str] = &[
    "object_get",
    "object_search",
    "owner_list",
    "pipeline_list",
    "pipeline_summary",
    "property_list",
];

/// The server binary: Cargo names it for this crate's own tests; another package that includes
/// this fake (sophia-host's workflow tests) finds the binaries itself.
pub fn bin() -> PathBuf {
    PathBuf::from(option_env!("CARGO_BIN_EXE_sophia-hubspot").unwrap_or("sophia-hubspot"))
}

#[derive(Clone, Debug)]
pub struct Obj {
    pub props: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Value,
    pub authorization: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Scripted {
    /// "METHOD /path" this answer is for.
    pub route: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

pub struct FakeState {
    pub objects: BTreeMap<String, BTreeMap<u64, Obj>>,
    /// (from type, from id, to type, to id, label)
    pub associations: Vec<(String, u64, String, u64, Option<String>)>,
    pub pipelines: BTreeMap<String, Value>,
    pub owners: Vec<Value>,
    pub properties: BTreeMap<String, Vec<Value>>,
    /// Most results one search page returns, whatever `limit` asks.
    pub page_cap: usize,
    /// Properties silently not stored on create/update (HubSpot drops e.g. an unknown option).
    pub ignore_on_write: Vec<String>,
    pub script: VecDeque<Scripted>,
    pub requests: Vec<Recorded>,
    pub next_id: u64,
    /// Searches from this index on (0-based) sleep this long first.
    pub search_delay: Option<(usize, Duration)>,
}

fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn stage(id: &str, label: &str, order: i64, probability: &str, closed: bool) -> Value {
    json!({
        "id": id, "label": label, "displayOrder": order,
        "metadata": {"isClosed": closed.to_string(), "probability": probability},
        "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z",
        "archived": false, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT"
    })
}

/// The deals of the pipeline-summary fixture: (id, amount, pipeline, stage, owner, closedate).
pub const DEALS: &[(u64, &str, &str, &str, &str, &str)] = &[
    (
        1001,
        "1000",
        "default",
        "appointmentscheduled",
        "101",
        "2026-01-15T00:00:00Z",
    ),
    (
        1002,
        "2500.50",
        "default",
        "qualifiedtobuy",
        "101",
        "2026-02-10T00:00:00Z",
    ),
    (
        1003,
        "",
        "default",
        "qualifiedtobuy",
        "102",
        "2026-02-20T00:00:00Z",
    ),
    (
        1004,
        "4000",
        "default",
        "closedwon",
        "102",
        "2026-03-01T00:00:00Z",
    ),
    (
        1005,
        "300",
        "default",
        "closedlost",
        "101",
        "2026-03-05T00:00:00Z",
    ),
    (
        1006,
        "1200",
        "renewals",
        "r-open",
        "101",
        "2026-04-10T00:00:00Z",
    ),
    (
        1007,
        "800",
        "renewals",
        "r-open",
        "102",
        "2026-01-31T00:00:00Z",
    ),
    (
        1008,
        "5000",
        "default",
        "appointmentscheduled",
        "102",
        "2025-12-31T00:00:00Z",
    ),
    (
        1009,
        "750",
        "default",
        "qualifiedtobuy",
        "101",
        "2026-03-31T00:00:00Z",
    ),
];

impl Default for FakeState {
    fn default() -> Self {
        let mut objects: BTreeMap<String, BTreeMap<u64, Obj>> = BTreeMap::new();
        let contacts = [
            (201, "Ada", "Lovelace", "ada@acme.com"),
            (202, "Grace", "Hopper", "grace@navy.mil"),
            (203, "Alan", "Turing", "alan@bletchley.uk"),
            (204, "Katherine", "Johnson", "katherine@nasa.gov"),
            (205, "Linus", "Torvalds", "linus@kernel.org"),
        ];
        for (id, f, l, e) in contacts {
            objects.entry("contacts".into()).or_default().insert(
                id,
                Obj {
                    props: props(&[
                        ("firstname", f),
                        ("lastname", l),
                        ("email", e),
                        ("createdate", "2025-06-01T10:00:00.000Z"),
                        ("lastmodifieddate", "2025-06-02T10:00:00.000Z"),
                    ]),
                },
            );
        }
        for (id, n, d) in [(301, "Acme", "acme.com"), (302, "Initech", "initech.com")] {
            objects.entry("companies".into()).or_default().insert(
                id,
                Obj {
                    props: props(&[
                        ("name", n),
                        ("domain", d),
                        ("createdate", "2025-01-01T00:00:00Z"),
                    ]),
                },
            );
        }
        for (id, amount, pipeline, stage, owner, close) in DEALS {
            let mut p = props(&[
                ("dealname", &format!("Deal {id}")),
                ("pipeline", pipeline),
                ("dealstage", stage),
                ("hubspot_owner_id", owner),
                ("closedate", close),
                ("createdate", "2025-11-01T00:00:00Z"),
            ]);
            if !amount.is_empty() {
                p.insert("amount".into(), amount.to_string());
            }
            objects
                .entry("deals".into())
                .or_default()
                .insert(*id, Obj { props: p });
        }
        objects.entry("tickets".into()).or_default().insert(
            401,
            Obj {
                props: props(&[
                    ("subject", "Login broken"),
                    ("hs_pipeline", "0"),
                    ("hs_pipeline_stage", "1"),
                ]),
            },
        );
        objects.entry("notes".into()).or_default();
        let mut pipelines = BTreeMap::new();
        pipelines.insert(
            "deals".to_string(),
            json!([
                {"id": "renewals", "label": "Renewals", "displayOrder": 1, "archived": false,
                 "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z",
                 "stages": [stage("r-won", "Renewed", 1, "1.0", true), stage("r-open", "Renewal open", 0, "0.5", false)]},
                {"id": "default", "label": "Sales Pipeline", "displayOrder": 0, "archived": false,
                 "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z",
                 "stages": [
                    stage("appointmentscheduled", "Appointment Scheduled", 0, "0.2", false),
                    stage("qualifiedtobuy", "Qualified To Buy", 1, "0.4", false),
                    stage("closedwon", "Closed Won", 2, "1.0", true),
                    stage("closedlost", "Closed Lost", 3, "0.0", true)
                 ]}
            ]),
        );
        pipelines.insert(
            "tickets".to_string(),
            json!([{"id": "0", "label": "Support Pipeline", "displayOrder": 0, "archived": false,
                "stages": [
                    {"id": "1", "label": "New", "displayOrder": 0, "metadata": {"ticketState": "OPEN"}, "archived": false},
                    {"id": "4", "label": "Closed", "displayOrder": 1, "metadata": {"ticketState": "CLOSED", "isClosed": "true"}, "archived": false}
                ]}]),
        );
        let owners = vec![
            json!({"id": "101", "email": "ada@example.com", "type": "PERSON", "firstName": "Ada", "lastName": "Owner", "userId": 9001, "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z", "archived": false, "teams": [{"id": "t1", "name": "EMEA", "primary": true}]}),
            json!({"id": "102", "email": "bob@example.com", "type": "PERSON", "firstName": "Bob", "lastName": "Owner", "userId": 9002, "archived": false, "teams": []}),
            json!({"id": "103", "email": "cy@example.com", "type": "PERSON", "firstName": "Cy", "lastName": "Owner", "userId": 9003, "archived": false}),
        ];
        let prop = |name: &str,
                    label: &str,
                    ty: &str,
                    field: &str,
                    defined: bool,
                    options: Value| {
            let mut v = json!({"name": name, "label": label, "type": ty, "fieldType": field,
                "groupName": "contactinformation", "description": format!("The {label}"),
                "options": options, "calculated": false, "hidden": false, "displayOrder": 1,
                "formField": true, "hasUniqueValue": false,
                "modificationMetadata": {"archivable": true, "readOnlyDefinition": defined, "readOnlyValue": false},
                "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"});
            if defined {
                v["hubspotDefined"] = json!(true);
            }
            v
        };
        let mut properties = BTreeMap::new();
        let mut object_id = prop(
            "hs_object_id",
            "Record ID",
            "number",
            "number",
            true,
            json!([]),
        );
        object_id["modificationMetadata"]["readOnlyValue"] = json!(true);
        properties.insert(
            "contacts".to_string(),
            vec![
                prop("email", "Email", "string", "text", true, json!([])),
                prop("firstname", "First Name", "string", "text", true, json!([])),
                prop("favorite_color", "Favorite color", "enumeration", "select", false,
                     json!([{"label": "Red", "value": "red", "displayOrder": 0, "hidden": false},
                            {"label": "Blue", "value": "blue", "displayOrder": 1, "hidden": false}])),
                object_id,
            ],
        );
        Self {
            objects,
            associations: vec![
                (
                    "deals".into(),
                    1001,
                    "companies".into(),
                    301,
                    Some("Primary".into()),
                ),
                ("deals".into(), 1001, "contacts".into(), 201, None),
                (
                    "deals".into(),
                    1001,
                    "contacts".into(),
                    202,
                    Some("Decision maker".into()),
                ),
                // Deleted since: the batch read answers 207 for it.
                ("deals".into(), 1001, "contacts".into(), 299, None),
            ],
            pipelines,
            owners,
            properties,
            page_cap: 200,
            ignore_on_write: vec![],
            script: VecDeque::new(),
            requests: vec![],
            next_id: 5000,
            search_delay: None,
        }
    }
}

/// Default properties HubSpot returns per type.
fn defaults(ty: &str) -> &'static [&'static str] {
    match ty {
        "contacts" => &[
            "createdate",
            "email",
            "firstname",
            "hs_object_id",
            "lastmodifieddate",
            "lastname",
        ],
        "companies" => &[
            "createdate",
            "domain",
            "hs_lastmodifieddate",
            "hs_object_id",
            "name",
        ],
        "deals" => &[
            "amount",
            "closedate",
            "createdate",
            "dealname",
            "dealstage",
            "hs_lastmodifieddate",
            "hs_object_id",
            "pipeline",
        ],
        "tickets" => &[
            "content",
            "createdate",
            "hs_lastmodifieddate",
            "hs_object_id",
            "hs_pipeline",
            "hs_pipeline_stage",
            "subject",
        ],
        _ => &["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// "2026-03-31T12:00:00Z" or "2026-03-31" → epoch ms (UTC); numbers pass through.
fn as_number(v: &str) -> Option<f64> {
    if let Ok(n) = v.parse::<f64>() {
        return Some(n);
    }
    if v.len() >= 10 && v.as_bytes()[4] == b'-' && v.as_bytes()[7] == b'-' {
        let y: i64 = v[0..4].parse().ok()?;
        let m: i64 = v[5..7].parse().ok()?;
        let d: i64 = v[8..10].parse().ok()?;
        let mut ms = days_from_civil(y, m, d) * 86_400_000;
        if v.len() >= 19 {
            let h: i64 = v[11..13].parse().ok()?;
            let mi: i64 = v[14..16].parse().ok()?;
            let s: i64 = v[17..19].parse().ok()?;
            ms += (h * 3600 + mi * 60 + s) * 1000;
        }
        return Some(ms as f64);
    }
    None
}

fn cmp_values(a: &str, b: &str) -> std::cmp::Ordering {
    match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.to_lowercase().cmp(&b.to_lowercase()),
    }
}

fn error(status: u16, message: &str, category: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json;charset=utf-8")],
        json!({"status": "error", "message": message,
               "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf", "category": category})
        .to_string(),
    )
        .into_response()
}

fn ok(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json;charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

impl FakeState {
    fn render(&self, ty: &str, id: u64, o: &Obj, requested: &[String]) -> Value {
        let mut names: Vec<String> = defaults(ty).iter().map(|s| s.to_string()).collect();
        names.extend(requested.iter().cloned());
        let mut p = serde_json::Map::new();
        for n in names {
            let v = if n == "hs_object_id" {
                Some(id.to_string())
            } else {
                o.props.get(&n).cloned()
            };
            p.insert(n, v.map(Value::String).unwrap_or(Value::Null));
        }
        json!({"id": id.to_string(), "properties": p,
               "createdAt": "2025-06-01T10:00:00.000Z", "updatedAt": "2025-06-02T10:00:00.000Z",
               "archived": false})
    }

    fn value_of(o: &Obj, id: u64, name: &str) -> Option<String> {
        if name == "hs_object_id" {
            Some(id.to_string())
        } else {
            o.props.get(name).cloned().filter(|v| !v.is_empty())
        }
    }

    fn matches(o: &Obj, id: u64, f: &Value) -> bool {
        let name = f["propertyName"].as_str().unwrap_or_default();
        let op = f["operator"].as_str().unwrap_or_default();
        let v = Self::value_of(o, id, name);
        let target = f["value"].as_str().unwrap_or_default();
        use std::cmp::Ordering::*;
        match op {
            "HAS_PROPERTY" => v.is_some(),
            "NOT_HAS_PROPERTY" => v.is_none(),
            "EQ" => v.is_some_and(|v| cmp_values(&v, target) == Equal),
            "NEQ" => v.is_none_or(|v| cmp_values(&v, target) != Equal),
            "GT" => v.is_some_and(|v| cmp_values(&v, target) == Greater),
            "GTE" => v.is_some_and(|v| cmp_values(&v, target) != Less),
            "LT" => v.is_some_and(|v| cmp_values(&v, target) == Less),
            "LTE" => v.is_some_and(|v| cmp_values(&v, target) != Greater),
            "BETWEEN" => v.is_some_and(|v| {
                cmp_values(&v, target) != Less
                    && cmp_values(&v, f["highValue"].as_str().unwrap_or_default()) != Greater
            }),
            "IN" | "NOT_IN" => {
                let inside = v.is_some_and(|v| {
                    f["values"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|x| x.as_str().is_some_and(|x| cmp_values(&v, x) == Equal))
                });
                inside == (op == "IN")
            }
            "CONTAINS_TOKEN" => v.is_some_and(|v| {
                v.to_lowercase()
                    .contains(&target.trim_matches('*').to_lowercase())
            }),
            "NOT_CONTAINS_TOKEN" => v.is_none_or(|v| {
                !v.to_lowercase()
                    .contains(&target.trim_matches('*').to_lowercase())
            }),
            _ => false,
        }
    }

    /// Search through associations
    /// (<https://developers.hubspot.com/docs/guides/api/crm/search#search-through-associations>):
    /// the pseudo-property `associations.<type>` (singular: `company`, `contact`, `deal`,
    /// `ticket`) with `EQ` and a record id keeps records associated with that record (in either
    /// direction). `None` for any other property.
    fn associated(&self, ty: &str, id: u64, f: &Value) -> Option<bool> {
        let other = f["propertyName"].as_str()?.strip_prefix("associations.")?;
        let other = match other {
            "company" => "companies".to_string(),
            o => format!("{o}s"),
        };
        let Some(target) = f["value"].as_str().and_then(|v| v.parse::<u64>().ok()) else {
            return Some(false);
        };
        if f["operator"].as_str() != Some("EQ") {
            return Some(false);
        }
        Some(self.associations.iter().any(|(ft, fi, tt, ti, _)| {
            (ft == ty && *fi == id && *tt == other && *ti == target)
                || (ft == &other && *fi == target && tt == ty && *ti == id)
        }))
    }

    fn search(&self, ty: &str, body: &Value) -> Response {
        let limit = body["limit"].as_u64().unwrap_or(10) as usize;
        if limit > 200 {
            return error(400, "limit must be at most 200", "VALIDATION_ERROR");
        }
        let after: usize = match body.get("after") {
            Some(Value::String(s)) => match s.parse() {
                Ok(n) => n,
                Err(_) => return error(400, "invalid after", "VALIDATION_ERROR"),
            },
            _ => 0,
        };
        if after >= 10_000 {
            return error(
                400,
                "The maximum number of results you can page through is 10000",
                "VALIDATION_ERROR",
            );
        }
        let Some(all) = self.objects.get(ty) else {
            return error(
                400,
                &format!("Unable to infer object type from: {ty}"),
                "VALIDATION_ERROR",
            );
        };
        let query = body["query"].as_str().map(|q| q.to_lowercase());
        let groups: Vec<Value> = body["filterGroups"].as_array().cloned().unwrap_or_default();
        let mut hits: Vec<(u64, &Obj)> = all
            .iter()
            .filter(|(id, o)| {
                groups.is_empty()
                    || groups.iter().any(|g| {
                        g["filters"].as_array().into_iter().flatten().all(|f| {
                            self.associated(ty, **id, f)
                                .unwrap_or_else(|| Self::matches(o, **id, f))
                        })
                    })
            })
            .filter(|(_, o)| {
                query.as_ref().is_none_or(|q| {
                    o.props
                        .values()
                        .any(|v| v.to_lowercase().contains(q.as_str()))
                })
            })
            .map(|(id, o)| (*id, o))
            .collect();
        if let Some(sort) = body["sorts"].as_array().and_then(|s| s.first()) {
            let name = sort["propertyName"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let desc = sort["direction"].as_str() == Some("DESCENDING");
            hits.sort_by(|a, b| {
                let va = Self::value_of(a.1, a.0, &name).unwrap_or_default();
                let vb = Self::value_of(b.1, b.0, &name).unwrap_or_default();
                let o = cmp_values(&va, &vb).then(a.0.cmp(&b.0));
                if desc { o.reverse() } else { o }
            });
        }
        let requested: Vec<String> = body["properties"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect();
        let total = hits.len();
        let n = limit.min(self.page_cap);
        let page: Vec<Value> = hits
            .iter()
            .skip(after)
            .take(n)
            .map(|(id, o)| self.render(ty, *id, o, &requested))
            .collect();
        let end = after + page.len();
        let mut out = json!({"total": total, "results": page});
        if end < total {
            out["paging"] =
                json!({"next": {"after": end.to_string(), "link": format!("?after={end}")}});
        }
        ok(200, out)
    }

    fn write_props(&self, body: &Value) -> Result<BTreeMap<String, String>, Response> {
        let Some(map) = body["properties"].as_object() else {
            return Err(error(400, "properties is required", "VALIDATION_ERROR"));
        };
        let mut out = BTreeMap::new();
        for (k, v) in map {
            let Some(s) = v.as_str() else {
                return Err(error(
                    400,
                    &format!("Property values must be strings: {k}"),
                    "VALIDATION_ERROR",
                ));
            };
            if !self.ignore_on_write.contains(k) {
                out.insert(k.clone(), s.to_string());
            }
        }
        Ok(out)
    }

    fn handle(&mut self, method: &Method, path: &str, query: &str, body: &Value) -> Response {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let q: BTreeMap<String, String> = query
            .split('&')
            .filter(|s| !s.is_empty())
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), decode(v)))
            .collect();
        match (method.as_str(), parts.as_slice()) {
            ("GET", ["account-info", "v3", "details"]) => ok(
                200,
                json!({
                "portalId": 1234567, "accountType": "STANDARD", "timeZone": "US/Eastern",
                "companyCurrency": "USD", "additionalCurrencies": [], "utcOffset": "-05:00",
                "utcOffsetMilliseconds": -18000000, "uiDomain": "app.hubspot.com",
                "dataHostingLocation": "na1"}),
            ),
            ("POST", ["crm", "v3", "objects", ty, "search"]) => self.search(ty, body),
            ("POST", ["crm", "v3", "objects", ty, "batch", "read"]) => {
                let requested: Vec<String> = body["properties"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect();
                let mut results = vec![];
                let mut missing = vec![];
                for input in body["inputs"].as_array().into_iter().flatten() {
                    let id = input["id"].as_str().unwrap_or_default();
                    match id
                        .parse::<u64>()
                        .ok()
                        .and_then(|n| self.objects.get(*ty)?.get(&n).map(|o| (n, o)))
                    {
                        Some((n, o)) => results.push(self.render(ty, n, o, &requested)),
                        None => missing.push(id.to_string()),
                    }
                }
                let mut out = json!({"status": "COMPLETE", "results": results,
                    "startedAt": "2026-01-01T00:00:00Z", "completedAt": "2026-01-01T00:00:01Z"});
                if missing.is_empty() {
                    ok(200, out)
                } else {
                    out["numErrors"] = json!(1);
                    out["errors"] = json!([{"status": "error", "category": "OBJECT_NOT_FOUND",
                        "message": format!("Could not get some {ty} objects, they may be deleted or not exist. Check that ids are valid."),
                        "context": {"ids": missing}}]);
                    ok(207, out)
                }
            }
            ("GET", ["crm", "v3", "objects", ty, id]) => {
                let requested: Vec<String> = q
                    .get("properties")
                    .map(|p| p.split(',').map(str::to_string).collect())
                    .unwrap_or_default();
                let found = match q.get("idProperty") {
                    Some(prop) => self
                        .objects
                        .get(*ty)
                        .and_then(|m| {
                            m.iter().find(|(_, o)| {
                                o.props.get(prop).map(String::as_str) == Some(decode(id).as_str())
                            })
                        })
                        .map(|(n, o)| (*n, o)),
                    None => id
                        .parse::<u64>()
                        .ok()
                        .and_then(|n| self.objects.get(*ty)?.get(&n).map(|o| (n, o))),
                };
                match found {
                    Some((n, o)) => ok(200, self.render(ty, n, o, &requested)),
                    None => ok(
                        404,
                        json!({"status": "error", "message": "Object not found.  objectId are usually numeric.",
                        "correlationId": "2a1e1c2e-8b8f-4c1d-9b7e-1f1f1f1f1f1f", "context": {"id": [id]}, "category": "OBJECT_NOT_FOUND"}),
                    ),
                }
            }
            ("POST", ["crm", "v3", "objects", ty]) => {
                let p = match self.write_props(body) {
                    Ok(p) => p,
                    Err(r) => return r,
                };
                if *ty == "contacts"
                    && let Some(email) = p.get("email")
                {
                    if let Some((id, _)) = self.objects["contacts"]
                        .iter()
                        .find(|(_, o)| o.props.get("email") == Some(email))
                    {
                        return error(
                            409,
                            &format!("Contact already exists. Existing ID: {id}"),
                            "CONFLICT",
                        );
                    }
                }
                self.next_id += 1;
                let id = self.next_id;
                if *ty == "notes" {
                    for a in body["associations"].as_array().into_iter().flatten() {
                        let to_id: u64 = a["to"]["id"]
                            .as_str()
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(0);
                        let to_ty = match a["types"][0]["associationTypeId"].as_u64() {
                            Some(202) => "contacts",
                            Some(190) => "companies",
                            Some(214) => "deals",
                            Some(228) => "tickets",
                            _ => "?",
                        };
                        if self
                            .objects
                            .get(to_ty)
                            .is_none_or(|m| !m.contains_key(&to_id))
                        {
                            return error(
                                400,
                                &format!("No {to_ty} with ID {to_id} exist"),
                                "VALIDATION_ERROR",
                            );
                        }
                        self.associations
                            .push(("notes".into(), id, to_ty.into(), to_id, None));
                    }
                }
                let Some(m) = self.objects.get_mut(*ty) else {
                    return error(
                        400,
                        &format!("Unable to infer object type from: {ty}"),
                        "VALIDATION_ERROR",
                    );
                };
                m.insert(id, Obj { props: p });
                let o = m[&id].clone();
                ok(201, self.render(ty, id, &o, &[]))
            }
            ("PATCH", ["crm", "v3", "objects", ty, id]) => {
                let p = match self.write_props(body) {
                    Ok(p) => p,
                    Err(r) => return r,
                };
                let n: u64 = id.parse().unwrap_or(0);
                let Some(o) = self.objects.get_mut(*ty).and_then(|m| m.get_mut(&n)) else {
                    return ok(
                        404,
                        json!({"status": "error", "message": "Object not found.  objectId are usually numeric.",
                        "correlationId": "2a1e1c2e-8b8f-4c1d-9b7e-1f1f1f1f1f1f", "context": {"id": [id]}, "category": "OBJECT_NOT_FOUND"}),
                    );
                };
                o.props.extend(p);
                let o = o.clone();
                ok(200, self.render(ty, n, &o, &[]))
            }
            (
                "PUT",
                [
                    "crm",
                    "v4",
                    "objects",
                    from,
                    id,
                    "associations",
                    "default",
                    to,
                    to_id,
                ],
            ) => {
                let (Ok(a), Ok(b)) = (id.parse::<u64>(), to_id.parse::<u64>()) else {
                    return error(400, "ids must be numeric", "VALIDATION_ERROR");
                };
                let exists =
                    |t: &str, n: u64| self.objects.get(t).is_some_and(|m| m.contains_key(&n));
                if !exists(from, a) || !exists(to, b) {
                    return error(
                        404,
                        &format!("No {to} with ID {to_id} exist"),
                        "OBJECT_NOT_FOUND",
                    );
                }
                self.associations
                    .push((from.to_string(), a, to.to_string(), b, None));
                ok(
                    200,
                    json!({"status": "COMPLETE", "results": [
                    {"from": {"id": id}, "to": {"id": to_id}, "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}}
                ], "startedAt": "2026-01-01T00:00:00Z", "completedAt": "2026-01-01T00:00:00Z"}),
                )
            }
            ("GET", ["crm", "v4", "objects", from, id, "associations", to]) => {
                let n: u64 = id.parse().unwrap_or(0);
                let results: Vec<Value> = self
                    .associations
                    .iter()
                    .filter(|a| a.0 == *from && a.1 == n && a.2 == *to)
                    .map(|a| {
                        let mut types = vec![
                            json!({"category": "HUBSPOT_DEFINED", "typeId": 5, "label": null}),
                        ];
                        if let Some(l) = &a.4 {
                            types.push(
                                json!({"category": "USER_DEFINED", "typeId": 37, "label": l}),
                            );
                        }
                        json!({"toObjectId": a.3, "associationTypes": types})
                    })
                    .collect();
                ok(200, json!({"results": results}))
            }
            ("GET", ["crm", "v3", "pipelines", ty]) => match self.pipelines.get(*ty) {
                Some(p) => ok(200, json!({"results": p})),
                None => error(
                    400,
                    &format!("Unable to infer object type from: {ty}"),
                    "VALIDATION_ERROR",
                ),
            },
            ("GET", ["crm", "v3", "owners"]) => {
                let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
                let after: usize = q.get("after").and_then(|l| l.parse().ok()).unwrap_or(0);
                let list: Vec<&Value> = self
                    .owners
                    .iter()
                    .filter(|o| {
                        q.get("email")
                            .is_none_or(|e| o["email"].as_str() == Some(e.as_str()))
                    })
                    .collect();
                let page: Vec<Value> = list
                    .iter()
                    .skip(after)
                    .take(limit)
                    .map(|v| (*v).clone())
                    .collect();
                let end = after + page.len();
                let mut out = json!({"results": page});
                if end < list.len() {
                    out["paging"] = json!({"next": {"after": end.to_string(), "link": format!("?after={end}")}});
                }
                ok(200, out)
            }
            ("GET", ["crm", "v3", "properties", ty]) => match self.properties.get(*ty) {
                Some(p) => ok(200, json!({"results": p})),
                None => ok(200, json!({"results": []})),
            },
            _ => error(
                404,
                &format!("no route for {method} {path}"),
                "OBJECT_NOT_FOUND",
            ),
        }
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sets the flag when a request is dropped before it finished (the client went away).
struct DropGuard(Arc<AtomicBool>, bool);
impl Drop for DropGuard {
    fn drop(&mut self) {
        if !self.1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<FakeState>>,
    aborted: Arc<AtomicBool>,
    searches: Arc<AtomicUsize>,
}

async fn dispatch(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or_default().to_string();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let json_body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return error(400, "Invalid input JSON", "VALIDATION_ERROR"),
        }
    };
    let route = format!("{method} {path}");
    let (scripted, delay) = {
        let mut st = s.state.lock().unwrap();
        st.requests.push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            body: json_body.clone(),
            authorization: auth.clone(),
        });
        let pos = st.script.iter().position(|x| x.route == route);
        let scripted = pos.and_then(|p| st.script.remove(p));
        let mut delay = None;
        if method == Method::POST && path.ends_with("/search") {
            let n = s.searches.fetch_add(1, Ordering::SeqCst);
            if let Some((from, d)) = st.search_delay
                && n >= from
            {
                delay = Some(d);
            }
        }
        (scripted, delay)
    };
    if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return error(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            "INVALID_AUTHENTICATION",
        );
    }
    if let Some(sc) = scripted {
        let mut r = (StatusCode::from_u16(sc.status).unwrap(), sc.body).into_response();
        for (k, v) in sc.headers {
            r.headers_mut().insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        return r;
    }
    let mut guard = DropGuard(s.aborted.clone(), false);
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    guard.1 = true;
    let mut st = s.state.lock().unwrap();
    st.handle(&method, &path, &query, &json_body)
}

pub struct Fake {
    pub url: String,
    shared: Shared,
    pub aborted: Arc<AtomicBool>,
}

impl Fake {
    pub async fn start(state: FakeState) -> Self {
        let aborted = Arc::new(AtomicBool::new(false));
        let shared = Shared {
            state: Arc::new(Mutex::new(state)),
            aborted: aborted.clone(),
            searches: Arc::new(AtomicUsize::new(0)),
        };
        let app = Router::new().fallback(dispatch).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}"),
            shared,
            aborted,
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.shared.state.lock().unwrap())
    }

    pub fn script(&self, route: &str, status: u16, headers: &[(&str, &str)], body: &str) {
        self.with(|s| {
            s.script.push_back(Scripted {
                route: route.to_string(),
                status,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body: body.to_string(),
            })
        });
    }

    /// Requests whose "METHOD path" starts with `prefix`.
    pub fn requests(&self, prefix: &str) -> Vec<Recorded> {
        self.with(|s| {
            s.requests
                .iter()
                .filter(|r| format!("{} {}", r.method, r.path).starts_with(prefix))
                .cloned()
                .collect()
        })
    }

    pub fn config(&self) -> HubSpotConfig {
        let mut c = HubSpotConfig::new(self.url.clone(), Some(SecretString::from(TOKEN)));
        c.retry = RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(200),
            max_total: Duration::from_secs(10),
        };
        c.timeout = Duration::from_secs(10);
        // Unpaced: the pacing has its own test.
        c.search_per_second = 0;
        c
    }

    pub async fn client(&self) -> Client {
        self.client_with(self.config()).await
    }

    pub async fn client_with(&self, config: HubSpotConfig) -> Client {
        mcp_core::testing::in_process(HubSpotServer::new(config).unwrap())
            .await
            .unwrap()
    }
}

pub fn call(name: &str, args: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name.to_string()).with_arguments(args.as_object().unwrap().clone())
}

pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

pub async fn ok_call(client: &Client, name: &str, args: Value) -> Value {
    let r = client.call_tool(call(name, args)).await.unwrap();
    assert_ne!(r.is_error, Some(true), "{name} failed: {}", text(&r));
    r.structured_content.expect("structured content")
}

pub async fn err_call(client: &Client, name: &str, args: Value) -> String {
    let r = client.call_tool(call(name, args)).await.unwrap();
    assert_eq!(r.is_error, Some(true), "{name} should fail: {}", text(&r));
    text(&r)
}

pub fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}
