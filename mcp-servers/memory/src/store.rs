//! The embedded store: SQLite (WAL) is the durable truth; each process keeps an in-memory mirror
//! of the graph for reads. Every tool call is one transaction, committed before it returns.
//! Another process's commits are noticed through `PRAGMA data_version` and reload the mirror, so
//! several `sophia-memory` processes on one file see each other's writes and lose none.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

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

/// One entity in the mirror, with lower-cased copies for search.
#[derive(Debug, Clone)]
struct Cached {
    entity: Entity,
    lc_name: String,
    lc_type: String,
    lc_obs: Vec<String>,
}

impl Cached {
    fn new(entity: Entity) -> Self {
        Self {
            lc_name: entity.name.to_lowercase(),
            lc_type: entity.entity_type.to_lowercase(),
            lc_obs: entity
                .observations
                .iter()
                .map(|o| o.to_lowercase())
                .collect(),
            entity,
        }
    }

    fn matches(&self, lc_query: &str) -> bool {
        self.lc_name.contains(lc_query)
            || self.lc_type.contains(lc_query)
            || self.lc_obs.iter().any(|o| o.contains(lc_query))
    }
}

/// The in-memory mirror, ordered by insertion like the reference server's arrays.
#[derive(Debug, Default)]
struct Mirror {
    entities: BTreeMap<i64, Cached>,
    by_name: HashMap<String, i64>,
    relations: BTreeMap<i64, Relation>,
}

/// Changes of one write transaction, applied to the mirror after commit.
#[derive(Default)]
struct Delta {
    /// Entities to re-read (by name); absent from the DB means removed.
    entities: HashMap<String, Option<(i64, Entity)>>,
    added_relations: Vec<(i64, Relation)>,
    removed_relations: Vec<i64>,
}

