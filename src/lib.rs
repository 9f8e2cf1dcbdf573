//! repool: watch Azure Batch pools live and recreate them safely.
//!
//! Layers (arrows point one way): `tui` and `headless` use `recreate`, `definition` and
//! `batch`; `recreate` uses `batch` and `definition`; `sim` uses `batch::models` only.

pub mod app;
pub mod batch;
pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod definition;
pub mod errors;
pub mod files;
pub mod logging;
pub mod output;
pub mod recreate;
pub mod secret;
pub mod setup;
pub mod signals;
pub mod sim;
pub mod tui;
