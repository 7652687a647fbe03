//! Semantic memory benchmark (issue 3): `semantic_search` and ingest on a synthetic corpus of
//! realistic business sentences (100k by default) with all-MiniLM-L6-v2 vectors, against
//! Chroma's local persistent client on the same vectors and query vectors.
//!
//! ```text
//! cargo bench -p sophia-memory --bench semantic
//! ```
//!
//! What runs, in one process and one run:
//! 1. A deterministic corpus (templates × vocabularies) and paraphrase-like queries, one per
//!    sampled corpus sentence. Vectors come from the real model (`MiniLm::embed_blocking`),
//!    computed once and cached in `target/bench-cache/semantic-<corpus hash>/` (binary
//!    little-endian f32; resumable). Query vectors are embedded one text at a time, as the
//!    server embeds a query.
//! 2. Exact ground truth: brute force in f64 over every corpus vector.
//! 3. Library (in-process, `Store` API): ingest of the precomputed vectors (`memory_put`, batches
//!    of 1000, with ids), then the search parts one by one on a freshly opened store:
//!    `memory_vector` (the exact scan), `memory_keyword` (FTS5 BM25), `memory_rows`, and the
//!    query embedding alone. Ingest with embeddings: MiniLM batches + `memory_put` on a fresh store.
//! 4. MCP (the `sophia-memory` binary as a child process, raw JSON-RPC on stdio,
//!    `SOPHIA_EMBEDDER=minilm`): `semantic_search` end to end in hybrid, semantic and keyword
//!    modes, the server embedding each query itself; `store_memory` one memory per call,
//!    sequential then pipelined, into the populated store.
//! 5. Chroma (`benches/chroma_peer.py`, chromadb 1.5.9 in `target/bench-venv`): ingest and
//!    query in two separate Python processes, recall@10 scored here against the same truth.
//!
//! Environment: `BENCH_SEM_N` (100000), `BENCH_SEM_QUERIES` (200), `BENCH_SEM_EMBED_INGEST`
//! (2000 memories for the batched-with-embeddings ingest), `BENCH_SEM_STORE_CALLS` (200
//! sequential store_memory calls, then as many pipelined), `BENCH_SEM_WINDOW` (32 in flight),
//! `SOPHIA_MEMORY_BIN`, `SOPHIA_EMBEDDER_MODEL_DIR` (default: `.ci/fetch-model.sh`),
//! `BENCH_CACHE_DIR` (default `target/bench-cache`), `CHROMA_PYTHON` (default
//! `target/bench-venv/bin/python`, created with the pinned versions when missing),
//! `BENCH_SEM_SKIP_CHROMA=1`.
//!
//! Not a timed test: it prints a markdown report and exits 0 unless sophia-memory itself fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sophia_memory::embed::minilm::{self, MiniLm};
use sophia_memory::store::memories::{MemoryFilter, NewMemory, norm_key};
use sophia_memory::{Durability, Store};

type Res<T> = Result<T, Box<dyn Error>>;

const DIM: usize = minilm::DIMENSION;
/// Hits per query (semantic_search's default top_k, Chroma's n_results).
const K: usize = 10;
/// What semantic_search asks each ranking for at top_k 10: `max(4k, 40)`.
const POOL: usize = 40;
/// A returned item whose true score is within this of the 10th true score counts as a hit.
const TIE: f64 = 1e-5;
const NAMESPACE: &str = "default";
const CHROMA_VERSION: &str = "1.5.9";
const NUMPY_VERSION: &str = "2.4.6";
const INIT_TIMEOUT: Duration = Duration::from_secs(120);
const CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Memories written in-process at the end to split store_memory's time (half without an id).
const BREAKDOWN: usize = 100;

// ---------------------------------------------------------------------------------------------
// Corpus

/// splitmix64: small, deterministic, good enough to pick words.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn pick(&mut self, xs: &[&str]) -> String {
        xs[self.below(xs.len())].to_string()
    }
}

const FIRST: &[&str] = &[
    "Maria", "James", "Aisha", "Chen", "Lukas", "Priya", "Diego", "Sofia", "Kenji", "Fatima",
    "Oliver", "Amara", "Mateo", "Ingrid", "Ravi", "Chloe", "Tomasz", "Yara", "Samuel", "Elena",
    "Hiro", "Nadia", "Connor", "Leila", "Andre", "Mei", "Jonas", "Zara", "Pedro", "Hannah", "Omar",
    "Lucia", "Felix", "Anika", "Marco", "Grace", "Ivan", "Noor", "Ethan", "Rosa",
];
const LAST: &[&str] = &[
    "Silva",
    "Okafor",
    "Nguyen",
    "Schmidt",
    "Patel",
    "Garcia",
    "Kowalski",
    "Tanaka",
    "Haddad",
    "Johansson",
    "Rossi",
    "Mensah",
    "Dubois",
    "Kim",
    "Fischer",
    "Moreau",
    "Costa",
    "Ibrahim",
    "Larsen",
    "Novak",
    "Walsh",
    "Sato",
    "Mendes",
    "Berg",
    "Alvarez",
    "Chandra",
    "Quinn",
    "Reyes",
    "Hoffmann",
    "Adeyemi",
];
const ACCOUNT_ROOT: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Aperture",
    "Oscorp",
    "Massive Dynamic",
    "Pied Piper",
    "Gringotts",
    "Monarch",
    "Nakatomi",
    "Dunder Mifflin",
    "Blue Sun",
    "Virtucon",
    "Gekko",
    "Prestige",
    "Sterling",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Litware",
    "Adatum",
    "Proseware",
    "Wingtip",
    "Lamna",
    "Fourth Coffee",
    "Alpine",
    "Coho",
    "Margie",
    "Trey",
    "Woodgrove",
];
const ACCOUNT_KIND: &[&str] = &[
    "Corp",
    "Bank",
    "Health",
    "Logistics",
    "Retail",
    "Energy",
    "Labs",
    "Insurance",
    "Media",
    "Foods",
];
const PRODUCT: &[&str] = &[
    "Analytics Cloud",
    "Data Pipeline",
    "Sales Hub",
    "Support Desk",
    "Billing Engine",
    "Identity Suite",
    "Mobile SDK",
    "Search API",
    "Forecasting",
    "Workflow Studio",
    "Observability",
    "Data Warehouse",
];
const FEATURE: &[&str] = &[
    "SSO",
    "audit logs",
    "CSV export",
    "the dashboard builder",
    "role-based access",
    "the Slack integration",
    "scheduled reports",
    "the REST API",
    "bulk import",
    "real-time alerts",
    "custom fields",
    "the mobile app",
    "usage-based billing",
    "the forecasting model",
    "data retention controls",
    "the sandbox environment",
    "webhooks",
    "two-factor login",
    "the admin console",
    "PDF invoices",
];
const ISSUE: &[&str] = &[
    "slow page loads",
    "a data sync bug",
    "missing audit logs",
    "SSO login failures",
    "API rate limits",
    "high latency in Europe",
    "a billing error",
    "timeouts on large exports",
    "a long security questionnaire",
    "GDPR concerns",
    "the lack of a sandbox",
    "duplicate records",
    "broken webhooks",
    "the migration tooling",
    "unclear pricing",
    "poor documentation",
    "a failed integration test",
    "mobile app crashes",
    "permission errors",
    "inaccurate reports",
];
const COMPETITOR: &[&str] = &[
    "Salesforce",
    "HubSpot",
    "Zendesk",
    "Snowflake",
    "Datadog",
    "Okta",
    "Stripe",
    "Databricks",
    "ServiceNow",
    "Looker",
];
const ROLE: &[&str] = &[
    "CFO",
    "CTO",
    "VP of Sales",
    "head of procurement",
    "IT director",
    "data team lead",
    "security officer",
    "operations manager",
    "CIO",
    "head of support",
    "product manager",
    "finance controller",
];
const TEAM: &[&str] = &[
    "finance",
    "marketing",
    "sales",
    "support",
    "engineering",
    "data",
    "security",
    "operations",
    "legal",
    "HR",
];
const REGION: &[&str] = &[
    "EMEA",
    "APAC",
    "North America",
    "LATAM",
    "Germany",
    "Japan",
    "Brazil",
    "India",
    "the UK",
    "Australia",
];
const DAY: &[&str] = &["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];
const MONTH: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const INTEGRATION: &[&str] = &[
    "SAP",
    "Workday",
    "Jira",
    "Snowflake",
    "Microsoft Teams",
    "NetSuite",
    "Google Sheets",
    "ServiceNow",
    "Zapier",
    "Tableau",
];
const REASON: &[&str] = &[
    "ease of use",
    "better pricing",
    "faster support",
    "the API quality",
    "reliability",
    "the roadmap",
    "security certifications",
    "onboarding speed",
];
const YEARS: &[&str] = &["two", "three", "four", "five"];
const NETDAYS: &[&str] = &["30", "45", "60", "90", "120"];

/// (corpus sentence, paraphrase-like query about it). Every query placeholder is one of its
/// sentence's, so the query is about that sentence.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "{person} from {account} said the {product} rollout is blocked by {issue}.",
        "what is holding up the {product} deployment at {account}?",
    ),
    (
        "On {day}'s call, {account} asked for a {percent}% discount on their {product} renewal.",
        "{account} wants a price reduction when renewing {product}",
    ),
    (
        "{account} renewed {product} for {years} years at ${amount}k ARR.",
        "did {account} sign a multi-year {product} contract?",
    ),
    (
        "{person}, the {role} at {account}, is evaluating {competitor} because of {issue}.",
        "is {account} looking at {competitor} as an alternative?",
    ),
    (
        "Support ticket from {account}: {feature} fails intermittently in {region}.",
        "{account} reports {feature} is flaky in {region}",
    ),
    (
        "The {role} at {account} praised {feature} in {product} during the quarterly business review.",
        "positive feedback from {account} about {feature}",
    ),
    (
        "Churn risk: {account} usage of {product} dropped {percent}% in {quarter}.",
        "is {account} at risk of leaving {product}?",
    ),
    (
        "{person} wants a demo of {feature} for the {team} team at {account} next {day}.",
        "{account} {team} team asked to see {feature} demonstrated",
    ),
    (
        "Legal at {account} is still reviewing the {product} contract; redlines are expected by {day}.",
        "status of the legal review of the {product} agreement with {account}",
    ),
    (
        "{account} reported that {feature} is slow for files over {num} MB.",
        "performance complaints from {account} about {feature} with big files",
    ),
    (
        "Pricing objection from {account}: {product} costs more per seat than {competitor}.",
        "{account} thinks {product} is more expensive than {competitor}",
    ),
    (
        "{person} confirmed {account} will expand to {seats} seats of {product} in {quarter}.",
        "is {account} planning to buy more {product} licenses?",
    ),
    (
        "The {team} team at {account} is frustrated with {issue} in {product}.",
        "{account} {team} people unhappy about {issue}",
    ),
    (
        "{account}'s security review flagged {issue}; {person} owns the follow-up.",
        "who is following up on the {account} security review findings?",
    ),
    (
        "Invoice dispute: {account} was billed twice for {product} in {month}.",
        "{account} double charged for {product}",
    ),
    (
        "{person} introduced us to the {role} at {account}, who controls the {team} budget.",
        "who holds the {team} budget at {account}?",
    ),
    (
        "{account} wants {feature} before moving {product} to production.",
        "what does {account} need to go live with {product}?",
    ),
    (
        "Onboarding for {account} slipped {num} weeks because their {role} left the company.",
        "why is the {account} onboarding delayed?",
    ),
    (
        "{account} compared our {feature} with {competitor}'s and preferred ours for {reason}.",
        "why did {account} prefer us over {competitor}?",
    ),
    (
        "Feature request from {account}: {feature} support for {integration}.",
        "{account} asked for a {integration} integration",
    ),
    (
        "{person} said {account} chose {competitor} over {product} due to {issue}.",
        "lost deal: why did {account} go with {competitor}?",
    ),
    (
        "The outage on {day} affected {account}; {feature} in {product} was down for {minutes} minutes.",
        "was {account} impacted by the {product} incident?",
    ),
    (
        "{account} signed a pilot of {product} with {seats} users in {region}.",
        "{account} trial of {product} in {region}",
    ),
    (
        "Our champion at {account}, {person}, is moving to a new role in {quarter}.",
        "is our main contact at {account} leaving?",
    ),
    (
        "{account} procurement requires net {netdays} payment terms for {product}.",
        "payment terms requested by {account} purchasing",
    ),
    (
        "NPS survey: {account} rated {product} {score} out of 10, citing {reason}.",
        "how satisfied is {account} with {product}?",
    ),
    (
        "{person} at {account} asked whether {product} can integrate with {integration} by {quarter}.",
        "can {product} connect to {integration} for {account}?",
    ),
    (
        "Escalation: {account} threatens to cancel {product} unless {issue} is fixed by {day}.",
        "{account} may cancel {product} over {issue}",
    ),
    (
        "Upsell opportunity at {account}: the {team} team needs {feature}.",
        "expansion potential at {account} for {feature}",
    ),
    (
        "{account} completed the {product} migration from {competitor} ahead of schedule.",
        "did {account} finish moving off {competitor}?",
    ),
    (
        "A budget freeze at {account} pushes the {product} deal to {quarter}.",
        "why was the {account} {product} opportunity delayed?",
    ),
    (
        "{person} at {account} says {feature} saves the {team} team {hours} hours a week.",
        "time savings {account} gets from {feature}",
    ),
    (
        "{account} asked for a {region} data residency option for {product}.",
        "does {account} need {product} data stored in {region}?",
    ),
    (
        "The renewal call with {account} went well; {person} wants a multi-year quote for {product}.",
        "{account} interested in a longer {product} contract",
    ),
    (
        "{account}'s {role} complained that {product} support responses take over {hours} hours.",
        "{account} unhappy with how slow {product} support is",
    ),
    (
        "The health score for {account} improved after the {feature} training session.",
        "did training help the {account} account?",
    ),
];

