//! Property-based fuzzing (proptest) of what operators type: ISO-8601 durations, definition files
//! (JSON and Jinja2 templates) and the validator behind them. Nothing panics; every rejection says
//! where; accepted input keeps its meaning. Seed inputs live in tests/fuzz-corpus; proptest keeps
//! the inputs of past failures in tests/proptest-regressions and replays them first.
//! `PROPTEST_CASES=5000 cargo test --test fuzz` searches longer.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use repool::batch::BatchDuration;
use repool::definition::{Definition, DefinitionError};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

const API_VERSIONS: [repool::batch::ApiVersion; 2] =
    [repool::batch::ApiVersion::V2024_07_01, repool::batch::ApiVersion::V2025_06_01];

fn corpus(prefix: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("tests/fuzz-corpus")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into(), std::fs::read_to_string(&p).expect("corpus file")))
        .collect();
    files.sort();
    files
}

fn duration_corpus() -> Vec<String> {
    corpus("durations").iter().flat_map(|(_, text)| text.lines().map(String::from).collect::<Vec<_>>()).collect()
}

/// Every property name in the shipped pool-add schemas, so generated objects reach deep into them.
fn schema_names() -> &'static Vec<String> {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/schema")).unwrap() {
            let schema: Value = serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
            for ty in schema["types"].as_object().unwrap().values() {
                names.extend(ty["properties"].as_object().into_iter().flat_map(|p| p.keys().cloned()));
            }
        }
        names.into_iter().collect()
    })
}

fn check_duration(input: &str) -> Result<(), TestCaseError> {
    if let Ok(d) = BatchDuration::parse(input) {
        let text = d.to_string();
        let again = BatchDuration::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("'{input}' → '{text}' does not parse back: {e}")))?;
        // Batch keeps 100 ns; the normal form may round below that.
        let diff = again.as_std().abs_diff(d.as_std());
        prop_assert!(diff.as_nanos() < 100 || d.is_unbounded(), "'{input}' → '{text}' → {again:?} (was {d:?})");
    }
    Ok(())
}

/// A rejected definition names its file, says what is wrong, and promises nothing changed.
fn check_rejection(error: &DefinitionError, source: &str, text_lines: usize) -> Result<(), TestCaseError> {
    prop_assert!(!error.problems.is_empty());
    for problem in &error.problems {
        prop_assert!(!problem.message.trim().is_empty(), "an empty message in {error:?}");
        if let Some((line, column)) = problem.line {
            prop_assert!(line >= 1 && column >= 1, "{problem:?}");
            prop_assert!(line <= text_lines + 1, "line {line} of a {text_lines}-line text: {problem:?}");
        }
    }
    let shown = error.to_string();
    prop_assert!(shown.starts_with(source), "{shown}");
    prop_assert!(shown.ends_with("Nothing was changed. Fix the file and run `repool validate`."), "{shown}");
    Ok(())
}

/// Loads and validates; whatever happens, it is a clean answer.
fn check_definition(source: &str, text: &str, template: bool) -> Result<Option<Definition>, TestCaseError> {
    match Definition::from_text(source, text, template, &BTreeMap::new()) {
        Err(e) => {
            // Template errors point into the template, JSON errors into the rendered text.
            let lines = if template { usize::MAX - 1 } else { text.lines().count() };
            check_rejection(&e, source, lines)?;
            Ok(None)
        }
        Ok(definition) => {
            prop_assert!(!definition.pools.is_empty());
            for pool in &definition.pools {
                prop_assert_eq!(pool.body["id"].as_str(), Some(pool.id.as_str()), "the key names the pool");
            }
            let mut valid = true;
            for version in API_VERSIONS {
                if let Err(e) = definition.validate(version) {
                    check_rejection(&e, source, usize::MAX - 1)?;
                    valid = false;
                }
            }
            Ok(valid.then_some(definition))
        }
    }
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        (0u32..100).prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        prop::sample::select(vec!["PT15M", "P1D", "standard_d2s_v3", "taskcompletion", "regional", "", "é\u{0}\""])
            .prop_map(Value::from),
    ]
}

