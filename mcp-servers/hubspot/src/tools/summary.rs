//! pipeline_summary: deals grouped by pipeline and stage with count, total amount and weighted
//! amount (amount × the stage's `metadata.probability`), over every matching deal.
//!
//! HubSpot's search stops at 10,000 results per query, so the summary does not page with
//! `after`: it sorts by `hs_object_id` ascending and asks each next page for `hs_object_id`
//! greater than the last one seen (keyset paging), which reaches every deal however many match,
//! 200 per request. Progress is sent after each page when the client gave a progress token, and
//! the loop stops as soon as the call is cancelled.

use std::collections::BTreeMap;

use mcp_core::ToolError;
use rmcp::{
    Json, RoleServer, handler::server::wrapper::Parameters, model::ProgressNotificationParam,
    service::RequestContext, tool, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::HubSpotServer;
use crate::client::{cancelled, malformed};
use crate::model::{DAY_MS, WList, WObject, cents, parse, parse_date, parse_number};

/// Deals per search request (HubSpot's maximum).
const PAGE: usize = 200;
/// A bound on the loop: 2,000 pages = 400,000 deals.
const MAX_PAGES: usize = 2_000;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SummaryParams {
    /// Only this pipeline (id from pipeline_list); default all
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Only deals owned by this owner id (from owner_list)
    #[serde(default)]
    pub owner_id: Option<String>,
    /// Close date on or after this day, YYYY-MM-DD (UTC)
    #[serde(default)]
    pub close_date_from: Option<String>,
    /// Close date on or before this day, YYYY-MM-DD (UTC, inclusive)
    #[serde(default)]
    pub close_date_to: Option<String>,
}

#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct StageSum {
    pub id: String,
    pub label: String,
    /// The stage's win probability 0..1 (absent: unknown stage, not weighted)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    pub deal_count: u64,
    /// Sum of `amount`
    pub total_amount: f64,
    /// Sum of amount × probability
    pub weighted_amount: f64,
    /// Deals counted here whose amount is unset or not a number
    pub deals_without_amount: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PipelineSum {
    pub id: String,
    pub label: String,
    pub deal_count: u64,
    pub total_amount: f64,
    pub weighted_amount: f64,
    /// Stages in display order (all stages of the pipeline, empty ones included)
    pub stages: Vec<StageSum>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SummaryOut {
    pub pipelines: Vec<PipelineSum>,
    pub deal_count: u64,
    pub total_amount: f64,
    pub weighted_amount: f64,
    pub deals_without_amount: u64,
    /// Search requests made
    pub pages_fetched: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

struct StageInfo {
    pipeline: String,
    label: String,
    probability: Option<f64>,
    order: (i64, i64),
}

#[derive(Default)]
struct Acc {
    count: u64,
    total: f64,
    weighted: f64,
    missing: u64,
}

fn day(text: &Option<String>, what: &str) -> Result<Option<i64>, ToolError> {
    match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => parse_date(t).map(Some).ok_or_else(|| {
            ToolError::InvalidInput(format!("{what} {t:?} is not a date like 2026-03-31"))
        }),
    }
}

#[tool_router(router = summary_router, vis = "pub(crate)")]
impl HubSpotServer {
    /// Summarise the deal pipeline: deals grouped by pipeline and stage with count, total amount
    /// and weighted amount (amount × stage probability), optionally for one owner, one pipeline
    /// and a close-date window. Counts every matching deal (all pages; no 10,000 cap).
    #[tool(
        title = "Deal pipeline summary",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn pipeline_summary(
        &self,
        Parameters(p): Parameters<SummaryParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<SummaryOut>, ToolError> {
        let ct = ctx.ct.clone();
        let progress = ctx.meta.get_progress_token();
        let from = day(&p.close_date_from, "close_date_from")?;
        let to = day(&p.close_date_to, "close_date_to")?;
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(ToolError::InvalidInput(
                "close_date_from is after close_date_to".into(),
            ));
        }
        let pipeline_filter = p
            .pipeline
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let owner = p
            .owner_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());

        let pipelines = self.pipelines("deals", &ct).await?;
        if let Some(pf) = pipeline_filter
            && !pipelines.iter().any(|x| x.id == pf)
        {
            let ids: Vec<String> = pipelines
                .iter()
                .map(|x| format!("{} ({})", x.id, x.label))
                .collect();
            return Err(ToolError::NotFound(format!(
                "deal pipeline {pf:?} not found; pipelines: {}",
                ids.join(", ")
            )));
        }
        let mut stages: BTreeMap<String, StageInfo> = BTreeMap::new();
        let mut pipeline_labels: BTreeMap<String, (String, i64)> = BTreeMap::new();
        for pl in &pipelines {
            let po = pl.display_order.unwrap_or(i64::MAX);
            pipeline_labels.insert(pl.id.clone(), (pl.label.clone(), po));
            for s in &pl.stages {
                stages.insert(
                    s.id.clone(),
                    StageInfo {
                        pipeline: pl.id.clone(),
                        label: s.label.clone(),
                        probability: s.probability(),
                        order: (po, s.display_order.unwrap_or(i64::MAX)),
                    },
                );
            }
        }

        let mut base = Vec::new();
        if let Some(pf) = pipeline_filter {
            base.push(json!({"propertyName": "pipeline", "operator": "EQ", "value": pf}));
        }
        if let Some(o) = owner {
            base.push(json!({"propertyName": "hubspot_owner_id", "operator": "EQ", "value": o}));
        }
        if let Some(f) = from {
            base.push(json!({"propertyName": "closedate", "operator": "GTE", "value": (f * DAY_MS).to_string()}));
        }
        if let Some(t) = to {
            base.push(json!({"propertyName": "closedate", "operator": "LTE", "value": ((t + 1) * DAY_MS - 1).to_string()}));
        }

        // (pipeline, stage) → sums
        let mut acc: BTreeMap<(String, String), Acc> = BTreeMap::new();
        let mut last_id: Option<u64> = None;
        let mut pages = 0u64;
        let mut counted = 0u64;
        let mut first_total: Option<u64> = None;
        let mut notes = Vec::new();
        let mut unknown_stages = 0u64;
        loop {
            if ct.is_cancelled() {
                return Err(cancelled());
            }
            if pages as usize >= MAX_PAGES {
                notes.push(format!(
                    "stopped after {MAX_PAGES} pages ({counted} deals): narrow the filters for a complete summary"
                ));
                break;
            }
            let mut filters = base.clone();
            if let Some(l) = last_id {
                filters.push(json!({"propertyName": "hs_object_id", "operator": "GT", "value": l.to_string()}));
            }
            let mut body = json!({
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": ["amount", "dealstage", "pipeline", "closedate", "hubspot_owner_id"],
                "limit": PAGE,
            });
            if !filters.is_empty() {
                body["filterGroups"] = json!([{ "filters": filters }]);
            }
            let answer = self
                .client()
                .post_read("/crm/v3/objects/deals/search", &body, &ct)
                .await?;
            pages += 1;
            let list: WList<WObject> = parse(answer.body, "deal search results")?;
            if first_total.is_none() {
                first_total = list.total;
            }
            let more = list.next_after().is_some();
            let n = list.results.len();
            for deal in list.results {
                let id: u64 = deal
                    .id
                    .trim()
                    .parse()
                    .map_err(|_| malformed(format!("deal id {:?} is not a number", deal.id)))?;
                if last_id.is_some_and(|l| id <= l) {
                    return Err(malformed(
                        "the deal search did not advance past hs_object_id (is the GT filter or the sort ignored?)",
                    ));
                }
                let stage = deal
                    .properties
                    .get("dealstage")
                    .cloned()
                    .unwrap_or_default();
                let pipeline = deal
                    .properties
                    .get("pipeline")
                    .cloned()
                    .or_else(|| stages.get(&stage).map(|s| s.pipeline.clone()))
                    .unwrap_or_default();
                let info = stages.get(&stage).filter(|s| s.pipeline == pipeline);
                if info.is_none() {
                    unknown_stages += 1;
                }
                let a = acc.entry((pipeline, stage)).or_default();
                a.count += 1;
                match parse_number(deal.properties.get("amount")) {
                    Some(amount) => {
                        a.total += amount;
                        if let Some(pr) = info.and_then(|i| i.probability) {
                            a.weighted += amount * pr;
                        }
                    }
                    None => a.missing += 1,
                }
                last_id = Some(id);
                counted += 1;
            }
            if let Some(token) = &progress {
                let mut param = ProgressNotificationParam::new(token.clone(), counted as f64)
                    .with_message(format!("{counted} deals summed ({pages} pages)"));
                if let Some(t) = first_total {
                    param = param.with_total(t.max(counted) as f64);
                }
                let _ = ctx.peer.notify_progress(param).await;
            }
            if n == 0 || !more {
                break;
            }
        }
        if unknown_stages > 0 {
            notes.push(format!(
                "{unknown_stages} deal(s) are in a stage not found in the pipeline definitions: counted, not weighted"
            ));
        }

        // Assemble: every stage of each pipeline that has deals (or was asked for).
        let mut used: Vec<String> = acc.keys().map(|(p, _)| p.clone()).collect();
        if let Some(pf) = pipeline_filter {
            used.push(pf.to_string());
        }
        used.sort();
        used.dedup();
        used.sort_by_key(|p| pipeline_labels.get(p).map(|l| l.1).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        let (mut all_count, mut all_total, mut all_weighted, mut all_missing) = (0, 0.0, 0.0, 0);
        for pid in used {
            let mut rows: Vec<(&(i64, i64), StageSum)> = Vec::new();
            let mut known: Vec<&String> = Vec::new();
            for (sid, info) in stages.iter().filter(|(_, i)| i.pipeline == pid) {
                known.push(sid);
                let a = acc.get(&(pid.clone(), sid.clone()));
                rows.push((
                    &info.order,
                    StageSum {
                        id: sid.clone(),
                        label: info.label.clone(),
                        probability: info.probability,
                        deal_count: a.map_or(0, |a| a.count),
                        total_amount: a.map_or(0.0, |a| a.total),
                        weighted_amount: a.map_or(0.0, |a| a.weighted),
                        deals_without_amount: a.map_or(0, |a| a.missing),
                    },
                ));
            }
            rows.sort_by_key(|r| *r.0);
            let mut stage_rows: Vec<StageSum> = rows.into_iter().map(|r| r.1).collect();
            for ((p2, sid), a) in &acc {
                if *p2 == pid && !known.contains(&sid) {
                    stage_rows.push(StageSum {
                        id: sid.clone(),
                        label: if sid.is_empty() {
                            "(no stage)".into()
                        } else {
                            format!("{sid} (unknown stage)")
                        },
                        probability: None,
                        deal_count: a.count,
                        total_amount: a.total,
                        weighted_amount: a.weighted,
                        deals_without_amount: a.missing,
                    });
                }
            }
            let count: u64 = stage_rows.iter().map(|s| s.deal_count).sum();
            let total: f64 = stage_rows.iter().map(|s| s.total_amount).sum();
            let weighted: f64 = stage_rows.iter().map(|s| s.weighted_amount).sum();
            let missing: u64 = stage_rows.iter().map(|s| s.deals_without_amount).sum();
            all_count += count;
            all_total += total;
            all_weighted += weighted;
            all_missing += missing;
            for s in &mut stage_rows {
                s.total_amount = cents(s.total_amount);
                s.weighted_amount = cents(s.weighted_amount);
            }
            out.push(PipelineSum {
                label: pipeline_labels
                    .get(&pid)
                    .map(|l| l.0.clone())
                    .unwrap_or_else(|| format!("{pid} (unknown pipeline)")),
                id: pid,
                deal_count: count,
                total_amount: cents(total),
                weighted_amount: cents(weighted),
                stages: stage_rows,
            });
        }
        Ok(Json(SummaryOut {
            pipelines: out,
            deal_count: all_count,
            total_amount: cents(all_total),
            weighted_amount: cents(all_weighted),
            deals_without_amount: all_missing,
            pages_fetched: pages,
            notes,
        }))
    }
}
