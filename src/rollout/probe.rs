//! `--probe`: the service itself validates each create body before a run deletes anything. The
//! body is created under a throwaway id with 0 nodes and no autoscale (an autoscale formula is
//! evaluated on it, not applied), then the throwaway pool is deleted at once.
//!
//! A ledger per account records each probe before its create and after its delete, so a probe
//! left behind by a crash is deleted by the next run that starts on the account.

use crate::batch::{BatchClient, EnableAutoScaleRequest};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    probe: String,
    pool: String,
    /// true once the delete was accepted (or the pool was not there).
    deleted: bool,
}

/// The account's probes, one JSON line per event.
pub struct Ledger {
    path: PathBuf,
}

impl Ledger {
    pub fn new(dir: &Path, account_file_name: &str) -> Ledger {
        Ledger { path: dir.join(format!("{account_file_name}.jsonl")) }
    }

    fn append(&self, entry: &Entry) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            crate::files::private_dir(dir)?;
        }
        let mut file = crate::files::private_options().append(true).open(&self.path)?;
        let mut line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
        line.push('\n');
        file.write_all(line.as_bytes())?;
        file.sync_data()
    }

    /// Probes created and not (yet) deleted: (probe id, pool id).
    pub fn leftovers(&self) -> Vec<(String, String)> {
        let Ok(file) = std::fs::File::open(&self.path) else { return Vec::new() };
        let mut open: Vec<(String, String)> = Vec::new();
        for line in std::io::BufReader::new(file).split(b'\n').map_while(Result::ok) {
            // A torn last line (a crash mid-write) was never followed by the create; a damaged
            // one hides only itself.
            let Ok(entry) = serde_json::from_str::<Entry>(&String::from_utf8_lossy(&line)) else { continue };
            open.retain(|(probe, _)| *probe != entry.probe);
            if !entry.deleted {
                open.push((entry.probe, entry.pool));
            }
        }
        open
    }
}

/// A throwaway id derived from the pool's: unique per probe, within the service's 64 characters.
fn probe_id(pool: &str) -> String {
    let stamp = jiff::Timestamp::now().as_millisecond() % 0x100_0000_0000;
    let head: String = pool.chars().take(40).collect();
    format!("{head}-probe-{stamp:010x}")
}

/// Deletes probes an earlier run left (a crash between create and delete); what it could not.
pub async fn sweep(client: &BatchClient, ledger: &Ledger) -> Vec<String> {
    let mut problems = Vec::new();
    for (probe, pool) in ledger.leftovers() {
        match delete(client, ledger, &probe, &pool).await {
            Ok(()) => tracing::info!("deleted probe pool {probe} left by an earlier run"),
            Err(e) => problems.push(format!("probe pool '{probe}' (of '{pool}') is still in the account: {e}")),
        }
    }
    problems
}

async fn delete(client: &BatchClient, ledger: &Ledger, probe: &str, pool: &str) -> Result<(), String> {
    match client.delete_pool(probe, None).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() || e.code() == Some("PoolBeingDeleted") => {}
        Err(e) => return Err(e.to_string()),
    }
    let entry = Entry { probe: probe.to_string(), pool: pool.to_string(), deleted: true };
    ledger.append(&entry).map_err(|e| format!("cannot write the probe ledger {}: {e}", ledger.path.display()))
}

/// What the probe of one pool found: said on stderr and kept in the run's JSON report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeReport {
    /// The throwaway pool the body was created as.
    pub probe_pool: String,
    pub accepted: bool,
    /// What was proved, or the service's refusal (or why the probe could not be made).
    pub detail: String,
}

/// Lets the service validate `body` (pool `pool`): accepted, or the service's refusal worded for
/// the operator, or why the probe could not be made.
pub async fn probe(client: &BatchClient, ledger: &Ledger, pool: &str, body: &Value) -> ProbeReport {
    let id = probe_id(pool);
    let evaluated = if body.get("autoScaleFormula").is_some() { " and evaluated its autoscale formula" } else { "" };
    let (accepted, detail) = match create_and_delete(client, ledger, pool, &id, body).await {
        Ok(()) => (true, format!("the service accepted the body: created it with 0 nodes{evaluated}, then deleted it")),
        Err(refused) => (false, refused),
    };
    ProbeReport { probe_pool: id, accepted, detail }
}

