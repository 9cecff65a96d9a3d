//! Unit tests of the plugin API: shape inference and accounting, IR errors,
//! the JSON form of the IR, descriptions, transforms, the graph builder and
//! the C entry point. The networks they use are in [`crate::testing`].

mod accounting;
mod analysis;
mod arch_params;
mod builder;
mod c_example;
mod describe;
mod errors;
mod export;
mod fixtures;
mod mask;
mod masked_ir;
mod poly;
mod reduction;
mod serde_ir;
mod transform;
