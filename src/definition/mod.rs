//! The pool definition file: `{"common-config": {...}, "<pool id>": {...}}` (JSON, or a `.j2`
//! template rendered to JSON). A pool's add body is the deep merge of common-config and its own
//! object, plus `"id"`. Loading renders and parses; validation checks schema and Batch's rules;
//! every problem is reported at once, with file, pool, JSON path and what to do.

pub mod add_body;
pub mod export;
pub mod locate;
pub mod plan;
pub mod redact;
mod rules;
pub mod schema;
pub mod sealed;
pub mod template;

use crate::batch::ApiVersion;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The example definition `repool demo` uses (two pools of the demo account).
pub const EXAMPLE: &str = include_str!("../../assets/pools.example.json");
/// `repool demo`'s definition: the example plus a pool with a managed identity and one on a
/// retired image, so the demo shows what preflight refuses.
pub const DEMO: &str = include_str!("../../assets/demo/pools.demo.json");
pub const COMMON_KEY: &str = "common-config";

#[derive(Clone, Debug)]
pub struct Definition {
    /// The file as named to the user.
    pub source: String,
    pub pools: Vec<PoolDefinition>,
    /// Values that came from `env()` in a template; redacted wherever shown, sealed in journals.
    pub secrets: Vec<template::EnvSecret>,
    /// A JSON file's text, to say at which line and column a property is written (a template's
    /// lines are not those of the JSON it renders, so it has none).
    pub text: Option<locate::SourceText>,
    /// Pool id → the `env()` variables its body needs that are not set (their placeholders stand
    /// in the body). Such a pool is validated but never planned, probed or created:
    /// `require_env` refuses it, so only the chosen pools' variables must be set.
    pub unset_env: BTreeMap<String, Vec<String>>,
    /// Lower-cased pool id → its place in `pools`: a thousand pools are each looked up by id.
    at: std::collections::HashMap<String, usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PoolDefinition {
    pub id: String,
    /// The pool-add body (camelCase wire names), `id` included.
    pub body: Value,
    /// The same body with its secrets as references (`sealed`): what journals record, and the map
    /// of where a live pool's secrets are.
    pub sealed: Value,
}

/// One problem, located as precisely as the input allows.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub pool: Option<String>,
    /// JSON path below the pool (`virtualMachineConfiguration.imageReference.sku`), or empty.
    pub path: String,
    /// Line and column in the file (syntax and template errors).
    pub line: Option<(usize, usize)>,
    pub message: String,
}

/// Everything wrong with one definition file.
#[derive(Clone, Debug, PartialEq)]
pub struct DefinitionError {
    pub source: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        writeln!(f, "{}: {count} problem{} in the pool definition:", self.source, if count == 1 { "" } else { "s" })?;
        for p in &self.problems {
            write!(f, "  {}", self.source)?;
            if let Some((line, column)) = p.line {
                write!(f, ":{line}:{column}")?;
            }
            if let Some(pool) = &p.pool {
                write!(f, ": pool '{pool}'")?;
            }
            if !p.path.is_empty() {
                let full = p.pool.as_ref().map(|pool| format!("{pool}.{}", p.path)).unwrap_or_else(|| p.path.clone());
                write!(f, ": {full}")?;
            }
            writeln!(f, ": {}", p.message)?;
        }
        write!(f, "Nothing was changed. Fix the file and run `repool validate`.")
    }
}

impl std::error::Error for DefinitionError {}

