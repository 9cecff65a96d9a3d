//! The datasets the workbench knows by name.

use crate::{cifar, idx, synthetic, tinyimagenet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DatasetKind {
    Synthetic,
    Cifar10,
    Cifar100,
    TinyImageNet,
    FashionMnist,
}

impl DatasetKind {
    pub const ALL: [DatasetKind; 5] = [
        DatasetKind::Synthetic,
        DatasetKind::Cifar10,
        DatasetKind::Cifar100,
        DatasetKind::TinyImageNet,
        DatasetKind::FashionMnist,
    ];

    /// The name used on the command line and in [`crate::open`].
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Synthetic => "synthetic",
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::Cifar100 => "cifar100",
            DatasetKind::TinyImageNet => "tinyimagenet",
            DatasetKind::FashionMnist => "fashion-mnist",
        }
    }

    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|k| k.name()).collect()
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// (channels, image side, classes) of the standard dataset.
    pub fn input_shape(self) -> (usize, usize, usize) {
        match self {
            DatasetKind::Synthetic => {
                let cfg = synthetic::SyntheticConfig::default();
                (cfg.channels, cfg.size, cfg.classes)
            }
            DatasetKind::Cifar10 => (3, cifar::SIDE, cifar::CIFAR10_CLASSES.len()),
            DatasetKind::Cifar100 => (3, cifar::SIDE, cifar::CIFAR100_CLASSES.len()),
            DatasetKind::TinyImageNet => (3, tinyimagenet::SIDE, tinyimagenet::CLASSES),
            DatasetKind::FashionMnist => (1, idx::SIDE, idx::FASHION_CLASSES.len()),
        }
    }
}

/// (channels, image side, classes) of a well-known dataset name, without
/// loading it; `None` for other names.
pub fn input_shape(name: &str) -> Option<(usize, usize, usize)> {
    DatasetKind::from_name(name).map(DatasetKind::input_shape)
}
