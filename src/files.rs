//! Files repool writes are private to the user: 0600 files in 0700 directories (backups hold pool
//! specs, journals hold run state, logs hold requests). Only what repool creates is made private:
//! an existing directory (the current one, a shared `REPOOL_DATA_DIR`) keeps its mode. Nothing is
//! ever written through a link someone planted: temporary files are created exclusively under a
//! unique name, and the data directory's lock, ledger, journal and log files refuse links.

use std::fs::OpenOptions;
use std::path::Path;

/// Everything this process creates from now on is private: 0600 files, 0700 directories.
pub fn private_by_default() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Creates `dir` and any missing parents readable by the user only; an existing one is left as it is.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates `dir` below `root` (privately, as `private_dir`), refusing when a folder between them
/// is a symbolic link: a link planted in the data directory must not carry backups or journals
/// elsewhere. `root` itself (the data directory, as configured) may be a link.
pub fn private_dir_below(root: &Path, dir: &Path) -> std::io::Result<()> {
    if let Ok(rest) = dir.strip_prefix(root) {
        let mut at = root.to_path_buf();
        for part in rest.components() {
            at.push(part);
            if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(std::io::Error::other(format!(
                    "{} is a symbolic link: repool writes nothing through a link in its data directory; remove it",
                    at.display()
                )));
            }
        }
    }
    private_dir(dir)
}

/// Options that create a file readable by the user only and never open one through a symlink
/// (add `.write`, `.append` …): for the files repool keeps in its data directory.
pub fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options
}

/// Writes `bytes` to `path` atomically and privately: a new temporary file beside it (unique name,
/// created exclusively, so never through a link), fsynced, renamed over it (a link at `path` is
/// replaced, not followed), the directory fsynced. A failure leaves no temporary file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    // A bare file name has an empty parent: the current directory.
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    private_dir(folder)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let mut temp = tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".tmp").tempfile_in(folder)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(folder)?.sync_all()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_existing_directory_keeps_its_mode_and_a_new_one_is_private() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        write_atomic(&dir.path().join("out.json"), b"{}").unwrap();
        assert_eq!(mode(dir.path()), 0o755);
        assert_eq!(mode(&dir.path().join("out.json")), 0o600);
        write_atomic(&dir.path().join("new/deeper/out.json"), b"{}").unwrap();
        assert_eq!((mode(&dir.path().join("new")), mode(&dir.path().join("new/deeper"))), (0o700, 0o700));
    }

    #[test]
    fn planted_links_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        // The temporary name the old writer used, and the target itself, both links to the victim.
        std::os::unix::fs::symlink(&victim, dir.path().join(".out.json.tmp")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("out.json")).unwrap();
        write_atomic(&dir.path().join("out.json"), b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        let out = dir.path().join("out.json");
        assert!(std::fs::symlink_metadata(&out).unwrap().file_type().is_file(), "the link was replaced");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new");
        let ledger = dir.path().join("ledger");
        std::os::unix::fs::symlink(&victim, &ledger).unwrap();
        assert!(private_options().append(true).open(&ledger).is_err(), "a data file opens no link");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}
