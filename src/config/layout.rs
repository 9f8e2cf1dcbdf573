//! The data directory's layout: the one place that names the folders repool keeps in it.

use std::path::{Path, PathBuf};

/// Run journals, one `RUN.jsonl` per run.
pub fn journal(data_dir: &Path) -> PathBuf {
    data_dir.join("journal")
}

/// Pre-run and pre-delete backups, by account and pool.
pub fn backups(data_dir: &Path) -> PathBuf {
    data_dir.join("backups")
}

/// One lock file per account: which run acts on it.
pub fn locks(data_dir: &Path) -> PathBuf {
    data_dir.join("locks")
}

/// The daily log files.
pub fn logs(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// The ledger of throwaway pools `--probe` created.
pub fn probes(data_dir: &Path) -> PathBuf {
    data_dir.join("probes")
}

/// Pool bodies the dashboard saved as JSON.
pub fn exports(data_dir: &Path) -> PathBuf {
    data_dir.join("exports")
}

/// `repool sim --tls`'s certificate authority, reused from one start to the next.
pub fn sim_tls(data_dir: &Path) -> PathBuf {
    data_dir.join("sim-tls")
}

/// The demo's own data directory, apart from real accounts'.
pub fn demo(data_dir: &Path) -> PathBuf {
    data_dir.join("demo")
}
