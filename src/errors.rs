//! Exit codes and the error that means "bad input: nothing was changed".

use std::process::ExitCode;

/// Bad input or configuration (exit 2). The message names the file/setting and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

impl BadInput {
    pub fn new(message: impl Into<String>) -> Self {
        BadInput(message.into())
    }
}

/// The exit codes of the CLI contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Done = 0,
    PoolFailed = 1,
    BadInput = 2,
    Interrupted = 3,
    /// `repool plan`: the definition differs from the account.
    ChangesPending = 4,
    Cancelled = 130,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// Says why on stderr (and as one JSON object on stdout for a --json command); the exit code.
pub fn fail(exit: Exit, message: &str, json: bool) -> ExitCode {
    if json {
        crate::outln!("{}", serde_json::json!({"error": message, "exitCode": exit as u8}));
    }
    crate::noteln!("error: {message}");
    exit.into()
}
