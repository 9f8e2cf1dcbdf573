//! repool: watch Azure Batch pools live and recreate them safely.
//!
//! Layers, arrows pointing down (docs/ARCHITECTURE.md): `app` dispatches to the front ends
//! `commands` and `tui`, which never use each other; both set up through `setup`; below are the
//! core (`recreate`, `definition`, `batch`, `sim`) and the ground (`config`, `errors`, `files`,
//! `output`, `secret`, `logging`, `signals`).

pub mod app;
pub mod batch;
pub mod cli;
pub mod commands;
pub mod config;
pub mod definition;
pub mod errors;
pub mod files;
pub mod logging;
mod named;
pub mod output;
pub mod recreate;
pub mod secret;
pub mod setup;
pub mod signals;
pub mod sim;
pub mod tui;
