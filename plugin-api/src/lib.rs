//! The DeepReDuce workbench's stable contract, shared by the host and every
//! plugin: the network IR ([`ir`], with ReLU masks in [`mask`] and
//! polynomial activations in [`poly`]), shape inference and accounting
//! ([`analysis`]), paper-style descriptions ([`describe`](mod@describe)),
//! the JSON payloads ([`protocol`]; a whole ReLU-reduction method's in
//! [`reduction`]), the C ABI ([`abi`],
//! `include/deepreduce_plugin.h`) and the safe Rust side of it ([`export`],
//! [`export_plugin!`]), and a [`GraphBuilder`] for architecture plugins
//! ([`builder`]).
//!
//! With the `testing` feature, `testing` offers small networks and helpers
//! for plugins' tests.
//!
//! Depends on serde (and base64 for masks) only: no burn, no GUI.

pub mod abi;
pub mod analysis;
pub mod builder;
pub mod calibration;
pub mod criticality;
pub mod describe;
pub mod export;
pub mod ir;
pub mod mask;
pub mod poly;
pub mod protocol;
pub mod reduction;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod transform;

pub use analysis::{Analysis, IrError, NodeStats, Shape, Totals, analyze};
pub use builder::GraphBuilder;
pub use describe::describe;
pub use export::Plugin;
pub use ir::{Dropped, HEAD, INPUT, InputSpec, Network, Node, Op, STEM};
pub use mask::{BitSet, Granularity, ReluMask};
pub use poly::Polynomial;
pub use protocol::*;

#[cfg(test)]
mod tests;
