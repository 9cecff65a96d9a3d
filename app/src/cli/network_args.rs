//! The flags that name a network, shared by `count` and `train`.

use crate::engine::budget::{Budget, DroppedAs};
use crate::engine::dataset_shape::dataset_shape;
use crate::engine::network::{NetworkSpec, build_network};
use crate::engine::plugin_host::PluginHost;
use deepreduce_plugin_api::{Granularity, Network};

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
    /// Keep this many ReLUs, after culling, thinning and reshaping, with
    /// per-channel or per-pixel masks (org.deepreduce.budget).
    #[arg(long, value_name = "N")]
    pub budget: Option<u64>,
    /// Mask whole channels (at most N ReLUs) or single elements (exactly N) [default: pixel].
    #[arg(long, value_enum, requires = "budget")]
    pub granularity: Option<GranularityArg>,
    /// What a dropped element becomes: the identity, or a trainable quadratic [default: identity].
    #[arg(long, value_enum, requires = "budget")]
    pub dropped: Option<DroppedAs>,
}

/// `--granularity`: the IR's [`Granularity`], which knows nothing of clap.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum GranularityArg {
    Channel,
    Pixel,
}

impl From<GranularityArg> for Granularity {
    fn from(arg: GranularityArg) -> Self {
        match arg {
            GranularityArg::Channel => Granularity::Channel,
            GranularityArg::Pixel => Granularity::Pixel,
        }
    }
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
            budget: self.budget.map(|relus| Budget {
                relus,
                granularity: self
                    .granularity
                    .map_or(Granularity::Pixel, Granularity::from),
                dropped: self.dropped.unwrap_or_default(),
            }),
            ..NetworkSpec::new(&self.arch, input, classes)
        };
        build_network(host, &spec).map_err(|e| e.to_string())
    }
}