fn slot_value(name: &str, rng: &mut Rng) -> String {
    match name {
        "person" => format!("{} {}", rng.pick(FIRST), rng.pick(LAST)),
        "account" => format!("{} {}", rng.pick(ACCOUNT_ROOT), rng.pick(ACCOUNT_KIND)),
        "product" => rng.pick(PRODUCT),
        "feature" => rng.pick(FEATURE),
        "issue" => rng.pick(ISSUE),
        "competitor" => rng.pick(COMPETITOR),
        "role" => rng.pick(ROLE),
        "team" => rng.pick(TEAM),
        "region" => rng.pick(REGION),
        "day" => rng.pick(DAY),
        "month" => rng.pick(MONTH),
        "integration" => rng.pick(INTEGRATION),
        "reason" => rng.pick(REASON),
        "years" => rng.pick(YEARS),
        "netdays" => rng.pick(NETDAYS),
        "quarter" => format!("Q{} {}", rng.range(1, 4), rng.range(2025, 2027)),
        "num" => rng.range(2, 500).to_string(),
        "percent" => rng.range(5, 60).to_string(),
        "amount" => rng.range(12, 950).to_string(),
        "score" => rng.range(0, 10).to_string(),
        "hours" => rng.range(2, 72).to_string(),
        "minutes" => rng.range(5, 240).to_string(),
        "seats" => rng.range(10, 5000).to_string(),
        other => format!("<{other}?>"),
    }
}

/// Fill `{name}` placeholders, reusing values already in `slots` (so a query gets its
/// sentence's values) and drawing the others.
fn fill(template: &str, slots: &mut Vec<(String, String)>, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let name = &rest[open + 1..open + close];
        let value = match slots.iter().find(|(n, _)| n == name) {
            Some((_, v)) => v.clone(),
            None => {
                let v = slot_value(name, rng);
                slots.push((name.to_string(), v.clone()));
                v
            }
        };
        out.push_str(&value);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

struct Corpus {
    texts: Vec<String>,
    queries: Vec<String>,
    /// The corpus sentence each query paraphrases.
    sources: Vec<usize>,
    /// Further unique sentences (not in the store) for the store_memory runs.
    extra: Vec<String>,
}

/// `n` unique sentences (unique after the server's own normalisation), `q` queries and `extra`
/// more sentences, from a fixed seed. Every query placeholder is one of its sentence's, so
/// queries draw nothing from the generator: the first `n` sentences depend only on `n`.
fn build_corpus(n: usize, q: usize, extra: usize) -> Corpus {
    let mut rng = Rng(0x5EED_5E4A_471C_0001);
    let step = (n / q.max(1)).max(1);
    let wanted: HashMap<usize, usize> = (0..q)
        .map(|k| (k * step + (k * 7919) % step, k))
        .filter(|(i, _)| *i < n)
        .collect();
    let mut seen = HashSet::with_capacity(n + extra);
    let mut texts = Vec::with_capacity(n + extra);
    let mut queries = Vec::with_capacity(q);
    let mut sources = Vec::with_capacity(q);
    let mut by_k: Vec<Option<(String, usize)>> = vec![None; q];
    while texts.len() < n + extra {
        let (tpl, qtpl) = TEMPLATES[rng.below(TEMPLATES.len())];
        let mut slots = Vec::new();
        let text = fill(tpl, &mut slots, &mut rng);
        if !seen.insert(norm_key(&text)) {
            continue;
        }
        let i = texts.len();
        if let Some(&k) = wanted.get(&i) {
            by_k[k] = Some((fill(qtpl, &mut slots, &mut rng), i));
        }
        texts.push(text);
    }
    for (query, source) in by_k.into_iter().flatten() {
        queries.push(query);
        sources.push(source);
    }
    let extra = texts.split_off(n);
    Corpus {
        texts,
        queries,
        sources,
        extra,
    }
}

/// FNV-1a over the corpus and the queries: the cache key.
fn corpus_hash(c: &Corpus) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01B3);
        }
    };
    eat(minilm::ID.as_bytes());
    for t in c.texts.iter().chain(&c.queries) {
        eat(t.as_bytes());
        eat(b"\n");
    }
    h
}

