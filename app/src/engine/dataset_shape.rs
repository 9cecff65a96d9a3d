//! What a dataset name or path means for a network: input shape and classes.

use deepreduce_datasets::DatasetInfo;
use deepreduce_plugin_api::InputSpec;

/// The input and class count of a well-known dataset name (without loading
/// it), or of a dataset at a path (loaded to find out).
pub fn dataset_shape(spec: &str) -> Result<(InputSpec, usize), deepreduce_datasets::DatasetError> {
    match known_shape(spec) {
        Some(shape) => Ok(shape),
        None => Ok(info_shape(&deepreduce_datasets::open(spec)?.info)),
    }
}

/// The input and class count of a well-known dataset name; `None` for
/// other names and paths.
pub fn known_shape(name: &str) -> Option<(InputSpec, usize)> {
    let (channels, side, classes) = deepreduce_datasets::input_shape(name)?;
    let input = InputSpec {
        channels,
        height: side,
        width: side,
    };
    Some((input, classes))
}

/// The input and class count of a loaded dataset.
pub fn info_shape(info: &DatasetInfo) -> (InputSpec, usize) {
    let input = InputSpec {
        channels: info.channels,
        height: info.height,
        width: info.width,
    };
    (input, info.classes)
}
