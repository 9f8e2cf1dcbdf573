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
/// created exclusively, so never through a link), flushed to disk, renamed over it (a link at
/// `path` is replaced, not followed), the directory flushed. A failure leaves no temporary file
/// behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_all(&[(path, bytes)]).pop().unwrap_or(Ok(()))
}

/// From this many files written together on, each filesystem is flushed first (Linux `syncfs`,
/// before the fsyncs of the files and again before those of their folders): the fsyncs that
/// follow find nothing left to write, so a thousand backups cost about what a few do. Fewer files
/// are not worth flushing what else the filesystem holds.
const FLUSH_TOGETHER_FROM: usize = 8;

/// Writes each `(path, bytes)` as `write_atomic` does; each file's outcome, in order: every
/// temporary written, each fsynced, renamed, each folder fsynced (and the parent of any folder
/// made for it), so every file is on disk whole before its name is, and both before this returns. Each file and folder is fsynced even after
/// a `syncfs`: only fsync reports a write error of that very file on every kernel and
/// filesystem (syncfs misses some before Linux 5.8, and FUSE and SMB mounts do not pass it on).
pub fn write_atomic_all(files: &[(&Path, &[u8])]) -> Vec<std::io::Result<()>> {
    use std::io::Write;
    let together = cfg!(target_os = "linux") && files.len() >= FLUSH_TOGETHER_FROM;
    // Folders made here: each one's parent is fsynced too, or its entry (and the file in it)
    // could vanish in a power cut.
    let made: std::cell::RefCell<Vec<std::path::PathBuf>> = Default::default();
    let write = |path: &Path, bytes: &[u8]| -> std::io::Result<tempfile::NamedTempFile> {
        let folder = folder_of(path);
        let missing: Vec<std::path::PathBuf> = (folder.ancestors())
            .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
            .map(Path::to_path_buf)
            .collect();
        private_dir(folder)?;
        made.borrow_mut().extend(missing);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let mut temp = tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".tmp").tempfile_in(folder)?;
        temp.write_all(bytes)?;
        Ok(temp)
    };
    let mut temps: Vec<std::io::Result<tempfile::NamedTempFile>> =
        files.iter().map(|(path, bytes)| write(path, bytes)).collect();
    let folders: Vec<&Path> = files.iter().map(|(path, _)| folder_of(path)).collect();
    if together {
        flush_filesystems(&folders, &mut temps);
    }
    for temp in &mut temps {
        if let Err(e) = temp.as_ref().map(|t| t.as_file().sync_all()).unwrap_or(Ok(())) {
            *temp = Err(e);
        }
    }
    let mut outcomes: Vec<std::io::Result<()>> = (temps.into_iter().zip(files))
        .map(|(temp, (path, _))| temp?.persist(path).map(drop).map_err(|e| e.error))
        .collect();
    if together {
        flush_filesystems(&folders, &mut outcomes);
    }
    // Each folder once: the parents of those made here (a failure there fails the batch: the
    // data directory itself is not on disk), then each file's own.
    let made = made.into_inner();
    let parents: Vec<&Path> = made.iter().filter_map(|d| d.parent()).collect();
    let mut synced: std::collections::HashMap<std::path::PathBuf, Result<(), std::io::ErrorKind>> = Default::default();
    let mut sync = |dir: &Path| {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        *synced
            .entry(dir.to_path_buf())
            .or_insert_with(|| std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(|e| e.kind()))
    };
    let parents_synced = parents.into_iter().map(&mut sync).find(Result::is_err).unwrap_or(Ok(()));
    for (folder, outcome) in folders.iter().zip(&mut outcomes) {
        if outcome.is_ok() {
            let synced = sync(folder).and(parents_synced);
            *outcome = synced.map_err(|kind| {
                std::io::Error::new(kind, format!("cannot flush {} to disk: {kind}", folder.display()))
            });
        }
    }
    outcomes
}

/// A file's folder (a bare file name's is the current directory).
fn folder_of(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Flushes the filesystem of each folder once (`syncfs`), so the fsyncs that follow are cheap; the
/// items in a folder whose filesystem could not be flushed fail with its error. Items that failed
/// already are left out.
#[cfg(target_os = "linux")]
fn flush_filesystems<T>(folders: &[&Path], items: &mut [std::io::Result<T>]) {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    // Each device flushed so far, and how that went.
    let mut devices: Vec<(u64, Result<(), std::io::ErrorKind>)> = Vec::new();
    for (folder, item) in folders.iter().zip(items.iter_mut()) {
        if item.is_err() {
            continue;
        }
        let flushed = std::fs::File::open(folder).and_then(|dir| {
            let device = dir.metadata()?.dev();
            let outcome = match devices.iter().find(|(d, _)| *d == device) {
                Some((_, outcome)) => *outcome,
                // SAFETY: syncfs only reads the descriptor, which `dir` keeps open for the call.
                None => {
                    let outcome = match unsafe { libc::syncfs(dir.as_raw_fd()) } {
                        0 => Ok(()),
                        _ => Err(std::io::Error::last_os_error().kind()),
                    };
                    devices.push((device, outcome));
                    outcome
                }
            };
            outcome
                .map_err(|kind| std::io::Error::new(kind, format!("cannot flush {} to disk: {kind}", folder.display())))
        });
        if let Err(e) = flushed {
            *item = Err(e);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn flush_filesystems<T>(_: &[&Path], _: &mut [std::io::Result<T>]) {
    unreachable!("files are flushed together only on Linux");
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

    /// Many files written together (one flush for all): each whole and private under its name,
    /// no temporary left; one that cannot be written fails alone.
    #[test]
    fn files_written_together_each_land_or_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        // A file where one pool's folder would go: that pool's backup cannot be written.
        std::fs::write(dir.path().join("blocked"), "").unwrap();
        let paths: Vec<std::path::PathBuf> = (0..12)
            .map(|i| match i {
                5 => dir.path().join("blocked/out.json"),
                _ => dir.path().join(format!("pool-{i}/out.json")),
            })
            .collect();
        let texts: Vec<String> = (0..12).map(|i| format!("{{\"pool\": {i}}}")).collect();
        let files: Vec<(&Path, &[u8])> = paths.iter().zip(&texts).map(|(p, t)| (p.as_path(), t.as_bytes())).collect();
        assert!(files.len() >= FLUSH_TOGETHER_FROM, "the case of files flushed together");
        let outcomes = write_atomic_all(&files);
        for (i, outcome) in outcomes.iter().enumerate() {
            if i == 5 {
                assert!(outcome.is_err(), "a file below a file cannot be written");
                continue;
            }
            assert!(outcome.is_ok(), "{i}: {outcome:?}");
            assert_eq!(std::fs::read_to_string(&paths[i]).unwrap(), texts[i]);
            assert_eq!(mode(&paths[i]), 0o600);
            let folder = paths[i].parent().unwrap();
            assert_eq!(std::fs::read_dir(folder).unwrap().count(), 1, "no temporary file left in {folder:?}");
        }
    }
}
