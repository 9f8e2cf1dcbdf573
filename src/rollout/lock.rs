//! One run per account at a time: an advisory lock on `locks/<account>.lock` holding the run id,
//! keyed on the canonical account identity so no two spellings of one account run at once.

use super::account::AccountId;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::Path;

/// Held while a run acts; the OS releases it if the process dies.
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock or says which run holds it.
    pub fn acquire(dir: &Path, account: &AccountId, run: &str) -> Result<RunLock, String> {
        crate::files::private_dir_below(dir.parent().unwrap_or(dir), dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join(format!("{}.lock", account.file_name()));
        let mut file = crate::files::private_options()
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open lock {}: {e}", path.display()))?;
        if file.try_lock().is_err() {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(format!(
                "another repool run ({}) is working on account {account}; wait for it to finish or stop it first",
                holder.trim()
            ));
        }
        // Who holds it is for the message above only: written over the old holder, then cut to
        // length (no new block needed, so a full disk does not stop a resume that must recreate).
        let named =
            file.rewind().and_then(|_| file.write_all(run.as_bytes())).and_then(|_| file.set_len(run.len() as u64));
        if let Err(e) = named {
            tracing::warn!("cannot write the run id into {}: {e}", path.display());
        }
        Ok(RunLock { _file: file })
    }
}