// ---------------------------------------------------------------------------------------------
// Vectors: computed once, cached

fn read_f32(path: &Path) -> Res<Vec<f32>> {
    let bytes = std::fs::read(path)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn f32_bytes(vs: &[Vec<f32>]) -> Vec<u8> {
    vs.iter()
        .flat_map(|v| v.iter().flat_map(|x| x.to_le_bytes()))
        .collect()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

struct CacheInfo {
    dir: PathBuf,
    /// Texts embedded in this run (0 when the cache was reused).
    embedded_now: usize,
    /// The batched embedding rate when the corpus vectors were computed (texts/s), and when.
    build: Option<(f64, String)>,
}

/// Corpus vectors (n × DIM) and query vectors (q × DIM), from the cache or the model.
fn vectors(model: &MiniLm, c: &Corpus, root: &Path) -> Res<(Vec<f32>, Vec<f32>, CacheInfo)> {
    let dir = root.join(format!("semantic-{:016x}", corpus_hash(c)));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("corpus.txt"), c.texts.join("\n"))?;
    std::fs::write(dir.join("queries.txt"), c.queries.join("\n"))?;
    let row = (DIM * 4) as u64;
    let full = dir.join("corpus.f32");
    let mut embedded_now = 0;
    if file_len(&full) != c.texts.len() as u64 * row {
        let part = dir.join("corpus.f32.partial");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&part)?;
        let mut done = (file_len(&part) / row) as usize;
        file.set_len(done as u64 * row)?;
        let started = Instant::now();
        eprintln!(
            "embedding {} corpus texts with MiniLM (resuming at {done}); cached in {}",
            c.texts.len(),
            dir.display()
        );
        let mut last_report = Instant::now();
        for chunk in c.texts[done..].chunks(512) {
            let vs = model.embed_blocking(chunk)?;
            file.write_all(&f32_bytes(&vs))?;
            done += chunk.len();
            embedded_now += chunk.len();
            if last_report.elapsed() > Duration::from_secs(15) {
                let rate = embedded_now as f64 / started.elapsed().as_secs_f64();
                eprintln!("  {done}/{} ({rate:.0} texts/s)", c.texts.len());
                last_report = Instant::now();
            }
        }
        file.sync_all()?;
        drop(file);
        let secs = started.elapsed().as_secs_f64();
        std::fs::rename(&part, &full)?;
        let meta = json!({
            "texts": embedded_now,
            "secs": secs,
            "texts_per_sec": embedded_now as f64 / secs,
            "batch": 512,
            "date": shell("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
            "model": minilm::ID,
        });
        std::fs::write(dir.join("embed.json"), serde_json::to_string_pretty(&meta)?)?;
    }
    let qfile = dir.join("queries.f32");
    if file_len(&qfile) != c.queries.len() as u64 * row {
        // One text per call, as the server embeds a query.
        let mut vs = Vec::with_capacity(c.queries.len());
        for q in &c.queries {
            vs.extend(model.embed_blocking(std::slice::from_ref(q))?);
        }
        std::fs::write(&qfile, f32_bytes(&vs))?;
    }
    let build = std::fs::read_to_string(dir.join("embed.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|m| {
            Some((
                m.get("texts_per_sec")?.as_f64()?,
                format!(
                    "{} texts in {:.0} s, {}",
                    m.get("texts")?.as_u64()?,
                    m.get("secs")?.as_f64()?,
                    m.get("date")?.as_str()?
                ),
            ))
        });
    let corpus = read_f32(&full)?;
    let queries = read_f32(&qfile)?;
    Ok((
        corpus,
        queries,
        CacheInfo {
            dir,
            embedded_now,
            build,
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// Exact ground truth and recall

fn dot64(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((s, p), q) in acc.iter_mut().zip(x).zip(y) {
            *s += f64::from(*p) * f64::from(*q);
        }
    }
    let tail: f64 = ra
        .iter()
        .zip(rb)
        .map(|(p, q)| f64::from(*p) * f64::from(*q))
        .sum();
    acc.iter().sum::<f64>() + tail
}

/// Keep the best `k` of (index, score), best first.
fn push_top<T: PartialOrd + Copy>(best: &mut Vec<(usize, T)>, k: usize, i: usize, s: T) {
    if best.len() == k && best.last().is_some_and(|(_, w)| s <= *w) {
        return;
    }
    let at = best.partition_point(|(_, x)| *x >= s);
    best.insert(at, (i, s));
    best.truncate(k);
}

/// Exact top-k per query, f64 accumulation, both cores.
fn ground_truth(corpus: &[f32], queries: &[f32], k: usize) -> Vec<Vec<(usize, f64)>> {
    let qs: Vec<&[f32]> = queries.chunks_exact(DIM).collect();
    let half = qs.len().div_ceil(2).max(1);
    thread::scope(|scope| {
        let handles: Vec<_> = qs
            .chunks(half)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|q| {
                            let mut best = Vec::with_capacity(k + 1);
                            for (i, row) in corpus.chunks_exact(DIM).enumerate() {
                                push_top(&mut best, k, i, dot64(row, q));
                            }
                            best
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// (tie-aware hits, strict hits) of `got` (first K) against `truth`.
fn recall_hits(got: &[usize], truth: &[(usize, f64)], corpus: &[f32], q: &[f32]) -> (usize, usize) {
    let Some(&(_, tenth)) = truth.last() else {
        return (0, 0);
    };
    let set: HashSet<usize> = truth.iter().map(|(i, _)| *i).collect();
    let mut tie = 0;
    let mut strict = 0;
    for &i in got.iter().take(truth.len()) {
        if set.contains(&i) {
            strict += 1;
            tie += 1;
        } else if i < corpus.len() / DIM && dot64(&corpus[i * DIM..(i + 1) * DIM], q) >= tenth - TIE
        {
            tie += 1;
        }
    }
    (tie, strict)
}

#[derive(Default, Clone, Copy)]
struct Recall {
    tie: f64,
    strict: f64,
}

fn recall(
    results: &[Vec<usize>],
    truth: &[Vec<(usize, f64)>],
    corpus: &[f32],
    queries: &[f32],
) -> Recall {
    let (mut tie, mut strict, mut total) = (0, 0, 0);
    for (qi, got) in results.iter().enumerate() {
        let q = &queries[qi * DIM..(qi + 1) * DIM];
        let (t, s) = recall_hits(got, &truth[qi], corpus, q);
        tie += t;
        strict += s;
        total += truth[qi].len();
    }
    let total = total.max(1) as f64;
    Recall {
        tie: tie as f64 / total,
        strict: strict as f64 / total,
    }
}

/// Share of queries whose paraphrased sentence is among the hits.
fn source_hits(results: &[Vec<usize>], sources: &[usize]) -> f64 {
    let hit = results
        .iter()
        .zip(sources)
        .filter(|(got, s)| got.iter().take(K).any(|i| i == *s))
        .count();
    hit as f64 / results.len().max(1) as f64
}

fn memory_index(id: &str) -> Option<usize> {
    id.strip_prefix('m')?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Stats

#[derive(Default, Clone, Copy)]
struct Stats {
    p50: f64,
    p99: f64,
    mean: f64,
}

/// Milliseconds; nearest-rank percentiles.
fn stats(times: &[Duration]) -> Stats {
    stats_ms(times.iter().map(|d| d.as_secs_f64() * 1e3).collect())
}

fn stats_ms(mut ms: Vec<f64>) -> Stats {
    ms.sort_by(f64::total_cmp);
    if ms.is_empty() {
        return Stats::default();
    }
    let rank = |p: f64| ms[((p / 100.0 * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    Stats {
        p50: rank(50.0),
        p99: rank(99.0),
        mean: ms.iter().sum::<f64>() / ms.len() as f64,
    }
}

// ---------------------------------------------------------------------------------------------
// Library (in-process) measurements

struct Library {
    ingest_plain: Duration,
    db_bytes: u64,
    first_vector: Duration,
    vector: Stats,
    vector_recall: Recall,
    keyword: Stats,
    rows: Stats,
    expiring_probe: Stats,
    embed_query: Stats,
    embed_ingest: (usize, Duration, Duration),
    whatif: Vec<(String, Stats, Recall)>,
    sql: WhatIfSql,
}

fn new_memory(i: usize, text: &str, v: Vec<f32>) -> NewMemory {
    NewMemory {
        id: Some(format!("m{i:06}")),
        namespace: NAMESPACE.into(),
        content: text.to_string(),
        embedding: Some((minilm::ID.to_string(), v)),
        ..Default::default()
    }
}

/// Ingest the precomputed vectors into `db` (batches of 1000, with ids so no near-duplicate
/// scan), then measure each search part on a freshly opened store.
fn library_phase(
    db: &Path,
    model: &MiniLm,
    c: &Corpus,
    corpus: &[f32],
    qv: &[f32],
    truth: &[Vec<(usize, f64)>],
    embed_ingest_n: usize,
) -> Res<Library> {
    let n = c.texts.len();
    eprintln!("library: ingest {n} memories with precomputed vectors");
    let mut store = Store::open(db, Durability::Full)?;
    let started = Instant::now();
    for start in (0..n).step_by(1000) {
        let end = (start + 1000).min(n);
        let items: Vec<NewMemory> = (start..end)
            .map(|i| new_memory(i, &c.texts[i], corpus[i * DIM..(i + 1) * DIM].to_vec()))
            .collect();
        let out = store.memory_put(items, 0.97)?;
        if out.iter().any(|o| o.action != "created") {
            return Err(format!("ingest: a memory was not created: {:?}", out.first()).into());
        }
    }
    let ingest_plain = started.elapsed();
    drop(store);
    let db_bytes = file_len(db) + file_len(&db.with_extension("db-wal"));

    // A fresh store: the first vector search loads the 100k vectors from SQLite.
    let mut store = Store::open(db, Durability::Full)?;
    let filter = MemoryFilter::default();
    let q0 = &qv[..DIM];
    let t = Instant::now();
    store.memory_vector(q0, Some(NAMESPACE), &filter, POOL)?;
    let first_vector = t.elapsed();

    eprintln!("library: search parts");
    let nq = c.queries.len();
    for i in 0..10.min(nq) {
        store.memory_vector(&qv[i * DIM..(i + 1) * DIM], Some(NAMESPACE), &filter, POOL)?;
        store.memory_keyword(&c.queries[i], Some(NAMESPACE), &filter, POOL)?;
    }
    let (mut tv, mut tk, mut tr) = (Vec::new(), Vec::new(), Vec::new());
    let mut results = Vec::with_capacity(nq);
    for (i, query) in c.queries.iter().enumerate() {
        let q = &qv[i * DIM..(i + 1) * DIM];
        let t = Instant::now();
        let hits = store.memory_vector(q, Some(NAMESPACE), &filter, POOL)?;
        tv.push(t.elapsed());
        let t = Instant::now();
        store.memory_keyword(query, Some(NAMESPACE), &filter, POOL)?;
        tk.push(t.elapsed());
        let top: Vec<i64> = hits.iter().take(K).map(|(r, _)| *r).collect();
        let t = Instant::now();
        let rows = store.memory_rows(&top)?;
        tr.push(t.elapsed());
        results.push(
            top.iter()
                .filter_map(|r| rows.get(r).and_then(|m| memory_index(&m.id)))
                .collect::<Vec<_>>(),
        );
    }
    let vector_recall = recall(&results, truth, corpus, qv);
    drop(store);

    // The one SQL statement memory_vector runs on every call besides the revision check.
    let conn = rusqlite::Connection::open(db)?;
    conn.execute_batch("PRAGMA cache_size=-512;")?;
    let mut probe = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let _: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM memories WHERE expires_at IS NOT NULL)",
            [],
            |r| r.get(0),
        )?;
        probe.push(t.elapsed());
    }
    drop(conn);

    eprintln!("library: query embedding alone");
    let mut te = Vec::new();
    for q in &c.queries {
        let t = Instant::now();
        model.embed_blocking(std::slice::from_ref(q))?;
        te.push(t.elapsed());
    }

    eprintln!("library: ingest {embed_ingest_n} memories with embeddings (batched)");
    let dir = tempfile::tempdir()?;
    let mut fresh = Store::open(&dir.path().join("memory.db"), Durability::Full)?;
    let m = embed_ingest_n.min(n);
    let mut embed_time = Duration::ZERO;
    let started = Instant::now();
    for start in (0..m).step_by(256) {
        let end = (start + 256).min(m);
        let t = Instant::now();
        let vs = model.embed_blocking(&c.texts[start..end])?;
        embed_time += t.elapsed();
        let items = vs
            .into_iter()
            .enumerate()
            .map(|(j, v)| new_memory(start + j, &c.texts[start + j], v))
            .collect();
        fresh.memory_put(items, 0.97)?;
    }
    let embed_ingest = (m, started.elapsed(), embed_time);
    drop(fresh);

    eprintln!("library: what-if kernels");
    let whatif = whatif_kernels(corpus, qv, truth);

    eprintln!("library: what-if SQL");
    let sql = whatif_sql(db, c, corpus, qv, truth)?;

    Ok(Library {
        ingest_plain,
        db_bytes,
        first_vector,
        vector: stats(&tv),
        vector_recall,
        keyword: stats(&tk),
        rows: stats(&tr),
        expiring_probe: stats(&probe),
        embed_query: stats(&te),
        embed_ingest,
        whatif,
        sql,
    })
}

// ---------------------------------------------------------------------------------------------
// What-if kernels: not the server's code; what the same exact search costs with a dot product
// the compiler can vectorise, on two threads, or over int8 codes with an exact f32 rerank.

fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    for (x, y) in a.chunks_exact(16).zip(b.chunks_exact(16)) {
        for ((s, p), q) in acc.iter_mut().zip(x).zip(y) {
            *s += p * q;
        }
    }
    let tail: f32 = a
        .chunks_exact(16)
        .remainder()
        .iter()
        .zip(b.chunks_exact(16).remainder())
        .map(|(p, q)| p * q)
        .sum();
    acc.iter().sum::<f32>() + tail
}

fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    for (x, y) in a.chunks_exact(16).zip(b.chunks_exact(16)) {
        for ((s, p), q) in acc.iter_mut().zip(x).zip(y) {
            *s += i32::from(*p) * i32::from(*q);
        }
    }
    let tail: i32 = a
        .chunks_exact(16)
        .remainder()
        .iter()
        .zip(b.chunks_exact(16).remainder())
        .map(|(p, q)| i32::from(*p) * i32::from(*q))
        .sum();
    acc.iter().sum::<i32>() + tail
}

fn scan_f32(corpus: &[f32], offset: usize, q: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut best = Vec::with_capacity(k + 1);
    for (i, row) in corpus.chunks_exact(DIM).enumerate() {
        push_top(&mut best, k, offset + i, dot_lanes(row, q));
    }
    best
}

fn quantize(v: &[f32]) -> (Vec<i8>, f32) {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-12);
    let scale = 127.0 / max;
    (
        v.iter().map(|x| (x * scale).round() as i8).collect(),
        1.0 / scale,
    )
}

fn whatif_kernels(
    corpus: &[f32],
    qv: &[f32],
    truth: &[Vec<(usize, f64)>],
) -> Vec<(String, Stats, Recall)> {
    let queries: Vec<&[f32]> = qv.chunks_exact(DIM).collect();
    let mut out = Vec::new();
    let mut run = |name: String, f: &dyn Fn(&[f32]) -> Vec<usize>| {
        for q in queries.iter().take(5) {
            f(q);
        }
        let mut times = Vec::new();
        let mut results = Vec::new();
        for q in &queries {
            let t = Instant::now();
            let r = f(q);
            times.push(t.elapsed());
            results.push(r);
        }
        out.push((name, stats(&times), recall(&results, truth, corpus, qv)));
    };
    run("exact f32, 16-lane dot, 1 thread".into(), &|q: &[f32]| {
        scan_f32(corpus, 0, q, K).into_iter().map(|x| x.0).collect()
    });
    let rows = corpus.len() / DIM;
    let half = rows.div_ceil(2);
    run(
        "exact f32, 16-lane dot, 2 threads".into(),
        &|q: &[f32]| {
            let mut all: Vec<(usize, f32)> = thread::scope(|s| {
                let hs: Vec<_> = corpus
                    .chunks(half * DIM)
                    .enumerate()
                    .map(|(p, part)| s.spawn(move || scan_f32(part, p * half, q, K)))
                    .collect();
                hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
            });
            all.sort_by(|a, b| b.1.total_cmp(&a.1));
            all.into_iter().take(K).map(|x| x.0).collect()
        },
    );
    let mut codes = Vec::with_capacity(corpus.len());
    let mut scales = Vec::with_capacity(rows);
    for row in corpus.chunks_exact(DIM) {
        let (c, s) = quantize(row);
        codes.extend(c);
        scales.push(s);
    }
    let (codes, scales) = (&codes, &scales);
    run(
        "int8 scan (1 thread) + exact f32 rerank of the best 100".into(),
        &|q: &[f32]| {
            let (qc, qs) = quantize(q);
            let mut cand = Vec::with_capacity(101);
            for (i, row) in codes.chunks_exact(DIM).enumerate() {
                let approx = dot_i8(row, &qc) as f32 * scales[i] * qs;
                push_top(&mut cand, 100, i, approx);
            }
            let mut best = Vec::with_capacity(K + 1);
            for (i, _) in cand {
                push_top(
                    &mut best,
                    K,
                    i,
                    dot_lanes(&corpus[i * DIM..(i + 1) * DIM], q),
                );
            }
            best.into_iter().map(|x| x.0).collect()
        },
    );
    out
}

// ---------------------------------------------------------------------------------------------
// What-if SQL: the same store file, with one change each, to size the fixes proposed in
// BENCHMARKS.md. Run before the MCP phase; the temporary index is dropped again.

/// Common English function words (a generic list, not tuned to the queries).
const STOPWORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "for", "with", "from", "by",
    "about", "as", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "these",
    "those", "what", "which", "who", "whom", "why", "how", "when", "where", "did", "does", "do",
    "can", "could", "may", "might", "will", "would", "should", "our", "us", "we", "their", "they",
    "them", "more", "than", "over", "into", "off", "up", "out", "not", "no", "any", "some",
    "there", "has", "have", "had", "his", "her", "he", "she", "i", "you", "your", "my",
];

/// The FTS5 query `memory_keyword` builds (every token, quoted, OR-ed), optionally without
/// stopwords.
fn fts_query(query: &str, drop_stopwords: bool) -> String {
    query
        .split(|ch: char| !ch.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .filter(|t| !drop_stopwords || !STOPWORDS.contains(&t.to_lowercase().as_str()))
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

struct WhatIfSql {
    /// (variant, latency, paraphrased sentence in the top 10)
    keyword: Vec<(String, Stats, f64)>,
    probe_indexed: Stats,
    vector_indexed: Stats,
    vector_indexed_recall: Recall,
    /// (statement, EXPLAIN QUERY PLAN details) with the bundled SQLite.
    plans: Vec<(String, String)>,
    sqlite_version: String,
}

fn whatif_sql(
    db: &Path,
    c: &Corpus,
    corpus: &[f32],
    qv: &[f32],
    truth: &[Vec<(usize, f64)>],
) -> Res<WhatIfSql> {
    let conn = rusqlite::Connection::open(db)?;
    conn.execute_batch("PRAGMA cache_size=-512;")?;
    // How the bundled SQLite runs the store's statements on this file.
    let mut plans = Vec::new();
    for (sql, args) in [
        (
            "SELECT rowid, namespace, embedding FROM memories WHERE rev > ?1 ORDER BY rowid",
            1,
        ),
        ("SELECT mem_rowid FROM memory_tombstones WHERE rev > ?1", 1),
        (
            "SELECT EXISTS (SELECT 1 FROM memories WHERE expires_at IS NOT NULL)",
            0,
        ),
        (
            "SELECT rowid, id FROM memories WHERE namespace = ?1 AND norm_key = ?2 LIMIT 1",
            2,
        ),
    ] {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let params: Vec<i64> = vec![0; args];
        let detail = stmt
            .query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(3)
            })?
            .collect::<Result<Vec<_>, _>>()?
            .join("; ");
        plans.push((sql.to_string(), detail));
    }
    let sqlite_version: String = conn.query_row("SELECT sqlite_version()", [], |r| r.get(0))?;
    // The server's statement (filter = namespace + not expired), and the FTS-only top-N.
    let joined = "SELECT memories.rowid FROM memories_fts JOIN memories ON memories.rowid = memories_fts.rowid \
                  WHERE memories_fts MATCH ?1 AND (expires_at IS NULL OR expires_at > ?2) AND namespace = ?3 \
                  ORDER BY bm25(memories_fts) LIMIT ?4";
    let fts_only =
        "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?1 ORDER BY rank LIMIT ?2";
    let now = "2026-01-01T00:00:00.000Z";
    let mut keyword = Vec::new();
    for (name, sql, stop) in [
        ("server SQL (join + filter, all tokens)", joined, false),
        ("server SQL, stopwords dropped", joined, true),
        (
            "FTS-only top 40 (`ORDER BY rank`), all tokens",
            fts_only,
            false,
        ),
        ("FTS-only top 40, stopwords dropped", fts_only, true),
    ] {
        let mut stmt = conn.prepare(sql)?;
        let mut run = |q: &str| -> Res<Vec<i64>> {
            let fq = fts_query(q, stop);
            let rows = if sql == joined {
                stmt.query_map(rusqlite::params![fq, now, NAMESPACE, POOL as i64], |r| {
                    r.get(0)
                })?
                .collect::<Result<Vec<i64>, _>>()?
            } else {
                stmt.query_map(rusqlite::params![fq, POOL as i64], |r| r.get(0))?
                    .collect::<Result<Vec<i64>, _>>()?
            };
            Ok(rows)
        };
        for q in c.queries.iter().take(10) {
            run(q)?;
        }
        let mut times = Vec::new();
        let mut results = Vec::new();
        for q in &c.queries {
            let t = Instant::now();
            let rows = run(q)?;
            times.push(t.elapsed());
            results.push(rows);
        }
        // rowid -> corpus index, outside the timing.
        let mut lookup = conn.prepare_cached("SELECT id FROM memories WHERE rowid = ?1")?;
        let mut mapped = Vec::new();
        for rows in &results {
            let mut idx = Vec::new();
            for r in rows.iter().take(K) {
                let id: String = lookup.query_row([r], |row| row.get(0))?;
                if let Some(i) = memory_index(&id) {
                    idx.push(i);
                }
            }
            mapped.push(idx);
        }
        keyword.push((
            name.to_string(),
            stats(&times),
            source_hits(&mapped, &c.sources),
        ));
    }

    // A partial index makes `EXISTS (… expires_at IS NOT NULL)` a single index probe.
    conn.execute_batch(
        "CREATE INDEX bench_whatif_expiring ON memories(expires_at) WHERE expires_at IS NOT NULL",
    )?;
    let mut probe = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let _: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM memories WHERE expires_at IS NOT NULL)",
            [],
            |r| r.get(0),
        )?;
        probe.push(t.elapsed());
    }
    let mut store = Store::open(db, Durability::Full)?;
    let filter = MemoryFilter::default();
    store.memory_vector(&qv[..DIM], Some(NAMESPACE), &filter, POOL)?;
    for q in qv.chunks_exact(DIM).take(10) {
        store.memory_vector(q, Some(NAMESPACE), &filter, POOL)?;
    }
    let mut times = Vec::new();
    let mut results = Vec::new();
    for q in qv.chunks_exact(DIM) {
        let t = Instant::now();
        let hits = store.memory_vector(q, Some(NAMESPACE), &filter, POOL)?;
        times.push(t.elapsed());
        let top: Vec<i64> = hits.iter().take(K).map(|(r, _)| *r).collect();
        let rows = store.memory_rows(&top)?;
        results.push(
            top.iter()
                .filter_map(|r| rows.get(r).and_then(|m| memory_index(&m.id)))
                .collect::<Vec<_>>(),
        );
    }
    drop(store);
    conn.execute_batch("DROP INDEX bench_whatif_expiring")?;
    Ok(WhatIfSql {
        keyword,
        probe_indexed: stats(&probe),
        vector_indexed: stats(&times),
        vector_indexed_recall: recall(&results, truth, corpus, qv),
        plans,
        sqlite_version,
    })
}

/// Where a `store_memory` at this size spends its time, in-process: `memory_put` of one
/// memory with a precomputed vector, without an id (near-duplicate scan over every vector)
/// and with a fresh id (no scan). Run last: it writes to the store.
fn store_breakdown(db: &Path, model: &MiniLm, texts: &[String]) -> Res<(Stats, Stats)> {
    let vs = model.embed_blocking(texts)?;
    let mut store = Store::open(db, Durability::Full)?;
    store.memory_vector(&vs[0], Some(NAMESPACE), &MemoryFilter::default(), 1)?;
    let (mut scan, mut no_scan) = (Vec::new(), Vec::new());
    for (j, (text, v)) in texts.iter().zip(vs).enumerate() {
        let item = NewMemory {
            id: (j % 2 == 1).then(|| format!("x{j:06}")),
            namespace: NAMESPACE.into(),
            content: text.clone(),
            embedding: Some((minilm::ID.to_string(), v)),
            ..Default::default()
        };
        let t = Instant::now();
        store.memory_put(vec![item], 0.97)?;
        if j % 2 == 0 {
            scan.push(t.elapsed());
        } else {
            no_scan.push(t.elapsed());
        }
    }
    Ok((stats(&scan), stats(&no_scan)))
}

// ---------------------------------------------------------------------------------------------
// The server as a child process (same client as compare.rs)

struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<String>,
    next_id: u64,
    stderr_path: PathBuf,
}

impl Server {
    fn start(argv: &[String], env: &[(String, String)], stderr_path: &Path) -> Res<Self> {
        let stderr = std::fs::File::create(stderr_path)?;
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot spawn {argv:?}: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Self {
            child,
            stdin: Some(stdin),
            rx,
            next_id: 1,
            stderr_path: stderr_path.to_path_buf(),
        };
        let init = server.request(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "sophia-bench", "version": "0"}
            }),
            INIT_TIMEOUT,
        );
        if let Err(e) = init {
            let tail = server.stderr_tail();
            server.stop();
            return Err(format!("{e}; server stderr: {tail}").into());
        }
        server.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;
        Ok(server)
    }

    fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(3)..].join(" | ")
    }

    fn send(&mut self, msg: &Value) -> Res<()> {
        let mut line = serde_json::to_string(msg)?;
        line.push('\n');
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        stdin.write_all(line.as_bytes())?;
        stdin.flush()?;
        Ok(())
    }

    fn recv(&self, timeout: Duration) -> Res<Value> {
        match self.rx.recv_timeout(timeout) {
            Ok(line) => Ok(serde_json::from_str(&line)?),
            Err(RecvTimeoutError::Timeout) => Err(format!("no reply within {timeout:?}").into()),
            Err(RecvTimeoutError::Disconnected) => Err("the server closed its stdout".into()),
        }
    }

    fn request(&mut self, method: &str, params: Value, t: Duration) -> Res<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        loop {
            let msg = self.recv(t)?;
            if msg.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            if let Some(err) = msg.get("error") {
                return Err(format!("{method}: JSON-RPC error {err}").into());
            }
            return msg.get("result").cloned().ok_or_else(|| "no result".into());
        }
    }

    /// `tools/call`, returning the structured result; `isError: true` is an error here.
    fn call(&mut self, tool: &str, args: Value) -> Res<Value> {
        let result = self.request(
            "tools/call",
            json!({"name": tool, "arguments": args}),
            CALL_TIMEOUT,
        )?;
        structured(tool, &result)
    }

    /// One tools/call per argument object, at most `window` in flight. Returns the elapsed time
    /// (first write to last reply) and the structured results in order.
    fn windowed(
        &mut self,
        tool: &str,
        args: &[Value],
        window: usize,
    ) -> Res<(Duration, Vec<Value>)> {
        let n = args.len();
        let first = self.next_id;
        self.next_id += n as u64;
        let mut results = vec![Value::Null; n];
        let started = Instant::now();
        let (mut sent, mut seen) = (0usize, 0usize);
        while seen < n {
            let mut burst = String::new();
            while sent < n && sent - seen < window {
                let msg = json!({"jsonrpc": "2.0", "id": first + sent as u64, "method": "tools/call",
                    "params": {"name": tool, "arguments": args[sent]}});
                burst.push_str(&serde_json::to_string(&msg)?);
                burst.push('\n');
                sent += 1;
            }
            if !burst.is_empty() {
                let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
                stdin.write_all(burst.as_bytes())?;
                stdin.flush()?;
            }
            let msg = self.recv(CALL_TIMEOUT)?;
            let Some(id) = msg.get("id").and_then(Value::as_u64) else {
                continue;
            };
            if id < first || id >= first + n as u64 {
                continue;
            }
            let result = msg
                .get("result")
                .ok_or_else(|| format!("pipelined {tool}: {msg}"))?;
            results[(id - first) as usize] = structured(tool, result)?;
            seen += 1;
        }
        Ok((started.elapsed(), results))
    }

    fn stop(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn structured(tool: &str, result: &Value) -> Res<Value> {
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        return Err(format!("{tool} returned isError: {result}").into());
    }
    if let Some(s) = result.get("structuredContent") {
        return Ok(s.clone());
    }
    let text = result
        .pointer("/content/0/text")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{tool}: no structured content: {result}"))?;
    Ok(serde_json::from_str(text)?)
}

