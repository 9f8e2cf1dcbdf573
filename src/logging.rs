//! Logs go to a daily file in the data dir, never to the terminal the TUI draws on.

use crate::errors::BadInput;
use std::path::Path;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Starts file logging at `level` (a level or an EnvFilter directive). Keep the guard alive:
/// dropping it flushes the log.
pub fn init(log_dir: &Path, level: &str) -> Result<WorkerGuard, BadInput> {
    let filter = EnvFilter::try_new(level).map_err(|e| {
        BadInput::new(format!("log level '{level}' is not valid ({e}); use error, warn, info, debug or trace"))
    })?;
    crate::files::private_dir(log_dir)
        .map_err(|e| BadInput::new(format!("cannot create the log directory {}: {e}", log_dir.display())))?;
    for entry in std::fs::read_dir(log_dir).into_iter().flatten().flatten() {
        crate::files::tighten(&entry.path());
    }
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("repool.log")
        .max_log_files(14)
        .build(log_dir)
        .map_err(|e| BadInput::new(format!("cannot open a log file in {}: {e}", log_dir.display())))?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    // Ignore a second init (tests run several commands in one process).
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(false).try_init();
    Ok(guard)
}
