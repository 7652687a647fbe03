//! The embedded store: SQLite (WAL) is the durable truth; each process keeps an in-memory mirror
//! of the graph for reads. Every tool call is one transaction, committed before it returns.
//! Another process's commits are noticed through `PRAGMA data_version` and reload the mirror, so
//! several `sophia-memory` processes on one file see each other's writes and lose none.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

pub mod memories;

use crate::model::{Entity, ObservationAddition, ObservationDeletion, ObservationResult, Relation};

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Entity with name {0} not found")]
    EntityNotFound(String),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("cannot open the memory store at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("{0}")]
    Foreign(String),
    #[error("{0}")]
    Invalid(String),
}

/// How hard each commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync on every commit: survives power loss (default).
    Full,
    /// WAL fsync at checkpoints only: survives a process crash, not power loss.
    Normal,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS entities (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    entity_type TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE TABLE IF NOT EXISTS observations (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    entity_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    content   TEXT NOT NULL,
    UNIQUE (entity_id, content)
);
CREATE TABLE IF NOT EXISTS relations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    from_name     TEXT NOT NULL,
    to_name       TEXT NOT NULL,
    relation_type TEXT NOT NULL,
    UNIQUE (from_name, to_name, relation_type)
);
CREATE INDEX IF NOT EXISTS relations_to ON relations(to_name);
"#;

/// `PRAGMA application_id` of a sophia-memory store ("SOPH").
pub const APPLICATION_ID: i64 = 0x534F_5048;

/// Whether the database is ours, new, or someone else's (read-only check).
fn ownership(conn: &Connection) -> Result<Ownership, StoreError> {
    let app: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if app == APPLICATION_ID {
        return Ok(Ownership::Ours);
    }
    let objects: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
        [],
        |r| r.get(0),
    )?;
    let ours: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'entities'",
        [],
        |r| r.get(0),
    )?;
    if app == 0 && (objects == 0 || ours == 1) {
        return Ok(Ownership::Unstamped);
    }
    Err(StoreError::Foreign(format!(
        "this file is not a sophia-memory store (it holds {objects} other database objects, application_id {app}); \
         refusing to modify it: point SOPHIA_MEMORY_DB at a new file"
    )))
}

enum Ownership {
    Ours,
    Unstamped,
}