/// A numeric field of /proc/<pid>/status, in KiB for the Vm* fields.
fn proc_status(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

// ---------------------------------------------------------------------------------------------
// MCP measurements

struct ModeRun {
    mode: &'static str,
    times: Stats,
    results: Vec<Vec<usize>>,
    short: usize,
}

struct Mcp {
    ready: Duration,
    first_search: Duration,
    rss_ready_kib: Option<u64>,
    modes: Vec<ModeRun>,
    rss_queries_kib: Option<u64>,
    store_seq: Stats,
    store_seq_total: Duration,
    store_seq_n: usize,
    store_win: (usize, usize, Duration),
    store_actions: HashMap<String, usize>,
    rss_end_kib: Option<u64>,
}

fn hit_indices(out: &Value) -> Vec<usize> {
    out.get("hits")
        .and_then(Value::as_array)
        .map(|hits| {
            hits.iter()
                .filter_map(|h| h.get("id").and_then(Value::as_str).and_then(memory_index))
                .collect()
        })
        .unwrap_or_default()
}

fn count_actions(out: &Value, actions: &mut HashMap<String, usize>) {
    for r in out
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let a = r.get("action").and_then(Value::as_str).unwrap_or("?");
        *actions.entry(a.to_string()).or_default() += 1;
    }
}

