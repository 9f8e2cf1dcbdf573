//! Backups of live pools: `backups/<account>/<pool>/<utc>-<kind>.json`, written atomically and
//! privately. A run takes a `pre-run` backup of each target before it touches it (what `restore`
//! gives back) and a `pre-delete` snapshot right before the delete (the ETag guard's evidence).

use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupKind {
    PreRun,
    PreDelete,
}

impl BackupKind {
    fn suffix(self) -> &'static str {
        match self {
            BackupKind::PreRun => "pre-run",
            BackupKind::PreDelete => "pre-delete",
        }
    }
}

pub fn save(
    dir: &Path,
    account: &str,
    pool: &str,
    kind: BackupKind,
    body: &serde_json::Value,
) -> std::io::Result<PathBuf> {
    let folder = folder(dir, account, pool);
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.3fZ").to_string();
    let path = folder.join(format!("{stamp}-{}.json", kind.suffix()));
    let text = serde_json::to_string_pretty(body).map_err(std::io::Error::other)?;
    crate::files::private_dir_below(dir.parent().unwrap_or(dir), &folder)?;
    crate::files::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// `save` off the async workers (it fsyncs). An error says where, then `unless` (what the
/// caller therefore did not do).
pub async fn save_off_thread(
    dir: PathBuf,
    account: String,
    pool: &str,
    kind: BackupKind,
    body: serde_json::Value,
    unless: &str,
) -> Result<PathBuf, String> {
    let (shown, pool) = (dir.display().to_string(), pool.to_string());
    tokio::task::spawn_blocking(move || save(&dir, &account, &pool, kind, &body))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot save the backup in {shown}: {e}; {unless}"))
}

/// Where `save` files the backups of `pool`.
pub fn folder(dir: &Path, account: &str, pool: &str) -> PathBuf {
    dir.join(safe(account)).join(safe(pool))
}

/// Path components from ids and names: nothing that climbs out of the backup directory.
pub fn safe(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}
