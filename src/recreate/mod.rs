//! The recreation workflow engine: no UI.

pub mod policy;
