//! `plan`: each pool's rendered body against the live pool. Server defaults, read-only and
//! write-only properties never show as changes; each change says whether Batch could apply it
//! in place (patch, resize, autoscale calls) or only a recreation can.

use super::redact::{is_secret_name, redact};
use super::schema::Schema;
use super::{Definition, PoolDefinition};
use crate::batch::{ApiVersion, BatchDuration, Pool, case, defaults};
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub pools: Vec<PoolPlan>,
    /// Pools in the account that the definition does not mention: left alone.
    pub not_in_definition: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolPlan {
    pub id: String,
    pub action: Action,
    pub changes: Vec<Change>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Not in the account: recreation simply creates it.
    Create,
    Unchanged,
    /// Every difference could be applied without recreating.
    UpdateInPlace,
    Recreate,
}

impl Action {
    /// For an operator: "create", "unchanged", "update in place", "recreate".
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Unchanged => "unchanged",
            Action::UpdateInPlace => "update in place",
            Action::Recreate => "recreate",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired: Option<Value>,
    pub apply: Apply,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Apply {
    InPlace,
    /// api 2025-06-01 can patch it, but only while the pool has no nodes.
    InPlaceWhenEmpty,
    Recreate,
}

impl Apply {
    /// How the change can be made, for an operator.
    pub fn name(self) -> &'static str {
        match self {
            Apply::InPlace => "in place",
            Apply::InPlaceWhenEmpty => "in place when empty (2025-06-01)",
            Apply::Recreate => "recreate",
        }
    }
}

impl Plan {
    /// Plans `selected` pools (all of the definition when empty) against `live`.
    pub fn new(definition: &Definition, live: &[Pool], selected: &[String], api_version: ApiVersion) -> Plan {
        let selected: std::collections::HashSet<String> = selected.iter().map(|s| s.to_lowercase()).collect();
        let wanted = |id: &str| selected.is_empty() || selected.contains(&id.to_lowercase());
        let by_id = Pool::by_id(live);
        let pools = definition
            .pools
            .iter()
            .filter(|p| wanted(&p.id))
            .map(|pool| match by_id.get(&pool.id.to_lowercase()).copied() {
                None => PoolPlan { id: pool.id.clone(), action: Action::Create, changes: vec![] },
                Some(current) => plan_pool(pool, current, api_version),
            })
            .collect();
        let not_in_definition =
            live.iter().filter(|l| definition.pool(l.id()).is_none()).map(|l| l.id().to_string()).collect();
        Plan { pools, not_in_definition }
    }

    pub fn has_changes(&self) -> bool {
        self.pools.iter().any(|p| p.action != Action::Unchanged)
    }
}

pub fn plan_pool(pool: &PoolDefinition, live: &Pool, api_version: ApiVersion) -> PoolPlan {
    let schema = Schema::for_api_version(api_version);
    let mut desired = pool.body.as_object().cloned().unwrap_or_default();
    defaults::apply(&mut desired, api_version);
    let mut current = match serde_json::to_value(live) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    prune_to_schema(&mut current, schema, &[]);
    // What the service fills in counts on both sides: a pool created under an older api-version
    // lacks what this one defaults (taskSchedulingPolicy.jobDefaultOrder), and it is no change.
    defaults::apply(&mut current, api_version);
    if live.autoscale() && desired.get("enableAutoScale").and_then(Value::as_bool) == Some(true) {
        // With autoscale on, the formula owns the targets.
        current.remove("targetDedicatedNodes");
        current.remove("targetLowPriorityNodes");
    }
    let (desired, current) = (Value::Object(desired), Value::Object(current));
    let mut changes = Vec::new();
    diff(Some(&desired), Some(&current), &mut Vec::new(), schema, &mut changes);
    // Values are shown from the redacted bodies, found by place.
    let template = Some(&pool.sealed);
    let (desired_shown, current_shown) = (redact(&desired, template), redact(&current, template));
    let at = |body: &Value, path: &str| path.split('.').try_fold(body, |v, key| v.get(key)).cloned();
    for change in &mut changes {
        change.desired = change.desired.as_ref().and_then(|_| at(&desired_shown, &change.path));
        change.live = change.live.as_ref().and_then(|_| at(&current_shown, &change.path));
        let top = change.path.split(['.', '[']).next().unwrap_or_default();
        // Batch changes these on a live pool (resize, autoscale, PATCH, updateproperties).
        change.apply = if defaults::CAPACITY.contains(&top) || defaults::PATCH_ANY_TIME.contains(&top) {
            Apply::InPlace
        } else if api_version.patches_when_empty() && defaults::PATCH_WHEN_EMPTY.contains(&top) {
            Apply::InPlaceWhenEmpty
        } else {
            Apply::Recreate
        };
    }
    let action = if changes.is_empty() {
        Action::Unchanged
    } else if changes.iter().all(|c| c.apply == Apply::InPlace) {
        Action::UpdateInPlace
    } else {
        Action::Recreate
    };
    PoolPlan { id: pool.id.clone(), action, changes }
}

