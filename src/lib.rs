//! repool: watch Azure Batch pools live and recreate them safely.
//!
//! Layers, arrows pointing down (docs/ARCHITECTURE.md): `dispatch` hands each command to the front ends
//! `commands` and `tui`, which never use each other; both set up through `setup`; below are the
//! core (`recreate`, `definition`, `batch`, `sim`) and the ground (`config`, `errors`, `files`,
//! `output`, `secret`, `logging`, `signals`).

pub mod batch;
pub mod cli;
pub mod commands;
pub mod config;
pub mod definition;
pub mod dispatch;
pub mod errors;
pub mod files;
pub mod logging;
mod named;
pub mod output;
pub mod rollout;
pub mod secret;
pub mod setup;
pub mod signals;
pub mod sim;
pub mod tui;