fn mcp_phase(
    bin: &str,
    db: &Path,
    model_dir: &Path,
    c: &Corpus,
    store_calls: usize,
    window: usize,
) -> Res<Mcp> {
    let scratch = tempfile::tempdir()?;
    let env = vec![
        ("SOPHIA_MEMORY_DB".to_string(), db.display().to_string()),
        ("SOPHIA_EMBEDDER".to_string(), "minilm".to_string()),
        (
            "SOPHIA_EMBEDDER_MODEL_DIR".to_string(),
            model_dir.display().to_string(),
        ),
        ("SOPHIA_MEMORY_SYNC".to_string(), "full".to_string()),
    ];
    let spawned = Instant::now();
    let mut s = Server::start(&[bin.to_string()], &env, &scratch.path().join("stderr"))?;
    let pid = s.child.id();
    let run = (|| -> Res<Mcp> {
        // The embedder loads in the background; searches are keyword-only until it is ready.
        loop {
            let st = s.call("memory_stats", json!({}))?;
            let status = st
                .get("embedder_status")
                .and_then(Value::as_str)
                .unwrap_or("");
            if status.starts_with("ready") {
                break;
            }
            if status.starts_with("unavailable") || spawned.elapsed() > INIT_TIMEOUT {
                return Err(format!("embedder not ready: {status}").into());
            }
            thread::sleep(Duration::from_millis(20));
        }
        let ready = spawned.elapsed();
        let rss_ready_kib = proc_status(pid, "VmHWM");
        let t = Instant::now();
        let out = s.call(
            "semantic_search",
            json!({"query": c.queries[0], "mode": "semantic"}),
        )?;
        let first_search = t.elapsed();
        if out.get("mode_used").and_then(Value::as_str) != Some("semantic") {
            return Err(format!("first search did not run in semantic mode: {out}").into());
        }
        let mut modes = Vec::new();
        for mode in ["hybrid", "semantic", "keyword"] {
            eprintln!("mcp: semantic_search mode={mode}");
            for q in c.queries.iter().take(10) {
                s.call("semantic_search", json!({"query": q, "mode": mode}))?;
            }
            let mut times = Vec::new();
            let mut results = Vec::new();
            let mut short = 0;
            for q in &c.queries {
                let t = Instant::now();
                let out = s.call("semantic_search", json!({"query": q, "mode": mode}))?;
                times.push(t.elapsed());
                if out.get("mode_used").and_then(Value::as_str) != Some(mode) {
                    return Err(format!("mode {mode} ran as {out}").into());
                }
                let hits = hit_indices(&out);
                if hits.len() < K {
                    short += 1;
                }
                results.push(hits);
            }
            modes.push(ModeRun {
                mode,
                times: stats(&times),
                results,
                short,
            });
        }
        let rss_queries_kib = proc_status(pid, "VmHWM");

        eprintln!("mcp: store_memory");
        let mut actions = HashMap::new();
        let end = c.extra.len().saturating_sub(BREAKDOWN);
        let n_seq = store_calls.min(end);
        let mut times = Vec::new();
        let started = Instant::now();
        for text in &c.extra[..n_seq] {
            let t = Instant::now();
            let out = s.call("store_memory", json!({"content": text}))?;
            times.push(t.elapsed());
            count_actions(&out, &mut actions);
        }
        let store_seq_total = started.elapsed();
        let rest = &c.extra[n_seq..end];
        let args: Vec<Value> = rest.iter().map(|t| json!({"content": t})).collect();
        let (elapsed, outs) = s.windowed("store_memory", &args, window)?;
        for out in &outs {
            count_actions(out, &mut actions);
        }
        Ok(Mcp {
            ready,
            first_search,
            rss_ready_kib,
            modes,
            rss_queries_kib,
            store_seq: stats(&times),
            store_seq_total,
            store_seq_n: n_seq,
            store_win: (args.len(), window, elapsed),
            store_actions: actions,
            rss_end_kib: proc_status(pid, "VmHWM"),
        })
    })();
    let run = run.map_err(|e| format!("{e} (server stderr: {})", s.stderr_tail()));
    s.stop();
    Ok(run?)
}