impl Definition {
    /// Reads, renders (`.j2`) and parses `path`; does not validate.
    pub fn load(path: &Path, vars: &BTreeMap<String, String>) -> Result<Self, DefinitionError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| DefinitionError {
            source: source.clone(),
            problems: vec![problem(
                None,
                "",
                None,
                format!("cannot read it ({e}); check --definition or `definition` in config.toml"),
            )],
        })?;
        let is_template = path.extension().is_some_and(|x| x == "j2");
        Self::from_text(&source, &text, is_template, vars)
    }

    pub fn from_text(
        source: &str,
        text: &str,
        is_template: bool,
        vars: &BTreeMap<String, String>,
    ) -> Result<Self, DefinitionError> {
        let fail = |problems| DefinitionError { source: source.to_string(), problems };
        let (json, secrets, sealed_json, unset, blank_json) = if is_template {
            let name = Path::new(source).file_name().and_then(|n| n.to_str()).unwrap_or("definition.j2");
            let rendered = template::render(name, text, vars).map_err(|e| {
                fail(vec![problem(None, "", e.line.map(|l| (l, 1)), format!("template: {}", e.message))])
            })?;
            (rendered.text, rendered.secrets, rendered.sealed, rendered.unset, rendered.blank)
        } else {
            (text.to_string(), Vec::new(), None, Vec::new(), None)
        };
        // With unset env() variables: the rendering with them blank, to tell which pools need them.
        let blank_root = blank_json.as_deref().and_then(parse_object);
        let blank_common = blank_root.as_ref().and_then(|r| r.get(COMMON_KEY)).cloned().unwrap_or(Value::Null);
        let mut unset_env = BTreeMap::new();
        // The template rendered with references: where each env() value went, exactly.
        let sealed_root = sealed_json.as_deref().and_then(parse_object);
        let sealed_common = sealed_root.as_ref().and_then(|r| r.get(COMMON_KEY)).cloned().unwrap_or(Value::Null);
        let root: Value = serde_json::from_str(&json).map_err(|e| {
            if !unset.is_empty() {
                // Their placeholders may be what is not JSON (env() outside a string): name them.
                return fail(vec![problem(None, "", None, unset_message(&unset, None))]);
            }
            let excerpt = json.lines().nth(e.line().saturating_sub(1)).unwrap_or("").trim_end();
            let caret = " ".repeat(e.column().saturating_sub(1).min(excerpt.len()));
            let rendered = if is_template { " (in the rendered template)" } else { "" };
            fail(vec![problem(
                None,
                "",
                // serde_json says column 0 at the end of a line; editors count from 1.
                Some((e.line(), e.column().max(1))),
                format!("not valid JSON{rendered}: {e}\n    {excerpt}\n    {caret}^"),
            )])
        })?;
        let duplicates = locate::duplicate_keys(&json);
        if !duplicates.is_empty() {
            return Err(fail(duplicates.iter().map(|d| duplicate_problem(d, is_template)).collect()));
        }
        let Value::Object(root) = root else {
            return Err(fail(vec![problem(
                None,
                "",
                None,
                "must be a JSON object: {\"common-config\": {...}, \"<pool id>\": {...}}".into(),
            )]));
        };
        let common = match root.get(COMMON_KEY) {
            None => Value::Object(Map::new()),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(_) => return Err(fail(vec![problem(None, COMMON_KEY, None, "must be an object".into())])),
        };
        let mut pools = Vec::new();
        let mut problems = Vec::new();
        for (id, own) in root.iter().filter(|(k, _)| k.as_str() != COMMON_KEY) {
            let Value::Object(own_map) = own else {
                problems.push(problem(Some(id), "", None, "must be an object of pool properties".into()));
                continue;
            };
            if let Some(given) = own_map.get("id").and_then(Value::as_str).filter(|g| *g != id) {
                problems.push(problem(
                    Some(id),
                    "id",
                    None,
                    format!("'{given}' differs from the key '{id}'; drop \"id\", the key names the pool"),
                ));
            }
            let body = pool_body(&common, own, id);
            let sealed = match sealed_root.as_ref().and_then(|r| r.get(id)) {
                Some(own) => sealed::seal_names(&pool_body(&sealed_common, own, id)),
                None => sealed::seal(&body, &secrets),
            };
            if !unset.is_empty() {
                let blank = blank_root.as_ref().and_then(|r| r.get(id)).map(|own| pool_body(&blank_common, own, id));
                let needs = needs_unset(&body, blank.as_ref(), &unset);
                if !needs.is_empty() {
                    unset_env.insert(id.clone(), needs);
                }
            }
            pools.push(PoolDefinition { id: id.clone(), body, sealed });
        }
        if pools.is_empty() && problems.is_empty() {
            problems.push(problem(
                None,
                "",
                None,
                "defines no pools: add \"<pool id>\": {...} next to common-config".into(),
            ));
        }
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        let text = (!is_template).then(|| locate::SourceText(text.to_string()));
        Ok(Definition { secrets, text, unset_env, ..Definition::of_pools(source.to_string(), pools) })
    }

    /// Schema and Batch rules for every pool, all problems at once.
    pub fn validate(&self, api_version: ApiVersion) -> Result<(), DefinitionError> {
        let schema = schema::Schema::for_api_version(api_version);
        let locator = self.text.as_ref().map(|t| locate::Locator::new(&t.0));
        let at = |pool: &str, path: &str| locator.as_ref().and_then(|l| l.find(pool, path));
        let mut problems = Vec::new();
        for pool in &self.pools {
            let other = schema::Schema::other(api_version);
            let mut found: Vec<(String, String)> = (schema.check(&pool.body).into_iter())
                .chain(schema.check_enums_of(&pool.body, other))
                .map(|f| (f.path, f.message))
                .collect();
            // One report per problem: where the schema already speaks of a property, the rule
            // only words a bare "is required" better (a missing vmSize is one problem, not two).
            for (path, message) in rules::check(&pool.body) {
                match found.iter_mut().find(|(p, _)| *p == path) {
                    Some((_, said)) if said == schema::REQUIRED => *said = message,
                    Some(_) => {}
                    None => found.push((path, message)),
                }
            }
            // A value an unset env() variable will give is not known yet: `require_env` speaks of it.
            let unknown = |path: &str| {
                locate::value_at(&pool.body, path).and_then(Value::as_str).is_some_and(|text| {
                    self.unset_env_of(&pool.id).iter().any(|v| text.contains(&template::placeholder(v)))
                })
            };
            for (path, message) in found.into_iter().filter(|(path, _)| !unknown(path)) {
                problems.push(problem(Some(&pool.id), &path, at(&pool.id, &path), message));
            }
        }
        problems.extend(
            rules::duplicate_ids(self.pools.iter().map(|p| p.id.as_str()))
                .into_iter()
                .map(|m| problem(None, "", None, m)),
        );
        if problems.is_empty() { Ok(()) } else { Err(DefinitionError { source: self.source.clone(), problems }) }
    }

    /// Refuses when any of the pools `ids` needs an `env()` variable that is not set, naming every
    /// such variable and the pools that need it; other pools' variables are not asked for.
    pub fn require_env<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Result<(), DefinitionError> {
        let mut needed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for id in ids {
            let Some(pool) = self.pool(id) else { continue };
            for var in self.unset_env_of(&pool.id) {
                let pools = needed.entry(var.as_str()).or_default();
                if !pools.contains(&pool.id.as_str()) {
                    pools.push(&pool.id);
                }
            }
        }
        let problems: Vec<Problem> =
            needed.iter().map(|(var, pools)| problem(None, "", None, unset_message(&[var], Some(pools)))).collect();
        if problems.is_empty() { Ok(()) } else { Err(DefinitionError { source: self.source.clone(), problems }) }
    }

    /// The unset `env()` variables pool `id`'s body needs (none for a pool not in the definition).
    pub fn unset_env_of(&self, id: &str) -> &[String] {
        self.pool(id).and_then(|p| self.unset_env.get(&p.id)).map(Vec::as_slice).unwrap_or_default()
    }

    /// A definition of `pools` alone (no template secrets, no source text).
    pub fn of_pools(source: String, pools: Vec<PoolDefinition>) -> Definition {
        let mut at = std::collections::HashMap::new();
        for (i, p) in pools.iter().enumerate() {
            at.entry(p.id.to_lowercase()).or_insert(i);
        }
        Definition { source, pools, secrets: Vec::new(), text: None, unset_env: BTreeMap::new(), at }
    }

    pub fn pool(&self, id: &str) -> Option<&PoolDefinition> {
        self.at.get(&id.to_lowercase()).map(|&i| &self.pools[i])
    }

    /// SHA-256 of the rendered bodies: which definition a run used (recorded in the journal).
    pub fn digest(&self) -> String {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        for pool in &self.pools {
            context.update(pool.body.to_string().as_bytes());
        }
        context.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Pool `id`'s create body with its secrets as references: the map of where its secrets are.
    pub fn sealed_body(&self, id: &str) -> Option<Value> {
        self.pool(id).map(|p| p.sealed.clone())
    }

    /// `body` (pool `id`, from the service or a backup) with its secrets hidden, for showing.
    pub fn redacted(&self, id: &str, body: &Value) -> Value {
        redact::redact(body, self.sealed_body(id).as_ref())
    }
}

