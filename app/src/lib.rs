//! The DeepReDuce workbench: the engine (usable headless, no GUI types) and
//! the command line on top of it.

pub mod cli;
pub mod engine;
pub mod format;
#[cfg(feature = "gui")]
pub mod gui;
