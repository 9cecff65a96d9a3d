//! Image classification datasets for the DeepReDuce workbench: loaders for
//! CIFAR-10/100 (binary), TinyImageNet, IDX (Fashion-MNIST) and a built-in
//! synthetic set, plus seeded batching with augmentation. Pure data: pixels
//! are u8 in CHW order, batches are normalised f32.
//!
//! Loaders validate what they read and report a [`DatasetError`] naming the
//! file (and where relevant the byte offset) instead of panicking.

mod augment;
mod batch;
mod cifar;
mod dataset;
mod detect;
mod error;
mod files;
mod idx;
mod kind;
mod noise;
mod rng;
mod split;
mod synthetic;
mod tinyimagenet;

pub use batch::{Batch, BatchConfig, Batcher};
pub use cifar::{load_cifar10, load_cifar100};
pub use dataset::{Dataset, DatasetInfo};
pub use detect::{detect, open, search_dirs};
pub use error::DatasetError;
pub use idx::load_idx;
pub use kind::{DatasetKind, input_shape};
pub use noise::noise_images;
pub use split::Split;
pub use synthetic::{SYNTHETIC_CLASSES, SyntheticConfig, synthetic};
pub use tinyimagenet::load_tinyimagenet;
