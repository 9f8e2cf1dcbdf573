//! The command line's commands, one module per family: text for people on stderr/stdout, JSON
//! for scripts. They share `setup` with the dashboard and never use it (nor it them).

use crate::batch::{BatchClient, Pool};
use crate::config::Settings;
use crate::errors::BadInput;
use crate::rollout::run::Workspace;
use std::io::IsTerminal;

pub mod inspect;
pub mod jobs;
pub mod nodes;
pub mod restore;
pub mod run;
pub mod sim;

/// The chosen pools as the account has them now; no answer stops the command before any change.
async fn list_live(client: &BatchClient, ids: &[String]) -> Result<Vec<Pool>, BadInput> {
    client
        .list_pools_confirming(ids)
        .await
        .map_err(|e| BadInput::new(format!("preflight: the account did not answer ({e}); nothing was changed")))
}

/// Read-only mode refuses every change, after the command has said what it would do.
fn refuse_if_readonly(settings: &Settings) -> Result<(), BadInput> {
    if settings.readonly {
        return Err(BadInput::new("read-only mode (--readonly or readonly = true): nothing may be changed"));
    }
    Ok(())
}

/// Asks on the terminal unless --yes; refuses without a terminal. The answer is read on a thread
/// of its own so that a signal can stop the command at the prompt.
async fn confirm(yes: bool, question: &str) -> Result<(), BadInput> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(BadInput::new("stdin is not a terminal: pass --yes to confirm (nothing was changed)"));
    }
    crate::note!("{question} Type 'yes' to continue: ");
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut answer = String::new();
        let _ = tx.send(std::io::stdin().read_line(&mut answer).map(|_| answer));
    });
    let answer = rx.await.map_err(|_| BadInput::new("cannot read the answer"))?;
    let answer = answer.map_err(|e| BadInput::new(e.to_string()))?;
    if answer.trim() == "yes" { Ok(()) } else { Err(BadInput::new("not confirmed; nothing was changed")) }
}

/// Says what is damaged or edited in the account's journals before a command relies on them.
fn warn_about_journals(workspace: &Workspace) {
    for warning in workspace.journal_warnings() {
        crate::noteln!("warning: {warning}");
    }
}
