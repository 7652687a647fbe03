//! object_search and object_get.

use std::collections::{BTreeMap, BTreeSet};

use mcp_core::{
    Budget, ToolError,
    budget::{decode_cursor, encode_cursor, json_chars},
};
use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{limit_of, object_type, record_id};
use crate::HubSpotServer;
use crate::client::seg;
use crate::model::{
    ObjectOut, WList, WObject, cut_long_values, de_opt_lenient, de_opt_lenient_list, parse,
};

/// HubSpot's largest search page.
pub const SEARCH_PAGE_MAX: usize = 200;
/// HubSpot returns at most this many results of one search query.
pub const SEARCH_TOTAL_MAX: u64 = 10_000;
/// Default results per page of object_search.
pub const SEARCH_LIMIT: usize = 20;
/// Associations listed per associated type in object_get.
pub const ASSOC_LIMIT: usize = 100;

/// A search operator, as HubSpot names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operator {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Between,
    In,
    NotIn,
    HasProperty,
    NotHasProperty,
    ContainsToken,
    NotContainsToken,
}

/// One condition on a property.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct FilterIn {
    /// Internal property name, e.g. dealstage, hubspot_owner_id, closedate, email, amount
    pub property: String,
    /// EQ, NEQ, LT, LTE, GT, GTE, BETWEEN (value..high_value), IN / NOT_IN (values),
    /// HAS_PROPERTY / NOT_HAS_PROPERTY (no value), CONTAINS_TOKEN / NOT_CONTAINS_TOKEN (value, * wildcards)
    pub operator: Operator,
    /// The value (dates as YYYY-MM-DD or epoch milliseconds)
    #[serde(default, deserialize_with = "de_opt_lenient")]
    pub value: Option<String>,
    /// Upper bound for BETWEEN
    #[serde(default, deserialize_with = "de_opt_lenient")]
    pub high_value: Option<String>,
    /// Values for IN / NOT_IN
    #[serde(default, deserialize_with = "de_opt_lenient_list")]
    pub values: Option<Vec<String>>,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Asc,
    Desc,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchParams {
    /// contacts, companies, deals, tickets, or a custom object type id (2-…)
    pub object_type: String,
    /// Free text matched against the type's default searchable properties (names, email, domain, phone, deal name …)
    #[serde(default)]
    pub query: Option<String>,
    /// Conditions that must all hold (AND), at most 10
    #[serde(default)]
    pub filters: Option<Vec<FilterIn>>,
    /// Property to sort by, e.g. createdate, closedate, amount (default: HubSpot's order)
    #[serde(default)]
    pub sort_by: Option<String>,
    /// asc or desc (default desc)
    #[serde(default)]
    pub sort_direction: Option<Direction>,
    /// Properties to return (default: HubSpot's default properties of the type)
    #[serde(default)]
    pub properties: Option<Vec<String>>,
    /// Results per page (default 20, max 200)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor from the previous page
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchOut {
    pub items: Vec<ObjectOut>,
    /// Pass back as `cursor` for the next page; absent at the end
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// More results exist than this page shows
    pub truncated: bool,
    /// Records matching the query (as HubSpot counts them)
    pub total: u64,
    /// Limits that were hit (HubSpot's 10,000-result cap, cut values)
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Where a page starts: HubSpot's `after`, how many results after it were already shown, and a
/// fingerprint of the search it belongs to.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Pos {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<String>,
    #[serde(default)]
    s: usize,
    #[serde(default)]
    q: u64,
}

/// FNV-1a of the search's JSON (without paging fields): a cursor only continues its own search.
fn fingerprint(object_type: &str, body: &Value) -> u64 {
    let text = format!("{object_type}|{body}");
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Convert a date-looking filter value (YYYY-MM-DD) to epoch milliseconds, which every HubSpot
/// date property accepts; other values pass unchanged.
fn filter_value(v: &str) -> String {
    let t = v.trim();
    if t.len() == 10
        && let Some(days) = crate::model::parse_date(t)
    {
        return (days * crate::model::DAY_MS).to_string();
    }
    t.to_string()
}

/// The `filters` array of one HubSpot filter group.
pub(crate) fn filters_json(filters: &[FilterIn]) -> Result<Vec<Value>, ToolError> {
    if filters.len() > 10 {
        return Err(ToolError::InvalidInput(
            "at most 10 filters (HubSpot's limit per filter group)".into(),
        ));
    }
    filters
        .iter()
        .map(|f| {
            let name = f.property.trim();
            if name.is_empty() {
                return Err(ToolError::InvalidInput("a filter has no property".into()));
            }
            let mut out = json!({"propertyName": name, "operator": f.operator});
            let need = |v: &Option<String>, what: &str| {
                v.as_deref()
                    .map(filter_value)
                    .ok_or_else(|| ToolError::InvalidInput(format!("filter on {name}: {what}")))
            };
            match f.operator {
                Operator::HasProperty | Operator::NotHasProperty => {}
                Operator::Between => {
                    out["value"] = json!(need(&f.value, "BETWEEN needs value and high_value")?);
                    out["highValue"] =
                        json!(need(&f.high_value, "BETWEEN needs value and high_value")?);
                }
                Operator::In | Operator::NotIn => {
                    let values = f.values.clone().unwrap_or_default();
                    if values.is_empty() {
                        return Err(ToolError::InvalidInput(format!(
                            "filter on {name}: IN / NOT_IN need values"
                        )));
                    }
                    out["values"] =
                        json!(values.iter().map(|v| filter_value(v)).collect::<Vec<_>>());
                }
                _ => out["value"] = json!(need(&f.value, "this operator needs a value")?),
            }
            Ok(out)
        })
        .collect()
}

fn clean_list(list: &Option<Vec<String>>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    list.iter()
        .flatten()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty() && seen.insert(p.clone()))
        .collect()
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetParams {
    /// contacts, companies, deals, tickets, or a custom object type id (2-…)
    pub object_type: String,
    /// The record id (or the value of id_property, e.g. an email)
    pub id: String,
    /// Look the record up by this unique property instead of its id (e.g. email for contacts)
    #[serde(default)]
    pub id_property: Option<String>,
    /// Properties to return (default: HubSpot's default properties of the type)
    #[serde(default)]
    pub properties: Option<Vec<String>>,
    /// Associated types to list (default: the other standard types among contacts, companies, deals, tickets; [] for none)
    #[serde(default)]
    pub associations: Option<Vec<String>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AssociatedOut {
    pub id: String,
    /// Display name (contact name and email, company name, deal name, ticket subject)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Association labels (e.g. "Primary")
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AssociationsOut {
    pub object_type: String,
    pub items: Vec<AssociatedOut>,
    /// More associations exist than listed (first 100 shown)
    pub more: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct GetOut {
    pub object: ObjectOut,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub associations: Vec<AssociationsOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WAssocType {
    #[serde(default)]
    label: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WAssoc {
    to_object_id: Value,
    #[serde(default)]
    association_types: Vec<WAssocType>,
}

/// Properties that name a record of a standard type, for association lists.
fn name_properties(object_type: &str) -> &'static [&'static str] {
    match object_type {
        "contacts" => &["firstname", "lastname", "email"],
        "companies" => &["name", "domain"],
        "deals" => &["dealname"],
        "tickets" => &["subject"],
        _ => &[],
    }
}

fn display_name(object_type: &str, p: &BTreeMap<String, String>) -> Option<String> {
    let g = |k: &str| p.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    match object_type {
        "contacts" => {
            let name = [g("firstname"), g("lastname")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            match (name.is_empty(), g("email")) {
                (false, Some(e)) => Some(format!("{name} <{e}>")),
                (false, None) => Some(name),
                (true, Some(e)) => Some(e.to_string()),
                (true, None) => None,
            }
        }
        "companies" => match (g("name"), g("domain")) {
            (Some(n), Some(d)) => Some(format!("{n} ({d})")),
            (Some(n), None) => Some(n.to_string()),
            (None, d) => d.map(str::to_string),
        },
        "deals" => g("dealname").map(str::to_string),
        "tickets" => g("subject").map(str::to_string),
        _ => None,
    }
}

impl HubSpotServer {
    /// GET one object; a 404 becomes "<type> <id> not found".
    pub(crate) async fn fetch_object(
        &self,
        object_type: &str,
        id: &str,
        id_property: Option<&str>,
        properties: &[String],
        ct: &CancellationToken,
    ) -> Result<WObject, ToolError> {
        let mut query: Vec<(&str, String)> = vec![("archived", "false".into())];
        if !properties.is_empty() {
            query.push(("properties", properties.join(",")));
        }
        if let Some(p) = id_property {
            query.push(("idProperty", p.to_string()));
        }
        let path = format!("/crm/v3/objects/{}/{}", seg(object_type), seg(id));
        match self.client().get(&path, &query, ct).await {
            Ok(a) => parse(a.body, object_type),
            Err(ToolError::NotFound(m)) => Err(ToolError::NotFound(format!(
                "{object_type} {id} not found ({m}); find the id with object_search"
            ))),
            Err(e) => Err(e),
        }
    }

    /// Associated records of one type (first page of the v4 associations API), with names from
    /// a batch read (a 207 lists the ids it could not read).
    async fn associations(
        &self,
        from: &str,
        id: &str,
        to: &str,
        notes: &mut Vec<String>,
        ct: &CancellationToken,
    ) -> Result<AssociationsOut, ToolError> {
        let path = format!(
            "/crm/v4/objects/{}/{}/associations/{}",
            seg(from),
            seg(id),
            seg(to)
        );
        let a = self
            .client()
            .get(&path, &[("limit", ASSOC_LIMIT.to_string())], ct)
            .await?;
        let list: WList<WAssoc> = parse(a.body, "associations")?;
        let more = list.next_after().is_some();
        let mut items: Vec<AssociatedOut> = Vec::new();
        for r in &list.results {
            let id = match &r.to_object_id {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            let labels = r
                .association_types
                .iter()
                .filter_map(|t| t.label.clone())
                .filter(|l| !l.is_empty())
                .collect();
            items.push(AssociatedOut {
                id,
                name: None,
                labels,
            });
        }
        let props = name_properties(to);
        if !items.is_empty() && !props.is_empty() {
            let body = json!({
                "inputs": items.iter().map(|i| json!({"id": i.id})).collect::<Vec<_>>(),
                "properties": props,
            });
            let path = format!("/crm/v3/objects/{}/batch/read", seg(to));
            let a = self.client().post_read(&path, &body, ct).await?;
            let status = a.status;
            let read: WList<WObject> = parse(a.body.clone(), "batch read")?;
            let names: BTreeMap<String, Option<String>> = read
                .results
                .iter()
                .map(|o| (o.id.clone(), display_name(to, &o.properties)))
                .collect();
            for i in &mut items {
                i.name = names.get(&i.id).cloned().flatten();
            }
            if status == 207 {
                let missing: Vec<String> = a
                    .body
                    .get("errors")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.pointer("/context/ids").and_then(Value::as_array))
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect();
                notes.push(format!(
                    "HubSpot could not read {} associated {to} record(s){}: listed without a name",
                    missing.len().max(items.len().saturating_sub(names.len())),
                    if missing.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", missing.join(", "))
                    }
                ));
            }
        }
        Ok(AssociationsOut {
            object_type: to.to_string(),
            items,
            more,
        })
    }
}

#[tool_router(router = object_router, vis = "pub(crate)")]
impl HubSpotServer {
    /// Search contacts, companies, deals, tickets or custom objects: free-text `query`, property
    /// filters (AND), sort, chosen properties. HubSpot caps one query at 10,000 results: narrow
    /// the filters (e.g. a createdate range) to reach beyond.
    #[tool(
        title = "Search CRM records",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn object_search(
        &self,
        Parameters(p): Parameters<SearchParams>,
        ct: CancellationToken,
    ) -> Result<Json<SearchOut>, ToolError> {
        let ty = object_type(&p.object_type)?;
        let limit = limit_of(p.limit, SEARCH_LIMIT, SEARCH_PAGE_MAX)?;
        let pos: Pos = match p.cursor.as_deref().filter(|c| !c.trim().is_empty()) {
            Some(c) => decode_cursor("object_search", c)?,
            None => Pos::default(),
        };
        let mut body = json!({});
        if let Some(q) = p.query.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            body["query"] = json!(q);
        }
        let filters = filters_json(p.filters.as_deref().unwrap_or_default())?;
        if !filters.is_empty() {
            body["filterGroups"] = json!([{ "filters": filters }]);
        }
        if let Some(s) = p
            .sort_by
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let dir = match p.sort_direction {
                Some(Direction::Asc) => "ASCENDING",
                _ => "DESCENDING",
            };
            body["sorts"] = json!([{ "propertyName": s, "direction": dir }]);
        }
        let props = clean_list(&p.properties);
        if !props.is_empty() {
            body["properties"] = json!(props);
        }
        let fp = fingerprint(&ty, &body);
        if p.cursor.as_deref().is_some_and(|c| !c.trim().is_empty()) && pos.q != fp {
            return Err(ToolError::InvalidInput(
                "this cursor belongs to a different search: repeat the same object_type, query, filters, sort and properties with it, or omit cursor to start over".into(),
            ));
        }
        body["limit"] = json!((pos.s + limit).min(SEARCH_PAGE_MAX));
        if let Some(a) = &pos.a {
            body["after"] = json!(a);
        }
        let path = format!("/crm/v3/objects/{}/search", seg(&ty));
        let answer = self.client().post_read(&path, &body, &ct).await?;
        let list: WList<WObject> = parse(answer.body, "search results")?;
        let fetched = list.results.len();
        let total = list.total.unwrap_or(fetched as u64);
        let next_after = list.next_after();
        let budget = self.budget();
        let mut notes = Vec::new();
        let mut cut = false;
        let items: Vec<ObjectOut> = list
            .results
            .into_iter()
            .skip(pos.s)
            .map(|o| {
                let mut o = ObjectOut::from(o);
                if json_chars(&o) > budget.item_chars() / 2 {
                    cut |= cut_long_values(&mut o.properties, 1_000);
                }
                o
            })
            .collect();
        if cut {
            notes.push(
                "long property values were cut to 1000 characters; read the record with object_get for more".into(),
            );
        }
        let packed = Budget::pack(budget.item_chars(), limit, items);
        let shown = packed.items.len();
        let mut next = if pos.s + shown < fetched {
            Some(Pos {
                a: pos.a.clone(),
                s: pos.s + shown,
                q: fp,
            })
        } else {
            next_after.map(|a| Pos {
                a: Some(a),
                s: 0,
                q: fp,
            })
        };
        // HubSpot refuses to page past 10,000 results of one query.
        let offset_of_next = next
            .as_ref()
            .and_then(|n| n.a.as_deref())
            .and_then(|a| a.parse::<u64>().ok());
        if offset_of_next.is_some_and(|o| o >= SEARCH_TOTAL_MAX) {
            next = None;
            notes.push(format!(
                "reached HubSpot's limit of {SEARCH_TOTAL_MAX} results per search ({total} match): narrow the filters (e.g. a createdate or closedate range) to see the rest"
            ));
        } else if total > SEARCH_TOTAL_MAX {
            notes.push(format!(
                "{total} records match but HubSpot returns at most {SEARCH_TOTAL_MAX} per search: narrow the filters to reach them all"
            ));
        }
        let next_cursor = next.map(|n| encode_cursor("object_search", &n));
        Ok(Json(SearchOut {
            items: packed.items,
            truncated: next_cursor.is_some(),
            next_cursor,
            total,
            notes,
        }))
    }

    /// Read one record by id (or by a unique property such as email) with chosen properties and
    /// its associated contacts, companies, deals and tickets (ids, names, labels).
    #[tool(
        title = "Get a CRM record",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn object_get(
        &self,
        Parameters(p): Parameters<GetParams>,
        ct: CancellationToken,
    ) -> Result<Json<GetOut>, ToolError> {
        let ty = object_type(&p.object_type)?;
        let id_property = p
            .id_property
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let id = record_id(&p.id, id_property.is_some())?;
        let props = clean_list(&p.properties);
        let object = self
            .fetch_object(&ty, &id, id_property, &props, &ct)
            .await?;
        let targets: Vec<String> = match &p.associations {
            Some(list) => list
                .iter()
                .filter(|s| !s.trim().is_empty())
                .map(|s| object_type(s))
                .collect::<Result<_, _>>()?,
            None => ["contacts", "companies", "deals", "tickets"]
                .into_iter()
                .filter(|t| *t != ty)
                .map(str::to_string)
                .collect(),
        };
        let mut notes = Vec::new();
        let mut associations = Vec::new();
        for to in &targets {
            let group = self
                .associations(&ty, &object.id, to, &mut notes, &ct)
                .await?;
            if !group.items.is_empty() {
                associations.push(group);
            }
        }
        let mut object = ObjectOut::from(object);
        let budget = self.budget();
        if json_chars(&object) + json_chars(&associations) > budget.item_chars() {
            let each = (budget.item_chars() / (object.properties.len().max(1) * 2)).max(200);
            if cut_long_values(&mut object.properties, each) {
                notes.push(format!(
                    "long property values were cut to {each} characters; ask for fewer properties to read them whole"
                ));
            }
            let mut trimmed = false;
            while json_chars(&object) + json_chars(&associations) > budget.item_chars() {
                let Some(largest) = associations.iter_mut().max_by_key(|g| g.items.len()) else {
                    break;
                };
                if largest.items.len() <= 1 {
                    break;
                }
                let keep = largest.items.len() / 2;
                largest.items.truncate(keep);
                largest.more = true;
                trimmed = true;
            }
            if trimmed {
                notes.push("association lists were shortened to fit the response budget".into());
            }
        }
        Ok(Json(GetOut {
            object,
            associations,
            notes,
        }))
    }
}