/// An entity or relation in graph order, with its stable id (for cursors).
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
        Self::init(conn, durability).map_err(|e| open_err(e.to_string()))
    }

    /// An in-memory store (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?, Durability::Normal)
    }

    fn init(conn: Connection, durability: Durability) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(10))?;
        let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.execute_batch(match durability {
            Durability::Full => "PRAGMA synchronous=FULL;",
            Durability::Normal => "PRAGMA synchronous=NORMAL;",
        })?;
        conn.execute_batch("PRAGMA foreign_keys=ON;")?;
        {
            // Schema creation takes the write lock so two first starts do not race.
            let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
            tx.execute_batch(SCHEMA)?;
            tx.commit()?;
        }
        // The mirror loads on first use, so `initialize` never waits for a large graph.
        Ok(Self {
            conn,
            mirror: Mirror::default(),
            data_version: None,
        })
    }

    fn current_data_version(conn: &Connection) -> Result<i64, rusqlite::Error> {
        conn.query_row("PRAGMA data_version", [], |r| r.get(0))
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
            if let Some(old) = m.by_name.remove(&name) {
                m.entities.remove(&old);
            }
            if let Some((id, entity)) = stored {
                m.by_name.insert(name, id);
                m.entities.insert(id, Cached::new(entity));
            }
        }
        for id in delta.removed_relations {
            m.relations.remove(&id);
        }
        for (id, r) in delta.added_relations {
            m.relations.insert(id, r);
        }
    }

    /// Create entities whose names do not exist yet; returns those created, as stored.
    pub fn create_entities(&mut self, entities: Vec<Entity>) -> Result<Vec<Entity>, StoreError> {
        self.write(|tx, mirror, delta| {
            let mut created = Vec::new();
            let mut seen = HashSet::new();
            for e in entities {
                if mirror.by_name.contains_key(&e.name) || !seen.insert(e.name.clone()) {
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
                let mut observations = Vec::with_capacity(e.observations.len());
                let mut stmt = tx.prepare_cached(
                    "INSERT OR IGNORE INTO observations(entity_id, content) VALUES (?1, ?2)",
                )?;
                for o in e.observations {
                    if stmt.execute(params![id, o])? == 1 {
                        observations.push(o);
                    }
                }
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
        self.write(|tx, _mirror, delta| {
            let mut created = Vec::new();
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO relations(from_name, to_name, relation_type) VALUES (?1, ?2, ?3)",
            )?;
            for r in relations {
                if stmt.execute(params![r.from, r.to, r.relation_type])? == 1 {
                    delta.added_relations.push((tx.last_insert_rowid(), r.clone()));
                    created.push(r);
                }
            }
            Ok(created)
        })
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
                let mut added = Vec::new();
                let mut stmt = tx.prepare_cached(
                    "INSERT OR IGNORE INTO observations(entity_id, content) VALUES (?1, ?2)",
                )?;
                for c in a.contents {
                    if stmt.execute(params![id, c])? == 1 {
                        added.push(c);
                    }
                }
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
            for (id, r) in &mirror.relations {
                if names.contains(&r.from) || names.contains(&r.to) {
                    delta.removed_relations.push(*id);
                }
            }
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
            let wanted: HashSet<&Relation> = relations.iter().collect();
            for (id, r) in &mirror.relations {
                if wanted.contains(r) {
                    delta.removed_relations.push(*id);
                }
            }
            let mut stmt = tx.prepare_cached(
                "DELETE FROM relations WHERE from_name = ?1 AND to_name = ?2 AND relation_type = ?3",
            )?;
            for r in &relations {
                stmt.execute(params![r.from, r.to, r.relation_type])?;
            }
            Ok(())
        })
    }

    /// The whole graph, in graph order.
    pub fn read_graph(&mut self) -> Result<GraphItems, StoreError> {
        self.refresh()?;
        let m = &self.mirror;
        Ok(GraphItems {
            entities: m
                .entities
                .iter()
                .map(|(id, c)| (*id, c.entity.clone()))
                .collect(),
            relations: m.relations.iter().map(|(id, r)| (*id, r.clone())).collect(),
        })
    }

    /// Entities whose name, type or an observation contains `query` (lower-case substring), and
    /// the relations with at least one end among them.
    pub fn search(&mut self, query: &str) -> Result<GraphItems, StoreError> {
        self.refresh()?;
        let q = query.to_lowercase();
        let m = &self.mirror;
        let entities: Vec<(i64, Entity)> = m
            .entities
            .iter()
            .filter(|(_, c)| c.matches(&q))
            .map(|(id, c)| (*id, c.entity.clone()))
            .collect();
        Ok(GraphItems {
            relations: relations_touching(m, &entities),
            entities,
        })
    }

    /// The named entities (graph order) and the relations with at least one end among them.
    pub fn open_nodes(&mut self, names: &[String]) -> Result<GraphItems, StoreError> {
        self.refresh()?;
        let m = &self.mirror;
        let mut ids: Vec<i64> = names
            .iter()
            .filter_map(|n| m.by_name.get(n).copied())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let entities: Vec<(i64, Entity)> = ids
            .into_iter()
            .filter_map(|id| m.entities.get(&id).map(|c| (id, c.entity.clone())))
            .collect();
        Ok(GraphItems {
            relations: relations_touching(m, &entities),
            entities,
        })
    }

    /// Sizes of the graph.
    pub fn counts(&mut self) -> Result<Counts, StoreError> {
        self.refresh()?;
        let m = &self.mirror;
        Ok(Counts {
            entities: m.entities.len(),
            relations: m.relations.len(),
            observations: m
                .entities
                .values()
                .map(|c| c.entity.observations.len())
                .sum(),
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
            let (mut e_added, mut o_added, mut r_added) = (0, 0, 0);
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
                let mut stmt = tx.prepare_cached(
                    "INSERT OR IGNORE INTO observations(entity_id, content) VALUES (?1, ?2)",
                )?;
                for o in &e.observations {
                    o_added += stmt.execute(params![id, o])?;
                }
                delta.entities.insert(e.name, None);
            }
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO relations(from_name, to_name, relation_type) VALUES (?1, ?2, ?3)",
            )?;
            for r in relations {
                if stmt.execute(params![r.from, r.to, r.relation_type])? == 1 {
                    r_added += 1;
                    delta.added_relations.push((tx.last_insert_rowid(), r));
                }
            }
            Ok((e_added, o_added, r_added))
        })
    }
}

fn relations_touching(m: &Mirror, entities: &[(i64, Entity)]) -> Vec<(i64, Relation)> {
    let names: HashSet<&str> = entities.iter().map(|(_, e)| e.name.as_str()).collect();
    m.relations
        .iter()
        .filter(|(_, r)| names.contains(r.from.as_str()) || names.contains(r.to.as_str()))
        .map(|(id, r)| (*id, r.clone()))
        .collect()
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
    let mut observations: HashMap<i64, Vec<String>> = HashMap::new();
    {
        let mut stmt = tx.prepare("SELECT entity_id, content FROM observations ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (id, content) = row?;
            observations.entry(id).or_default().push(content);
        }
    }
    {
        let mut stmt = tx.prepare("SELECT id, name, entity_type FROM entities ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (id, name, entity_type) = row?;
            mirror.by_name.insert(name.clone(), id);
            mirror.entities.insert(
                id,
                Cached::new(Entity {
                    name,
                    entity_type,
                    observations: observations.remove(&id).unwrap_or_default(),
                }),
            );
        }
    }
    {
        let mut stmt =
            tx.prepare("SELECT id, from_name, to_name, relation_type FROM relations ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Relation {
                    from: r.get(1)?,
                    to: r.get(2)?,
                    relation_type: r.get(3)?,
                },
            ))
        })?;
        for row in rows {
            let (id, r) = row?;
            mirror.relations.insert(id, r);
        }
    }
    Ok(mirror)
}
