//! `sophia-memory import FILE.jsonl`: migrate a reference-server memory file. Idempotent; a
//! malformed line is reported with its line number and skipped; nothing else is lost.

use std::path::Path;

use serde::Deserialize;

use crate::model::{Entity, Relation};
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
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub lines: usize,
    pub entities_added: usize,
    pub observations_added: usize,
    pub relations_added: usize,
    /// (line number, reason) of every skipped line.
    pub skipped: Vec<(usize, String)>,
}

/// Parse `text` (JSONL) into entities and relations; malformed lines go to `skipped`.
pub fn parse(text: &str, report: &mut ImportReport) -> (Vec<Entity>, Vec<Relation>) {
    let mut entities = Vec::new();
    let mut relations = Vec::new();
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
            Err(e) => report.skipped.push((i + 1, e.to_string())),
        }
    }
    (entities, relations)
}

/// Import the file at `path` into `store`.
pub fn import_file(store: &mut Store, path: &Path) -> Result<ImportReport, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|e| ImportError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut report = ImportReport::default();
    let (entities, relations) = parse(&text, &mut report);
    let (e, o, r) = store.import(entities, relations)?;
    report.entities_added = e;
    report.observations_added = o;
    report.relations_added = r;
    Ok(report)
}

/// Why an import failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}
