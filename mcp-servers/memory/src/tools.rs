//! The nine tools of the reference memory server: same names, argument shapes, result shapes.
//! Beyond it: read_graph, search_nodes and open_nodes take `limit` and `cursor` and keep every
//! result within the response budget.

use mcp_core::{
    Budget, Reply, ToolError,
    budget::{decode_cursor, encode_cursor},
    reply::pretty,
};
use rmcp::{
    handler::server::{tool::schema_for_output, wrapper::Parameters},
    tool, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::MemoryServer;
use crate::model::{Entity, ObservationAddition, ObservationDeletion, ObservationResult, Relation};
use crate::store::{GraphItems, Selection, Store, StoreError};

/// Most items one call may carry (entities, relations, names, observations per entity).
pub const MAX_ITEMS: usize = 1000;
/// Longest observation, in bytes.
pub const MAX_OBSERVATION_BYTES: usize = 16 * 1024;
/// Longest name or type, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// Largest page a caller may ask for.
pub const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateEntitiesParams {
    pub entities: Vec<Entity>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CreateEntitiesOutput {
    pub entities: Vec<Entity>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateRelationsParams {
    pub relations: Vec<Relation>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CreateRelationsOutput {
    pub relations: Vec<Relation>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AddObservationsParams {
    pub observations: Vec<ObservationAddition>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AddObservationsOutput {
    pub results: Vec<ObservationResult>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteEntitiesParams {
    /// An array of entity names to delete
    pub entity_names: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteObservationsParams {
    pub deletions: Vec<ObservationDeletion>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteRelationsParams {
    /// An array of relations to delete
    pub relations: Vec<Relation>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DeleteOutput {
    pub success: bool,
    pub message: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ReadGraphParams {
    /// Most entities plus relations to return in this page (default: as many as fit the response
    /// budget; max 1000)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor from a previous page, to continue where it stopped
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchNodesParams {
    /// The search query to match against entity names, types, and observation content
    pub query: String,
    /// Most entities plus relations to return in this page (default: as many as fit the response
    /// budget; max 1000)
    #[serde(default)]
    pub limit: Option<u32>,
    /// next_cursor from a previous page, to continue where it stopped
    #[serde(default)]
    pub cursor: Option<String>,
    /// Also return the semantic memories linked to the returned entities (store_memory's `entities`)
    #[serde(default)]
    pub include_memories: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct OpenNodesParams {
    /// An array of entity names to retrieve
    pub names: Vec<String>,
    /// next_cursor from a previous page, to continue where it stopped
    #[serde(default)]
    pub cursor: Option<String>,
    /// Also return the semantic memories linked to the returned entities (store_memory's `entities`)
    #[serde(default)]
    pub include_memories: Option<bool>,
}

/// A memory linked to an entity of the page (content cut to 300 characters; get_memory has all).
#[derive(Debug, Serialize, JsonSchema)]
pub struct LinkedMemory {
    pub id: String,
    pub content: String,
    pub entities: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub updated_at: String,
}

/// Most linked memories one page carries.
const MAX_LINKED: usize = 20;
/// Room kept in a page for linked memories.
const LINKED_CHARS: usize = MAX_LINKED * 450;

/// A page of the graph. `next_cursor` and `truncated` appear only when there is more.
#[derive(Debug, Serialize, JsonSchema)]
pub struct GraphOutput {
    pub entities: Vec<Entity>,
    pub relations: Vec<Relation>,
    /// Pass back as `cursor` to get the rest; absent at the end
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// True when this page stops before the end of the result
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[serde(default)]
    pub truncated: bool,
    /// With include_memories: memories linked to this page's entities, newest first
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memories: Option<Vec<LinkedMemory>>,
}

/// Attach the memories linked to the page's entities (newest first, at most MAX_LINKED).
fn attach_memories(store: &Store, out: &mut GraphOutput) -> Result<(), ToolError> {
    let names: Vec<String> = out.entities.iter().map(|e| e.name.clone()).collect();
    let linked = store
        .memory_linked(&names, MAX_LINKED)
        .map_err(crate::store_error)?;
    out.memories = Some(linked.into_iter().map(linked_memory).collect());
    Ok(())
}

fn linked_memory(m: crate::store::memories::Memory) -> LinkedMemory {
    LinkedMemory {
        content: mcp_core::budget::cut_text(&m.content, 0, 300).text,
        id: m.id,
        entities: m.entities,
        source: m.source,
        updated_at: m.updated_at,
    }
}

// ---------------------------------------------------------------------------------------------
// Validation: bad input is a tool error and writes nothing.

fn check_count(what: &str, n: usize) -> Result<(), ToolError> {
    if n > MAX_ITEMS {
        return Err(ToolError::InvalidInput(format!(
            "{n} {what} in one call; the most is {MAX_ITEMS}: split the call"
        )));
    }
    Ok(())
}

fn check_name(what: &str, index: usize, name: &str) -> Result<(), ToolError> {
    if name.trim().is_empty() {
        return Err(ToolError::InvalidInput(format!(
            "{what} at index {index} is empty"
        )));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(ToolError::InvalidInput(format!(
            "{what} at index {index} is {} bytes; the most is {MAX_NAME_BYTES}",
            name.len()
        )));
    }
    Ok(())
}

fn check_observations(entity: &str, observations: &[String]) -> Result<(), ToolError> {
    check_count(&format!("observations for {entity:?}"), observations.len())?;
    for (i, o) in observations.iter().enumerate() {
        if o.len() > MAX_OBSERVATION_BYTES {
            return Err(ToolError::InvalidInput(format!(
                "observation {i} of {entity:?} is {} bytes; the most is {MAX_OBSERVATION_BYTES} (16 KiB): split it",
                o.len()
            )));
        }
    }
    Ok(())
}

fn check_relations(relations: &[Relation]) -> Result<(), ToolError> {
    check_count("relations", relations.len())?;
    for (i, r) in relations.iter().enumerate() {
        check_name("relation 'from'", i, &r.from)?;
        check_name("relation 'to'", i, &r.to)?;
        check_name("relation 'relationType'", i, &r.relation_type)?;
    }
    Ok(())
}

fn check_limit(limit: Option<u32>) -> Result<usize, ToolError> {
    match limit {
        None => Ok(MAX_LIMIT),
        Some(0) => Err(ToolError::InvalidInput("limit must be at least 1".into())),
        Some(n) if n as usize > MAX_LIMIT => Err(ToolError::InvalidInput(format!(
            "limit {n} is over the maximum of {MAX_LIMIT}"
        ))),
        Some(n) => Ok(n as usize),
    }
}

// ---------------------------------------------------------------------------------------------
// Paging: entities first, then relations, by stable ids, so a cursor continues exactly.

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Position {
    /// Entities with id <= e were returned (i64::MAX: all of them).
    e: i64,
    /// Relations with id <= r were returned.
    r: i64,
    /// Observations already returned of the next entity (one too large for a page on its own).
    #[serde(default, skip_serializing_if = "is_zero")]
    o: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Serialize)]
#[serde(untagged)]
enum Item {
    E(Entity),
    R(Relation),
}

/// Characters one item adds to the pretty text block (indent of 4 inside the page object).
fn pretty_size(item: &(i64, Item)) -> usize {
    let text = pretty(&item.1);
    text.chars().count() + 4 * (text.lines().count()) + 2
}

pub(crate) fn page(
    store: &Store,
    selection: Selection,
    kind: &str,
    cursor: Option<&str>,
    limit: usize,
    budget: Budget,
) -> Result<GraphOutput, ToolError> {
    let start: Position = match cursor {
        Some(c) if !c.is_empty() => decode_cursor(kind, c)?,
        _ => Position::default(),
    };
    // Items are read from the store lazily: only what the page holds (plus one, to know
    // whether there is more) is ever loaded.
    let failure = std::cell::RefCell::new(None::<StoreError>);
    fn note<T>(
        failure: &std::cell::RefCell<Option<StoreError>>,
        r: Result<Option<T>, StoreError>,
    ) -> Option<T> {
        match r {
            Ok(v) => v,
            Err(e) => {
                failure.borrow_mut().get_or_insert(e);
                None
            }
        }
    }
    let sequence = selection
        .entities
        .into_iter()
        .filter(|id| *id > start.e)
        .filter_map(|id| note(&failure, store.load_entity(id)).map(|e| (id, e)))
        .enumerate()
        .map(|(i, (id, mut e))| {
            if i == 0 && start.o > 0 {
                let skip = start.o.min(e.observations.len());
                e.observations.drain(..skip);
            }
            (id, Item::E(e))
        })
        .chain(
            selection
                .relations
                .into_iter()
                .filter(|id| *id > start.r)
                .filter_map(|id| note(&failure, store.load_relation(id)).map(|r| (id, Item::R(r)))),
        );
    let available = budget.item_chars();
    let mut packed = Budget::pack_by(available, limit, sequence, pretty_size);
    if let Some(e) = failure.into_inner() {
        return Err(crate::store_error(e));
    }
    let mut pos = start;
    pos.o = 0;
    let mut split_entity = None;
    // One entity larger than a whole page: hand out its observations over several pages.
    if let [(id, Item::E(e))] = packed.items.as_mut_slice()
        && pretty_size(&(*id, Item::E(e.clone()))) > available
        && e.observations.len() > 1
    {
        // Entity without observations, then each observation line (indent 8, comma, newline).
        let base = pretty_size(&(
            *id,
            Item::E(Entity {
                name: e.name.clone(),
                entity_type: e.entity_type.clone(),
                observations: Vec::new(),
            }),
        ));
        let mut used = base;
        let mut kept = 0;
        for o in &e.observations {
            used += mcp_core::budget::json_chars(o) + 10;
            if kept > 0 && used > available {
                break;
            }
            kept += 1;
        }
        if kept < e.observations.len() {
            e.observations.truncate(kept);
            split_entity = Some(start.o + kept);
            packed.more = true;
        }
    }
    let mut out = GraphOutput {
        entities: Vec::new(),
        relations: Vec::new(),
        next_cursor: None,
        truncated: packed.more,
        memories: None,
    };
    for (id, item) in packed.items {
        match item {
            Item::E(e) => {
                if split_entity.is_none() {
                    pos.e = id;
                }
                out.entities.push(e);
            }
            Item::R(r) => {
                pos.e = i64::MAX;
                pos.r = id;
                out.relations.push(r);
            }
        }
    }
    if let Some(o) = split_entity {
        pos.o = o;
    }
    if packed.more {
        out.next_cursor = Some(encode_cursor(kind, &pos));
    }
    Ok(out)
}

/// The whole graph as the reference renders it (for the resource).
pub(crate) fn whole_graph_text(items: GraphItems) -> String {
    let out = GraphOutput {
        entities: items.entities.into_iter().map(|(_, e)| e).collect(),
        relations: items.relations.into_iter().map(|(_, r)| r).collect(),
        next_cursor: None,
        truncated: false,
        memories: None,
    };
    pretty(&out)
}

/// The budget left for graph items once linked memories have their room.
fn reserve(budget: Budget, with_memories: bool) -> Budget {
    if with_memories {
        Budget::new(budget.max_chars.saturating_sub(LINKED_CHARS))
    } else {
        budget
    }
}

impl MemoryServer {
    /// One page of a graph read (search_nodes, open_nodes), optionally with linked memories.
    async fn graph_read(
        &self,
        kind: &'static str,
        limit: usize,
        cursor: Option<String>,
        include_memories: Option<bool>,
        select: impl FnOnce(&mut Store) -> Result<Selection, StoreError> + Send + 'static,
    ) -> Out<GraphOutput> {
        let with_memories = include_memories == Some(true);
        let pinecone = if with_memories {
            self.shared.backend.pinecone()?
        } else {
            None
        };
        let local_memories = with_memories && pinecone.is_none();
        let budget = reserve(self.shared.budget, with_memories);
        let mut out = self
            .on_store_tool(move |s| {
                let selection = select(s).map_err(crate::store_error)?;
                let mut out = page(s, selection, kind, cursor.as_deref(), limit, budget)?;
                if local_memories {
                    attach_memories(s, &mut out)?;
                }
                Ok(out)
            })
            .await?;
        if let Some(pc) = pinecone {
            let names: Vec<String> = out.entities.iter().map(|e| e.name.clone()).collect();
            let embedder = self.shared.embedder.get();
            let linked = pc
                .linked(
                    &self.shared.namespace,
                    &names,
                    MAX_LINKED,
                    embedder.as_deref(),
                )
                .await?;
            out.memories = Some(linked.into_iter().map(linked_memory).collect());
        }
        Ok(Reply::pretty(out))
    }
}

fn deleted(message: &str) -> Reply<DeleteOutput> {
    Reply::with_text(
        DeleteOutput {
            success: true,
            message: message.to_string(),
        },
        message,
    )
}

type Out<T> = Result<Reply<T>, ToolError>;

#[tool_router(router = tool_router, vis = "pub(crate)")]
impl MemoryServer {
    /// Create multiple new entities in the knowledge graph
    #[tool(
        title = "Create Entities",
        output_schema = schema_for_output::<CreateEntitiesOutput>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn create_entities(
        &self,
        Parameters(p): Parameters<CreateEntitiesParams>,
    ) -> Out<CreateEntitiesOutput> {
        check_count("entities", p.entities.len())?;
        for (i, e) in p.entities.iter().enumerate() {
            check_name("entity name", i, &e.name)?;
            check_name("entityType", i, &e.entity_type)?;
            check_observations(&e.name, &e.observations)?;
        }
        let created = self
            .on_store(move |s| s.create_entities(p.entities))
            .await?;
        self.graph_updated().await;
        let text = pretty(&created);
        Ok(Reply::with_text(
            CreateEntitiesOutput { entities: created },
            text,
        ))
    }

    /// Create multiple new relations between entities in the knowledge graph. Relations should be in active voice
    #[tool(
        title = "Create Relations",
        output_schema = schema_for_output::<CreateRelationsOutput>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn create_relations(
        &self,
        Parameters(p): Parameters<CreateRelationsParams>,
    ) -> Out<CreateRelationsOutput> {
        check_relations(&p.relations)?;
        let created = self
            .on_store(move |s| s.create_relations(p.relations))
            .await?;
        self.graph_updated().await;
        let text = pretty(&created);
        Ok(Reply::with_text(
            CreateRelationsOutput { relations: created },
            text,
        ))
    }

    /// Add new observations to existing entities in the knowledge graph
    #[tool(
        title = "Add Observations",
        output_schema = schema_for_output::<AddObservationsOutput>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn add_observations(
        &self,
        Parameters(p): Parameters<AddObservationsParams>,
    ) -> Out<AddObservationsOutput> {
        check_count("observation groups", p.observations.len())?;
        for (i, a) in p.observations.iter().enumerate() {
            check_name("entityName", i, &a.entity_name)?;
            check_observations(&a.entity_name, &a.contents)?;
        }
        let results = self
            .on_store(move |s| s.add_observations(p.observations))
            .await?;
        self.graph_updated().await;
        let text = pretty(&results);
        Ok(Reply::with_text(AddObservationsOutput { results }, text))
    }

    /// Delete multiple entities and their associated relations from the knowledge graph
    #[tool(
        title = "Delete Entities",
        output_schema = schema_for_output::<DeleteOutput>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn delete_entities(
        &self,
        Parameters(p): Parameters<DeleteEntitiesParams>,
    ) -> Out<DeleteOutput> {
        check_count("entity names", p.entity_names.len())?;
        self.on_store(move |s| s.delete_entities(p.entity_names))
            .await?;
        self.graph_updated().await;
        Ok(deleted("Entities deleted successfully"))
    }

    /// Delete specific observations from entities in the knowledge graph
    #[tool(
        title = "Delete Observations",
        output_schema = schema_for_output::<DeleteOutput>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn delete_observations(
        &self,
        Parameters(p): Parameters<DeleteObservationsParams>,
    ) -> Out<DeleteOutput> {
        check_count("deletions", p.deletions.len())?;
        for d in &p.deletions {
            check_count(
                &format!("observations for {:?}", d.entity_name),
                d.observations.len(),
            )?;
        }
        self.on_store(move |s| s.delete_observations(p.deletions))
            .await?;
        self.graph_updated().await;
        Ok(deleted("Observations deleted successfully"))
    }

    /// Delete multiple relations from the knowledge graph
    #[tool(
        title = "Delete Relations",
        output_schema = schema_for_output::<DeleteOutput>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn delete_relations(
        &self,
        Parameters(p): Parameters<DeleteRelationsParams>,
    ) -> Out<DeleteOutput> {
        check_count("relations", p.relations.len())?;
        self.on_store(move |s| s.delete_relations(p.relations))
            .await?;
        self.graph_updated().await;
        Ok(deleted("Relations deleted successfully"))
    }

    /// Read the entire knowledge graph. Large graphs come in pages: when `truncated` is true, call again with `cursor` set to `next_cursor`.
    #[tool(
        title = "Read Graph",
        output_schema = schema_for_output::<GraphOutput>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn read_graph(&self, Parameters(p): Parameters<ReadGraphParams>) -> Out<GraphOutput> {
        let limit = check_limit(p.limit)?;
        let budget = self.shared.budget;
        let cursor = p.cursor;
        let out = self
            .on_store_tool(move |s| {
                let selection = s.select_all().map_err(crate::store_error)?;
                page(s, selection, "read_graph", cursor.as_deref(), limit, budget)
            })
            .await?;
        Ok(Reply::pretty(out))
    }

    /// Search for nodes in the knowledge graph based on a query (case-insensitive substring of names, types and observations). Large results come in pages: when `truncated` is true, call again with `cursor` set to `next_cursor`.
    #[tool(
        title = "Search Nodes",
        output_schema = schema_for_output::<GraphOutput>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn search_nodes(&self, Parameters(p): Parameters<SearchNodesParams>) -> Out<GraphOutput> {
        let limit = check_limit(p.limit)?;
        let query = p.query;
        self.graph_read(
            "search_nodes",
            limit,
            p.cursor,
            p.include_memories,
            move |s| s.select_search(&query),
        )
        .await
    }

    /// Open specific nodes in the knowledge graph by their names
    #[tool(
        title = "Open Nodes",
        output_schema = schema_for_output::<GraphOutput>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn open_nodes(&self, Parameters(p): Parameters<OpenNodesParams>) -> Out<GraphOutput> {
        check_count("names", p.names.len())?;
        let names = p.names;
        self.graph_read(
            "open_nodes",
            MAX_LIMIT,
            p.cursor,
            p.include_memories,
            move |s| s.select_open(&names),
        )
        .await
    }
}
