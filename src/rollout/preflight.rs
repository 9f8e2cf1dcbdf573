//! Proof before any change: for each pool of a run, that the service will take the new pool and
//! that nothing of the live pool is lost without the operator's word. Every problem at once.
//!
//! - the image and node agent are offered by the account (`GET /supportedimages`, once per run)
//!   and not past `batchSupportEndOfLife`; a warning when the end is near, or the image unverified;
//! - every property the service returns for the live pool that the new pool would not have is
//!   named (a managed identity first: the data plane cannot set one) and refused unless accepted
//!   (`--accept-loss PATH`);
//! - warnings: a VM family or image Batch is retiring (`batch::retirements`), and remote access a
//!   recreated pool would lose (pools created after 2025-11-30 get no SSH/RDP ports unless
//!   `networkConfiguration.endpointConfiguration` maps them).

use crate::batch::{ApiVersion, Pool, SupportedImage, retirements};
use crate::definition::plan::{ChangeKind, plan_pool};
use crate::definition::redact::redact;
use crate::definition::schema::Schema;
use crate::definition::{Definition, PoolDefinition};
use serde_json::Value;

/// What the operator allows and wants to be told.
#[derive(Clone, Debug)]
pub struct PreflightPolicy {
    /// Properties (JSON paths, e.g. `identity`, `metadata`) the operator accepts losing.
    pub accept_loss: Vec<String>,
    /// Warn when an image's end of life is this close.
    pub end_of_life_warning: jiff::SignedDuration,
}

impl Default for PreflightPolicy {
    fn default() -> Self {
        PreflightPolicy { accept_loss: Vec::new(), end_of_life_warning: jiff::SignedDuration::from_hours(90 * 24) }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Findings {
    /// Each stops the run before anything changes.
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    /// The refused losses among the problems: (pool, property), what `--accept-loss` would allow.
    pub losses: Vec<(String, String)>,
}

impl Findings {
    /// The refusal of a run with problems, every one named; `check` says which check found them.
    pub fn refusal(&self, check: &str) -> String {
        format!(
            "{check} found {} problem(s); nothing was changed:\n  {}",
            self.problems.len(),
            self.problems.join("\n  ")
        )
    }
}

/// What a pool returns that no pool-add body carries: state, counts, errors, statistics.
const READ_ONLY: [&str; 17] = [
    "id",
    "url",
    "eTag",
    "lastModified",
    "creationTime",
    "state",
    "stateTransitionTime",
    "allocationState",
    "allocationStateTransitionTime",
    "currentDedicatedNodes",
    "currentLowPriorityNodes",
    "resizeErrors",
    "autoScaleRun",
    "stats",
    "currentNodeCommunicationMode",
    "odata.metadata",
    "virtualMachineInfo",
];

/// How many nodes a pool has: set by the definition either way, never "lost".
const CAPACITY: [&str; 5] = [
    "targetDedicatedNodes",
    "targetLowPriorityNodes",
    "enableAutoScale",
    "autoScaleFormula",
    "autoScaleEvaluationInterval",
];

/// The top-level properties that differ between two reads of a pool, leaving out its state and
/// capacity (what a run sets anyway, and what moves on its own: a resize sets `resizeTimeout`).
/// What plan, strategy and preflight judged stays true while this is empty.
pub fn changed_properties(then: &Pool, now: &Pool) -> Vec<String> {
    let (then, now) = (serde_json::to_value(then).unwrap_or_default(), serde_json::to_value(now).unwrap_or_default());
    let settled = |key: &&String| {
        !READ_ONLY.contains(&key.as_str()) && !CAPACITY.contains(&key.as_str()) && key.as_str() != "resizeTimeout"
    };
    let keys: std::collections::BTreeSet<&String> =
        then.as_object().into_iter().chain(now.as_object()).flat_map(|o| o.keys()).filter(settled).collect();
    keys.into_iter().filter(|k| then.get(k.as_str()) != now.get(k.as_str())).cloned().collect()
}

/// The account as preflight sees it: its pools and the images it offers, now.
pub struct Seen<'a> {
    pub live: &'a [Pool],
    pub images: &'a [SupportedImage],
    pub now: jiff::Timestamp,
}

pub fn check(
    definition: &Definition,
    ids: &[String],
    seen: &Seen,
    api_version: ApiVersion,
    policy: &PreflightPolicy,
    kept: &[String],
) -> Findings {
    let Seen { live, images, now } = *seen;
    let mut findings = Findings::default();
    let live = Pool::by_id(live);
    for pool in ids.iter().filter_map(|id| definition.pool(id)) {
        let image_said = check_image(pool, images, policy, now, &mut findings);
        check_retirements(pool, image_said, now, &mut findings);
        let current = live.get(&pool.id.to_lowercase()).copied();
        // A pool changed in place keeps what the definition does not name: nothing to lose.
        let recreated = !kept.iter().any(|k| k.eq_ignore_ascii_case(&pool.id));
        if let Some(current) = current.filter(|_| recreated) {
            check_losses(pool, current, api_version, policy, &mut findings);
            check_remote_access(pool, current, &mut findings);
        }
        check_identity_references(pool, current, &mut findings);
    }
    findings
}

/// The image against what the account offers; true when it spoke of the image's end of life.
fn check_image(
    pool: &PoolDefinition,
    images: &[SupportedImage],
    policy: &PreflightPolicy,
    now: jiff::Timestamp,
    findings: &mut Findings,
) -> bool {
    let vm = &pool.body["virtualMachineConfiguration"];
    let image = &vm["imageReference"];
    if !image.is_object() || image.get("virtualMachineImageId").is_some() {
        return false;
    }
    let agent = vm["nodeAgentSKUId"].as_str().unwrap_or_default();
    let field = |key: &str| image[key].as_str().unwrap_or("?").to_string();
    let shown = format!("{}/{}/{}", field("publisher"), field("offer"), field("sku"));
    let id = &pool.id;
    let Some(entry) = images.iter().find(|i| i.offers(image, agent)) else {
        let agents: Vec<&str> = images
            .iter()
            .filter(|i| i.offers(image, &i.node_agent_sku_id))
            .map(|i| i.node_agent_sku_id.as_str())
            .collect();
        let hint = if agents.is_empty() {
            "the account offers no such image; pick one from `GET /supportedimages`".to_string()
        } else {
            format!("that image runs with node agent {}", agents.join(" or "))
        };
        findings.problems.push(format!(
            "pool '{id}': image {shown} with node agent '{agent}' is not offered by this account ({hint}); the service would refuse the new pool after the old one is deleted"
        ));
        return true;
    };
    let mut said = false;
    if let Some(end) = entry.batch_support_end_of_life {
        let day = end.strftime("%Y-%m-%d");
        if end <= now {
            findings.problems.push(format!(
                "pool '{id}': image {shown} ({agent}) is retired: Batch stopped accepting new pools on it on {day}; move the definition to a supported image"
            ));
            said = true;
        } else if end.duration_since(now) <= policy.end_of_life_warning {
            findings
                .warnings
                .push(format!("pool '{id}': image {shown} ({agent}) reaches its Batch end of life on {day}"));
            said = true;
        }
    }
    if entry.verification_type.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("unverified")) {
        findings.warnings.push(format!("pool '{id}': image {shown} ({agent}) is unverified: Batch does not test it"));
    }
    said
}

