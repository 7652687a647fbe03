//! Workflows: typed chains of tool calls, without a model round-trip. A YAML file names typed
//! `inputs`, then `steps` that call `server.tool` with arguments built by jq expressions over the
//! inputs and earlier steps' structured results, optionally `foreach` over a list (bounded
//! concurrency, results in order) and `when` a condition holds; a step may instead ask the
//! configured LLM (`llm`: a jq expression producing the prompt, one chat completion, no tools);
//! `output` is a last jq expression. The format is documented in `docs/workflows.md`.
//!
//! Before anything runs the whole workflow is checked: unknown servers or tools, jq syntax, input
//! types, and every argument that depends only on the inputs against the target tool's input
//! schema. Arguments that depend on earlier steps are checked the same way just before their
//! call. A failing step stops the run and names the step, the tool and the error, unless it
//! says `on_error: continue`.

use std::collections::BTreeMap;

use futures::{StreamExt, stream};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::ask::{self, LlmConfig};
use crate::hub::Hub;
use crate::jq::Jq;
use crate::schema_check;

/// Most concurrent calls one `foreach` step makes.
pub const MAX_CONCURRENCY: usize = 16;
/// Concurrency of a `foreach` step that does not set one.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Completion tokens an `llm` step may use when it does not set `max_tokens`.
pub const DEFAULT_LLM_MAX_TOKENS: u64 = 1024;
/// Most completion tokens an `llm` step may ask for.
pub const MAX_LLM_MAX_TOKENS: u64 = 32_768;

/// A workflow file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowFile {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub inputs: BTreeMap<String, InputSpec>,
    pub steps: Vec<StepSpec>,
    /// jq over `{inputs, steps}`; the run's result (default: every step's result).
    #[serde(default)]
    pub output: Option<String>,
}

/// One typed input.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// `string`, `integer`, `number`, `boolean`, `array` or `object`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub default: Option<Value>,
    #[serde(default, rename = "enum")]
    pub choices: Option<Vec<Value>>,
}

/// One step as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Its name in `.steps.<id>`.
    pub id: String,
    /// `server.tool` (or `server__tool`).
    #[serde(default)]
    pub call: Option<String>,
    /// jq producing the arguments object (default `{}`).
    #[serde(default)]
    pub args: Option<String>,
    /// jq producing a list: the call runs once per element (`.item`, `.index`).
    #[serde(default)]
    pub foreach: Option<String>,
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// jq producing a boolean: the step runs only when it is true (else its result is null).
    #[serde(default)]
    pub when: Option<String>,
    /// jq producing the prompt for the configured LLM (a string is sent as is, anything else
    /// as JSON); the result is `{text, model, usage}`.
    #[serde(default)]
    pub llm: Option<String>,
    /// `llm` steps: completion tokens at most (default 1024).
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// `llm` steps: seconds the answer may take (default: the LLM client's, 300).
    #[serde(default)]
    pub timeout_seconds: Option<f64>,
    /// `stop` (default) or `continue` (the step's result becomes `{"error": "..."}`).
    #[serde(default)]
    pub on_error: Option<String>,
}

struct Step {
    spec: StepSpec,
    args: Option<Jq>,
    foreach: Option<Jq>,
    when: Option<Jq>,
    prompt: Option<Jq>,
}

/// A checked workflow, ready to run on a hub.
pub struct Workflow {
    pub file: WorkflowFile,
    steps: Vec<Step>,
    output: Option<Jq>,
    /// The model `llm` steps use, or why there is none.
    llm: Result<LlmConfig, String>,
}

/// Why a workflow did not run or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("{0}")]
    Load(String),
    #[error("the workflow is not valid:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
    #[error("step {step:?} ({tool}) failed: {error}")]
    Step {
        step: String,
        tool: String,
        error: String,
    },
    #[error("output: {0}")]
    Output(String),
}

/// What a run produced.
#[derive(Debug)]
pub struct RunReport {
    pub output: Value,
    /// `.steps` at the end.
    pub steps: Value,
    pub calls: usize,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false))
}