/// Run `f` again while SQLite reports the file busy or locked, for up to the busy timeout.
fn when_not_busy<T>(mut f: impl FnMut() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut pause = Duration::from_millis(5);
    loop {
        match f() {
            Err(StoreError::Sql(rusqlite::Error::SqliteFailure(e, _)))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

fn refuse_foreign(conn: &Connection) -> Result<(), StoreError> {
    ownership(conn).map(|_| ())
}

/// Inside the schema transaction: check again (another process may have raced) and stamp.
fn check_ownership(tx: &Transaction<'_>) -> Result<(), StoreError> {
    if let Ownership::Unstamped = ownership(tx)? {
        tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))?;
    }
    Ok(())
}

/// Separates the lower-cased fields of an entity in its search haystack. A query containing it
/// falls back to a per-field search, so a match never spans two fields.
const FIELD_SEP: char = '\u{0}';

/// One entity in the mirror: its name and its lower-cased fields joined into one haystack.
/// The entity itself stays in SQLite and is read back only when a result includes it.
#[derive(Debug, Clone)]
struct Cached {
    name: Arc<str>,
    /// `name \0 type \0 obs1 \0 obs2 ...`, lower-cased (JS `toLowerCase` ≈ Rust `to_lowercase`).
    haystack: Box<str>,
}

fn haystack_of(entity: &Entity) -> Box<str> {
    let mut haystack = String::with_capacity(
        entity.name.len()
            + entity.entity_type.len()
            + entity
                .observations
                .iter()
                .map(|o| o.len() + 1)
                .sum::<usize>()
            + 2,
    );
    haystack.push_str(&entity.name.to_lowercase());
    haystack.push(FIELD_SEP);
    haystack.push_str(&entity.entity_type.to_lowercase());
    for o in &entity.observations {
        haystack.push(FIELD_SEP);
        haystack.push_str(&o.to_lowercase());
    }
    haystack.into_boxed_str()
}

impl Cached {
    fn matches(&self, finder: &memchr::memmem::Finder<'_>, lc_query: &str) -> bool {
        if lc_query.contains(FIELD_SEP) {
            return self
                .haystack
                .split(FIELD_SEP)
                .any(|field| field.contains(lc_query));
        }
        finder.find(self.haystack.as_bytes()).is_some()
    }
}

/// The in-memory mirror: just enough to answer which entities and relations a read returns,
/// in insertion order like the reference server's arrays. Names are shared (`Arc<str>`).
#[derive(Debug, Default)]
struct Mirror {
    entities: BTreeMap<i64, Cached>,
    by_name: HashMap<Arc<str>, i64>,
    /// Relation id -> (from, to).
    relations: BTreeMap<i64, (Arc<str>, Arc<str>)>,
    /// Relation ids by endpoint name (both ends), so "relations touching these entities" costs
    /// what it returns, not the size of the graph.
    by_end: HashMap<Arc<str>, Vec<i64>>,
}

impl Mirror {
    fn intern(&self, name: &str) -> Arc<str> {
        if let Some((k, _)) = self.by_name.get_key_value(name) {
            return k.clone();
        }
        if let Some((k, _)) = self.by_end.get_key_value(name) {
            return k.clone();
        }
        Arc::from(name)
    }

    fn insert_entity(&mut self, id: i64, entity: &Entity) {
        let name = self.intern(&entity.name);
        self.by_name.insert(name.clone(), id);
        self.entities.insert(
            id,
            Cached {
                name,
                haystack: haystack_of(entity),
            },
        );
    }

    fn insert_relation(&mut self, id: i64, from: &str, to: &str) {
        let from = self.intern(from);
        let to = self.intern(to);
        self.by_end.entry(from.clone()).or_default().push(id);
        if to != from {
            self.by_end.entry(to.clone()).or_default().push(id);
        }
        self.relations.insert(id, (from, to));
    }

    fn remove_relation(&mut self, id: i64) {
        if let Some((from, to)) = self.relations.remove(&id) {
            for end in [&from, &to] {
                if let Some(ids) = self.by_end.get_mut(end) {
                    ids.retain(|x| *x != id);
                    if ids.is_empty() {
                        self.by_end.remove(end);
                    }
                }
            }
        }
    }

    /// Ids of the relations with at least one end among `entity_ids`, in graph order.
    fn relations_touching(&self, entity_ids: &[i64]) -> Vec<i64> {
        let mut ids: Vec<i64> = entity_ids
            .iter()
            .filter_map(|id| self.entities.get(id))
            .filter_map(|c| self.by_end.get(&c.name))
            .flatten()
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// Changes of one write transaction, applied to the mirror after commit.
#[derive(Default)]
struct Delta {
    /// Entities to re-read (by name); absent from the DB means removed.
    entities: HashMap<String, Option<(i64, Entity)>>,
    added_relations: Vec<(i64, Relation)>,
    removed_relations: Vec<i64>,
}

/// Which entities and relations a read returns, by id, in graph order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Selection {
    pub entities: Vec<i64>,
    pub relations: Vec<i64>,
}

/// Entities and relations in graph order, with their stable ids (for cursors).
pub struct GraphItems {
    pub entities: Vec<(i64, Entity)>,
    pub relations: Vec<(i64, Relation)>,
}

/// Counts reported by `memory_stats`-like views and `/healthz`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Counts {
    pub entities: usize,
    pub relations: usize,
    pub observations: usize,
}

/// The store of one process.
pub struct Store {
    conn: Connection,
    mirror: Mirror,
    data_version: Option<i64>,
    vectors: memories::VectorIndex,
    keyword_reader: Option<memories::KeywordReader>,
}

impl Store {
    /// Open (creating if needed) the database at `path`.
    pub fn open(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        }
        let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        let mut store = Self::init(conn, durability).map_err(|e| open_err(e.to_string()))?;
        // After init: the file is ours and in WAL mode.
        store.keyword_reader =
            Some(memories::KeywordReader::open(path).map_err(|e| open_err(e.to_string()))?);
        Ok(store)
    }

    /// A separate connection for keyword searches (file stores only; `None` in memory).
    pub fn keyword_reader(&self) -> Option<memories::KeywordReader> {
        self.keyword_reader.clone()
    }

    /// An in-memory store (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?, Durability::Normal)
    }

    fn init(conn: Connection, durability: Durability) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(10))?;
        // Before anything writes (even the journal-mode switch rewrites the header): refuse a
        // file that is not ours.
        when_not_busy(|| refuse_foreign(&conn))?;
        // Switching a new file to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY at
        // once (without the busy handler) when another process is switching it at the same
        // moment: several clients starting together on a fresh store hit this. Wait it out.
        when_not_busy(|| {
            conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
                .map_err(StoreError::from)
        })?;
        conn.execute_batch(match durability {
            Durability::Full => "PRAGMA synchronous=FULL;",
            Durability::Normal => "PRAGMA synchronous=NORMAL;",
        })?;
        // Reads are served from the mirror; SQLite's own page cache only helps writes.
        conn.execute_batch("PRAGMA foreign_keys=ON; PRAGMA cache_size=-512;")?;
        {
            // Schema creation takes the write lock so two first starts do not race.
            let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
            check_ownership(&tx)?;
            tx.execute_batch(SCHEMA)?;
            tx.execute_batch(memories::SCHEMA)?;
            tx.commit()?;
        }
        // The mirror loads on first use, so `initialize` never waits for a large graph.
        Ok(Self {
            conn,
            mirror: Mirror::default(),
            data_version: None,
            vectors: memories::VectorIndex::default(),
            keyword_reader: None,
        })
    }

    fn current_data_version(conn: &Connection) -> Result<i64, rusqlite::Error> {
        conn.query_row("PRAGMA data_version", [], |r| r.get(0))
    }

    /// Load the mirror now (called in the background at start-up so the first call rarely waits).
    pub fn preload(&mut self) -> Result<(), StoreError> {
        self.refresh()
    }

    /// Reload the mirror if another connection committed since we last looked.
    fn refresh(&mut self) -> Result<(), StoreError> {
        let version = Self::current_data_version(&self.conn)?;
        if self.data_version == Some(version) {
            return Ok(());
        }
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)?;
        let mirror = load_mirror(&tx)?;
        let version = Self::current_data_version(&tx)?;
        tx.commit()?;
        self.mirror = mirror;
        self.data_version = Some(version);
        Ok(())
    }

    /// Run `f` in one IMMEDIATE transaction; apply its delta to the mirror after commit.
    fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>, &Mirror, &mut Delta) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let version = Self::current_data_version(&tx)?;
        let reloaded = if self.data_version != Some(version) {
            Some(load_mirror(&tx)?)
        } else {
            None
        };
        let mirror = reloaded.as_ref().unwrap_or(&self.mirror);
        let mut delta = Delta::default();
        let out = f(&tx, mirror, &mut delta)?;
        // Read back every touched entity inside the transaction: the mirror gets what was stored.
        for (name, slot) in delta.entities.iter_mut() {
            *slot = read_entity(&tx, name)?;
        }
        tx.commit()?;
        if let Some(m) = reloaded {
            self.mirror = m;
            self.data_version = Some(version);
        }
        self.apply(delta);
        Ok(out)
    }

    fn apply(&mut self, delta: Delta) {
        let m = &mut self.mirror;
        for (name, stored) in delta.entities {
            if let Some(old) = m.by_name.remove(name.as_str()) {
                m.entities.remove(&old);
            }
            if let Some((id, entity)) = stored {
                m.insert_entity(id, &entity);
            }
        }
        for id in delta.removed_relations {
            m.remove_relation(id);
        }
        for (id, r) in delta.added_relations {
            m.insert_relation(id, &r.from, &r.to);
        }
    }

    /// Create entities whose names do not exist yet; returns those created, as stored.
    pub fn create_entities(&mut self, entities: Vec<Entity>) -> Result<Vec<Entity>, StoreError> {
        self.write(|tx, mirror, delta| {
            let mut created = Vec::new();
            let mut seen = HashSet::new();
            for e in entities {
                if mirror.by_name.contains_key(e.name.as_str()) || !seen.insert(e.name.clone()) {
                    continue;
                }
                let inserted = tx.execute(
                    "INSERT INTO entities(name, entity_type) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
                    params![e.name, e.entity_type],
                )?;
                if inserted == 0 {
                    continue;
                }
                let id = tx.last_insert_rowid();
                let observations = insert_observations(tx, id, e.observations)?;
                delta.entities.insert(e.name.clone(), None);
                created.push(Entity {
                    name: e.name,
                    entity_type: e.entity_type,
                    observations,
                });
            }
            Ok(created)
        })
    }

    /// Create relations that do not exist yet; returns those created.
    pub fn create_relations(
        &mut self,
        relations: Vec<Relation>,
    ) -> Result<Vec<Relation>, StoreError> {
        self.write(|tx, _mirror, delta| Ok(insert_relations(tx, relations, delta)?))
    }

    /// Add observations; fails as a whole (nothing written) if one entity is missing.
    pub fn add_observations(
        &mut self,
        additions: Vec<ObservationAddition>,
    ) -> Result<Vec<ObservationResult>, StoreError> {
        self.write(|tx, _mirror, delta| {
            let mut results = Vec::new();
            for a in additions {
                let id: Option<i64> = tx
                    .query_row(
                        "SELECT id FROM entities WHERE name = ?1",
                        params![a.entity_name],
                        |r| r.get(0),
                    )
                    .optional()?;
                let Some(id) = id else {
                    return Err(StoreError::EntityNotFound(a.entity_name));
                };
                let added = insert_observations(tx, id, a.contents)?;
                if !added.is_empty() {
                    tx.execute(
                        "UPDATE entities SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?1",
                        params![id],
                    )?;
                }
                delta.entities.insert(a.entity_name.clone(), None);
                results.push(ObservationResult {
                    entity_name: a.entity_name,
                    added_observations: added,
                });
            }
            Ok(results)
        })
    }

    /// Delete entities and every relation from or to them.
    pub fn delete_entities(&mut self, names: Vec<String>) -> Result<(), StoreError> {
        self.write(|tx, mirror, delta| {
            let names: HashSet<String> = names.into_iter().collect();
            for n in &names {
                if let Some(ids) = mirror.by_end.get(n.as_str()) {
                    delta.removed_relations.extend(ids.iter().copied());
                }
            }
            delta.removed_relations.sort_unstable();
            delta.removed_relations.dedup();
            let mut del_rel =
                tx.prepare_cached("DELETE FROM relations WHERE from_name = ?1 OR to_name = ?1")?;
            let mut del_ent = tx.prepare_cached("DELETE FROM entities WHERE name = ?1")?;
            for n in &names {
                del_rel.execute(params![n])?;
                del_ent.execute(params![n])?;
                delta.entities.insert(n.clone(), None);
            }
            Ok(())
        })
    }

    /// Delete observations; missing entities and observations are ignored.
    pub fn delete_observations(
        &mut self,
        deletions: Vec<ObservationDeletion>,
    ) -> Result<(), StoreError> {
        self.write(|tx, _mirror, delta| {
            let mut stmt = tx.prepare_cached(
                "DELETE FROM observations WHERE content = ?2 AND entity_id = (SELECT id FROM entities WHERE name = ?1)",
            )?;
            for d in deletions {
                for o in &d.observations {
                    stmt.execute(params![d.entity_name, o])?;
                }
                delta.entities.insert(d.entity_name, None);
            }
            Ok(())
        })
    }

    /// Delete relations matching all three fields.
    pub fn delete_relations(&mut self, relations: Vec<Relation>) -> Result<(), StoreError> {
        self.write(|tx, mirror, delta| {
            let mut find = tx.prepare_cached(
                "SELECT id FROM relations WHERE from_name = ?1 AND to_name = ?2 AND relation_type = ?3",
            )?;
            for r in &relations {
                if let Some(id) = find
                    .query_row(params![r.from, r.to, r.relation_type], |row| row.get(0))
                    .optional()?
                {
                    delta.removed_relations.push(id);
                }
            }
            let _ = mirror;
            delta.removed_relations.sort_unstable();
            delta.removed_relations.dedup();
            let mut stmt = tx.prepare_cached(
                "DELETE FROM relations WHERE from_name = ?1 AND to_name = ?2 AND relation_type = ?3",
            )?;
            for r in &relations {
                stmt.execute(params![r.from, r.to, r.relation_type])?;
            }
            Ok(())
        })
    }

    /// Everything, in graph order.
    pub fn select_all(&mut self) -> Result<Selection, StoreError> {
        self.refresh()?;
        let m = &self.mirror;
        Ok(Selection {
            entities: m.entities.keys().copied().collect(),
            relations: m.relations.keys().copied().collect(),
        })
    }

    /// Entities whose name, type or an observation contains `query` (lower-case substring), and
    /// the relations with at least one end among them.
    pub fn select_search(&mut self, query: &str) -> Result<Selection, StoreError> {
        self.refresh()?;
        let q = query.to_lowercase();
        let finder = memchr::memmem::Finder::new(q.as_bytes());
        let m = &self.mirror;
        let entities: Vec<i64> = m
            .entities
            .iter()
            .filter(|(_, c)| c.matches(&finder, &q))
            .map(|(id, _)| *id)
            .collect();
        Ok(Selection {
            relations: m.relations_touching(&entities),
            entities,
        })
    }

    /// The named entities (graph order) and the relations with at least one end among them.
    pub fn select_open(&mut self, names: &[String]) -> Result<Selection, StoreError> {
        self.refresh()?;
        let m = &self.mirror;
        let mut entities: Vec<i64> = names
            .iter()
            .filter_map(|n| m.by_name.get(n.as_str()).copied())
            .collect();
        entities.sort_unstable();
        entities.dedup();
        Ok(Selection {
            relations: m.relations_touching(&entities),
            entities,
        })
    }

    /// Read one entity as stored (None if it is gone).
    pub fn load_entity(&self, id: i64) -> Result<Option<Entity>, StoreError> {
        let row: Option<(String, String)> = self
            .conn
            .prepare_cached("SELECT name, entity_type FROM entities WHERE id = ?1")?
            .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((name, entity_type)) = row else {
            return Ok(None);
        };
        let observations = self
            .conn
            .prepare_cached("SELECT content FROM observations WHERE entity_id = ?1 ORDER BY id")?
            .query_map(params![id], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Entity {
            name,
            entity_type,
            observations,
        }))
    }

    /// Read one relation as stored (None if it is gone).
    pub fn load_relation(&self, id: i64) -> Result<Option<Relation>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT from_name, to_name, relation_type FROM relations WHERE id = ?1",
            )?
            .query_row(params![id], |r| {
                Ok(Relation {
                    from: r.get(0)?,
                    to: r.get(1)?,
                    relation_type: r.get(2)?,
                })
            })
            .optional()?)
    }

    /// Read a whole selection.
    pub fn materialize(&self, selection: Selection) -> Result<GraphItems, StoreError> {
        let mut items = GraphItems {
            entities: Vec::with_capacity(selection.entities.len()),
            relations: Vec::with_capacity(selection.relations.len()),
        };
        for id in selection.entities {
            if let Some(e) = self.load_entity(id)? {
                items.entities.push((id, e));
            }
        }
        for id in selection.relations {
            if let Some(r) = self.load_relation(id)? {
                items.relations.push((id, r));
            }
        }
        Ok(items)
    }

    /// The whole graph, in graph order.
    pub fn read_graph(&mut self) -> Result<GraphItems, StoreError> {
        let selection = self.select_all()?;
        self.materialize(selection)
    }

    /// [`Store::select_search`], read.
    pub fn search(&mut self, query: &str) -> Result<GraphItems, StoreError> {
        let selection = self.select_search(query)?;
        self.materialize(selection)
    }

    /// [`Store::select_open`], read.
    pub fn open_nodes(&mut self, names: &[String]) -> Result<GraphItems, StoreError> {
        let selection = self.select_open(names)?;
        self.materialize(selection)
    }

    /// Sizes of the graph.
    pub fn counts(&mut self) -> Result<Counts, StoreError> {
        self.refresh()?;
        let observations: i64 =
            self.conn
                .query_row("SELECT count(*) FROM observations", [], |r| r.get(0))?;
        let m = &self.mirror;
        Ok(Counts {
            entities: m.entities.len(),
            relations: m.relations.len(),
            observations: usize::try_from(observations).unwrap_or(0),
        })
    }

    /// Import: add entities (merging observations into existing ones) and relations; returns
    /// (entities added, observations added, relations added). Idempotent.
    pub fn import(
        &mut self,
        entities: Vec<Entity>,
        relations: Vec<Relation>,
    ) -> Result<(usize, usize, usize), StoreError> {
        self.write(|tx, _mirror, delta| {
            let (mut e_added, mut o_added) = (0, 0);
            for e in entities {
                e_added += tx.execute(
                    "INSERT INTO entities(name, entity_type) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
                    params![e.name, e.entity_type],
                )?;
                let id: i64 = tx.query_row(
                    "SELECT id FROM entities WHERE name = ?1",
                    params![e.name],
                    |r| r.get(0),
                )?;
                o_added += insert_observations(tx, id, e.observations)?.len();
                delta.entities.insert(e.name, None);
            }
            let r_added = insert_relations(tx, relations, delta)?.len();
            Ok((e_added, o_added, r_added))
        })
    }
}

