//! jq expressions (by jaq) over `serde_json` values: compiled once, run many times.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde_json::Value;

type D = data::JustLut<Val>;

/// A compiled jq program.
pub struct Jq {
    source: String,
    filter: jaq_core::Filter<D>,
}

impl std::fmt::Debug for Jq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Jq").field(&self.source).finish()
    }
}

impl Jq {
    /// Parse and compile; the error says what is wrong with the expression.
    pub fn compile(source: &str) -> Result<Self, String> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let program = File {
            code: source,
            path: (),
        };
        let modules = loader
            .load(&arena, program)
            .map_err(|errs| format!("jq syntax error in {source:?}: {}", describe(&errs)))?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| format!("jq error in {source:?}: {}", describe(&errs)))?;
        Ok(Self {
            source: source.to_string(),
            filter,
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every output of the program on `input`.
    pub fn run(&self, input: &Value) -> Result<Vec<Value>, String> {
        let text = serde_json::to_string(input).map_err(|e| e.to_string())?;
        let val = jaq_json::read::parse_single(text.as_bytes())
            .map_err(|e| format!("input is not JSON for jq: {e}"))?;
        let ctx = Ctx::<D>::new(&self.filter.lut, Vars::new([]));
        let mut out = Vec::new();
        for r in self.filter.id.run((ctx, val)).map(unwrap_valr) {
            let v = r.map_err(|e| format!("{}: {e}", self.source))?;
            let json: Value = serde_json::from_str(&v.to_string())
                .map_err(|e| format!("{}: produced a value that is not JSON ({e})", self.source))?;
            out.push(json);
        }
        Ok(out)
    }

    /// Exactly one output.
    pub fn run_one(&self, input: &Value) -> Result<Value, String> {
        let mut out = self.run(input)?;
        match out.len() {
            1 => Ok(out.remove(0)),
            0 => Err(format!("{}: produced no value", self.source)),
            n => Err(format!(
                "{}: produced {n} values, expected one",
                self.source
            )),
        }
    }
}

fn describe<T: std::fmt::Debug>(errs: &[T]) -> String {
    errs.iter()
        .map(|e| format!("{e:?}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn runs_jq_over_json() {
        let q = Jq::compile("{query: .inputs.company, n: (.steps.a.hits | length)}").unwrap();
        let out = q
            .run_one(&json!({"inputs": {"company": "Acme"}, "steps": {"a": {"hits": [1, 2, 3]}}}))
            .unwrap();
        assert_eq!(out, json!({"query": "Acme", "n": 3}));
        let q = Jq::compile(".xs | map(select(. > 1)) | add").unwrap();
        assert_eq!(q.run_one(&json!({"xs": [1, 2, 3]})).unwrap(), json!(5));
        let q = Jq::compile(r#""a \"quoted\" \(.n)""#).unwrap();
        assert_eq!(
            q.run_one(&json!({"n": 1.5})).unwrap(),
            json!("a \"quoted\" 1.5")
        );
    }

    #[test]
    fn syntax_and_runtime_errors_are_messages() {
        let e = Jq::compile("{a: .b").unwrap_err();
        assert!(e.contains("syntax"), "{e}");
        assert!(Jq::compile("nosuchfunction(1)").is_err());
        let q = Jq::compile(".a + 1").unwrap();
        assert!(q.run_one(&json!({"a": "x"})).is_err());
        assert!(Jq::compile(".[]").unwrap().run_one(&json!([1, 2])).is_err());
    }
}