/// Whether a jq expression can depend on earlier steps or the current item.
fn dynamic(src: &str) -> bool {
    ["steps", "item", "index", "$"]
        .iter()
        .any(|w| src.contains(w))
}

fn input_matches(kind: &str, v: &Value) -> bool {
    match kind {
        "string" => v.is_string(),
        "integer" => v.as_i64().is_some(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    }
}

impl Workflow {
    /// Parse YAML and compile every expression (no server needed).
    pub fn parse(text: &str, origin: &str) -> Result<Self, WorkflowError> {
        let file: WorkflowFile = yaml_serde::from_str(text)
            .map_err(|e| WorkflowError::Load(format!("{origin} is not a workflow: {e}")))?;
        let mut errs = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (name, spec) in &file.inputs {
            if !["string", "integer", "number", "boolean", "array", "object"]
                .contains(&spec.kind.as_str())
            {
                errs.push(format!("input {name}: unknown type {:?}", spec.kind));
            }
            if let Some(d) = &spec.default
                && !input_matches(&spec.kind, d)
            {
                errs.push(format!("input {name}: default {d} is not a {}", spec.kind));
            }
        }
        let mut compile = |what: &str, src: &Option<String>| -> Option<Jq> {
            let src = src.as_deref()?;
            match Jq::compile(src) {
                Ok(q) => Some(q),
                Err(e) => {
                    errs.push(format!("{what}: {e}"));
                    None
                }
            }
        };
        let mut steps = Vec::new();
        for spec in &file.steps {
            let at = format!("step {:?}", spec.id);
            let step = Step {
                args: compile(&format!("{at} args"), &spec.args),
                foreach: compile(&format!("{at} foreach"), &spec.foreach),
                when: compile(&format!("{at} when"), &spec.when),
                prompt: compile(&format!("{at} llm"), &spec.llm),
                spec: spec.clone(),
            };
            steps.push(step);
        }
        let output = compile("output", &file.output);
        for spec in &file.steps {
            let at = format!("step {:?}", spec.id);
            if !valid_id(&spec.id) {
                errs.push(format!("{at}: ids use a-z, 0-9 and _"));
            }
            if !seen.insert(spec.id.clone()) {
                errs.push(format!("{at}: the id is used twice"));
            }
            match (&spec.call, &spec.llm) {
                (Some(_), Some(_)) => errs.push(format!("{at}: give either call or llm")),
                (None, None) => errs.push(format!("{at}: needs call (server.tool) or llm")),
                (None, Some(_)) => {
                    if spec.args.is_some() {
                        errs.push(format!("{at}: args belong to call steps; an llm step's prompt is its llm expression"));
                    }
                    if spec
                        .max_tokens
                        .is_some_and(|n| n == 0 || n > MAX_LLM_MAX_TOKENS)
                    {
                        errs.push(format!("{at}: max_tokens is 1 to {MAX_LLM_MAX_TOKENS}"));
                    }
                    if spec
                        .timeout_seconds
                        .is_some_and(|t| !t.is_finite() || t <= 0.0)
                    {
                        errs.push(format!("{at}: timeout_seconds must be a positive number"));
                    }
                }
                (Some(_), None) => {
                    if spec.max_tokens.is_some() || spec.timeout_seconds.is_some() {
                        errs.push(format!(
                            "{at}: max_tokens and timeout_seconds belong to llm steps (a call's \
                             timeout is the server's timeoutSeconds)"
                        ));
                    }
                }
            }
            if let Some(mode) = &spec.on_error
                && mode != "stop"
                && mode != "continue"
            {
                errs.push(format!("{at}: on_error is stop or continue, not {mode:?}"));
            }
            if spec
                .concurrency
                .is_some_and(|c| c == 0 || c > MAX_CONCURRENCY)
            {
                errs.push(format!("{at}: concurrency is 1 to {MAX_CONCURRENCY}"));
            }
        }
        if file.steps.is_empty() {
            errs.push("a workflow needs at least one step".into());
        }
        if !errs.is_empty() {
            return Err(WorkflowError::Invalid(errs));
        }
        Ok(Self {
            file,
            steps,
            output,
            llm: LlmConfig::from_lookup(|_| None),
        })
    }

    /// The model for `llm` steps (`LlmConfig::from_lookup` over the environment, in `main`), or
    /// why none is configured. Until this is called no model is configured, and a workflow
    /// with an `llm` step is refused at the check.
    pub fn set_llm(&mut self, llm: Result<LlmConfig, String>) {
        self.llm = llm;
    }

    /// Whether a step asks the LLM.
    pub fn uses_llm(&self) -> bool {
        self.file.steps.iter().any(|s| s.llm.is_some())
    }

    /// Read and parse a file.
    pub fn load(path: &std::path::Path) -> Result<Self, WorkflowError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| WorkflowError::Load(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The inputs as a JSON Schema (what a gateway offers as the workflow tool's input schema).
    pub fn input_schema(&self) -> Value {
        let mut props = Map::new();
        let mut required = Vec::new();
        for (name, spec) in &self.file.inputs {
            let mut p = json!({"type": spec.kind});
            if let Some(d) = &spec.description {
                p["description"] = json!(d);
            }
            if let Some(d) = &spec.default {
                p["default"] = d.clone();
            } else {
                required.push(json!(name));
            }
            if let Some(c) = &spec.choices {
                p["enum"] = json!(c);
            }
            props.insert(name.clone(), p);
        }
        json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
    }

    /// Apply defaults and check types; `given` holds what the caller passed.
    pub fn resolve_inputs(&self, given: &Map<String, Value>) -> Result<Value, WorkflowError> {
        let mut out = Map::new();
        let mut errs = Vec::new();
        for k in given.keys() {
            if !self.file.inputs.contains_key(k) {
                errs.push(format!(
                    "unknown input {k:?} (inputs: {})",
                    self.file
                        .inputs
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        for (name, spec) in &self.file.inputs {
            match given.get(name).or(spec.default.as_ref()) {
                Some(v) if input_matches(&spec.kind, v) => {
                    if let Some(c) = &spec.choices
                        && !c.contains(v)
                    {
                        errs.push(format!("input {name}: {v} is not one of {}", json!(c)));
                    }
                    out.insert(name.clone(), v.clone());
                }
                Some(v) => errs.push(format!("input {name}: {v} is not a {}", spec.kind)),
                None => errs.push(format!("input {name} is required ({})", spec.kind)),
            }
        }
        if errs.is_empty() {
            Ok(Value::Object(out))
        } else {
            Err(WorkflowError::Invalid(errs))
        }
    }

    /// Check the workflow against the connected servers: every tool exists and is up, every
    /// argument that depends only on the inputs fits its tool's input schema, `llm` steps have
    /// a model. Nothing is called.
    pub fn check(&self, hub: &Hub, inputs: &Value) -> Result<(), WorkflowError> {
        let mut errs = Vec::new();
        let ctx = json!({"inputs": inputs, "steps": {}});
        for step in &self.steps {
            let at = format!("step {:?}", step.spec.id);
            if let Some(prompt) = &step.prompt {
                if let Err(why) = &self.llm {
                    errs.push(format!("{at}: an llm step needs a model: {why}"));
                }
                if !dynamic(prompt.source())
                    && let Err(e) = prompt.run_one(&ctx)
                {
                    errs.push(format!("{at}: llm: {e}"));
                }
                continue;
            }
            let Some(target) = &step.spec.call else {
                continue;
            };
            let Some(tool) = hub.find(target) else {
                let known: Vec<String> = hub
                    .status()
                    .into_iter()
                    .map(|(s, st)| format!("{s} ({st})"))
                    .collect();
                errs.push(format!(
                    "{at}: no tool {target:?} among the connected servers: {}",
                    known.join(", ")
                ));
                continue;
            };
            if let Some(args) = &step.args
                && !dynamic(args.source())
            {
                match args.run_one(&ctx) {
                    Ok(v @ Value::Object(_)) => {
                        let schema = Value::Object((*tool.tool.input_schema).clone());
                        for e in schema_check::check(&schema, &v) {
                            errs.push(format!("{at} ({target}): {e}"));
                        }
                    }
                    Ok(other) => errs.push(format!("{at}: args must be an object, not {other}")),
                    Err(e) => errs.push(format!("{at}: args: {e}")),
                }
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(WorkflowError::Invalid(errs))
        }
    }

    /// What would run, without running it.
    pub fn plan(&self, inputs: &Value) -> Value {
        let ctx = json!({"inputs": inputs, "steps": {}});
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                let args = match &s.args {
                    Some(a) if !dynamic(a.source()) => a.run_one(&ctx).unwrap_or(Value::Null),
                    Some(a) => json!(format!("jq: {}", a.source())),
                    None => json!({}),
                };
                if let Some(p) = &s.prompt {
                    let prompt = if dynamic(p.source()) {
                        json!(format!("jq: {}", p.source()))
                    } else {
                        p.run_one(&ctx)
                            .map(|v| json!(prompt_text(&v)))
                            .unwrap_or(Value::Null)
                    };
                    return json!({
                        "id": s.spec.id,
                        "llm": prompt,
                        "model": self.llm.as_ref().map(|l| l.model.clone()).ok(),
                        "max_tokens": s.spec.max_tokens.unwrap_or(DEFAULT_LLM_MAX_TOKENS),
                        "foreach": s.spec.foreach,
                        "when": s.spec.when,
                        "on_error": s.spec.on_error.clone().unwrap_or_else(|| "stop".into()),
                    });
                }
                json!({
                    "id": s.spec.id,
                    "call": s.spec.call,
                    "foreach": s.spec.foreach,
                    "when": s.spec.when,
                    "args": args,
                    "on_error": s.spec.on_error.clone().unwrap_or_else(|| "stop".into()),
                })
            })
            .collect();
        json!({"workflow": self.file.name, "inputs": inputs, "steps": steps, "output": self.file.output})
    }

    /// Check, then run every step in order.
    pub async fn run(&self, hub: &Hub, inputs: Value) -> Result<RunReport, WorkflowError> {
        self.run_reporting(hub, inputs, &|_, _, _| {}).await
    }

    /// [`Workflow::run`], calling `on_step(done, total, step_id)` after each step (run or
    /// skipped by its `when`), e.g. to send progress notifications.
    pub async fn run_reporting(
        &self,
        hub: &Hub,
        inputs: Value,
        on_step: &(dyn Fn(usize, usize, &str) + Sync),
    ) -> Result<RunReport, WorkflowError> {
        self.check(hub, &inputs)?;
        let mut ctx = json!({"inputs": inputs, "steps": {}});
        let mut calls = 0;
        let total = self.steps.len();
        for (done, step) in self.steps.iter().enumerate() {
            let id = step.spec.id.clone();
            let tool = match &step.spec.call {
                Some(c) => c.clone(),
                None => format!(
                    "llm {}",
                    self.llm.as_ref().map(|l| l.model.as_str()).unwrap_or("")
                ),
            };
            let fail = |error: String| WorkflowError::Step {
                step: id.clone(),
                tool: tool.clone(),
                error,
            };
            if let Some(when) = &step.when {
                let go = when.run_one(&ctx).map_err(|e| fail(format!("when: {e}")))?;
                if !truthy(&go) {
                    ctx["steps"][&id] = Value::Null;
                    on_step(done + 1, total, &id);
                    continue;
                }
            }
            let continue_on_error = step.spec.on_error.as_deref() == Some("continue");
            let result = match &step.foreach {
                None => {
                    calls += 1;
                    match self.call_step(hub, step, &ctx).await {
                        Ok(v) => v,
                        Err(e) if continue_on_error => json!({"error": e}),
                        Err(e) => return Err(fail(e)),
                    }
                }
                Some(list) => {
                    let items = match list
                        .run_one(&ctx)
                        .map_err(|e| fail(format!("foreach: {e}")))?
                    {
                        Value::Array(a) => a,
                        other => {
                            return Err(fail(format!("foreach must produce a list, not {other}")));
                        }
                    };
                    let concurrency = step.spec.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
                    calls += items.len();
                    let results: Vec<Result<Value, String>> =
                        stream::iter(items.into_iter().enumerate())
                            .map(|(i, item)| {
                                let mut c = ctx.clone();
                                c["item"] = item;
                                c["index"] = json!(i);
                                async move { self.call_step(hub, step, &c).await }
                            })
                            .buffered(concurrency)
                            .collect()
                            .await;
                    let mut out = Vec::with_capacity(results.len());
                    for (i, r) in results.into_iter().enumerate() {
                        match r {
                            Ok(v) => out.push(v),
                            Err(e) if continue_on_error => out.push(json!({"error": e})),
                            Err(e) => return Err(fail(format!("item {i}: {e}"))),
                        }
                    }
                    Value::Array(out)
                }
            };
            ctx["steps"][&id] = result;
            on_step(done + 1, total, &id);
        }
        let output = match &self.output {
            Some(q) => q.run_one(&ctx).map_err(WorkflowError::Output)?,
            None => ctx["steps"].clone(),
        };
        Ok(RunReport {
            output,
            steps: ctx["steps"].clone(),
            calls,
        })
    }

    async fn call_step(&self, hub: &Hub, step: &Step, ctx: &Value) -> Result<Value, String> {
        if let Some(prompt) = &step.prompt {
            return self.llm_step(step, prompt, ctx).await;
        }
        let target = step.spec.call.as_deref().unwrap_or_default();
        let args = match &step.args {
            Some(q) => q.run_one(ctx).map_err(|e| format!("args: {e}"))?,
            None => json!({}),
        };
        if !args.is_object() {
            return Err(format!("args must be an object, not {args}"));
        }
        let tool = hub
            .find(target)
            .ok_or_else(|| format!("no tool {target:?}"))?;
        let schema = Value::Object((*tool.tool.input_schema).clone());
        let problems = schema_check::check(&schema, &args);
        if !problems.is_empty() {
            return Err(format!(
                "arguments do not fit the tool: {}",
                problems.join("; ")
            ));
        }
        let result = hub.call(target, args).await.map_err(|e| e.to_string())?;
        let text = || {
            result
                .content
                .iter()
                .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                .collect::<Vec<_>>()
                .join("\n")
        };
        if result.is_error == Some(true) {
            return Err(text());
        }
        Ok(match &result.structured_content {
            Some(v) => v.clone(),
            None => json!({"text": text()}),
        })
    }

    /// Render the prompt and ask the model once: `{text, model, usage}`.
    async fn llm_step(&self, step: &Step, prompt: &Jq, ctx: &Value) -> Result<Value, String> {
        let llm = self
            .llm
            .as_ref()
            .map_err(|why| format!("no model: {why}"))?;
        let rendered = prompt.run_one(ctx).map_err(|e| format!("llm: {e}"))?;
        let timeout = step
            .spec
            .timeout_seconds
            .map(std::time::Duration::from_secs_f64)
            .unwrap_or(llm.timeout);
        let max_tokens = step.spec.max_tokens.unwrap_or(DEFAULT_LLM_MAX_TOKENS);
        let answer = ask::complete_prompt(llm, &prompt_text(&rendered), max_tokens, timeout)
            .await
            .map_err(|e| e.to_string())?;
        Ok(json!({"text": answer.text, "model": answer.model, "usage": answer.usage}))
    }
}

/// A rendered prompt as the text sent: a string as is, anything else as JSON.
fn prompt_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