/// Insert the observations an entity does not have yet; returns those inserted, in order.
fn insert_observations(
    tx: &Transaction<'_>,
    entity_id: i64,
    observations: impl IntoIterator<Item = String>,
) -> Result<Vec<String>, rusqlite::Error> {
    let mut stmt = tx
        .prepare_cached("INSERT OR IGNORE INTO observations(entity_id, content) VALUES (?1, ?2)")?;
    let mut added = Vec::new();
    for o in observations {
        if stmt.execute(params![entity_id, o])? == 1 {
            added.push(o);
        }
    }
    Ok(added)
}

/// Insert the relations that do not exist yet; returns those inserted and records them in `delta`.
fn insert_relations(
    tx: &Transaction<'_>,
    relations: Vec<Relation>,
    delta: &mut Delta,
) -> Result<Vec<Relation>, rusqlite::Error> {
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO relations(from_name, to_name, relation_type) VALUES (?1, ?2, ?3)",
    )?;
    let mut created = Vec::new();
    for r in relations {
        if stmt.execute(params![r.from, r.to, r.relation_type])? == 1 {
            delta
                .added_relations
                .push((tx.last_insert_rowid(), r.clone()));
            created.push(r);
        }
    }
    Ok(created)
}

fn read_entity(tx: &Transaction<'_>, name: &str) -> Result<Option<(i64, Entity)>, rusqlite::Error> {
    let row: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, entity_type FROM entities WHERE name = ?1",
            params![name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((id, entity_type)) = row else {
        return Ok(None);
    };
    let mut stmt =
        tx.prepare_cached("SELECT content FROM observations WHERE entity_id = ?1 ORDER BY id")?;
    let observations = stmt
        .query_map(params![id], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some((
        id,
        Entity {
            name: name.to_string(),
            entity_type,
            observations,
        },
    )))
}

fn load_mirror(tx: &Transaction<'_>) -> Result<Mirror, rusqlite::Error> {
    let mut mirror = Mirror::default();
    {
        // One pass over entities joined with their observations, in id order.
        let mut stmt = tx.prepare(
            "SELECT e.id, e.name, e.entity_type, o.content FROM entities e \
             LEFT JOIN observations o ON o.entity_id = e.id ORDER BY e.id, o.id",
        )?;
        let mut rows = stmt.query([])?;
        let mut current: Option<(i64, Entity)> = None;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            if current.as_ref().is_none_or(|(cur, _)| *cur != id) {
                if let Some((cid, e)) = current.take() {
                    mirror.insert_entity(cid, &e);
                }
                current = Some((
                    id,
                    Entity {
                        name: row.get(1)?,
                        entity_type: row.get(2)?,
                        observations: Vec::new(),
                    },
                ));
            }
            if let (Some((_, e)), Some(content)) =
                (current.as_mut(), row.get::<_, Option<String>>(3)?)
            {
                e.observations.push(content);
            }
        }
        if let Some((cid, e)) = current.take() {
            mirror.insert_entity(cid, &e);
        }
    }
    {
        let mut stmt = tx.prepare("SELECT id, from_name, to_name FROM relations ORDER BY id")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let from: String = row.get(1)?;
            let to: String = row.get(2)?;
            mirror.insert_relation(id, &from, &to);
        }
    }
    Ok(mirror)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str, ty: &str, obs: &[&str]) -> Entity {
        Entity {
            name: name.into(),
            entity_type: ty.into(),
            observations: obs.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn r(from: &str, to: &str, ty: &str) -> Relation {
        Relation {
            from: from.into(),
            to: to.into(),
            relation_type: ty.into(),
        }
    }

    fn names(items: &GraphItems) -> Vec<&str> {
        items
            .entities
            .iter()
            .map(|(_, e)| e.name.as_str())
            .collect()
    }

    #[test]
    fn search_never_matches_across_fields() {
        let mut s = Store::open_in_memory().unwrap();
        s.create_entities(vec![e("Alice", "person", &["likes tea"])])
            .unwrap();
        assert_eq!(names(&s.search("ALICE").unwrap()), vec!["Alice"]);
        assert_eq!(names(&s.search("erso").unwrap()), vec!["Alice"]);
        assert_eq!(names(&s.search("s tea").unwrap()), vec!["Alice"]);
        assert!(names(&s.search("ceperson").unwrap()).is_empty());
        assert!(names(&s.search("alice\u{0}person").unwrap()).is_empty());
        assert!(names(&s.search("e\u{0}").unwrap()).is_empty());
        assert_eq!(names(&s.search("").unwrap()), vec!["Alice"]);
        // Unicode lower-casing as JS toLowerCase does it.
        s.create_entities(vec![e("Zoë", "Città", &["ÉCLAIRS"])])
            .unwrap();
        assert_eq!(names(&s.search("ZOË").unwrap()), vec!["Zoë"]);
        assert_eq!(names(&s.search("éclairs").unwrap()), vec!["Zoë"]);
    }

    #[test]
    fn relation_index_follows_creates_and_deletes() {
        let mut s = Store::open_in_memory().unwrap();
        s.create_entities(vec![e("A", "t", &[]), e("B", "t", &[]), e("C", "t", &[])])
            .unwrap();
        s.create_relations(vec![
            r("A", "B", "x"),
            r("B", "C", "y"),
            r("C", "C", "self"),
            r("A", "Ghost", "z"),
        ])
        .unwrap();
        let rels = |s: &mut Store, n: &str| -> usize {
            s.open_nodes(&[n.to_string()]).unwrap().relations.len()
        };
        assert_eq!(rels(&mut s, "A"), 2);
        assert_eq!(rels(&mut s, "B"), 2);
        assert_eq!(rels(&mut s, "C"), 2, "a self-relation counts once");
        s.delete_relations(vec![r("A", "B", "x"), r("A", "B", "nope")])
            .unwrap();
        assert_eq!(rels(&mut s, "A"), 1);
        assert_eq!(rels(&mut s, "B"), 1);
        s.delete_entities(vec!["C".into(), "Ghost".into()]).unwrap();
        assert_eq!(rels(&mut s, "B"), 0);
        assert_eq!(s.read_graph().unwrap().relations.len(), 0);
        assert_eq!(s.counts().unwrap().entities, 2);
    }
}