/// The announced retirements of what the new pool runs on (the image's only when the account's
/// own end-of-life date was not already said).
fn check_retirements(pool: &PoolDefinition, image_said: bool, now: jiff::Timestamp, findings: &mut Findings) {
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let id = &pool.id;
    if let Some(size) = pool.body["vmSize"].as_str()
        && let Some(r) = retirements::of_vm_size(size)
    {
        findings.warnings.push(format!(
            "pool '{id}': vmSize {size} is {}, which Batch stops supporting: {} ({}); move it to a current series",
            r.what,
            r.when(today),
            r.source
        ));
    }
    if let Some(r) = retirements::of_image(&pool.body).filter(|_| !image_said) {
        let agent = pool.body["virtualMachineConfiguration"]["nodeAgentSKUId"].as_str().unwrap_or("?");
        findings.warnings.push(format!(
            "pool '{id}': Batch support for {} ({agent}) {} ({}); move the definition to a supported image",
            r.what,
            r.when(today),
            r.source
        ));
    }
}

/// Pools created since 2025-12-01 get no SSH/RDP port unless `endpointConfiguration` maps one.
const PORTS_MAPPED_UNTIL: jiff::Timestamp = jiff::Timestamp::constant(1_764_547_200, 0);

/// A pool created when Batch still mapped SSH/RDP ports by itself, recreated from a definition
/// that maps none: the new pool has no remote access where the old one had.
fn check_remote_access(pool: &PoolDefinition, live: &Pool, findings: &mut Findings) {
    let endpoints = |body: &Value| !body["networkConfiguration"]["endpointConfiguration"].is_null();
    let live_body = serde_json::to_value(live).unwrap_or_default();
    let old = live.creation_time.is_none_or(|t| t < PORTS_MAPPED_UNTIL);
    if !old || endpoints(&pool.body) || endpoints(&live_body) {
        return;
    }
    let windows = pool.body["virtualMachineConfiguration"]["nodeAgentSKUId"]
        .as_str()
        .is_some_and(|a| a.to_ascii_lowercase().contains("windows"));
    let (what, port) = if windows { ("RDP", 3389) } else { ("SSH", 22) };
    let created = live.creation_time.map(|t| t.strftime("%Y-%m-%d").to_string()).unwrap_or("before 2025-12-01".into());
    findings.warnings.push(format!(
        "pool '{}': created {created}, when Batch still mapped {what} ports to nodes by itself; the new pool gets \
         none: to keep remote access add networkConfiguration.endpointConfiguration.inboundNATPools (backendPort \
         {port}) to the definition",
        pool.id
    ));
}