/// Arbitrary JSON whose keys are mostly real pool-add property names.
fn json_tree() -> impl Strategy<Value = Value> {
    let key = prop_oneof![4 => prop::sample::select(schema_names().clone()), 1 => "[a-zA-Z]{1,8}"];
    json_leaf().prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid pool, half the time with some properties overwritten by arbitrary values.
fn pool_body() -> impl Strategy<Value = Value> {
    let base = json!({
        "vmSize": "standard_d2s_v3", "targetDedicatedNodes": 1,
        "virtualMachineConfiguration": {"imageReference": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
            "nodeAgentSKUId": "batch.node.ubuntu 24.04"}
    });
    let edits = prop::collection::vec((prop::sample::select(schema_names().clone()), json_tree()), 1..4);
    prop_oneof![Just(Vec::new()), edits].prop_map(move |edits| {
        let mut body = base.clone();
        for (name, value) in edits {
            body[name] = value;
        }
        body
    })
}

/// Byte-level edits of a seed text: deletions, insertions of JSON/Jinja punctuation, swaps.
fn mutated(seeds: Vec<(String, String)>) -> impl Strategy<Value = (String, String)> {
    let edit = (
        any::<prop::sample::Index>(),
        0usize..4,
        prop::sample::select(vec![
            "{", "}", "[", "]", "\"", ",", ":", "\\", "{{", "}}", "{%", "%}", "\n", "é", "null", "1e999", "\u{0}",
        ]),
    );
    (prop::sample::select(seeds), prop::collection::vec(edit, 1..6)).prop_map(|((name, text), edits)| {
        let mut chars: Vec<char> = text.chars().collect();
        for (at, kind, piece) in edits {
            let i = if chars.is_empty() { 0 } else { at.index(chars.len()) };
            match kind {
                0 if !chars.is_empty() => {
                    chars.remove(i);
                }
                1 if chars.len() > 1 => {
                    let next = (i + 1) % chars.len();
                    chars.swap(i, next);
                }
                _ => {
                    let tail = chars.split_off(i);
                    chars.extend(piece.chars());
                    chars.extend(tail);
                }
            }
        }
        (name, chars.into_iter().collect())
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("tests/proptest-regressions/fuzz.txt"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn durations_never_panic_and_round_trip(body in "[PTWDHMSY0-9.,+-]{0,24}", prefix in prop::sample::select(vec!["", "P", "PT", "-P"])) {
        check_duration(&format!("{prefix}{body}"))?;
    }

    #[test]
    fn durations_from_parts_mean_what_they_say(days in 0u64..10_000, hours in 0u64..48, minutes in 0u64..120, seconds in 0u64..120, millis in 0u64..1000) {
        let text = format!("P{days}DT{hours}H{minutes}M{seconds}.{millis:03}S");
        let parsed = BatchDuration::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let expected = ((days * 24 + hours) * 60 + minutes) * 60_000 + seconds * 1000 + millis;
        prop_assert_eq!(parsed.as_std().as_millis(), u128::from(expected), "{}", text);
        check_duration(&text)?;
    }

    #[test]
    fn mutated_durations_never_panic(input in mutated(duration_corpus().into_iter().map(|d| (String::new(), d)).collect())) {
        check_duration(&input.1)?;
    }

    #[test]
    fn generated_definitions_load_validate_and_keep_their_meaning(
        common in pool_body(),
        pools in prop::collection::btree_map("[a-z][a-z0-9_-]{0,11}", prop_oneof![3 => pool_body(), 1 => json_tree()], 1..4),
    ) {
        let mut root = Map::new();
        root.insert("common-config".into(), common.clone());
        root.extend(pools.clone());
        let text = serde_json::to_string_pretty(&Value::Object(root)).unwrap();
        let Some(definition) = check_definition("generated.json", &text, false)? else { return Ok(()) };
        // Valid: each body is common-config overridden by the pool's own object.
        for pool in &definition.pools {
            let mut expected = repool::definition::merge(&common, &pools[&pool.id]);
            expected.as_object_mut().unwrap().insert("id".into(), Value::from(pool.id.clone()));
            prop_assert_eq!(&pool.body, &expected);
        }
        // Writing the merged bodies back out is a definition that means the same.
        let flat: Map<String, Value> = definition.pools.iter().map(|p| (p.id.clone(), p.body.clone())).collect();
        let again = check_definition("flat.json", &serde_json::to_string(&flat).unwrap(), false)?;
        prop_assert_eq!(again.map(|d| d.digest()), Some(definition.digest()));
    }

    #[test]
    fn mutated_definitions_and_templates_never_panic(input in mutated(corpus("definition"))) {
        let (name, text) = input;
        check_definition(&name, &text, name.ends_with(".j2"))?;
    }

    #[test]
    fn template_values_survive_any_characters(value in "\\PC{0,40}", quote in "[\"\\\\\n\t\u{0}-\u{1f}]{0,3}") {
        let value = format!("{quote}{value}{quote}");
        let vars = BTreeMap::from([("registry_user".to_string(), value.clone())]);
        let template = r#"{"p": {"vmSize": "standard_d2s_v3", "metadata": [{"name": "user", "value": "{{ registry_user }}"}]}}"#;
        let definition = Definition::from_text("t.json.j2", template, true, &vars)
            .map_err(|e| TestCaseError::fail(format!("{value:?}: {e}")))?;
        prop_assert_eq!(definition.pools[0].body["metadata"][0]["value"].as_str(), Some(value.as_str()));
    }
}

#[test]
fn the_corpus_as_it_is() {
    for (name, text) in corpus("definition") {
        check_definition(&name, &text, name.ends_with(".j2")).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for duration in duration_corpus() {
        check_duration(&duration).unwrap_or_else(|e| panic!("{duration}: {e}"));
    }
}
