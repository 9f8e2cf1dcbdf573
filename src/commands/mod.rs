//! The command line's commands, one module per family: text for people on stderr/stdout, JSON
//! for scripts. They share `setup` with the dashboard and never use it (nor it them).

pub mod inspect;
pub mod run;
pub mod sim;
