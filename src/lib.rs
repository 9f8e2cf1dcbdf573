//! repool: watch Azure Batch pools live and recreate them safely.
//!
//! Layers (arrows point one way): `tui` and `headless` use `recreate`, `definition` and
//! `batch`; `recreate` uses `batch` and `definition`; `sim` uses `batch::models` only.

pub mod app;
pub mod batch;
pub mod bench;
pub mod cli;
pub mod config;
pub mod definition;
pub mod dry_run;
pub mod errors;
pub mod files;
pub mod headless;
pub mod logging;
mod named;
pub mod output;
pub mod recreate;
pub mod run_command;
pub mod secret;
pub mod signals;
pub mod sim;
pub mod sim_command;
pub mod tui;
