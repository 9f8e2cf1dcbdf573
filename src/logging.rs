//! Logs go to a daily file in the data dir, never to the terminal the TUI draws on. A log that
//! cannot be written (a read-only or full data dir, a planted link) costs the log, not the command.

use crate::errors::BadInput;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Daily files kept.
const KEEP: usize = 14;
const PREFIX: &str = "repool.log.";

/// Starts file logging at `level` (a level or an EnvFilter directive). Keep the guard alive:
/// dropping it flushes the log.
pub fn init(log_dir: &Path, level: &str) -> Result<WorkerGuard, BadInput> {
    let filter = EnvFilter::try_new(level).map_err(|e| {
        BadInput::new(format!("log level '{level}' is not valid ({e}); use error, warn, info, debug or trace"))
    })?;
    let (writer, guard) = tracing_appender::non_blocking(DailyFile { dir: log_dir.to_path_buf(), open: None });
    // Ignore a second init (tests run several commands in one process).
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(false).try_init();
    Ok(guard)
}

/// `repool.log.YYYY-MM-DD` (UTC), opened on the first line of each day, privately and never
/// through a link; the oldest beyond `KEEP` are removed then.
struct DailyFile {
    dir: PathBuf,
    /// The day's name and its file; None inside when it could not be opened (retried next day).
    open: Option<(String, Option<File>)>,
}

impl DailyFile {
    fn today(&mut self) -> Option<&mut File> {
        let name = format!("{PREFIX}{}", jiff::Timestamp::now().strftime("%Y-%m-%d"));
        if self.open.as_ref().is_none_or(|(day, _)| *day != name) {
            let file = crate::files::private_dir(&self.dir)
                .and_then(|_| crate::files::private_options().append(true).open(self.dir.join(&name)))
                .ok();
            if file.is_some() {
                self.prune();
            }
            self.open = Some((name, file));
        }
        self.open.as_mut().and_then(|(_, file)| file.as_mut())
    }

    fn prune(&self) {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
            .map(|e| e.path())
            .collect();
        logs.sort();
        for old in logs.iter().rev().skip(KEEP) {
            let _ = std::fs::remove_file(old);
        }
    }
}

impl Write for DailyFile {
    /// Never fails: a line that cannot be written is dropped (the log worker would print the error
    /// to the terminal otherwise).
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(file) = self.today() {
            let _ = file.write_all(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some((_, Some(file))) = self.open.as_mut() {
            let _ = file.flush();
        }
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_planted_link_is_not_followed_and_costs_only_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        let today = format!("{PREFIX}{}", jiff::Timestamp::now().strftime("%Y-%m-%d"));
        std::os::unix::fs::symlink(&victim, logs.join(&today)).unwrap();
        let mut log = DailyFile { dir: logs, open: None };
        assert_eq!(log.write(b"a line\n").unwrap(), 7);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn old_days_beyond_the_limit_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        for day in 1..=20 {
            std::fs::write(dir.path().join(format!("{PREFIX}2020-01-{day:02}")), "").unwrap();
        }
        let mut log = DailyFile { dir: dir.path().to_path_buf(), open: None };
        log.write_all(b"x\n").unwrap();
        let left = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(left, KEEP);
        assert!(!dir.path().join(format!("{PREFIX}2020-01-07")).exists());
    }
}
