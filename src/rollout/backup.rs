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

/// Saves a backup of `pool` and answers once it is on disk (or why not: "cannot save the backup
/// in DIR: …"). Saves from all runs of the process go through one writer thread, and those that
/// arrive together are written together (`files::write_atomic_all`: one flush to disk for them
/// all): a thousand pools backed up at once cost about what a few do, and each is durable before
/// its caller goes on to journal the run or to delete the pool.
pub async fn save(
    dir: &Path,
    account: &str,
    pool: &str,
    kind: BackupKind,
    body: &serde_json::Value,
) -> Result<PathBuf, String> {
    let folder = folder(dir, account, pool);
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.3fZ").to_string();
    let path = folder.join(format!("{stamp}-{}.json", kind.suffix()));
    let failed = |e: &dyn std::fmt::Display| format!("cannot save the backup in {}: {e}", dir.display());
    let text = serde_json::to_string_pretty(body).map_err(|e| failed(&e))?;
    let root = dir.parent().unwrap_or(dir).to_path_buf();
    let (ack, saved) = tokio::sync::oneshot::channel();
    let save = Save { root, folder, path: path.clone(), text, ack };
    writer().send(save).map_err(|_| failed(&"the backup writer stopped"))?;
    match saved.await {
        Ok(Ok(())) => Ok(path),
        Ok(Err(e)) => Err(failed(&e)),
        Err(_) => Err(failed(&"the backup writer stopped")),
    }
}

/// One backup for the writer thread.
struct Save {
    /// The data directory: no folder between it and `folder` may be a link.
    root: PathBuf,
    folder: PathBuf,
    path: PathBuf,
    text: String,
    ack: tokio::sync::oneshot::Sender<std::io::Result<()>>,
}

/// The process's one backup writer: takes every save that is waiting as one batch.
fn writer() -> &'static std::sync::mpsc::Sender<Save> {
    static WRITER: std::sync::OnceLock<std::sync::mpsc::Sender<Save>> = std::sync::OnceLock::new();
    WRITER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Save>();
        let spawned = std::thread::Builder::new().name("backups".into()).spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                batch.extend(rx.try_iter());
                // Folders first (refusing planted links), then the files that have one.
                let (ready, refused): (Vec<_>, Vec<_>) = batch
                    .into_iter()
                    .map(|save| (crate::files::private_dir_below(&save.root, &save.folder), save))
                    .partition(|(made, _)| made.is_ok());
                for (made, save) in refused {
                    let _ = save.ack.send(made);
                }
                let files: Vec<(&Path, &[u8])> =
                    ready.iter().map(|(_, save)| (save.path.as_path(), save.text.as_bytes())).collect();
                // A panic fails this batch (its callers hear "stopped" and delete nothing), not
                // every later backup of the process.
                let written = std::panic::catch_unwind(|| crate::files::write_atomic_all(&files));
                let Ok(outcomes) = written else { continue };
                for ((_, save), outcome) in ready.into_iter().zip(outcomes) {
                    let _ = save.ack.send(outcome);
                }
            }
        });
        if let Err(e) = spawned {
            // Every save then answers "the backup writer stopped": nothing is deleted unsaved.
            tracing::error!("cannot start the backup writer: {e}");
        }
        tx
    })
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// Saves made at once go out together: each lands whole under its own pool's folder and its
    /// path comes back; a link planted in place of one pool's folder refuses that pool alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn saves_made_at_once_each_land_or_fail_alone() {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("backups");
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.join("acct")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.join("acct").join("pool-7")).unwrap();
        let body = |i: usize| serde_json::json!({"id": format!("pool-{i}"), "vmSize": "standard_d2s_v3"});
        let saves = (0..40).map(|i| {
            let (dir, body) = (dir.clone(), body(i));
            async move { save(&dir, "acct", &format!("pool-{i}"), BackupKind::PreRun, &body).await }
        });
        let saved = futures::future::join_all(saves).await;
        for (i, outcome) in saved.into_iter().enumerate() {
            if i == 7 {
                let error = outcome.expect_err("a planted link is refused");
                assert!(error.contains("symbolic link"), "{error}");
                continue;
            }
            let path = outcome.unwrap_or_else(|e| panic!("pool-{i}: {e}"));
            assert_eq!(path.parent().unwrap(), folder(&dir, "acct", &format!("pool-{i}")));
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), body(i));
        }
        assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0, "nothing written through the link");
    }
}
