//! object_create, object_update, note_create. Every write reads the record back and reports
//! each requested property whose stored value differs (HubSpot drops unknown options, read-only
//! and calculated properties, and normalises some values).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use mcp_core::ToolError;
use reqwest::Method;
use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{object_type, record_id};
use crate::HubSpotServer;
use crate::client::seg;
use crate::model::{ObjectOut, WList, WObject, de_prop_values, parse, parse_date};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateParams {
    /// contacts, companies, deals, tickets, or a custom object type id (2-…)
    pub object_type: String,
    /// Property values by internal name, e.g. {"email": "a@b.co", "firstname": "Ada"} or
    /// {"dealname": "Acme renewal", "amount": "5000", "dealstage": "appointmentscheduled", "pipeline": "default"}
    #[serde(deserialize_with = "de_prop_values")]
    #[schemars(with = "BTreeMap<String, String>")]
    pub properties: BTreeMap<String, String>,
    /// Records to associate the new one with (default association), e.g. a deal's company
    #[serde(default)]
    pub associate_with: Option<Vec<AssociateWith>>,
}

/// A record to associate with.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AssociateWith {
    /// contacts, companies, deals, tickets, or a custom object type id (2-…)
    pub object_type: String,
    /// The record id
    pub id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateParams {
    /// contacts, companies, deals, tickets, or a custom object type id (2-…)
    pub object_type: String,
    /// The record id
    pub id: String,
    /// Property values to set by internal name; "" clears a property
    #[serde(deserialize_with = "de_prop_values")]
    #[schemars(with = "BTreeMap<String, String>")]
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoteParams {
    /// The record the note is about: contacts, companies, deals or tickets
    pub object_type: String,
    /// The record id
    pub id: String,
    /// The note text (HubSpot allows up to 65,536 characters; simple HTML is kept)
    pub body: String,
    /// When the note happened: epoch milliseconds or ISO 8601 (default: now)
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Owner id shown as the note's creator (see owner_list)
    #[serde(default)]
    pub owner_id: Option<String>,
}

/// A requested value that HubSpot did not store as asked.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NotApplied {
    pub property: String,
    pub requested: String,
    /// What HubSpot stored instead (absent: the property is unset)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct WriteOut {
    /// The record as HubSpot stored it (read back after the write), with the written properties
    pub object: ObjectOut,
    /// Requested properties whose stored value differs; empty when everything took
    pub not_applied: Vec<NotApplied>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NoteOut {
    /// The note as HubSpot stored it
    pub note: ObjectOut,
    /// The record the note is attached to
    pub object_type: String,
    pub object_id: String,
    /// Whether HubSpot shows the note associated with the record (read back)
    pub associated: bool,
    /// Requested values that did not take
    pub not_applied: Vec<NotApplied>,
}

/// HubSpot-defined association type ids from a note to each standard type.
fn note_association_type(to: &str) -> Option<u32> {
    match to {
        "contacts" => Some(202),
        "companies" => Some(190),
        "deals" => Some(214),
        "tickets" => Some(228),
        _ => None,
    }
}

/// Whether an association result points at `id`.
fn id_matches(r: &Value, id: &str) -> bool {
    match r.get("toObjectId") {
        Some(Value::String(s)) => s == id,
        Some(Value::Number(n)) => n.to_string() == id,
        _ => false,
    }
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether HubSpot stored `requested` (allowing for its normalisations: case of emails and
/// enumerations, number formatting, dates stored with a time part, HTML around note bodies).
pub(crate) fn same_value(requested: &str, stored: Option<&str>) -> bool {
    let r = requested.trim();
    let Some(s) = stored.map(str::trim) else {
        return r.is_empty();
    };
    if r == s || r.eq_ignore_ascii_case(s) {
        return true;
    }
    if let (Ok(a), Ok(b)) = (r.parse::<f64>(), s.parse::<f64>()) {
        return (a - b).abs() < 1e-9;
    }
    if r.len() == 10
        && let (Some(a), Some(b)) = (parse_date(r), parse_date(s))
    {
        return a == b;
    }
    let (a, b) = (strip_tags(r), strip_tags(s));
    !a.is_empty() && a == b
}

fn not_applied(requested: &BTreeMap<String, String>, stored: &WObject) -> Vec<NotApplied> {
    requested
        .iter()
        .filter(|(k, v)| !same_value(v, stored.properties.get(*k).map(String::as_str)))
        .map(|(k, v)| NotApplied {
            property: k.clone(),
            requested: v.clone(),
            stored: stored.properties.get(k).cloned(),
        })
        .collect()
}

fn check_properties(p: &BTreeMap<String, String>) -> Result<(), ToolError> {
    if p.is_empty() {
        return Err(ToolError::InvalidInput(
            "properties is empty; give at least one property (names from property_list)".into(),
        ));
    }
    if let Some(k) = p.keys().find(|k| k.trim().is_empty()) {
        return Err(ToolError::InvalidInput(format!(
            "property name {k:?} is empty"
        )));
    }
    Ok(())
}

fn now_ms() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
        .to_string()
}

impl HubSpotServer {
    async fn read_back(
        &self,
        ty: &str,
        id: &str,
        requested: &BTreeMap<String, String>,
        ct: &CancellationToken,
    ) -> Result<WriteOut, ToolError> {
        let keys: Vec<String> = requested.keys().cloned().collect();
        let stored = self.fetch_object(ty, id, None, &keys, ct).await?;
        let not_applied = not_applied(requested, &stored);
        Ok(WriteOut {
            object: stored.into(),
            not_applied,
        })
    }
}

#[tool_router(router = write_router, vis = "pub(crate)")]
impl HubSpotServer {
    /// Create a contact, company, deal, ticket or custom object record, optionally associated
    /// with existing records; returns it as HubSpot stored it and lists anything that did not
    /// take.
    #[tool(
        title = "Create a CRM record",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn object_create(
        &self,
        Parameters(p): Parameters<CreateParams>,
        ct: CancellationToken,
    ) -> Result<Json<WriteOut>, ToolError> {
        let ty = object_type(&p.object_type)?;
        check_properties(&p.properties)?;
        let targets: Vec<(String, String)> = p
            .associate_with
            .iter()
            .flatten()
            .map(|a| Ok((object_type(&a.object_type)?, record_id(&a.id, false)?)))
            .collect::<Result<_, ToolError>>()?;
        let path = format!("/crm/v3/objects/{}", seg(&ty));
        let a = self
            .client()
            .write(
                Method::POST,
                &path,
                Some(&json!({ "properties": p.properties })),
                &ct,
            )
            .await?;
        let created: WObject = parse(a.body, "created record")?;
        let mut failed: Vec<NotApplied> = Vec::new();
        for (to, to_id) in &targets {
            // v4 "default" association: no association type id to know.
            let path = format!(
                "/crm/v4/objects/{}/{}/associations/default/{}/{}",
                seg(&ty),
                seg(&created.id),
                seg(to),
                seg(to_id)
            );
            if let Err(e) = self.client().write(Method::PUT, &path, None, &ct).await {
                tracing::debug!(error = %e, "association failed");
                failed.push(NotApplied {
                    property: format!("association:{to}"),
                    requested: to_id.clone(),
                    stored: Some(format!("not associated: {e}")),
                });
            }
        }
        let mut out = self.read_back(&ty, &created.id, &p.properties, &ct).await?;
        // Read the associations back too.
        for (to, to_id) in &targets {
            if failed
                .iter()
                .any(|f| f.property == format!("association:{to}") && f.requested == *to_id)
            {
                continue;
            }
            let path = format!(
                "/crm/v4/objects/{}/{}/associations/{}",
                seg(&ty),
                seg(&created.id),
                seg(to)
            );
            let a = self
                .client()
                .get(&path, &[("limit", "500".into())], &ct)
                .await?;
            let list: WList<Value> = parse(a.body, "associations")?;
            if !list.results.iter().any(|r| id_matches(r, to_id)) {
                failed.push(NotApplied {
                    property: format!("association:{to}"),
                    requested: to_id.clone(),
                    stored: None,
                });
            }
        }
        out.not_applied.extend(failed);
        Ok(Json(out))
    }

    /// Update properties of a contact, company, deal, ticket or custom object record; returns it
    /// as HubSpot stored it and lists any property that did not take.
    #[tool(
        title = "Update a CRM record",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn object_update(
        &self,
        Parameters(p): Parameters<UpdateParams>,
        ct: CancellationToken,
    ) -> Result<Json<WriteOut>, ToolError> {
        let ty = object_type(&p.object_type)?;
        let id = record_id(&p.id, false)?;
        check_properties(&p.properties)?;
        let path = format!("/crm/v3/objects/{}/{}", seg(&ty), seg(&id));
        match self
            .client()
            .write(
                Method::PATCH,
                &path,
                Some(&json!({ "properties": p.properties })),
                &ct,
            )
            .await
        {
            Ok(_) => {}
            Err(ToolError::NotFound(m)) => {
                return Err(ToolError::NotFound(format!(
                    "{ty} {id} not found ({m}); nothing was changed"
                )));
            }
            Err(e) => return Err(e),
        }
        Ok(Json(self.read_back(&ty, &id, &p.properties, &ct).await?))
    }

    /// Add a note to a contact, company, deal or ticket (shown on its timeline); returns the
    /// note as stored and whether HubSpot associated it.
    #[tool(
        title = "Add a note to a record",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn note_create(
        &self,
        Parameters(p): Parameters<NoteParams>,
        ct: CancellationToken,
    ) -> Result<Json<NoteOut>, ToolError> {
        let ty = object_type(&p.object_type)?;
        let Some(type_id) = note_association_type(&ty) else {
            return Err(ToolError::InvalidInput(format!(
                "notes attach to contacts, companies, deals or tickets, not {ty}"
            )));
        };
        let id = record_id(&p.id, false)?;
        if p.body.trim().is_empty() {
            return Err(ToolError::InvalidInput("body is empty".into()));
        }
        if p.body.chars().count() > 65_536 {
            return Err(ToolError::InvalidInput(
                "body is over HubSpot's 65,536 characters".into(),
            ));
        }
        let mut props = BTreeMap::new();
        props.insert("hs_note_body".to_string(), p.body.clone());
        props.insert(
            "hs_timestamp".to_string(),
            p.timestamp
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .unwrap_or_else(now_ms),
        );
        if let Some(o) = p
            .owner_id
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
        {
            props.insert("hubspot_owner_id".to_string(), o.to_string());
        }
        let body = json!({
            "properties": props,
            "associations": [{
                "to": {"id": id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
            }],
        });
        let a = match self
            .client()
            .write(Method::POST, "/crm/v3/objects/notes", Some(&body), &ct)
            .await
        {
            Ok(a) => a,
            Err(ToolError::NotFound(m)) => {
                return Err(ToolError::NotFound(format!(
                    "{ty} {id} not found ({m}); no note was created"
                )));
            }
            Err(e) => return Err(e),
        };
        let created: WObject = parse(a.body, "created note")?;
        let keys: Vec<String> = props.keys().cloned().collect();
        let stored = self
            .fetch_object("notes", &created.id, None, &keys, &ct)
            .await?;
        // hs_timestamp is compared as an instant only when given as epoch ms both ways.
        let mut requested = props.clone();
        if stored
            .properties
            .get("hs_timestamp")
            .is_some_and(|s| s.parse::<u64>().is_err())
        {
            requested.remove("hs_timestamp");
        }
        let not_applied = not_applied(&requested, &stored);
        let path = format!(
            "/crm/v4/objects/notes/{}/associations/{}",
            seg(&created.id),
            seg(&ty)
        );
        let assoc = self.client().get(&path, &[], &ct).await?;
        let list: WList<Value> = parse(assoc.body, "note associations")?;
        let associated = list.results.iter().any(|r| id_matches(r, &id));
        Ok(Json(NoteOut {
            note: stored.into(),
            object_type: ty,
            object_id: id,
            associated,
            not_applied,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisations_count_as_the_same_value() {
        assert!(same_value("5000", Some("5000.00")));
        assert!(same_value("A@B.co", Some("a@b.co")));
        assert!(same_value("2026-03-31", Some("2026-03-31T00:00:00Z")));
        assert!(same_value("hello  world", Some("<div>hello world</div>")));
        assert!(same_value("", None));
        assert!(!same_value("x", None));
        assert!(!same_value("qualifiedtobuy", Some("appointmentscheduled")));
    }
}
