//! One run per account at a time: an advisory lock on `locks/<account>.lock` holding the run id.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

/// Held for the run's lifetime; the OS releases it if the process dies.
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock or says which run holds it.
    pub fn acquire(dir: &Path, account: &str, run: &str) -> Result<RunLock, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let name: String = account.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let path = dir.join(format!("{name}.lock"));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open lock {}: {e}", path.display()))?;
        if file.try_lock().is_err() {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(format!(
                "another repool run ({}) is working on account '{account}'; wait for it or stop it first",
                holder.trim()
            ));
        }
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(run.as_bytes()))
            .map_err(|e| e.to_string())?;
        Ok(RunLock { _file: file })
    }
}