async fn create_and_delete(
    client: &BatchClient,
    ledger: &Ledger,
    pool: &str,
    id: &str,
    body: &Value,
) -> Result<(), String> {
    let id = id.to_string();
    let mut throwaway = body.clone();
    let formula = throwaway.get("autoScaleFormula").and_then(Value::as_str).map(str::to_string);
    if let Some(object) = throwaway.as_object_mut() {
        object.insert("id".into(), Value::String(id.clone()));
        object.insert("displayName".into(), Value::String(format!("repool probe of {pool}; deleted at once")));
        for key in ["enableAutoScale", "autoScaleFormula", "autoScaleEvaluationInterval"] {
            object.remove(key);
        }
        object.insert("targetDedicatedNodes".into(), 0.into());
        object.insert("targetLowPriorityNodes".into(), 0.into());
    }
    let entry = Entry { probe: id.clone(), pool: pool.to_string(), deleted: false };
    ledger.append(&entry).map_err(|e| format!("cannot write the probe ledger {}: {e}", ledger.path.display()))?;
    let created = client.add_pool(&throwaway).await;
    let verdict = match created {
        Err(e) if e.status().is_some_and(|s| (400..500).contains(&s)) => {
            Err(format!("the service refused this pool's definition: {e}"))
        }
        Err(e) => Err(format!("the probe could not be made ({e})")),
        Ok(()) => match formula {
            Some(formula) => evaluate(client, &id, &formula).await,
            None => Ok(()),
        },
    };
    // Refused creates leave nothing, but a create that timed out may have been applied.
    let deleted = delete(client, ledger, &id, pool).await;
    verdict?;
    deleted.map_err(|e| format!("the probe passed, but its pool '{id}' could not be deleted: {e}"))
}

/// The formula, evaluated on the probe (autoscale on with a formula that keeps it at 0 nodes).
async fn evaluate(client: &BatchClient, id: &str, formula: &str) -> Result<(), String> {
    let enable = EnableAutoScaleRequest {
        auto_scale_formula: Some("$TargetDedicatedNodes = 0; $TargetLowPriorityNodes = 0;".into()),
        auto_scale_evaluation_interval: None,
    };
    // A new pool allocates (nothing) for a moment; autoscale can be enabled once it is steady.
    let mut tries = 0;
    while let Err(e) = client.enable_autoscale(id, &enable).await {
        tries += 1;
        if e.status() != Some(409) || tries >= 60 {
            return Err(format!("the probe could not evaluate the formula ({e})"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    match client.evaluate_autoscale(id, formula).await {
        Ok(run) => match run.error {
            Some(error) => {
                Err(format!("the service cannot evaluate autoScaleFormula: {} {}", error.code, error.message))
            }
            None => Ok(()),
        },
        Err(e) if e.status().is_some_and(|s| (400..500).contains(&s)) => {
            Err(format!("the service refused autoScaleFormula: {e}"))
        }
        Err(e) => Err(format!("the probe could not evaluate the formula ({e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_deleted_is_no_leftover_and_a_torn_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path(), "acct");
        let entry = |probe: &str, deleted| Entry { probe: probe.into(), pool: "p".into(), deleted };
        ledger.append(&entry("a", false)).unwrap();
        ledger.append(&entry("b", false)).unwrap();
        ledger.append(&entry("a", true)).unwrap();
        std::fs::OpenOptions::new().append(true).open(&ledger.path).unwrap().write_all(b"{\"probe\":\"c\",").unwrap();
        assert_eq!(ledger.leftovers(), vec![("b".to_string(), "p".to_string())]);
    }

    #[test]
    fn probe_ids_fit_the_service_limit() {
        let id = probe_id(&"x".repeat(64));
        assert!(id.len() <= 64, "{id}");
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}
