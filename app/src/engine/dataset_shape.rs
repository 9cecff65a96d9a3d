//! What a dataset name or path means for a network: input shape and classes.

use deepreduce_plugin_api::InputSpec;

/// The input and class count of a well-known dataset name (without loading
/// it), or of a dataset at a path (loaded to find out).
pub fn dataset_shape(spec: &str) -> Result<(InputSpec, usize), deepreduce_datasets::DatasetError> {
    if let Some((channels, side, classes)) = deepreduce_datasets::input_shape(spec) {
        return Ok((
            InputSpec {
                channels,
                height: side,
                width: side,
            },
            classes,
        ));
    }
    let info = deepreduce_datasets::open(spec)?.info;
    Ok((
        InputSpec {
            channels: info.channels,
            height: info.height,
            width: info.width,
        },
        info.classes,
    ))
}
