//! Backups of live pools, written before any delete: `backups/<account>/<pool>/<utc>.json`,
//! atomically (temp file, fsync, rename, fsync the directory).

use std::io::Write;
use std::path::{Path, PathBuf};

pub fn save(dir: &Path, account: &str, pool: &str, body: &serde_json::Value) -> std::io::Result<PathBuf> {
    let folder = dir.join(safe(account)).join(safe(pool));
    std::fs::create_dir_all(&folder)?;
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.3fZ").to_string();
    let path = folder.join(format!("{stamp}.json"));
    let temp = folder.join(format!(".{stamp}.json.tmp"));
    {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(serde_json::to_string_pretty(body).map_err(std::io::Error::other)?.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&temp, &path)?;
    std::fs::File::open(&folder)?.sync_all()?;
    Ok(path)
}

/// Path components from ids and names: nothing that climbs out of the backup directory.
fn safe(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}