/// An `identityReference` names a user-assigned identity of the pool; a pool created through the
/// data plane has none, so what uses it (registry pulls, mounts, resource files) would fail.
fn check_identity_references(pool: &PoolDefinition, live: Option<&Pool>, findings: &mut Findings) {
    let mut references = Vec::new();
    collect_identity_references(&pool.body, &mut references);
    references.sort();
    references.dedup();
    let live = live.and_then(|l| serde_json::to_value(l).ok());
    let held = |id: &str| {
        live.as_ref()
            .and_then(|l| l["identity"]["userAssignedIdentities"].as_array())
            .is_some_and(|ids| ids.iter().any(|i| i["resourceId"].as_str().is_some_and(|r| r.eq_ignore_ascii_case(id))))
    };
    for id in references {
        let note =
            if held(&id) { "the live pool has it, the new one will not" } else { "the pool has no such identity" };
        findings.warnings.push(format!(
            "pool '{}': identityReference {id}: {note}; pools created through the data plane get no managed \
             identity, so what uses it (registry pulls, mounts, resource files) may fail",
            pool.id
        ));
    }
}

fn collect_identity_references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(id) = map.get("identityReference").and_then(|r| r["resourceId"].as_str()) {
                out.push(id.to_string());
            }
            map.values().for_each(|v| collect_identity_references(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_identity_references(v, out)),
        _ => {}
    }
}

