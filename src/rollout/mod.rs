//! The workflow engine behind every run (recreate, apply, heal): no UI. The TUI and headless
//! commands drive the same engine and read the same progress events.

pub mod account;
pub mod backup;
pub mod batches;
pub mod engine;
pub mod journal;
pub mod lock;
pub mod policy;
pub mod preflight;
pub mod probe;
pub mod report;
pub mod run;
pub mod snapshots;
pub mod step;
pub mod strategy;
pub mod update;