/// Drops what a pool-add body cannot hold: read-only state (eTag, counts, resizeErrors…).
pub fn prune_to_schema(map: &mut Map<String, Value>, schema: &Schema, path: &[&str]) {
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let mut inner: Vec<&str> = path.to_vec();
        inner.push(&key);
        let Some(ty) = schema.type_at(&inner) else {
            map.shift_remove(&key);
            continue;
        };
        let nested = ty.trim_start_matches('[').trim_end_matches(']');
        if !schema.types.contains_key(nested) {
            continue;
        }
        match map.get_mut(&key) {
            Some(Value::Object(child)) => prune_to_schema(child, schema, &inner),
            Some(Value::Array(items)) => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    prune_to_schema(item, schema, &inner);
                }
            }
            _ => {}
        }
    }
}

fn diff(desired: Option<&Value>, live: Option<&Value>, path: &mut Vec<String>, schema: &Schema, out: &mut Vec<Change>) {
    let key = path.last().cloned().unwrap_or_default();
    match (desired, live) {
        (Some(Value::Object(d)), Some(Value::Object(l))) => {
            let keys: Vec<&String> = d.keys().chain(l.keys().filter(|k| !d.contains_key(*k))).collect();
            for k in keys {
                // The service never returns secrets, so a desired password is not a change.
                if defaults::is_write_only(k) || (is_secret_name(k) && !l.contains_key(k)) {
                    continue;
                }
                path.push(k.clone());
                diff(d.get(k), l.get(k), path, schema, out);
                path.pop();
            }
        }
        (Some(d), Some(l)) if same(d, l, &key, &type_of(schema, path), schema) => {}
        // An empty list is no list: updateproperties leaves `metadata: []` where none was defined.
        (Some(Value::Array(v)), None) | (None, Some(Value::Array(v))) if v.is_empty() => {}
        (d, l) => out.push(Change {
            path: path.join("."),
            kind: match (d, l) {
                (Some(_), None) => ChangeKind::Added,
                (None, Some(_)) => ChangeKind::Removed,
                _ => ChangeKind::Changed,
            },
            live: l.cloned(),
            desired: d.cloned(),
            apply: Apply::Recreate,
        }),
    }
}

fn type_of(schema: &Schema, path: &[String]) -> String {
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    schema.type_at(&segments).unwrap_or("").to_string()
}

/// Equal as the service sees it: durations by length, text by the service's case rules.
fn same(d: &Value, l: &Value, key: &str, ty: &str, schema: &Schema) -> bool {
    match (d, l) {
        (Value::String(a), Value::String(b)) => {
            ((ty == "duration") && BatchDuration::parse(a).ok() == BatchDuration::parse(b).ok())
                || case::same(case::rule(key, schema.is_enum(ty)), a, b)
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| same(x, y, key, ty.trim_start_matches('[').trim_end_matches(']'), schema))
        }
        (Value::Object(a), Value::Object(b)) => {
            let keys = a.keys().chain(b.keys()).filter(|k| !defaults::is_write_only(k));
            keys.into_iter().all(|k| match (a.get(k), b.get(k)) {
                (Some(x), Some(y)) => same(x, y, k, "", schema),
                _ => false,
            })
        }
        _ => d == l,
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for pool in &self.pools {
            match pool.action {
                Action::Create => writeln!(f, "{}: create (not in the account)", pool.id)?,
                Action::Unchanged => writeln!(f, "{}: unchanged", pool.id)?,
                Action::UpdateInPlace => writeln!(
                    f,
                    "{}: {} change(s), all of which Batch can apply in place: recreation not needed",
                    pool.id,
                    pool.changes.len()
                )?,
                Action::Recreate => {
                    let only = pool.changes.iter().filter(|c| c.apply == Apply::Recreate).count();
                    let empty = pool.changes.iter().filter(|c| c.apply == Apply::InPlaceWhenEmpty).count();
                    if only == 0 {
                        writeln!(
                            f,
                            "{}: {} change(s), {empty} only on an empty pool: `repool apply` rebuilds it in place \
                             (drain, patch, scale back), `repool recreate` makes a new pool",
                            pool.id,
                            pool.changes.len()
                        )?
                    } else {
                        writeln!(
                            f,
                            "{}: recreate ({} change(s), {only} only by recreation)",
                            pool.id,
                            pool.changes.len()
                        )?
                    }
                }
            }
            for change in &pool.changes {
                let show = |v: &Option<Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
                let (sign, text) = match change.kind {
                    ChangeKind::Added => ("+", show(&change.desired)),
                    ChangeKind::Removed => ("-", show(&change.live)),
                    ChangeKind::Changed => ("~", format!("{} → {}", show(&change.live), show(&change.desired))),
                };
                writeln!(f, "  {sign} {}: {text}  [{}]", change.path, change.apply.name())?;
            }
            // A start task runs when a node starts: a PATCH reaches only nodes that start after it.
            if pool.action == Action::UpdateInPlace && pool.changes.iter().any(|c| c.path.starts_with("startTask")) {
                writeln!(
                    f,
                    "  note: nodes already in {} keep the old start task until they reboot or are replaced; \
                     new nodes run the new one",
                    pool.id
                )?;
            }
        }
        if !self.not_in_definition.is_empty() {
            writeln!(f, "left alone (not in the definition): {}", self.not_in_definition.join(", "))?;
        }
        Ok(())
    }
}
