//! The workbench's engine, usable headless: the plugin host and network
//! building (training, the pipeline, the run store and export join here).

pub mod atomic_write;
pub mod backend;
pub mod bench;
pub mod budget;
pub mod calibrate;
pub mod checksum;
pub mod dataset_preview;
pub mod dataset_shape;
pub mod executor;
pub mod export;
pub mod inference;
pub mod job;
pub mod mask_map;
pub mod measure;
pub mod network;
pub mod network_view;
pub mod paper;
pub mod pipeline;
pub mod plugin_host;
pub mod relu_layers;
pub mod run;
pub mod store;
pub mod threads;
pub mod train;
pub mod trained;
