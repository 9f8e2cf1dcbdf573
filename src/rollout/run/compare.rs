//! How the definition in use compares with what a run recorded, per pool.

use super::*;

/// How the definition in use compares with what a run recorded for one of its pools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyDifference {
    Same,
    /// The properties (JSON paths) that differ.
    Differs(Vec<String>),
    /// The definition in use has no such pool.
    Missing,
}

impl BodyDifference {
    /// "not in the definition in use", "vmSize, startTask differ"; None when the same.
    pub fn describe(&self) -> Option<String> {
        match self {
            BodyDifference::Same => None,
            BodyDifference::Missing => Some("not in the definition in use".into()),
            BodyDifference::Differs(paths) => Some(format!("{} differ", paths.join(", "))),
        }
    }
}

/// How `definition` compares with what a run recorded, for each pool with work left that a
/// definition matters to (a heal's and a refresh's pools create and patch nothing).
pub fn differences(state: &RunState, definition: Option<&Definition>) -> Vec<(String, BodyDifference)> {
    state
        .pending()
        .into_iter()
        .filter(|(id, _)| state.pool(id).strategy.needs_definition())
        .map(|(id, _)| {
            let recorded = state.target(&id).map(|t| &t.body);
            let difference = match definition.and_then(|d| d.pool(&id)) {
                None => BodyDifference::Missing,
                Some(p) => {
                    let mut paths = Vec::new();
                    differing_paths(recorded, Some(&p.sealed), "", &mut paths);
                    if paths.is_empty() { BodyDifference::Same } else { BodyDifference::Differs(paths) }
                }
            };
            (id, difference)
        })
        .collect()
}

/// JSON paths where `a` and `b` differ (at most a dozen, enough to say what changed).
fn differing_paths(a: Option<&Value>, b: Option<&Value>, path: &str, out: &mut Vec<String>) {
    if out.len() >= 12 || a == b {
        return;
    }
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                differing_paths(x.get(key), y.get(key), &at, out);
            }
        }
        _ => out.push(if path.is_empty() { "the whole body".into() } else { path.to_string() }),
    }
}
