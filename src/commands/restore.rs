//! `repool restore`: a missing pool created again from a backup.

use super::{confirm, refuse_if_readonly, warn_about_journals};
use crate::config::Settings;
use crate::definition::Definition;
use crate::errors::{BadInput, Exit};
use crate::setup::workspace;
use serde_json::Value;

/// What `repool restore` restores from.
pub enum RestoreFrom {
    /// The pre-run backup of the newest run that touched the pool.
    Pool(String),
    File(std::path::PathBuf),
}

/// A backup creates only the pool it is filed under (the pool named, or its folder in the backups
/// directory): one whose id was edited or that was moved there is refused.
fn check_filed_under(
    settings: &Settings,
    file: &std::path::Path,
    named: Option<&str>,
    id: &str,
) -> Result<(), BadInput> {
    let folder = file.parent().and_then(|f| f.file_name()).map(|f| f.to_string_lossy().into_owned());
    let in_backups = std::fs::canonicalize(settings.paths.backup_dir())
        .ok()
        .zip(std::fs::canonicalize(file).ok())
        .is_some_and(|(backups, file)| file.starts_with(backups));
    let mismatch = match named {
        Some(pool) => Some(pool.to_string()).filter(|p| !p.eq_ignore_ascii_case(id)),
        None if in_backups => folder.filter(|f| !f.eq_ignore_ascii_case(&crate::rollout::backup::safe(id))),
        None => None,
    };
    match mismatch {
        Some(pool) => Err(BadInput::new(format!(
            "backup {} is filed under pool '{pool}' but holds pool '{id}' (edited or misplaced?); restore creates \
             only the pool a backup is filed under; nothing was changed",
            file.display()
        ))),
        None => Ok(()),
    }
}

/// `repool restore`: creates a missing pool from a backup, with the secrets the service never returned.
pub async fn restore(
    settings: &Settings,
    from: RestoreFrom,
    secrets: &[String],
    yes: bool,
) -> color_eyre::Result<Exit> {
    use crate::definition::add_body::{body_from_backup, set_path};
    let (file, named) = match from {
        RestoreFrom::File(file) => (file, None),
        RestoreFrom::Pool(id) => {
            let workspace = workspace(settings)?;
            warn_about_journals(&workspace);
            let (run, file) = workspace.pre_run_backup(&id).ok_or_else(|| {
                BadInput::new(format!(
                    "no run of account {} backed up pool '{id}'; pass a backup FILE (see `repool info` for the backups folder)",
                    workspace.account
                ))
            })?;
            crate::noteln!("restoring '{id}' as it was before {run}: {}", file.display());
            (file, Some(id))
        }
    };
    if file.to_string_lossy().ends_with("-pre-delete.json") {
        crate::noteln!(
            "warning: {} is the drained pool right before its delete (0 nodes, autoscale off); \
             the pool as it was before the run is the run's -pre-run.json backup (`repool restore --pool ID`)",
            file.display()
        );
    }
    let text = std::fs::read_to_string(&file)
        .map_err(|e| BadInput::new(format!("cannot read backup {}: {e}", file.display())))?;
    let backup: Value = serde_json::from_str(&text)
        .map_err(|e| BadInput::new(format!("backup {} is not JSON: {e}", file.display())))?;
    let id = backup["id"].as_str().unwrap_or_default();
    check_filed_under(settings, &file, named.as_deref(), id)?;
    let (mut body, missing) = body_from_backup(&backup, settings.api_version).map_err(BadInput)?;
    let mut supplied = Vec::new();
    for pair in secrets {
        let (path, var) =
            pair.split_once('=').ok_or_else(|| BadInput::new(format!("--secret '{pair}' must be PATH=ENV_VAR")))?;
        let value = std::env::var(var)
            .map_err(|_| BadInput::new(format!("--secret {path}: environment variable {var} is not set")))?;
        set_path(&mut body, path, Value::String(value)).map_err(|e| BadInput::new(format!("--secret {e}")))?;
        supplied.push(path.to_string());
    }
    let mut hints: Vec<String> =
        missing.iter().filter(|m| !supplied.contains(m)).map(|m| format!("  --secret {m}=ENV_VAR")).collect();
    // Secrets the backup keeps as references: from the environment, or named here.
    match crate::definition::sealed::unseal(&body, None) {
        Ok(resolved) => body = resolved,
        Err(unresolved) => hints.extend(unresolved.iter().map(|m| match m.split_once(" (") {
            Some((path, why)) => format!("  --secret {path}=ENV_VAR  ({why}"),
            None => format!("  --secret {m}=ENV_VAR"),
        })),
    }
    if !hints.is_empty() {
        return Err(BadInput::new(format!(
            "the backup lacks secrets the service never returns or repool does not keep; supply each from an \
             environment variable:\n{}",
            hints.join("\n")
        ))
        .into());
    }
    let id = body["id"].as_str().ok_or_else(|| BadInput::new("the backup has no pool id"))?.to_string();
    let mut wrapped = serde_json::Map::new();
    wrapped.insert(id.clone(), body.clone());
    let definition = Definition::from_text(
        &file.display().to_string(),
        &Value::Object(wrapped).to_string(),
        false,
        &Default::default(),
    )
    .map_err(|e| BadInput::new(e.to_string()))?;
    definition.validate(settings.api_version).map_err(|e| BadInput::new(e.to_string()))?;
    refuse_if_readonly(settings)?;
    let workspace = workspace(settings)?;
    let _lock = workspace.exclusive("restore").map_err(BadInput)?;
    if workspace.client.pool_exists(&id).await? {
        return Err(BadInput::new(format!(
            "pool '{id}' exists; restore only creates a missing pool (use `repool recreate` to replace one)"
        ))
        .into());
    }
    crate::noteln!("{}", serde_json::to_string_pretty(&definition.redacted(&id, &body))?);
    confirm(yes, &format!("Create pool '{id}' from {}?", file.display())).await?;
    // The create is one call: a signal now waits for its answer rather than leave it unknown.
    let _signals = crate::signals::claim();
    workspace.client.add_pool(&body).await?;
    crate::outln!("created pool '{id}' from {}; watch it with `repool pools`", file.display());
    if let Some(run) =
        workspace.unfinished_runs().into_iter().find(|r| r.held_pools().iter().any(|p| p.eq_ignore_ascii_case(&id)))
    {
        crate::noteln!(
            "note: unfinished run {} still holds '{id}'; `repool abandon {}` so it does not try to create it again",
            run.run,
            run.run
        );
    }
    Ok(Exit::Done)
}
