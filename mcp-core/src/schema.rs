//! Schema snapshots: `schemas/<server>/<tool>.json` holds each tool's name, description, input
//! and output schema and annotations, generated from the router with sorted keys. A test calls
//! [`check_snapshots`]; drift fails it, `UPDATE_SCHEMAS=1` rewrites the files.

use std::path::Path;

use rmcp::model::Tool;
use serde_json::{Map, Value, json};

/// Recursively sort object keys so snapshots are stable.
pub fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out = Map::new();
            for (k, v) in entries {
                out.insert(k, sorted(v));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The snapshot of one tool.
pub fn snapshot(tool: &Tool) -> Value {
    sorted(json!({
        "name": tool.name,
        "title": tool.title,
        "description": tool.description,
        "inputSchema": tool.input_schema.as_ref(),
        "outputSchema": tool.output_schema.as_deref(),
        "annotations": tool.annotations,
    }))
}

/// Contract problems of a tool list: a missing description, no explicit `readOnlyHint`, or a
/// root `oneOf`/`anyOf`/`allOf` in an input schema (strict clients reject those).
pub fn lint(tools: &[Tool]) -> Vec<String> {
    let mut problems = Vec::new();
    for tool in tools {
        let name = &tool.name;
        if tool
            .description
            .as_deref()
            .is_none_or(|d| d.trim().is_empty())
        {
            problems.push(format!("{name}: no description"));
        }
        if tool
            .annotations
            .as_ref()
            .and_then(|a| a.read_only_hint)
            .is_none()
        {
            problems.push(format!("{name}: no explicit read_only_hint"));
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            if tool.input_schema.contains_key(key) {
                problems.push(format!("{name}: input schema has {key} at its root"));
            }
        }
        if tool.input_schema.get("type").and_then(Value::as_str) != Some("object") {
            problems.push(format!("{name}: input schema root is not type object"));
        }
    }
    problems
}

/// Compare (or with `UPDATE_SCHEMAS=1`, rewrite) the snapshots of `tools` in `dir`, and lint them.
/// Returns every problem found; a test asserts the list is empty.
pub fn check_snapshots(dir: &Path, tools: &[Tool]) -> Vec<String> {
    let update = std::env::var("UPDATE_SCHEMAS").is_ok_and(|v| v == "1");
    let mut problems = lint(tools);
    if update && let Err(e) = std::fs::create_dir_all(dir) {
        problems.push(format!("cannot create {}: {e}", dir.display()));
        return problems;
    }
    let mut expected_files = Vec::new();
    for tool in tools {
        let file = dir.join(format!("{}.json", tool.name));
        expected_files.push(file.clone());
        let Ok(mut text) = serde_json::to_string_pretty(&snapshot(tool)) else {
            problems.push(format!("{}: cannot serialise schema", tool.name));
            continue;
        };
        text.push('\n');
        if update {
            if let Err(e) = std::fs::write(&file, &text) {
                problems.push(format!("cannot write {}: {e}", file.display()));
            }
            continue;
        }
        match std::fs::read_to_string(&file) {
            Ok(on_disk) if on_disk == text => {}
            Ok(_) => problems.push(format!(
                "{} drifted from the code; run UPDATE_SCHEMAS=1 cargo test and review the diff",
                file.display()
            )),
            Err(_) => problems.push(format!(
                "{} is missing; run UPDATE_SCHEMAS=1 cargo test",
                file.display()
            )),
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") && !expected_files.contains(&path) {
                if update {
                    let _ = std::fs::remove_file(&path);
                } else {
                    problems.push(format!(
                        "{} has no tool any more; run UPDATE_SCHEMAS=1 cargo test",
                        path.display()
                    ));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rmcp::model::ToolAnnotations;

    use super::*;

    fn tool(name: &str, schema: Value, read_only: Option<bool>) -> Tool {
        let Value::Object(schema) = schema else {
            unreachable!()
        };
        let mut t = Tool::new(name.to_string(), "does things", Arc::new(schema));
        if let Some(ro) = read_only {
            t = t.annotate(ToolAnnotations::new().read_only(ro));
        }
        t
    }

    #[test]
    fn lint_catches_missing_hint_and_root_any_of() {
        let ok = tool("a", json!({"type":"object","properties":{}}), Some(true));
        let no_hint = tool("b", json!({"type":"object"}), None);
        let any_of = tool("c", json!({"type":"object","anyOf":[]}), Some(false));
        assert!(lint(&[ok]).is_empty());
        assert_eq!(lint(&[no_hint]), vec!["b: no explicit read_only_hint"]);
        assert_eq!(
            lint(&[any_of]),
            vec!["c: input schema has anyOf at its root"]
        );
    }

    #[test]
    fn snapshot_detects_drift() {
        let dir = tempfile::tempdir().unwrap();
        let t = tool(
            "a",
            json!({"type":"object","properties":{"x":{"type":"string"}}}),
            Some(true),
        );
        let text = serde_json::to_string_pretty(&snapshot(&t)).unwrap() + "\n";
        std::fs::write(dir.path().join("a.json"), text).unwrap();
        assert!(check_snapshots(dir.path(), std::slice::from_ref(&t)).is_empty());
        let changed = tool(
            "a",
            json!({"type":"object","properties":{"x":{"type":"integer"}}}),
            Some(true),
        );
        let problems = check_snapshots(dir.path(), &[changed]);
        assert!(problems[0].contains("drifted"), "{problems:?}");
        std::fs::write(dir.path().join("gone.json"), "{}").unwrap();
        let problems = check_snapshots(dir.path(), &[t]);
        assert!(
            problems.iter().any(|p| p.contains("gone.json")),
            "{problems:?}"
        );
    }
}
