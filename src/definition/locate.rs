//! Where a property of a pool is written in the definition file: line and column, so a schema
//! error points the operator at the text to change. A pool's property may come from its own
//! object or from `common-config`; a property that is missing points at the object that lacks it.

use jsonc_parser::ast::{Object, Value};
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, ParseOptions};

/// A definition file's text, kept only to locate properties: it may hold secrets written in
/// clear, so it never prints, not even in debug output.
#[derive(Clone)]
pub struct SourceText(pub String);

impl std::fmt::Debug for SourceText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SourceText({} bytes)", self.0.len())
    }
}

/// The text of a definition, parsed once for locating.
pub struct Locator<'a> {
    text: &'a str,
    root: Option<Value<'a>>,
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str) -> Self {
        let root = jsonc_parser::parse_to_ast(text, &CollectOptions::default(), &ParseOptions::default())
            .ok()
            .and_then(|r| r.value);
        Locator { text, root }
    }

    /// Line and column (from 1) of `path` (`a.b[2].c`) below pool `pool`, else below
    /// `common-config`, else of the deepest part of the path that is written.
    pub fn find(&self, pool: &str, path: &str) -> Option<(usize, usize)> {
        let root = self.root.as_ref()?.as_object()?;
        let steps = parse_path(path);
        let mut best: Option<(usize, usize)> = None;
        for top in [pool, super::COMMON_KEY] {
            let Some(prop) = root.get(top) else { continue };
            let (depth, at) = walk(&prop.value, &steps, prop.name.range().start);
            if depth == steps.len() {
                return Some(self.position(at));
            }
            if best.is_none_or(|(d, _)| depth > d) {
                best = Some((depth, at));
            }
        }
        best.map(|(_, at)| self.position(at))
    }

    fn position(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
        (line, column)
    }
}

/// The value at `path` (`a.b[2].c`, as findings name it) in a pool body.
pub fn value_at<'v>(body: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    parse_path(path).iter().try_fold(body, |value, step| match step {
        PathStep::Key(key) => value.get(*key),
        PathStep::Index(i) => value.get(*i),
    })
}

/// A key written twice in one object: JSON parsers keep the last, so the first would be
/// silently ignored.
#[derive(Debug, PartialEq)]
pub struct Duplicate {
    /// Where the key is, from the top: `p-1.startTask.resourceFiles[0].httpUrl`.
    pub path: String,
    pub first: (usize, usize),
    pub second: (usize, usize),
}

/// Every key written twice in the same object, anywhere in `text`.
pub fn duplicate_keys(text: &str) -> Vec<Duplicate> {
    let locator = Locator::new(text);
    let mut found = Vec::new();
    if let Some(root) = &locator.root {
        duplicates_in(&locator, root, "", &mut found);
    }
    found
}

fn duplicates_in(locator: &Locator, value: &Value, path: &str, found: &mut Vec<Duplicate>) {
    match value {
        Value::Object(object) => {
            let mut seen: std::collections::HashMap<&str, usize> = Default::default();
            for prop in &object.properties {
                let key = prop.name.as_str();
                let child = if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
                let at = prop.name.range().start;
                match seen.get(key) {
                    Some(&first) => found.push(Duplicate {
                        path: child.clone(),
                        first: locator.position(first),
                        second: locator.position(at),
                    }),
                    None => {
                        seen.insert(key, at);
                    }
                }
                duplicates_in(locator, &prop.value, &child, found);
            }
        }
        Value::Array(array) => {
            for (i, element) in array.elements.iter().enumerate() {
                duplicates_in(locator, element, &format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

enum PathStep<'p> {
    Key(&'p str),
    Index(usize),
}

fn parse_path(path: &str) -> Vec<PathStep<'_>> {
    let mut steps = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, indexes) = part.split_once('[').map(|(k, rest)| (k, Some(rest))).unwrap_or((part, None));
        if !key.is_empty() {
            steps.push(PathStep::Key(key));
        }
        for index in indexes.into_iter().flat_map(|r| r.split('[')) {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                steps.push(PathStep::Index(i));
            }
        }
    }
    steps
}

/// How many steps of the path exist below `value`, and where the last one found starts.
fn walk(value: &Value, steps: &[PathStep], mut at: usize) -> (usize, usize) {
    let mut current = value;
    for (depth, step) in steps.iter().enumerate() {
        let next = match (step, current) {
            (PathStep::Key(key), Value::Object(object)) => {
                property(object, key).map(|p| (p.name.range().start, &p.value))
            }
            (PathStep::Index(i), Value::Array(array)) => array.elements.get(*i).map(|v| (v.range().start, v)),
            _ => None,
        };
        match next {
            Some((start, value)) => {
                at = start;
                current = value;
            }
            None => return (depth, at),
        }
    }
    (steps.len(), at)
}

fn property<'o, 'a>(object: &'o Object<'a>, key: &str) -> Option<&'o jsonc_parser::ast::ObjectProp<'a>> {
    object.get(key)
}

#[cfg(test)]
mod tests {
    use super::Locator;

    const TEXT: &str = "{\n  \"common-config\": {\n    \"vmSize\": \"x\",\n    \"startTask\": {\"resourceFiles\": [{}, {\"httpUrl\": 3}]}\n  },\n  \"p-1\": {\n    \"targetDedicatedNodes\": \"two\"\n  }\n}\n";

    #[test]
    fn finds_the_pool_then_common_config_then_the_nearest_parent() {
        let locator = Locator::new(TEXT);
        assert_eq!(locator.find("p-1", "targetDedicatedNodes"), Some((7, 5)));
        assert_eq!(locator.find("p-1", "vmSize"), Some((3, 5)), "inherited from common-config");
        assert_eq!(locator.find("p-1", "startTask.resourceFiles[1].httpUrl"), Some((4, 42)));
        assert_eq!(locator.find("p-1", "virtualMachineConfiguration"), Some((6, 3)), "missing: the pool itself");
        assert_eq!(Locator::new("not json").find("p-1", "x"), None);
    }

    #[test]
    fn keys_written_twice_are_found_at_any_depth() {
        let text = "{\n\"p-1\": {\"vmSize\": \"a\",\n  \"startTask\": {\"resourceFiles\": [{\"httpUrl\": 1, \"httpUrl\": 2}]},\n  \"vmSize\": \"b\"},\n\"p-1\": {}\n}";
        let found = super::duplicate_keys(text);
        let shown: Vec<_> = found.into_iter().map(|d| (d.path, d.first, d.second)).collect();
        assert_eq!(
            shown,
            [
                ("p-1.startTask.resourceFiles[0].httpUrl".to_string(), (3, 36), (3, 50)),
                ("p-1.vmSize".to_string(), (2, 9), (4, 3)),
                ("p-1".to_string(), (2, 1), (5, 1)),
            ]
        );
        assert!(super::duplicate_keys("{\"a\": {\"b\": 1}, \"c\": {\"b\": 1}}").is_empty(), "other objects");
    }
}
