//! Arguments checked against a tool's input schema before the tool is called. The subset of JSON
//! Schema that schemars writes for our tools and that other servers commonly use: `type` (one
//! or a list), `enum`, `const`, `required`, `properties`, `additionalProperties: false`, `items`,
//! `minimum`/`maximum` (plus one deliberate strictness: an argument not among `properties` is
//! refused unless `additionalProperties` allows it explicitly), local `$ref`s (`#/$defs/…`, `#/definitions/…`), `anyOf`/`oneOf` (one
//! branch must pass) and `allOf`. Keywords outside this subset are not checked (the server still
//! validates); what is checked is enough to refuse a wrong argument before anything runs.

use serde_json::Value;

/// Problems with `value` under `schema`, each with its path (`args.entities[0].name`).
pub fn check(schema: &Value, value: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    walk(schema, schema, value, "args", &mut errs, 0);
    errs
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        _ => true,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let path = reference.strip_prefix("#/")?;
    path.split('/').try_fold(root, |node, part| {
        node.get(part.replace("~1", "/").replace("~0", "~"))
    })
}

fn walk(root: &Value, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>, depth: usize) {
    // `true` / `{}` accept anything; a runaway recursive schema stops here.
    let Some(s) = schema.as_object() else { return };
    if depth > 64 {
        return;
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        match resolve(root, r) {
            Some(target) => walk(root, target, v, at, errs, depth + 1),
            None => errs.push(format!(
                "{at}: the schema refers to {r}, which it does not define"
            )),
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = s.get(key).and_then(Value::as_array) {
            let ok = branches.iter().any(|b| {
                let mut e = Vec::new();
                walk(root, b, v, at, &mut e, depth + 1);
                e.is_empty()
            });
            if !ok {
                errs.push(format!(
                    "{at}: {} matches none of the allowed forms",
                    kind(v)
                ));
            }
        }
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for b in all {
            walk(root, b, v, at, errs, depth + 1);
        }
    }
    let types: Vec<&str> = match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| type_matches(t, v)) {
        errs.push(format!(
            "{at}: expected {}, got {}",
            types.join(" or "),
            kind(v)
        ));
        return;
    }
    if let Some(choices) = s.get("enum").and_then(Value::as_array)
        && !choices.contains(v)
    {
        errs.push(format!(
            "{at}: {v} is not one of {}",
            Value::Array(choices.clone())
        ));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errs.push(format!("{at}: must be {c}"));
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = s.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            errs.push(format!("{at}: {n} is below the minimum {min}"));
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            errs.push(format!("{at}: {n} is above the maximum {max}"));
        }
    }
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(required) = s.get("required").and_then(Value::as_array) {
            for r in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    errs.push(format!("{at}.{r}: required, missing"));
                }
            }
        }
        for (k, item) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => walk(root, ps, item, &format!("{at}.{k}"), errs, depth + 1),
                // Stricter than JSON Schema on purpose: an argument the tool does not declare
                // is refused unless the schema allows extra ones explicitly. Servers ignore
                // unknown fields, so a misspelt argument would otherwise vanish silently.
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) | None if props.is_some() => {
                        let known: Vec<&String> =
                            props.map(|p| p.keys().collect()).unwrap_or_default();
                        errs.push(format!(
                            "{at}.{k}: unknown argument (known: {})",
                            known
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    Some(extra @ Value::Object(_)) => {
                        walk(root, extra, item, &format!("{at}.{k}"), errs, depth + 1)
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            walk(root, items, item, &format!("{at}[{i}]"), errs, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "entities": {"type": "array", "items": {"$ref": "#/$defs/Entity"}},
                "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": 100},
                "mode": {"type": "string", "enum": ["hybrid", "semantic"]},
                "filter": {"anyOf": [{"$ref": "#/$defs/Filter"}, {"type": "null"}]}
            },
            "required": ["entities"],
            "additionalProperties": false,
            "$defs": {
                "Entity": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
                "Filter": {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}}
            }
        })
    }

    #[test]
    fn good_arguments_pass() {
        let ok = json!({"entities": [{"name": "Acme"}], "limit": 5, "mode": "hybrid", "filter": {"tags": ["x"]}});
        assert_eq!(check(&schema(), &ok), Vec::<String>::new());
        assert!(
            check(
                &schema(),
                &json!({"entities": [], "limit": null, "filter": null})
            )
            .is_empty()
        );
    }

    #[test]
    fn each_kind_of_mistake_is_named_with_its_path() {
        let errs = check(
            &schema(),
            &json!({"entities": [{"nam": "Acme"}], "limit": 0, "mode": "fuzzy", "colour": 1, "filter": {"tags": [3]}}),
        );
        let all = errs.join("\n");
        for needle in [
            "args.entities[0].name: required, missing",
            "args.limit: 0 is below the minimum 1",
            "args.mode: \"fuzzy\" is not one of",
            "args.colour: unknown argument",
            "args.filter: an object matches none of the allowed forms",
        ] {
            assert!(all.contains(needle), "{needle} not in:\n{all}");
        }
        let errs = check(&schema(), &json!({"limit": "ten"}));
        assert!(
            errs.iter().any(|e| e == "args.entities: required, missing"),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.starts_with("args.limit: expected integer or null, got a string")),
            "{errs:?}"
        );
    }
}