fn parse_object(text: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// The unset variables `body` needs: those whose placeholder it holds; all of them when its
/// rendering with them blank differs other than at the placeholders (an unset value decided a
/// condition or went through a filter), or that rendering is missing.
fn needs_unset(body: &Value, blank: Option<&Value>, unset: &[String]) -> Vec<String> {
    let placeholders: Vec<String> = unset.iter().map(|v| template::placeholder(v)).collect();
    if blank != Some(&strip(body, &placeholders)) {
        return unset.to_vec();
    }
    let text = body.to_string();
    unset.iter().zip(&placeholders).filter(|(_, p)| text.contains(p.as_str())).map(|(v, _)| v.clone()).collect()
}

/// `value` with every placeholder cut out of its strings and keys.
fn strip(value: &Value, placeholders: &[String]) -> Value {
    let cut = |text: &str| placeholders.iter().fold(text.to_string(), |t, p| t.replace(p.as_str(), ""));
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (cut(k), strip(v, placeholders))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(|v| strip(v, placeholders)).collect()),
        Value::String(text) => Value::String(cut(text)),
        other => other.clone(),
    }
}

/// "template: environment variable X is not set (pools a, b need it); export it …".
fn unset_message<S: AsRef<str>>(vars: &[S], pools: Option<&[&str]>) -> String {
    let names: Vec<&str> = vars.iter().map(AsRef::as_ref).collect();
    let (subject, verb, it) = match names.len() {
        1 => (format!("environment variable {}", names[0]), "is", "it"),
        _ => (format!("environment variables {}", names.join(", ")), "are", "them"),
    };
    let need = match pools {
        Some([one]) => format!(" (pool '{one}' needs {it})"),
        Some(many) => {
            format!(" (pools {} need {it})", many.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(", "))
        }
        None => String::new(),
    };
    format!("template: {subject} {verb} not set{need}; export {it} before running repool")
}