/// Properties of the live pool the new one would not have: the plan's removals, and whatever the
/// create body cannot hold at all (a managed identity).
fn check_losses(
    pool: &PoolDefinition,
    live: &Pool,
    api_version: ApiVersion,
    policy: &PreflightPolicy,
    findings: &mut Findings,
) {
    let accepted = |path: &str| {
        policy
            .accept_loss
            .iter()
            .any(|a| path == a || path.starts_with(&format!("{a}.")) || path.starts_with(&format!("{a}[")))
    };
    let live_body = serde_json::to_value(live).unwrap_or_default();
    let schema = Schema::for_api_version(api_version);
    let mut losses: Vec<(String, Value)> = Vec::new();
    for (key, value) in live_body.as_object().into_iter().flatten() {
        let carried = schema.type_at(&[key.as_str()]).is_some();
        if !carried && !READ_ONLY.contains(&key.as_str()) && !value.is_null() && pool.body.get(key).is_none() {
            losses.push((key.clone(), value.clone()));
        }
    }
    // Capacity (targets or autoscale) is what the definition says it is: a change, not a loss.
    let capacity = |path: &str| CAPACITY.contains(&path);
    for change in plan_pool(pool, live, api_version).changes.into_iter() {
        if change.kind == ChangeKind::Removed && !capacity(&change.path) {
            losses.push((change.path, change.live.unwrap_or_default()));
        }
    }
    for (path, value) in losses.into_iter().filter(|(path, _)| !accepted(path)) {
        let shown = redact(&value, None).to_string();
        let shown = if shown.chars().count() > 160 {
            format!("{}…", shown.chars().take(160).collect::<String>())
        } else {
            shown
        };
        let why = if path == "identity" {
            "a managed identity cannot be set through the data plane, so the new pool would not have it and \
             anything that uses it (identityReference of registries, mounts, resource files) would stop working; \
             create such pools with the management plane (ARM)"
        } else {
            "the definition does not set it"
        };
        findings.problems.push(format!(
            "pool '{}': the new pool would lose {path} = {shown}: {why}. To recreate it anyway: --accept-loss {path}",
            pool.id
        ));
        findings.losses.push((pool.id.clone(), path));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn images() -> Vec<SupportedImage> {
        serde_json::from_value(json!([
            {"nodeAgentSKUId": "batch.node.ubuntu 24.04", "imageReference": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
             "verificationType": "verified", "batchSupportEndOfLife": "2029-04-30T00:00:00Z"},
            {"nodeAgentSKUId": "batch.node.ubuntu 18.04", "imageReference": {"publisher": "canonical", "offer": "ubuntuserver", "sku": "18.04-lts"},
             "verificationType": "verified", "batchSupportEndOfLife": "2023-04-30T00:00:00Z"},
            {"nodeAgentSKUId": "batch.node.debian 12", "imageReference": {"publisher": "debian", "offer": "debian-12", "sku": "12"},
             "verificationType": "unverified", "batchSupportEndOfLife": "2027-01-15T00:00:00Z"}
        ]))
        .unwrap()
    }

    fn definition(pools: Value) -> Definition {
        Definition::from_text("d.json", &pools.to_string(), false, &Default::default()).unwrap()
    }

    fn vm(publisher: &str, offer: &str, sku: &str, agent: &str) -> Value {
        json!({"imageReference": {"publisher": publisher, "offer": offer, "sku": sku}, "nodeAgentSKUId": agent})
    }

    #[test]
    fn images_not_offered_retired_ending_soon_or_unverified() {
        let d = definition(json!({
            "ok": {"vmSize": "a", "virtualMachineConfiguration": vm("Canonical", "ubuntu-24_04-lts", "server", "batch.node.ubuntu 24.04")},
            "retired": {"vmSize": "a", "virtualMachineConfiguration": vm("canonical", "UbuntuServer", "18.04-LTS", "batch.node.ubuntu 18.04")},
            "wrong-agent": {"vmSize": "a", "virtualMachineConfiguration": vm("canonical", "ubuntu-24_04-lts", "server", "batch.node.ubuntu 22.04")},
            "soon": {"vmSize": "a", "virtualMachineConfiguration": vm("debian", "debian-12", "12", "batch.node.debian 12")}
        }));
        let ids: Vec<String> = d.pools.iter().map(|p| p.id.clone()).collect();
        let now: jiff::Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let images = images();
        let seen = Seen { live: &[], images: &images, now };
        let found = check(&d, &ids, &seen, ApiVersion::V2025_06_01, &PreflightPolicy::default(), &[]);
        assert_eq!(found.problems.len(), 2, "{found:#?}");
        assert!(found.problems[0].contains("'retired'") && found.problems[0].contains("2023-04-30"), "{found:#?}");
        assert!(found.problems[1].contains("'wrong-agent'") && found.problems[1].contains("batch.node.ubuntu 24.04"));
        assert_eq!(found.warnings.len(), 2, "{found:#?}");
        assert!(found.warnings[0].contains("2027-01-15") && found.warnings[1].contains("unverified"));
    }

    #[test]
    fn a_managed_identity_and_other_live_properties_are_not_lost_silently() {
        let d = definition(json!({"p": {"vmSize": "standard_d2s_v3", "targetDedicatedNodes": 1,
            "virtualMachineConfiguration": vm("canonical", "ubuntu-24_04-lts", "server", "batch.node.ubuntu 24.04")}}));
        let live: Pool = serde_json::from_value(json!({
            "id": "p", "eTag": "0x1", "state": "active", "vmSize": "standard_d2s_v3", "targetDedicatedNodes": 1,
            "virtualMachineConfiguration": vm("canonical", "ubuntu-24_04-lts", "server", "batch.node.ubuntu 24.04"),
            "identity": {"type": "UserAssigned", "userAssignedIdentities": [{"resourceId": "/subscriptions/x/id"}]},
            "metadata": [{"name": "team", "value": "a"}]
        }))
        .unwrap();
        let ids = vec!["p".to_string()];
        let now = jiff::Timestamp::now();
        let policy = PreflightPolicy::default();
        let images = images();
        let seen = Seen { live: std::slice::from_ref(&live), images: &images, now };
        let found = check(&d, &ids, &seen, ApiVersion::V2025_06_01, &policy, &[]);
        assert_eq!(found.problems.len(), 2, "{found:#?}");
        assert!(found.problems[0].contains("lose identity") && found.problems[0].contains("management plane"));
        assert!(found.problems[1].contains("lose metadata") && found.problems[1].contains("--accept-loss metadata"));
        let accepting =
            PreflightPolicy { accept_loss: vec!["identity".into(), "metadata".into()], ..Default::default() };
        assert!(check(&d, &ids, &seen, ApiVersion::V2025_06_01, &accepting, &[]).problems.is_empty());
        // Changed in place, the pool keeps its identity and what the definition does not name.
        let kept = check(&d, &ids, &seen, ApiVersion::V2025_06_01, &policy, &ids);
        assert!(kept.problems.is_empty(), "{kept:#?}");
    }

    #[test]
    fn retiring_vm_families_and_images_are_warned_with_their_dates() {
        let d = definition(json!({
            "old-size": {"vmSize": "Standard_DS2_v2", "virtualMachineConfiguration": vm("canonical", "ubuntu-24_04-lts", "server", "batch.node.ubuntu 24.04")},
            "jammy": {"vmSize": "standard_d4s_v3", "virtualMachineConfiguration": vm("canonical", "0001-com-ubuntu-server-jammy", "22_04-lts", "batch.node.ubuntu 22.04")}
        }));
        let ids: Vec<String> = d.pools.iter().map(|p| p.id.clone()).collect();
        let mut images = images();
        images.push(
            serde_json::from_value(json!({"nodeAgentSKUId": "batch.node.ubuntu 22.04", "verificationType": "verified",
                "imageReference": {"publisher": "canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts"}}))
            .unwrap(),
        );
        let now: jiff::Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let seen = Seen { live: &[], images: &images, now };
        let found = check(&d, &ids, &seen, ApiVersion::V2025_06_01, &PreflightPolicy::default(), &[]);
        assert!(found.problems.is_empty(), "{found:#?}");
        assert_eq!(found.warnings.len(), 2, "{found:#?}");
        assert!(found.warnings[0].contains("'old-size'") && found.warnings[0].contains("VM family Dsv2"));
        assert!(found.warnings[0].contains("ends 2028-05-01"), "{found:#?}");
        assert!(
            found.warnings[1].contains("'jammy'")
                && found.warnings[1].contains("Ubuntu 22.04 (batch.node.ubuntu 22.04) ends 2027-06-30")
        );
        // The account's own end-of-life date, once near, is said once.
        images.last_mut().unwrap().batch_support_end_of_life = Some("2027-01-30T00:00:00Z".parse().unwrap());
        let seen = Seen { live: &[], images: &images, now };
        let found = check(&d, &ids, &seen, ApiVersion::V2025_06_01, &PreflightPolicy::default(), &[]);
        let jammy: Vec<&String> = found.warnings.iter().filter(|w| w.contains("'jammy'")).collect();
        assert_eq!(jammy.len(), 1, "{found:#?}");
        assert!(jammy[0].contains("2027-01-30"), "{found:#?}");
    }

    #[test]
    fn recreating_a_pool_from_before_december_2025_without_endpoints_warns_of_lost_remote_access() {
        let body = |endpoints: bool| {
            let mut pool = json!({"vmSize": "standard_d2s_v5", "targetDedicatedNodes": 1,
                "virtualMachineConfiguration": vm("canonical", "ubuntu-24_04-lts", "server", "batch.node.ubuntu 24.04")});
            if endpoints {
                pool["networkConfiguration"] = json!({"endpointConfiguration": {"inboundNATPools": [{"name": "ssh",
                    "protocol": "tcp", "backendPort": 22, "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50099}]}});
            }
            pool
        };
        let live = |created: &str| -> Pool {
            let mut pool = body(false);
            pool["id"] = json!("p");
            pool["creationTime"] = json!(created);
            serde_json::from_value(pool).unwrap()
        };
        let ids = vec!["p".to_string()];
        let images = images();
        let now: jiff::Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let warned = |definition: Value, live: &Pool, kept: &[String]| {
            let d = definition_of(definition);
            let seen = Seen { live: std::slice::from_ref(live), images: &images, now };
            let found = check(&d, &ids, &seen, ApiVersion::V2025_06_01, &PreflightPolicy::default(), kept);
            found.warnings.into_iter().filter(|w| w.contains("remote access")).collect::<Vec<_>>()
        };
        let old = live("2025-11-30T23:00:00Z");
        let said = warned(body(false), &old, &[]);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("created 2025-11-30") && said[0].contains("SSH"), "{said:?}");
        assert!(said[0].contains("networkConfiguration.endpointConfiguration.inboundNATPools (backendPort 22)"));
        assert!(warned(body(true), &old, &[]).is_empty(), "the definition maps ports");
        assert!(warned(body(false), &live("2025-12-01T00:00:00Z"), &[]).is_empty(), "it never had them");
        assert!(warned(body(false), &old, &ids).is_empty(), "changed in place, it keeps them");
    }

    fn definition_of(pool: Value) -> Definition {
        definition(json!({ "p": pool }))
    }
}
