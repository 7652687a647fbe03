//! `sophia-memory import FILE.jsonl`: migrate a reference-server memory file. Idempotent; a
//! malformed line is reported with its line number and skipped; nothing else is lost.

use std::path::Path;

use serde::Deserialize;

use crate::model::{Entity, Relation};
use crate::store::memories::MemoryRecord;
use crate::store::{Store, StoreError};

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Line {
    Entity {
        name: String,
        #[serde(rename = "entityType")]
        entity_type: String,
        #[serde(default)]
        observations: Vec<String>,
    },
    Relation {
        from: String,
        to: String,
        #[serde(rename = "relationType")]
        relation_type: String,
    },
    /// A semantic memory, as `sophia-memory export` writes it.
    Memory(Box<MemoryRecord>),
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub lines: usize,
    pub entities_added: usize,
    pub observations_added: usize,
    pub relations_added: usize,
    pub memories_written: usize,
    /// Memories whose vector was kept (same embedder as the store).
    pub vectors_kept: usize,
    /// (line number, reason) of every skipped line.
    pub skipped: Vec<(usize, String)>,
}

/// What a JSONL file holds.
#[derive(Default)]
pub struct Parsed {
    pub entities: Vec<Entity>,
    pub relations: Vec<Relation>,
    pub memories: Vec<MemoryRecord>,
}

/// Parse `text` (JSONL) into entities, relations and memories; malformed lines go to `skipped`.
pub fn parse(text: &str, report: &mut ImportReport) -> Parsed {
    let mut entities = Vec::new();
    let mut relations = Vec::new();
    let mut memories = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        report.lines += 1;
        match serde_json::from_str::<Line>(line) {
            Ok(Line::Entity {
                name,
                entity_type,
                observations,
            }) if !name.trim().is_empty() => entities.push(Entity {
                name,
                entity_type,
                observations,
            }),
            Ok(Line::Entity { .. }) => report
                .skipped
                .push((i + 1, "entity with an empty name".into())),
            Ok(Line::Relation {
                from,
                to,
                relation_type,
            }) => relations.push(Relation {
                from,
                to,
                relation_type,
            }),
            Ok(Line::Memory(m)) if m.memory.id.trim().is_empty() || m.memory.content.is_empty() => {
                report
                    .skipped
                    .push((i + 1, "memory without an id or content".into()))
            }
            Ok(Line::Memory(m)) => memories.push(*m),
            Err(e) => report.skipped.push((i + 1, e.to_string())),
        }
    }
    Parsed {
        entities,
        relations,
        memories,
    }
}

/// Import the file at `path` into `store`.
pub fn import_file(store: &mut Store, path: &Path) -> Result<ImportReport, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|e| ImportError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut report = ImportReport::default();
    let parsed = parse(&text, &mut report);
    let (e, o, r) = store.import(parsed.entities, parsed.relations)?;
    report.entities_added = e;
    report.observations_added = o;
    report.relations_added = r;
    if !parsed.memories.is_empty() {
        let (w, k) = store.memory_import(parsed.memories)?;
        report.memories_written = w;
        report.vectors_kept = k;
    }
    Ok(report)
}

/// Write the whole store as JSONL: the graph in the reference server's format, then every memory
/// with its vector. `import` reads it back losslessly.
pub fn export(
    store: &mut Store,
    out: &mut dyn std::io::Write,
) -> Result<(usize, usize, usize), ImportError> {
    let graph = store.read_graph()?;
    write_graph(&graph, out)?;
    let memories = store.memory_export()?;
    write_memories(&memories, out)?;
    Ok((graph.entities.len(), graph.relations.len(), memories.len()))
}

fn write_graph(
    graph: &crate::store::GraphItems,
    out: &mut dyn std::io::Write,
) -> Result<(), ImportError> {
    let io = |e: std::io::Error| ImportError::Read {
        path: "output".into(),
        reason: e.to_string(),
    };
    for (_, e) in &graph.entities {
        let line = serde_json::json!({"type": "entity", "name": e.name, "entityType": e.entity_type, "observations": e.observations});
        writeln!(out, "{line}").map_err(io)?;
    }
    for (_, r) in &graph.relations {
        let line = serde_json::json!({"type": "relation", "from": r.from, "to": r.to, "relationType": r.relation_type});
        writeln!(out, "{line}").map_err(io)?;
    }
    Ok(())
}

/// Like [`export`], with the memories given (from another backend) instead of the store's.
pub fn export_with(
    store: &mut Store,
    memories: &[MemoryRecord],
    out: &mut dyn std::io::Write,
) -> Result<(usize, usize, usize), ImportError> {
    let graph = store.read_graph()?;
    write_graph(&graph, out)?;
    write_memories(memories, out)?;
    Ok((graph.entities.len(), graph.relations.len(), memories.len()))
}

fn write_memories(
    memories: &[MemoryRecord],
    out: &mut dyn std::io::Write,
) -> Result<(), ImportError> {
    let io = |e: std::io::Error| ImportError::Read {
        path: "output".into(),
        reason: e.to_string(),
    };
    for m in memories {
        let mut v = serde_json::to_value(m).map_err(|e| ImportError::Read {
            path: "output".into(),
            reason: e.to_string(),
        })?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("type".into(), "memory".into());
        }
        writeln!(out, "{v}").map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(())
}

/// Why an import failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}