/// A pool's body: common-config merged with its own object, `"id"` first.
fn pool_body(common: &Value, own: &Value, id: &str) -> Value {
    let mut body = merge(common, own);
    if let Value::Object(map) = &mut body {
        let mut with_id = Map::new();
        with_id.insert("id".into(), Value::String(id.to_string()));
        with_id.extend(std::mem::take(map).into_iter().filter(|(k, _)| k != "id"));
        *map = with_id;
    }
    body
}

/// A key written twice, at its second place: a parser keeps the last, the first would be lost.
fn duplicate_problem(d: &locate::Duplicate, is_template: bool) -> Problem {
    let (top, below) = d.path.split_once('.').unwrap_or((&d.path, ""));
    let (pool, path) = if top == COMMON_KEY { (None, d.path.as_str()) } else { (Some(top.to_string()), below) };
    let what = if path.is_empty() && pool.is_some() { "the pool is defined" } else { "written" };
    let (line, place) = if is_template {
        (None, format!("lines {} and {} of the rendered template", d.first.0, d.second.0))
    } else {
        (Some(d.second), format!("first at line {}, column {}", d.first.0, d.first.1))
    };
    let message = format!("{what} twice ({place}); keep one: otherwise the last silently wins");
    Problem { pool, path: path.to_string(), line, message }
}

fn problem(pool: Option<&String>, path: &str, line: Option<(usize, usize)>, message: String) -> Problem {
    Problem { pool: pool.cloned(), path: path.to_string(), line, message }
}

/// Objects merge recursively, arrays and scalars replace, `null` removes.
pub fn merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (key, value) in o {
                match (out.get(key), value) {
                    (_, Value::Null) => {
                        out.shift_remove(key);
                    }
                    (Some(existing @ Value::Object(_)), Value::Object(_)) => {
                        let merged = merge(existing, value);
                        out.insert(key.clone(), merged);
                    }
                    _ => {
                        out.insert(key.clone(), value.clone());
                    }
                }
            }
            Value::Object(out)
        }
        (_, other) => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_semantics() {
        let common = json!({"vmSize": "a", "startTask": {"commandLine": "x", "waitForSuccess": true}, "metadata": [{"name": "a"}], "displayName": "d"});
        let own =
            json!({"startTask": {"commandLine": "y"}, "metadata": [], "displayName": null, "taskSlotsPerNode": 2});
        assert_eq!(
            merge(&common, &own),
            json!({"vmSize": "a", "startTask": {"commandLine": "y", "waitForSuccess": true}, "metadata": [], "taskSlotsPerNode": 2})
        );
    }

    #[test]
    fn the_example_is_valid_for_both_api_versions() {
        let definition = Definition::from_text("pools.example.json", EXAMPLE, false, &BTreeMap::new()).unwrap();
        assert_eq!(definition.pools.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["p-render", "p-ingest"]);
        for version in [ApiVersion::V2024_07_01, ApiVersion::V2025_06_01] {
            definition.validate(version).unwrap_or_else(|e| panic!("{version}: {e}"));
        }
    }

    #[test]
    fn syntax_errors_give_line_column_and_text() {
        let err = Definition::from_text("d.json", "{\n  \"p\": {\"vmSize\": \"a\",}\n}", false, &BTreeMap::new())
            .unwrap_err();
        assert_eq!(err.problems[0].line.map(|l| l.0), Some(2));
        let shown = err.to_string();
        assert!(
            shown.contains("d.json:2:")
                && shown.contains("\"vmSize\": \"a\",}")
                && shown.contains("Nothing was changed"),
            "{shown}"
        );
    }
}
