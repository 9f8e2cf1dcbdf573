//! The service's case rules for the pool properties repool compares, in one place (batch-api.md
//! §2.2, §2.3): how the service spells a value in its answers whatever a client sent, and when two
//! spellings are the same value. Used by the simulator (it answers as the service does, whichever
//! operation set the value: add, PATCH or a seed), by `plan` (a spelling is never a change) and by
//! the tests' oracles (every pool the simulator holds is in the service's spelling).

use serde_json::{Map, Value};

/// How the service treats the case of one property's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Kept as sent and compared exactly: command lines, formulas, metadata, image names…
    Exact,
    /// Kept as sent, compared ignoring case: pool ids (`p-A` and `P-a` are one pool).
    KeptIgnoringCase,
    /// Answered lower-cased: `vmSize` (`STANDARD_D1_V2` → `standard_d1_v2`, rec:27).
    Lower,
    /// Answered with one capital: `nodeFillType` (`spread` → `Spread`, every recording 2023–2025).
    Capitalized,
    /// An enum: any case is accepted, compared ignoring case (the service is not consistent).
    Enum,
}

/// Where a rule other than `Exact` or `Enum` applies: (path from the pool, rule).
const SPELLED: [(&[&str], Rule); 3] = [
    (&["id"], Rule::KeptIgnoringCase),
    (&["vmSize"], Rule::Lower),
    (&["taskSchedulingPolicy", "nodeFillType"], Rule::Capitalized),
];

/// The rule for property `key` (the last name of its path); `is_enum` is what the schema says of
/// its type.
pub fn rule(key: &str, is_enum: bool) -> Rule {
    match SPELLED.iter().find(|(path, _)| path.last() == Some(&key)) {
        Some((_, rule)) => *rule,
        None if is_enum => Rule::Enum,
        None => Rule::Exact,
    }
}

/// How the service answers `text` under `rule`.
pub fn answered(rule: Rule, text: &str) -> String {
    match rule {
        Rule::Lower => text.to_lowercase(),
        Rule::Capitalized => {
            let lower = text.to_lowercase();
            let mut chars = lower.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
        }
        Rule::Exact | Rule::KeptIgnoringCase | Rule::Enum => text.to_string(),
    }
}

/// Whether the service takes `a` and `b` for the same value under `rule`.
pub fn same(rule: Rule, a: &str, b: &str) -> bool {
    match rule {
        Rule::Exact => a == b,
        Rule::KeptIgnoringCase | Rule::Lower | Rule::Capitalized | Rule::Enum => a.eq_ignore_ascii_case(b),
    }
}

/// Puts a pool body (an add or PATCH body, or a pool as stored) in the service's spelling, in place.
pub fn normalize(pool: &mut Map<String, Value>) {
    for (path, rule) in SPELLED {
        let Some((key, parents)) = path.split_last() else { continue };
        let parent = parents.iter().try_fold(&mut *pool, |map, name| map.get_mut(*name)?.as_object_mut());
        if let Some(Value::String(text)) = parent.and_then(|map| map.get_mut(*key)) {
            *text = answered(rule, text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_service_spelling_of_each_rule() {
        let mut pool = json!({"id": "P-Mixed", "vmSize": "Standard_D4s_v3", "taskSchedulingPolicy": {"nodeFillType": "pACK"},
            "startTask": {"commandLine": "Echo Hi"}});
        normalize(pool.as_object_mut().unwrap());
        assert_eq!(pool["vmSize"], "standard_d4s_v3");
        assert_eq!(pool["taskSchedulingPolicy"]["nodeFillType"], "Pack");
        assert_eq!(pool["id"], "P-Mixed", "ids keep their case");
        assert_eq!(pool["startTask"]["commandLine"], "Echo Hi");
        let mut again = pool.clone();
        normalize(again.as_object_mut().unwrap());
        assert_eq!(again, pool, "normalizing is idempotent");
    }

    #[test]
    fn which_spellings_are_the_same_value() {
        assert!(same(rule("vmSize", false), "Standard_D4s_v3", "standard_d4s_v3"));
        assert!(same(rule("id", false), "P-1", "p-1"));
        assert!(same(rule("caching", true), "ReadOnly", "readonly"));
        assert!(!same(rule("commandLine", false), "Echo", "echo"));
        assert_eq!(rule("nodeFillType", true), Rule::Capitalized, "a named rule wins over the enum default");
        assert_eq!(answered(Rule::Capitalized, ""), "");
    }
}
