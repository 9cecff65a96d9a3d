//! Reshaping: channel scale alpha (every convolution's out_channels, so
//! ReLUs / (1/alpha)) and feature-map scale rho, implemented as in the
//! paper's released models by multiplying the first convolution's stride by
//! 1/rho: the data and the stem stay, every later feature map shrinks.
//!
//! Masks and polynomials are sized for their layer, and no rule says which
//! channels or pixels of a mask would survive: a reshape that changes such
//! a layer's channels (alpha) or, for a pixel mask, its size (rho) is
//! refused; apply masks and polynomials after reshaping. A channel mask or
//! a polynomial survives rho unchanged.

use deepreduce_plugin_api::{
    Candidate, Descriptor, IrError, Network, Op, OptimizationRequest, Plugin, PluginKind, analyze,
    describe,
};
use serde_json::json;

#[derive(Default)]
pub struct Reshape;

impl Plugin for Reshape {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            "org.deepreduce.reshape",
            "Reshape channels and resolution",
            PluginKind::Optimization,
            "Scales channels by params.alpha and feature maps by params.rho (stem stride 1/rho)",
        )
    }

    fn apply(&self, request: &OptimizationRequest) -> Result<Vec<Candidate>, String> {
        let alpha = factor(&request.params, "alpha")?;
        let rho = factor(&request.params, "rho")?;
        let mut net = request.network.clone();
        if alpha != 1.0 {
            scale_channels(&mut net, alpha);
        }
        if rho != 1.0 {
            shrink_feature_maps(&mut net, rho)?;
        }
        analyze(&net).map_err(|e| refusal(&net, e))?;
        Ok(vec![Candidate {
            description: describe(&net),
            network: net,
        }])
    }
}

/// Why the reshaped `net` is refused, saying so when a mask or a
/// polynomial no longer fits its layer.
fn refusal(net: &Network, error: IrError) -> String {
    match &error {
        IrError::Invalid { node, reason }
            if net
                .node(node)
                .is_some_and(|n| matches!(n.op, Op::MaskedRelu { .. } | Op::Poly(_))) =>
        {
            format!(
                "node '{node}' has a mask or polynomial made for its shape before reshaping, \
                 and {reason}: apply masks and polynomials after reshaping"
            )
        }
        _ => format!("reshaping leaves an invalid network: {error}"),
    }
}

/// A scale in (0, 1] from `params[key]`, 1 when absent.
fn factor(params: &serde_json::Value, key: &str) -> Result<f64, String> {
    match params.get(key) {
        None | Some(serde_json::Value::Null) => Ok(1.0),
        Some(v) => match v.as_f64() {
            Some(f) if f > 0.0 && f <= 1.0 => Ok(f),
            _ => Err(format!("{key} must be a number in (0, 1], got {v}")),
        },
    }
}

fn scaled(channels: usize, alpha: f64) -> usize {
    ((channels as f64 * alpha).round() as usize).max(1)
}

fn scale_channels(net: &mut Network, alpha: f64) {
    for node in &mut net.nodes {
        if let Op::Conv2d {
            out_channels,
            groups,
            ..
        } = &mut node.op
        {
            // A grouped (depthwise) conv's groups track its input channels,
            // which scale by the same factor.
            if *groups > 1 {
                *groups = scaled(*groups, alpha);
            }
            *out_channels = scaled(*out_channels, alpha);
        }
    }
    let total = net.meta_f64("alpha").unwrap_or(1.0) * alpha;
    net.meta.insert("alpha".into(), json!(total));
}

fn shrink_feature_maps(net: &mut Network, rho: f64) -> Result<(), String> {
    let factor = (1.0 / rho).round();
    if (factor * rho - 1.0).abs() > 1e-9 {
        return Err(format!("rho must be 1/n for a whole stride n, got {rho}"));
    }
    let first_conv = net
        .nodes
        .iter_mut()
        .find_map(|n| match &mut n.op {
            Op::Conv2d { stride, .. } => Some(stride),
            _ => None,
        })
        .ok_or("rho needs a convolution to stride, and the network has none")?;
    for s in first_conv.iter_mut() {
        *s *= factor as usize;
    }
    let total = net.meta_f64("rho").unwrap_or(1.0) * rho;
    net.meta.insert("rho".into(), json!(total));
    Ok(())
}

deepreduce_plugin_api::export_plugin!(Reshape);

#[cfg(test)]
mod tests;
