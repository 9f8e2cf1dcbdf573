//! The integration tests, one binary: real HTTP on loopback against the simulator, the repool
//! binary driven as an operator would (command line and dashboard in a PTY), contract-level checks.

mod common;

mod apply;
mod capacity;
mod cli;
mod cli_input;
mod cli_signals;
mod client_sim;
mod definition;
mod entra_auth;
mod export;
mod fuzz;
mod heal;
mod hostile;
mod jobs;
mod model;
mod nodes;
mod poller;
mod preflight;
mod proxy;
mod recordings;
mod recreate;
mod recreate_foreign;
mod refresh;
mod roll;
mod runs;
mod sim_tls;
mod torture;
mod tui;
mod tui_jobs;
mod tui_nodes;
mod tui_nodes_pty;
mod tui_pty;
mod tui_runs;
mod tui_scale;
