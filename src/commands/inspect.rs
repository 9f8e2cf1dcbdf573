//! `repool info`, `pools`, `validate`, `plan` and `export`: what the account and the definition
//! hold, changing nothing. Text for people, JSON for scripts.

use crate::batch::{Pool, PoolSummary};
use crate::config::Settings;
use crate::definition::plan::Plan;
use crate::errors::{BadInput, Exit};
use crate::output::age;
use crate::setup::{connect, load_definition};
use std::fmt::Write as _;

pub fn info(settings: &Settings) -> color_eyre::Result<Exit> {
    let p = &settings.paths;
    let found = if settings.config_found { "" } else { " (not present: defaults, env and flags apply)" };
    crate::outln!("config    {}{found}", p.config_file.display());
    crate::outln!("data      {}", p.data_dir.display());
    crate::outln!("journal   {}", p.journal_dir().display());
    crate::outln!("backups   {}", p.backup_dir().display());
    crate::outln!("logs      {}", p.log_dir().display());
    // Each account setting with where it came from: flag, environment or config.
    let from = |value: Option<&str>, source: &crate::config::Source| match value {
        Some(value) => format!("{value}  ({source})"),
        None => "- (not configured)".into(),
    };
    let s = &settings.sources;
    let name = Some(settings.auth.account_name.as_str()).filter(|n| !n.is_empty());
    let definition = settings.definition.as_ref().map(|d| d.display().to_string());
    crate::outln!("account   {}", from(settings.profile.as_deref(), &s.profile));
    crate::outln!("endpoint  {}", from(settings.endpoint.as_deref(), &s.endpoint));
    crate::outln!("name      {}", from(name, &s.account_name));
    crate::outln!("key       {}", s.account_key.as_ref().map_or("-".into(), |source| format!("set  ({source})")));
    crate::outln!("auth      {}", from(Some(settings.auth.method.name()), &s.auth));
    crate::outln!("api       {}", from(Some(&settings.api_version.to_string()), &s.api_version));
    crate::outln!("definition {}", from(definition.as_deref(), &s.definition));
    Ok(Exit::Done)
}

pub async fn pools(settings: &Settings, json: bool) -> color_eyre::Result<Exit> {
    let client = connect(settings)?;
    if json {
        // Start-task secrets come back in clear: hidden by place where the definition has the pool.
        let definition = settings.definition.as_ref().and_then(|_| load_definition(settings).ok());
        for pool in client.list_pools(None, None, None).await? {
            let body = serde_json::to_value(&pool)?;
            let template = definition.as_ref().and_then(|d| d.sealed_body(pool.id()));
            crate::outln!("{}", serde_json::to_string(&crate::definition::redact::redact(&body, template.as_ref()))?);
        }
    } else {
        let pools = client.list_pool_summaries().await?;
        crate::out!("{}", pool_table(&pools, client.account_now()));
    }
    Ok(Exit::Done)
}

