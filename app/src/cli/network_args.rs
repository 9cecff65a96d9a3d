//! The flags that name a network, shared by `count` and `train`.

use crate::engine::dataset_shape::dataset_shape;
use crate::engine::network::{NetworkSpec, build_network};
use crate::engine::plugin_host::PluginHost;
use deepreduce_plugin_api::Network;

#[derive(clap::Args, Debug, Clone)]
pub struct NetworkArgs {
    /// Architecture variant, e.g. resnet18, resnet34, resnet56, resnet10, vgg16, mobilenet_v1.
    #[arg(long)]
    pub arch: String,
    /// synthetic (built in), cifar10, cifar100, tinyimagenet, fashion-mnist, or a dataset path.
    #[arg(long, default_value = "synthetic")]
    pub dataset: String,
    /// Blocks per stage, e.g. 2,2,2,2.
    #[arg(long, value_delimiter = ',')]
    pub blocks: Option<Vec<usize>>,
    /// Base width (channels of the first stage).
    #[arg(long)]
    pub width: Option<usize>,
    /// Stages whose ReLUs remain, e.g. S2,S3 ("stem" keeps Conv1's); all others are culled.
    #[arg(long, value_delimiter = ',')]
    pub keep: Option<Vec<String>>,
    /// Drop alternate ReLU layers in the remaining stages.
    #[arg(long)]
    pub thin: bool,
    /// Channel scale.
    #[arg(long, default_value_t = 1.0)]
    pub alpha: f64,
    /// Feature-map scale (stem stride 1/rho).
    #[arg(long, default_value_t = 1.0)]
    pub rho: f64,
}

impl NetworkArgs {
    /// Builds the network through the plugins; returns it with its description.
    pub fn build(&self, host: &PluginHost) -> Result<(Network, String), String> {
        let (input, classes) = dataset_shape(&self.dataset).map_err(|e| e.to_string())?;
        let spec = NetworkSpec {
            blocks: self.blocks.clone(),
            width: self.width,
            keep: self.keep.clone(),
            thin: self.thin,
            alpha: self.alpha,
            rho: self.rho,
            ..NetworkSpec::new(&self.arch, input, classes)
        };
        build_network(host, &spec).map_err(|e| e.to_string())
    }
}