// ---------------------------------------------------------------------------------------------
// Chroma

struct Chroma {
    version: String,
    add_secs: f64,
    first_query_secs: f64,
    n: usize,
    batch: usize,
    ingest_rss_kib: u64,
    ingest_rss_before_kib: u64,
    harness_bytes: u64,
    db_bytes: u64,
    config: String,
    numpy_truth_agreement: Recall,
    open_first_query_secs: f64,
    query: Stats,
    recall: Recall,
    query_rss_kib: u64,
}

fn root_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python, created with the pinned versions if it does not exist yet.
fn chroma_python() -> Res<PathBuf> {
    if let Ok(p) = std::env::var("CHROMA_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let venv = root_dir().join("target/bench-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        eprintln!(
            "creating {} with chromadb=={CHROMA_VERSION}",
            venv.display()
        );
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()?
            .success()
            && Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    &format!("chromadb=={CHROMA_VERSION}"),
                    &format!("numpy=={NUMPY_VERSION}"),
                ])
                .status()?
                .success();
        if !ok {
            return Err("could not create the Chroma venv".into());
        }
    }
    Ok(python)
}

fn run_python(python: &Path, args: &[&str], out: &Path) -> Res<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/chroma_peer.py");
    let status = Command::new(python)
        .arg(&script)
        .args(args)
        .arg("--out")
        .arg(out)
        .env("ANONYMIZED_TELEMETRY", "False")
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(format!("chroma_peer.py {} failed: {status}", args[0]).into());
    }
    Ok(serde_json::from_str(&std::fs::read_to_string(out)?)?)
}

