//! Integration tests, in one binary to link once.

mod batch;
mod cifar;
mod common;
mod empty;
mod fashion_mnist;
mod idx;
mod open;
mod special_files;
mod split;
mod synthetic;
mod tinyimagenet;