/// The plain-text pool table of `repool pools`. As in the dashboard, AGE is how long the pool
/// has existed and ALLOCATION says for how long it has been in its allocation state; `now` is
/// the account's clock.
pub fn pool_table(pools: &[PoolSummary], now: jiff::Timestamp) -> String {
    let header = ["ID", "AGE", "STATE", "ALLOCATION", "AUTOSCALE", "DEDICATED", "LOW-PRI", "VM SIZE", "ERRORS"];
    let rows: Vec<[String; 9]> = pools
        .iter()
        .map(|p| {
            [
                p.id().to_string(),
                p.creation_time.map(|t| age(now, t)).unwrap_or_default(),
                p.state.as_ref().map(|s| s.to_string()).unwrap_or_default(),
                format!(
                    "{} {}",
                    p.allocation_state.as_ref().map(|s| s.to_string()).unwrap_or_default(),
                    p.allocation_state_transition_time.map(|t| age(now, t)).unwrap_or_default()
                )
                .trim()
                .to_string(),
                if p.autoscale() { "on" } else { "off" }.to_string(),
                format!("{}/{}", p.current_dedicated_nodes.unwrap_or(0), p.target_dedicated_nodes.unwrap_or(0)),
                format!("{}/{}", p.current_low_priority_nodes.unwrap_or(0), p.target_low_priority_nodes.unwrap_or(0)),
                p.vm_size.clone().unwrap_or_default(),
                p.resize_errors
                    .as_ref()
                    .map(|e| e.iter().map(|e| e.code.as_str()).collect::<Vec<_>>().join(","))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let mut out = table(header, rows);
    if pools.is_empty() {
        out.push_str("(no pools in this account)\n");
    }
    out
}

/// A plain-text table, columns as wide as their widest cell. Cells are server text: escaped, and
/// cut so one huge value cannot swamp (or break) the table.
pub(super) fn table<const N: usize>(header: [&str; N], rows: Vec<[String; N]>) -> String {
    let rows: Vec<[String; N]> = rows.into_iter().map(|row| row.map(|cell| table_cell(&cell))).collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let text: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(&header.map(String::from));
    for row in &rows {
        line(row);
    }
    out
}

/// A table cell: control characters escaped, at most 120 characters.
fn table_cell(text: &str) -> String {
    let shown = crate::output::escape(text);
    match shown.char_indices().nth(119) {
        Some((at, _)) => format!("{}…", &shown[..at]),
        None => shown.into_owned(),
    }
}

pub fn validate(settings: &Settings) -> color_eyre::Result<Exit> {
    let definition = load_definition(settings)?;
    let ids: Vec<&str> = definition.pools.iter().map(|p| p.id.as_str()).collect();
    definition.require_env(ids.iter().copied()).map_err(|e| BadInput::new(e.to_string()))?;
    crate::outln!(
        "{}: {} pool(s) valid for api-version {}: {}",
        definition.source,
        ids.len(),
        settings.api_version,
        ids.join(", ")
    );
    Ok(Exit::Done)
}

/// `repool export`: the chosen live pools as a definition (stdout or a private file); the
/// variables its secret placeholders read are listed on stderr.
pub async fn export(
    settings: &Settings,
    pools: &[String],
    output: Option<&std::path::Path>,
) -> color_eyre::Result<Exit> {
    let client = connect(settings)?;
    // A named pool the listing left out is read directly before it is called missing.
    let live = client.list_pools_confirming(pools).await?;
    let mut chosen: Vec<&crate::batch::Pool> = Vec::new();
    for id in pools {
        let pool = live.iter().find(|p| p.id().eq_ignore_ascii_case(id)).ok_or_else(|| {
            let known: Vec<&str> = live.iter().map(Pool::id).collect();
            BadInput::new(format!(
                "--pool {id}: the account has no such pool{} (`repool pools` lists them)",
                crate::definition::schema::suggest(id, &known)
            ))
        })?;
        chosen.push(pool);
    }
    if pools.is_empty() {
        chosen = live.iter().filter(|p| p.state != Some(crate::batch::PoolState::Deleting)).collect();
    }
    if chosen.is_empty() {
        return Err(BadInput::new("the account has no pools to export").into());
    }
    let exported = crate::definition::export::export(&chosen, settings.api_version).map_err(BadInput)?;
    let template = !exported.secrets.is_empty();
    match output {
        Some(path) => {
            if template && path.extension().is_none_or(|e| e != "j2") {
                return Err(BadInput::new(format!(
                    "{}: the export reads secrets from the environment (env() placeholders), so it is a template: \
                     name the file *.j2; nothing was written",
                    path.display()
                ))
                .into());
            }
            crate::files::write_atomic(path, exported.text.as_bytes())
                .map_err(|e| BadInput::new(format!("cannot write {}: {e}", path.display())))?;
            crate::noteln!("exported {} pool(s) to {}", chosen.len(), path.display());
        }
        None => crate::out!("{}", exported.text),
    }
    for (pool, property) in &exported.uncarried {
        crate::noteln!(
            "warning: pool '{pool}': its {property} (a managed identity) is not in the definition, because no pool-add \
             body can carry one; recreating it would drop it, so preflight refuses unless --accept-loss {property}"
        );
    }
    if template {
        crate::noteln!("the service never returns these secrets; set them before using the definition:");
        for (variable, pool, path) in &exported.secrets {
            crate::noteln!("  {variable}  ({pool}: {path})");
        }
    }
    Ok(Exit::Done)
}

pub async fn plan(settings: &Settings, pools: &[String], json: bool) -> color_eyre::Result<Exit> {
    let definition = load_definition(settings)?;
    if let Some(unknown) = pools.iter().find(|id| definition.pool(id).is_none()) {
        let known: Vec<&str> = definition.pools.iter().map(|p| p.id.as_str()).collect();
        let hint = crate::definition::schema::suggest(unknown, &known);
        return Err(BadInput::new(format!("--pool {unknown}: not in {}{hint}", definition.source)).into());
    }
    // Only the planned pools' env() variables are needed (every pool's when none is named).
    let planned: Vec<&str> = if pools.is_empty() {
        definition.pools.iter().map(|p| p.id.as_str()).collect()
    } else {
        pools.iter().map(String::as_str).collect()
    };
    let confirm: Vec<String> = planned.iter().map(|id| id.to_string()).collect();
    definition.require_env(planned).map_err(|e| BadInput::new(e.to_string()))?;
    let client = connect(settings)?;
    // A pool the listing left out is read directly: a plan must not say "create" for a pool that exists.
    let live = client.list_pools_confirming(&confirm).await?;
    let plan = Plan::new(&definition, &live, pools, settings.api_version);
    // How `apply` would change each pool that differs, and which change decides it.
    use crate::rollout::strategy::{Choice, Strategy};
    let choices: Vec<(String, Choice)> =
        plan.pools.iter().map(|p| (p.id.clone(), Strategy::choose_live(p, &live, settings.policy.roll))).collect();
    if json {
        let mut value = serde_json::to_value(&plan)?;
        for (pool, (_, choice)) in value["pools"].as_array_mut().into_iter().flatten().zip(&choices) {
            pool["applyStrategy"] = serde_json::to_value(choice.strategy)?;
            pool["applyWhy"] = choice.why.clone().into();
        }
        crate::outln!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        crate::out!("{plan}");
        let differing: Vec<String> = choices
            .iter()
            .filter_map(|(id, c)| c.strategy.map(|s| format!("  {id}: {} ({})", s.name(), c.why)))
            .collect();
        if !differing.is_empty() {
            crate::outln!("`repool apply` would change them:\n{}", differing.join("\n"));
        }
    }
    Ok(if plan.has_changes() { Exit::ChangesPending } else { Exit::Done })
}