fn chroma_phase(
    data: &Path,
    corpus: &[f32],
    qv: &[f32],
    truth: &[Vec<(usize, f64)>],
) -> Res<Chroma> {
    let python = chroma_python()?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("chroma");
    let (data_s, db_s) = (data.display().to_string(), db.display().to_string());
    eprintln!("chroma: ingest");
    let ing = run_python(
        &python,
        &["ingest", "--data", &data_s, "--db", &db_s],
        &dir.path().join("ingest.json"),
    )?;
    eprintln!("chroma: query");
    let qry = run_python(
        &python,
        &["query", "--data", &data_s, "--db", &db_s],
        &dir.path().join("query.json"),
    )?;
    let f = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let u = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let ids = |v: &Value| -> Vec<Vec<usize>> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|row| {
                row.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| {
                        x.as_u64()
                            .map(|n| n as usize)
                            .or_else(|| x.as_str().and_then(memory_index))
                    })
                    .collect()
            })
            .collect()
    };
    let numpy_truth = ids(ing.get("numpy_truth").unwrap_or(&Value::Null));
    let lat: Vec<f64> = qry
        .get("lat_ms")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    let got = ids(qry.get("ids").unwrap_or(&Value::Null));
    let hnsw = ing
        .pointer("/configuration/hnsw")
        .map(Value::to_string)
        .unwrap_or_else(|| "?".into());
    Ok(Chroma {
        version: ing
            .get("chromadb")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string(),
        add_secs: f(&ing, "add_secs"),
        first_query_secs: f(&ing, "first_query_secs"),
        n: u(&ing, "count") as usize,
        batch: u(&ing, "batch") as usize,
        ingest_rss_kib: u(&ing, "peak_rss_kib"),
        ingest_rss_before_kib: u(&ing, "rss_before_chroma_kib"),
        harness_bytes: u(&ing, "harness_arrays_bytes"),
        db_bytes: u(&ing, "db_bytes"),
        config: hnsw,
        numpy_truth_agreement: recall(&numpy_truth, truth, corpus, qv),
        open_first_query_secs: f(&qry, "first_query_secs"),
        query: stats_ms(lat),
        recall: recall(&got, truth, corpus, qv),
        query_rss_kib: u(&qry, "peak_rss_kib"),
    })
}

// ---------------------------------------------------------------------------------------------
// Report

fn ms(v: f64) -> String {
    if v < 1.0 {
        format!("{v:.3} ms")
    } else if v < 100.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.0} ms")
    }
}

fn p50_99(s: Stats) -> String {
    format!("{} / {}", ms(s.p50), ms(s.p99))
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

fn rate(n: usize, d: Duration) -> String {
    format!("{:.0}/s", n as f64 / d.as_secs_f64().max(1e-9))
}

fn rec(r: Recall) -> String {
    if (r.tie - r.strict).abs() < 1e-12 {
        format!("{:.4}", r.tie)
    } else {
        format!("{:.4} (strict {:.4})", r.tie, r.strict)
    }
}

fn shell(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn model_dir() -> Res<PathBuf> {
    if let Some(d) = std::env::var_os(minilm::MODEL_DIR_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    let out = Command::new("bash")
        .arg(root_dir().join(".ci/fetch-model.sh"))
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err("`.ci/fetch-model.sh` failed; set SOPHIA_EMBEDDER_MODEL_DIR".into());
    }
    Ok(PathBuf::from(String::from_utf8(out.stdout)?.trim()))
}

fn main() -> Res<()> {
    let n = env_usize("BENCH_SEM_N", 100_000).max(100);
    let nq = env_usize("BENCH_SEM_QUERIES", 200).max(1);
    let embed_ingest_n = env_usize("BENCH_SEM_EMBED_INGEST", 2000).max(1);
    let store_calls = env_usize("BENCH_SEM_STORE_CALLS", 200).max(1);
    let window = env_usize("BENCH_SEM_WINDOW", 32).max(1);
    let bin = std::env::var("SOPHIA_MEMORY_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sophia-memory").to_string());
    if !Path::new(&bin).exists() {
        return Err(
            format!("{bin} not found: run `cargo build --release -p sophia-memory`").into(),
        );
    }
    let cache_root = std::env::var_os("BENCH_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root_dir().join("target/bench-cache"));
    let model_dir = model_dir()?;
    let load_before = shell("cat", &["/proc/loadavg"]);
    let date = shell("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]);

    eprintln!("corpus: {n} sentences, {nq} queries");
    let c = build_corpus(n, nq, 2 * store_calls + BREAKDOWN);
    let model = MiniLm::load(&model_dir)?;
    let (corpus, qv, cache) = vectors(&model, &c, &cache_root)?;
    eprintln!(
        "ground truth: exact top-{K} (f64) for {} queries",
        c.queries.len()
    );
    let t = Instant::now();
    let truth = ground_truth(&corpus, &qv, K);
    let truth_time = t.elapsed();

    let dir = tempfile::tempdir()?;
    let db = dir.path().join("memory.db");
    let lib = library_phase(&db, &model, &c, &corpus, &qv, &truth, embed_ingest_n)?;
    eprintln!("mcp: {bin}");
    let mcp = mcp_phase(&bin, &db, &model_dir, &c, store_calls, window)?;
    let chroma = if std::env::var("BENCH_SEM_SKIP_CHROMA").is_ok_and(|v| v == "1") {
        Err("skipped (BENCH_SEM_SKIP_CHROMA=1)".to_string())
    } else {
        chroma_phase(&cache.dir, &corpus, &qv, &truth).map_err(|e| e.to_string())
    };
    eprintln!("store path breakdown (in-process, last: it writes)");
    let tail = &c.extra[c.extra.len().saturating_sub(BREAKDOWN)..];
    let breakdown = store_breakdown(&db, &model, tail)?;
    drop(model);
    let load_after = shell("cat", &["/proc/loadavg"]);

    // ---- Report
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "?".into());
    println!("# Semantic memory: sophia-memory vs Chroma\n");
    println!("- date: {date}");
    println!(
        "- nproc: {}; CPU: {cpu}; kernel: {}; loadavg at start: {load_before}; at end: {load_after}",
        shell("nproc", &[]),
        shell("uname", &["-r"])
    );
    println!(
        "- sophia-memory: {bin} (git {})",
        shell("git", &["describe", "--always", "--dirty"])
    );
    println!(
        "- corpus: {} sentences from {} templates, {} paraphrase queries; vectors: {} (cache {}{})",
        c.texts.len(),
        TEMPLATES.len(),
        c.queries.len(),
        minilm::ID,
        cache.dir.display(),
        if cache.embedded_now > 0 {
            format!(", {} texts embedded in this run", cache.embedded_now)
        } else {
            ", reused".into()
        }
    );
    println!(
        "- ground truth: brute force over all {} vectors, f64 accumulation ({:.1} s)",
        c.texts.len(),
        truth_time.as_secs_f64()
    );
    match &chroma {
        Ok(ch) => println!(
            "- Chroma: chromadb {} (PersistentClient, `hnsw:space=cosine`, HNSW {}), {} vectors added in batches of {}",
            ch.version, ch.config, ch.n, ch.batch
        ),
        Err(e) => println!("- **CHROMA NOT MEASURED**: {e}"),
    }
    println!();

    let mut t = vec![
        "| metric | sophia-memory | Chroma | what is measured |".to_string(),
        "|---|---:|---:|---|".to_string(),
    ];
    let mut row = |m: &str, s: String, c: String, w: &str| {
        t.push(format!("| {m} | {s} | {c} | {w} |"));
    };
    let ch = chroma.as_ref().ok();
    let na = || "n/a".to_string();
    let mode = |name: &str| mcp.modes.iter().find(|m| m.mode == name);
    for m in &mcp.modes {
        row(
            &format!("semantic_search `{}` p50 / p99", m.mode),
            p50_99(m.times),
            na(),
            "MCP tools/call over stdio, end to end, the server embedding the query (MiniLM), top_k 10",
        );
    }
    row(
        "vector search p50 / p99",
        p50_99(lib.vector),
        ch.map_or_else(na, |c| p50_99(c.query)),
        "sophia: `Store::memory_vector` (exact scan, pool 40) in-process; Chroma: `collection.query` (HNSW, n_results 10, documents + distances) in-process, precomputed query vectors",
    );
    row(
        "recall@10 vs exact",
        rec(lib.vector_recall),
        ch.map_or_else(na, |c| rec(c.recall)),
        "same query vectors, same f64 brute-force truth; ties within 1e-5 count",
    );
    if let Some(m) = mode("semantic") {
        row(
            "recall@10 end to end, `semantic` mode",
            rec(recall(&m.results, &truth, &corpus, &qv)),
            na(),
            "hits of the MCP call (server-side query embedding) vs the same truth",
        );
    }
    for m in &mcp.modes {
        row(
            &format!("paraphrased sentence in top 10, `{}`", m.mode),
            format!("{:.1}%", 100.0 * source_hits(&m.results, &c.sources)),
            na(),
            "share of queries whose source sentence is among the hits (quality, not speed)",
        );
    }
    row(
        "query embedding alone p50 / p99",
        p50_99(lib.embed_query),
        na(),
        "`MiniLm::embed_blocking` on one query, in-process",
    );
    row(
        "keyword part p50 / p99",
        p50_99(lib.keyword),
        na(),
        "`Store::memory_keyword` (FTS5 BM25, pool 40), in-process",
    );
    row(
        "row fetch p50 / p99",
        p50_99(lib.rows),
        na(),
        "`Store::memory_rows` for the 10 hits",
    );
    row(
        "`expires_at IS NOT NULL` probe p50 / p99",
        p50_99(lib.expiring_probe),
        na(),
        "the SQL `memory_vector` runs on every call before scanning (raw rusqlite, 512 KiB cache)",
    );
    row(
        "first search after start",
        ms(mcp.first_search.as_secs_f64() * 1e3),
        ch.map_or_else(na, |c| ms(c.open_first_query_secs * 1e3)),
        "sophia: first `semantic` call (loads the vector copy from SQLite); Chroma: first query in a fresh process",
    );
    row(
        "first vector search on a fresh `Store`",
        ms(lib.first_vector.as_secs_f64() * 1e3),
        na(),
        "in-process: reading all vectors into the contiguous copy",
    );
    row(
        "spawn → embedder ready",
        ms(mcp.ready.as_secs_f64() * 1e3),
        na(),
        "MiniLM load in the background (searches are keyword-only until then)",
    );
    row(
        "ingest without embedding",
        format!(
            "{} ({:.1} s)",
            rate(c.texts.len(), lib.ingest_plain),
            lib.ingest_plain.as_secs_f64()
        ),
        ch.map_or_else(na, |c| {
            format!(
                "{:.0}/s ({:.1} s)",
                c.n as f64 / (c.add_secs + c.first_query_secs),
                c.add_secs + c.first_query_secs
            )
        }),
        "precomputed vectors; sophia: `Store::memory_put` batches of 1000 with ids, sync=full; Chroma: `add` batches + first query",
    );
    let (m, total, embed) = lib.embed_ingest;
    row(
        "ingest with embedding, batched",
        format!(
            "{} ({} memories; embedding alone {})",
            rate(m, total),
            m,
            rate(m, embed)
        ),
        "not measured".into(),
        "MiniLM batches of 256 + `memory_put`, fresh store, in-process (Chroma was given vectors)",
    );
    if let Some((r, when)) = &cache.build {
        row(
            "corpus embedding when the cache was built",
            format!("{r:.0} texts/s"),
            na(),
            &format!("`embed_blocking`, batches of 512 ({when})"),
        );
    }
    row(
        &format!(
            "store_memory at {}k, sequential p50 / p99",
            c.texts.len() / 1000
        ),
        format!(
            "{} ({})",
            p50_99(mcp.store_seq),
            rate(mcp.store_seq_n, mcp.store_seq_total)
        ),
        na(),
        "MCP, one memory per call: query embedding + near-duplicate scan + insert + fsync",
    );
    let (wn, ww, we) = mcp.store_win;
    row(
        &format!("store_memory, {ww} in flight"),
        format!("{} ({wn} calls)", rate(wn, we)),
        na(),
        "MCP, pipelined on the same store",
    );
    row(
        "store_memory outcomes",
        {
            let mut a: Vec<String> = mcp
                .store_actions
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            a.sort();
            a.join(", ")
        },
        na(),
        "new sentences, not in the corpus",
    );
    row(
        "`memory_put` of one memory, no id / with id, p50",
        format!("{} / {}", ms(breakdown.0.p50), ms(breakdown.1.p50)),
        na(),
        &format!(
            "in-process, precomputed vector, sync=full, at the end of the run; no id = near-duplicate scan over every vector (p99 {} / {})",
            ms(breakdown.0.p99),
            ms(breakdown.1.p99)
        ),
    );
    row(
        "peak RSS",
        format!(
            "{} (embedder ready: {}; after searches: {})",
            mib(mcp.rss_end_kib),
            mib(mcp.rss_ready_kib),
            mib(mcp.rss_queries_kib)
        ),
        ch.map_or_else(na, |c| {
            format!(
                "query process {}; ingest process {} (of which ~{:.0} MiB are the harness's arrays; {} before Chroma)",
                mib(Some(c.query_rss_kib)),
                mib(Some(c.ingest_rss_kib)),
                c.harness_bytes as f64 / 1048576.0,
                mib(Some(c.ingest_rss_before_kib))
            )
        }),
        "VmHWM: sophia = the server process (model + vector copy + SQLite); Chroma = the Python process",
    );
    row(
        "on disk",
        format!("{:.0} MiB", lib.db_bytes as f64 / 1048576.0),
        ch.map_or_else(na, |c| format!("{:.0} MiB", c.db_bytes as f64 / 1048576.0)),
        "SQLite file + WAL / Chroma persistent directory",
    );
    println!("{}\n", t.join("\n"));
    for m in &mcp.modes {
        if m.short > 0 {
            println!(
                "- `{}`: {} of {} calls returned fewer than {K} hits",
                m.mode,
                m.short,
                m.results.len()
            );
        }
    }
    if let Some(c) = ch {
        println!(
            "- numpy (float32 BLAS) exact top-10 vs this bench's f64 truth: recall {}",
            rec(c.numpy_truth_agreement)
        );
    }
    println!("\n## What-if kernels (bench code, not the server's)\n");
    println!("| kernel | p50 / p99 | recall@10 |");
    println!("|---|---:|---:|");
    println!(
        "| server `memory_vector` (for comparison) | {} | {} |",
        p50_99(lib.vector),
        rec(lib.vector_recall)
    );
    for (name, s, r) in &lib.whatif {
        println!("| {name} | {} | {} |", p50_99(*s), rec(*r));
    }
    println!("\n## What-if SQL (same store file, one change each; not the server's code)\n");
    println!("| variant | p50 / p99 | result |");
    println!("|---|---:|---|");
    println!(
        "| `expires_at` probe, as the server runs it | {} | full scan of the memories table |",
        p50_99(lib.expiring_probe)
    );
    println!(
        "| `expires_at` probe with a partial index `ON memories(expires_at) WHERE expires_at IS NOT NULL` | {} | one index probe |",
        p50_99(lib.sql.probe_indexed)
    );
    println!(
        "| `Store::memory_vector` with that index present | {} | recall@10 {} |",
        p50_99(lib.sql.vector_indexed),
        rec(lib.sql.vector_indexed_recall)
    );
    for (name, st, src) in &lib.sql.keyword {
        println!(
            "| keyword: {name} | {} | paraphrased sentence in top 10: {:.1}% |",
            p50_99(*st),
            100.0 * src
        );
    }
    println!(
        "\nQuery plans (bundled SQLite {}, `EXPLAIN QUERY PLAN` on this file):\n",
        lib.sql.sqlite_version
    );
    for (sql, plan) in &lib.sql.plans {
        println!("- `{sql}`: {plan}");
    }
    println!();

    println!("## Targets\n");
    let verdict = |ok: bool| if ok { "MET" } else { "MISSED" };
    for name in ["hybrid", "semantic"] {
        if let Some(m) = mode(name) {
            println!(
                "- `{name}` p50 under 20 ms end to end: {} -> {}",
                ms(m.times.p50),
                verdict(m.times.p50 < 20.0)
            );
        }
    }
    println!(
        "- vector part under 5 ms (p50): {} -> {}",
        ms(lib.vector.p50),
        verdict(lib.vector.p50 < 5.0)
    );
    println!(
        "- recall@10 of the exact search = 1.0: {} -> {}",
        rec(lib.vector_recall),
        verdict(lib.vector_recall.tie >= 1.0 - 1e-12)
    );
    println!("- (mean vector part: {})", ms(lib.vector.mean));
    Ok(())
}
